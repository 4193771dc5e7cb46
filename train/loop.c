// loop.c: the training-loop skeleton (see loop.h): schedule, updates,
// metrics, progress, time budget, hooks, checkpoints and resume.
#include "loop.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "model/blas.h"
#include "model/device.h"

struct TrainLoop {
    TrainLoopConfig c;
    TrainStage st;
    Model *m;
    ModelAdamW *opt;
    const Bpe *tok;
    char *tokenizer_path;   // out_dir/tokenizer.json, copied into checkpoints
    Metrics *metrics;
    ModelLrSchedule sched;
    Rng rng;
    int64_t step, start_step, max_steps, updates;
    float lr, gnorm;
    double tokens, run_tokens, train_time, wall_time, flops, peak, eval_time;
    int64_t peak_remeasured_at;  // step of the last remeasure (remeasure_peak)
    double recent[20];
    int n_recent;
};

TrainLoopConfig train_loop_defaults(void) {
    return (TrainLoopConfig){.name = "train",
                             .steps = 1000,
                             .lr = 1e-3,
                             .min_lr = 1e-4,
                             .warmup = 50,
                             .schedule = "cosine",
                             .weight_decay = 0.1,
                             .clip = 1.0,
                             .beta1 = 0.9,
                             .beta2 = 0.95,
                             .eval_every = 100,
                             .seed = 1337,
                             .progress = 1};
}

Model *train_loop_model(TrainLoop *L) { return L->m; }
Rng *train_loop_rng(TrainLoop *L) { return &L->rng; }
int64_t train_loop_step(const TrainLoop *L) { return L->step; }

void train_loop_spent_on_eval(TrainLoop *L, double seconds) {
    if (L->c.time_budget > 0) L->c.time_budget = RS_MAX(L->c.time_budget - seconds, 1.0);
    L->eval_time = seconds;
}

// ---------------------------------------------------------------------------
// Setup and resume

static int setup_optimizer(TrainLoop *L, Err *e) {
    const TrainLoopConfig *c = &L->c;
    L->sched = (ModelLrSchedule){.lr = (float)c->lr, .min_lr = (float)c->min_lr, .warmup_steps = c->warmup,
                                 .total_steps = c->steps};
    if (model_lr_decay_parse(c->schedule, &L->sched.decay, e) != 0) return err_wrap(e, "--schedule");
    if (c->steps < 1) return err_set(e, "--steps must be >= 1");
    if (!(c->lr > 0) || c->min_lr < 0 || c->min_lr > c->lr) return err_set(e, "--lr must be > 0 and --min-lr in [0, lr]");
    if (!model_grads(L->m)) return err_set(e, "%s: the model has no gradients (load it with MODEL_GRADS)", c->name);
    ModelAdamWConfig oc = model_adamw_defaults();
    oc.weight_decay = (float)c->weight_decay;
    oc.grad_clip = (float)c->clip;
    oc.beta1 = (float)c->beta1;
    oc.beta2 = (float)c->beta2;
    L->opt = model_adamw_new(L->m, &oc);
    return 0;
}

static int restore(TrainLoop *L, Err *e) {
    const char *dir = L->c.resume_dir;
    ModelTrainerState st = {0};
    if (model_adamw_load(L->opt, dir, e) != 0 || model_trainer_state_load(dir, &st, e) != 0) return -1;
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s/trainer_state.json", dir);
    int rc = 0;
    const cJSON *stage = cJSON_GetObjectItemCaseSensitive(st.extra, "stage");
    if (L->st.load_state) rc = L->st.load_state(L->st.ud, stage, ctx, e);
    L->step = L->start_step = st.step;
    L->tokens = (double)st.tokens_seen;
    L->rng = st.rng;
    L->updates = json_opt_int(st.extra, "updates", 0);
    model_trainer_state_free(&st);
    if (rc == 0 && L->step >= L->c.steps)
        rc = err_set(e, "%s: already at step %lld; --steps %lld leaves nothing to train", dir, (long long)L->step,
                     (long long)L->c.steps);
    return rc;
}

