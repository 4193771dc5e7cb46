// test_farm.c: the farm end to end: local farms (broker + workers forked by
// the client), results in submission order, bad jobs answered with errors
// while the farm keeps serving, kill -9 of a worker or of the broker in the
// middle of a batch (no job lost, none duplicated), the broker's first-result
// rule (results only from the worker a job was handed to, under its random
// tag, once), teardown without orphans, CURVE required and on loopback. The verifiers are test doubles registered here; forked workers
// inherit them. Deadlines are generous; nothing asserts a timing.
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <zmq.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "tests/test.h"
#include "verifier/farm/farm.h"

// ---------------------------------------------------------------------------
// test verifiers

// {"score": x, "status": s}: answers at once.
static int grade_echo(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    verify_result_set(out, json_opt_str(job->problem, "status", "correct"), json_opt_num(job->problem, "score", 1),
                      "%s", job->response);
    return 0;
}

static void append_line(const char *path, const char *what, const char *id) {
    char line[160];
    int n = snprintf(line, sizeof line, "%s %s %d\n", what, id, (int)getppid());
    FILE *f = fopen(path, "a");
    if (!f) return;
    fwrite(line, 1, (size_t)n, f);
    fclose(f);
}

// {"ms": t, "log": path}: sleeps t ms, logging "start ID WORKER" and
// "end ID WORKER" (the slot's parent is its worker).
static int grade_sleep(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const char *log = json_opt_str(job->problem, "log", NULL);
    if (log) append_line(log, "start", job->id);
    usleep((useconds_t)(1000 * json_opt_int(job->problem, "ms", 100)));
    if (log) append_line(log, "end", job->id);
    verify_result_set(out, "correct", 1, "slept");
    return 0;
}

static int grade_crash(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) { abort(); }

static _Noreturn int grade_hang(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    for (;;) pause();
}

static VerifierSet *test_set(void) {
    VerifierSet *s = verifier_set_new();
    Verifier vs[] = {{.name = "echo", .grade = grade_echo},
                     {.name = "sleep", .grade = grade_sleep},
                     {.name = "crash", .grade = grade_crash},
                     {.name = "hang", .grade = grade_hang}};
    Err e;
    for (size_t i = 0; i < RS_ARRAY_LEN(vs); i++) RS_CHECK(verifier_set_add(s, &vs[i], &e) == 0);
    return s;
}

// ---------------------------------------------------------------------------
// helpers

static cJSON *make_job(const char *id, const char *verifier, const char *problem) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "verifier", verifier);
    cJSON_AddStringToObject(j, "response", "r");
    cJSON_AddItemToObject(j, "problem", cJSON_Parse(problem));
    return j;
}

static cJSON *sleep_job(int i, int ms, const char *log) {
    char id[32], problem[700];
    snprintf(id, sizeof id, "s%d", i);
    snprintf(problem, sizeof problem, "{\"ms\":%d,\"log\":\"%s\"}", ms, log ? log : "");
    cJSON *j = make_job(id, "sleep", problem);
    if (!log) cJSON_DeleteItemFromObject(cJSON_GetObjectItem(j, "problem"), "log");
    return j;
}

static int submit_free(FarmClient *c, cJSON **jobs, int n) {
    Err e;
    int rc = farm_submit(c, jobs, n, &e);
    if (rc) fprintf(stderr, "    submit: %s\n", e.msg);
    for (int i = 0; i < n; i++) cJSON_Delete(jobs[i]);
    return rc;
}

static void free_results(cJSON **r, int n) {
    for (int i = 0; i < n; i++) cJSON_Delete(r[i]);
}

static int count_lines(const char *path, const char *prefix) {
    char *text;
    size_t n;
    if (fs_read_all(path, &text, &n, NULL) != 0) return 0;
    int k = 0;
    size_t pn = strlen(prefix);
    for (char *p = text; p && *p;) {
        if (strncmp(p, prefix, pn) == 0) k++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    free(text);
    return k;
}

static int alive(pid_t pid) {
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) state = 0;
    fclose(f);
    return state && state != 'Z' && state != 'X';
}

// Pids of the live children of parent (from /proc).
static int children_of(pid_t parent, pid_t *out, int max) {
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) && n < max) {
        int pid = atoi(de->d_name);
        if (pid <= 0) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        int ppid = 0;
        if (!f) continue;
        if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) == 1 && ppid == parent && alive(pid)) out[n++] = pid;
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

static int wait_gone(const pid_t *pids, int n, double timeout_s) {
    double end = rs_now() + timeout_s;
    for (;;) {
        int left = 0;
        for (int i = 0; i < n; i++) left += alive(pids[i]);
        if (!left || rs_now() > end) return left == 0;
        usleep(20000);
    }
}

