// test_metrics.c: pass@k against brute-force enumeration of k-subsets, maj@k
// voting with normalised answers and first-occurrence ties, and the set
// summary (avg@k, pass@k, maj@k, lengths, truncation) on a hand-worked example.
#include <math.h>
#include <string.h>

#include "common/json.h"
#include "problems/metrics.h"
#include "tests/test.h"

// The share of k-subsets of n samples (the first c correct) holding a correct one.
static double pass_brute(int n, int c, int k) {
    long hit = 0, all = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) != k) continue;
        all++;
        hit += (mask & ((1u << c) - 1)) != 0;
    }
    return (double)hit / all;
}

TEST(pass_at_k_matches_enumeration) {
    for (int n = 1; n <= 12; n++)
        for (int c = 0; c <= n; c++)
            for (int k = 1; k <= n; k++)
                CHECK_MSG(fabs(problems_pass_at_k(n, c, k) - pass_brute(n, c, k)) < 1e-12, "n=%d c=%d k=%d: %.15g vs %.15g", n,
                          c, k, problems_pass_at_k(n, c, k), pass_brute(n, c, k));
}

TEST(pass_at_k_large_n_is_stable) {
    // Against the log-gamma form of 1 - C(n-c, k) / C(n, k).
    int n = 1000, ks[] = {1, 10, 100, 500};
    for (int c = 1; c < 990; c += 37)
        for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
            int k = ks[i];
            double none = n - c < k ? 0 : exp(lgamma(n - c + 1) - lgamma(n - c - k + 1) - lgamma(n + 1) + lgamma(n - k + 1));
            CHECK_NEAR(problems_pass_at_k(n, c, k), 1 - none, 1e-9);
        }
    CHECK_NEAR(problems_pass_at_k(1000, 1, 1), 0.001, 1e-15);
    CHECK_EQ(problems_pass_at_k(4, 1, 8), 1);  // k > n: pass@n
    CHECK_EQ(problems_pass_at_k(4, 0, 8), 0);
}

TEST(reported_ks) {
    int ks[32];
    int n = problems_ks(16, ks, 32);
    CHECK_EQ(n, 5);
    CHECK(ks[0] == 1 && ks[1] == 2 && ks[2] == 4 && ks[3] == 8 && ks[4] == 16);
    n = problems_ks(10, ks, 32);
    CHECK_EQ(n, 5);
    CHECK_EQ(ks[4], 10);
    CHECK_EQ(problems_ks(1, ks, 32), 1);
    CHECK_EQ(ks[0], 1);
}

TEST(normalise_answers) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"27.0", "27"},
        {" $27$ ", "27"},
        {"\\boxed{27}", "27"},
        {"1,000", "1000"},
        {"+.50", "0.5"},
        {"-0.0", "0"},
        {"007", "7"},
        {"1,00", "1,00"},  // not a thousands separator: left alone
        {"\\dfrac{1}{2}", "\\frac{1}{2}"},
        {"\\left( 1, 2 \\right)", "(1,2)"},
        {"\\leftarrow", "\\leftarrow"},
        {"30^\\circ", "30"},
        {"5\\text{ cm}", "5cm"},
        {"x = 3.", "x=3"},
        {"\\frac 1 2", "\\frac12"},
        {"\\boxed{\\frac{1}{2}} + \\boxed{1}", "\\boxed{\\frac{1}{2}}+\\boxed{1}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = problems_normalize_answer(cases[i].in);
        CHECK_MSG(strcmp(got, cases[i].want) == 0, "'%s' -> '%s', want '%s'", cases[i].in, got, cases[i].want);
        free(got);
    }
}

TEST(majority_ties_go_to_first_occurrence) {
    const char *a[] = {"5", "7", "7", "5"};
    CHECK_EQ(problems_majority(a, 4), 0);
    const char *b[] = {"7", "5", "5", "7"};
    CHECK_EQ(problems_majority(b, 4), 0);
    const char *c[] = {"1", "2", "2"};
    CHECK_EQ(problems_majority(c, 3), 1);
    const char *d[] = {"2", "1", "3", "3", "1"};
    CHECK_EQ(problems_majority(d, 5), 1);  // 1 and 3 tie; 1 was seen first
    const char *e[] = {NULL, "", "4"};
    CHECK_EQ(problems_majority(e, 3), 2);  // no answer, no vote
    const char *f[] = {NULL, NULL};
    CHECK_EQ(problems_majority(f, 2), -1);
    const char *g[] = {"26", "27.0", "$27$", "\\boxed{27}", "26"};
    CHECK_EQ(problems_majority(g, 5), 1);  // three spellings of 27 outvote two 26s
    CHECK_EQ(problems_majority(g, 2), 0);  // only the first two vote
    CHECK_EQ(problems_majority(NULL, 4), -1);
}

