// test_model.c: the whole model. Its gradient against central differences of
// a double-precision reference transformer written here (see test_ops.c for
// why a double reference), the KV-cache path against the training path, and
// the training API's contracts (accumulation, weights, masks, no-grad mode).
#include <string.h>

#include "common/base.h"
#include "model/model.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

// ---------------------------------------------------------------------------
// double reference transformer over a double copy of the flat parameters

typedef struct {
    Model *m;         // for the table and config only
    double *p;        // (num_params)
    double inv_temp;  // logits are divided by the temperature
} Ref;

static const double *P(const Ref *r, const char *fmt, int l) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    ModelTensor *t = model_find_tensor(r->m, name);
    return t ? r->p + t->offset : NULL;
}

// y (n, O) = x (n, I) @ w (O, I)^T + b
static void lin(double *y, const double *x, const double *w, const double *b, int n, int I, int O) {
    for (int i = 0; i < n; i++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int k = 0; k < I; k++) s += x[(size_t)i * I + k] * w[(size_t)o * I + k];
            y[(size_t)i * O + o] = s;
        }
}

static void rms(double *y, const double *x, const double *w, int n, int C, double eps) {
    for (int i = 0; i < n; i++) {
        double ss = 0;
        for (int k = 0; k < C; k++) ss += x[i * C + k] * x[i * C + k];
        double r = 1 / sqrt(ss / C + eps);
        for (int k = 0; k < C; k++) y[i * C + k] = x[i * C + k] * r * w[k];
    }
}

static void rope(double *x, int t, int hd, double theta) {  // one head at position t
    for (int j = 0; j < hd / 2; j++) {
        double a = t * pow(theta, -2.0 * j / hd), u = x[j], v = x[j + hd / 2];
        x[j] = u * cos(a) - v * sin(a);
        x[j + hd / 2] = v * cos(a) + u * sin(a);
    }
}

// One sequence (T tokens): logp (T) of targets, hidden (T, C).
static void ref_seq(const Ref *r, const int32_t *ids, const int32_t *tg, int T, double *logp, double *hid) {
    const ModelConfig *c = model_config(r->m);
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_attention_heads;
    int NKV = c->num_key_value_heads, hd = c->head_dim, V = c->vocab_size, G = NH / NKV;
    double *x = calloc((size_t)T * C, 8), *h = calloc((size_t)T * C, 8), *q = calloc((size_t)T * NH * hd, 8);
    double *k = calloc((size_t)T * NKV * hd, 8), *v = calloc((size_t)T * NKV * hd, 8);
    double *att = calloc((size_t)T * NH * hd, 8), *o = calloc((size_t)T * C, 8);
    double *g = calloc((size_t)T * F, 8), *u = calloc((size_t)T * F, 8), *lg = calloc(V, 8), *s = calloc(T, 8);
    const double *wte = P(r, "model.embed_tokens.weight", 0);
    for (int t = 0; t < T; t++) memcpy(x + t * C, wte + (size_t)ids[t] * C, C * 8);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        rms(h, x, P(r, "model.layers.%d.input_layernorm.weight", l), T, C, c->rms_norm_eps);
        lin(q, h, P(r, "model.layers.%d.self_attn.q_proj.weight", l), P(r, "model.layers.%d.self_attn.q_proj.bias", l), T, C, NH * hd);
        lin(k, h, P(r, "model.layers.%d.self_attn.k_proj.weight", l), P(r, "model.layers.%d.self_attn.k_proj.bias", l), T, C, NKV * hd);
        lin(v, h, P(r, "model.layers.%d.self_attn.v_proj.weight", l), P(r, "model.layers.%d.self_attn.v_proj.bias", l), T, C, NKV * hd);
        for (int t = 0; t < T; t++) {
            for (int a = 0; a < NH; a++) rope(q + (t * NH + a) * hd, t, hd, c->rope_theta);
            for (int a = 0; a < NKV; a++) rope(k + (t * NKV + a) * hd, t, hd, c->rope_theta);
        }
        for (int a = 0; a < NH; a++)
            for (int t = 0; t < T; t++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += q[(t * NH + a) * hd + e] * k[(j * NKV + a / G) * hd + e];
                    s[j] = d / sqrt(hd), mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= t; j++) sum += (s[j] = exp(s[j] - mx));
                for (int e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int j = 0; j <= t; j++) acc += s[j] / sum * v[(j * NKV + a / G) * hd + e];
                    att[(t * NH + a) * hd + e] = acc;
                }
            }
        lin(o, att, P(r, "model.layers.%d.self_attn.o_proj.weight", l), NULL, T, NH * hd, C);
        for (int i = 0; i < T * C; i++) x[i] += o[i];
        rms(h, x, P(r, "model.layers.%d.post_attention_layernorm.weight", l), T, C, c->rms_norm_eps);
        lin(g, h, P(r, "model.layers.%d.mlp.gate_proj.weight", l), NULL, T, C, F);
        lin(u, h, P(r, "model.layers.%d.mlp.up_proj.weight", l), NULL, T, C, F);
        for (int i = 0; i < T * F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        lin(o, g, P(r, "model.layers.%d.mlp.down_proj.weight", l), NULL, T, F, C);
        for (int i = 0; i < T * C; i++) x[i] += o[i];
    }
    rms(hid, x, P(r, "model.norm.weight", 0), T, C, c->rms_norm_eps);
    const double *head = c->tie_word_embeddings ? wte : P(r, "lm_head.weight", 0);
    for (int t = 0; t < T; t++) {
        lin(lg, hid + t * C, head, NULL, 1, C, V);
        for (int j = 0; j < V; j++) lg[j] *= r->inv_temp;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, lg[j]);
        for (int j = 0; j < V; j++) sum += exp(lg[j] - mx);
        logp[t] = tg[t] < 0 ? 0 : lg[tg[t]] - mx - log(sum);
    }
    free(x), free(h), free(q), free(k), free(v), free(att), free(o), free(g), free(u), free(lg), free(s);
}