// ---------------------------------------------------------------------------
// local farm basics

TEST(local_farm_results_in_submission_order) {
    VerifierSet *vs = test_set();
    Err e;
    FarmClient *c = farm_client_new("local:3", &(FarmClientOptions){.verifiers = vs}, &e);
    REQUIRE(c);
    enum { N = 24 };
    cJSON *jobs[N];
    // Early jobs sleep longest, so completion order is far from input order.
    for (int i = 0; i < N; i++) jobs[i] = sleep_job(i, (N - i) * 8, NULL);
    REQUIRE(submit_free(c, jobs, N) == 0);
    CHECK_EQ(farm_pending(c), N);
    cJSON *res[N];
    CHECK_EQ(farm_collect(c, 120, res, &e), 0);
    CHECK_EQ(farm_pending(c), 0);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "s%d", i);
        CHECK_STR_EQ(json_opt_str(res[i], "id", ""), id);
        CHECK_STR_EQ(json_opt_str(res[i], "status", ""), "correct");
        CHECK(json_opt_num(res[i], "elapsed_ms", -1) >= 0);
    }
    free_results(res, N);
    // A second batch on the same client: tags go on, scores come through.
    cJSON *more[8];
    for (int i = 0; i < 8; i++) {
        char id[16], problem[64];
        snprintf(id, sizeof id, "e%d", i);
        snprintf(problem, sizeof problem, "{\"score\":%g,\"status\":\"%s\"}", i / 8.0, i % 2 ? "wrong" : "correct");
        more[i] = make_job(id, "echo", problem);
    }
    REQUIRE(submit_free(c, more, 8) == 0);
    CHECK_EQ(farm_collect(c, 60, res, &e), 0);
    for (int i = 0; i < 8; i++) {
        CHECK_NEAR(json_opt_num(res[i], "score", -1), i / 8.0, 1e-12);
        CHECK_STR_EQ(json_opt_str(res[i], "status", ""), i % 2 ? "wrong" : "correct");
    }
    free_results(res, 8);
    FarmStats st = farm_client_stats(c);
    CHECK_EQ(st.submitted, N + 8);
    CHECK_EQ(st.results, N + 8);
    CHECK_EQ(st.duplicates + st.late + st.expired + st.respawned, 0);
    farm_client_free(c);
    verifier_set_free(vs);
}

TEST(bad_jobs_get_error_results_and_the_farm_keeps_serving) {
    VerifierSet *vs = test_set();
    Err e;
    FarmClient *c = farm_client_new("local:2", &(FarmClientOptions){.verifiers = vs, .job_timeout_s = 3}, &e);
    REQUIRE(c);
    pid_t before[3];
    REQUIRE(farm_client_pids(c, before, 3) == 3);
    const unsigned char garbage[] = {0x00, 0xff, 0x13, 0x37, 0x80, 0xc3, 0x28, 0x7b, 0x22, 0x00};
    REQUIRE(farm_submit_raw(c, garbage, sizeof garbage, &e) == 0);
    const char *malformed = "{\"id\":\"m\",\"verifier\":\"echo\",";
    REQUIRE(farm_submit_raw(c, malformed, strlen(malformed), &e) == 0);
    cJSON *jobs[5];
    jobs[0] = make_job("u", "no-such-verifier", "{}");
    jobs[1] = make_job("f", "echo", "{}");
    cJSON_DeleteItemFromObject(jobs[1], "response");
    // A 10 MB response.
    size_t big = 10u << 20;
    char *text = xmalloc(big + 1);
    memset(text, 'x', big);
    text[big] = 0;
    jobs[2] = make_job("big", "echo", "{}");
    cJSON_ReplaceItemInObject(jobs[2], "response", cJSON_CreateString(text));
    free(text);
    jobs[3] = make_job("crash", "crash", "{}");
    jobs[4] = make_job("hang", "hang", "{}");
    REQUIRE(submit_free(c, jobs, 5) == 0);
    cJSON *good[1] = {make_job("good", "echo", "{\"score\":1}")};
    REQUIRE(submit_free(c, good, 1) == 0);
    cJSON *r[8];
    REQUIRE(farm_pending(c) == 8);
    CHECK_EQ(farm_collect(c, 120, r, &e), 0);
    const char *want[8][2] = {{NULL, "job: byte 0: not UTF-8 text"},
                              {NULL, "job:1:28: invalid JSON near ','"},
                              {"u", "unknown verifier 'no-such-verifier'"},
                              {"f", "job: field 'response': missing"},
                              {"big", "job: field 'response': 10485760 bytes, over the limit"},
                              {"crash", "verifier crashed"},
                              {"hang", "job timeout of 3 s"},
                              {"good", ""}};
    for (int i = 0; i < 7; i++) {
        CHECK_STR_EQ(json_opt_str(r[i], "status", ""), "error");
        CHECK_CONTAINS(json_opt_str(r[i], "detail", ""), want[i][1]);
        if (want[i][0]) CHECK_STR_EQ(json_opt_str(r[i], "id", ""), want[i][0]);
        else CHECK(cJSON_IsNull(cJSON_GetObjectItem(r[i], "id")));
    }
    CHECK_CONTAINS(json_opt_str(r[5], "detail", ""), "slot was restarted");
    CHECK_STR_EQ(json_opt_str(r[7], "status", ""), "correct");
    free_results(r, 8);
    // Nothing died but slots: same broker and workers, nothing restarted.
    pid_t after[3];
    CHECK_EQ(farm_client_pids(c, after, 3), 3);
    for (int i = 0; i < 3; i++) CHECK(before[i] == after[i] && alive(after[i]));
    CHECK_EQ(farm_client_stats(c).respawned, 0);
    // And the farm still serves: a slot restarted after the crash grades again.
    cJSON *again[4];
    for (int i = 0; i < 4; i++) again[i] = make_job("again", "echo", "{\"score\":0.5}");
    REQUIRE(submit_free(c, again, 4) == 0);
    CHECK_EQ(farm_collect(c, 60, r, &e), 0);
    for (int i = 0; i < 4; i++) CHECK_NEAR(json_opt_num(r[i], "score", 0), 0.5, 0);
    free_results(r, 4);
    farm_client_free(c);
    verifier_set_free(vs);
}

