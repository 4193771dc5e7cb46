// train.c: the pretraining loop (grad accumulation, LR schedule, validation,
// samples, metrics, checkpoints, resume) and sampling from a model.
//   reasoner pretrain --data out/shards --model-config small --out out/base --steps 600
#include "train.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "rollout/rollout.h"
#include "train/loop.h"
#include "train/shards.h"

#define EOT_TEXT "<|endoftext|>"

// ---------------------------------------------------------------------------
// The pretraining stage: windows of token shards and next-token cross-entropy,
// driven by the shared loop (train/loop.h).

// The loop's defaults (train/loop.h) for everything the loop owns.
PretrainConfig pretrain_defaults(void) {
    TrainLoopConfig l = train_loop_defaults();
    PretrainConfig c = {.model_config = "small", .batch_size = 8, .grad_accum = 1, .eval_batches = 8, .progress = 1};
    c.lr = l.lr, c.min_lr = l.min_lr, c.warmup = l.warmup, c.schedule = l.schedule, c.steps = l.steps;
    c.weight_decay = l.weight_decay, c.clip = l.clip, c.eval_every = l.eval_every, c.seed = l.seed;
    return c;
}

typedef struct Pretrain {
    PretrainConfig c;
    Bpe *tok;
    char *tokenizer_path;
    ShardSet *train, *val;
    ShardLoader *tl, *vl;  // vl NULL when the val split has no window
    int B, T;
    int32_t *win, *ids, *tgt;  // (B, T+1), (B, T), (B, T)
    double flops_per_token;
    double val_loss;
    int64_t val_step;      // the step of the last evaluation
    char sample[512];
} Pretrain;

static int load_model_config(const char *spec, ModelConfig *mc, Err *e) {
    int is_file = strchr(spec, '/') || strstr(spec, ".json") || fs_exists(spec);
    if (is_file) return model_config_load(spec, mc, e);
    return model_config_preset(spec, mc, e);
}

// A fresh model from --model-config, or the model of --resume.
static Model *setup_model(Pretrain *p, Err *e) {
    const PretrainConfig *c = &p->c;
    uint32_t data_vocab = shard_set_vocab_size(p->train);
    Model *m = NULL;
    if (c->resume_dir) {
        if (!(m = model_load(c->resume_dir, MODEL_GRADS, e))) return NULL;
    } else {
        ModelConfig mc;
        if (load_model_config(c->model_config, &mc, e) != 0) return NULL;
        mc.vocab_size = (int)data_vocab;
        mc.bos_token_id = mc.eos_token_id = (int)shard_set_eot_id(p->train);
        if (!(m = model_new(&mc, MODEL_GRADS, e))) return err_wrap(e, "--model-config %s", c->model_config), NULL;
        model_init_random(m, c->seed);
    }
    const ModelConfig *mc = model_config(m);
    int rc = 0;
    if ((uint32_t)mc->vocab_size < data_vocab)
        rc = err_set(e, "%s: vocab_size %d is smaller than the data's %u", c->resume_dir ? c->resume_dir : "config",
                     mc->vocab_size, data_vocab);
    p->T = c->seq_len > 0 ? c->seq_len : mc->max_position_embeddings;
    if (rc == 0 && p->T > mc->max_position_embeddings)
        rc = err_set(e, "--seq-len %d exceeds max_position_embeddings %d", p->T, mc->max_position_embeddings);
    if (rc != 0) {
        model_free(m);
        return NULL;
    }
    p->flops_per_token = model_config_train_flops_per_token(mc, p->T);
    return m;
}

static int setup_data(Pretrain *p, Err *e) {
    const PretrainConfig *c = &p->c;
    if (c->batch_size < 1 || c->grad_accum < 1 || c->steps < 1 || c->eval_batches < 1)
        return err_set(e, "--batch-size, --grad-accum, --steps and --eval-batches must be >= 1");
    if (!(p->train = shard_set_open(c->data_dir, "train", e))) return -1;
    if (!(p->val = shard_set_open(c->data_dir, "val", e))) return -1;
    p->tokenizer_path = fs_join(c->data_dir, "tokenizer.json");
    if (!(p->tok = bpe_load(p->tokenizer_path, e))) return -1;
    if ((uint32_t)bpe_vocab_size(p->tok) != shard_set_vocab_size(p->train))
        return err_set(e, "%s: vocab_size %d differs from the shards' %u", p->tokenizer_path, bpe_vocab_size(p->tok),
                       shard_set_vocab_size(p->train));
    return 0;
}

static int setup_loaders(Pretrain *p, Err *e) {
    if (!(p->tl = shard_loader_new(p->train, p->T, p->c.seed, 1, e))) return err_wrap(e, "%s: train", p->c.data_dir);
    Err ve;
    p->vl = shard_loader_new(p->val, p->T, 0, 0, &ve);
    if (!p->vl && p->c.progress) log_warn("pretrain: no validation loss: %s: val %s", p->c.data_dir, ve.msg);
    p->B = p->c.batch_size;
    p->win = xmalloc((size_t)p->B * (size_t)(p->T + 1) * sizeof *p->win);
    p->ids = xmalloc((size_t)p->B * (size_t)p->T * sizeof *p->ids);
    p->tgt = xmalloc((size_t)p->B * (size_t)p->T * sizeof *p->tgt);
    return 0;
}

