// test_optim.c: AdamW against a hand-computed double reference, clipping,
// the LR schedule, and a resumed run that is bit-identical to a straight one.
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "model/model.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

static ModelConfig small_config(void) {
    ModelConfig c;
    Err err;
    model_config_preset("test", &c, &err);
    c.vocab_size = 2100, c.hidden_size = 16, c.intermediate_size = 24, c.num_hidden_layers = 2;  // > 32K params: parallel update path
    c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 8, c.attention_bias = 1;
    c.tie_word_embeddings = 0;
    return c;
}

// torch.optim.AdamW written out in double for one element.
typedef struct {
    double p, m, v;
} RefEl;

static void ref_adamw(RefEl *x, double g, double lr, double b1, double b2, double eps, double wd,
                      int t) {
    x->p *= 1 - lr * wd;
    x->m = b1 * x->m + (1 - b1) * g;
    x->v = b2 * x->v + (1 - b2) * g * g;
    double mhat = x->m / (1 - pow(b1, t)), vhat = x->v / (1 - pow(b2, t));
    x->p -= lr * mhat / (sqrt(vhat) + eps);
}

TEST(adamw_matches_hand_reference) {
    Err err;
    ModelConfig c = small_config();
    Model *m = model_new(&c, MODEL_GRADS, &err);
    REQUIRE(m);
    model_init_random(m, 1);
    size_t P = model_num_params(m);
    ModelAdamWConfig oc = model_adamw_defaults();
    oc.weight_decay = 0.1f, oc.grad_clip = 0.5f;
    ModelAdamW *opt = model_adamw_new(m, &oc);
    RefEl *ref = calloc(P, sizeof *ref);
    double *wd = calloc(P, sizeof *wd);
    for (int i = 0; i < model_num_tensors(m); i++) {
        ModelTensor *t = model_tensor(m, i);
        for (size_t k = 0; k < t->numel; k++) wd[t->offset + k] = t->decay ? oc.weight_decay : 0;
    }
    for (size_t i = 0; i < P; i++) ref[i].p = model_params(m)[i];
    Rng r;
    rng_seed(&r, 5);
    float lrs[4] = {1e-2f, 3e-3f, 5e-3f, 1e-3f}, gscale[4] = {0.001f, 1.0f, 0.01f, 0.2f};
    int clipped = 0;
    for (int t = 1; t <= 4; t++) {
        double ss = 0;
        for (size_t i = 0; i < P; i++) {
            model_grads(m)[i] = gscale[t - 1] * (float)rng_normal(&r);
            ss += (double)model_grads(m)[i] * model_grads(m)[i];
        }
        double norm = sqrt(ss), s = norm > oc.grad_clip ? oc.grad_clip / (norm + 1e-6) : 1.0;
        clipped += s < 1.0;
        for (size_t i = 0; i < P; i++)
            ref_adamw(&ref[i], model_grads(m)[i] * s, lrs[t - 1], oc.beta1, oc.beta2, oc.eps, wd[i], t);
        float gn;
        CHECK_EQ(model_adamw_step(opt, lrs[t - 1], &gn), t);
        CHECK_NEAR(gn / norm, 1.0, 1e-6);
    }
    CHECK(clipped >= 1 && clipped < 4);  // both branches ran
    double worst = 0;
    for (size_t i = 0; i < P; i++) worst = fmax(worst, fabs(model_params(m)[i] - ref[i].p));
    CHECK_MSG(worst < 1e-6, "max |param - reference| = %.3g", worst);
    free(ref), free(wd);
    model_adamw_free(opt);
    model_free(m);
}

TEST(adamw_decay_mask_and_nonfinite_skip) {
    Err err;
    ModelConfig c = small_config();
    float out[2];
    for (int all = 0; all < 2; all++) {
        Model *m = model_new(&c, MODEL_GRADS, &err);
        ModelAdamWConfig oc = model_adamw_defaults();
        oc.weight_decay = 0.5f, oc.decay_all = all;
        ModelAdamW *opt = model_adamw_new(m, &oc);
        model_zero_grad(m);  // zero gradient: only decay moves a weight
        model_adamw_step(opt, 0.1f, NULL);
        out[all] = model_find_tensor(m, "model.norm.weight")->param[0];
        CHECK_NEAR(model_find_tensor(m, "model.layers.0.mlp.up_proj.weight")->param[0], 0.0, 0.0);
        if (all) {  // a NaN gradient skips the step entirely
            float gn, keep = model_params(m)[3];
            model_grads(m)[17] = NAN;
            CHECK_EQ(model_adamw_step(opt, 0.1f, &gn), 1);
            CHECK(isnan(gn));
            CHECK(model_params(m)[3] == keep);
        }
        model_adamw_free(opt);
        model_free(m);
    }
    CHECK(out[0] == 1.0f);                // norms not decayed by default
    CHECK_NEAR(out[1], 1.0 - 0.1 * 0.5, 1e-7);  // decayed when asked
}