// L = sum dlogp * logp + sum dhid * hidden over the batch.
static double ref_loss(const Ref *r, const int32_t *ids, const int32_t *tg, int B, int T,
                       const float *dlogp, const float *dhid, double *logp_out) {
    int C = model_config(r->m)->hidden_size;
    double *lp = malloc((size_t)T * 8), *hid = malloc((size_t)T * C * 8), L = 0;
    for (int b = 0; b < B; b++) {
        ref_seq(r, ids + b * T, tg + b * T, T, lp, hid);
        for (int t = 0; t < T; t++) {
            L += dlogp[b * T + t] * lp[t];
            if (logp_out) logp_out[b * T + t] = lp[t];
            for (int k = 0; k < C; k++) L += dhid[((size_t)b * T + t) * C + k] * hid[t * C + k];
        }
    }
    free(lp), free(hid);
    return L;
}

static ModelConfig tiny_config(int tied, int bias) {
    ModelConfig c;
    Err err;
    RS_CHECK(model_config_preset("test", &c, &err) == 0);
    c.vocab_size = 32, c.hidden_size = 16, c.intermediate_size = 24, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 4;
    c.tie_word_embeddings = tied, c.attention_bias = bias;
    return c;
}

static void random_tokens(Rng *r, int32_t *x, int n, int V) {
    for (int i = 0; i < n; i++) x[i] = (int32_t)rng_below(r, V);
}

