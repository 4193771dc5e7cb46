// model.h: the Llama-family decoder every stage trains and samples from —
// token embeddings, RMSNorm, RoPE (HF rotate-half), grouped-query causal
// attention, SwiGLU MLP, optional q/k/v bias (Qwen2), tied or untied head —
// written once against the op table in model/ops.h.
//
//   ModelConfig cfg; model_config_preset("tiny", &cfg, &err);
//   cfg.vocab_size = <the tokenizer's vocabulary size>;
//   Model *m = model_new(&cfg, MODEL_GRADS, &err);  model_init_random(m, 1234);
//   model_xent(m, ids, targets, NULL, B, T, 1.0f / accum, &loss, &err);   // fwd+bwd
//   model_adamw_step(opt, model_lr_at(&sched, step), &gnorm);  model_zero_grad(m);
//   model_checkpoint_save("out/step_100", m, opt, &state, "tok/tokenizer.json", &err);
//
// Losses live outside the model. The training pair is model_forward (per-token
// log-prob of given targets) and model_backward (takes d(loss)/d(logp) per
// token and accumulates parameter gradients). Logits are produced in chunks
// of positions, so B*T*V floats never exist at once.
//
// Inference uses a KVCache of S slots × max_len positions and model_decode,
// which appends tokens to several slots in one batched call; slots share
// the rows of a common prefix.
//
// Parameters, gradients and AdamW moments each live in one allocation carved
// from one table of {name, shape} that also gives the checkpoint tensor names.
// A Model is not thread-safe; use one per thread (its ops parallelise inside).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/rng.h"
#include "model/ops.h"

typedef struct cJSON cJSON;

// ---------------------------------------------------------------------------
// Configuration: the fields of a Hugging Face Llama/Qwen2 config.json.

typedef struct ModelConfig {
    char model_type[16];          // "llama" or "qwen2" (written to config.json)
    int vocab_size;               // V
    int hidden_size;              // C
    int intermediate_size;        // F (SwiGLU hidden width)
    int num_hidden_layers;        // L
    int num_attention_heads;      // NH
    int num_key_value_heads;      // NKV (GQA; NH % NKV == 0); default NH
    int head_dim;                 // hd; default C / NH
    int max_position_embeddings;  // RoPE table length and the longest sequence
    float rope_theta;             // default 10000
    float rms_norm_eps;           // default 1e-6
    int tie_word_embeddings;      // 1: lm_head shares model.embed_tokens.weight
    int attention_bias;           // 1: q/k/v projections have a bias (Qwen2)
    int bos_token_id, eos_token_id;  // -1 when unknown; written when >= 0
    // rope_scaling / rope_parameters {"rope_type": "llama3", ...} (Llama 3.1+):
    // inverse frequencies rescaled as transformers' _compute_llama3_parameters.
    int rope_llama3;              // 1 when present (then the four fields below are set)
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;    // original_max_position_embeddings
} ModelConfig;

