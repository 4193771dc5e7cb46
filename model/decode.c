// decode.c: inference with a KV cache. model_decode appends new tokens to
// several cached sequences in one batched pass: every matrix product runs on
// all new tokens of all sequences together, and attention runs per sequence
// against its slot of the cache.
//
//   KVCache *kv = model_kv_new(m, 16, 1024, &err);
//   model_decode(m, kv, 1, (int[]){0}, (int[]){plen}, prompt, logits, 0, &err);  // prefill
//   for (int g = 1; g < 16; g++) model_kv_copy(kv, g, 0);                       // fork
//   model_decode(m, kv, 16, slots, ones, next_tokens, logits, 0, &err);         // one step
#include <string.h>

#include "common/base.h"
#include "model/model_impl.h"

struct KVCache {
    const Model *m;
    int S, max_len, L, kvw;  // kvw = NKV * hd floats per position
    float *k, *v;            // (L, S, max_len, kvw)
    int *len;                // (S) positions filled per slot
};

KVCache *model_kv_new(const Model *m, int n_slots, int max_len, Err *e) {
    if (n_slots <= 0 || max_len <= 0)
        return err_set(e, "kv cache: %d slots of length %d: both must be positive", n_slots, max_len), NULL;
    if (max_len > m->cfg.max_position_embeddings)
        return err_set(e, "kv cache: length %d exceeds max_position_embeddings %d", max_len,
                       m->cfg.max_position_embeddings), NULL;
    KVCache *kv = xcalloc(1, sizeof *kv);
    kv->m = m;
    kv->S = n_slots, kv->max_len = max_len, kv->L = m->cfg.num_hidden_layers;
    kv->kvw = m->cfg.num_key_value_heads * m->cfg.head_dim;
    size_t n = (size_t)kv->L * n_slots * max_len * kv->kvw;
    kv->k = m->ops->alloc(m->cx, n * sizeof(float));
    kv->v = m->ops->alloc(m->cx, n * sizeof(float));
    kv->len = xcalloc((size_t)n_slots, sizeof *kv->len);
    return kv;
}

void model_kv_free(KVCache *kv) {
    if (!kv) return;
    kv->m->ops->free(kv->m->cx, kv->k);
    kv->m->ops->free(kv->m->cx, kv->v);
    free(kv->len);
    free(kv);
}

int model_kv_slots(const KVCache *kv) { return kv->S; }
int model_kv_max_len(const KVCache *kv) { return kv->max_len; }
int model_kv_len(const KVCache *kv, int slot) {
    RS_CHECK(slot >= 0 && slot < kv->S);
    return kv->len[slot];
}
void model_kv_reset(KVCache *kv, int slot) { model_kv_truncate(kv, slot, 0); }
void model_kv_truncate(KVCache *kv, int slot, int len) {
    RS_CHECK(slot >= 0 && slot < kv->S && len >= 0 && len <= kv->len[slot]);
    kv->len[slot] = len;
}

static size_t layer_off(const KVCache *kv, int l, int slot) {
    return (((size_t)l * kv->S + slot) * kv->max_len) * kv->kvw;
}

void model_kv_copy(KVCache *kv, int dst, int src) {
    RS_CHECK(dst >= 0 && dst < kv->S && src >= 0 && src < kv->S);
    if (dst == src) return;
    size_t bytes = (size_t)kv->len[src] * kv->kvw * sizeof(float);
    for (int l = 0; l < kv->L; l++) {
        kv->m->ops->copy(kv->m->cx, kv->k + layer_off(kv, l, dst), kv->k + layer_off(kv, l, src), bytes);
        kv->m->ops->copy(kv->m->cx, kv->v + layer_off(kv, l, dst), kv->v + layer_off(kv, l, src), bytes);
    }
    kv->len[dst] = kv->len[src];
}

// ---------------------------------------------------------------------------

typedef struct {
    float *x, *ln, *qkv, *att, *tmp, *gu, *h, *logits;
    int32_t *tok, *pos, *slot, *seg;  // seg: slot, pos, row, len (4 x n)
} InferBufs;

static InferBufs infer_bufs(Model *m, size_t N) {
    const ModelConfig *c = &m->cfg;
    size_t C = c->hidden_size, F = c->intermediate_size, A = (size_t)c->num_attention_heads * c->head_dim;
    size_t chunk = RS_MIN(N, (size_t)m->chunk);
    if (N > m->cap_infer) {
        m->ops->free(m->cx, m->inf_mem);
        m->ops->free(m->cx, m->inf_i32);
        m->inf_mem = m->ops->alloc(m->cx, (N * (3 * C + m->qkv_w + A + 3 * F) + chunk * c->vocab_size) * sizeof(float));
        m->inf_i32 = m->ops->alloc(m->cx, 7 * N * sizeof(int32_t));
        m->cap_infer = N;
    }
    InferBufs b;
    float *p = m->inf_mem;
    b.x = p, p += N * C;
    b.ln = p, p += N * C;
    b.tmp = p, p += N * C;
    b.qkv = p, p += N * m->qkv_w;
    b.att = p, p += N * A;
    b.gu = p, p += N * 2 * F;
    b.h = p, p += N * F;
    b.logits = p;
    b.tok = m->inf_i32, b.pos = b.tok + N, b.slot = b.pos + N, b.seg = b.slot + N;
    return b;
}

