// bench/farm.c: verifier farm throughput, each figure beside its baseline
// measured in the same run.
//   - math checks per second per core, in process and through a local farm;
//   - no-op jobs through a local farm: the farm's own cost per job (two
//     ZeroMQ hops each way, JSON, the slot socketpair);
//   - Python and C code jobs per second through the sandboxed farm, beside
//     bare fork+exec of the same programs with the same parallelism and no
//     sandbox (target: at least 0.7 of the bare rate).
//   make build/bench/farm && build/bench/farm [--quick]
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "verifier/farm/farm.h"

static int grade_noop(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    verify_result_set(out, "correct", 1, NULL);
    return 0;
}

// {response, gold, the verdict a correct verifier gives}: a job counts as a
// success only when its verdict is the expected one.
static const char *math_cases[][3] = {
    {"so the total is \\boxed{\\frac{1}{2}}", "0.5", "correct"},
    {"She pays 1,234 dollars.\n#### 1,234", "1234", "correct"},
    {"The answer is $3\\sqrt{2}$.", "\\sqrt{18}", "correct"},
    {"Solving, x = 3.", "3", "correct"},
    {"\\boxed{(1, 2)}", "(1,2)", "correct"},
    {"the roots are \\boxed{2, -1}", "\\{-1, 2\\}", "correct"},
    {"\\boxed{[0, \\infty)}", "[0,\\infty)", "correct"},
    {"we get \\boxed{2\\pi r^2 + 1}", "1 + 2 r^2 \\pi", "correct"},
    {"**42**", "42", "correct"},
    {"\\boxed{1 - 1/e}", "1 + 1/e", "wrong"},
    {"it is \\boxed{50\\%}", "0.5", "correct"},
    {"\\boxed{\\text{Evelyn}}", "evelyn", "correct"},
};

static cJSON *math_job(int i) {
    const char **c = math_cases[i % (int)RS_ARRAY_LEN(math_cases)];
    cJSON *j = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "%s/m%d", c[2], i);  // the expected verdict, then a number (see expected_status)
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "verifier", "math");
    cJSON_AddStringToObject(j, "response", c[0]);
    cJSON *p = cJSON_AddObjectToObject(j, "problem");
    cJSON_AddStringToObject(p, "answer", c[1]);
    return j;
}

// ---------------------------------------------------------------------------
// farm runs

// A throughput figure two ways: wall clock, which this shared machine's load
// makes noisy, and CPU time spent per job by every process involved (this
// one and all its descendants), which the load does not change.
typedef struct Rate {
    double per_s;   // jobs per wall-clock second
    double cpu_ms;  // CPU milliseconds per job
    int bad;        // jobs whose verdict is not the expected one
} Rate;

static double cpu_s(void) {
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    struct timeval t[] = {self.ru_utime, self.ru_stime, kids.ru_utime, kids.ru_stime};
    double sum = 0;
    for (int i = 0; i < 4; i++) sum += (double)t[i].tv_sec + 1e-6 * (double)t[i].tv_usec;
    return sum;
}

// Wait for every descendant that is left: a local farm's slot processes die
// with their worker and, this process being a subreaper, land here, so that
// their CPU time is counted in RUSAGE_CHILDREN.
static void reap_all(void) {
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
}

// The verdict a job must get: its id is "EXPECTED/..." (made here, so a
// worker's answer cannot choose what it is compared with).
static void expected_status(const cJSON *job, char out[16]) {
    const char *id = json_opt_str(job, "id", "");
    size_t n = strcspn(id, "/");
    RS_CHECK(n > 0 && n < 16 && id[n] == '/');
    memcpy(out, id, n);
    out[n] = '\0';
}

// Grade n jobs from make(i) through a farm; a job counts as done right only
// when its verdict is the one expected_status names.
static Rate farm_run(const char *endpoint, const VerifierSet *vs, int n, cJSON *(*make)(int)) {
    Rate r = {0};
    Err e;
    double cpu0 = cpu_s();
    FarmClient *c = farm_client_new(endpoint, &(FarmClientOptions){.verifiers = vs}, &e);
    if (!c) {
        fprintf(stderr, "farm: %s\n", e.msg);
        return r;
    }
    // Warm up: every worker has started and connected.
    cJSON *w = make(0);
    farm_submit(c, &w, 1, &e);
    cJSON_Delete(w);
    cJSON *r0;
    farm_collect(c, 60, &r0, &e);
    cJSON_Delete(r0);
    cJSON **res = xcalloc((size_t)n, sizeof *res);
    char (*want)[16] = xcalloc((size_t)n, sizeof *want);
    double t0 = rs_now();
    for (int i = 0; i < n; i++) {
        cJSON *j = make(i);
        expected_status(j, want[i]);
        farm_submit(c, &j, 1, &e);
        cJSON_Delete(j);
    }
    int expired = farm_collect(c, 600, res, &e);
    double dt = rs_now() - t0;
    for (int i = 0; i < n; i++) {
        r.bad += strcmp(json_opt_str(res[i], "status", ""), want[i]) != 0;
        cJSON_Delete(res[i]);
    }
    free(res);
    free(want);
    farm_client_free(c);
    reap_all();
    r.per_s = expired < 0 ? 0 : n / dt;
    r.cpu_ms = 1e3 * (cpu_s() - cpu0) / (n + 1);
    return r;
}

