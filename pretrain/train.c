// train.c: the pretraining loop (grad accumulation, LR schedule, validation,
// samples, metrics, checkpoints, resume) and sampling from a model.
//   reasoner pretrain --data out/shards --model-config small --out out/base --steps 600
#include "train.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "rollout/rollout.h"
#include "train/shards.h"

#define EOT_TEXT "<|endoftext|>"

// ---------------------------------------------------------------------------
// Peak FLOP/s for MFU

double pretrain_measure_peak_flops(double secs) {
    const int n = 512;
    openblas_set_num_threads(1);
    double flops = 0, t0 = rs_now(), el = 0;
#pragma omp parallel reduction(+ : flops)
    {
        float *a = xcalloc((size_t)n * n, sizeof(float)), *b = xcalloc((size_t)n * n, sizeof(float)),
              *c = xcalloc((size_t)n * n, sizeof(float));
        for (int i = 0; i < n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.01f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);  // warm
#pragma omp barrier
#pragma omp single
        t0 = rs_now();
        while (rs_now() - t0 < secs) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            flops += 2.0 * n * n * n;
        }
#pragma omp barrier
#pragma omp single
        el = rs_now() - t0;
        free(a), free(b), free(c);
    }
    return flops / el;
}

// ---------------------------------------------------------------------------
// The trainer

PretrainConfig pretrain_defaults(void) {
    return (PretrainConfig){.model_config = "small",
                            .batch_size = 8,
                            .grad_accum = 1,
                            .lr = 1e-3,
                            .min_lr = 1e-4,
                            .warmup = 50,
                            .schedule = "cosine",
                            .steps = 1000,
                            .weight_decay = 0.1,
                            .clip = 1.0,
                            .eval_every = 100,
                            .eval_batches = 8,
                            .sample_every = 0,
                            .save_every = 0,
                            .seed = 1337,
                            .progress = 1};
}

typedef struct Trainer {
    PretrainConfig c;
    Model *m;
    ModelAdamW *opt;
    Bpe *tok;
    char *tokenizer_path;
    ShardSet *train, *val;
    ShardLoader *tl, *vl;  // vl NULL when the val split has no window
    Metrics *metrics;
    ModelLrSchedule sched;
    Rng rng;               // sampling; saved in trainer_state.json
    int64_t step, start_step, tokens_seen;
    int64_t max_steps;     // --steps; c.steps may be lowered by --time-budget
    int B, T;
    int32_t *win, *ids, *tgt;  // (B, T+1), (B, T), (B, T)
    double flops_per_token;
    double recent[20];     // the last step losses, a ring
    int n_recent;
    double val_loss;
    int64_t val_step;      // the step of the last evaluation
    char sample[512];
} Trainer;

static int load_model_config(const char *spec, ModelConfig *mc, Err *e) {
    int is_file = strchr(spec, '/') || strstr(spec, ".json") || fs_exists(spec);
    if (is_file) return model_config_load(spec, mc, e);
    return model_config_preset(spec, mc, e);
}

// A fresh model from --model-config, or the model, optimizer and trainer
// state of --resume.
static int setup_model(Trainer *t, Err *e) {
    const PretrainConfig *c = &t->c;
    uint32_t data_vocab = shard_set_vocab_size(t->train);
    if (c->resume_dir) {
        if (!(t->m = model_load(c->resume_dir, MODEL_GRADS, e))) return -1;
    } else {
        ModelConfig mc;
        if (load_model_config(c->model_config, &mc, e) != 0) return -1;
        mc.vocab_size = (int)data_vocab;
        mc.bos_token_id = mc.eos_token_id = (int)shard_set_eot_id(t->train);
        if (!(t->m = model_new(&mc, MODEL_GRADS, e))) return err_wrap(e, "--model-config %s", c->model_config);
        model_init_random(t->m, c->seed);
    }
    const ModelConfig *mc = model_config(t->m);
    if ((uint32_t)mc->vocab_size < data_vocab)
        return err_set(e, "%s: vocab_size %d is smaller than the data's %u", c->resume_dir ? c->resume_dir : "config",
                       mc->vocab_size, data_vocab);
    t->T = c->seq_len > 0 ? c->seq_len : mc->max_position_embeddings;
    if (t->T > mc->max_position_embeddings)
        return err_set(e, "--seq-len %d exceeds max_position_embeddings %d", t->T, mc->max_position_embeddings);
    ModelAdamWConfig oc = model_adamw_defaults();
    oc.weight_decay = (float)c->weight_decay;
    oc.grad_clip = (float)c->clip;
    t->opt = model_adamw_new(t->m, &oc);
    t->flops_per_token = model_config_train_flops_per_token(mc, t->T);
    return 0;
}

