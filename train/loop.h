// loop.h: the training-loop skeleton every stage drives — pretraining, SFT,
// RL (GRPO, RFT) and, later, the reward model. The loop owns what they share:
// the model with gradients, AdamW and its LR schedule, gradient clipping,
// metrics JSONL (one row per step, flushed; trimmed on resume so each step
// appears once), the progress line with ETA, the time budget, the cadence of
// held-out evaluations, samples and checkpoints, and bit-identical resume.
// A stage supplies only its batch source and its loss, as callbacks:
//
//   TrainStage st = {.name = "sft", .ud = &my, .step = my_step, .eval = my_eval,
//                    .save_state = my_pos, .load_state = my_seek};
//   TrainLoop *L = train_loop_new(&cfg, model, tok, &st, &err);   // takes the model
//   train_loop_run(L, &err);                                      // then final/ is written
//   train_loop_free(L);
//
// A step callback runs forward/backward (model_forward/model_backward, so
// gradients accumulate) and calls train_loop_update() once per optimizer
// update it wants: pretraining and SFT once per step after grad_accum
// micro-batches; GRPO once per minibatch, mu passes over the rollout batch.
// All updates of a step use that step's scheduled LR.
//
// Checkpoint folder (ARCHITECTURE.md, "Checkpoint folder"): the model's HF
// files, optimizer.safetensors, trainer_state.json (step, tokens, the loop's
// RNG, the seed, and the stage's own state under "stage"), tokenizer.json.
// Resume restores all of it and the stage's state through load_state; the
// loop's RNG is the only randomness a stage should draw from (train_loop_rng)
// so that a resumed run repeats the original bit for bit.
// Not thread-safe; one loop per process.
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "common/rng.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

typedef struct cJSON cJSON;
typedef struct TrainLoop TrainLoop;

typedef struct TrainLoopConfig {
    const char *name;          // log prefix and progress label, e.g. "sft"
    const char *out_dir;       // metrics.jsonl, step_NNNNNN/, final/
    const char *resume_dir;    // a checkpoint of this stage to continue, or NULL
    const char *tokenizer_file;  // copied into checkpoints as is; NULL: tok is saved
    int64_t steps;             // loop steps in all (a resumed run continues to it)
    double lr, min_lr;
    int64_t warmup;            // steps of linear warmup
    const char *schedule;      // "cosine", "linear" or "constant"
    double weight_decay, clip, beta1, beta2;
    int64_t eval_every;        // eval hook every N steps (0: only at the end)
    int64_t sample_every;      // sample hook every M steps (0: only at the end)
    int64_t save_every;        // a checkpoint every K steps (0: only at the end)
    uint64_t seed;
    double time_budget;        // seconds; > 0: steps become what fits, re-estimated as it runs
    double peak_flops;         // MFU denominator in FLOP/s; 0: the best kernels' sgemm peak, measured
    int progress;              // 1: progress bar and log lines on stderr
} TrainLoopConfig;

// Defaults: cosine, lr 1e-3 -> 1e-4, warmup 50, wd 0.1, clip 1, betas 0.9/0.95,
// eval every 100, seed 1337, progress on.
TrainLoopConfig train_loop_defaults(void);

// What a step did, for the metrics row, the progress line and MFU.
typedef struct TrainStepInfo {
    double loss;       // the stage's headline loss (NAN: none)
    double tokens;     // tokens this step processed (throughput)
    double flops;      // model FLOPs this step did (MFU); 0: not counted
} TrainStepInfo;

typedef struct TrainStage {
    const char *name;
    void *ud;
    // One loop step: forward/backward and train_loop_update() calls. Fill
    // info; add stage fields to row (the step's metrics object). Returns 0 or
    // -1 with e; a failed step stops the run with the last checkpoint intact.
    int (*step)(void *ud, TrainLoop *L, TrainStepInfo *info, cJSON *row, Err *e);
    // Held-out evaluation (optional): add fields (val_loss, accuracy...) to row.
    int (*eval)(void *ud, TrainLoop *L, cJSON *row, Err *e);
    // A sample to show (optional): log it; add fields to row if wanted.
    int (*sample)(void *ud, TrainLoop *L, cJSON *row, Err *e);
    // The stage's resumable state (data position...), saved under "stage"
    // in trainer_state.json; and its restore. Both optional.
    cJSON *(*save_state)(void *ud);
    int (*load_state)(void *ud, const cJSON *state, const char *ctx, Err *e);
    // A line of the stage's figures for the progress bar (optional).
    void (*progress_text)(void *ud, char *buf, size_t n);
} TrainStage;

// A loop over model m (MODEL_GRADS; the loop takes ownership and frees it)
// and tok (borrowed; written into every checkpoint). With cfg->resume_dir the
// optimizer, step, RNG and the stage's state are restored from it; the model
// must already hold its weights (model_load of the same folder).
// NULL with e on a bad configuration or an unreadable resume folder; m then
// stays the caller's.
TrainLoop *train_loop_new(const TrainLoopConfig *cfg, Model *m, const Bpe *tok, const TrainStage *stage, Err *e);
void train_loop_free(TrainLoop *L);  // NULL is fine

// Run steps until cfg.steps (or the time budget), then write out_dir/final.
int train_loop_run(TrainLoop *L, Err *e);

// Clip and apply AdamW at the step's LR, then zero the gradients. Returns the
// gradient norm before clipping (a non-finite norm skips the update).
float train_loop_update(TrainLoop *L);

Model *train_loop_model(TrainLoop *L);
Rng *train_loop_rng(TrainLoop *L);          // the resumable RNG for the stage's draws
int64_t train_loop_step(const TrainLoop *L);  // steps completed before this one

// Count an evaluation the stage ran before train_loop_run (RL's held-out
// accuracy before any update) against the time budget; the last step's eval
// is expected to cost as much.
void train_loop_spent_on_eval(TrainLoop *L, double seconds);

// What the run achieved (after train_loop_run).
typedef struct TrainLoopResult {
    int64_t steps, updates;
    double tokens, seconds, tokens_per_s, mfu, peak_flops;
    double loss;  // mean of the last min(20, steps run) step losses
} TrainLoopResult;
void train_loop_result(const TrainLoop *L, TrainLoopResult *r);

// Write a checkpoint of the current state into out_dir/name.
int train_loop_save(TrainLoop *L, const char *name, Err *e);

// Keep the lines of a metrics JSONL up to step `upto` (a resumed run redoes
// the later ones); a torn last line is dropped. No file: nothing to do.
int train_metrics_trim(const char *path, int64_t upto, Err *e);
