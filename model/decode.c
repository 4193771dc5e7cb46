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
// position (model/ops.h, attention_decode). Rows are handed out in blocks of
// KV_BLOCK consecutive rows (vLLM's pages), so a sequence's keys sit mostly
// side by side in memory (prefetch-friendly), while the table keeps the op's
// view one row per position. A block is referenced by every table entry
// that points into it, plus one while a slot appends into it, and returns to
// the free list when that count drops to 0: model_kv_copy shares a prompt's
// rows instead of copying them. The pool only grows: a cache kept across
// calls (model_kv_cache) allocates and first-touches its memory once.
#define KV_BLOCK 16

struct KVCache {
    const Model *m;
    int S, max_len, L, kvw;  // kvw = NKV * hd floats per position
    int nblocks;             // pool blocks (nblocks * KV_BLOCK rows)
    float **k, **v;          // (L) pools, each (nblocks * KV_BLOCK, kvw), backend memory
    int32_t *table;          // (S, max_len) pool row per position (host)
    int32_t *table_dev;      // the same on the backend
    int *len;                // (S) positions filled per slot
    int32_t *ref;            // (nblocks) references to each block
    int32_t *free_blocks;    // (nblocks) stack of blocks with ref 0
    int nfree;
    int32_t *next;           // (S) next row of the slot's current block; -1 when none
};

static void kv_set_shape(KVCache *kv, int n_slots, int max_len) {
    const Model *m = kv->m;
    m->ops->free(m->cx, kv->table_dev);
    free(kv->table), free(kv->len), free(kv->next);
    kv->S = n_slots, kv->max_len = max_len;
    kv->table = xcalloc((size_t)n_slots * max_len, sizeof *kv->table);
    kv->table_dev = m->ops->alloc(m->cx, (size_t)n_slots * max_len * sizeof *kv->table);
    kv->len = xcalloc((size_t)n_slots, sizeof *kv->len);
    kv->next = xmalloc((size_t)n_slots * sizeof *kv->next);
    for (int i = 0; i < n_slots; i++) kv->next[i] = -1;
    kv->nfree = kv->nblocks;  // every block free
    for (int b = 0; b < kv->nblocks; b++) kv->free_blocks[b] = kv->nblocks - 1 - b, kv->ref[b] = 0;
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
    free(kv->k), free(kv->v), free(kv->table), free(kv->len), free(kv->ref), free(kv->free_blocks);
    free(kv->next);
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
int model_kv_pool_rows(const KVCache *kv) { return kv->nblocks * KV_BLOCK; }
int model_kv_rows_in_use(const KVCache *kv) { return (kv->nblocks - kv->nfree) * KV_BLOCK; }

static void block_unref(KVCache *kv, int32_t b) {
    RS_CHECK(kv->ref[b] > 0);
    if (--kv->ref[b] == 0) kv->free_blocks[kv->nfree++] = b;
}

// The slot stops appending into its current block.
static void drop_block(KVCache *kv, int slot) {
    if (kv->next[slot] >= 0) block_unref(kv, (kv->next[slot] - 1) / KV_BLOCK);
    kv->next[slot] = -1;
}

void model_kv_reset(KVCache *kv, int slot) { model_kv_truncate(kv, slot, 0); }
void model_kv_truncate(KVCache *kv, int slot, int len) {
    RS_CHECK(slot >= 0 && slot < kv->S && len >= 0 && len <= kv->len[slot]);
    int32_t *t = kv->table + (size_t)slot * kv->max_len;
    if (len < kv->len[slot]) drop_block(kv, slot);  // its rows past len are not reused
    for (int p = len; p < kv->len[slot]; p++) block_unref(kv, t[p] / KV_BLOCK);
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
    drop_block(kv, dst);  // dst appends into blocks of its own
    const int32_t *s = kv->table + (size_t)src * kv->max_len;
    int32_t *d = kv->table + (size_t)dst * kv->max_len;
    for (int p = 0; p < kv->len[src]; p++) kv->ref[(d[p] = s[p]) / KV_BLOCK]++;
    kv->len[dst] = kv->len[src];
    table_sync(kv, dst, 0, kv->len[dst]);
}

// Make room for n more free blocks: grow every layer's pool (copying the
// rows in use) to at least double its size.
static void kv_reserve(KVCache *kv, int n) {
    if (kv->nfree >= n) return;
    const Model *m = kv->m;
    int64_t need = (int64_t)kv->nblocks - kv->nfree + n;
    int64_t nb = RS_MAX(need, RS_MAX((int64_t)2 * kv->nblocks, (int64_t)16));
    RS_CHECK(nb * KV_BLOCK <= INT32_MAX);
    size_t row_b = (size_t)kv->kvw * sizeof(float);
    size_t old_b = (size_t)kv->nblocks * KV_BLOCK * row_b, new_b = (size_t)nb * KV_BLOCK * row_b;
    for (int l = 0; l < kv->L; l++) {
        float *k = m->ops->alloc(m->cx, new_b), *v = m->ops->alloc(m->cx, new_b);
        if (kv->nblocks) m->ops->copy(m->cx, k, kv->k[l], old_b), m->ops->copy(m->cx, v, kv->v[l], old_b);
        m->ops->free(m->cx, kv->k[l]), m->ops->free(m->cx, kv->v[l]);
        kv->k[l] = k, kv->v[l] = v;
    }
    kv->ref = xrealloc(kv->ref, (size_t)nb * sizeof *kv->ref);
    kv->free_blocks = xrealloc(kv->free_blocks, (size_t)nb * sizeof *kv->free_blocks);
    for (int64_t b = nb - 1; b >= kv->nblocks; b--) kv->ref[b] = 0, kv->free_blocks[kv->nfree++] = (int32_t)b;
    kv->nblocks = (int)nb;
}

// The next row for a slot: the next one of its current block, or the first
// of a fresh block (kv_reserve made sure there is one).
static int32_t take_row(KVCache *kv, int slot) {
    if (kv->next[slot] < 0 || kv->next[slot] % KV_BLOCK == 0) {
        drop_block(kv, slot);
        RS_CHECK(kv->nfree > 0);
        int32_t b = kv->free_blocks[--kv->nfree];
        kv->ref[b] = 1;  // the slot's hold while it appends
        kv->next[slot] = b * KV_BLOCK;
    }
    int32_t r = kv->next[slot]++;
    kv->ref[r / KV_BLOCK]++;
    return r;
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
    int blocks = 0;  // at most one fresh block per KV_BLOCK new tokens of a sequence
    for (int i = 0; i < n; i++) blocks += (ntok[i] + KV_BLOCK - 1) / KV_BLOCK;
    kv_reserve(kv, blocks);
    int32_t *h = xmalloc((size_t)(3 * N + 4 * n) * sizeof *h), *pos = h + N, *row = pos + N, *seg = row + N;
    memcpy(h, tokens, (size_t)N * sizeof *h);
    for (int i = 0, r = 0; i < n; i++) {
        int s = slots[i], len = kv->len[s];
        int32_t *t = kv->table + (size_t)s * kv->max_len;
        seg[i] = s, seg[n + i] = len, seg[2 * n + i] = r, seg[3 * n + i] = ntok[i];
        for (int j = 0; j < ntok[i]; j++, r++) {
            int32_t pr = take_row(kv, s);
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
    return model_check(m, e);
}