static int setup_schedule(Trainer *t, Err *e) {
    const PretrainConfig *c = &t->c;
    t->sched = (ModelLrSchedule){.lr = (float)c->lr, .min_lr = (float)c->min_lr, .warmup_steps = c->warmup,
                                 .total_steps = c->steps};
    if (model_lr_decay_parse(c->schedule, &t->sched.decay, e) != 0) return err_wrap(e, "--schedule");
    if (c->batch_size < 1 || c->grad_accum < 1 || c->steps < 1 || c->eval_batches < 1)
        return err_set(e, "--batch-size, --grad-accum, --steps and --eval-batches must be >= 1");
    if (!(c->lr > 0) || c->min_lr < 0 || c->min_lr > c->lr) return err_set(e, "--lr must be > 0 and --min-lr in [0, lr]");
    return 0;
}

static int setup_data(Trainer *t, Err *e) {
    const PretrainConfig *c = &t->c;
    if (!(t->train = shard_set_open(c->data_dir, "train", e))) return -1;
    if (!(t->val = shard_set_open(c->data_dir, "val", e))) return -1;
    t->tokenizer_path = fs_join(c->data_dir, "tokenizer.json");
    if (!(t->tok = bpe_load(t->tokenizer_path, e))) return -1;
    if ((uint32_t)bpe_vocab_size(t->tok) != shard_set_vocab_size(t->train))
        return err_set(e, "%s: vocab_size %d differs from the shards' %u", t->tokenizer_path, bpe_vocab_size(t->tok),
                       shard_set_vocab_size(t->train));
    return 0;
}

static int setup_loaders(Trainer *t, Err *e) {
    if (!(t->tl = shard_loader_new(t->train, t->T, t->c.seed, 1, e))) return err_wrap(e, "%s: train", t->c.data_dir);
    Err ve;
    t->vl = shard_loader_new(t->val, t->T, 0, 0, &ve);
    if (!t->vl && t->c.progress) log_warn("pretrain: no validation loss: %s: val %s", t->c.data_dir, ve.msg);
    t->B = t->c.batch_size;
    t->win = xmalloc((size_t)t->B * (size_t)(t->T + 1) * sizeof *t->win);
    t->ids = xmalloc((size_t)t->B * (size_t)t->T * sizeof *t->ids);
    t->tgt = xmalloc((size_t)t->B * (size_t)t->T * sizeof *t->tgt);
    return 0;
}

// Restore the optimizer, step, RNG, seed and loader position of --resume.
static int restore_state(Trainer *t, Err *e) {
    const char *dir = t->c.resume_dir;
    ModelTrainerState st = {0};
    if (model_adamw_load(t->opt, dir, e) != 0 || model_trainer_state_load(dir, &st, e) != 0) return -1;
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s/trainer_state.json", dir);
    ShardLoaderPos pos;
    const char *seed_text;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(st.extra, "data");
    int rc = json_get_str(st.extra, "seed", &seed_text, ctx, e);
    uint64_t seed = rc == 0 ? strtoull(seed_text, NULL, 10) : 0;
    if (rc == 0) rc = shard_loader_pos_from_json(data, ctx, &pos, e);
    if (rc == 0 && seed != t->c.seed) {
        // The data order comes from the seed: continue the original run's.
        t->c.seed = seed;
        shard_loader_free(t->tl);
        if (!(t->tl = shard_loader_new(t->train, t->T, t->c.seed, 1, e))) rc = -1;
    }
    if (rc == 0 && shard_loader_seek(t->tl, pos, e) != 0) rc = err_wrap(e, "%s", ctx);
    t->step = t->start_step = st.step;
    t->tokens_seen = st.tokens_seen;
    t->rng = st.rng;
    model_trainer_state_free(&st);
    if (rc == 0 && t->step >= t->c.steps)
        rc = err_set(e, "%s: already at step %lld; --steps %lld leaves nothing to train", dir, (long long)t->step,
                     (long long)t->c.steps);
    return rc;
}