// The real verifiers through a local farm with the default set (the
// built-ins): math now, and code with its program output when it is built in.
TEST(builtin_verifiers_through_a_local_farm) {
    Err e;
    FarmClient *c = farm_client_new("local:2", NULL, &e);
    REQUIRE(c);
    VerifierSet *vs = verifier_set_new();
    int has_code = verifier_set_find(vs, "code") != NULL;
    verifier_set_free(vs);
    cJSON *jobs[3];
    jobs[0] = make_job("m1", "math", "{\"answer\":\"0.5\"}");
    cJSON_ReplaceItemInObject(jobs[0], "response", cJSON_CreateString("so \\boxed{\\frac{1}{2}}"));
    jobs[1] = make_job("m2", "math", "{\"answer\":\"1-1/e\"}");
    cJSON_ReplaceItemInObject(jobs[1], "response", cJSON_CreateString("\\boxed{1+1/e}"));
    jobs[2] = make_job("c1", "code", "{\"language\":\"python\",\"tests\":[{\"stdin\":\"21\\n\",\"stdout\":\"42\\n\"}]}");
    cJSON_ReplaceItemInObject(jobs[2], "response",
                              cJSON_CreateString("```python\nimport sys\nprint(int(input()) * 2)\nprint('note', file=sys.stderr)\n```"));
    cJSON_AddItemToObject(jobs[2], "limits", cJSON_Parse("{\"time_s\":5,\"return_output\":true}"));
    REQUIRE(submit_free(c, jobs, 3) == 0);
    cJSON *r[3];
    CHECK_EQ(farm_collect(c, 120, r, &e), 0);
    CHECK_STR_EQ(json_opt_str(r[0], "status", ""), "correct");
    CHECK_STR_EQ(json_opt_str(r[1], "status", ""), "wrong");
    if (has_code) {
        CHECK_STR_EQ(json_opt_str(r[2], "status", ""), "correct");
        CHECK_STR_EQ(json_opt_str(r[2], "stdout", ""), "42\n");
        CHECK_CONTAINS(json_opt_str(r[2], "stderr", ""), "note");
    } else {
        printf("note: verifier code is not in builtins.def yet; its job must say so\n");
        CHECK_CONTAINS(json_opt_str(r[2], "detail", ""), "unknown verifier 'code'");
    }
    free_results(r, 3);
    farm_client_free(c);
}

// ---------------------------------------------------------------------------
// faults

typedef struct Killer {
    const char *log;
    pid_t candidates[8];
    int ncand;
    int after_ends;  // broker kill: wait for this many finished jobs
    pid_t killed;
    char job[32];  // the job the killed worker was grading
} Killer;

