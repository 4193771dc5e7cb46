// test_attacks.c: the attack suite. Every program in tests/verifier/attacks/
// (Python and C, first line "# expect: STATUS..." or "// expect: ...") is
// graded by the code verifier as a stdin/stdout problem whose expected
// output is "ESCAPED" (so an attack that gets through grades "correct"), and
// must end with one of its expected statuses; afterwards no process of the
// run may be alive (found by an environment marker every program inherits),
// no file may appear outside its work dir, and no work dir may be left.
// The suite runs in the full jail, and again in the weak modes this machine
// can contain them in (the fallback without namespaces, with Landlock; as
// root, the namespaces without a user namespace). A suite that cannot be
// built or could not contain them is skipped with its reason, never passed.
//   make build/tests/verifier/test_attacks && build/tests/verifier/test_attacks
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "tests/test.h"
#include "verifier/code/code.h"

// Under AddressSanitizer, freed memory sits in a quarantine (256 MB by
// default) and this process's resident size grows with it; every sandboxed
// program starts as a copy of it. Keep it small.
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=16"; }

static const char *const pwned_paths[] = {"/tmp/reasoner-attack-pwned", "/var/tmp/reasoner-attack-pwned",
                                          "/usr/reasoner-attack-pwned", "/reasoner-attack-pwned",
                                          "/dev/shm/reasoner-attack-pwned", "/etc/reasoner-attack-pwned"};

static char *attacks_dir(void) {
    const char *root = getenv("REASONER_ROOT");
    return fs_join(root && *root ? root : ".", "tests/verifier/attacks");
}

// The pids whose environment holds marker (zombies have none).
static int marked_processes(const char *marker, int *pids, int max) {
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char buf[8192];
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < got; i++)
            if (buf[i] == '\0') buf[i] = '\n';
        buf[got] = '\0';
        if (strstr(buf, marker) && n < max) pids[n++] = atoi(de->d_name);
    }
    closedir(d);
    return n;
}

// Processes killed a moment ago may take a moment to go: wait up to 2 s.
static int survivors(const char *marker, int *pids, int max) {
    int n = 0;
    for (int i = 0; i < 40; i++) {
        if ((n = marked_processes(marker, pids, max)) == 0) return 0;
        usleep(50 * 1000);
    }
    return n;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "reasoner-sbx-", 13) == 0) n++;
    closedir(d);
    return n;
}

// "expect: a b c" from the first line.
static int parse_expect(const char *src, char expect[][24], int max) {
    const char *p = strstr(src, "expect:");
    const char *nl = strchr(src, '\n');
    if (!p || (nl && p > nl)) return 0;
    p += 7;
    int n = 0;
    while (n < max) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n' || *p == '(') break;
        int k = 0;
        while (*p && *p != ' ' && *p != '\n' && k < 23) expect[n][k++] = *p++;
        expect[n++][k] = '\0';
    }
    return n;
}

static int name_filter(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return n > 3 && (strcmp(d->d_name + n - 3, ".py") == 0 || strcmp(d->d_name + n - 2, ".c") == 0);
}

// One suite: a sandbox config, and what running the attacks under it gave.
typedef struct Suite {
    SbxConfig cfg;
    const char *label;
    Buf log;       // one line per attack
    Buf failures;  // one line per failed expectation
    int nfail, ran;
    double secs;
    long floor_kb;  // RSS the sandboxed programs inherit from this process (see sandbox.h)
    char skipped[600];  // why the suite did not run (no such sandbox here), or ""
} Suite;

#define FAIL_IF(cond, ...)                                          \
    do {                                                            \
        if (cond) {                                                 \
            buf_printf(&su->failures, "    [%s] ", su->label);      \
            buf_printf(&su->failures, __VA_ARGS__);                 \
            buf_putc(&su->failures, '\n');                          \
            su->nfail++;                                            \
        }                                                           \
    } while (0)

