// test_grpo.c: the GRPO objective — the loss and its gradient in every
// aggregation, with and without the KL term and masks, against central
// finite differences in double; advantages against hand-computed tables;
// clipping at the boundaries; k3 against its definition.
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "policy/grpo.h"
#include "tests/test.h"

// Three sequences of lengths 3, 5, 2 with random log-probs around the old ones.
typedef struct {
    double lp[3][5], old[3][5], ref[3][5];
    uint8_t mask[3][5];
    GrpoSeq s[3];
} Fixture;

static void fixture(Fixture *f, Rng *r, int with_ref, int with_mask) {
    int lens[3] = {3, 5, 2};
    double adv[3] = {1.3, -0.7, 0.4};
    for (int i = 0; i < 3; i++) {
        for (int t = 0; t < lens[i]; t++) {
            f->old[i][t] = -1.0 - 2.0 * rng_double(r);
            f->lp[i][t] = f->old[i][t] + 0.5 * (rng_double(r) - 0.5);  // ratios in ~[0.78, 1.28]
            f->ref[i][t] = f->old[i][t] + 0.3 * (rng_double(r) - 0.5);
            f->mask[i][t] = !(with_mask && i == 1 && t == 2);
        }
        f->s[i] = (GrpoSeq){lens[i], f->lp[i], f->old[i], with_ref ? f->ref[i] : NULL, with_mask ? f->mask[i] : NULL,
                            adv[i]};
    }
}

// max |analytic - numeric| over every token, relative to the largest gradient.
static double fd_check(const GrpoLossOpts *o, Fixture *f) {
    double g[3][5], *gp[3] = {g[0], g[1], g[2]}, scratch[3][5], *sp[3] = {scratch[0], scratch[1], scratch[2]};
    grpo_loss(o, f->s, 3, gp, NULL);
    double worst = 0, scale = 1e-12;
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < f->s[i].n; t++) {
            const double h = 1e-6, x = f->lp[i][t];
            f->lp[i][t] = x + h;
            double up = grpo_loss(o, f->s, 3, sp, NULL);
            f->lp[i][t] = x - h;
            double dn = grpo_loss(o, f->s, 3, sp, NULL);
            f->lp[i][t] = x;
            worst = fmax(worst, fabs((up - dn) / (2 * h) - g[i][t]));
            scale = fmax(scale, fabs(g[i][t]));
        }
    return worst / scale;
}

TEST(gradient_matches_finite_differences_in_every_combination) {
    Rng r;
    rng_seed(&r, 3);
    GrpoAgg aggs[3] = {GRPO_AGG_TOKEN, GRPO_AGG_SEQUENCE, GRPO_AGG_DR};
    double betas[2] = {0.0, 0.1}, eps[2][2] = {{0.2, 0.2}, {0.2, 0.28}};
    int combos = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++)
                for (int m = 0; m < 2; m++) {
                    Fixture f;
                    fixture(&f, &r, b > 0, m);
                    GrpoLossOpts o = {.eps_low = eps[c][0], .eps_high = eps[c][1], .beta = betas[b], .agg = aggs[a],
                                      .max_tokens = 8};
                    double err = fd_check(&o, &f);
                    CHECK_MSG(err < 1e-6, "agg %s beta %g eps %g/%g mask %d: rel err %g", grpo_agg_name(aggs[a]),
                              betas[b], eps[c][0], eps[c][1], m, err);
                    combos++;
                }
    CHECK_EQ(combos, 24);
}

TEST(aggregation_normalisers) {
    // All ratios 1, advantage 1, no KL: each live token contributes -1 times its weight.
    double z[5] = {0}, one[5] = {0};
    GrpoSeq s[2] = {{2, z, one, NULL, NULL, 1.0}, {4, z, one, NULL, NULL, 1.0}};
    double g0[5], g1[5], *g[2] = {g0, g1};
    GrpoLossOpts o = {.eps_low = 0.2, .eps_high = 0.2, .agg = GRPO_AGG_TOKEN};
    CHECK_NEAR(grpo_loss(&o, s, 2, g, NULL), -1.0, 1e-12);  // sum(-1) over 6 tokens / 6
    CHECK_NEAR(g0[0], -1.0 / 6, 1e-12);
    o.agg = GRPO_AGG_SEQUENCE;
    CHECK_NEAR(grpo_loss(&o, s, 2, g, NULL), -1.0, 1e-12);  // mean of per-sequence means
    CHECK_NEAR(g0[0], -1.0 / 4, 1e-12);                     // 1 / (2 seqs * 2 tokens)
    CHECK_NEAR(g1[0], -1.0 / 8, 1e-12);
    o.agg = GRPO_AGG_DR, o.max_tokens = 10;
    CHECK_NEAR(grpo_loss(&o, s, 2, g, NULL), -6.0 / 20, 1e-12);  // / (2 seqs * 10)
    // A micro-batch of a larger minibatch uses the minibatch's normalisers.
    o.agg = GRPO_AGG_TOKEN, o.norm_tokens = 12;
    CHECK_NEAR(grpo_loss(&o, s, 2, g, NULL), -0.5, 1e-12);
}