// Named sizes for the demo, the tests and benchmarks (tied head, no bias).
// vocab_size in a preset is a default; callers set it from their tokenizer
// before model_new. Parameter counts at the preset vocab:
//   "test"  : C 32,  L 2, NH 4, NKV 2, F 64,   T 64,   V 256    (~27K, unit tests)
//   "tiny"  : C 128, L 4, NH 4, NKV 4, F 384,  T 256,  V 4096   (~1.4M)
//   "small" : C 320, L 6, NH 5, NKV 5, F 864,  T 512,  V 8192   (~10.1M)
//   "base"  : C 512, L 8, NH 8, NKV 8, F 1536, T 1024, V 32768  (~44M; bench/train_step)
// Returns 0, or -1 naming the unknown preset and listing the known ones.
int model_config_preset(const char *name, ModelConfig *out, Err *e);
// Comma-separated preset names, for --help texts.
const char *model_config_preset_names(void);
// Parse an HF config.json (Llama or Qwen2 fields). Missing required fields
// or wrong types give "path: field 'hidden_size': missing". Also validates.
int model_config_load(const char *path, ModelConfig *out, Err *e);
// The same from parsed JSON; ctx (e.g. the file name) prefixes errors.
int model_config_from_json(const cJSON *j, const char *ctx, ModelConfig *out, Err *e);
// A new cJSON object with the HF fields (architectures, model_type, torch_dtype
// float32, …); the caller frees with cJSON_Delete.
cJSON *model_config_to_json(const ModelConfig *cfg);
// Write config.json atomically.
int model_config_save(const ModelConfig *cfg, const char *path, Err *e);
// Range and consistency checks (positive sizes, NH % NKV, hd even, …).
int model_config_validate(const ModelConfig *cfg, const char *ctx, Err *e);
// RoPE inverse frequencies inv[j], j < head_dim/2, in float32 as
// transformers computes them (default, or Llama 3 scaling).
void model_config_rope_inv_freq(const ModelConfig *cfg, float *inv);
// Parameter count (tied head counted once).
int64_t model_config_num_params(const ModelConfig *cfg);
// Training FLOPs per token for sequences of length T: 6 * (params excluding
// the embedding lookup) + attention (6 * L * T * NH * hd, causal half of
// 12 L T d), as nanoGPT/llm.c count MFU.
double model_config_train_flops_per_token(const ModelConfig *cfg, int T);
// The head's part of it (6 V C): the training forward runs the head only on
// positions with a target, so a stage counts it for those alone.
double model_config_head_train_flops(const ModelConfig *cfg);

// ---------------------------------------------------------------------------
// The model.

typedef struct Model Model;

// One entry of the parameter table: a checkpoint tensor.
typedef struct ModelTensor {
    char name[64];      // HF name, e.g. "model.layers.3.self_attn.q_proj.weight"
    int ndim;           // 1 or 2
    int64_t shape[2];   // torch layout: (out, in) for linear weights
    size_t offset;      // index of the first element in the flat buffers
    size_t numel;
    int decay;          // 1: weight decay applies by default (2-D projection
                        // weights; not norms, biases or embeddings)
    float *param;       // into model_params(); backend memory
    float *grad;        // into model_grads(); NULL without MODEL_GRADS
} ModelTensor;

enum {
    MODEL_GRADS = 1,  // allocate gradients and training activations
};

// A zero-initialised model (norm weights 1) on the process's backend: the
// CPU unless --device chose another (model/device.h, model_ops_default).
// flags: 0 for inference only (reference policy, rollouts), MODEL_GRADS for
// training. NULL and e filled when cfg is invalid.
Model *model_new(const ModelConfig *cfg, int flags, Err *e);
// The same on another backend (ops from model_ops_cpu() or a CUDA table).
Model *model_new_on(const ModelConfig *cfg, const ModelOps *ops, int flags, Err *e);
void model_free(Model *m);  // NULL is fine
// 0 while the backend is healthy; -1 with its first failure in e ("CUDA op
// attn_forward_kernel on device 0 failed: ...") once a device op failed
// (model/ops.h, error). model_forward and model_decode return it
// themselves; callers of model_backward and model_adamw_step (the training
// loop) check it before they trust or save the weights.
int model_check(const Model *m, Err *e);

// Initialise weights from a seed (same seed, same weights, any thread count):
// normal(0, 0.02) for embeddings and projections, o_proj and down_proj scaled
// by 1/sqrt(2L) (GPT-2/llm.c), norms 1, biases 0.
void model_init_random(Model *m, uint64_t seed);
// Copy all parameters from src (same config). For the frozen reference model.
void model_copy_params(Model *dst, const Model *src);

const ModelConfig *model_config(const Model *m);
const ModelOps *model_ops(const Model *m);
OpCtx *model_opctx(const Model *m);
int model_num_tensors(const Model *m);
ModelTensor *model_tensor(Model *m, int i);               // 0 <= i < model_num_tensors
ModelTensor *model_find_tensor(Model *m, const char *name);  // NULL if absent
size_t model_num_params(const Model *m);                    // elements in the flat buffer
float *model_params(Model *m);                              // (num_params)
float *model_grads(Model *m);                               // (num_params); NULL without MODEL_GRADS