static double math_in_process(const VerifierSet *vs, int n) {
    VerifyJob jobs[RS_ARRAY_LEN(math_cases)];
    Err e;
    for (size_t k = 0; k < RS_ARRAY_LEN(math_cases); k++) {
        cJSON *j = math_job((int)k);
        RS_CHECK(verify_job_from_json(j, &jobs[k], &e) == 0);
        cJSON_Delete(j);
    }
    double t0 = rs_now();
    for (int i = 0; i < n; i++) {
        VerifyResult r;
        verifier_grade(vs, &jobs[i % (int)RS_ARRAY_LEN(math_cases)], &r);
        verify_result_free(&r);
    }
    double dt = rs_now() - t0;
    for (size_t k = 0; k < RS_ARRAY_LEN(math_cases); k++) verify_job_free(&jobs[k]);
    return n / dt;
}

static cJSON *noop_job(int i) {
    cJSON *j = math_job(i);
    char id[32];
    snprintf(id, sizeof id, "correct/n%d", i);
    cJSON_ReplaceItemInObject(j, "id", cJSON_CreateString(id));
    cJSON_ReplaceItemInObject(j, "verifier", cJSON_CreateString("noop"));
    return j;
}

// The cost a worker pays per job for grading in a separate slot process
// rather than a thread: one length-prefixed frame each way over a socketpair
// between two processes (what farm_worker.c does). Microseconds per job.
static double slot_hop_us(int n) {
    int sv[2];
    RS_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char job[300], buf[512];
    memset(job, 'j', sizeof job);
    uint64_t len = sizeof job;
    pid_t pid = fork();
    if (pid == 0) {  // the slot: read a frame, answer with one
        close(sv[0]);
        uint64_t m;
        while (read(sv[1], &m, sizeof m) == sizeof m && read(sv[1], buf, m) == (ssize_t)m)
            if (write(sv[1], &m, sizeof m) != sizeof m || write(sv[1], buf, m) != (ssize_t)m) break;
        _exit(0);
    }
    close(sv[1]);
    double t0 = rs_now();
    for (int i = 0; i < n; i++) {
        uint64_t m;
        if (write(sv[0], &len, sizeof len) != sizeof len || write(sv[0], job, len) != (ssize_t)len) break;
        if (read(sv[0], &m, sizeof m) != sizeof m || read(sv[0], buf, m) != (ssize_t)m) break;
    }
    double dt = rs_now() - t0;
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return 1e6 * dt / n;
}

// ---------------------------------------------------------------------------
// code jobs: the same program through the sandboxed farm and bare

static const char *PY_PROG = "import sys\nn = int(sys.stdin.readline())\nprint(sum(i * i for i in range(n)))\n";
static const char *C_PROG =
    "#include <stdio.h>\nint main(void) { long n, s = 0; if (scanf(\"%ld\", &n) != 1) return 1;\n"
    "  for (long i = 0; i < n; i++) s += i * i; printf(\"%ld\\n\", s); return 0; }\n";
static const char *STDIN = "1000\n", *STDOUT = "332833500\n";

static cJSON *code_job(const char *lang, const char *prog, int i) {
    cJSON *j = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "correct/%s%d", lang, i);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "verifier", "code");
    Buf b = {0};
    buf_printf(&b, "Here it is:\n```%s\n%s```\n", lang, prog);
    cJSON_AddStringToObject(j, "response", b.data);
    buf_free(&b);
    cJSON *p = cJSON_AddObjectToObject(j, "problem");
    cJSON_AddStringToObject(p, "kind", "code");
    cJSON_AddStringToObject(p, "language", lang);
    cJSON *tests = cJSON_AddArrayToObject(p, "tests");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "stdin", STDIN);
    cJSON_AddStringToObject(t, "stdout", STDOUT);
    cJSON_AddItemToArray(tests, t);
    return j;
}
static cJSON *py_job(int i) { return code_job("python", PY_PROG, i); }

