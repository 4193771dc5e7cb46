// test_sandbox.c: the sandbox's contract, under every configuration this
// machine allows: the layers the kernel grants (printed), the fallback
// without namespaces (with and without Landlock), and, when the tests run as
// root, the same again as an unprivileged user. What a configuration cannot
// give (a private root without a mount namespace) is checked for the
// configurations that have it; everything else is checked everywhere.
//   make build/tests/verifier/test_sandbox && build/tests/verifier/test_sandbox
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "tests/test.h"
#include "verifier/sandbox/sandbox.h"

typedef struct Mode {
    const char *label;
    SbxConfig cfg;
} Mode;

// The full jail first; then the weak modes, each only with allow_weak (and
// each must say it is weak: sbx_isolation names what is missing).
static const Mode modes[] = {
    {"auto", {.namespaces = SBX_NS_ALL}},
    {"fallback", {.namespaces = 0, .allow_weak = 1}},
    {"fallback-no-landlock", {.namespaces = 0, .no_landlock = 1, .allow_weak = 1}},
    // As CI containers do: no user namespaces (root then makes the others
    // itself), or a user namespace alone.
    {"no-user-namespace", {.namespaces = SBX_NS_ALL & ~SBX_NS_USER, .allow_weak = 1}},
    {"user-namespace-only", {.namespaces = SBX_NS_USER, .allow_weak = 1}},
};

// The full jail, or NULL with the reason in why (tests then skip).
static Sandbox *full_jail(Err *why);

// Where fallback work dirs go: reachable by the per-run uid when we are root.
static const char *sbx_tmp(void) {
    static char dir[600];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/work", test_tmpdir());
        chmod(test_tmpdir(), 0711);
        mkdir(dir, 0711);
        chmod(dir, 0711);
    }
    return dir;
}

// A world-readable host file outside any work dir.
static const char *secret_path(void) {
    static char path[700];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/secret.txt", sbx_tmp());
        test_write_file(path, "the secret\n");
        chmod(path, 0644);
    }
    return path;
}

static Sandbox *make_in(const Mode *m, const char *tmp_dir) {
    SbxConfig cfg = m->cfg;
    cfg.tmp_dir = tmp_dir;
    Err e = {{0}};
    Sandbox *s = sbx_new(&cfg, &e);
    if (!s) fprintf(stderr, "    sbx_new(%s): %s\n", m->label, e.msg);
    return s;
}

static Sandbox *make(const Mode *m) { return make_in(m, sbx_tmp()); }

// Run argv with limits; 0 or -1 (e printed).
static int run_in(const Sandbox *s, const char *const *argv, const char *in, SbxLimits lim, SbxResult *r) {
    SbxRun run = {.argv = argv, .stdin_data = in, .stdin_len = in ? strlen(in) : 0, .limits = lim};
    Err e = {{0}};
    int rc = sbx_run(s, &run, r, &e);
    if (rc) fprintf(stderr, "    sbx_run(%s): %s\n", argv[0], e.msg);
    return rc;
}

// A shell script runs other programs: the tool profile, which may exec.
static int sh(const Sandbox *s, const char *script, SbxLimits lim, SbxResult *r) {
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    SbxRun run = {.argv = argv, .limits = lim, .allow_exec = 1};
    Err e = {{0}};
    int rc = sbx_run(s, &run, r, &e);
    if (rc) fprintf(stderr, "    sbx_run(sh): %s\n", e.msg);
    return rc;
}

static Sandbox *full_jail(Err *why) {
    SbxConfig cfg = {.namespaces = SBX_NS_ALL, .tmp_dir = sbx_tmp()};
    return sbx_new(&cfg, why);
}

#define NEED_JAIL(s)                                                          \
    Err jail_e = {{0}};                                                       \
    Sandbox *s = full_jail(&jail_e);                                          \
    if (!s) SKIP("the full jail cannot be built here: %s", jail_e.msg)

static int py(const Sandbox *s, const char *code, SbxLimits lim, SbxResult *r) {
    const char *argv[] = {"python3", "-c", code, NULL};
    return run_in(s, argv, NULL, lim, r);
}

// ---------------------------------------------------------------------------