static void grad_check(int tied, int bias) {
    Err err;
    ModelConfig c = tiny_config(tied, bias);
    Model *m = model_new(&c, MODEL_GRADS, &err);
    REQUIRE(m);
    randomize(m, 11 + tied, 0.3f);
    Rng r;
    rng_seed(&r, 3);
    int B = 2, T = 5, N = B * T, C = c.hidden_size;
    int32_t ids[10], tg[10];
    random_tokens(&r, ids, N, c.vocab_size);
    random_tokens(&r, tg, N, c.vocab_size);
    tg[3] = -1;  // a masked position
    float dlogp[10], *dhid = malloc((size_t)N * C * 4), logp[10];
    for (int i = 0; i < N; i++) dlogp[i] = (float)rng_normal(&r);
    for (int i = 0; i < N * C; i++) dhid[i] = 0.1f * (float)rng_normal(&r);

    // The tied case also runs at temperature 0.7 (RL log-probs).
    Ref ref = {m, malloc(model_num_params(m) * 8), tied ? 1 / 0.7 : 1.0};
    if (tied) model_set_temperature(m, 0.7f);
    for (size_t i = 0; i < model_num_params(m); i++) ref.p[i] = model_params(m)[i];
    double ref_logp[10];
    ref_loss(&ref, ids, tg, B, T, dlogp, dhid, ref_logp);
    REQUIRE(model_forward(m, ids, tg, B, T, logp, NULL, &err) == 0);
    for (int i = 0; i < N; i++) CHECK_NEAR(logp[i], ref_logp[i], 1e-5);
    model_zero_grad(m);
    model_backward(m, dlogp, dhid);

    // Every tensor: up to 12 coordinates by central differences.
    double worst = 0;
    const char *worst_name = "";
    for (int ti = 0; ti < model_num_tensors(m); ti++) {
        ModelTensor *t = model_tensor(m, ti);
        double num = 0, den = 0;
        for (int s = 0; s < 12; s++) {
            size_t i = t->offset + rng_below(&r, t->numel);
            double x = ref.p[i], h = 1e-6;
            ref.p[i] = x + h;
            double lp = ref_loss(&ref, ids, tg, B, T, dlogp, dhid, NULL);
            ref.p[i] = x - h;
            double lm = ref_loss(&ref, ids, tg, B, T, dlogp, dhid, NULL);
            ref.p[i] = x;
            double fd = (lp - lm) / (2 * h);
            num = fmax(num, fabs(fd - model_grads(m)[i]));
            den = fmax(den, fabs(fd));
        }
        double e = den > 0 ? num / den : num;
        if (e > worst) worst = e, worst_name = t->name;
    }
    CHECK_MSG(worst < 1e-4, "worst relative gradient error %.3g in %s", worst, worst_name);
    printf("    tied=%d bias=%d: worst gradient rel err %.2e (%s)\n", tied, bias, worst, worst_name);
    free(ref.p), free(dhid);
    model_free(m);
}

TEST(gradient_matches_finite_differences_untied_bias) { grad_check(0, 1); }
TEST(gradient_matches_finite_differences_tied) { grad_check(1, 0); }

// ---------------------------------------------------------------------------
// KV cache == training forward

// Log-softmax of every position through the training path: V forwards with
// every target set to j give logp_j = z_j - lse.
static float *train_log_softmax(Model *m, const int32_t *ids, int T) {
    int V = model_config(m)->vocab_size;
    float *out = malloc((size_t)T * V * 4), *lp = malloc((size_t)T * 4);
    int32_t *tg = malloc((size_t)T * 4);
    Err err;
    for (int j = 0; j < V; j++) {
        for (int t = 0; t < T; t++) tg[t] = j;
        RS_CHECK(model_forward(m, ids, tg, 1, T, lp, NULL, &err) == 0);
        for (int t = 0; t < T; t++) out[(size_t)t * V + j] = lp[t];
    }
    free(lp), free(tg);
    return out;
}

static void log_softmax_rows(float *z, int n, int V) {
    for (int i = 0; i < n; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, z[i * V + j]);
        for (int j = 0; j < V; j++) s += exp(z[i * V + j] - mx);
        for (int j = 0; j < V; j++) z[i * V + j] = (float)(z[i * V + j] - mx - log(s));
    }
}