static int save_checkpoint(Trainer *t, const char *name, Err *e) {
    char *dir = fs_join(t->c.out_dir, name);
    cJSON *extra = cJSON_CreateObject();
    char seed[24];  // a string: a double would round seeds above 2^53
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->c.seed);
    cJSON_AddStringToObject(extra, "seed", seed);
    cJSON_AddNumberToObject(extra, "total_steps", (double)t->c.steps);
    cJSON_AddItemToObject(extra, "data", shard_loader_pos_to_json(shard_loader_pos(t->tl)));
    cJSON_AddNumberToObject(extra, "batch_size", t->B);
    cJSON_AddNumberToObject(extra, "seq_len", t->T);
    cJSON_AddNumberToObject(extra, "grad_accum", t->c.grad_accum);
    if (t->val_step == t->step && !isnan(t->val_loss)) cJSON_AddNumberToObject(extra, "val_loss", t->val_loss);
    ModelTrainerState st = {.step = t->step, .tokens_seen = t->tokens_seen, .rng = t->rng, .extra = extra};
    int rc = model_checkpoint_save(dir, t->m, t->opt, &st, t->tokenizer_path, e);
    model_trainer_state_free(&st);
    if (rc == 0 && t->c.progress) log_info("pretrain: step %lld: saved %s", (long long)t->step, dir);
    free(dir);
    return rc;
}

// The next rows windows of l as inputs t->ids (rows, T) and next-token
// targets t->tgt (rows, T).
static void next_batch(Trainer *t, ShardLoader *l, int rows) {
    shard_loader_next(l, rows, t->win);  // (rows, T+1)
    for (int b = 0; b < rows; b++) {
        const int32_t *w = t->win + (size_t)b * (size_t)(t->T + 1);
        memcpy(t->ids + (size_t)b * t->T, w, (size_t)t->T * sizeof(int32_t));
        memcpy(t->tgt + (size_t)b * t->T, w + 1, (size_t)t->T * sizeof(int32_t));
    }
}

// Mean loss over a fixed set of val windows (the first ones, in order).
static int evaluate(Trainer *t, Err *e) {
    if (!t->vl) return 0;
    int64_t nw = shard_loader_windows(t->vl);
    int rows = (int)RS_MIN((int64_t)t->B, nw);
    int64_t batches = RS_MIN((int64_t)t->c.eval_batches, nw / rows);
    shard_loader_reset(t->vl);
    double sum = 0;
    for (int64_t i = 0; i < batches; i++) {
        next_batch(t, t->vl, rows);
        double loss;
        if (model_xent(t->m, t->ids, t->tgt, NULL, rows, t->T, 0.0f, &loss, e) != 0) return -1;
        sum += loss;
    }
    t->val_loss = sum / (double)batches;
    t->val_step = t->step;
    return 0;
}

// The sample on one log line, newlines shown as "\n".
static void log_sample(int64_t step, const char *text) {
    Buf b = {0};
    for (const char *p = text; *p; p++) {
        if (*p == '\n') buf_puts(&b, "\\n");
        else buf_putc(&b, *p);
    }
    log_info("pretrain: step %lld sample: %s", (long long)step, b.data ? b.data : "");
    buf_free(&b);
}