static int check_decode(const Model *m, const KVCache *kv, int n, const int *slots,
                        const int *ntok, const int32_t *tokens, int *N_out, Err *e) {
    if (n <= 0) return err_set(e, "decode: no sequences");
    char *seen = xcalloc((size_t)kv->S, 1);
    int N = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int s = slots[i];
        if (s < 0 || s >= kv->S) rc = err_set(e, "decode: sequence %d: slot %d outside 0..%d", i, s, kv->S - 1);
        else if (seen[s]) rc = err_set(e, "decode: sequence %d: slot %d given twice", i, s);
        else if (ntok[i] <= 0) rc = err_set(e, "decode: sequence %d: %d new tokens", i, ntok[i]);
        else if (kv->len[s] + ntok[i] > kv->max_len)
            rc = err_set(e, "decode: slot %d: %d + %d tokens exceed the cache length %d", s,
                         kv->len[s], ntok[i], kv->max_len);
        else seen[s] = 1, N += ntok[i];
    }
    free(seen);
    for (int i = 0; i < N && rc == 0; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            rc = err_set(e, "decode: tokens[%d]: %d outside vocab_size %d", i, tokens[i], m->cfg.vocab_size);
    *N_out = N;
    return rc;
}

// Per-token position and slot, and one segment per sequence, uploaded.
static void upload_index(Model *m, const KVCache *kv, const InferBufs *b, int n, const int *slots,
                         const int *ntok, const int32_t *tokens, int N) {
    int32_t *h = xmalloc((size_t)(3 * N + 4 * n) * sizeof *h), *pos = h + N, *slot = pos + N, *seg = slot + N;
    memcpy(h, tokens, (size_t)N * sizeof *h);
    for (int i = 0, row = 0; i < n; i++) {
        seg[i] = slots[i], seg[n + i] = kv->len[slots[i]], seg[2 * n + i] = row, seg[3 * n + i] = ntok[i];
        for (int t = 0; t < ntok[i]; t++, row++) pos[row] = kv->len[slots[i]] + t, slot[row] = slots[i];
    }
    m->ops->upload(m->cx, b->tok, h, (size_t)(3 * N + 4 * n) * sizeof *h);
    free(h);
}

static void decode_layer(Model *m, KVCache *kv, const InferBufs *b, int l, int n, int N) {
    const ModelOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const LayerIdx *L = &m->layer[l];
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_attention_heads;
    int NKV = c->num_key_value_heads, hd = c->head_dim;
    const int32_t *seg = b->seg;
    o->rmsnorm_forward(m->cx, b->ln, NULL, b->x, mp(m, L->ln1), N, C, c->rms_norm_eps);
    o->matmul_forward(m->cx, b->qkv, b->ln, mp(m, L->q_w), L->q_b >= 0 ? mp(m, L->q_b) : NULL, N, C, m->qkv_w);
    o->rope_forward(m->cx, b->qkv, b->pos, m->rope_cos, m->rope_sin, N, NH, NKV, hd);
    float *kc = kv->k + layer_off(kv, l, 0), *vc = kv->v + layer_off(kv, l, 0);
    o->kv_write(m->cx, kc, vc, b->qkv, b->slot, b->pos, N, NH, NKV, hd, kv->max_len);
    o->attention_decode(m->cx, b->att, b->qkv, kc, vc, seg, seg + n, seg + 2 * n, seg + 3 * n, n,
                        NH, NKV, hd, kv->max_len);
    o->matmul_forward(m->cx, b->tmp, b->att, mp(m, L->o_w), NULL, N, NH * hd, C);
    o->accumulate(m->cx, b->x, b->tmp, (size_t)N * C);
    o->rmsnorm_forward(m->cx, b->ln, NULL, b->x, mp(m, L->ln2), N, C, c->rms_norm_eps);
    o->matmul_forward(m->cx, b->gu, b->ln, mp(m, L->gate_w), NULL, N, C, 2 * F);
    o->swiglu_forward(m->cx, b->h, b->gu, N, F);
    o->matmul_forward(m->cx, b->tmp, b->h, mp(m, L->down_w), NULL, N, F, C);
    o->accumulate(m->cx, b->x, b->tmp, (size_t)N * C);
}

int model_decode(Model *m, KVCache *kv, int n, const int *slots, const int *ntok,
                 const int32_t *tokens, float *logits, int all_logits, Err *e) {
    RS_CHECK(kv->m == m);
    int N = 0;
    if (check_decode(m, kv, n, slots, ntok, tokens, &N, e) != 0) return -1;
    const ModelOps *o = m->ops;
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size;
    InferBufs b = infer_bufs(m, (size_t)N);
    upload_index(m, kv, &b, n, slots, ntok, tokens, N);
    o->embedding_forward(m->cx, b.x, b.tok, mp(m, m->embed), N, C);
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) decode_layer(m, kv, &b, l, n, N);
    // Rows whose logits are wanted, gathered into tmp, then normed.
    int rows = all_logits ? N : n;
    if (all_logits) o->copy(m->cx, b.tmp, b.x, (size_t)N * C * sizeof(float));
    else
        for (int i = 0, end = 0; i < n; i++) {
            end += ntok[i];
            o->copy(m->cx, b.tmp + (size_t)i * C, b.x + (size_t)(end - 1) * C, (size_t)C * sizeof(float));
        }
    o->rmsnorm_forward(m->cx, b.ln, NULL, b.tmp, mp(m, m->norm), rows, C, m->cfg.rms_norm_eps);
    for (int i0 = 0; i0 < rows; i0 += m->chunk) {
        int r = RS_MIN(m->chunk, rows - i0);
        o->matmul_forward(m->cx, b.logits, b.ln + (size_t)i0 * C, mp(m, m->lm_head), NULL, r, C, V);
        o->download(m->cx, logits + (size_t)i0 * V, b.logits, (size_t)r * V * sizeof(float));
    }
    for (int i = 0; i < n; i++) kv->len[slots[i]] += ntok[i];
    return 0;
}
