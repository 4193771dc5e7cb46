// train.h: the pretraining loop and text sampling from a model.
//
//   reasoner pretrain --data out/shards --model-config small --out out/base --steps 600
//   reasoner sample --model out/base/final --prompt "The" --max-tokens 64
//
// pretrain_run trains a Llama-family model (model/model.h) on a data folder
// written by `reasoner tokenize` (train/shards.h): every step takes
// grad_accum micro-batches of (B, T+1) windows from the seeded train loader,
// runs forward+backward of the mean next-token cross-entropy, then one AdamW
// step (clipped) at the scheduled LR. Every eval_every steps it measures the
// validation loss on a fixed set of val windows, every sample_every steps it
// logs a short text sample, every save_every steps and at the end it writes a
// checkpoint folder (Hugging Face files plus optimizer.safetensors and
// trainer_state.json). metrics.jsonl in the output folder gets one line per
// step. A run resumed from a checkpoint continues bit-identically: the
// parameters, AdamW moments and step, the sampling RNG and the loader
// position are all restored.
//
// Output folder: metrics.jsonl, step_NNNNNN/ every save_every steps, final/.
// Nothing here prints except the progress bar and log lines on stderr, and
// sample text through the caller's callback.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/rng.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

// ---------------------------------------------------------------------------
// Training

typedef struct PretrainConfig {
    const char *data_dir;      // a `reasoner tokenize` folder
    const char *model_config;  // a preset name (model_config_preset) or a config.json
    const char *out_dir;
    const char *resume_dir;    // a checkpoint folder to continue from, or NULL
    int batch_size;            // B: sequences per micro-batch
    int seq_len;               // T; 0: the config's max_position_embeddings
    int grad_accum;            // micro-batches per optimizer step
    double lr, min_lr;
    int64_t warmup;            // steps of linear warmup
    const char *schedule;      // "cosine", "linear" or "constant"
    int64_t steps;             // optimizer steps in all (a resumed run continues to it)
    double weight_decay, clip;
    int64_t eval_every;        // validation loss every N steps (0: only at the end)
    int eval_batches;          // micro-batches of val windows per evaluation
    int64_t sample_every;      // a text sample every M steps (0: only at the end)
    const char *sample_prompt; // NULL or "": start of a document
    int64_t save_every;        // a checkpoint every K steps (0: only at the end)
    uint64_t seed;             // init, data order, sampling
    double time_budget;        // seconds; > 0: --steps becomes what fits, re-estimated as it runs
    double peak_flops;         // MFU denominator in FLOP/s; 0: measure cblas_sgemm at start
    int progress;              // 1: progress bar and log lines on stderr
} PretrainConfig;
PretrainConfig pretrain_defaults(void);

typedef struct PretrainResult {
    int64_t steps;             // completed optimizer steps (resumed ones included)
    int64_t params;            // parameter count
    int64_t tokens;            // tokens trained on, in all
    double train_loss;         // mean of the last min(steps run, 20) step losses
    double val_loss;           // the last evaluation (NAN if the val split is empty)
    double tokens_per_s;       // over the steps this run did
    double mfu;                // achieved / peak FLOP/s
    double peak_flops;
    double seconds;
    char sample[512];          // the last sample's text (truncated)
} PretrainResult;

// Train as configured. Returns 0, or -1 with e ("data/shards.json: ...",
// "--seq-len 4096 exceeds max_position_embeddings 512", ...).
int pretrain_run(const PretrainConfig *c, PretrainResult *r, Err *e);
