// test_rl.c: the RL trainer end to end on a tiny model and a trivially
// learnable reward (the response starts with a digit): the reward rises in
// 20 seeded steps; the first pass's importance ratio is exactly 1; dynamic
// sampling never trains on a group whose rewards are all equal; a failed
// grade never reaches an update; resume is bit-identical; RFT runs.
//   make build/tests/policy/test_rl && build/tests/policy/test_rl
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "model/model.h"
#include "policy/rl.h"
#include "tests/test.h"
#include "tests/tiny.h"
#include "tokenizer/bpe.h"

// Correct when the response starts with a digit. Problems whose prompt says
// "always" are always correct (a zero-variance group), "broken" ones fail to
// grade (status error).
static int digit_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const char *prompt = json_opt_str(job->problem, "prompt", "");
    if (strstr(prompt, "broken")) return err_set(e, "grader failure (on purpose)");
    int ok = strstr(prompt, "always") || (job->response[0] >= '0' && job->response[0] <= '9');
    verify_result_set(out, ok ? "correct" : "wrong", ok, "first character");
    return 0;
}

static const char *g_base;

static void make_base(void) {
    if (g_base) return;
    Bpe *tok = tiny_tokenizer("What is 12 + 7? 12 + 7 = 19. The answer is 19. Say a number: 42, 7, 315, 9. Cats and dogs.\n",
                              40, 300, NULL, 0);
    Model *m = tiny_model(tok, 128, 21, 0);
    char *dir = xstrdup(test_path("base"));
    tiny_save(m, tok, dir);
    model_free(m);
    bpe_free(tok);
    g_base = dir;
}

static char *problems_file(const char *name, const char *const *prompts, int n) {
    char *path = xstrdup(test_path(name));
    FILE *f = fopen(path, "w");
    RS_CHECK(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"id\":\"p%d\",\"kind\":\"math\",\"prompt\":\"%s %d\",\"answer\":\"1\",\"verifier\":\"digit\"}\n", i,
                prompts[i % 4], i);
    fclose(f);
    return path;
}

static VerifierSet *g_vs;

static RlConfig tiny(const char *problems, const char *out) {
    if (!g_vs) {
        g_vs = verifier_set_new();
        Verifier v = {.name = "digit", .grade = digit_grade};
        Err e = {0};
        RS_CHECK(verifier_set_add(g_vs, &v, &e) == 0);
    }
    static const char *files[1];
    files[0] = problems;
    RlConfig c = rl_defaults();
    c.model_dir = g_base, c.problems = files, c.n_problems = 1, c.out_dir = out;
    c.farm = "none", c.verifiers = g_vs;
    c.group_size = 8, c.prompts_per_step = 4, c.max_tokens = 4, c.batch = 32;
    c.steps = 20, c.lr = 2e-2, c.min_lr = 2e-2, c.progress = 0, c.peak_flops = 1e10, c.seed = 5;
    c.templates_dir = NULL;
    return c;
}

TEST(reward_rises_and_the_first_ratio_is_exactly_one) {
    make_base();
    const char *prompts[4] = {"Say a number", "Name a number", "Give a number", "A number"};
    char *pf = problems_file("digits.jsonl", prompts, 64);
    char *out = xstrdup(test_path("rl"));
    RlConfig c = tiny(pf, out);
    RlResult r;
    Err e = {0};
    REQUIRE(rl_run(&c, &r, &e) == 0);
    CHECK_EQ(r.steps, 20);
    cJSON *rows[32];
    int n = tiny_read_metrics(out, rows, 32);
    REQUIRE(n == 20);
    double early = 0, late = 0;
    for (int i = 0; i < 3; i++) early += json_opt_num(rows[i], "reward", 0) / 3;
    for (int i = 15; i < 20; i++) late += json_opt_num(rows[i], "reward", 0) / 5;
    CHECK_MSG(late > early + 0.25, "mean reward %.3f (first 3 steps) -> %.3f (last 5)", early, late);
    for (int i = 0; i < n; i++) {
        // One update per step: that update's own forward is the old policy.
        CHECK(json_opt_num(rows[i], "ratio_mean", 0) == 1.0);
        CHECK(json_opt_num(rows[i], "ratio_max_dev", 1) == 0.0);
        // The sampler's recorded log-probs agree with the training kernels.
        CHECK_MSG(json_opt_num(rows[i], "logp_mismatch", 1) < 1e-4, "step %d mismatch %g", i,
                  json_opt_num(rows[i], "logp_mismatch", 1));
        CHECK(cJSON_GetObjectItem(rows[i], "time_sample") && cJSON_GetObjectItem(rows[i], "entropy") &&
              cJSON_GetObjectItem(rows[i], "grade_overlap") && cJSON_GetObjectItem(rows[i], "grad_norm"));
    }
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(out), free(pf);
}