// A HumanEval-style function job (prompt, test, entry_point): what the
// function-test harness costs, a right and a wrong completion in turn.
static const char *HE_PROMPT = "from typing import List\n\ndef sum_squares(xs: List[int]) -> int:\n"
                               "    \"\"\"The sum of the squares of xs.\"\"\"\n";
static const char *HE_TEST = "def check(candidate):\n    assert candidate([]) == 0\n"
                             "    assert candidate([1, 2, 3]) == 14\n    assert candidate([-2]) == 4\n"
                             "    assert candidate(list(range(100))) == 328350\n";
static cJSON *he_job(int i) {
    cJSON *j = cJSON_CreateObject();
    char id[48];
    snprintf(id, sizeof id, "%s/he%d", i % 2 ? "wrong" : "correct", i);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "verifier", "code");
    cJSON_AddStringToObject(j, "response", i % 2 ? "    return sum(x * x for x in xs[1:])\n"
                                                 : "    return sum(x * x for x in xs)\n");
    cJSON *p = cJSON_AddObjectToObject(j, "problem");
    cJSON_AddStringToObject(p, "prompt", HE_PROMPT);
    cJSON_AddStringToObject(p, "test", HE_TEST);
    cJSON_AddStringToObject(p, "entry_point", "sum_squares");
    return j;
}
static cJSON *c_job(int i) { return code_job("c", C_PROG, i); }

