// test_backend_parity.c: the whole model on every other op table against
// the CPU table (the specification): the `small` preset, same seed, same
// batch; log-probs, every parameter's gradient, a packed (SFT) forward,
// KV-cache decoding, one AdamW step; and on the other table itself,
// bit-identical repeats (so the RL ratio is exactly 1.0 on the first pass:
// the old log-probs and the new ones come from the same kernels on the same
// weights). Skipped where only the CPU table exists; scripts/gpu-check.sh
// runs it on a GPU.
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "model/model.h"
#include "tests/test.h"

// Tolerances for bf16 matrix products with fp32 accumulation through a
// 6-layer model (the per-op bounds are in tests/model/test_ops.c): a
// log-prob near -log(V) = -9 moves by ~1e-2 at most; a gradient tensor's
// relative L2 error stays near the per-product 4e-3, compounded by depth.
#define TOL_LOGP 5e-2   // max |logp_other - logp_cpu|
#define TOL_GRAD 5e-2   // ||g_other - g_cpu|| / ||g_cpu|| per tensor
#define TOL_LOGIT 5e-2  // max |logit difference| / max |logit|, decode

enum { B = 4, T = 128 };

static const ModelOps *other(void) {
    const ModelOps *t[4];
    int n = model_ops_tables(t, 4);
    return n > 1 ? t[1] : NULL;
}

static Model *build(const ModelOps *ops, ModelConfig *c) {
    Err e = {{0}};
    RS_CHECK(model_config_preset("small", c, &e) == 0);
    Model *m = model_new_on(c, ops, MODEL_GRADS, &e);
    RS_CHECK(m);
    model_init_random(m, 1234);
    return m;
}

static void batch(int32_t *ids, int32_t *tg, int V) {
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)rng_below(&r, V);
    for (int i = 0; i < B * T; i++) tg[i] = i % T == T - 1 ? -1 : ids[i + 1];
}