int train_metrics_trim(const char *path, int64_t upto, Err *e) {
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

static int open_outputs(TrainLoop *L, Err *e) {
    if (fs_mkdir_p(L->c.out_dir, e) != 0) return -1;
    if (L->c.tokenizer_file) {
        L->tokenizer_path = xstrdup(L->c.tokenizer_file);
    } else if (L->tok) {
        L->tokenizer_path = fs_join(L->c.out_dir, "tokenizer.json");
        if (bpe_save(L->tok, L->tokenizer_path, e) != 0) return -1;
    }
    char *path = fs_join(L->c.out_dir, "metrics.jsonl");
    int rc = L->c.resume_dir ? train_metrics_trim(path, L->start_step, e) : 0;
    if (rc == 0) L->metrics = metrics_open(path, L->c.resume_dir != NULL, e);
    free(path);
    return L->metrics ? 0 : -1;
}

TrainLoop *train_loop_new(const TrainLoopConfig *cfg, Model *m, const Bpe *tok, const TrainStage *stage, Err *e) {
    TrainLoop *L = xcalloc(1, sizeof *L);
    L->c = *cfg;
    L->st = *stage;
    L->m = m;
    L->tok = tok;
    L->max_steps = cfg->steps;
    Rng base;
    rng_seed(&base, cfg->seed);
    L->rng = rng_split(&base, 0x6c6f6f70ULL);  // "loop"
    int rc = setup_optimizer(L, e);
    if (rc == 0 && cfg->resume_dir) rc = restore(L, e);
    if (rc == 0) rc = open_outputs(L, e);
    if (rc != 0) {
        L->m = NULL;  // on failure the model stays the caller's
        train_loop_free(L);
        return NULL;
    }
    // MFU against the best kernels this CPU supports, not whatever the BLAS
    // picked (model/blas.h): a crippled core type must not flatter the figure.
    // On a GPU the denominator is the device's bf16 dense peak, not a measured sgemm.
    int gpu = strcmp(model_ops(m)->name, "cpu") != 0;
    L->peak = cfg->peak_flops > 0 ? cfg->peak_flops : gpu ? MODEL_CUDA_PEAK_FLOPS : model_cpu_best_peak_flops(0.25);
    L->peak_remeasured_at = -1000;
    return L;
}

// A step faster than the peak means the peak was measured while other work
// held the cores (a shared machine at start-up): measure it again, at most
// every 100 steps, and keep the higher figure, so that MFU stays a share of
// what the CPU can do rather than of a busy moment.
static void remeasure_peak(TrainLoop *L, double flops_per_s) {
    if (L->c.peak_flops > 0 || strcmp(model_ops(L->m)->name, "cpu") != 0) return;
    if (flops_per_s <= L->peak || L->step - L->peak_remeasured_at < 100) return;
    L->peak_remeasured_at = L->step;
    double again = model_cpu_best_peak_flops(0.25), was = L->peak;
    L->peak = fmax(L->peak, fmax(again, flops_per_s));
    if (L->c.progress)
        log_info("%s: a step ran at %.1f GFLOP/s, above the sgemm peak measured at start (%.1f): measured again, "
                 "%.1f; MFU now divides by %.1f GFLOP/s", L->c.name, flops_per_s / 1e9, was / 1e9, again / 1e9,
                 L->peak / 1e9);
}

void train_loop_free(TrainLoop *L) {
    if (!L) return;
    model_adamw_free(L->opt);
    model_free(L->m);
    metrics_close(L->metrics);
    free(L->tokenizer_path);
    free(L);
}

// ---------------------------------------------------------------------------
// Checkpoints

int train_loop_save(TrainLoop *L, const char *name, Err *e) {
    if (model_check(L->m, e) != 0) return err_wrap(e, "%s: not saving %s", L->c.name, name);
    char *dir = fs_join(L->c.out_dir, name);
    cJSON *extra = cJSON_CreateObject();
    char seed[24];  // a string: a double would round seeds above 2^53
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)L->c.seed);
    cJSON_AddStringToObject(extra, "seed", seed);
    cJSON_AddStringToObject(extra, "stage_name", L->st.name ? L->st.name : L->c.name);
    cJSON_AddNumberToObject(extra, "total_steps", (double)L->c.steps);
    cJSON_AddNumberToObject(extra, "updates", (double)L->updates);
    if (L->st.save_state) cJSON_AddItemToObject(extra, "stage", L->st.save_state(L->st.ud));
    ModelTrainerState st = {.step = L->step, .tokens_seen = (int64_t)L->tokens, .rng = L->rng, .extra = extra};
    int rc = model_checkpoint_save(dir, L->m, L->opt, &st, L->tokenizer_path, e);
    model_trainer_state_free(&st);
    if (rc == 0 && L->c.progress) log_info("%s: step %lld: saved %s", L->c.name, (long long)L->step, dir);
    free(dir);
    return rc;
}