// ---------------------------------------------------------------------------
// Training: the log-prob op pair.

// Forward a batch ids (B, T) (token ids in [0, V); each row is one causal
// sequence, positions 0..T-1; pad on the right). logp (B, T) receives
// log softmax(logits / temperature)[targets] per position; targets[i] < 0
// means "no target": logp 0 and no gradient. targets and logp may both be
// NULL to run only the trunk (then model_hidden gives the final states).
// Saves the activations model_backward needs (buffers grow to the largest
// B*T seen). entropy (B, T) or NULL: per-position entropy of the same
// distribution (no gradient), for RL logging. The head (logits, log-probs,
// entropy) runs only on positions with a target: the others get logp and
// entropy 0 and cost no logits (RL's prompts, SFT's user turns).
// Returns 0, or -1 when an id or target is out of range ("ids[b,t]: token 70000
// >= vocab_size 50304"); nothing is computed then.
int model_forward(Model *m, const int32_t *ids, const int32_t *targets, int B, int T,
                  float *logp, float *entropy, Err *e);
// model_forward with several sequences packed into each row (SFT packing):
// seg (B, T) gives, per position, the position in its row where its sequence
// starts (0 for the first; a run of equal values per sequence). Attention
// stays inside each sequence and positions restart at 0 with each, so a
// packed row computes exactly what its sequences would one by one.
// model_backward follows as usual. seg NULL is model_forward. A seg that is
// not runs of starts: -1 with e ("seg[0,5]: ...").
int model_forward_packed(Model *m, const int32_t *ids, const int32_t *seg, const int32_t *targets, int B, int T,
                         float *logp, float *entropy, Err *e);
// model_forward_packed where each row also opens with a prefix that all its
// sequences share (RL: a prompt once, then its G completions): pre (B) gives
// its length per row, inside the row's first sequence (the prefix itself,
// or longer). Every later sequence of the row attends to the prefix as if
// it stood before it, and its positions go on from pre[b]: each computes
// what prefix + sequence would alone (ops.h, attention_forward). The
// prefix is forwarded and backpropagated once for all of them. A pre past
// the first sequence: -1 with e ("pre[1]: ...").
int model_forward_shared(Model *m, const int32_t *ids, const int32_t *seg, const int32_t *pre, const int32_t *targets,
                         int B, int T, float *logp, float *entropy, Err *e);
// Final hidden states after the last RMSNorm, (B, T, C), of the last
// model_forward (backend memory). For scalar heads (reward/value models).
const float *model_hidden(const Model *m);
// Backward of the last model_forward: dlogp (B, T) = d(loss)/d(logp) (host
// memory; NULL means zero) and dhidden (B, T, C) = d(loss)/d(model_hidden)
// (backend memory; NULL means zero). ACCUMULATES into the parameter
// gradients (so gradient accumulation is just several forward/backward
// pairs). Requires MODEL_GRADS.
void model_backward(Model *m, const float *dlogp, const float *dhidden);
void model_zero_grad(Model *m);
// Divide logits by t before softmax in model_forward (TRL/veRL compute RL
// log-probs at the sampling temperature). Default 1.
void model_set_temperature(Model *m, float t);

// Weighted cross-entropy on model_forward/model_backward:
//   loss = sum_i w_i * -logp_i / sum_i w_i   (w NULL: 1 where targets >= 0)
// *loss (may be NULL) gets the mean loss. When grad_scale != 0 it also runs
// the backward of grad_scale * loss (grad_scale = 1/accum_steps for gradient
// accumulation); grad_scale 0 is evaluation only. A batch whose weights sum to
// 0 gives loss 0 and no gradient. Returns 0 or -1 (bad ids, as model_forward).
int model_xent(Model *m, const int32_t *ids, const int32_t *targets, const float *w, int B, int T,
               float grad_scale, double *loss, Err *e);

// ---------------------------------------------------------------------------
// Optimizer: AdamW, global-norm clipping, LR schedule.