// The stage's resumable state: the seed that orders the data and the loader's position.
static cJSON *save_state(void *ud) {
    Pretrain *p = ud;
    cJSON *j = cJSON_CreateObject();
    char seed[24];  // a string: a double would round seeds above 2^53
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->c.seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddItemToObject(j, "data", shard_loader_pos_to_json(shard_loader_pos(p->tl)));
    cJSON_AddNumberToObject(j, "batch_size", p->B);
    cJSON_AddNumberToObject(j, "seq_len", p->T);
    cJSON_AddNumberToObject(j, "grad_accum", p->c.grad_accum);
    if (!isnan(p->val_loss)) cJSON_AddNumberToObject(j, "val_loss", p->val_loss);
    return j;
}

static int load_state(void *ud, const cJSON *st, const char *ctx, Err *e) {
    Pretrain *p = ud;
    const char *seed_text;
    ShardLoaderPos pos;
    if (!st) return err_set(e, "%s: stage: missing (not a pretraining checkpoint)", ctx);
    if (json_get_str(st, "seed", &seed_text, ctx, e) != 0) return -1;
    uint64_t seed = strtoull(seed_text, NULL, 10);
    if (shard_loader_pos_from_json(cJSON_GetObjectItemCaseSensitive(st, "data"), ctx, &pos, e) != 0) return -1;
    if (seed != p->c.seed) {
        // The data order comes from the seed: continue the original run's.
        p->c.seed = seed;
        shard_loader_free(p->tl);
        if (!(p->tl = shard_loader_new(p->train, p->T, p->c.seed, 1, e))) return -1;
    }
    if (shard_loader_seek(p->tl, pos, e) != 0) return err_wrap(e, "%s", ctx);
    return 0;
}

// The next rows windows of l as inputs p->ids (rows, T) and next-token
// targets p->tgt (rows, T).
static void next_batch(Pretrain *p, ShardLoader *l, int rows) {
    shard_loader_next(l, rows, p->win);  // (rows, T+1)
    for (int b = 0; b < rows; b++) {
        const int32_t *w = p->win + (size_t)b * (size_t)(p->T + 1);
        memcpy(p->ids + (size_t)b * p->T, w, (size_t)p->T * sizeof(int32_t));
        memcpy(p->tgt + (size_t)b * p->T, w + 1, (size_t)p->T * sizeof(int32_t));
    }
}

// One step: grad_accum micro-batches, then one update.
static int step(void *ud, TrainLoop *L, TrainStepInfo *in, cJSON *row, Err *e) {
    Pretrain *p = ud;
    Model *m = train_loop_model(L);
    in->loss = 0;
    for (int a = 0; a < p->c.grad_accum; a++) {
        next_batch(p, p->tl, p->B);
        double l;
        if (model_xent(m, p->ids, p->tgt, NULL, p->B, p->T, 1.0f / (float)p->c.grad_accum, &l, e) != 0) return -1;
        in->loss += l / p->c.grad_accum;
    }
    train_loop_update(L);
    in->tokens = (double)p->B * p->T * p->c.grad_accum;
    in->flops = p->flops_per_token * in->tokens;
    return 0;
}

// Mean loss over a fixed set of val windows (the first ones, in order).
static int eval(void *ud, TrainLoop *L, cJSON *row, Err *e) {
    Pretrain *p = ud;
    if (!p->vl) return 0;
    int64_t nw = shard_loader_windows(p->vl);
    int rows = (int)RS_MIN((int64_t)p->B, nw);
    int64_t batches = RS_MIN((int64_t)p->c.eval_batches, nw / rows);
    shard_loader_reset(p->vl);
    double sum = 0;
    for (int64_t i = 0; i < batches; i++) {
        next_batch(p, p->vl, rows);
        double loss;
        if (model_xent(train_loop_model(L), p->ids, p->tgt, NULL, rows, p->T, 0.0f, &loss, e) != 0) return -1;
        sum += loss;
    }
    p->val_loss = sum / (double)batches;
    p->val_step = train_loop_step(L);
    cJSON_AddNumberToObject(row, "val_loss", p->val_loss);
    return 0;
}

// The sample on one log line, newlines shown as "\n".
static void log_sample(int64_t step, const char *text) {
    Buf b = {0};
    for (const char *q = text; *q; q++) {
        if (*q == '\n') buf_puts(&b, "\\n");
        else buf_putc(&b, *q);
    }
    log_info("pretrain: step %lld sample: %s", (long long)step, b.data ? b.data : "");
    buf_free(&b);
}

