// test_registry.c: the verifier registry, job/result JSON with field-naming
// errors, verifier_grade's error wrapping, farm_grade_text on bad input,
// farm endpoints and keys. No processes, no sockets.
#include <math.h>
#include <sys/stat.h>

#include "common/base.h"
#include "common/json.h"
#include "tests/test.h"
#include "verifier/farm/farm.h"
#include "verifier/verifier.h"

// A verifier driven by the problem: {"score": x, "status": s, "fail": msg}.
static int grade_scripted(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const char *fail = json_opt_str(job->problem, "fail", NULL);
    if (fail) return err_set(e, "%s", fail);
    verify_result_set(out, json_opt_str(job->problem, "status", "correct"), json_opt_num(job->problem, "score", 1),
                      "time_s=%g memory_mb=%d output_kb=%d", job->limits.time_s, job->limits.memory_mb,
                      job->limits.output_kb);
    if (json_opt_bool(job->problem, "leave_status_empty", 0)) out->status[0] = 0;
    return 0;
}

static VerifierSet *test_set(void) {
    VerifierSet *s = verifier_set_new();
    Err e;
    if (verifier_set_add(s, &(Verifier){.name = "scripted", .grade = grade_scripted}, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    return s;
}

static cJSON *parse(const char *text) {
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        exit(1);
    }
    return j;
}

// Parse a job and return the error message ("" when it parsed).
static const char *job_error(const char *text) {
    static Err e;
    cJSON *j = parse(text);
    VerifyJob job;
    e.msg[0] = 0;
    if (verify_job_from_json(j, &job, &e) == 0) verify_job_free(&job);
    cJSON_Delete(j);
    return e.msg;
}

TEST(job_parses_with_defaults) {
    cJSON *j = parse("{\"id\":\"a1\",\"verifier\":\"math\",\"response\":\"42\",\"problem\":{\"answer\":\"42\"}}");
    VerifyJob job;
    Err e;
    REQUIRE(verify_job_from_json(j, &job, &e) == 0);
    CHECK_STR_EQ(job.id, "a1");
    CHECK_STR_EQ(job.verifier, "math");
    CHECK_STR_EQ(job.response, "42");
    CHECK_STR_EQ(json_opt_str(job.problem, "answer", ""), "42");
    CHECK_NEAR(job.limits.time_s, 10, 0);
    CHECK_EQ(job.limits.memory_mb, 1024);
    CHECK_EQ(job.limits.output_kb, 64);
    CHECK_EQ(job.limits.return_output, 0);
    cJSON_Delete(j);
    verify_job_free(&job);
    verify_job_free(&job);  // safe twice
}

TEST(job_integer_id_and_limits) {
    cJSON *j = parse("{\"id\":17,\"verifier\":\"code\",\"response\":\"x\",\"problem\":{},"
                     "\"limits\":{\"time_s\":2.5,\"memory_mb\":256,\"output_kb\":8,\"return_output\":true}}");
    VerifyJob job;
    Err e;
    REQUIRE(verify_job_from_json(j, &job, &e) == 0);
    CHECK_STR_EQ(job.id, "17");
    CHECK_NEAR(job.limits.time_s, 2.5, 0);
    CHECK_EQ(job.limits.memory_mb, 256);
    CHECK_EQ(job.limits.output_kb, 8);
    CHECK_EQ(job.limits.return_output, 1);
    // Round trip through the wire form.
    cJSON *back = verify_job_to_json(&job);
    VerifyJob job2;
    REQUIRE(verify_job_from_json(back, &job2, &e) == 0);
    CHECK_STR_EQ(job2.id, "17");
    CHECK_STR_EQ(job2.verifier, "code");
    CHECK_NEAR(job2.limits.time_s, 2.5, 0);
    CHECK_EQ(job2.limits.memory_mb, 256);
    CHECK_EQ(job2.limits.return_output, 1);
    cJSON_Delete(back);
    cJSON_Delete(j);
    verify_job_free(&job);
    verify_job_free(&job2);
}

TEST(job_errors_name_the_field) {
    CHECK_STR_EQ(job_error("{\"verifier\":\"math\",\"response\":\"\",\"problem\":{}}"), "job: field 'id': missing");
    CHECK_STR_EQ(job_error("{\"id\":[1],\"verifier\":\"math\",\"response\":\"\",\"problem\":{}}"),
                 "job: field 'id': expected a string or an integer");
    CHECK_STR_EQ(job_error("{\"id\":1.5,\"verifier\":\"math\",\"response\":\"\",\"problem\":{}}"),
                 "job: field 'id': expected a string or an integer");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"response\":\"\",\"problem\":{}}"), "job: field 'verifier': missing");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"math\",\"problem\":{}}"), "job: field 'response': missing");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"math\",\"response\":3,\"problem\":{}}"),
                 "job: field 'response': expected a string");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"math\",\"response\":\"\"}"), "job: field 'problem': missing");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"math\",\"response\":\"\",\"problem\":\"x\"}"),
                 "job: field 'problem': expected an object");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"m\",\"response\":\"\",\"problem\":{},\"limits\":[]}"),
                 "job: field 'limits': expected an object");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"m\",\"response\":\"\",\"problem\":{},\"limits\":{\"time\":1}}"),
                 "job: field 'limits.time': unknown (expected time_s, memory_mb, output_kb, return_output)");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"m\",\"response\":\"\",\"problem\":{},\"limits\":{\"time_s\":-1}}"),
                 "job: field 'limits.time_s': -1 is outside [0.001, 3600]");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"m\",\"response\":\"\",\"problem\":{},"
                           "\"limits\":{\"memory_mb\":\"big\"}}"),
                 "job: field 'limits.memory_mb': expected a number");
    CHECK_STR_EQ(job_error("{\"id\":\"1\",\"verifier\":\"m\",\"response\":\"\",\"problem\":{},"
                           "\"limits\":{\"return_output\":1}}"),
                 "job: field 'limits.return_output': expected true or false");
    CHECK_STR_EQ(job_error("[1,2]"), "job: expected a JSON object");
}

