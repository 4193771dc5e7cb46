// rollout.h: batched sampling with a KV cache — G samples per prompt, the
// log-probability of every sampled token, for RL and for evaluation.
//
//   RolloutOpts o = rollout_defaults();  o.temperature = 0.8f; o.max_new_tokens = 256;
//   RolloutPrompt p = {.ids = ids, .len = n, .n_samples = 16, .seed = 7};
//   RolloutResult r;  rollout_generate(model, tok, &o, &p, 1, NULL, &r, &err);
//   ... r.samples[i].text, .ids, .logp, .finish ...;  rollout_result_free(&r);
//
// How it works. A KV cache holds `batch` decode slots plus prompt slots. A
// prompt is prefilled once into a prompt slot and each of its G samples'
// decode slots points at the prompt's cache rows (model_kv_copy shares
// rows; no keys or values are copied). For G = 1 it is prefilled straight
// into the decode slot. The cache is the model's (model_kv_cache), kept
// across calls, so its memory is allocated and touched once. Continuous batching: every step runs one batched
// model_decode over all live sequences; a finished sequence's slot takes the
// next waiting sample at once. New prompts are prefilled together in one call.
//
// Reproducibility. Sample j of a prompt draws from its own RNG,
// rng_split(seed(prompt.seed), j), so the same seed gives the same samples
// whatever the batch size or the order in which sequences are scheduled.
//
// Log-probs. logp[t] is log softmax(logits / T)[token t] of the full
// distribution (before top-k/top-p truncation), T the sampling temperature
// (T = 1 when greedy) — what model_forward with model_set_temperature(T)
// computes for the same sequence, which RL's importance ratios rely on.
//
// Not thread-safe per model: one rollout at a time on a Model.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/progress.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

struct RolloutSample;

typedef struct RolloutOpts {
    float temperature;        // 0 = greedy; default 1
    int top_k;                // 0 = off
    float top_p;              // 1 = off; applied after top-k, to the renormalised top k
    int max_new_tokens;       // default 256
    int batch;                // sequences decoded together (KV slots); default 32
    // Keys and values cached as bfloat16: half the memory each decode step
    // streams, log-probs within ~0.1 of model_forward's instead of 1e-6
    // (ARCHITECTURE.md, "Decoding on the CPU"). Default 0: float32.
    int kv_bf16;
    const int32_t *stop_ids;  // a sampled stop id ends the sample (kept in ids, not in text)
    int n_stop_ids;
    const char *const *stop_strs;  // text that ends the sample (cut from text)
    int n_stop_strs;
    // Called on the calling thread as each sample finishes, in completion
    // order (RL hands it to the farm while the others still decode). The
    // sample stays owned by the result; NULL: not called.
    void (*on_sample)(const struct RolloutSample *s, void *ud);
    // Streaming: each new piece of sample `sample`'s text, whole UTF-8
    // characters, as it forms (a stop string may show before it is cut).
    void (*on_text)(int sample, const char *text, size_t n, void *ud);
    void *ud;                 // passed to on_sample and on_text
} RolloutOpts;

RolloutOpts rollout_defaults(void);

typedef struct RolloutPrompt {
    const int32_t *ids;  // the prompt's tokens (>= 1)
    int len;
    int n_samples;       // G >= 1
    uint64_t seed;
} RolloutPrompt;

typedef enum { ROLLOUT_STOP = 0, ROLLOUT_LENGTH = 1 } RolloutFinish;

typedef struct RolloutSample {
    int prompt;       // index into the prompts given
    int index;        // 0..G-1 within its prompt
    int32_t *ids;     // generated tokens (n); a final stop id included
    float *logp;      // (n) log-prob of each generated token, see above
    int n;
    char *text;       // decoded generation, stop string and stop ids excluded; valid
                      // UTF-8 (bytes that spell no character become U+FFFD)
    RolloutFinish finish;
} RolloutSample;

typedef struct RolloutResult {
    RolloutSample *samples;  // prompt-major: all samples of prompt 0, then prompt 1, ...
    int n;
    int64_t tokens;          // generated tokens in all
    double seconds;
} RolloutResult;

// Generate n_samples completions for each of np prompts with model m
// (inference-capable; MODEL_GRADS not needed) and tokenizer tok (for text
// and stop strings). progress (may be NULL) advances by generated tokens.
// Returns 0, or -1 with e filled (a prompt longer than the model's context,
// a token out of range); out is then empty.
int rollout_generate(Model *m, const Bpe *tok, const RolloutOpts *o, const RolloutPrompt *prompts,
                     int np, Progress *progress, RolloutResult *out, Err *e);
void rollout_result_free(RolloutResult *r);
const char *rollout_finish_name(RolloutFinish f);

// Sample one token from logits (V) at temperature/top-k/top-p with rng;
// *logp gets its log-prob under softmax(logits / T) (T = 1 when greedy).
// scratch holds 2*V floats. Exposed for tests and for other samplers.
int32_t rollout_sample_token(const float *logits, int V, float temperature, int top_k, float top_p,
                             Rng *rng, float *scratch, float *logp);