TEST(layers_are_probed_and_reported) {
    NEED_JAIL(s);
    CHECK_STR_EQ(sbx_isolation(s), "full");
    Buf b = {0};
    sbx_describe(s, &b);
    printf("  layers here: %s\n", b.data);
    CHECK_CONTAINS(b.data, "seccomp allowlist");
    buf_free(&b);
    // Every namespace asked for is either active or refused with a reason.
    cJSON *j = sbx_layers_json(s);
    const char *names[] = {"user", "pid", "net", "mount", "ipc", "uts"};
    for (int i = 0; i < SBX_NS_COUNT; i++) {
        int active = (sbx_namespaces(s) >> i) & 1;
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "refused"), names[i]);
        CHECK_MSG(active != (why != NULL), "namespace %s: active %d, refused %s", names[i], active,
                  why ? why->valuestring : "-");
    }
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "seccomp_syscalls")->valuedouble > 100);
    // A private root needs a mount namespace; without one Landlock stands in.
    CHECK(!sbx_has_private_root(s) || (sbx_namespaces(s) & SBX_NS_MOUNT));
    cJSON_Delete(j);
    sbx_free(s);

    Sandbox *f = make(&modes[1]);
    REQUIRE(f);
    CHECK_EQ(sbx_namespaces(f), 0);
    CHECK(!sbx_has_private_root(f));
    cJSON *jf = sbx_layers_json(f);
    CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(jf, "filesystem")->valuestring, sbx_landlock_abi(f) ? "landlock" : "none");
    CHECK_CONTAINS(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(jf, "refused"), "user")->valuestring,
                   "disabled");
    CHECK_CONTAINS(cJSON_GetObjectItemCaseSensitive(jf, "isolation")->valuestring, "weak:no-userns,no-pidns");
    cJSON_Delete(jf);
    sbx_free(f);
}