// Kill -9 a worker in the middle of a job: wait for a "start" line whose
// worker is a candidate and which has no "end" yet.
static void *kill_worker_mid_job(void *arg) {
    Killer *k = arg;
    double end = rs_now() + 30;
    while (rs_now() < end && !k->killed) {
        char *text;
        size_t n;
        if (fs_read_all(k->log, &text, &n, NULL) == 0) {
            for (char *line = strtok(text, "\n"); line && !k->killed; line = strtok(NULL, "\n")) {
                char id[32];
                int pid;
                if (sscanf(line, "start %31s %d", id, &pid) != 2) continue;
                char endline[64];
                snprintf(endline, sizeof endline, "end %s %d", id, pid);
                if (count_lines(k->log, endline)) continue;
                for (int i = 0; i < k->ncand; i++)
                    if (k->candidates[i] == pid) {
                        kill(pid, SIGKILL);
                        k->killed = pid;
                        snprintf(k->job, sizeof k->job, "%s", id);
                    }
            }
            free(text);
        }
        usleep(5000);
    }
    return NULL;
}

static void *kill_broker_midway(void *arg) {
    Killer *k = arg;
    double end = rs_now() + 30;
    while (rs_now() < end && count_lines(k->log, "end ") < k->after_ends) usleep(5000);
    kill(k->candidates[0], SIGKILL);
    k->killed = k->candidates[0];
    return NULL;
}

// Bad input to the code verifier through a farm: a 10 MB response, NUL
// bytes, invalid UTF-8 (raw, not JSON-escaped), a solution that floods
// stdout, one that floods the function harness's channel. Each gets a
// verdict (wrong or an error) in bounded time, and the farm still grades a
// good job afterwards.
TEST(bad_input_gets_a_verdict_and_the_farm_keeps_serving) {
    VerifierSet *probe = verifier_set_new();
    int has_code = verifier_set_find(probe, "code") != NULL;
    verifier_set_free(probe);
    if (!has_code) SKIP("verifier code not built");
    Err e;
    FarmClient *c = farm_client_new("local:2", NULL, &e);
    REQUIRE(c);
    const char *stdio = "{\"language\":\"python\",\"tests\":[{\"stdin\":\"21\\n\",\"stdout\":\"42\\n\"}]}";
    const char *he = "{\"prompt\":\"def f(x):\\n    pass\\n\",\"entry_point\":\"f\","
                     "\"test\":\"def check(candidate):\\n    assert candidate(2) == 4\\n\"}";
    size_t big = 10u << 20;
    char *huge = xmalloc(big + 1);
    memset(huge, 'x', big);
    memcpy(huge, "```python\nprint(42)\n#", 21);
    huge[big] = '\0';
    cJSON *jobs[5];
    jobs[0] = make_job("huge", "code", stdio);
    cJSON_ReplaceItemInObject(jobs[0], "response", cJSON_CreateString(huge));
    jobs[1] = make_job("nul", "code", stdio);
    cJSON_ReplaceItemInObject(jobs[1], "response", cJSON_CreateString("```python\nprint('a\\0b')\n```"));
    jobs[2] = make_job("flood", "code", stdio);
    cJSON_ReplaceItemInObject(jobs[2], "response", cJSON_CreateString("```python\nwhile True: print('x' * 4096)\n```"));
    jobs[3] = make_job("rpcflood", "code", he);
    cJSON_ReplaceItemInObject(jobs[3], "response",
                              cJSON_CreateString("```python\nimport os\ndef f(x):\n    return 'y' * (200 << 20)\n```"));
    jobs[4] = make_job("nulsrc", "code", he);
    cJSON_ReplaceItemInObject(jobs[4], "response", cJSON_CreateString("```python\ndef f(x):\n    return x * 2\x01\n```"));
    for (int i = 0; i < 5; i++) cJSON_AddItemToObject(jobs[i], "limits", cJSON_Parse("{\"time_s\":5,\"memory_mb\":256}"));
    free(huge);
    double t0 = rs_now();
    REQUIRE(submit_free(c, jobs, 5) == 0);
    // A NUL inside the raw bytes, and bytes that are not UTF-8.
    static const char raw[] = "{\"id\":\"utf8\",\"verifier\":\"code\",\"response\":\"```python\\nprint('\xff\xfe\xc3\x28')\\n```\","
                              "\"problem\":{\"language\":\"python\",\"tests\":[{\"stdin\":\"\",\"stdout\":\"1\\n\"}]}}";
    REQUIRE(farm_submit_raw(c, raw, sizeof raw - 1, &e) == 0);
    static const char nulraw[] = "{\"id\":\"nulraw\",\"verifier\":\"code\",\"response\":\"x\0y\",\"problem\":{}}";
    REQUIRE(farm_submit_raw(c, nulraw, sizeof nulraw - 1, &e) == 0);
    cJSON *r[7];
    CHECK_EQ(farm_collect(c, 120, r, &e), 0);
    CHECK_MSG(rs_now() - t0 < 90, "bad input took %.0f s", rs_now() - t0);
    for (int i = 0; i < 7; i++) {
        const char *st = json_opt_str(r[i], "status", "");
        printf("  %-8s %-14s %.90s\n", json_opt_str(r[i], "id", "?"), st, json_opt_str(r[i], "detail", ""));
        CHECK_MSG(strcmp(st, "correct") != 0 && *st, "job %d: %s (%s)", i, st, json_opt_str(r[i], "detail", ""));
    }
    CHECK_STR_EQ(json_opt_str(r[2], "status", ""), "output_limit");
    free_results(r, 7);
    cJSON *good[1] = {make_job("good", "code", stdio)};
    cJSON_ReplaceItemInObject(good[0], "response", cJSON_CreateString("```python\nprint(int(input()) * 2)\n```"));
    REQUIRE(submit_free(c, good, 1) == 0);
    CHECK_EQ(farm_collect(c, 60, r, &e), 0);
    CHECK_STR_EQ(json_opt_str(r[0], "status", ""), "correct");
    free_results(r, 1);
    farm_client_free(c);
}