TEST(clipping_at_the_boundaries) {
    GrpoLossOpts o = {.eps_low = 0.2, .eps_high = 0.28, .agg = GRPO_AGG_TOKEN};
    struct {
        double ratio, adv;
        int clipped;
    } cases[] = {
        {1.10, +1, 0}, {1.30, +1, 1}, {1.27, +1, 0},  // A > 0: clipped above 1 + eps_high
        {0.70, +1, 0},                                // A > 0 below the range: never clipped (min)
        {0.90, -1, 0}, {0.70, -1, 1}, {0.81, -1, 0},  // A < 0: clipped below 1 - eps_low
        {1.50, -1, 0},                                // A < 0 above the range: not clipped
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        double old = -1.0, lp = old + log(cases[k].ratio), g, *gp = &g;
        GrpoSeq s = {1, &lp, &old, NULL, NULL, cases[k].adv};
        GrpoStats st;
        double loss = grpo_loss(&o, &s, 1, &gp, &st);
        double r = cases[k].ratio, A = cases[k].adv;
        double rc = fmin(fmax(r, 0.8), 1.28);
        CHECK_NEAR(loss, -fmin(r * A, rc * A), 1e-12);
        CHECK_NEAR(st.clip_frac, cases[k].clipped, 0);
        CHECK_NEAR(g, cases[k].clipped ? 0.0 : -r * A, 1e-12);  // d(-rA)/dlogp = -rA
    }
}

TEST(k3_matches_its_definition_and_ratio_one_on_the_first_pass) {
    double lp[3] = {-1.0, -2.0, -0.5}, ref[3] = {-1.2, -1.5, -0.5}, g[3], *gp = g;
    GrpoSeq s = {3, lp, lp, ref, NULL, 0.0};  // old == current: ratio exactly 1
    GrpoLossOpts o = {.eps_low = 0.2, .eps_high = 0.2, .beta = 0.5, .agg = GRPO_AGG_TOKEN};
    GrpoStats st;
    double loss = grpo_loss(&o, &s, 1, &gp, &st);
    double k3 = 0;
    for (int t = 0; t < 3; t++) {
        double d = ref[t] - lp[t];
        k3 += exp(d) - d - 1;  // an unbiased estimate of KL(pi || ref), >= 0
    }
    CHECK_NEAR(st.kl, k3 / 3, 1e-12);
    CHECK_NEAR(loss, 0.5 * k3 / 3, 1e-12);  // A = 0: only the KL term
    CHECK(st.ratio_mean == 1.0 && st.ratio_max_dev == 0.0);
    CHECK_NEAR(g[2], 0.0, 1e-15);  // at ref == logp the KL gradient vanishes
}

TEST(advantages_against_hand_computed_tables) {
    double r[8] = {1, 0, 0, 0, /* group 2: all equal */ 1, 1, 1, 1}, a[8];
    // Group 1: mean 0.25, population std sqrt(3)/4 = 0.4330.
    grpo_advantages(r, 2, 4, GRPO_SCALE_NONE, a);
    double want_none[8] = {0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) CHECK_NEAR(a[i], want_none[i], 1e-12);
    grpo_advantages(r, 2, 4, GRPO_SCALE_GROUP, a);
    double sd = sqrt(3.0) / 4 + 1e-4;
    double want_group[8] = {0.75 / sd, -0.25 / sd, -0.25 / sd, -0.25 / sd, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) CHECK_NEAR(a[i], want_group[i], 1e-9);
    // Batch: the std of all 8 rewards (mean 5/8): sqrt(15/64).
    grpo_advantages(r, 2, 4, GRPO_SCALE_BATCH, a);
    double bsd = sqrt(15.0 / 64) + 1e-4;
    CHECK_NEAR(a[0], 0.75 / bsd, 1e-9);
    CHECK_NEAR(a[1], -0.25 / bsd, 1e-9);
    CHECK_NEAR(a[5], 0.0, 0);
    // Advantages within a group sum to zero.
    CHECK_NEAR(a[0] + a[1] + a[2] + a[3], 0.0, 1e-12);
}

TEST(parse_names) {
    Err e = {0};
    GrpoAgg a;
    GrpoScale s;
    CHECK_EQ(grpo_agg_parse("dr-grpo", &a, &e), 0);
    CHECK_EQ(a, GRPO_AGG_DR);
    CHECK_EQ(grpo_agg_parse("mean", &a, &e), -1);
    CHECK_CONTAINS(e.msg, "--loss-agg");
    CHECK_EQ(grpo_scale_parse("batch", &s, &e), 0);
    CHECK_EQ(grpo_scale_parse("std", &s, &e), -1);
}
