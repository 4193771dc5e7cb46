// decode.c: inference with a KV cache. model_decode appends new tokens to
// several cached sequences in one batched pass: every matrix product runs on
// all new tokens of all sequences together, and attention runs per sequence
// against its slot of the cache.
//
//   KVCache *kv = model_kv_new(m, 16, 1024, &err);
//   model_decode(m, kv, 1, (int[]){0}, (int[]){plen}, prompt, logits, 0, &err);  // prefill
//   for (int g = 1; g < 16; g++) model_kv_copy(kv, g, 0);      // fork: shares rows, copies no K/V
//   model_decode(m, kv, 16, slots, ones, next_tokens, logits, 0, &err);         // one step
#include <string.h>

#include "common/base.h"
#include "model/model_impl.h"

// The cache is a pool of rows (one position's keys and values in every
// layer) shared by the slots, and a table giving each slot's row per
// position (model/ops.h, attention_decode). A row is referenced by every slot
// whose table holds it and returns to the free list when the last one lets
// go, so model_kv_copy shares a prompt's rows instead of copying them. The
// pool only grows (at most to S * max_len rows): a cache kept across calls
// (model_kv_cache) allocates and first-touches its memory once.
struct KVCache {
    const Model *m;
    int S, max_len, L, kvw;  // kvw = NKV * hd floats per position
    int cap;                 // pool rows
    float **k, **v;          // (L) pools, each (cap, kvw), backend memory
    int32_t *table;          // (S, max_len) pool row per position (host)
    int32_t *table_dev;      // the same on the backend
    int *len;                // (S) positions filled per slot
    int32_t *ref;            // (cap) table entries pointing at each row
    int32_t *free_rows;      // (cap) stack of rows with ref 0
    int nfree;
};

static void kv_set_shape(KVCache *kv, int n_slots, int max_len) {
    const Model *m = kv->m;
    m->ops->free(m->cx, kv->table_dev);
    free(kv->table), free(kv->len);
    kv->S = n_slots, kv->max_len = max_len;
    kv->table = xcalloc((size_t)n_slots * max_len, sizeof *kv->table);
    kv->table_dev = m->ops->alloc(m->cx, (size_t)n_slots * max_len * sizeof *kv->table);
    kv->len = xcalloc((size_t)n_slots, sizeof *kv->len);
    kv->nfree = kv->cap;  // every row free
    for (int r = 0; r < kv->cap; r++) kv->free_rows[r] = kv->cap - 1 - r, kv->ref[r] = 0;
}

static int kv_check_shape(const Model *m, int n_slots, int max_len, Err *e) {
    if (n_slots <= 0 || max_len <= 0)
        return err_set(e, "kv cache: %d slots of length %d: both must be positive", n_slots, max_len);
    if (max_len > m->cfg.max_position_embeddings)
        return err_set(e, "kv cache: length %d exceeds max_position_embeddings %d", max_len,
                       m->cfg.max_position_embeddings);
    return 0;
}

KVCache *model_kv_new(const Model *m, int n_slots, int max_len, Err *e) {
    if (kv_check_shape(m, n_slots, max_len, e) != 0) return NULL;
    KVCache *kv = xcalloc(1, sizeof *kv);
    kv->m = m;
    kv->L = m->cfg.num_hidden_layers;
    kv->kvw = m->cfg.num_key_value_heads * m->cfg.head_dim;
    kv->k = xcalloc((size_t)kv->L, sizeof *kv->k);
    kv->v = xcalloc((size_t)kv->L, sizeof *kv->v);
    kv_set_shape(kv, n_slots, max_len);
    return kv;
}

void model_kv_free(KVCache *kv) {
    if (!kv) return;
    const Model *m = kv->m;
    for (int l = 0; l < kv->L; l++) m->ops->free(m->cx, kv->k[l]), m->ops->free(m->cx, kv->v[l]);
    m->ops->free(m->cx, kv->table_dev);
    free(kv->k), free(kv->v), free(kv->table), free(kv->len), free(kv->ref), free(kv->free_rows);
    free(kv);
}

KVCache *model_kv_cache(Model *m, int n_slots, int max_len, Err *e) {
    if (kv_check_shape(m, n_slots, max_len, e) != 0) return NULL;
    if (!m->kv_keep) return m->kv_keep = model_kv_new(m, n_slots, max_len, e);
    kv_set_shape(m->kv_keep, n_slots, max_len);
    return m->kv_keep;
}

int model_kv_slots(const KVCache *kv) { return kv->S; }
int model_kv_max_len(const KVCache *kv) { return kv->max_len; }
int model_kv_len(const KVCache *kv, int slot) {
    RS_CHECK(slot >= 0 && slot < kv->S);
    return kv->len[slot];
}
int model_kv_pool_rows(const KVCache *kv) { return kv->cap; }
int model_kv_rows_in_use(const KVCache *kv) { return kv->cap - kv->nfree; }