TEST(kv_cache_matches_training_forward) {
    Err err;
    ModelConfig c = tiny_config(0, 1);
    c.max_position_embeddings = 96;
    Model *m = model_new(&c, 0, &err);
    REQUIRE(m);
    randomize(m, 5, 0.3f);
    int V = c.vocab_size, lens[3] = {37, 5, 70}, slot_of[3] = {2, 0, 3};
    Rng r;
    rng_seed(&r, 7);
    int32_t seq[3][70];
    float *want[3], *got[3];
    char have[3][70] = {{0}};  // rows of got filled (decode returns last rows only)
    for (int s = 0; s < 3; s++) {
        random_tokens(&r, seq[s], lens[s], V);
        want[s] = train_log_softmax(m, seq[s], lens[s]);
        got[s] = malloc((size_t)lens[s] * V * 4);
    }
    KVCache *kv = model_kv_new(m, 4, 80, &err);
    REQUIRE(kv);
    // Prefill sequences 0 and 2 with different prompt lengths in one call
    // (all logits), sequence 1 with 3 tokens alone (last logits only).
    int pre[3] = {20, 3, 33};
    int slots[3] = {slot_of[0], slot_of[2]}, ntok[3] = {pre[0], pre[2]};
    int32_t buf[256];
    memcpy(buf, seq[0], pre[0] * 4), memcpy(buf + pre[0], seq[2], pre[2] * 4);
    float *all = malloc((size_t)(pre[0] + pre[2]) * V * 4);
    REQUIRE(model_decode(m, kv, 2, slots, ntok, buf, all, 1, &err) == 0);
    memcpy(got[0], all, (size_t)pre[0] * V * 4);
    memcpy(got[2], all + (size_t)pre[0] * V, (size_t)pre[2] * V * 4);
    memset(have[0], 1, pre[0]), memset(have[2], 1, pre[2]);
    free(all);
    float last[3 * 32];
    REQUIRE(model_decode(m, kv, 1, &slot_of[1], &pre[1], seq[1], last, 0, &err) == 0);
    memcpy(got[1] + (size_t)(pre[1] - 1) * V, last, V * 4);
    have[1][pre[1] - 1] = 1;
    // Then decode all three together, one token a step (two at a time for
    // sequence 2), until each is done.
    int done[3] = {pre[0], pre[1], pre[2]};
    while (done[0] < lens[0] || done[1] < lens[1] || done[2] < lens[2]) {
        int n = 0, at = 0, which[3];
        for (int s = 0; s < 3; s++) {
            if (done[s] >= lens[s]) continue;
            int k = s == 2 ? RS_MIN(2, lens[s] - done[s]) : 1;
            memcpy(buf + at, seq[s] + done[s], k * 4);
            slots[n] = slot_of[s], ntok[n] = k, which[n++] = s, at += k;
        }
        REQUIRE(model_decode(m, kv, n, slots, ntok, buf, last, 0, &err) == 0);
        for (int i = 0; i < n; i++) {
            int s = which[i];
            done[s] += ntok[i];
            memcpy(got[s] + (size_t)(done[s] - 1) * V, last + (size_t)i * V, V * 4);
            have[s][done[s] - 1] = 1;
        }
    }
    for (int s = 0; s < 3; s++) {
        CHECK_EQ(model_kv_len(kv, slot_of[s]), lens[s]);
        float *g = got[s], *w = want[s];
        double worst = 0;
        int rows = 0;
        for (int t = 0; t < lens[s]; t++) {
            if (!have[s][t]) continue;
            rows++;
            log_softmax_rows(g + (size_t)t * V, 1, V);
            worst = fmax(worst, rel_err(g + (size_t)t * V, w + (size_t)t * V, V));
        }
        CHECK_MSG(worst < 1e-4, "sequence %d: relative error %.3g", s, worst);
        CHECK(rows >= lens[s] - pre[s]);
    }
    // Fork: copy slot 3 (sequence 2, 70 tokens) into slot 1 and continue both
    // with different tokens; the fork equals a fresh decode.
    model_kv_truncate(kv, slot_of[2], 50);
    model_kv_copy(kv, 1, slot_of[2]);
    CHECK_EQ(model_kv_len(kv, 1), 50);
    int32_t nxt[2] = {seq[2][50], 7};
    int fs[2] = {slot_of[2], 1}, one[2] = {1, 1};
    REQUIRE(model_decode(m, kv, 2, fs, one, nxt, last, 0, &err) == 0);
    log_softmax_rows(last, 1, V);
    CHECK(rel_err(last, want[2] + (size_t)50 * V, V) < 1e-4);
    int32_t alt[51];
    memcpy(alt, seq[2], 50 * 4), alt[50] = 7;
    float *wa = train_log_softmax(m, alt, 51);
    log_softmax_rows(last + V, 1, V);
    CHECK(rel_err(last + V, wa + (size_t)50 * V, V) < 1e-4);
    free(wa);
    // The fork shares the 50 rows: the source lets go of them and takes a
    // new sequence (reusing free rows); a wrong reference count would hand
    // the shared rows out again and corrupt the fork.
    model_kv_reset(kv, slot_of[2]);
    CHECK(model_kv_rows_in_use(kv) >= 51);  // the fork still holds its 50 shared rows and its own
    int32_t other[40];
    random_tokens(&r, other, 40, V);
    REQUIRE(model_decode(m, kv, 1, &slot_of[2], (int[]){40}, other, last, 0, &err) == 0);
    int32_t nx = 9, fork_slot = 1;
    REQUIRE(model_decode(m, kv, 1, &fork_slot, one, &nx, last, 0, &err) == 0);
    alt[50] = 7;
    int32_t alt2[52];
    memcpy(alt2, alt, 51 * 4), alt2[51] = 9;
    wa = train_log_softmax(m, alt2, 52);
    log_softmax_rows(last, 1, V);
    CHECK(rel_err(last, wa + (size_t)51 * V, V) < 1e-4);
    free(wa);
    for (int i = 0; i < 4; i++) model_kv_reset(kv, i);
    CHECK_EQ(model_kv_rows_in_use(kv), 0);  // every row back in the pool
    for (int s = 0; s < 3; s++) free(want[s]), free(got[s]);
    model_kv_free(kv);
    // The model's own cache keeps its pool across calls, every slot empty.
    KVCache *a = model_kv_cache(m, 4, 80, 0, &err);
    REQUIRE(a);
    REQUIRE(model_decode(m, a, 1, (int[]){2}, (int[]){30}, seq[2], last, 0, &err) == 0);
    int pool = model_kv_pool_rows(a);
    CHECK(pool >= 30);
    KVCache *b = model_kv_cache(m, 2, 60, 0, &err);
    CHECK(a == b);
    CHECK_EQ(model_kv_pool_rows(b), pool);
    CHECK_EQ(model_kv_rows_in_use(b), 0);
    CHECK_EQ(model_kv_slots(b), 2);
    CHECK_EQ(model_kv_len(b, 1), 0);
    CHECK(model_kv_cache(m, 2, c.max_position_embeddings + 1, 0, &err) == NULL);
    model_free(m);  // frees the model's cache
}