// A short sample from the prompt (or a document start), logged and kept.
static int sample_text(Trainer *t, Err *e) {
    BpeIds p = {0};
    const char *prompt = t->c.sample_prompt ? t->c.sample_prompt : "";
    bpe_ids_push(&p, bpe_special_id(t->tok, EOT_TEXT));
    bpe_encode(t->tok, prompt, strlen(prompt), BPE_SPECIAL_NONE, &p);
    // The one sampler (rollout/), seeded from the trainer's RNG so a resumed
    // run samples the same text.
    RolloutOpts o = rollout_defaults();
    o.temperature = 0.8f, o.top_k = 40, o.top_p = 0.95f, o.max_new_tokens = 64, o.batch = 1;
    int32_t eot = bpe_special_id(t->tok, EOT_TEXT);
    o.stop_ids = &eot, o.n_stop_ids = 1;
    RolloutPrompt rp = {.ids = p.data, .len = (int)p.len, .n_samples = 1, .seed = rng_u64(&t->rng)};
    RolloutResult r;
    int rc = rollout_generate(t->m, t->tok, &o, &rp, 1, NULL, &r, e);
    bpe_ids_free(&p);
    if (rc == 0) {
        snprintf(t->sample, sizeof t->sample, "%s%s", prompt, r.samples[0].text ? r.samples[0].text : "");
        if (t->c.progress) log_sample(t->step, t->sample);
    }
    rollout_result_free(&r);
    return rc;
}

// One optimizer step: grad_accum micro-batches, then AdamW. *loss gets the
// mean micro-batch loss.
static int train_step(Trainer *t, double *loss, float *lr, float *gnorm, Err *e) {
    *loss = 0;
    for (int a = 0; a < t->c.grad_accum; a++) {
        next_batch(t, t->tl, t->B);
        double l;
        if (model_xent(t->m, t->ids, t->tgt, NULL, t->B, t->T, 1.0f / (float)t->c.grad_accum, &l, e) != 0) return -1;
        *loss += l / t->c.grad_accum;
    }
    *lr = model_lr_at(&t->sched, t->step);
    model_adamw_step(t->opt, *lr, gnorm);
    model_zero_grad(t->m);
    t->step++;
    t->tokens_seen += (int64_t)t->B * t->T * t->c.grad_accum;
    return 0;
}

static int due(int64_t step, int64_t every) { return every > 0 && step % every == 0; }

static void log_start(const Trainer *t, double peak) {
    const ModelConfig *mc = model_config(t->m);
    log_info("pretrain: %s model, %lld params (C %d, L %d, NH %d, NKV %d, F %d, V %d), T %d, B %d x %d accum = %lld "
             "tokens/step", t->c.resume_dir ? "resumed" : "new", (long long)model_config_num_params(mc),
             mc->hidden_size, mc->num_hidden_layers, mc->num_attention_heads, mc->num_key_value_heads,
             mc->intermediate_size, mc->vocab_size, t->T, t->B, t->c.grad_accum,
             (long long)t->B * t->T * t->c.grad_accum);
    log_info("pretrain: data %s: %lld train tokens (%lld windows), %lld val tokens; steps %lld..%lld, lr %g -> %g "
             "(%s, warmup %lld); %d threads, peak %.1f GFLOP/s",
             t->c.data_dir, (long long)shard_set_tokens(t->train), (long long)shard_loader_windows(t->tl),
             (long long)shard_set_tokens(t->val), (long long)t->start_step, (long long)t->c.steps, t->c.lr,
             t->c.min_lr, t->c.schedule, (long long)t->c.warmup, omp_get_max_threads(), peak / 1e9);
}

static int log_step(Trainer *t, double loss, float lr, float gnorm, double tps, double mfu, Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)t->step);
    cJSON_AddNumberToObject(j, "loss", loss);
    cJSON_AddNumberToObject(j, "lr", lr);
    cJSON_AddNumberToObject(j, "grad_norm", gnorm);
    cJSON_AddNumberToObject(j, "tokens", (double)t->tokens_seen);
    cJSON_AddNumberToObject(j, "tokens_per_s", tps);
    cJSON_AddNumberToObject(j, "mfu", mfu);
    if (t->val_step == t->step && !isnan(t->val_loss)) cJSON_AddNumberToObject(j, "val_loss", t->val_loss);
    int rc = metrics_write(t->metrics, j, e);
    cJSON_Delete(j);
    return rc;
}

