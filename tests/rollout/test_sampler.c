// test_sampler.c: the one sampler's rules (rollout_sample_token), which
// `reasoner sample`, pretraining's samples, eval and RL all draw through:
// greedy ties, temperature, top-k, top-p within the top-k, determinism.
#include <math.h>
#include <string.h>

#include "rollout/rollout.h"
#include "tests/test.h"

typedef struct {
    float temperature;
    int top_k;
    float top_p;
} Opts;

static int32_t pick(const float *logits, int V, const Opts *o, Rng *r) {
    static float scratch[2 * 1000];
    float lp;
    return rollout_sample_token(logits, V, o->temperature, o->top_k, o->top_p, r, scratch, &lp);
}


TEST(sample_token_rules) {
    float logits[5] = {1.0f, 3.0f, 2.5f, -1.0f, 3.0f};  // ids 1 and 4 tie for best
    Rng r;
    rng_seed(&r, 1);
    Opts o = {.temperature = 0, .top_k = 40, .top_p = 0.95f};
    CHECK_EQ(pick(logits, 5, &o, &r), 1);  // greedy: the lower id of a tie
    o.temperature = 5.0f, o.top_k = 1, o.top_p = 1;
    CHECK_EQ(pick(logits, 5, &o, &r), 1);
    o.top_k = 0, o.top_p = 1e-6f;
    CHECK_EQ(pick(logits, 5, &o, &r), 1);

    // Frequencies follow softmax; top-k and top-p cut the tail.
    float l3[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    int count[3] = {0}, n = 20000;
    o = (Opts){.temperature = 1, .top_k = 0, .top_p = 1};
    for (int i = 0; i < n; i++) count[pick(l3, 3, &o, &r)]++;
    CHECK_NEAR(count[0] / (double)n, 0.5, 0.02);
    CHECK_NEAR(count[1] / (double)n, 0.3, 0.02);
    CHECK_NEAR(count[2] / (double)n, 0.2, 0.02);
    int seen2 = 0, seen1 = 0;
    o.top_k = 2;
    for (int i = 0; i < 2000; i++) seen2 += pick(l3, 3, &o, &r) == 2;
    CHECK_EQ(seen2, 0);
    memset(count, 0, sizeof count);
    o.top_k = 0, o.top_p = 0.75f;  // 0.5 + 0.3 >= 0.75: keeps ids 0 and 1, renormalised
    for (int i = 0; i < n; i++) count[pick(l3, 3, &o, &r)]++;
    CHECK_EQ(count[2], 0);
    CHECK_NEAR(count[0] / (double)n, 0.625, 0.02);
    o.top_p = 0.4f;
    for (int i = 0; i < 2000; i++) seen1 += pick(l3, 3, &o, &r) != 0;
    CHECK_EQ(seen1, 0);
    // top-p applies within the top-k set (as transformers): 0.5/0.8 >= 0.6 keeps id 0 alone.
    o.top_k = 2, o.top_p = 0.6f, seen1 = 0;
    for (int i = 0; i < 2000; i++) seen1 += pick(l3, 3, &o, &r) != 0;
    CHECK_EQ(seen1, 0);

    // A wide vocabulary with top-k: the heap keeps exactly the k best.
    float wide[1000];
    for (int i = 0; i < 1000; i++) wide[i] = (float)((i * 37) % 1000) / 100.0f;  // a permutation of 0..9.99
    o = (Opts){.temperature = 100, .top_k = 3, .top_p = 1};
    int bad = 0;
    for (int i = 0; i < 3000; i++) bad += wide[pick(wide, 1000, &o, &r)] < 9.97f - 1e-4f;
    CHECK_EQ(bad, 0);

    Rng a, b;
    rng_seed(&a, 9), rng_seed(&b, 9);
    o = (Opts){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f};
    int same = 1;
    for (int i = 0; i < 200; i++) same &= pick(wide, 1000, &o, &a) == pick(wide, 1000, &o, &b);
    CHECK(same);
}

// The sampler's own exp (vectorised) against double log-softmax over a wide
// vocabulary whose logits span far past float's exp range, with masked
// (-inf) entries that must never be drawn.
TEST(logp_matches_double_log_softmax) {
    enum { V = 4096 };
    static float logits[V], scratch[2 * V];
    for (int i = 0; i < V; i++) logits[i] = (float)((i * 2654435761u) % 10007) / 10007.0f * 120.0f - 110.0f;
    for (int i = 0; i < V; i += 7) logits[i] = -INFINITY;
    Rng r;
    rng_seed(&r, 3);
    for (int ti = 0; ti < 3; ti++) {
        float t = (float[]){1.0f, 0.7f, 3.0f}[ti];
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, logits[i] / (double)t);
        for (int i = 0; i < V; i++) sum += exp(logits[i] / (double)t - mx);
        double lse = mx + log(sum), worst = 0;
        for (int k = 0; k < 300; k++) {
            float lp;
            int32_t tok = rollout_sample_token(logits, V, t, 0, 1, &r, scratch, &lp);
            CHECK(tok % 7 != 0);
            worst = fmax(worst, fabs(lp - (logits[tok] / (double)t - lse)));
        }
        CHECK(worst < 2e-5);
    }
}