// Making a cache is when decoding takes the weights as they are (the CPU
// packs them then: model/gemm.h). After the weights change, the next cache
// decodes with the new ones, never the packing of the old.
TEST(a_new_cache_decodes_with_the_weights_of_now) {
    Err err;
    ModelConfig c = tiny_config(0, 1);
    Model *m = model_new(&c, 0, &err);
    REQUIRE(m);
    int V = c.vocab_size, T = 12;
    int32_t ids[12];
    Rng r;
    rng_seed(&r, 3);
    random_tokens(&r, ids, T, V);
    float *got = malloc((size_t)T * V * 4), *old = malloc((size_t)T * V * 4);
    for (int round = 0; round < 2; round++) {
        randomize(m, 5 + round, 0.3f);
        float *want = train_log_softmax(m, ids, T);
        KVCache *kv = model_kv_cache(m, 1, 16, 0, &err);
        REQUIRE(kv);
        REQUIRE(model_decode(m, kv, 1, (int[]){0}, &T, ids, got, 1, &err) == 0);
        log_softmax_rows(got, T, V);
        CHECK_MSG(rel_err(got, want, T * V) < 1e-4, "round %d: relative error %.3g", round,
                  rel_err(got, want, T * V));
        if (round == 1) CHECK(rel_err(got, old, T * V) > 1e-2);  // the weights did change
        memcpy(old, got, (size_t)T * V * 4);
        free(want);
    }
    free(got), free(old);
    model_free(m);
}

TEST(decode_rejects_bad_calls) {
    Err err;
    ModelConfig c = tiny_config(1, 0);
    Model *m = model_new(&c, 0, &err);
    KVCache *kv = model_kv_new(m, 2, 8, &err);
    REQUIRE(m && kv);
    float logits[2 * 32];
    int32_t tok[9] = {0};
    int s2[2] = {1, 1}, n2[2] = {1, 1}, s1 = 0, n9 = 9, bad = 5;
    CHECK(model_decode(m, kv, 2, s2, n2, tok, logits, 0, &err) == -1);
    CHECK_CONTAINS(err.msg, "given twice");
    CHECK(model_decode(m, kv, 1, &s1, &n9, tok, logits, 0, &err) == -1);
    CHECK_CONTAINS(err.msg, "exceed the cache length");
    CHECK(model_decode(m, kv, 1, &bad, n2, tok, logits, 0, &err) == -1);
    CHECK_CONTAINS(err.msg, "slot 5");
    tok[0] = 32;
    CHECK(model_decode(m, kv, 1, &s1, n2, tok, logits, 0, &err) == -1);
    CHECK_CONTAINS(err.msg, "outside vocab_size");
    CHECK_EQ(model_kv_len(kv, 0), 0);  // nothing appended by failed calls
    CHECK(model_kv_new(m, 1, c.max_position_embeddings + 1, &err) == NULL);
    model_kv_free(kv);
    model_free(m);
}

