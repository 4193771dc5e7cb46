// test_hf.c: the model against Hugging Face transformers. The fixtures in
// tests/fixtures/model/{llama,qwen2} are HF folders written by
// scripts/model_fixture.py with the logits and loss transformers computed;
// here reasoner loads the folder and must agree to a relative error < 1e-4,
// through the training path (log-probs, cross-entropy) and the KV-cache path
// (logits).
#include <string.h>

#include "common/fsutil.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

typedef struct {
    int B, T, V;
    int32_t *ids, *targets;
    float *logits;  // (B, T, V) from transformers
    float loss;
} Expected;

static int load_expected(const char *dir, Expected *x) {
    Err err;
    char *path = fs_join(dir, "expected.safetensors");
    StFile *f = st_open(path, &err);
    free(path);
    if (!f) return fprintf(stderr, "    %s\n", err.msg), -1;
    const char *fmt = st_meta(f, "format"), *ver = st_meta(f, "version");
    if (!fmt || strcmp(fmt, "reasoner-model-fixture") || !ver || strcmp(ver, "1")) {
        fprintf(stderr, "    %s: not a version-1 model fixture; regenerate with "
                        "scripts/model_fixture.py write tests/fixtures/model\n", dir);
        st_close(f);
        return -1;
    }
    const StTensor *lt = st_find(f, "logits");
    if (!lt || lt->ndim != 3) return st_close(f), -1;
    x->B = (int)lt->shape[0], x->T = (int)lt->shape[1], x->V = (int)lt->shape[2];
    size_t N = (size_t)x->B * x->T;
    float *ids = malloc(N * sizeof(float)), *tg = malloc(N * sizeof(float));
    x->logits = malloc(N * x->V * sizeof(float));
    x->ids = malloc(N * sizeof(int32_t)), x->targets = malloc(N * sizeof(int32_t));
    int64_t bt[2] = {x->B, x->T}, one = 1;
    int rc = st_read_f32(f, "ids", ids, 2, bt, &err) || st_read_f32(f, "targets", tg, 2, bt, &err) ||
             st_read_f32(f, "logits", x->logits, 3, lt->shape, &err) ||
             st_read_f32(f, "loss", &x->loss, 1, &one, &err);
    for (size_t i = 0; i < N; i++) x->ids[i] = (int32_t)ids[i], x->targets[i] = (int32_t)tg[i];
    free(ids), free(tg);
    st_close(f);
    if (rc) fprintf(stderr, "    %s\n", err.msg);
    return rc ? -1 : 0;
}

static void free_expected(Expected *x) { free(x->ids), free(x->targets), free(x->logits); }

static void check_against_hf(const char *name) {
    const char *dir = fixture_path(name);
    Err err;
    Model *m = model_load(dir, MODEL_GRADS, &err);
    CHECK_MSG(m, "%s", err.msg);
    Expected x;
    if (!m || load_expected(dir, &x) != 0) {
        CHECK(0);
        model_free(m);
        return;
    }
    REQUIRE(x.V == model_config(m)->vocab_size);
    size_t N = (size_t)x.B * x.T;

    // Training path: cross-entropy and per-token log-probs.
    double loss;
    CHECK(model_xent(m, x.ids, x.targets, NULL, x.B, x.T, 0.0f, &loss, &err) == 0);
    CHECK_MSG(fabs(loss - x.loss) / x.loss < 1e-4, "%s: loss %.8f vs HF %.8f", name, loss, x.loss);
    float *logp = malloc(N * sizeof(float)), *ref = malloc(N * sizeof(float));
    CHECK(model_forward(m, x.ids, x.targets, x.B, x.T, logp, NULL, &err) == 0);
    for (size_t i = 0; i < N; i++)
        ref[i] = x.targets[i] < 0 ? 0.0f : (float)log_softmax_at(x.logits + i * x.V, x.V, x.targets[i]);
    double e_logp = rel_err(logp, ref, N);
    CHECK_MSG(e_logp < 1e-4, "%s: log-prob relative error %.3g", name, e_logp);

    // Inference path: all B sequences in one batched call of the KV cache.
    KVCache *kv = model_kv_new(m, x.B, x.T, &err);
    REQUIRE(kv);
    float *logits = malloc(N * x.V * sizeof(float));
    int slots[8], ntok[8];
    for (int b = 0; b < x.B; b++) slots[b] = b, ntok[b] = x.T;
    CHECK(model_decode(m, kv, x.B, slots, ntok, x.ids, logits, 1, &err) == 0);
    double e_logits = rel_err(logits, x.logits, N * x.V);
    CHECK_MSG(e_logits < 1e-4, "%s: logits relative error %.3g", name, e_logits);
    printf("    %s: loss %.6f (HF %.6f), logits rel err %.2e, logp rel err %.2e\n", name, loss,
           x.loss, e_logits, e_logp);
    free(logits), free(logp), free(ref);
    model_kv_free(kv);
    free_expected(&x);
    model_free(m);
}

TEST(llama_matches_transformers) { check_against_hf("llama"); }
TEST(qwen2_matches_transformers) { check_against_hf("qwen2"); }

TEST(qwen2_fixture_config_fields) {
    Err err;
    ModelConfig c;
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", fixture_path("qwen2"));
    REQUIRE(model_config_load(path, &c, &err) == 0);
    CHECK_STR_EQ(c.model_type, "qwen2");
    CHECK_EQ(c.num_key_value_heads, 2);
    CHECK_EQ(c.attention_bias, 1);
    CHECK_EQ(c.tie_word_embeddings, 0);
    CHECK_NEAR(c.rope_theta, 1e6, 1e-3);  // from "rope_parameters" (transformers 5)
    CHECK_NEAR(c.rms_norm_eps, 1e-5, 1e-12);
}