TEST(a_missing_layer_is_refused_unless_weak_is_allowed) {
    // Each layer left out: sbx_new refuses, naming it, why, and how to get
    // it; with allow_weak it builds and says it is weak.
    static const struct { unsigned ns; int no_landlock; const char *named, *how, *tag; } cases[] = {
        {SBX_NS_ALL & ~SBX_NS_USER, 0, "a user namespace", "user.max_user_namespaces", "no-userns"},
        {SBX_NS_ALL & ~SBX_NS_PID, 0, "a pid namespace", "--privileged", "no-pidns"},
        {SBX_NS_ALL & ~SBX_NS_NET, 0, "a network namespace", "--security-opt", "no-netns"},
        {SBX_NS_ALL & ~SBX_NS_MOUNT, 1, "a mount namespace", "seccomp=unconfined", "no-mountns"},
        {0, 1, "a user namespace", "kernel.unprivileged_userns_clone", "no-fs"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        SbxConfig cfg = {.namespaces = cases[i].ns, .no_landlock = cases[i].no_landlock, .tmp_dir = sbx_tmp()};
        Err e = {{0}};
        Sandbox *s = sbx_new(&cfg, &e);
        CHECK_MSG(s == NULL, "case %zu: built without %s", i, cases[i].named);
        sbx_free(s);
        CHECK_CONTAINS(e.msg, cases[i].named);
        CHECK_CONTAINS(e.msg, cases[i].how);
        CHECK_CONTAINS(e.msg, "--allow-weak-sandbox");
        cfg.allow_weak = 1;
        s = sbx_new(&cfg, &e);
        CHECK_MSG(s != NULL, "case %zu: %s", i, e.msg);
        if (s) CHECK_CONTAINS(sbx_isolation(s), cases[i].tag);
        if (s) CHECK(strncmp(sbx_isolation(s), "weak:", 5) == 0);
        sbx_free(s);
    }
}

// The checks every configuration must pass. Returns the number of failures
// (so the unprivileged run in a child process can report them).
static int battery(const Mode *m, const char *tmp_dir) {
    int before = t__failed_checks;
    Sandbox *s = make_in(m, tmp_dir);
    if (!s) return 1;
    printf("  [%s] ", m->label);
    Buf b = {0};
    sbx_describe(s, &b);
    printf("%s\n", b.data);
    buf_free(&b);
    // Weak only where asked for, and then said.
    if (m->cfg.allow_weak) CHECK_MSG(strncmp(sbx_isolation(s), "weak:", 5) == 0, "[%s] %s", m->label, sbx_isolation(s));
    else CHECK_STR_EQ(sbx_isolation(s), "full");
    SbxLimits lim = {.time_s = 5, .memory_mb = 256, .output_kb = 64};
    SbxResult r;

    // ok, both streams, accounting
    if (py(s, "import sys; print('hello'); print('oops', file=sys.stderr)", lim, &r) == 0) {
        CHECK_MSG(r.status == SBX_OK, "[%s] status %s: %s", m->label, sbx_status_name(r.status), r.err);
        CHECK_STR_EQ(r.out, "hello\n");
        CHECK_STR_EQ(r.err, "oops\n");
        CHECK(r.wall_ms > 0 && r.cpu_ms > 0 && r.peak_rss_kb > 1000);
        sbx_result_free(&r);
    } else CHECK(0);

    // exit code and signals
    if (sh(s, "exit 7", lim, &r) == 0) {
        CHECK_EQ(r.status, SBX_EXIT);
        CHECK_EQ(r.exit_code, 7);
        sbx_result_free(&r);
    } else CHECK(0);
    if (sh(s, "kill -SEGV $$", lim, &r) == 0) {
        CHECK_MSG(r.status == SBX_SIGNAL && r.signal == SIGSEGV, "[%s] %s signal %d", m->label,
                  sbx_status_name(r.status), r.signal);
        sbx_result_free(&r);
    } else CHECK(0);

    // the wall clock (a sleeper uses no CPU) and the CPU limit
    SbxLimits quick = lim;
    quick.time_s = 0.5;
    if (sh(s, "sleep 30", quick, &r) == 0) {
        CHECK_EQ(r.status, SBX_TIMEOUT);
        CHECK_MSG(r.wall_ms >= 450 && r.wall_ms < 3000, "[%s] wall %.0f ms", m->label, r.wall_ms);
        sbx_result_free(&r);
    } else CHECK(0);
    if (py(s, "while True: pass", quick, &r) == 0) {
        CHECK_EQ(r.status, SBX_TIMEOUT);
        sbx_result_free(&r);
    } else CHECK(0);

    // memory
    if (py(s, "x = bytearray(10**10)", lim, &r) == 0) {
        CHECK_MSG(r.status == SBX_MEMORY, "[%s] %s: %s", m->label, sbx_status_name(r.status), r.err);
        sbx_result_free(&r);
    } else CHECK(0);

    // output caps: a flood is cut and killed; what fits is kept whole
    SbxLimits small = lim;
    small.output_kb = 16;
    if (py(s, "import sys\nwhile True: sys.stdout.write('x' * 4096)", small, &r) == 0) {
        CHECK_EQ(r.status, SBX_OUTPUT_LIMIT);
        CHECK_EQ(r.out_len, 16 * 1024);
        CHECK(r.out_total > 16 * 1024);
        sbx_result_free(&r);
    } else CHECK(0);
    if (py(s, "print('y' * 9999)", small, &r) == 0) {
        CHECK_EQ(r.status, SBX_OK);
        CHECK_EQ(r.out_len, 10000);
        sbx_result_free(&r);
    } else CHECK(0);

    // the filter: sockets kill (status denied)
    if (py(s, "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM); print('ESCAPED')", lim, &r) == 0) {
        CHECK_EQ(r.status, SBX_DENIED);
        CHECK(strstr(r.out, "ESCAPED") == NULL);
        sbx_result_free(&r);
    } else CHECK(0);

    // the filesystem: system dirs read-only, secrets and the host invisible,
    // the work dir writable and fresh each run
    char script[1600];
    snprintf(script, sizeof script,
             "cat /etc/shadow 2>/dev/null && echo SHADOW; cat '%s' 2>/dev/null && echo HOSTFILE;"
             "touch /usr/pwned 2>/dev/null && echo USR; touch /pwned 2>/dev/null && echo ROOT;"
             "ls left-behind 2>/dev/null && echo STALE; echo data > left-behind && echo WROTE",
             secret_path());
    // Without any filesystem layer only file permissions stand: the
    // unprivileged uid reads what the world may read. Said, not hidden.
    cJSON *layers = sbx_layers_json(s);
    int fs_none = strcmp(cJSON_GetObjectItemCaseSensitive(layers, "filesystem")->valuestring, "none") == 0;
    cJSON_Delete(layers);
    const char *want = fs_none ? "the secret\nHOSTFILE\nWROTE\n" : "WROTE\n";
    // Only in a weak mode, which says so in every verdict.
    if (fs_none) CHECK_CONTAINS(sbx_isolation(s), "no-fs");
    for (int round = 0; round < 2; round++) {
        if (sh(s, script, lim, &r) == 0) {
            CHECK_MSG(strcmp(r.out, want) == 0, "[%s] round %d: %s", m->label, round, r.out);
            sbx_result_free(&r);
        } else CHECK(0);
    }
    CHECK(!fs_exists("/usr/pwned") && !fs_exists("/pwned"));

    sbx_free(s);
    return t__failed_checks - before;
}

TEST(every_configuration_passes_the_battery) {
    Err why = {{0}};
    Sandbox *full = full_jail(&why);
    if (!full) printf("  no full jail here (%s): the weak modes only\n", why.msg);
    sbx_free(full);
    for (size_t i = full ? 0 : 1; i < RS_ARRAY_LEN(modes); i++) battery(&modes[i], sbx_tmp());
}

// Root here is not root in CI: repeat the battery as "nobody" in a child.
TEST(the_battery_passes_unprivileged_too) {
    if (geteuid() != 0) {
        printf("  already unprivileged (uid %d): covered above\n", (int)geteuid());
        return;
    }
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/nobody", sbx_tmp());
    REQUIRE(mkdir(tmp, 0700) == 0 && chown(tmp, 65534, 65534) == 0);
    secret_path();
    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(100);
        int fails = 0;
        for (size_t i = 0; i < 2; i++) {
            Mode m = modes[i];
            char label[64];
            snprintf(label, sizeof label, "nobody/%s", m.label);
            m.label = label;
            fails += battery(&m, tmp);
        }
        fflush(stdout);
        _exit(fails > 99 ? 99 : fails);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) != 100, "could not become nobody");
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%d failures as nobody (status %d)",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
}