typedef struct ModelAdamWConfig {
    float beta1, beta2, eps;   // defaults 0.9, 0.95, 1e-8
    float weight_decay;        // default 0.1; applied only to tensors with decay=1
    int decay_all;             // 1: also decay norms, biases, embeddings ("unless asked")
    float grad_clip;           // global-norm clip; 0 = none; default 1.0
} ModelAdamWConfig;
ModelAdamWConfig model_adamw_defaults(void);

typedef struct ModelAdamW ModelAdamW;
// Moments for every tensor of m (one allocation, zeroed), t = 0. m needs
// MODEL_GRADS and must outlive the optimizer.
ModelAdamW *model_adamw_new(Model *m, const ModelAdamWConfig *cfg);
void model_adamw_free(ModelAdamW *o);
// Clip the gradient to global norm grad_clip, then one AdamW step at lr.
// *grad_norm (may be NULL) gets the norm before clipping. Does not zero the
// gradients. Returns the step number t after the update. A non-finite norm
// skips the update entirely (weights, moments and t unchanged); the caller
// sees it in *grad_norm.
int64_t model_adamw_step(ModelAdamW *o, float lr, float *grad_norm);
int64_t model_adamw_t(const ModelAdamW *o);
// Global L2 norm of the model's gradient (double accumulation).
double model_grad_norm(Model *m);

typedef enum { MODEL_LR_COSINE, MODEL_LR_LINEAR, MODEL_LR_CONSTANT } ModelLrDecay;
typedef struct ModelLrSchedule {
    float lr;              // peak
    float min_lr;          // floor at the end of the decay
    int64_t warmup_steps;  // linear from lr/warmup to lr over these steps
    int64_t total_steps;   // decay ends here (then min_lr)
    ModelLrDecay decay;
} ModelLrSchedule;
// LR for the 0-based step: (step+1)/warmup * lr during warmup, then cosine
// or linear from lr to min_lr at total_steps.
float model_lr_at(const ModelLrSchedule *s, int64_t step);
// "cosine" | "linear" | "constant" -> 0, or -1 naming the bad value.
int model_lr_decay_parse(const char *s, ModelLrDecay *out, Err *e);

// ---------------------------------------------------------------------------
// Checkpoints: Hugging Face folders.
//
//   DIR/config.json          HF config (model_config_to_json)
//   DIR/model.safetensors    F32, HF tensor names (lm_head.weight only when untied)
//   DIR/tokenizer.json       copied from the caller's tokenizer, when given
//   DIR/optimizer.safetensors  "<name>.exp_avg", "<name>.exp_avg_sq"; metadata step
//   DIR/trainer_state.json   step, tokens, RNG state, caller's data position

typedef struct ModelTrainerState {
    int64_t step;         // optimizer steps completed
    int64_t tokens_seen;
    Rng rng;              // the trainer's RNG, saved bit-exactly (hex words)
    cJSON *extra;         // caller fields (data position, ...); owned, may be NULL
} ModelTrainerState;
void model_trainer_state_free(ModelTrainerState *s);  // frees extra; keeps s

// Write config.json and model.safetensors into dir (created), each atomically.
int model_save(const Model *m, const char *dir, Err *e);
// A model from an HF folder: config.json plus model.safetensors (or sharded
// model.safetensors.index.json); F32, BF16 and F16 tensors load (converted to
// F32). Missing or mis-shaped tensors: "dir/model.safetensors: tensor
// 'model.layers.1.mlp.up_proj.weight': shape [64,32], expected [128,32]".
Model *model_load(const char *dir, int flags, Err *e);
// Load weights from dir into an existing model with the same config.
int model_load_weights(Model *m, const char *dir, Err *e);

// Write a complete checkpoint folder: model files, then (when non-NULL)
// optimizer.safetensors, trainer_state.json and a copy of tokenizer_json.
// Built in "<dir>.tmp" and swapped into place atomically, so a crash leaves
// the previous checkpoint or the new one, never a mix.
int model_checkpoint_save(const char *dir, const Model *m, const ModelAdamW *opt,
                          const ModelTrainerState *st, const char *tokenizer_json, Err *e);
