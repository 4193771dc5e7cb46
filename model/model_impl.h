// model_impl.h: the Model struct, shared by the files of model/ only
// (model.c, decode.c, optim.c, checkpoint.c). Not part of the public API.
#pragma once
#include "model/model.h"

// One layer's tensors: indices into the parameter table. The table keeps
// q/k/v weights (and biases) adjacent, and gate/up adjacent, so one matmul
// over the concatenation computes all three (two) projections.
typedef struct LayerIdx {
    int ln1, q_w, k_w, v_w, q_b, k_b, v_b, o_w, ln2, gate_w, up_w, down_w;
} LayerIdx;

// Saved activations of one layer for the backward (N = B*T rows).
typedef struct LayerActs {
    float *x_in;    // (N, C) residual stream entering the layer
    float *ln1;     // (N, C)
    float *rstd1;   // (N)
    float *qkv;     // (N, QKV) after RoPE
    float *att;     // (N, NH*hd)
    float *lse;     // (B, NH, T)
    float *x_mid;   // (N, C) residual after attention
    float *ln2;     // (N, C)
    float *rstd2;   // (N)
    float *gu;      // (N, 2F)
    float *h;       // (N, F)
} LayerActs;

struct Model {
    ModelConfig cfg;
    const ModelOps *ops;
    OpCtx *cx;
    int flags;
    int qkv_w;  // (NH + 2 NKV) * hd

    ModelTensor *tensors;
    int ntensors;
    LayerIdx *layer;  // (L)
    int embed, norm, lm_head;  // lm_head == embed when tied
    size_t nparams;
    float *params, *grads;  // one allocation each, carved by the table

    float *rope_cos, *rope_sin;  // (max_pos, hd/2)
    float inv_temp;

    // Training activations, sized for cap_tokens = B*T rows.
    size_t cap_tokens;
    int B, T;         // of the last model_forward
    int has_head;     // the last model_forward computed log-probs
    int packed;       // the last model_forward had packed rows (seg below is valid)
    int shared;       // ... and a shared prefix per row (pre below is valid)
    float *act_mem;
    LayerActs *acts;  // (L)
    float *x_out;     // (N, C) residual after the last layer
    float *lnf;       // (N, C) final hidden states
    float *rstdf;     // (N)
    float *head_lse;  // (nhead) per head row
    // The head runs only on the positions with a target (RL's prompts and
    // SFT's user turns need no logits): hrow (nhead) are their indices into
    // the N positions, host copy and backend copy (nhead == N: all of them).
    int nhead;
    int32_t *hrow_host, *hrow;
    size_t cap_hrow;
    float *dres, *da, *db;  // backward scratch: (N, C), (N, maxA), (N, maxB)
    int32_t *ids, *targets, *pos, *seg;  // (N), backend copies
    int32_t *pre;                        // (B), backend copy
    float *logits;    // (chunk, V)
    int chunk;        // positions per logits chunk

    // Inference scratch (model_decode), sized for cap_infer rows.
    size_t cap_infer;
    float *inf_mem;
    int32_t *inf_i32;
    KVCache *kv_keep;  // model_kv_cache's cache, kept across calls
    // Decode's weights packed by the backend (ModelOps.pack_weight), or NULL
    // (none there): per layer qkv, o, gate|up, down, then the head; packed
    // again whenever a cache is made (decode.c, pack_weights).
    void **wpack;
    OpCtx **cx_share;  // (n_cx_share) one per thread of a split model_decode
    int n_cx_share;
};

// Positions per logits chunk: about 16M floats of logits at a time.
int model_logits_chunk(const ModelConfig *cfg);
// Pointers to a tensor's parameters / gradients.
static inline float *mp(const Model *m, int i) { return m->tensors[i].param; }
static inline float *mg(const Model *m, int i) { return m->tensors[i].grad; }

// checkpoint.c helpers shared with hub.c: a folder built at tmp put in
// place of dir atomically (renameat2 exchange); a flat folder removed (best
// effort); a file copied atomically; the files a Hub folder keeps beside
// tokenizer.json (tokenizer_config.json, special_tokens_map.json,
// generation_config.json, chat_template.jinja) copied into dst_dir when present.
int model_swap_into_place(const char *tmp, const char *dir, Err *e);
void model_remove_flat_dir(const char *dir);
int model_copy_file(const char *src, const char *dst, Err *e);
int model_copy_tokenizer_meta(const char *tokenizer_json, const char *dst_dir, Err *e);