TEST(job_huge_response_is_refused) {
    size_t n = 10u << 20;
    char *big = xmalloc(n + 1);
    memset(big, 'a', n);
    big[n] = 0;
    cJSON *j = parse("{\"id\":\"big\",\"verifier\":\"m\",\"problem\":{}}");
    cJSON_AddStringToObject(j, "response", big);
    VerifyJob job;
    Err e;
    CHECK(verify_job_from_json(j, &job, &e) == -1);
    CHECK_CONTAINS(e.msg, "job: field 'response': 10485760 bytes, over the limit");
    cJSON_Delete(j);
    free(big);
}

TEST(result_json_round_trip) {
    VerifyResult r = {0};
    verify_result_set(&r, "wrong", 0.25, "passed %d of %d", 1, 4);
    r.extracted = xstrdup("3/4");
    r.out_stdout = xstrdup("hello\n");
    r.elapsed_ms = 12.5;
    cJSON *j = verify_result_to_json("id-7", &r);
    CHECK_STR_EQ(json_opt_str(j, "id", ""), "id-7");
    CHECK_STR_EQ(json_opt_str(j, "status", ""), "wrong");
    CHECK_STR_EQ(json_opt_str(j, "detail", ""), "passed 1 of 4");
    CHECK_STR_EQ(json_opt_str(j, "extracted", ""), "3/4");
    CHECK_STR_EQ(json_opt_str(j, "stdout", ""), "hello\n");
    CHECK(!cJSON_HasObjectItem(j, "stderr"));
    CHECK_NEAR(json_opt_num(j, "elapsed_ms", 0), 12.5, 1e-9);
    CHECK_EQ(json_opt_bool(j, "all_passed", 1), 0);
    VerifyResult back;
    Err e;
    REQUIRE(verify_result_from_json(j, &back, &e) == 0);
    CHECK_STR_EQ(back.status, "wrong");
    CHECK_NEAR(back.score, 0.25, 0);
    CHECK_STR_EQ(back.detail, "passed 1 of 4");
    CHECK_STR_EQ(back.extracted, "3/4");
    CHECK_STR_EQ(back.out_stdout, "hello\n");
    CHECK(back.out_stderr == NULL);
    cJSON_Delete(j);
    verify_result_free(&r);
    verify_result_free(&back);
    // A null id stays null.
    j = verify_result_to_json(NULL, &(VerifyResult){.status = "error"});
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "id")));
    cJSON_Delete(j);
}

TEST(result_json_errors) {
    VerifyResult r;
    Err e;
    cJSON *j = parse("{\"score\":1.5,\"status\":\"correct\"}");
    CHECK(verify_result_from_json(j, &r, &e) == -1);
    CHECK_STR_EQ(e.msg, "result: field 'score': 1.5 is outside [0, 1]");
    cJSON_Delete(j);
    j = parse("{\"score\":1}");
    CHECK(verify_result_from_json(j, &r, &e) == -1);
    CHECK_STR_EQ(e.msg, "result: field 'status': missing");
    cJSON_Delete(j);
    j = parse("{\"score\":1,\"status\":\"a-status-much-longer-than-fits\"}");
    CHECK(verify_result_from_json(j, &r, &e) == -1);
    CHECK_CONTAINS(e.msg, "result: field 'status'");
    cJSON_Delete(j);
}