// ---------------------------------------------------------------------------

TEST(stdin_is_delivered_and_a_program_that_ignores_it_does_not_block) {
    NEED_JAIL(s);
    size_t n = 1 << 20;
    char *big = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    SbxLimits lim = {.time_s = 5, .output_kb = 2048};
    const char *cat[] = {"cat", NULL};
    SbxResult r;
    if (run_in(s, cat, big, lim, &r) == 0) {
        CHECK_EQ(r.status, SBX_OK);
        CHECK_EQ(r.out_len, n);
        CHECK(r.out_len == n && memcmp(r.out, big, n) == 0);
        sbx_result_free(&r);
    } else CHECK(0);
    const char *truecmd[] = {"true", NULL};
    double t0 = rs_now();
    if (run_in(s, truecmd, big, lim, &r) == 0) {
        CHECK_EQ(r.status, SBX_OK);
        CHECK(rs_now() - t0 < 3);
        sbx_result_free(&r);
    } else CHECK(0);
    free(big);
    sbx_free(s);
}

TEST(files_go_in_and_come_back_and_fd3_reports) {
    NEED_JAIL(s);
    SbxFile in = {.name = "in.txt", .data = "abc\n", .len = 4};
    const char *argv[] = {"/bin/sh", "-c", "tr a-z A-Z < in.txt > out.txt; echo verdict >&3", NULL};
    const char *collect[] = {"out.txt", "missing.txt", NULL};
    SbxRun run = {.argv = argv, .files = &in, .nfiles = 1, .collect = collect, .report_fd = 1, .allow_exec = 1};
    SbxResult r;
    Err e = {{0}};
    REQUIRE(sbx_run(s, &run, &r, &e) == 0);
    CHECK_EQ(r.status, SBX_OK);
    REQUIRE(r.nfiles == 2);
    CHECK_STR_EQ(r.files[0].name, "out.txt");
    CHECK_STR_EQ(r.files[0].data, "ABC\n");
    CHECK(r.files[1].data == NULL);
    CHECK_STR_EQ(r.report, "verdict\n");
    sbx_result_free(&r);
    // Without report_fd there is no fd 3.
    run.report_fd = 0;
    run.collect = NULL;
    REQUIRE(sbx_run(s, &run, &r, &e) == 0);
    CHECK_EQ(r.status, SBX_EXIT);
    sbx_result_free(&r);
    sbx_free(s);
}