// Grade one attack and check what it left behind.
static void run_attack(Suite *su, const Sandbox *s, const char *dir, const char *name, const char *marker,
                       const char *tmp) {
    Err e = {{0}};
    char *path = fs_join(dir, name), *src = NULL;
    size_t len = 0;
    if (fs_read_all(path, &src, &len, &e) != 0) {
        FAIL_IF(1, "%s", e.msg);
        free(path);
        return;
    }
    char expect[4][24];
    int nexp = parse_expect(src, expect, 4);
    FAIL_IF(nexp == 0, "%s: no 'expect:' line", path);
    // "(allows fork)": the problem lets the program fork (the default is
    // threads only), so what contains a fork bomb is tested too.
    const char *nl = strchr(src, '\n');
    const char *fork_ok = strstr(src, "(allows fork)");
    int allow_fork = fork_ok && (!nl || fork_ok < nl);
    int is_c = strstr(name, ".c") != NULL;
    char problem[200];
    snprintf(problem, sizeof problem, "{\"language\":\"%s\",%s\"tests\":[{\"stdin\":\"\",\"stdout\":\"ESCAPED\\n\"}]}",
             is_c ? "c" : "python", allow_fork ? "\"allow_fork\":true," : "");
    cJSON *pb = cJSON_Parse(problem);
    // Attacks that must time out get a short clock; the others a long one,
    // so that a loaded machine cannot turn them into timeouts.
    int want_timeout = 0;
    for (int k = 0; k < nexp; k++) want_timeout += strcmp(expect[k], "timeout") == 0;
    double time_s = !want_timeout ? 4.0 : nexp == 1 ? 0.7 : 1.5;
    VerifyJob job = {.id = (char *)name, .verifier = "code", .response = src, .problem = pb,
                     .limits = {.time_s = time_s, .memory_mb = 128, .output_kb = 64, .return_output = 1}};
    VerifyResult r = {0};
    double t0 = rs_now();
    struct rusage self;
    if (getrusage(RUSAGE_SELF, &self) == 0) su->floor_kb = self.ru_maxrss;
    int rc = vcode_grade_with(s, &job, &r, &e);
    double ms = (rs_now() - t0) * 1000;
    int ok = 0;
    for (int k = 0; k < nexp; k++) ok |= rc == 0 && strcmp(r.status, expect[k]) == 0;
    // A crash at the address-space limit is told from any other crash by
    // the program's peak RSS, which the kernel cannot separate from what it
    // inherited from a large caller (this test under AddressSanitizer can
    // be one): then a memory bomb may only show as the crash it is.
    if (!ok && rc == 0 && nexp == 1 && strcmp(expect[0], "memory") == 0 && strcmp(r.status, "runtime_error") == 0 &&
        su->floor_kb >= job.limits.memory_mb * 1024 * 3 / 4) {
        buf_printf(&su->log, "  [%s] %s: no memory verdict possible here: this process's resident size (%ld MB) "
                             "is over the limit's threshold; the crash was contained\n",
                   su->label, name, su->floor_kb >> 10);
        ok = 1;
    }
    buf_printf(&su->log, "  [%s] %-26s %-14s %6.0f ms%s\n", su->label, name, rc ? "(error)" : r.status, ms,
               ok ? "" : "  <-- unexpected");
    FAIL_IF(!ok, "%s: got %s (%s), expected %s%s%s; stderr: %.200s", name, rc ? "error" : r.status,
            rc ? e.msg : (r.detail ? r.detail : ""), expect[0], nexp > 1 ? " or " : "", nexp > 1 ? expect[1] : "",
            r.out_stderr ? r.out_stderr : "");
    int pids[16];
    int alive = survivors(marker, pids, 16);
    FAIL_IF(alive != 0, "%s: %d process(es) still alive (pid %d)", name, alive, alive ? pids[0] : 0);
    for (int k = 0; k < alive; k++) kill(pids[k], SIGKILL);
    for (size_t k = 0; k < RS_ARRAY_LEN(pwned_paths); k++) {
        FAIL_IF(fs_exists(pwned_paths[k]), "%s: wrote %s", name, pwned_paths[k]);
        unlink(pwned_paths[k]);
    }
    char *pwned_rel = fs_join(tmp, "reasoner-attack-pwned");  // "../" from a fallback work dir
    FAIL_IF(fs_exists(pwned_rel), "%s: wrote %s", name, pwned_rel);
    unlink(pwned_rel);
    FAIL_IF(dir_entries(tmp) != 0, "%s: a work dir was left in %s", name, tmp);
    free(r.detail), free(r.extracted), free(r.out_stdout), free(r.out_stderr);
    cJSON_Delete(pb);
    free(src), free(path), free(pwned_rel);
}