// ---------------------------------------------------------------------------
// training API contracts

TEST(gradient_accumulation_equals_full_batch) {
    Err err;
    ModelConfig c = tiny_config(1, 1);
    Model *m = model_new(&c, MODEL_GRADS, &err);
    REQUIRE(m);
    model_init_random(m, 9);
    Rng r;
    rng_seed(&r, 1);
    int B = 4, T = 8, N = B * T;
    int32_t ids[32], tg[32];
    random_tokens(&r, ids, N, c.vocab_size);
    random_tokens(&r, tg, N, c.vocab_size);
    size_t P = model_num_params(m);
    double loss;
    model_zero_grad(m);
    REQUIRE(model_xent(m, ids, tg, NULL, B, T, 1.0f, &loss, &err) == 0);
    float *full = malloc(P * 4);
    memcpy(full, model_grads(m), P * 4);
    model_zero_grad(m);
    double l1, l2;
    REQUIRE(model_xent(m, ids, tg, NULL, 2, T, 0.5f, &l1, &err) == 0);
    REQUIRE(model_xent(m, ids + N / 2, tg + N / 2, NULL, 2, T, 0.5f, &l2, &err) == 0);
    CHECK_NEAR((l1 + l2) / 2, loss, 1e-6);
    CHECK(rel_err(model_grads(m), full, P) < 1e-5);
    CHECK(model_grad_norm(m) > 0);
    free(full);
    model_free(m);
}

TEST(xent_weights_masks_and_no_grad_model) {
    Err err;
    ModelConfig c = tiny_config(0, 1);
    Model *m = model_new(&c, MODEL_GRADS, &err), *inf = model_new(&c, 0, &err);
    REQUIRE(m && inf);
    randomize(m, 4, 0.3f);
    model_copy_params(inf, m);
    Rng r;
    rng_seed(&r, 2);
    int B = 2, T = 6, N = B * T;
    int32_t ids[12], tg[12];
    float w[12], logp[12], logp2[12], ent[12];
    random_tokens(&r, ids, N, c.vocab_size);
    random_tokens(&r, tg, N, c.vocab_size);
    tg[0] = -1;
    for (int i = 0; i < N; i++) w[i] = (float)(i % 3);
    REQUIRE(model_forward(m, ids, tg, B, T, logp, ent, &err) == 0);
    double num = 0, den = 0, loss;
    for (int i = 1; i < N; i++) num -= w[i] * logp[i], den += w[i];
    REQUIRE(model_xent(m, ids, tg, w, B, T, 0.0f, &loss, &err) == 0);
    CHECK_NEAR(loss, num / den, 1e-6);
    CHECK(logp[0] == 0.0f);
    CHECK(ent[0] == 0.0f);  // no target: out of the head
    for (int i = 1; i < N; i++) CHECK(ent[i] > 0 && ent[i] <= logf(c.vocab_size) + 1e-4);
    // A model without gradients reuses one layer of activations: same output.
    REQUIRE(model_forward(inf, ids, tg, B, T, logp2, NULL, &err) == 0);
    CHECK(memcmp(logp, logp2, sizeof logp) == 0);
    // Temperature: logp at T=2 is log_softmax(z/2).
    model_set_temperature(m, 2.0f);
    REQUIRE(model_forward(m, ids, tg, B, T, logp2, NULL, &err) == 0);
    CHECK(fabsf(logp2[5] - logp[5]) > 1e-3);
    // Errors name the position; nothing is computed.
    ids[7] = 999;
    CHECK(model_forward(m, ids, tg, B, T, logp, NULL, &err) == -1);
    CHECK_CONTAINS(err.msg, "ids[1,1]: token 999");
    CHECK(model_forward(m, ids, tg, 1, c.max_position_embeddings + 1, logp, NULL, &err) == -1);
    model_free(m), model_free(inf);
}