// --time-budget: the step count that fits the budget, re-estimated from the
// mean wall time per step so far (evaluations and samples included; the
// first step, which also allocates, left out) after 4 steps, at the end of
// warmup (the warmup LR does not depend on the total), every 10 steps after
// it, and at once when the budget is spent. A new total bends the decay from
// that step on; as the mean settles, the corrections shrink.
static void fit_time_budget(Trainer *t, double elapsed, double per_step) {
    double final_eval = t->vl ? per_step * t->c.eval_batches / (3.0 * t->c.grad_accum) : 0;  // forward: ~1/3
    int64_t more = (int64_t)((t->c.time_budget - elapsed - final_eval) / per_step);
    int64_t total = RS_MIN(t->max_steps, t->step + RS_MAX(more, 0));
    if (total == t->c.steps) return;
    if (t->c.progress && llabs(total - t->c.steps) * 20 > t->c.steps)  // log changes above 5%
        log_info("pretrain: time budget %.0f s, %.0f s used at %.2f s/step: %lld steps in all", t->c.time_budget,
                 elapsed, per_step, (long long)total);
    t->c.steps = total;
    t->sched.total_steps = total;
}

static void maybe_fit_time_budget(Trainer *t, double t0, double t1) {
    int64_t done = t->step - t->start_step, calib_at = RS_MAX(4, t->c.warmup - t->start_step);
    double now = rs_now();
    int spent = now - t0 > t->c.time_budget;
    if (t->c.time_budget <= 0 || (done < 4 && !spent)) return;
    if (done == 4 || done == calib_at || (done > calib_at && done % 10 == 0) || spent)
        fit_time_budget(t, now - t0, done > 1 ? (now - t1) / (double)(done - 1) : now - t0);
}

static void show_progress(Trainer *t, Progress *bar, double loss, float lr, double tps, double mfu) {
    char extra[160];
    // A time budget re-plans the step count as step times are measured.
    if (t->c.time_budget > 0) progress_set_total(bar, (double)(t->c.steps - t->start_step));
    int n = snprintf(extra, sizeof extra, "loss %.4f lr %.2e %.0f tok/s MFU %.0f%%", loss, lr, tps, 100 * mfu);
    if (t->val_step > 0 && !isnan(t->val_loss)) snprintf(extra + n, sizeof extra - n, " val %.4f", t->val_loss);
    progress_set(bar, (double)(t->step - t->start_step), extra);
}

static int run_steps(Trainer *t, PretrainResult *r, double peak, Err *e) {
    Progress *bar = t->c.progress ? progress_new("pretrain", (double)(t->c.steps - t->start_step), "steps") : NULL;
    double t0 = rs_now(), t1 = t0, train_time = 0;
    int rc = 0;
    while (rc == 0 && t->step < t->c.steps) {
        double loss, s0 = rs_now();
        float lr, gnorm;
        if ((rc = train_step(t, &loss, &lr, &gnorm, e)) != 0) break;
        double dt = rs_now() - s0, tps = (double)t->B * t->T * t->c.grad_accum / dt;
        double mfu = t->flops_per_token * tps / peak;
        train_time += dt;
        if (t->step - t->start_step == 1) t1 = rs_now();
        maybe_fit_time_budget(t, t0, t1);
        t->recent[t->n_recent++ % 20] = loss;
        int last = t->step == t->c.steps;
        if (due(t->step, t->c.eval_every) || last) rc = evaluate(t, e);
        if (rc == 0) rc = log_step(t, loss, lr, gnorm, tps, mfu, e);
        if (rc == 0 && (due(t->step, t->c.sample_every) || last)) rc = sample_text(t, e);
        if (rc == 0 && due(t->step, t->c.save_every) && !last) {
            char name[32];
            snprintf(name, sizeof name, "step_%06lld", (long long)t->step);
            rc = save_checkpoint(t, name, e);
        }
        if (bar) show_progress(t, bar, loss, lr, tps, mfu);
    }
    progress_finish(bar);
    int64_t run = t->step - t->start_step;
    r->tokens_per_s = train_time > 0 ? (double)run * t->B * t->T * t->c.grad_accum / train_time : 0;
    r->mfu = t->flops_per_token * r->tokens_per_s / peak;
    r->seconds = rs_now() - t0;
    return rc;
}