static void *run_suite(void *arg) {
    Suite *su = arg;
    double t0 = rs_now();
    char marker[64], markvar[96];
    snprintf(marker, sizeof marker, "reasoner-attack-%d-%s", (int)getpid(), su->label);
    snprintf(markvar, sizeof markvar, "REASONER_ATTACK_MARK=%s", marker);
    const char *env[] = {markvar, NULL};
    char *tmp = fs_join(test_tmpdir(), su->label);
    Err e = {{0}};
    Sandbox *s = NULL;
    // The fallback's per-run uid must be able to reach its work dir.
    chmod(test_tmpdir(), 0711);
    if (fs_mkdir_p(tmp, &e) == 0 && chmod(tmp, 0711) == 0) {
        su->cfg.env = env;
        su->cfg.tmp_dir = tmp;
        s = sbx_new(&su->cfg, &e);
    }
    // The full jail may be missing here (then the suite is skipped, saying
    // why); a weak mode that cannot contain these attacks by design (no
    // filesystem layer, or the caller's own uid) is skipped the same way.
    if (!s) {
        snprintf(su->skipped, sizeof su->skipped, "%s", e.msg);
    } else if (strstr(sbx_isolation(s), "no-fs") || strstr(sbx_isolation(s), "same-uid")) {
        snprintf(su->skipped, sizeof su->skipped, "isolation %s cannot contain these attacks", sbx_isolation(s));
        sbx_free(s);
        s = NULL;
    }
    if (s) {
        Buf layers = {0};
        sbx_describe(s, &layers);
        buf_printf(&su->log, "  [%s] layers: %s\n", su->label, layers.data);
        buf_free(&layers);
        char *dir = attacks_dir();
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, name_filter, alphasort);
        FAIL_IF(n < 40, "%s: %d attack programs, want at least 40", dir, n);
        for (int i = 0; i < n; i++, su->ran++) {
            run_attack(su, s, dir, ents[i]->d_name, marker, tmp);
            free(ents[i]);
        }
        free(ents), free(dir);
    }
    sbx_free(s);
    free(tmp);
    su->secs = rs_now() - t0;
    return NULL;
}

// Both suites at once (they are independent: own sandbox, own marker, own
// temp dir), so the whole takes the time of one.
TEST(attacks_under_every_layer_allowed_and_in_the_fallback) {
    for (size_t k = 0; k < RS_ARRAY_LEN(pwned_paths); k++) unlink(pwned_paths[k]);
    // As root, also the path a container without user namespaces takes:
    // the namespaces made as root, the program on a per-run uid.
    Suite suites[3] = {{.cfg = {.namespaces = SBX_NS_ALL}, .label = "auto"},
                       {.cfg = {.namespaces = 0, .allow_weak = 1}, .label = "fallback"},
                       {.cfg = {.namespaces = SBX_NS_ALL & ~SBX_NS_USER, .allow_weak = 1}, .label = "root-no-userns"}};
    int n = geteuid() == 0 ? 3 : 2;
    pthread_t th[3];
    for (int i = 0; i < n; i++) REQUIRE(pthread_create(&th[i], NULL, run_suite, &suites[i]) == 0);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        Suite *su = &suites[i];
        if (su->skipped[0]) {
            printf("  [%s] skipped: %s\n", su->label, su->skipped);
            continue;
        }
        ran++;
        fputs(su->log.data ? su->log.data : "", stdout);
        printf("  [%s] %d attacks in %.1f s, %d unexpected\n", su->label, su->ran, su->secs, su->nfail);
        CHECK_MSG(su->nfail == 0, "[%s] %d failures:\n%s", su->label, su->nfail, su->failures.data);
        CHECK_MSG(su->ran >= 40, "[%s] only %d attacks ran", su->label, su->ran);
        buf_free(&su->log), buf_free(&su->failures);
    }
    if (suites[0].skipped[0]) SKIP("the full jail cannot be built here: %s", suites[0].skipped);
    CHECK(ran > 0);
}