TEST(registry_add_find_and_refuse) {
    VerifierSet *s = test_set();
    Err e;
    CHECK(verifier_set_find(s, "scripted") != NULL);
    CHECK(verifier_set_find(s, "nope") == NULL);
    CHECK(verifier_set_add(s, &(Verifier){.name = "scripted", .grade = grade_scripted}, &e) == -1);
    CHECK_STR_EQ(e.msg, "verifier 'scripted': name already registered");
    CHECK(verifier_set_add(s, &(Verifier){.name = "bad name", .grade = grade_scripted}, &e) == -1);
    CHECK_CONTAINS(e.msg, "a name is 1-64 characters");
    verifier_set_free(s);
    verifier_set_free(NULL);
}

static void grade_text(VerifierSet *s, const char *problem, VerifyResult *r) {
    cJSON *p = parse(problem);
    VerifyJob job = {.id = "j", .verifier = "scripted", .response = "", .problem = p};
    verifier_grade(s, &job, r);
    cJSON_Delete(p);
}

TEST(grade_wraps_failures) {
    VerifierSet *s = test_set();
    VerifyResult r;
    grade_text(s, "{\"score\":0.5,\"status\":\"wrong\"}", &r);
    CHECK_STR_EQ(r.status, "wrong");
    CHECK_NEAR(r.score, 0.5, 0);
    CHECK(r.elapsed_ms >= 0 && r.elapsed_ms < 10000);
    // Zero limits (a job built in C) reach the grader as the defaults.
    CHECK_STR_EQ(r.detail, "time_s=10 memory_mb=1024 output_kb=64");
    verify_result_free(&r);
    grade_text(s, "{\"fail\":\"grader broke\"}", &r);
    CHECK_STR_EQ(r.status, "error");
    CHECK_STR_EQ(r.detail, "verifier 'scripted': grader broke");
    verify_result_free(&r);
    grade_text(s, "{\"score\":2}", &r);
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "returned score 2, outside [0, 1]");
    CHECK_NEAR(r.score, 0, 0);
    verify_result_free(&r);
    grade_text(s, "{\"score\":1,\"leave_status_empty\":true}", &r);
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "set no status");
    verify_result_free(&r);
    VerifyJob job = {.id = "j", .verifier = "nope", .response = "", .problem = NULL};
    verifier_grade(s, &job, &r);
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "unknown verifier 'nope' (known: ");
    CHECK_CONTAINS(r.detail, "scripted");
    verify_result_free(&r);
    verifier_set_free(s);
}

TEST(plugins_register_from_a_dir) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/plugins", test_tmpdir());
    mkdir(dir, 0755);
    char path[600];
    const char *files[] = {"countdown.py", "echo", ".hidden", "notes.txt"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        test_write_file(path, "#!/bin/sh\necho '{}'\n");
        chmod(path, i == 3 ? 0644 : 0755);
    }
    VerifierSet *s = verifier_set_new();
    Err e;
    REQUIRE(verifier_set_add_plugin_dir(s, dir, &e) == 0);
    const Verifier *v = verifier_set_find(s, "countdown");
    REQUIRE(v != NULL);
    CHECK_CONTAINS(v->plugin_path, "/plugins/countdown.py");
    CHECK(v->plugin_path[0] == '/');
    CHECK(verifier_set_find(s, "echo") != NULL);
    CHECK(verifier_set_find(s, ".hidden") == NULL && verifier_set_find(s, "") == NULL);
    CHECK(verifier_set_find(s, "notes") == NULL);
    // The same dir again: every name is taken.
    CHECK(verifier_set_add_plugin_dir(s, dir, &e) == -1);
    CHECK_CONTAINS(e.msg, "name already registered");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    CHECK(verifier_set_add_plugin(s, "notes", path, &e) == -1);
    CHECK_CONTAINS(e.msg, "not an executable file");
    CHECK(verifier_set_add_plugin(s, "gone", "/nonexistent/plugin", &e) == -1);
    CHECK_CONTAINS(e.msg, "plugin 'gone': /nonexistent/plugin");
    CHECK(verifier_set_add_plugin_dir(s, "/nonexistent/dir", &e) == -1);
    CHECK_CONTAINS(e.msg, "plugins dir /nonexistent/dir");
    verifier_set_free(s);
}