// ---------------------------------------------------------------------------
// The loop

float train_loop_update(TrainLoop *L) {
    float gnorm = 0;
    model_adamw_step(L->opt, L->lr, &gnorm);
    model_zero_grad(L->m);
    L->updates++;
    L->gnorm = gnorm;
    return gnorm;
}

static int due(int64_t step, int64_t every) { return every > 0 && step % every == 0; }

// --time-budget: the step count that fits the budget, re-estimated from the
// mean wall time per step so far (hooks included; the first step, which also
// allocates, left out) after 4 steps, at the end of warmup (the warmup LR does
// not depend on the total), every 10 steps after it, and at once when the
// budget is spent. A new total bends the decay from that step on.
static void fit_time_budget(TrainLoop *L, double t0, double t1) {
    int64_t done = L->step - L->start_step, calib_at = RS_MAX(4, L->c.warmup - L->start_step);
    double now = rs_now();
    int spent = now - t0 > L->c.time_budget;
    if (L->c.time_budget <= 0 || (done < 4 && !spent)) return;
    if (!(done == 4 || done == calib_at || (done > calib_at && done % 10 == 0) || spent)) return;
    double per_step = done > 1 ? (now - t1) / (double)(done - 1) : now - t0;
    int64_t more = (int64_t)((L->c.time_budget - (now - t0) - L->eval_time) / per_step);
    int64_t total = RS_MIN(L->max_steps, L->step + RS_MAX(more, 0));
    if (total == L->c.steps) return;
    if (L->c.progress && llabs(total - L->c.steps) * 20 > L->c.steps)  // log changes above 5%
        log_info("%s: time budget %.0f s, %.0f s used at %.2f s/step: %lld steps in all", L->c.name,
                 L->c.time_budget, now - t0, per_step, (long long)total);
    L->c.steps = total;
    L->sched.total_steps = total;
}

static void log_start(const TrainLoop *L) {
    const ModelConfig *mc = model_config(L->m);
    log_info("%s: %s model, %lld params (C %d, L %d, NH %d, NKV %d, F %d, V %d); steps %lld..%lld, lr %g -> %g "
             "(%s, warmup %lld); %d threads, peak %.1f GFLOP/s",
             L->c.name, L->c.resume_dir ? "resumed" : "new", (long long)model_config_num_params(mc),
             mc->hidden_size, mc->num_hidden_layers, mc->num_attention_heads, mc->num_key_value_heads,
             mc->intermediate_size, mc->vocab_size, (long long)L->start_step, (long long)L->c.steps, L->c.lr,
             L->c.min_lr, L->c.schedule, (long long)L->c.warmup, omp_get_max_threads(), L->peak / 1e9);
}

static void show_progress(TrainLoop *L, Progress *bar, const TrainStepInfo *in, double tps, double mfu) {
    char extra[256];
    if (L->c.time_budget > 0) progress_set_total(bar, (double)(L->c.steps - L->start_step));
    int n = 0;
    if (!isnan(in->loss)) n = snprintf(extra, sizeof extra, "loss %.4f ", in->loss);
    n += snprintf(extra + n, sizeof extra - (size_t)n, "lr %.2e %.0f tok/s", L->lr, tps);
    if (mfu > 0) n += snprintf(extra + n, sizeof extra - (size_t)n, " MFU %.0f%%", 100 * mfu);
    if (L->st.progress_text && n < (int)sizeof extra - 2) {
        extra[n++] = ' ';
        L->st.progress_text(L->st.ud, extra + n, sizeof extra - (size_t)n);
    }
    progress_set(bar, (double)(L->step - L->start_step), extra);
}

