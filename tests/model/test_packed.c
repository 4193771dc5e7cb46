// test_packed.c: a packed row (SFT packing: several sequences in one row of
// T, block-diagonal causal attention, positions restarting per sequence)
// computes exactly what its sequences compute one by one — log-probs and
// parameter gradients.
#include <string.h>

#include "model/model.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

static Model *tiny(Err *e) {
    ModelConfig c;
    if (model_config_preset("test", &c, e) != 0) return NULL;
    c.vocab_size = 50;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 8;
    c.attention_bias = 1;
    Model *m = model_new(&c, MODEL_GRADS, e);
    if (m) model_init_random(m, 3);
    return m;
}

TEST(packed_row_equals_sequences_one_by_one) {
    Err e = {0};
    Model *m = tiny(&e);
    REQUIRE(m);
    enum { T = 24 };
    int lens[3] = {7, 11, 6};  // 24 in all
    int32_t ids[T], tgt[T], seg[T];
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0, s = 0, start = 0; i < T; i++) {
        if (i == start + lens[s]) start += lens[s++];
        ids[i] = (int32_t)rng_below(&r, 50);
        tgt[i] = (int32_t)rng_below(&r, 50);
        seg[i] = start;
    }
    tgt[6] = -1;  // a masked position
    float lp_packed[T], lp_one[T];
    size_t np = model_num_params(m);
    float *g_packed = malloc(np * sizeof(float)), *g_one = calloc(np, sizeof(float));
    float dl[T];
    for (int i = 0; i < T; i++) dl[i] = tgt[i] < 0 ? 0 : -1.0f / (1 + i % 5);
    REQUIRE(model_forward_packed(m, ids, seg, tgt, 1, T, lp_packed, NULL, &e) == 0);
    model_backward(m, dl, NULL);
    memcpy(g_packed, model_grads(m), np * sizeof(float));
    model_zero_grad(m);
    for (int s = 0, at = 0; s < 3; at += lens[s++]) {
        REQUIRE(model_forward(m, ids + at, tgt + at, 1, lens[s], lp_one + at, NULL, &e) == 0);
        model_backward(m, dl + at, NULL);
    }
    memcpy(g_one, model_grads(m), np * sizeof(float));
    CHECK_MSG(rel_err(lp_packed, lp_one, T) < 1e-5, "logp %g", rel_err(lp_packed, lp_one, T));
    CHECK_MSG(rel_err(g_packed, g_one, np) < 1e-4, "grads %g", rel_err(g_packed, g_one, np));
    // Without the segments the same row computes something else.
    REQUIRE(model_forward(m, ids, tgt, 1, T, lp_packed, NULL, &e) == 0);
    CHECK(rel_err(lp_packed, lp_one, T) > 1e-3);
    free(g_packed), free(g_one);
    model_free(m);
}

TEST(bad_segments_are_refused) {
    Err e = {0};
    Model *m = tiny(&e);
    REQUIRE(m);
    int32_t ids[4] = {1, 2, 3, 4}, tgt[4] = {2, 3, 4, 5};
    float lp[4];
    int32_t bad1[4] = {0, 0, 1, 1};  // a start that is not its own position
    int32_t bad2[4] = {1, 1, 2, 2};  // the row must start at 0
    CHECK_EQ(model_forward_packed(m, ids, bad1, tgt, 1, 4, lp, NULL, &e), -1);
    CHECK_CONTAINS(e.msg, "seg[0,2]");
    CHECK_EQ(model_forward_packed(m, ids, bad2, tgt, 1, 4, lp, NULL, &e), -1);
    int32_t ok[4] = {0, 0, 2, 2};
    CHECK_EQ(model_forward_packed(m, ids, ok, tgt, 1, 4, lp, NULL, &e), 0);
    model_free(m);
}