// Restore optimizer moments and t from dir/optimizer.safetensors (names and
// shapes must match the optimizer's model).
int model_adamw_load(ModelAdamW *o, const char *dir, Err *e);
int model_adamw_save(const ModelAdamW *o, const char *path, Err *e);
// Read dir/trainer_state.json into st (st->extra is the caller's to free via
// model_trainer_state_free).
int model_trainer_state_load(const char *dir, ModelTrainerState *st, Err *e);
int model_trainer_state_save(const ModelTrainerState *st, const char *path, Err *e);

// ---------------------------------------------------------------------------
// Inference with a KV cache.

typedef struct KVCache KVCache;
// A cache of n_slots sequences of up to max_len positions each (all layers),
// on m's backend. max_len <= max_position_embeddings. All slots start empty.
// Its keys and values live in a pool of rows that slots share (model/ops.h,
// attention_decode); the pool grows as tokens arrive, up to
// n_slots * max_len rows, and never shrinks.
// A cache belongs to the weights as they are when it is made: its keys and
// values were computed with them, and making a cache (model_kv_new,
// model_kv_cache) is when the backend packs the weights for decoding
// (model/gemm.h). After the weights change (an optimizer step), make or
// re-shape a cache before decoding again.
KVCache *model_kv_new(Model *m, int n_slots, int max_len, Err *e);
void model_kv_free(KVCache *kv);
// The model's own cache, kept across calls (the rollout engine's): reshaped
// to n_slots x max_len with every slot empty; its pool, and the memory
// already touched, are kept (a call with the other element type starts a new
// pool). bf16: keys and values stored as bfloat16, half the memory traffic
// of a decode step, logits off by bf16 rounding (model/ops.h, kv_write);
// model_kv_new's caches are float32. Owned by the model (freed by
// model_free); valid until the next model_kv_cache call. NULL and e filled on
// bad sizes.
KVCache *model_kv_cache(Model *m, int n_slots, int max_len, int bf16, Err *e);
int model_kv_slots(const KVCache *kv);
int model_kv_max_len(const KVCache *kv);
int model_kv_len(const KVCache *kv, int slot);          // positions filled
int model_kv_pool_rows(const KVCache *kv);              // rows allocated in the pool
int model_kv_rows_in_use(const KVCache *kv);            // rows some slot points at
void model_kv_reset(KVCache *kv, int slot);             // length 0
void model_kv_truncate(KVCache *kv, int slot, int len); // len <= current length
// Make dst hold src's filled positions (dst's length becomes src's) by
// sharing src's rows: no keys or values are copied, only table entries.
// Prefill a prompt once, then fork it into the G slots of its group; each
// slot then appends its own rows, and a shared row is freed when no slot
// uses it (so src may be reset while its forks go on).
void model_kv_copy(KVCache *kv, int dst, int src);

// Append tokens to n sequences in one batched call. Sequence i is slot
// slots[i] (distinct within a call) and receives ntok[i] >= 1 tokens, taken in
// order from tokens (concatenated, sum(ntok) in all), at positions
// model_kv_len(slot) onwards; its length grows by ntok[i]. logits receives,
// per sequence, the logits (V, host memory) after its last new token:
// (n, V); with all_logits, every new token's logits: (sum(ntok), V) in order.
// Logits are raw (no temperature). Returns 0, or -1 when a token is out of
// range or a slot would exceed max_len (nothing is appended then).
int model_decode(Model *m, KVCache *kv, int n, const int *slots, const int *ntok,
                 const int32_t *tokens, float *logits, int all_logits, Err *e);
// model_decode (last logits only) that also hands sequence i's logits row
// (V) to each(i, row, ud) as soon as it is computed, on whichever of the
// call's threads computed it: a sampler runs there, in the decode's own
// parallel region, while the row is still in cache. Calls for different i
// may run at once; each i is handed over exactly once, before the return.
typedef void (*ModelLogitsFn)(int i, const float *row, void *ud);
int model_decode_each(Model *m, KVCache *kv, int n, const int *slots, const int *ntok,
                      const int32_t *tokens, float *logits, ModelLogitsFn each, void *ud, Err *e);