TEST(kill9_of_a_worker_mid_batch_loses_no_job_and_duplicates_none) {
    VerifierSet *vs = test_set();
    Err e;
    FarmClient *c =
        farm_client_new("local:3", &(FarmClientOptions){.verifiers = vs, .hb = {.interval_s = 0.25, .timeout_s = 3}}, &e);
    REQUIRE(c);
    char log[512];
    snprintf(log, sizeof log, "%s", test_path("kill-worker.log"));
    Killer k = {.log = log};
    pid_t pids[4];
    REQUIRE(farm_client_pids(c, pids, 4) == 4);
    k.ncand = 3;
    memcpy(k.candidates, pids + 1, 3 * sizeof *pids);
    enum { N = 24 };
    cJSON *jobs[N];
    for (int i = 0; i < N; i++) jobs[i] = sleep_job(i, 250, log);
    REQUIRE(submit_free(c, jobs, N) == 0);
    pthread_t th;
    pthread_create(&th, NULL, kill_worker_mid_job, &k);
    cJSON *r[N];
    CHECK_EQ(farm_collect(c, 120, r, &e), 0);
    pthread_join(th, NULL);
    REQUIRE(k.killed > 0);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "s%d", i);
        CHECK_STR_EQ(json_opt_str(r[i], "id", ""), id);
        CHECK_STR_EQ(json_opt_str(r[i], "status", ""), "correct");
    }
    free_results(r, N);
    // The job the dead worker held was graded again elsewhere...
    char start[64];
    snprintf(start, sizeof start, "start %s ", k.job);
    CHECK_MSG(count_lines(log, start) >= 2, "job %s was started %d times", k.job, count_lines(log, start));
    // ...yet answered once, and the client restarted the worker.
    FarmStats st = farm_client_stats(c);
    CHECK_EQ(st.results, N);
    CHECK_EQ(st.duplicates, 0);
    CHECK_EQ(st.expired, 0);
    CHECK(st.respawned >= 1);
    farm_client_pids(c, pids, 4);
    for (int i = 1; i < 4; i++) CHECK(pids[i] != k.killed);
    farm_client_free(c);
    verifier_set_free(vs);
}

TEST(kill9_of_the_broker_mid_batch_loses_no_job) {
    VerifierSet *vs = test_set();
    Err e;
    FarmClient *c =
        farm_client_new("local:2", &(FarmClientOptions){.verifiers = vs, .hb = {.interval_s = 0.25, .timeout_s = 3}}, &e);
    REQUIRE(c);
    char log[512];
    snprintf(log, sizeof log, "%s", test_path("kill-broker.log"));
    Killer k = {.log = log, .after_ends = 4};
    REQUIRE(farm_client_pids(c, k.candidates, 1) == 1);
    enum { N = 16 };
    cJSON *jobs[N];
    for (int i = 0; i < N; i++) jobs[i] = sleep_job(i, 150, log);
    REQUIRE(submit_free(c, jobs, N) == 0);
    pthread_t th;
    pthread_create(&th, NULL, kill_broker_midway, &k);
    cJSON *r[N];
    CHECK_EQ(farm_collect(c, 120, r, &e), 0);
    pthread_join(th, NULL);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "s%d", i);
        CHECK_STR_EQ(json_opt_str(r[i], "id", ""), id);
        CHECK_STR_EQ(json_opt_str(r[i], "status", ""), "correct");
    }
    free_results(r, N);
    FarmStats st = farm_client_stats(c);
    CHECK(st.respawned >= 1);
    CHECK(st.resent >= 1);
    CHECK_EQ(st.expired, 0);
    farm_client_free(c);
    verifier_set_free(vs);
}

// ---------------------------------------------------------------------------
// the broker's first-result rule, with scripted workers