TEST(set_summary_by_hand) {
    int c1[] = {1, 0, 0, 1}, c2[] = {0, 0, 0, 0};
    const char *a1[] = {"5", "3", "3", "5"}, *a2[] = {"1", "1", NULL, "2"};
    int l1[] = {10, 20, 30, 40}, l2[] = {1, 2, 3, 4}, t1[] = {0, 0, 0, 1}, t2[] = {1, 1, 0, 0};
    ProblemSamples ps[2] = {{4, c1, a1, l1, t1}, {4, c2, a2, l2, t2}};
    EvalMetrics m;
    problems_eval_metrics(ps, 2, &m);
    CHECK_EQ(m.n_problems, 2);
    CHECK_EQ(m.k, 4);
    CHECK_EQ(m.n_samples, 8);
    CHECK_NEAR(m.avg_at_k, 0.25, 1e-12);
    CHECK_NEAR(m.avg_stderr, sqrt(0.125) / sqrt(2.0), 1e-12);  // sample std of {0.5, 0} over sqrt(2)
    REQUIRE(m.n_ks == 3);
    CHECK(m.ks[0] == 1 && m.ks[1] == 2 && m.ks[2] == 4);
    CHECK_NEAR(m.pass_at[0], 0.25, 1e-12);
    CHECK_NEAR(m.pass_at[1], (1 - 1.0 / 6) / 2, 1e-12);  // problem 1: 1 - C(2,2)/C(4,2)
    CHECK_NEAR(m.pass_at[2], 0.5, 1e-12);
    CHECK_NEAR(m.maj_at[0], 0.5, 1e-12);  // "5" right, "1" wrong
    CHECK_NEAR(m.maj_at[1], 0.5, 1e-12);  // "5" vs "3" tie -> "5"
    CHECK_NEAR(m.maj_at[2], 0.5, 1e-12);
    CHECK_NEAR(m.mean_length, 13.75, 1e-12);
    CHECK_NEAR(m.truncated_share, 3.0 / 8, 1e-12);
    cJSON *j = problems_eval_metrics_json(&m);
    CHECK_NEAR(json_opt_num(j, "avg@4", -1), 0.25, 1e-12);
    CHECK_NEAR(json_opt_num(j, "pass@2", -1), (1 - 1.0 / 6) / 2, 1e-12);
    CHECK_NEAR(json_opt_num(j, "maj@4", -1), 0.5, 1e-12);
    CHECK_NEAR(json_opt_num(j, "truncated_share", -1), 0.375, 1e-12);
    CHECK_EQ(json_opt_int(j, "n_problems", -1), 2);
    cJSON_Delete(j);
}

TEST(majority_decides_maj_not_any_correct) {
    // Wrong majority beats a correct minority: maj@3 = 0 while pass@3 = 1.
    int c[] = {1, 0, 0};
    const char *a[] = {"10", "12", "12"};
    ProblemSamples ps = {3, c, a, NULL, NULL};
    EvalMetrics m;
    problems_eval_metrics(&ps, 1, &m);
    REQUIRE(m.n_ks == 3);  // 1, 2, 3
    CHECK_EQ(m.ks[2], 3);
    CHECK_NEAR(m.maj_at[2], 0, 1e-12);
    CHECK_NEAR(m.pass_at[2], 1, 1e-12);
    CHECK_NEAR(m.maj_at[0], 1, 1e-12);
    CHECK_NEAR(m.mean_length, 0, 0);
    EvalMetrics z;
    problems_eval_metrics(NULL, 0, &z);
    CHECK_EQ(z.n_problems, 0);
    CHECK_EQ(z.n_ks, 0);
}
