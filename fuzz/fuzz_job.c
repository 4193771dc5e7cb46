// fuzz_job.c: the farm's job parser on arbitrary bytes, as a worker slot
// sees them (farm_grade_text), plus the job JSON round trip. Invariants: every
// input gets a well-formed result (an object with a status, a score in
// [0, 1], a string detail, a string or null id) that serialises and parses
// back; a job that parses survives to_json -> from_json unchanged.
//   make build/fuzz/fuzz_job && build/fuzz/fuzz_job -max_total_time=20 fuzz/seeds/fuzz_job
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "common/json.h"
#include "verifier/farm/farm.h"

// The one verifier the fuzzer reaches: it echoes the problem's score and
// status, so out-of-range scores and odd statuses reach verifier_grade's checks.
static int grade_echo(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    if (json_opt_bool(job->problem, "fail", 0)) return err_set(e, "asked to fail");
    verify_result_set(out, json_opt_str(job->problem, "status", "correct"), json_opt_num(job->problem, "score", 1), "%s",
                      job->response);
    return 0;
}

static void check_result(const cJSON *r) {
    RS_CHECK(cJSON_IsObject(r));
    const cJSON *status = cJSON_GetObjectItem(r, "status"), *score = cJSON_GetObjectItem(r, "score");
    const cJSON *detail = cJSON_GetObjectItem(r, "detail"), *id = cJSON_GetObjectItem(r, "id");
    RS_CHECK(cJSON_IsString(status) && status->valuestring[0]);
    RS_CHECK(cJSON_IsNumber(score) && score->valuedouble >= 0 && score->valuedouble <= 1);
    RS_CHECK(cJSON_IsString(detail));
    RS_CHECK(cJSON_IsString(id) || cJSON_IsNull(id));
    char *text = cJSON_PrintUnformatted(r);
    cJSON *back = cJSON_Parse(text);
    RS_CHECK(cJSON_IsObject(back));
    VerifyResult vr;
    Err e;
    RS_CHECK(verify_result_from_json(back, &vr, &e) == 0);
    verify_result_free(&vr);
    cJSON_Delete(back);
    free(text);
}

static int same_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static void check_round_trip(const cJSON *j) {
    VerifyJob job, again;
    Err e;
    if (verify_job_from_json(j, &job, &e) != 0) {
        RS_CHECK(strncmp(e.msg, "job: ", 5) == 0);
        return;
    }
    cJSON *out = verify_job_to_json(&job);
    RS_CHECK(verify_job_from_json(out, &again, &e) == 0);
    RS_CHECK(same_str(job.id, again.id) && same_str(job.verifier, again.verifier));
    RS_CHECK(same_str(job.response, again.response));
    // Compared as printed: cJSON writes an overflowing number (1e999) as null.
    char *p1 = cJSON_PrintUnformatted(job.problem), *p2 = cJSON_PrintUnformatted(again.problem);
    RS_CHECK(strcmp(p1, p2) == 0);
    free(p1);
    free(p2);
    RS_CHECK(job.limits.time_s == again.limits.time_s && job.limits.memory_mb == again.limits.memory_mb);
    RS_CHECK(job.limits.output_kb == again.limits.output_kb && job.limits.return_output == again.limits.return_output);
    cJSON_Delete(out);
    verify_job_free(&job);
    verify_job_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static VerifierSet *vs;
    if (!vs) {
        vs = verifier_set_new();
        RS_CHECK(verifier_set_add(vs, &(Verifier){.name = "echo", .grade = grade_echo}, NULL) == 0);
    }
    cJSON *j = cJSON_ParseWithLength((const char *)data, n);
    if (j) check_round_trip(j);
    // Built-in verifiers run programs (code) or have their own fuzz target
    // (math): grade only what goes to the echo verifier or to no verifier.
    const char *v = json_opt_str(j, "verifier", NULL);
    int builtin = v && strcmp(v, "echo") != 0 && verifier_set_find(vs, v);
    cJSON_Delete(j);
    if (builtin) return 0;
    cJSON *r = farm_grade_text(vs, data, n);
    check_result(r);
    cJSON_Delete(r);
    return 0;
}