// The whole gradient, on the host.
static float *grads_of(Model *m) {
    size_t n = model_num_params(m);
    float *h = malloc(n * sizeof(float));
    model_ops(m)->download(model_opctx(m), h, model_grads(m), n * sizeof(float));
    return h;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

TEST(forward_backward_matches_cpu) {
    const ModelOps *o = other();
    if (!o) SKIP("no second op table here (no usable GPU)");
    ModelConfig c;
    Model *ref = build(model_ops_cpu(), &c), *m = build(o, &c);
    int32_t *ids = malloc(B * T * 4), *tg = malloc(B * T * 4);
    batch(ids, tg, c.vocab_size);
    float lp_ref[B * T], lp[B * T], dl[B * T];
    Err e = {{0}};
    REQUIRE(model_forward(ref, ids, tg, B, T, lp_ref, NULL, &e) == 0);
    REQUIRE(model_forward(m, ids, tg, B, T, lp, NULL, &e) == 0);
    double d = max_abs_diff(lp, lp_ref, B * T);
    printf("    logp max |diff| %.3g\n", d);
    CHECK_MSG(d < TOL_LOGP, "logp max |diff| %g", d);
    for (int i = 0; i < B * T; i++) dl[i] = tg[i] < 0 ? 0.0f : -1.0f / (B * T);
    model_backward(ref, dl, NULL);
    model_backward(m, dl, NULL);
    REQUIRE(model_check(m, &e) == 0);
    float *g_ref = model_grads(ref), *g = grads_of(m);
    double worst = 0;
    for (int i = 0; i < model_num_tensors(m); i++) {
        ModelTensor *t = model_tensor(ref, i);
        double num = 0, den = 0;
        for (size_t k = t->offset; k < t->offset + t->numel; k++)
            num += ((double)g[k] - g_ref[k]) * ((double)g[k] - g_ref[k]), den += (double)g_ref[k] * g_ref[k];
        double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        worst = fmax(worst, rel);
        CHECK_MSG(rel < TOL_GRAD, "%s: gradient relative L2 error %g", t->name, rel);
    }
    printf("    worst gradient tensor relative L2 error %.3g\n", worst);
    free(g), free(ids), free(tg);
    model_free(ref), model_free(m);
}

// Same weights, same batch, same kernels: log-probs and gradients repeat
// bit for bit (the RL ratio's first pass is exactly 1.0, ARCHITECTURE.md,
// "RL loop"), and a packed row computes what its sequences do.
TEST(repeats_are_bit_identical_and_packing_holds) {
    const ModelOps *o = other();
    if (!o) SKIP("no second op table here (no usable GPU)");
    ModelConfig c;
    Model *m = build(o, &c);
    int32_t *ids = malloc(B * T * 4), *tg = malloc(B * T * 4), *seg = malloc(B * T * 4);
    batch(ids, tg, c.vocab_size);
    float a[B * T], b[B * T], dl[B * T];
    Err e = {{0}};
    REQUIRE(model_forward(m, ids, tg, B, T, a, NULL, &e) == 0);
    for (int i = 0; i < B * T; i++) dl[i] = tg[i] < 0 ? 0.0f : -1.0f / (B * T);
    model_backward(m, dl, NULL);
    float *g1 = grads_of(m);
    model_zero_grad(m);
    REQUIRE(model_forward(m, ids, tg, B, T, b, NULL, &e) == 0);
    model_backward(m, dl, NULL);
    float *g2 = grads_of(m);
    int ratio_one = 1;
    for (int i = 0; i < B * T; i++) ratio_one &= expf(b[i] - a[i]) == 1.0f;
    CHECK_MSG(ratio_one, "a repeated forward changed a log-prob: ratio != 1");
    CHECK(memcmp(g1, g2, model_num_params(m) * sizeof(float)) == 0);
    // Row 0 packs two sequences of T/2: each half equals that half run alone.
    for (int t = 0; t < T; t++) seg[t] = t < T / 2 ? 0 : T / 2;
    for (int i = T; i < B * T; i++) seg[i] = 0;
    int32_t tgp[B * T];
    memcpy(tgp, tg, sizeof tgp);
    tgp[T / 2 - 1] = -1;  // no target across the boundary
    float p[B * T], half[T / 2];
    REQUIRE(model_forward_packed(m, ids, seg, tgp, B, T, p, NULL, &e) == 0);
    REQUIRE(model_forward(m, ids + T / 2, tg + T / 2, 1, T / 2, half, NULL, &e) == 0);
    double d = max_abs_diff(p + T / 2, half, T / 2 - 1);
    CHECK_MSG(d < 1e-3, "packed second half vs alone: %g", d);
    free(g1), free(g2), free(ids), free(tg), free(seg);
    model_free(m);
}

// Prefill plus greedy steps through the KV cache against the CPU's logits,
// and one AdamW step against the CPU's weights.
TEST(decode_and_adamw_match_cpu) {
    const ModelOps *o = other();
    if (!o) SKIP("no second op table here (no usable GPU)");
    ModelConfig c;
    Model *ref = build(model_ops_cpu(), &c), *m = build(o, &c);
    int V = c.vocab_size, P = 40, steps = 8;
    Err e = {{0}};
    KVCache *kr = model_kv_new(ref, 2, 64, &e), *km = model_kv_new(m, 2, 64, &e);
    REQUIRE(kr && km);
    int32_t prompt[40];
    for (int i = 0; i < P; i++) prompt[i] = (i * 37 + 5) % V;
    float *lr_ = malloc((size_t)2 * V * 4), *lm = malloc((size_t)2 * V * 4);
    int slot = 0, np = P;
    REQUIRE(model_decode(ref, kr, 1, &slot, &np, prompt, lr_, 0, &e) == 0);
    REQUIRE(model_decode(m, km, 1, &slot, &np, prompt, lm, 0, &e) == 0);
    model_kv_copy(kr, 1, 0), model_kv_copy(km, 1, 0);  // a fork sharing the prompt
    double worst = 0;
    for (int s = 0; s < steps; s++) {
        double mx = 0, d = max_abs_diff(lm, lr_, V);
        for (int j = 0; j < V; j++) mx = fmax(mx, fabs(lr_[j]));
        worst = fmax(worst, d / mx);
        int32_t next[2];
        for (int k = 0; k < 2; k++) {  // the CPU's argmax feeds both, so the sequences stay equal
            int best = 0;
            for (int j = 1; j < V; j++) best = lr_[j] > lr_[best] ? j : best;
            next[k] = (int32_t)((best + k) % V);
        }
        int slots[2] = {0, 1}, ones[2] = {1, 1};
        REQUIRE(model_decode(ref, kr, 2, slots, ones, next, lr_, 0, &e) == 0);
        REQUIRE(model_decode(m, km, 2, slots, ones, next, lm, 0, &e) == 0);
    }
    printf("    decode logits max relative diff %.3g\n", worst);
    CHECK_MSG(worst < TOL_LOGIT, "decode logits %g", worst);
    // One AdamW step from the same gradient: weights agree to the bf16 bound.
    int32_t ids[T], tg[T];
    for (int i = 0; i < T; i++) ids[i] = (i * 13) % V, tg[i] = ((i + 1) * 13) % V;
    double l1, l2;
    REQUIRE(model_xent(ref, ids, tg, NULL, 1, T, 1.0f, &l1, &e) == 0);
    REQUIRE(model_xent(m, ids, tg, NULL, 1, T, 1.0f, &l2, &e) == 0);
    CHECK_MSG(fabs(l1 - l2) < TOL_LOGP, "loss %g vs %g", l1, l2);
    ModelAdamWConfig oc = model_adamw_defaults();
    ModelAdamW *orf = model_adamw_new(ref, &oc), *om = model_adamw_new(m, &oc);
    float n1, n2;
    model_adamw_step(orf, 1e-3f, &n1), model_adamw_step(om, 1e-3f, &n2);
    CHECK_MSG(fabs(n1 - n2) < TOL_GRAD * n1, "grad norm %g vs %g", n1, n2);
    size_t n = model_num_params(m);
    float *w = malloc(n * 4);
    o->download(model_opctx(m), w, model_params(m), n * 4);
    double dw = max_abs_diff(w, model_params(ref), n);
    CHECK_MSG(dw < 2.5e-3, "weights after one step differ by %g (step size 1e-3)", dw);
    REQUIRE(model_check(m, &e) == 0);
    free(w), free(lr_), free(lm);
    model_adamw_free(orf), model_adamw_free(om);
    model_kv_free(kr), model_kv_free(km);
    model_free(ref), model_free(m);
}
