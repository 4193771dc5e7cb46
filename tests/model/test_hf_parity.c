// test_hf_parity.c: reasoner against transformers on Hub-shaped folders at
// the real widths of Qwen2.5-0.5B, Qwen2.5-Math-1.5B and Llama-3.2-1B (2
// layers, random weights, bf16 in shards with an index), made by
//   scripts/hf_parity.py models $REASONER_HF_CACHE   (default build/hf-fixtures)
// Per family: logits of a 40-token prompt, every position, within 2e-5 max
// abs of transformers' fp32 forward (weights read from the same bf16 files);
// the training path's log-probs within the same bound; greedy generation of
// 64 tokens after a 16-token prompt, token for token.
//
// Tolerance 2e-5 (logits of max |.| ~3-5): every op is fp32 on both sides and
// the weights are bit-identical (bf16 widened exactly); what differs is the
// summation order of the matmuls (OpenBLAS vs torch's kernels: ~1e-7
// relative per dot product of 900-9000 terms), the softmax/exp/rsqrt
// implementations (1-2 ulp), RoPE's cos/sin (float32 in torch, double
// rounded to float here: <= 1 ulp) — all ~1e-7 relative, ~1e-6 absolute at
// these magnitudes after 2 layers and the head. 2e-5 leaves 10x headroom
// and still catches any real mistake (a wrong bias, eps, rope scaling or
// tie changes logits by 1e-3 or more).
//
// Without the folders (no Python venv: CI) each test prints why it skips.
#include <string.h>
#include <sys/resource.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

static const char *cache_dir(void) {
    const char *c = getenv("REASONER_HF_CACHE");
    return c && *c ? c : "build/hf-fixtures";
}

// int32 tensor of the expected file (ids, greedy).
static int32_t *read_i32(const StFile *f, const char *name, int64_t *n) {
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != ST_I32 || t->ndim != 1) return NULL;
    *n = t->shape[0];
    int32_t *out = malloc((size_t)*n * sizeof(int32_t));
    memcpy(out, t->data, (size_t)*n * sizeof(int32_t));
    return out;
}

static void check_family(const char *family) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", cache_dir(), family);
    char *exp_path = fs_join(dir, "expected.safetensors");
    if (!fs_exists(exp_path)) {
        printf("    skip %s: no %s (make the folders with a venv holding torch and transformers: "
               "python scripts/hf_parity.py models %s)\n", family, exp_path, cache_dir());
        free(exp_path);
        return;
    }
    Err err = {{0}};
    StFile *f = st_open(exp_path, &err);
    free(exp_path);
    REQUIRE(f);
    Model *m = model_load(dir, MODEL_GRADS, &err);
    CHECK_MSG(m, "%s", err.msg);
    int64_t T = 0, G = 0;
    int32_t *ids = read_i32(f, "ids", &T), *greedy = read_i32(f, "greedy", &G);
    const StTensor *lt = st_find(f, "logits");
    if (!m || !ids || !greedy || !lt) {
        CHECK(0);
        model_free(m), free(ids), free(greedy), st_close(f);
        return;
    }
    int V = model_config(m)->vocab_size;
    REQUIRE(lt->shape[0] == T && lt->shape[1] == V);
    float *ref = malloc((size_t)T * V * sizeof(float)), *got = malloc((size_t)T * V * sizeof(float));
    CHECK(st_read_f32(f, "logits", ref, 2, lt->shape, &err) == 0);

    // Inference path: the whole prompt through the KV cache, every position's logits.
    KVCache *kv = model_kv_new(m, 1, (int)T + (int)G + 16, &err);
    REQUIRE(kv);
    int slot = 0, nt = (int)T;
    CHECK(model_decode(m, kv, 1, &slot, &nt, ids, got, 1, &err) == 0);
    double max_abs = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) max_abs = fmax(max_abs, fabs((double)got[i] - ref[i]));
    CHECK_MSG(max_abs <= 2e-5, "%s: logits max abs diff %.3g > 2e-5", family, max_abs);

    // Training path: log-probs of the next token at every position.
    float *logp = malloc((size_t)T * sizeof(float));
    int32_t *tg = malloc((size_t)T * sizeof(int32_t));
    for (int t = 0; t < T; t++) tg[t] = t + 1 < T ? ids[t + 1] : -1;
    CHECK(model_forward(m, ids, tg, 1, (int)T, logp, NULL, &err) == 0);
    double max_lp = 0;
    for (int t = 0; t + 1 < T; t++)
        max_lp = fmax(max_lp, fabs(logp[t] - log_softmax_at(ref + (size_t)t * V, V, tg[t])));
    CHECK_MSG(max_lp <= 2e-5, "%s: log-prob max abs diff %.3g > 2e-5", family, max_lp);

    // Greedy: 16 prompt tokens, then 64 argmax steps.
    int P = 16, same = 0;
    model_kv_reset(kv, 0);
    float *row = malloc((size_t)V * sizeof(float));
    CHECK(model_decode(m, kv, 1, &slot, &P, ids, row, 0, &err) == 0);
    for (int g = 0; g < G; g++) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        same += best == greedy[g];
        if (best != greedy[g]) break;
        int32_t tok = best;
        int one = 1;
        if (model_decode(m, kv, 1, &slot, &one, &tok, row, 0, &err) != 0) break;
    }
    CHECK_MSG(same == G, "%s: greedy diverges at token %d of %d", family, same, (int)G);
    const ModelConfig *c = model_config(m);
    printf("    %s: %zu params (C %d, L %d, NH %d, NKV %d, hd %d, V %d%s), logits max abs diff %.2e, "
           "log-prob %.2e, greedy %d/%d identical\n",
           family, model_num_params(m), c->hidden_size, c->num_hidden_layers, c->num_attention_heads,
           c->num_key_value_heads, c->head_dim, V, c->rope_llama3 ? ", rope llama3" : "", max_abs, max_lp, same,
           (int)G);
    free(row), free(logp), free(tg), free(ref), free(got), free(ids), free(greedy);
    model_kv_free(kv);
    model_free(m);
    st_close(f);
}

TEST(qwen25_05b_matches_transformers) { check_family("qwen2.5-0.5b"); }
TEST(qwen25_math_15b_matches_transformers) { check_family("qwen2.5-math-1.5b"); }
TEST(llama32_1b_matches_transformers) { check_family("llama-3.2-1b"); }