TEST(dynamic_sampling_never_trains_on_equal_or_failed_groups) {
    make_base();
    // A quarter of the prompts are always right (equal rewards), a quarter fail to grade.
    const char *prompts[4] = {"Say a number", "always fine", "broken grader", "A number"};
    char *pf = problems_file("mixed.jsonl", prompts, 64);
    char *out = xstrdup(test_path("rl_dyn"));
    RlConfig c = tiny(pf, out);
    c.steps = 6, c.dynamic_sampling = 1;
    RlResult r;
    Err e = {0};
    REQUIRE(rl_run(&c, &r, &e) == 0);
    cJSON *rows[8];
    int n = tiny_read_metrics(out, rows, 8);
    REQUIRE(n == 6);
    int refills = 0;
    for (int i = 0; i < n; i++) {
        double sampled = json_opt_num(rows[i], "groups_sampled", 0), equal = json_opt_num(rows[i], "groups_all_equal", 0) * sampled;
        double failed = json_opt_num(rows[i], "groups_failed", 0), trained = json_opt_num(rows[i], "groups_trained", 0);
        CHECK(failed >= 1);  // every round draws a broken prompt
        // Failed groups have equal (zero-score) rewards too; what is trained had variance.
        CHECK_MSG(trained <= sampled - equal + 1e-9, "step %d: trained %g of %g sampled, %g equal", i, trained, sampled, equal);
        refills += json_opt_int(rows[i], "sampling_rounds", 0) > 1;
    }
    CHECK(refills > 0);  // groups were dropped and refilled
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    // Without dynamic sampling failed groups are still dropped.
    char *out2 = xstrdup(test_path("rl_nodyn"));
    RlConfig c2 = tiny(pf, out2);
    c2.steps = 2;
    REQUIRE(rl_run(&c2, &r, &e) == 0);
    n = tiny_read_metrics(out2, rows, 8);
    REQUIRE(n == 2);
    CHECK_EQ(json_opt_int(rows[0], "groups_trained", 0), 4 - json_opt_int(rows[0], "groups_failed", 0));
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(out), free(out2), free(pf);
}

TEST(resume_is_bit_identical_with_mu_2_and_kl) {
    make_base();
    const char *prompts[4] = {"Say a number", "Name a number", "Give a number", "A number"};
    char *pf = problems_file("digits_r.jsonl", prompts, 16);
    char *a = xstrdup(test_path("rl_a")), *b = xstrdup(test_path("rl_b"));
    RlConfig c = tiny(pf, a);
    c.steps = 6, c.save_every = 3, c.mu = 2, c.minibatch = 16, c.beta = 0.05;
    RlResult r;
    Err e = {0};
    REQUIRE(rl_run(&c, &r, &e) == 0);
    CHECK_EQ(r.updates, 6 * 2 * 2);  // 32 samples a step, 16 per update, 2 passes
    RlConfig c2 = tiny(pf, b);
    c2.steps = 6, c2.save_every = 3, c2.mu = 2, c2.minibatch = 16, c2.beta = 0.05;
    char resume[700];
    snprintf(resume, sizeof resume, "%s/step_000003", a);
    c2.resume_dir = resume;
    REQUIRE(rl_run(&c2, &r, &e) == 0);
    CHECK_MSG(tiny_same_final(a, b, "model.safetensors"), "final weights differ after resume");
    cJSON *rows[8];
    int n = tiny_read_metrics(a, rows, 8);
    REQUIRE(n == 6);
    CHECK(json_opt_num(rows[0], "kl", -1) >= 0);
    // With mu 2 the second pass sees ratios away from 1 (old log-probs were kept).
    CHECK(json_opt_num(rows[5], "ratio_max_dev", 0) > 0);
    for (int i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(a), free(b), free(pf);
}

TEST(rft_and_bad_options) {
    make_base();
    const char *prompts[4] = {"Say a number", "Name a number", "Give a number", "A number"};
    char *pf = problems_file("digits_rft.jsonl", prompts, 16);
    char *out = xstrdup(test_path("rft"));
    RlConfig c = tiny(pf, out);
    c.steps = 3, c.algo = "rft";
    RlResult r;
    Err e = {0};
    REQUIRE(rl_run(&c, &r, &e) == 0);
    CHECK_EQ(r.steps, 3);
    RlConfig bad = tiny(pf, out);
    bad.group_size = 1;
    CHECK_EQ(rl_run(&bad, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "--group-size");
    bad = tiny(pf, out), bad.loss_agg = "mean";
    CHECK_EQ(rl_run(&bad, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "--loss-agg");
    bad = tiny(pf, out), bad.overlong = "9:3";
    CHECK_EQ(rl_run(&bad, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "--overlong-penalty");
    free(out), free(pf);
}

TEST(teardown) {
    verifier_set_free(g_vs);
    free((char *)g_base);
}