// farm_grade_text is what a worker slot runs: bad input of every kind comes
// back as an "error" result that says why.
static cJSON *grade_bytes(VerifierSet *s, const void *data, size_t n) { return farm_grade_text(s, data, n); }

TEST(grade_text_bad_input_is_an_error_result) {
    VerifierSet *s = test_set();
    struct {
        const char *text;
        size_t n;
        const char *detail;
        const char *id;  // NULL: "id" is null
    } cases[] = {
        {"{\"id\":\"x\",", 0, "job:1:10: invalid JSON", NULL},
        {"\x89PNG\r\n\x1a\n\xff\xfe", 10, "job: byte 0: not UTF-8 text", NULL},
        {"{\"id\":\"a\0b\"}", 12, "job: byte 8: not UTF-8 text", NULL},
        {"", 0, "job:1:1: invalid JSON: unexpected end of input", NULL},
        {"{\"id\":\"k\",\"verifier\":\"what\",\"response\":\"\",\"problem\":{}}", 0, "unknown verifier 'what'", "k"},
        {"{\"id\":5,\"verifier\":\"scripted\",\"problem\":{}}", 0, "job: field 'response': missing", "5"},
        {"\"just a string\"", 0, "job: expected a JSON object", NULL},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        size_t n = cases[i].n ? cases[i].n : strlen(cases[i].text);
        cJSON *r = grade_bytes(s, cases[i].text, n);
        CHECK_STR_EQ(json_opt_str(r, "status", ""), "error");
        CHECK_CONTAINS(json_opt_str(r, "detail", ""), cases[i].detail);
        CHECK_NEAR(json_opt_num(r, "score", -1), 0, 0);
        if (cases[i].id) CHECK_STR_EQ(json_opt_str(r, "id", ""), cases[i].id);
        else CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "id")));
        cJSON_Delete(r);
    }
    const char *good = "{\"id\":\"g\",\"verifier\":\"scripted\",\"response\":\"r\",\"problem\":{\"score\":0.75}}";
    cJSON *ok = grade_bytes(s, good, strlen(good));
    CHECK_STR_EQ(json_opt_str(ok, "status", ""), "correct");
    CHECK_NEAR(json_opt_num(ok, "score", 0), 0.75, 0);
    cJSON_Delete(ok);
    verifier_set_free(s);
}

TEST(worker_endpoints) {
    Err e;
    char *w = farm_worker_endpoint("tcp://127.0.0.1:5555", &e);
    CHECK_STR_EQ(w, "tcp://127.0.0.1:5556");
    free(w);
    w = farm_worker_endpoint("tcp://[::1]:7000", &e);
    CHECK_STR_EQ(w, "tcp://[::1]:7001");
    free(w);
    w = farm_worker_endpoint("ipc:///tmp/x/farm", &e);
    CHECK_STR_EQ(w, "ipc:///tmp/x/farm.workers");
    free(w);
    CHECK(farm_worker_endpoint("tcp://host", &e) == NULL);
    CHECK_CONTAINS(e.msg, "farm endpoint 'tcp://host'");
    CHECK(farm_worker_endpoint("tcp://host:65535", &e) == NULL);
    CHECK(farm_worker_endpoint("udp://x:1", &e) == NULL);
}

TEST(keygen_writes_a_private_keypair) {
    char path[512];
    snprintf(path, sizeof path, "%s/broker.key", test_tmpdir());
    char pub[41];
    Err e;
    REQUIRE(farm_keygen(path, 0, pub, &e) == 0);
    CHECK_EQ(strlen(pub), 40);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    cJSON *k = json_read_file(path, &e);
    REQUIRE(k);
    CHECK_STR_EQ(json_opt_str(k, "public", ""), pub);
    CHECK_EQ(strlen(json_opt_str(k, "secret", "")), 40);
    cJSON_Delete(k);
    char pubpath[600];
    snprintf(pubpath, sizeof pubpath, "%s.pub", path);
    k = json_read_file(pubpath, &e);
    REQUIRE(k);
    CHECK_STR_EQ(json_opt_str(k, "public", ""), pub);
    CHECK(!cJSON_HasObjectItem(k, "secret"));
    cJSON_Delete(k);
    CHECK(farm_keygen(path, 0, NULL, &e) == -1);
    CHECK_CONTAINS(e.msg, "exists (use --force");
    CHECK(farm_keygen(path, 1, NULL, &e) == 0);
}