TEST(lr_schedule) {
    ModelLrSchedule s = {.lr = 1e-3f, .min_lr = 1e-4f, .warmup_steps = 10, .total_steps = 110,
                         .decay = MODEL_LR_COSINE};
    CHECK_NEAR(model_lr_at(&s, 0), 1e-4, 1e-10);
    CHECK_NEAR(model_lr_at(&s, 9), 1e-3, 1e-10);
    CHECK_NEAR(model_lr_at(&s, 10), 1e-3, 1e-10);
    CHECK_NEAR(model_lr_at(&s, 60), 5.5e-4, 1e-9);
    CHECK_NEAR(model_lr_at(&s, 35), 1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-9);
    CHECK_NEAR(model_lr_at(&s, 110), 1e-4, 1e-10);
    CHECK_NEAR(model_lr_at(&s, 500), 1e-4, 1e-10);
    s.decay = MODEL_LR_LINEAR;
    CHECK_NEAR(model_lr_at(&s, 35), 1e-3 - 0.25 * 9e-4, 1e-9);
    s.decay = MODEL_LR_CONSTANT;
    CHECK_NEAR(model_lr_at(&s, 100), 1e-3, 1e-10);
    ModelLrDecay d;
    Err err;
    CHECK(model_lr_decay_parse("linear", &d, &err) == 0 && d == MODEL_LR_LINEAR);
    CHECK(model_lr_decay_parse("cosin", &d, &err) == -1);
    CHECK_CONTAINS(err.msg, "cosin");
}

// ---------------------------------------------------------------------------
// resume

typedef struct {
    Model *m;
    ModelAdamW *opt;
    ModelTrainerState st;
    ModelLrSchedule sched;
} Run;

// One step: a batch drawn from the state's RNG (the "data position"), two
// micro-batches of gradient accumulation, clip, AdamW.
static double train_step(Run *r) {
    const ModelConfig *c = model_config(r->m);
    int32_t ids[2][24], tg[2][24];
    double total = 0, loss;
    Err err;
    model_zero_grad(r->m);
    for (int micro = 0; micro < 2; micro++) {
        for (int i = 0; i < 24; i++) {
            ids[micro][i] = (int32_t)rng_below(&r->st.rng, c->vocab_size);
            tg[micro][i] = (ids[micro][i] * 7 + 3) % c->vocab_size;  // learnable
        }
        RS_CHECK(model_xent(r->m, ids[micro], tg[micro], NULL, 3, 8, 0.5f, &loss, &err) == 0);
        total += loss / 2;
    }
    model_adamw_step(r->opt, model_lr_at(&r->sched, r->st.step), NULL);
    r->st.step++;
    r->st.tokens_seen += 48;
    return total;
}

static void run_new(Run *r, const ModelConfig *c) {
    Err err;
    memset(r, 0, sizeof *r);
    r->m = model_new(c, MODEL_GRADS, &err);
    model_init_random(r->m, 77);
    ModelAdamWConfig oc = model_adamw_defaults();
    oc.grad_clip = 0.3f;
    r->opt = model_adamw_new(r->m, &oc);
    rng_seed(&r->st.rng, 1234);
    r->sched = (ModelLrSchedule){.lr = 3e-2f, .min_lr = 3e-3f, .warmup_steps = 3, .total_steps = 12,
                                 .decay = MODEL_LR_COSINE};
}

static void run_free(Run *r) {
    model_adamw_free(r->opt);
    model_free(r->m);
    model_trainer_state_free(&r->st);
}

TEST(resume_is_bit_identical) {
    ModelConfig c = small_config();
    int N = 5, K = 6;
    double straight[11], resumed[11];
    Run a;
    run_new(&a, &c);
    for (int i = 0; i < N + K; i++) straight[i] = train_step(&a);
    CHECK(straight[N + K - 1] < straight[0]);  // it learns

    Run b;
    run_new(&b, &c);
    for (int i = 0; i < N; i++) resumed[i] = train_step(&b);
    b.st.extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(b.st.extra, "shard", 3);
    Err err;
    const char *dir = test_path("ckpt");
    char *tok = fs_join(test_tmpdir(), "tokenizer.json");
    test_write_file(tok, "{\"model\": {}}");
    REQUIRE(model_checkpoint_save(dir, b.m, b.opt, &b.st, tok, &err) == 0);
    ModelLrSchedule sched = b.sched;
    run_free(&b);

    Run r = {0};
    r.sched = sched;
    r.m = model_load(dir, MODEL_GRADS, &err);
    REQUIRE(r.m);
    ModelAdamWConfig oc = model_adamw_defaults();
    oc.grad_clip = 0.3f;
    r.opt = model_adamw_new(r.m, &oc);
    CHECK_MSG(model_adamw_load(r.opt, dir, &err) == 0, "%s", err.msg);
    CHECK_MSG(model_trainer_state_load(dir, &r.st, &err) == 0, "%s", err.msg);
    CHECK_EQ(r.st.step, N);
    CHECK_EQ(model_adamw_t(r.opt), N);
    CHECK_EQ(json_opt_int(r.st.extra, "shard", -1), 3);
    char *tok2 = fs_join(dir, "tokenizer.json");
    CHECK(fs_exists(tok2));
    for (int i = N; i < N + K; i++) resumed[i] = train_step(&r);
    for (int i = 0; i < N + K; i++)
        CHECK_MSG(straight[i] == resumed[i], "step %d: %.17g vs %.17g", i, straight[i], resumed[i]);
    CHECK(memcmp(model_params(a.m), model_params(r.m), model_num_params(a.m) * 4) == 0);
    free(tok), free(tok2);
    run_free(&a);
    run_free(&r);
}