static void *fake_worker(void *ctx, const char *ep, const char *id) {
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    RS_CHECK(zmq_connect(s, ep) == 0);
    zmq_send(s, "READY", 5, ZMQ_SNDMORE);
    zmq_send(s, "1", 1, ZMQ_SNDMORE);  // one slot
    zmq_send(s, "0", 1, 0);            // no prefetch
    return s;
}

// Wait for a message whose first frame is `want`, heartbeating meanwhile
// when hb. Frames 1..2 go to out (wtag, payload) when non-NULL.
static int fake_wait(void *s, const char *want, int hb, zmq_msg_t *out, double timeout_s) {
    double end = rs_now() + timeout_s;
    while (rs_now() < end) {
        if (hb) zmq_send(s, "HB", 2, 0);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        zmq_msg_t f[3];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
            more = zmq_msg_more(&m);
            if (n < 3) f[n++] = m;
            else zmq_msg_close(&m);
        }
        int hit = zmq_msg_size(&f[0]) == strlen(want) && memcmp(zmq_msg_data(&f[0]), want, strlen(want)) == 0;
        // A live worker the broker dropped anyway (this machine stalled us
        // past the heartbeat timeout) announces itself again, as real ones do.
        if (hb && !hit && zmq_msg_size(&f[0]) == 5 && memcmp(zmq_msg_data(&f[0]), "RESET", 5) == 0) {
            zmq_send(s, "READY", 5, ZMQ_SNDMORE);
            zmq_send(s, "1", 1, ZMQ_SNDMORE);
            zmq_send(s, "0", 1, 0);
        }
        for (int i = 0; i < n; i++) {
            if (hit && out && i >= 1) out[i - 1] = f[i];
            else zmq_msg_close(&f[i]);
        }
        if (hit) return 1;
    }
    return 0;
}

static void fake_result(void *s, zmq_msg_t *job, const char *detail) {
    char result[128];
    snprintf(result, sizeof result, "{\"id\":\"j\",\"score\":1,\"status\":\"correct\",\"detail\":\"%s\"}", detail);
    zmq_send(s, "RESULT", 6, ZMQ_SNDMORE);
    zmq_send(s, zmq_msg_data(&job[0]), zmq_msg_size(&job[0]), ZMQ_SNDMORE);
    zmq_send(s, result, strlen(result), 0);
}

static pid_t fork_broker(const FarmBrokerOptions *o) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        Err e;
        if (farm_broker_run(o, &e) != 0) fprintf(stderr, "broker: %s\n", e.msg);
        _exit(1);
    }
    return pid;
}

