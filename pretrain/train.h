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
// Sampling

typedef struct PretrainSampleOpts {
    float temperature;  // 0: greedy
    int top_k;          // 0: no limit
    float top_p;        // 1: no nucleus cut
    int max_tokens;     // new tokens at most
    int stop_at_eot;    // 1: stop after generating <|endoftext|> (not emitted)
} PretrainSampleOpts;
PretrainSampleOpts pretrain_sample_defaults(void);  // 0.8, 40, 0.95, 64, 1

// Called with each piece of decoded text as soon as it forms whole UTF-8
// characters.
typedef void (*PretrainEmitFn)(const char *text, size_t n, void *ud);

// Continue prompt (n_prompt >= 1 ids) with up to o->max_tokens sampled ids,
// using the model's KV cache; rng drives the sampling. The prompt and
// generation must fit max_position_embeddings (the generation is cut to
// fit). *n_out (may be NULL) gets the number of ids generated. Returns 0 or
// -1 (a bad prompt id, or a prompt with no room to generate).
int pretrain_generate(Model *m, const Bpe *tok, const int32_t *prompt, int n_prompt, const PretrainSampleOpts *o,
                      Rng *rng, PretrainEmitFn emit, void *ud, int *n_out, Err *e);

// Pick a token from logits (V) by temperature (0: argmax), then top-k, then
// top-p over what is left. Ties are broken by the lower id, so the result
// depends only on the logits and the rng state.
int32_t pretrain_sample_token(const float *logits, int V, const PretrainSampleOpts *o, Rng *rng);

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

// Peak FLOP/s of cblas_sgemm on this machine with the OpenMP threads in use
// (one sgemm per thread at once, as the CPU backend runs them), over ~secs.
double pretrain_measure_peak_flops(double secs);