// A short sample from the prompt (or a document start), logged and kept.
static int sample(void *ud, TrainLoop *L, cJSON *row, Err *e) {
    Pretrain *p = ud;
    BpeIds ids = {0};
    const char *prompt = p->c.sample_prompt ? p->c.sample_prompt : "";
    bpe_ids_push(&ids, bpe_special_id(p->tok, EOT_TEXT));
    bpe_encode(p->tok, prompt, strlen(prompt), BPE_SPECIAL_NONE, &ids);
    // The one sampler (rollout/), seeded from the loop's RNG so a resumed
    // run samples the same text.
    RolloutOpts o = rollout_defaults();
    o.temperature = 0.8f, o.top_k = 40, o.top_p = 0.95f, o.max_new_tokens = 64, o.batch = 1;
    int32_t eot = bpe_special_id(p->tok, EOT_TEXT);
    o.stop_ids = &eot, o.n_stop_ids = 1;
    RolloutPrompt rp = {.ids = ids.data, .len = (int)ids.len, .n_samples = 1, .seed = rng_u64(train_loop_rng(L))};
    RolloutResult r;
    int rc = rollout_generate(train_loop_model(L), p->tok, &o, &rp, 1, NULL, &r, e);
    bpe_ids_free(&ids);
    if (rc == 0) {
        snprintf(p->sample, sizeof p->sample, "%s%s", prompt, r.samples[0].text ? r.samples[0].text : "");
        if (p->c.progress) log_sample(train_loop_step(L), p->sample);
    }
    rollout_result_free(&r);
    return rc;
}

static void progress_text(void *ud, char *buf, size_t n) {
    Pretrain *p = ud;
    if (p->val_step > 0 && !isnan(p->val_loss)) snprintf(buf, n, "val %.4f", p->val_loss);
    else if (n) buf[0] = 0;
}

static void pretrain_free(Pretrain *p) {
    shard_loader_free(p->tl);
    shard_loader_free(p->vl);
    shard_set_free(p->train);
    shard_set_free(p->val);
    bpe_free(p->tok);
    free(p->tokenizer_path);
    free(p->win), free(p->ids), free(p->tgt);
}

static TrainLoopConfig loop_config(const PretrainConfig *c) {
    TrainLoopConfig lc = train_loop_defaults();
    lc.name = "pretrain";
    lc.out_dir = c->out_dir;
    lc.resume_dir = c->resume_dir;
    lc.steps = c->steps;
    lc.lr = c->lr, lc.min_lr = c->min_lr, lc.warmup = c->warmup, lc.schedule = c->schedule;
    lc.weight_decay = c->weight_decay, lc.clip = c->clip;
    lc.eval_every = c->eval_every, lc.sample_every = c->sample_every, lc.save_every = c->save_every;
    lc.seed = c->seed, lc.time_budget = c->time_budget, lc.peak_flops = c->peak_flops, lc.progress = c->progress;
    return lc;
}

int pretrain_run(const PretrainConfig *c, PretrainResult *r, Err *e) {
    Pretrain p = {.c = *c, .val_loss = NAN, .val_step = -1};
    memset(r, 0, sizeof *r);
    r->val_loss = NAN;
    TrainStage st = {.name = "pretrain", .ud = &p, .step = step, .eval = eval, .sample = sample,
                     .save_state = save_state, .load_state = load_state, .progress_text = progress_text};
    TrainLoopConfig lc = loop_config(c);
    lc.tokenizer_file = NULL;
    int rc = setup_data(&p, e);
    Model *m = rc == 0 ? setup_model(&p, e) : NULL;
    if (rc == 0 && !m) rc = -1;
    if (rc == 0) rc = setup_loaders(&p, e);
    lc.tokenizer_file = p.tokenizer_path;
    TrainLoop *L = rc == 0 ? train_loop_new(&lc, m, p.tok, &st, e) : NULL;
    if (rc == 0 && !L) rc = -1;  // the loop freed nothing: it owns m only once made
    if (rc != 0 && !L) model_free(m), m = NULL;
    if (rc == 0 && c->progress)
        log_info("pretrain: data %s: %lld train tokens (%lld windows), %lld val tokens; T %d, B %d x %d accum = %lld "
                 "tokens/step", c->data_dir, (long long)shard_set_tokens(p.train),
                 (long long)shard_loader_windows(p.tl), (long long)shard_set_tokens(p.val), p.T, p.B, c->grad_accum,
                 (long long)p.B * p.T * c->grad_accum);
    if (rc == 0) rc = train_loop_run(L, e);
    if (rc == 0) {
        TrainLoopResult lr;
        train_loop_result(L, &lr);
        r->steps = lr.steps;
        r->params = model_config_num_params(model_config(train_loop_model(L)));
        r->tokens = (int64_t)lr.tokens;
        r->train_loss = lr.loss;
        r->val_loss = p.val_loss;
        r->tokens_per_s = lr.tokens_per_s;
        r->mfu = lr.mfu;
        r->peak_flops = lr.peak_flops;
        r->seconds = lr.seconds;
        snprintf(r->sample, sizeof r->sample, "%s", p.sample);
    }
    train_loop_free(L);
    pretrain_free(&p);
    return rc;
}
