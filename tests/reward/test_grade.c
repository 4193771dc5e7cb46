// test_grade.c: the grading API — results in submission order in process and
// through a local farm, math routed by kind, grading failures kept apart from
// wrong answers, and the fork-before-load rule enforced.
#include <string.h>

#include "common/base.h"
#include "reward/grade.h"
#include "tests/test.h"

static ProblemSet *math_set(int n) {
    ProblemSet *s = problems_set_new("mem");
    for (int i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        char id[16], q[64], a[16];
        snprintf(id, sizeof id, "p%d", i);
        snprintf(q, sizeof q, "What is %d + %d?", i, i);
        snprintf(a, sizeof a, "%d", 2 * i);
        cJSON_AddStringToObject(p, "id", id);
        cJSON_AddStringToObject(p, "kind", "math");
        cJSON_AddStringToObject(p, "prompt", q);
        cJSON_AddStringToObject(p, "answer", a);
        Err e = {0};
        RS_CHECK(problems_add(s, p, i + 1, "mem", &e) == 0);
    }
    return s;
}

// Submit even problems a right answer, odd ones a wrong one; check each result.
static void grade_all(const char *farm) {
    Err e = {0};
    ProblemSet *s = math_set(12);
    Grader *g = grader_open(&(GraderOpts){.farm = farm}, &e);
    REQUIRE(g);
    CHECK_STR_EQ(grader_name(g), farm);
    for (int i = 0; i < s->n; i++) {
        char resp[64];
        snprintf(resp, sizeof resp, "So the answer is \\boxed{%d}.", i % 2 ? 2 * i + 1 : 2 * i);
        REQUIRE(grader_submit(g, &s->items[i], resp, &e) == 0);
    }
    CHECK_EQ(grader_pending(g), 12);
    VerifyResult res[12];
    CHECK_EQ(grader_collect(g, res, &e), 0);
    CHECK_EQ(grader_pending(g), 0);
    for (int i = 0; i < 12; i++) {
        CHECK_STR_EQ(res[i].status, i % 2 ? "wrong" : "correct");
        CHECK_NEAR(res[i].score, i % 2 ? 0.0 : 1.0, 0);
        CHECK(grade_is_verdict(&res[i]));
    }
    CHECK_STR_EQ(res[4].extracted ? res[4].extracted : "", "8");
    grade_results_free(res, 12);
    // A second batch starts from an empty queue.
    REQUIRE(grader_submit(g, &s->items[3], "\\boxed{6}", &e) == 0);
    CHECK_EQ(grader_collect(g, res, &e), 0);
    CHECK_STR_EQ(res[0].status, "correct");
    grade_results_free(res, 1);
    grader_close(g);
    problems_free(s);
}

TEST(results_in_submission_order_in_process) { grade_all("none"); }
TEST(results_in_submission_order_through_a_local_farm) { grade_all("local:2"); }

TEST(unknown_verifier_is_an_error_not_a_wrong_answer) {
    Err e = {0};
    ProblemSet *s = problems_set_new("mem");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", "x");
    cJSON_AddStringToObject(p, "kind", "math");
    cJSON_AddStringToObject(p, "prompt", "1-1?");
    cJSON_AddStringToObject(p, "answer", "0");
    cJSON_AddStringToObject(p, "verifier", "no_such");
    REQUIRE(problems_add(s, p, 1, "mem", &e) == 0);
    Grader *g = grader_open(&(GraderOpts){.farm = "none"}, &e);
    REQUIRE(g);
    REQUIRE(grader_submit(g, &s->items[0], "\\boxed{0}", &e) == 0);
    VerifyResult r;
    CHECK_EQ(grader_collect(g, &r, &e), 0);
    CHECK_STR_EQ(r.status, "error");
    CHECK(!grade_is_verdict(&r));
    grade_results_free(&r, 1);
    grader_close(g);
    problems_free(s);
}

TEST(a_local_farm_is_refused_after_a_large_allocation) {
    Err e = {0};
    size_t big = (size_t)(GRADER_MAX_FORK_RSS_MB + 64) << 20;
    char *model_like = xmalloc(big);
    memset(model_like, 1, big);  // resident, as loaded weights are
    CHECK(grader_open(&(GraderOpts){.farm = "local:1"}, &e) == NULL);
    CHECK_CONTAINS(e.msg, "before loading a model");
    Grader *g = grader_open(&(GraderOpts){.farm = "none"}, &e);  // in process: nothing forks
    CHECK(g != NULL);
    grader_close(g);
    free(model_like);
}