static void stop_child(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

// Jobs with only fake workers: poll b while the client's batch waits.
static int collect_one(FarmClient *c, double timeout_s, cJSON **r) {
    Err e;
    return farm_collect(c, timeout_s, r, &e);
}

TEST(broker_requeues_a_silent_worker_and_takes_results_only_from_the_assigned_one) {
    char ep[600], wep[640];
    snprintf(ep, sizeof ep, "ipc://%s", test_path("fr"));
    snprintf(wep, sizeof wep, "%s.workers", ep);
    pid_t broker =
        fork_broker(&(FarmBrokerOptions){.bind = ep, .insecure = 1, .hb = {.interval_s = 0.1, .timeout_s = 1.5}});
    Err e;
    FarmClient *c = farm_client_new(ep, NULL, &e);
    REQUIRE(c);
    void *ctx = zmq_ctx_new();
    void *a = fake_worker(ctx, wep, "A");
    // A takes the job, then goes silent.
    cJSON *job[1] = {make_job("j", "echo", "{}")};
    REQUIRE(submit_free(c, job, 1) == 0);
    zmq_msg_t ja[2], jb[2];
    REQUIRE(fake_wait(a, "JOB", 0, ja, 10));
    CHECK_EQ(zmq_msg_size(&ja[0]), 16);  // a random hand-out tag, not the client's counter
    // B joins; once A misses its heartbeats the job is requeued to B, under
    // a fresh tag.
    void *b = fake_worker(ctx, wep, "B");
    REQUIRE(fake_wait(b, "JOB", 1, jb, 15));
    CHECK_EQ(zmq_msg_size(&ja[1]), zmq_msg_size(&jb[1]));
    CHECK(zmq_msg_size(&jb[0]) == 16 && memcmp(zmq_msg_data(&ja[0]), zmq_msg_data(&jb[0]), 16) != 0);
    // A wakes up and answers with its old tag: the job is B's now, so that
    // is dropped (and A told to announce itself again). B answers with A's
    // tag, then with a made-up one: dropped too. Then B answers for real.
    fake_result(a, ja, "from A");
    CHECK(fake_wait(a, "RESET", 0, NULL, 10));
    fake_result(b, ja, "B with A's tag");
    zmq_msg_t guess[1];
    zmq_msg_init_size(&guess[0], 16);
    memset(zmq_msg_data(&guess[0]), 7, 16);
    fake_result(b, guess, "B with a guessed tag");
    zmq_msg_close(&guess[0]);
    // B's own answer under its tag reaches the client, once: a second copy
    // goes nowhere.
    fake_result(b, jb, "from B");
    fake_result(b, jb, "from B again");
    cJSON *r[1];
    CHECK_EQ(collect_one(c, 30, r), 0);
    CHECK_STR_EQ(json_opt_str(r[0], "detail", ""), "from B");
    free_results(r, 1);
    // A second job goes to B: had any dropped answer been forwarded, it
    // would be counted as late or duplicate by the client.
    cJSON *job2[1] = {make_job("j2", "echo", "{}")};
    REQUIRE(submit_free(c, job2, 1) == 0);
    zmq_msg_t jb2[2];
    REQUIRE(fake_wait(b, "JOB", 1, jb2, 10));
    fake_result(b, jb2, "second");
    CHECK_EQ(collect_one(c, 30, r), 0);
    CHECK_STR_EQ(json_opt_str(r[0], "detail", ""), "second");
    free_results(r, 1);
    FarmStats st = farm_client_stats(c);
    CHECK_EQ(st.duplicates, 0);
    CHECK_EQ(st.late, 0);
    for (int i = 0; i < 2; i++) {
        zmq_msg_close(&ja[i]);
        zmq_msg_close(&jb[i]);
        zmq_msg_close(&jb2[i]);
    }
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
    farm_client_free(c);
    stop_child(broker);
}

TEST(collect_deadline_answers_every_job) {
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s", test_path("nobody-home"));
    Err e;
    FarmClient *c = farm_client_new(ep, &(FarmClientOptions){.retry_s = 0.2}, &e);
    REQUIRE(c);
    cJSON *jobs[3] = {make_job("a", "echo", "{}"), make_job("b", "echo", "{}"), make_job("c", "echo", "{}")};
    REQUIRE(submit_free(c, jobs, 3) == 0);
    cJSON *r[3];
    CHECK_EQ(farm_collect(c, 0.8, r, &e), 3);
    CHECK_STR_EQ(json_opt_str(r[1], "id", ""), "b");
    CHECK_STR_EQ(json_opt_str(r[1], "status", ""), "error");
    CHECK_CONTAINS(json_opt_str(r[1], "detail", ""), "farm: no result within");
    free_results(r, 3);
    FarmStats st = farm_client_stats(c);
    CHECK_EQ(st.expired, 3);
    CHECK(st.resent >= 3);
    farm_client_free(c);
    CHECK(farm_client_new("local:0", NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected local:N");
    CHECK(farm_client_new("tcp://nowhere", NULL, &e) == NULL);
    CHECK_CONTAINS(e.msg, "farm endpoint 'tcp://nowhere'");
}

TEST(local_farm_teardown_leaves_no_process_or_file) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", test_path("farmtmp"));
    REQUIRE(fs_mkdir_p(tmp, NULL) == 0);
    char *old = getenv("TMPDIR") ? xstrdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmp, 1);
    VerifierSet *vs = test_set();
    Err e;
    FarmClient *c = farm_client_new("local:2", &(FarmClientOptions){.verifiers = vs}, &e);
    if (old) setenv("TMPDIR", old, 1);
    else unsetenv("TMPDIR");
    free(old);
    REQUIRE(c);
    cJSON *jobs[2] = {make_job("a", "echo", "{}"), make_job("b", "echo", "{}")};
    REQUIRE(submit_free(c, jobs, 2) == 0);
    cJSON *r[2];
    CHECK_EQ(farm_collect(c, 60, r, &e), 0);
    free_results(r, 2);
    pid_t pids[16];
    int n = farm_client_pids(c, pids, 3);
    REQUIRE(n == 3);
    // Each worker has its slot process under it (a worker that got no job
    // may still be starting on a busy machine: give it time).
    for (int i = 1; i < 3; i++) {
        int k = 0;
        for (double end = rs_now() + 10; k == 0 && rs_now() < end; usleep(20000)) k = children_of(pids[i], pids + n, 16 - n);
        CHECK_EQ(k, 1);
        n += k;
    }
    DIR *d = opendir(tmp);
    int entries = 0;
    for (struct dirent *de; d && (de = readdir(d));) entries += de->d_name[0] != '.';
    if (d) closedir(d);
    CHECK_EQ(entries, 1);  // the farm's private dir
    farm_client_free(c);
    CHECK(wait_gone(pids, n, 5));
    d = opendir(tmp);
    entries = 0;
    for (struct dirent *de; d && (de = readdir(d));) entries += de->d_name[0] != '.';
    if (d) closedir(d);
    CHECK_EQ(entries, 0);
    verifier_set_free(vs);
}

// ---------------------------------------------------------------------------
// CURVE on loopback

// A port p with p and p+1 free on 127.0.0.1 (the broker binds both).
static int free_port_pair(void) {
    for (int tries = 0; tries < 200; tries++) {
        int p = 20000 + (int)((getpid() * 7919 + tries * 104729) % 40000), ok = 1;
        for (int k = 0; k < 2 && ok; k++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(p + k)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
            close(s);
        }
        if (ok) return p;
    }
    return -1;
}

static int one_echo(const char *ep, const FarmClientOptions *o, double timeout_s, char *status, size_t cap) {
    Err e;
    FarmClient *c = farm_client_new(ep, o, &e);
    if (!c) return -1;
    cJSON *job[1] = {make_job("k", "echo", "{}")};
    submit_free(c, job, 1);
    cJSON *r[1];
    int expired = farm_collect(c, timeout_s, r, &e);
    snprintf(status, cap, "%s", json_opt_str(r[0], "status", ""));
    cJSON_Delete(r[0]);
    farm_client_free(c);
    return expired;
}

TEST(curve_keys_on_loopback) {
    Err e;
    char bkey[600], wkey[600], ckey[600], okey[600], okeypub[640], bkeypub[640], allowed[600];
    snprintf(bkey, sizeof bkey, "%s", test_path("broker.key"));
    snprintf(wkey, sizeof wkey, "%s", test_path("worker.key"));
    snprintf(ckey, sizeof ckey, "%s", test_path("client.key"));
    snprintf(okey, sizeof okey, "%s", test_path("other.key"));
    snprintf(allowed, sizeof allowed, "%s", test_path("allowed.keys"));
    snprintf(bkeypub, sizeof bkeypub, "%s.pub", bkey);
    snprintf(okeypub, sizeof okeypub, "%s.pub", okey);
    char wpub[41], cpub[41];
    REQUIRE(farm_keygen(bkey, 0, NULL, &e) == 0 && farm_keygen(wkey, 0, wpub, &e) == 0);
    REQUIRE(farm_keygen(ckey, 0, cpub, &e) == 0 && farm_keygen(okey, 0, NULL, &e) == 0);
    char list[200];
    snprintf(list, sizeof list, "# farm members\n%s\n%s  # client\n", wpub, cpub);
    test_write_file(allowed, list);
    int port = free_port_pair();
    REQUIRE(port > 0);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    pid_t broker = fork_broker(&(FarmBrokerOptions){.bind = ep, .key_file = bkey, .authorized_keys = allowed});

    VerifierSet *vs = test_set();
    // Without keys, neither side starts unless told plaintext is meant.
    FarmBrokerOptions plain = {.bind = ep};
    CHECK_EQ(farm_broker_run(&plain, &e), -1);
    CHECK_CONTAINS(e.msg, "--insecure");
    FarmWorkerOptions wplain = {.connect = ep, .verifiers = vs};
    CHECK_EQ(farm_worker_run(&wplain, &e), -1);
    CHECK_CONTAINS(e.msg, "--server-key");
    pid_t worker = fork();
    if (worker == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FarmWorkerOptions wo = {.connect = ep, .slots = 1, .verifiers = vs, .server_key_file = bkeypub, .key_file = wkey};
        if (farm_worker_run(&wo, &e) != 0) fprintf(stderr, "worker: %s\n", e.msg);
        _exit(1);
    }
    char status[32];
    // The right broker key and a listed client key: graded.
    CHECK_EQ(one_echo(ep, &(FarmClientOptions){.server_key_file = bkeypub, .key_file = ckey}, 30, status, sizeof status), 0);
    CHECK_STR_EQ(status, "correct");
    // A wrong broker key: the handshake fails and nothing comes back.
    CHECK_EQ(one_echo(ep, &(FarmClientOptions){.server_key_file = okeypub, .key_file = ckey}, 2, status, sizeof status), 1);
    CHECK_STR_EQ(status, "error");
    // The right broker key but a client key not on the list: refused.
    CHECK_EQ(one_echo(ep, &(FarmClientOptions){.server_key_file = bkeypub, .key_file = okey}, 2, status, sizeof status), 1);
    // No key at all against a CURVE broker: nothing either.
    CHECK_EQ(one_echo(ep, NULL, 1, status, sizeof status), 1);
    stop_child(worker);
    stop_child(broker);
    verifier_set_free(vs);
}