// The head runs only on positions with a target (head_rows): a batch whose
// prompts have none gives the log-probs and gradients of the full head with
// zero gradient at those positions.
// A tiny model with gradients and random weights of scale 0.3.
static Model *grad_model(ModelConfig *c, int tied, int bias, uint64_t seed) {
    Err err;
    *c = tiny_config(tied, bias);
    Model *m = model_new(c, MODEL_GRADS, &err);
    RS_CHECK(m);
    randomize(m, seed, 0.3f);
    return m;
}

TEST(head_skips_positions_without_targets) {
    Err err;
    ModelConfig c;
    Model *m = grad_model(&c, 0, 1, 6);
    Rng r;
    rng_seed(&r, 5);
    enum { B = 3, T = 9, N = B * T };
    int32_t ids[N], full[N], part[N];
    float dl_full[N], dl_part[N], lp_full[N], lp_part[N], ent[N];
    random_tokens(&r, ids, N, c.vocab_size);
    random_tokens(&r, full, N, c.vocab_size);
    int live = 0;
    for (int i = 0; i < N; i++) {
        int prompt = i % T < 4 + i / T;  // each row's first 4..6 positions
        part[i] = prompt ? -1 : full[i], live += !prompt;
        dl_full[i] = prompt ? 0.0f : (float)rng_normal(&r), dl_part[i] = dl_full[i];
    }
    size_t P = model_num_params(m);
    float *g_full = malloc(P * 4);
    model_zero_grad(m);
    REQUIRE(model_forward(m, ids, full, B, T, lp_full, NULL, &err) == 0);
    model_backward(m, dl_full, NULL);
    memcpy(g_full, model_grads(m), P * 4);
    model_zero_grad(m);
    REQUIRE(model_forward(m, ids, part, B, T, lp_part, ent, &err) == 0);
    model_backward(m, dl_part, NULL);
    for (int i = 0; i < N; i++) {
        if (part[i] < 0) CHECK(lp_part[i] == 0.0f && ent[i] == 0.0f);
        else CHECK_NEAR(lp_part[i], lp_full[i], 1e-6);
    }
    CHECK(live < N && live > 0);
    CHECK(rel_err(model_grads(m), g_full, P) < 1e-5);
    free(g_full);
    model_free(m);
}