// The hooks due after a step, in order: eval, sample (into row), then the row
// is written, then a checkpoint.
static int after_step(TrainLoop *L, cJSON *row, Err *e) {
    int last = L->step == L->c.steps, rc = 0;
    if (L->st.eval && (due(L->step, L->c.eval_every) || last)) {
        double t = rs_now();
        rc = L->st.eval(L->st.ud, L, row, e);
        L->eval_time = rs_now() - t;
    }
    if (rc == 0 && L->st.sample && (due(L->step, L->c.sample_every) || last)) rc = L->st.sample(L->st.ud, L, row, e);
    if (rc == 0) rc = metrics_write(L->metrics, row, e);
    if (rc == 0 && due(L->step, L->c.save_every) && !last) {
        char name[32];
        snprintf(name, sizeof name, "step_%06lld", (long long)L->step);
        rc = train_loop_save(L, name, e);
    }
    return rc;
}

static int one_step(TrainLoop *L, Progress *bar, double t0, double *t1, Err *e) {
    TrainStepInfo in = {.loss = NAN};
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "step", (double)(L->step + 1));
    L->lr = model_lr_at(&L->sched, L->step);
    double s0 = rs_now();
    int rc = L->st.step(L->st.ud, L, &in, row, e);
    // A device failure inside the step (backward, update) fails the step
    // here, before any hook can save the weights it may have spoiled.
    if (rc == 0) rc = model_check(L->m, e);
    if (rc == 0) {
        double dt = rs_now() - s0, tps = in.tokens / dt;
        remeasure_peak(L, in.flops / dt);
        double mfu = in.flops > 0 ? in.flops / dt / L->peak : 0;
        L->step++;
        L->tokens += in.tokens;
        L->run_tokens += in.tokens;
        L->flops += in.flops;
        L->train_time += dt;
        if (L->step - L->start_step == 1) *t1 = rs_now();
        fit_time_budget(L, t0, *t1);
        if (!isnan(in.loss)) {
            L->recent[L->n_recent++ % 20] = in.loss;
            cJSON_AddNumberToObject(row, "loss", in.loss);
        }
        cJSON_AddNumberToObject(row, "lr", L->lr);
        cJSON_AddNumberToObject(row, "grad_norm", L->gnorm);
        cJSON_AddNumberToObject(row, "tokens", L->tokens);
        cJSON_AddNumberToObject(row, "tokens_per_s", tps);
        if (in.flops > 0) cJSON_AddNumberToObject(row, "mfu", mfu);
        rc = after_step(L, row, e);
        if (bar) show_progress(L, bar, &in, tps, mfu);
    }
    cJSON_Delete(row);
    return rc;
}

int train_loop_run(TrainLoop *L, Err *e) {
    if (L->c.progress) log_start(L);
    Progress *bar = L->c.progress ? progress_new(L->c.name, (double)(L->c.steps - L->start_step), "steps") : NULL;
    double t0 = rs_now(), t1 = t0;
    int rc = 0;
    while (rc == 0 && L->step < L->c.steps) rc = one_step(L, bar, t0, &t1, e);
    progress_finish(bar);
    L->wall_time = rs_now() - t0;
    if (rc == 0) rc = train_loop_save(L, "final", e);
    return rc;
}

void train_loop_result(const TrainLoop *L, TrainLoopResult *r) {
    memset(r, 0, sizeof *r);
    r->steps = L->step;
    r->updates = L->updates;
    r->tokens = L->tokens;
    r->seconds = L->wall_time;
    r->tokens_per_s = L->train_time > 0 ? L->run_tokens / L->train_time : 0;  // this run's steps only
    r->peak_flops = L->peak;
    r->mfu = L->train_time > 0 ? L->flops / L->train_time / L->peak : 0;
    int n = RS_MIN(L->n_recent, 20);
    r->loss = NAN;
    if (n) r->loss = 0;
    for (int i = 0; i < n; i++) r->loss += L->recent[i] / n;
}