// Run argv in dir with stdin_text, capture stdout into out (cap bytes).
// Exit status or -1.
static int run_bare(const char *dir, const char *const *argv, const char *stdin_text, char *out, size_t cap) {
    int in[2], o[2];
    if (pipe(in) || pipe(o)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        // The sandbox's environment and a work dir as cwd, so both sides run
        // the same interpreter and compiler the same way (verifier/sandbox/sandbox.c).
        char home[600], tmp[600];
        snprintf(home, sizeof home, "HOME=%s", dir);
        snprintf(tmp, sizeof tmp, "TMPDIR=%s", dir);
        char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home, tmp, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1",
                       "PYTHONHASHSEED=0", NULL};
        setenv("PATH", env[0] + 5, 1);  // execvpe searches the caller's PATH, not env's
        if (chdir(dir) != 0) _exit(127);
        dup2(in[0], 0);
        dup2(o[1], 1);
        close(in[0]), close(in[1]), close(o[0]), close(o[1]);
        execvpe(argv[0], (char *const *)argv, env);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (write(in[1], stdin_text, strlen(stdin_text)) < 0) {
    }
    close(in[1]);
    size_t got = 0;
    ssize_t k;
    while ((k = read(o[0], out + got, cap - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    close(o[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One bare job in dir: write the program, (compile,) run, compare. 1 if
// right. The command lines are verifier/code/code.c's.
static int bare_job(const char *lang, const char *dir) {
    char src[512], out[256];
    int c = strcmp(lang, "c") == 0;
    snprintf(src, sizeof src, "%s/%s", dir, c ? "prog.c" : "solution.py");
    // A plain write, no fsync: the sandbox writes its work dir to a tmpfs.
    FILE *f = fopen(src, "w");
    if (!f) return 0;
    fputs(c ? C_PROG : PY_PROG, f);
    fclose(f);
    if (c) {
        const char *cc[] = {"cc", "-O2", "-pipe", "-o", "prog", "prog.c", "-lm", NULL};
        if (run_bare(dir, cc, "", out, sizeof out) != 0) return 0;
        const char *run[] = {"./prog", NULL};
        return run_bare(dir, run, STDIN, out, sizeof out) == 0 && strcmp(out, STDOUT) == 0;
    }
    const char *py[] = {"python3", "-s", "-B", "solution.py", NULL};
    return run_bare(dir, py, STDIN, out, sizeof out) == 0 && strcmp(out, STDOUT) == 0;
}

// n bare jobs over `lanes` parallel processes.
static Rate bare_run(const char *lang, int n, int lanes) {
    Rate r = {0};
    char tmpl[] = "/tmp/reasoner-bench-XXXXXX";
    if (!mkdtemp(tmpl)) return r;
    double t0 = rs_now(), cpu0 = cpu_s();
    pid_t *pids = xcalloc((size_t)lanes, sizeof *pids);
    for (int l = 0; l < lanes; l++) {
        if ((pids[l] = fork()) == 0) {
            char dir[600];
            snprintf(dir, sizeof dir, "%s/lane%d", tmpl, l);
            mkdir(dir, 0700);
            int wrong = 0;
            for (int i = l; i < n; i += lanes) wrong += !bare_job(lang, dir);
            _exit(wrong > 255 ? 255 : wrong);
        }
    }
    for (int l = 0; l < lanes; l++) {
        int st;
        waitpid(pids[l], &st, 0);
        r.bad += WIFEXITED(st) ? WEXITSTATUS(st) : n;
    }
    r.per_s = n / (rs_now() - t0);
    r.cpu_ms = 1e3 * (cpu_s() - cpu0) / n;
    free(pids);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpl);
    return r;
}

// Best of `rounds` alternating runs on each side (the load on this machine
// comes and goes). The CPU ratio is the one the target is judged on: it is
// the throughput ratio a machine with its cores to itself would see.
static void code_row(const char *lang, const VerifierSet *vs, const char *local, int lanes, int n, int rounds) {
    if (!verifier_set_find(vs, "code")) {
        printf("%-6s code jobs: skipped: verifier code not built\n", lang);
        return;
    }
    Rate bare = {0}, farm = {0};
    int bad = 0;
    for (int k = 0; k < rounds; k++) {
        Rate b = bare_run(lang, n, lanes), f = farm_run(local, vs, n, strcmp(lang, "c") == 0 ? c_job : py_job);
        bad += b.bad + f.bad;
        if (b.per_s > bare.per_s) bare.per_s = b.per_s;
        if (f.per_s > farm.per_s) farm.per_s = f.per_s;
        if (k == 0 || b.cpu_ms < bare.cpu_ms) bare.cpu_ms = b.cpu_ms;
        if (k == 0 || f.cpu_ms < farm.cpu_ms) farm.cpu_ms = f.cpu_ms;
    }
    printf("%-6s code jobs: sandboxed farm %s: %6.1f jobs/s, %5.1f ms CPU/job | bare fork+exec x%d: %6.1f jobs/s, "
           "%5.1f ms CPU/job\n",
           lang, local, farm.per_s, farm.cpu_ms, lanes, bare.per_s, bare.cpu_ms);
    printf("%-6s farm/bare: %.2f by CPU per job, %.2f by wall clock (target >= 0.70)%s\n", lang,
           farm.cpu_ms > 0 ? bare.cpu_ms / farm.cpu_ms : 0, bare.per_s > 0 ? farm.per_s / bare.per_s : 0,
           bad ? "  [SOME VERDICTS NOT AS EXPECTED]" : "");
}

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    char local[32];
    snprintf(local, sizeof local, "local:%d", cores);
    prctl(PR_SET_CHILD_SUBREAPER, 1);  // see reap_all
    VerifierSet *vs = verifier_set_new();
    Err e;
    RS_CHECK(verifier_set_add(vs, &(Verifier){.name = "noop", .grade = grade_noop}, &e) == 0);
    printf("farm bench: %d cores, local farm = %s (one 1-slot worker per core)\n", cores, local);

    printf("slot hop (job to a slot process and back): %.1f us per job\n", slot_hop_us(quick ? 2000 : 20000));
    Rate noop = farm_run(local, vs, quick ? 2000 : 20000, noop_job);
    printf("no-op  jobs via farm: %9.0f jobs/s, %.0f us CPU per job (the farm's own cost)%s\n", noop.per_s,
           1e3 * noop.cpu_ms, noop.bad ? "  [SOME VERDICTS NOT AS EXPECTED]" : "");

    if (!verifier_set_find(vs, "math")) {
        printf("math   checks: skipped: verifier math not built\n");
    } else {
        double inproc = math_in_process(vs, quick ? 2000 : 20000);
        Rate viafarm = farm_run(local, vs, quick ? 2000 : 20000, math_job);
        double per_core = 1e3 / viafarm.cpu_ms;
        printf("math   checks in process: %9.0f /s per core\n", inproc);
        printf("math   checks via farm:   %9.0f /s in all (wall), %9.0f /s per core by CPU (%.2f of in-process)%s\n",
               viafarm.per_s, per_core, inproc > 0 ? per_core / inproc : 0, viafarm.bad ? "  [SOME VERDICTS NOT AS EXPECTED]" : "");
    }
    if (verifier_set_find(vs, "code")) {
        Rate he = farm_run(local, vs, quick ? 20 : 100, he_job);
        printf("python function jobs (HumanEval-style) via farm %s: %6.1f jobs/s, %5.1f ms CPU/job%s\n", local,
               he.per_s, he.cpu_ms, he.bad ? "  [SOME VERDICTS NOT AS EXPECTED]" : "");
    }
    code_row("python", vs, local, cores, quick ? 20 : 100, quick ? 1 : 2);
    code_row("c", vs, local, cores, quick ? 10 : 40, quick ? 1 : 2);
    verifier_set_free(vs);
    return 0;
}