void model_kv_reset(KVCache *kv, int slot) { model_kv_truncate(kv, slot, 0); }
void model_kv_truncate(KVCache *kv, int slot, int len) {
    RS_CHECK(slot >= 0 && slot < kv->S && len >= 0 && len <= kv->len[slot]);
    int32_t *t = kv->table + (size_t)slot * kv->max_len;
    for (int p = len; p < kv->len[slot]; p++)
        if (--kv->ref[t[p]] == 0) kv->free_rows[kv->nfree++] = t[p];
    kv->len[slot] = len;
}

// Upload table entries [lo, hi) of a slot to the backend copy.
static void table_sync(KVCache *kv, int slot, int lo, int hi) {
    size_t at = (size_t)slot * kv->max_len + lo;
    if (hi > lo) kv->m->ops->upload(kv->m->cx, kv->table_dev + at, kv->table + at, (size_t)(hi - lo) * sizeof(int32_t));
}

void model_kv_copy(KVCache *kv, int dst, int src) {
    RS_CHECK(dst >= 0 && dst < kv->S && src >= 0 && src < kv->S);
    if (dst == src) return;
    model_kv_reset(kv, dst);
    const int32_t *s = kv->table + (size_t)src * kv->max_len;
    int32_t *d = kv->table + (size_t)dst * kv->max_len;
    for (int p = 0; p < kv->len[src]; p++) kv->ref[d[p] = s[p]]++;
    kv->len[dst] = kv->len[src];
    table_sync(kv, dst, 0, kv->len[dst]);
}

// Make room for n more rows: grow every layer's pool (copying the rows in
// use) to at least double its size, at most S * max_len rows.
static void kv_reserve(KVCache *kv, int n) {
    if (kv->nfree >= n) return;
    const Model *m = kv->m;
    int64_t need = (int64_t)kv->cap - kv->nfree + n, most = (int64_t)kv->S * kv->max_len;
    int64_t cap = RS_MAX(need, RS_MIN(most, RS_MAX((int64_t)2 * kv->cap, (int64_t)256)));
    RS_CHECK(need <= most && cap <= INT32_MAX);
    size_t old_b = (size_t)kv->cap * kv->kvw * sizeof(float), new_b = (size_t)cap * kv->kvw * sizeof(float);
    for (int l = 0; l < kv->L; l++) {
        float *k = m->ops->alloc(m->cx, new_b), *v = m->ops->alloc(m->cx, new_b);
        if (kv->cap) m->ops->copy(m->cx, k, kv->k[l], old_b), m->ops->copy(m->cx, v, kv->v[l], old_b);
        m->ops->free(m->cx, kv->k[l]), m->ops->free(m->cx, kv->v[l]);
        kv->k[l] = k, kv->v[l] = v;
    }
    kv->ref = xrealloc(kv->ref, (size_t)cap * sizeof *kv->ref);
    kv->free_rows = xrealloc(kv->free_rows, (size_t)cap * sizeof *kv->free_rows);
    for (int64_t r = cap - 1; r >= kv->cap; r--) kv->ref[r] = 0, kv->free_rows[kv->nfree++] = (int32_t)r;
    kv->cap = (int)cap;
}

// ---------------------------------------------------------------------------

typedef struct {
    float *x, *ln, *qkv, *att, *tmp, *gu, *h, *logits;
    int32_t *tok, *pos, *row, *seg;  // row: pool row per token; seg: slot, pos, row, len (4 x n)
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
    b.tok = m->inf_i32, b.pos = b.tok + N, b.row = b.pos + N, b.seg = b.row + N;
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

// Pool rows for the new tokens, then per-token position and row and one
// segment per sequence, uploaded.
static void upload_index(Model *m, KVCache *kv, const InferBufs *b, int n, const int *slots,
                         const int *ntok, const int32_t *tokens, int N) {
    kv_reserve(kv, N);
    int32_t *h = xmalloc((size_t)(3 * N + 4 * n) * sizeof *h), *pos = h + N, *row = pos + N, *seg = row + N;
    memcpy(h, tokens, (size_t)N * sizeof *h);
    for (int i = 0, r = 0; i < n; i++) {
        int s = slots[i], len = kv->len[s];
        int32_t *t = kv->table + (size_t)s * kv->max_len;
        seg[i] = s, seg[n + i] = len, seg[2 * n + i] = r, seg[3 * n + i] = ntok[i];
        for (int j = 0; j < ntok[i]; j++, r++) {
            int32_t pr = kv->free_rows[--kv->nfree];
            kv->ref[pr] = 1;
            t[len + j] = pr;
            pos[r] = len + j, row[r] = pr;
        }
        table_sync(kv, s, len, len + ntok[i]);
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
    o->kv_write(m->cx, kv->k[l], kv->v[l], b->qkv, b->row, N, NH, NKV, hd);
    o->attention_decode(m->cx, b->att, b->qkv, kv->k[l], kv->v[l], kv->table_dev, seg, seg + n, seg + 2 * n,
                        seg + 3 * n, n, NH, NKV, hd, kv->max_len);
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
    for (int i = 0; i < n; i++) kv->len[slots[i]] += ntok[i];  // rows were taken in upload_index
    return 0;
}