TEST(no_fd_and_no_environment_of_the_caller_gets_in) {
    int leak = open("/dev/null", O_RDONLY);  // no O_CLOEXEC: a fork would inherit it
    REQUIRE(leak >= 0);
    setenv("REASONER_TEST_LEAK", "host-secret", 1);
    const char *extra[] = {"EXTRA_VAR=from-config", NULL};
    for (size_t i = 0; i < 2; i++) {
        Mode m = modes[i];
        m.cfg.env = extra;
        Sandbox *s = make(&m);
        if (!s && i == 0) continue;  // no full jail here: the weak mode alone
        REQUIRE(s);
        SbxResult r;
        SbxLimits lim = {.time_s = 5};
        if (py(s, "import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n"
                  "        open_fds.append(fd)\n    except OSError:\n        pass\nprint(open_fds)\nprint(sorted(os.environ))",
               lim, &r) == 0) {
            CHECK_MSG(strncmp(r.out, "[]\n", 3) == 0, "[%s] fds: %s", m.label, r.out);
            CHECK_MSG(strstr(r.out, "REASONER_TEST_LEAK") == NULL, "[%s] env: %s", m.label, r.out);
            CHECK_CONTAINS(r.out, "EXTRA_VAR");
            CHECK_CONTAINS(r.out, "'PATH'");
            sbx_result_free(&r);
        } else CHECK(0);
        sbx_free(s);
    }
    unsetenv("REASONER_TEST_LEAK");
    close(leak);
}

TEST(bad_runs_are_errors_not_crashes) {
    NEED_JAIL(s);
    SbxResult r;
    Err e = {{0}};
    const char *missing[] = {"no-such-program-xyz", NULL};
    SbxRun run = {.argv = missing};
    CHECK_EQ(sbx_run(s, &run, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "no-such-program-xyz");
    SbxFile f = {.name = "../escape", .data = "x", .len = 1};
    const char *truecmd[] = {"true", NULL};
    SbxRun run2 = {.argv = truecmd, .files = &f, .nfiles = 1};
    CHECK_EQ(sbx_run(s, &run2, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "../escape");
    const char *collect[] = {"a/b", NULL};
    SbxRun run3 = {.argv = truecmd, .collect = collect};
    CHECK_EQ(sbx_run(s, &run3, &r, &e), -1);
    SbxConfig cfg = {.namespaces = SBX_NS_ALL, .ro_paths = (const char *[]){"/proc/self", NULL}};
    CHECK(sbx_new(&cfg, &e) == NULL);
    CHECK_CONTAINS(e.msg, "/proc");
    sbx_free(s);
}

typedef struct ThreadJob {
    const Sandbox *s;
    int id, ok;
} ThreadJob;

static void *thread_runs(void *arg) {
    ThreadJob *j = arg;
    for (int k = 0; k < 5; k++) {
        char code[64], want[32];
        snprintf(code, sizeof code, "print(%d * 1000 + %d)", j->id, k);
        snprintf(want, sizeof want, "%d\n", j->id * 1000 + k);
        const char *argv[] = {"python3", "-c", code, NULL};
        SbxRun run = {.argv = argv, .limits = {.time_s = 10}};
        SbxResult r;
        Err e = {{0}};
        if (sbx_run(j->s, &run, &r, &e) == 0) {
            j->ok += r.status == SBX_OK && strcmp(r.out, want) == 0;
            sbx_result_free(&r);
        }
    }
    return NULL;
}

TEST(one_sandbox_serves_many_threads) {
    NEED_JAIL(s);
    ThreadJob jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (ThreadJob){.s = s, .id = i + 1};
        REQUIRE(pthread_create(&th[i], NULL, thread_runs, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].ok, 5);
    }
    sbx_free(s);
}

TEST(the_shared_sandbox_is_built_once) {
    Err e = {{0}};
    const Sandbox *a = sbx_shared(&e), *b = sbx_shared(&e);
    if (!a) SKIP("the full jail cannot be built here: %s", e.msg);
    CHECK(a == b);
    CHECK_STR_EQ(sbx_status_name(SBX_DENIED), "denied");
    CHECK_STR_EQ(sbx_status_name(SBX_EXIT), "runtime_error");
}