static void trainer_free(Trainer *t) {
    shard_loader_free(t->tl);
    shard_loader_free(t->vl);
    shard_set_free(t->train);
    shard_set_free(t->val);
    model_adamw_free(t->opt);
    model_free(t->m);
    bpe_free(t->tok);
    metrics_close(t->metrics);
    free(t->tokenizer_path);
    free(t->win);
    free(t->ids);
    free(t->tgt);
}

// A run resumed into a folder that has metrics keeps the lines up to the
// checkpoint's step and drops later ones (steps that will be run again), so
// that every step appears once.
static int trim_metrics(const char *path, int64_t upto, Err *e) {
    if (!fs_exists(path)) return 0;
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    Buf keep = {0};
    cJSON *j;
    int rc;
    while ((rc = jsonl_next(r, &j, e)) != 0) {
        if (rc < 0) continue;  // a torn last line from a crash: drop it
        if (json_opt_int(j, "step", INT64_MAX) <= upto) {
            char *line = json_compact(j);
            buf_puts(&keep, line);
            buf_putc(&keep, '\n');
            free(line);
        }
        cJSON_Delete(j);
    }
    jsonl_close(r);
    rc = fs_write_atomic(path, keep.data ? keep.data : "", keep.len, e);
    buf_free(&keep);
    return rc;
}

static int open_metrics(Trainer *t, Err *e) {
    if (fs_mkdir_p(t->c.out_dir, e) != 0) return -1;
    char *path = fs_join(t->c.out_dir, "metrics.jsonl");
    int rc = t->c.resume_dir ? trim_metrics(path, t->start_step, e) : 0;
    if (rc == 0) t->metrics = metrics_open(path, t->c.resume_dir != NULL, e);
    free(path);
    return t->metrics ? 0 : -1;
}

int pretrain_run(const PretrainConfig *c, PretrainResult *r, Err *e) {
    Trainer t = {.c = *c, .max_steps = c->steps, .val_loss = NAN, .val_step = -1};
    memset(r, 0, sizeof *r);
    r->val_loss = NAN;
    Rng base;
    rng_seed(&base, c->seed);
    t.rng = rng_split(&base, 0x73616d706c65ULL);  // "sample"
    int rc = setup_schedule(&t, e);
    if (rc == 0) rc = setup_data(&t, e);
    if (rc == 0) rc = setup_model(&t, e);
    if (rc == 0) rc = setup_loaders(&t, e);
    if (rc == 0 && c->resume_dir) rc = restore_state(&t, e);
    if (rc == 0) rc = open_metrics(&t, e);
    double peak = c->peak_flops > 0 ? c->peak_flops : 0;
    if (rc == 0 && peak == 0) peak = pretrain_measure_peak_flops(0.25);
    if (rc == 0 && c->progress) log_start(&t, peak);
    if (rc == 0) rc = run_steps(&t, r, peak, e);
    if (rc == 0) rc = save_checkpoint(&t, "final", e);
    if (rc == 0) {
        r->steps = t.step;
        r->params = model_config_num_params(model_config(t.m));
        r->tokens = t.tokens_seen;
        int n = RS_MIN(t.n_recent, 20);
        for (int i = 0; i < n; i++) r->train_loss += t.recent[i] / n;
        r->val_loss = t.val_loss;
        r->peak_flops = peak;
        snprintf(r->sample, sizeof r->sample, "%s", t.sample);
    }
    trainer_free(&t);
    return rc;
}