// A row of a prompt then its completions, the prompt forwarded once
// (model_forward_shared), gives each completion the log-probs and the
// gradients of prompt + completion as a sequence of its own.
TEST(shared_prefix_equals_separate_sequences) {
    Err err;
    ModelConfig c;
    Model *m = grad_model(&c, 1, 1, 8);
    Rng r;
    rng_seed(&r, 9);
    enum { P = 5, G = 3 };
    int n[G] = {4, 1, 6}, Ts = P + 6;  // completion lengths; separate rows padded to Ts
    int32_t prompt[P], comp[G][6];
    random_tokens(&r, prompt, P, c.vocab_size);
    for (int g = 0; g < G; g++) random_tokens(&r, comp[g], n[g], c.vocab_size);
    // Separate: row g = prompt + completion g; targets on the completion.
    int32_t ids[G * 11] = {0}, tg[G * 11];
    float dl[G * 11] = {0}, lp[G * 11];
    for (int i = 0; i < G * Ts; i++) tg[i] = -1;
    for (int g = 0; g < G; g++) {
        memcpy(ids + g * Ts, prompt, sizeof prompt);
        memcpy(ids + g * Ts + P, comp[g], sizeof(int32_t) * (size_t)n[g]);
        for (int j = 0; j < n[g]; j++) tg[g * Ts + P - 1 + j] = comp[g][j], dl[g * Ts + P - 1 + j] = (float)rng_normal(&r);
    }
    size_t np = model_num_params(m);
    float *g_sep = malloc(np * 4);
    model_zero_grad(m);
    REQUIRE(model_forward(m, ids, tg, G, Ts, lp, NULL, &err) == 0);
    model_backward(m, dl, NULL);
    memcpy(g_sep, model_grads(m), np * 4);
    // Shared: prompt[0..P-2], then per completion its prompt's last token and
    // the completion but its last token (which predicts nothing).
    int32_t sid[32], sseg[32], stg[32], pre = P - 1, T = 0;
    float sdl[32], slp[32];
    for (int j = 0; j < P - 1; j++) sid[T] = prompt[j], sseg[T] = 0, stg[T++] = -1;
    int at[G];
    for (int g = 0; g < G; g++) {
        at[g] = T;
        for (int j = 0; j < n[g]; j++) {
            sid[T] = j == 0 ? prompt[P - 1] : comp[g][j - 1], sseg[T] = at[g], stg[T] = comp[g][j];
            sdl[T++] = dl[g * Ts + P - 1 + j];
        }
    }
    for (int j = 0; j < P - 1; j++) sdl[j] = 0;
    model_zero_grad(m);
    REQUIRE(model_forward_shared(m, sid, sseg, &pre, stg, 1, T, slp, NULL, &err) == 0);
    model_backward(m, sdl, NULL);
    for (int g = 0; g < G; g++)
        for (int j = 0; j < n[g]; j++) CHECK_NEAR(slp[at[g] + j], lp[g * Ts + P - 1 + j], 2e-6);
    CHECK(rel_err(model_grads(m), g_sep, np) < 1e-5);
    // A packed row may be longer than max_position_embeddings; a position
    // may not: padding as one-position sequences passes, as one run fails.
    int Tl = c.max_position_embeddings + T + 8;
    int32_t *lid = calloc((size_t)Tl, 4), *lseg = malloc((size_t)Tl * 4), *ltg = malloc((size_t)Tl * 4);
    float *llp = malloc((size_t)Tl * 4);
    for (int t = 0; t < Tl; t++) lseg[t] = t < T ? sseg[t] : t, ltg[t] = t < T ? stg[t] : -1;
    memcpy(lid, sid, sizeof(int32_t) * (size_t)T);
    pre = P - 1;
    CHECK(model_forward_shared(m, lid, lseg, &pre, ltg, 1, Tl, llp, NULL, &err) == 0);
    for (int g = 0; g < G; g++) CHECK_NEAR(llp[at[g]], slp[at[g]], 1e-6);
    for (int t = T; t < Tl; t++) lseg[t] = T;
    CHECK(model_forward_shared(m, lid, lseg, &pre, ltg, 1, Tl, llp, NULL, &err) == -1);
    CHECK_CONTAINS(err.msg, "max_position_embeddings");
    free(lid), free(lseg), free(ltg), free(llp);
    // A prefix longer than the row's first sequence is refused.
    pre = at[1] + 1;
    CHECK(model_forward_shared(m, sid, sseg, &pre, stg, 1, T, slp, NULL, &err) == -1);
    CHECK_CONTAINS(err.msg, "pre[0]");
    free(g_sep);
    model_free(m);
}

TEST(init_is_seeded_and_table_is_hf) {
    Err err;
    ModelConfig c = tiny_config(0, 1);
    Model *a = model_new(&c, 0, &err), *b = model_new(&c, 0, &err);
    model_init_random(a, 42), model_init_random(b, 42);
    CHECK(memcmp(model_params(a), model_params(b), model_num_params(a) * 4) == 0);
    model_init_random(b, 43);
    CHECK(memcmp(model_params(a), model_params(b), model_num_params(a) * 4) != 0);
    CHECK_EQ((int64_t)model_num_params(a), model_config_num_params(&c));
    CHECK(model_find_tensor(a, "model.layers.1.self_attn.k_proj.bias") != NULL);
    CHECK(model_find_tensor(a, "lm_head.weight") != NULL);
    ModelTensor *q = model_find_tensor(a, "model.layers.0.self_attn.q_proj.weight");
    CHECK_EQ(q->shape[0], 16);
    CHECK_EQ(q->shape[1], 16);
    CHECK_EQ(model_find_tensor(a, "model.layers.0.self_attn.k_proj.weight")->shape[0], 8);
    CHECK(model_find_tensor(a, "model.norm.weight")->param[0] == 1.0f);
    CHECK(!model_find_tensor(a, "model.norm.weight")->decay);
    CHECK(!model_find_tensor(a, "model.embed_tokens.weight")->decay);
    CHECK(model_find_tensor(a, "model.layers.0.mlp.up_proj.weight")->decay);
    model_free(a), model_free(b);
}
