// decode.c: inference with a KV cache. model_decode appends new tokens to
// several cached sequences in one batched pass: every matrix product runs on
// all new tokens of all sequences together, and attention runs per sequence
// against its slot of the cache.
//
//   KVCache *kv = model_kv_new(m, 16, 1024, &err);
//   model_decode(m, kv, 1, (int[]){0}, (int[]){plen}, prompt, logits, 0, &err);  // prefill
//   for (int g = 1; g < 16; g++) model_kv_copy(kv, g, 0);      // fork: shares rows, copies no K/V
//   model_decode(m, kv, 16, slots, ones, next_tokens, logits, 0, &err);         // one step
#include <omp.h>
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
    int S, max_len, L, kvw;  // kvw = NKV * hd elements per position
    int bf16;                // elements are bfloat16 (else float32): model/ops.h, kv_write
    int nblocks;             // pool blocks (nblocks * KV_BLOCK rows)
    void **k, **v;           // (L) pools, each (nblocks * KV_BLOCK, kvw), backend memory
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

static KVCache *kv_new(const Model *m, int n_slots, int max_len, int bf16, Err *e) {
    if (kv_check_shape(m, n_slots, max_len, e) != 0) return NULL;
    KVCache *kv = xcalloc(1, sizeof *kv);
    kv->m = m;
    kv->bf16 = bf16 != 0;
    kv->L = m->cfg.num_hidden_layers;
    kv->kvw = m->cfg.num_key_value_heads * m->cfg.head_dim;
    kv->k = xcalloc((size_t)kv->L, sizeof *kv->k);
    kv->v = xcalloc((size_t)kv->L, sizeof *kv->v);
    kv_set_shape(kv, n_slots, max_len);
    return kv;
}

// Decode's products read weights the backend packed (ModelOps.pack_weight;
// model/gemm.h on the CPU): packed here, whenever a cache is made, since a
// cache's K/V belong to the weights as they were then (model/model.h).
// Reuses the buffers of the previous packing: the shapes never change.
static void pack_weights(Model *m) {
    const ModelOps *o = m->ops;
    if (!o->pack_weight) return;
    const ModelConfig *c = &m->cfg;
    int L = c->num_hidden_layers, C = c->hidden_size, F = c->intermediate_size;
    int A = c->num_attention_heads * c->head_dim;
    if (!m->wpack) m->wpack = xcalloc((size_t)4 * L + 1, sizeof *m->wpack);
    for (int l = 0; l < L; l++) {
        const LayerIdx *x = &m->layer[l];
        void **p = m->wpack + 4 * l;
        p[0] = o->pack_weight(m->cx, p[0], mp(m, x->q_w), C, m->qkv_w);
        p[1] = o->pack_weight(m->cx, p[1], mp(m, x->o_w), A, C);
        p[2] = o->pack_weight(m->cx, p[2], mp(m, x->gate_w), C, 2 * F);
        p[3] = o->pack_weight(m->cx, p[3], mp(m, x->down_w), F, C);
    }
    m->wpack[4 * L] = o->pack_weight(m->cx, m->wpack[4 * L], mp(m, m->lm_head), C, c->vocab_size);
}

KVCache *model_kv_new(Model *m, int n_slots, int max_len, Err *e) {
    KVCache *kv = kv_new(m, n_slots, max_len, 0, e);
    if (kv) pack_weights(m);
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

KVCache *model_kv_cache(Model *m, int n_slots, int max_len, int bf16, Err *e) {
    if (kv_check_shape(m, n_slots, max_len, e) != 0) return NULL;
    if (m->kv_keep && m->kv_keep->bf16 != (bf16 != 0)) model_kv_free(m->kv_keep), m->kv_keep = NULL;
    if (!m->kv_keep && !(m->kv_keep = kv_new(m, n_slots, max_len, bf16, e))) return NULL;
    kv_set_shape(m->kv_keep, n_slots, max_len);
    pack_weights(m);
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
    size_t row_b = (size_t)kv->kvw * (kv->bf16 ? sizeof(uint16_t) : sizeof(float));
    size_t old_b = (size_t)kv->nblocks * KV_BLOCK * row_b, new_b = (size_t)nb * KV_BLOCK * row_b;
    for (int l = 0; l < kv->L; l++) {
        void *k = m->ops->alloc(m->cx, new_b), *v = m->ops->alloc(m->cx, new_b);
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

// One thread's share of a decode call: sequences [s0, s1), whose new tokens
// are rows [r0, r1) of every buffer, and rows [l0, l0 + lrows) of the
// logits scratch.
typedef struct {
    int s0, s1, r0, r1, l0, lrows;
} Share;

// out (N, OC) = inp (N, IC) @ weight^T + bias, with the weight as packed
// (wpack entry `packed`) when the backend packs.
static void linear(Model *m, OpCtx *cx, float *out, const float *inp, int weight, int bias, int packed, int N,
                   int IC, int OC) {
    const float *b = bias >= 0 ? mp(m, bias) : NULL;
    if (m->wpack) m->ops->matmul_packed(cx, out, inp, m->wpack[packed], b, N, IC, OC);
    else m->ops->matmul_forward(cx, out, inp, mp(m, weight), b, N, IC, OC);
}

// Row-wise ops see the share's rows; attention sees the whole buffers and
// the share's segments, whose rows are absolute.
static void decode_layer(Model *m, OpCtx *cx, KVCache *kv, const InferBufs *b, int l, int n, const Share *sh) {
    const ModelOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const LayerIdx *L = &m->layer[l];
    int C = c->hidden_size, F = c->intermediate_size, NH = c->num_attention_heads;
    int NKV = c->num_key_value_heads, hd = c->head_dim, N = sh->r1 - sh->r0, ns = sh->s1 - sh->s0;
    size_t r0 = (size_t)sh->r0;
    float *x = b->x + r0 * C, *ln = b->ln + r0 * C, *tmp = b->tmp + r0 * C, *qkv = b->qkv + r0 * m->qkv_w;
    float *att = b->att + r0 * NH * hd, *gu = b->gu + r0 * 2 * F, *h = b->h + r0 * F;
    const int32_t *seg = b->seg + sh->s0;
    o->rmsnorm_forward(cx, ln, NULL, x, mp(m, L->ln1), N, C, c->rms_norm_eps);
    linear(m, cx, qkv, ln, L->q_w, L->q_b, 4 * l, N, C, m->qkv_w);
    o->rope_forward(cx, qkv, b->pos + r0, m->rope_cos, m->rope_sin, N, NH, NKV, hd);
    o->kv_write(cx, kv->k[l], kv->v[l], qkv, b->row + r0, N, NH, NKV, hd, kv->bf16);
    o->attention_decode(cx, b->att, b->qkv, kv->k[l], kv->v[l], kv->table_dev, seg, seg + n, seg + 2 * n,
                        seg + 3 * n, ns, NH, NKV, hd, kv->max_len, kv->bf16);
    linear(m, cx, tmp, att, L->o_w, -1, 4 * l + 1, N, NH * hd, C);
    o->accumulate(cx, x, tmp, (size_t)N * C);
    o->rmsnorm_forward(cx, ln, NULL, x, mp(m, L->ln2), N, C, c->rms_norm_eps);
    linear(m, cx, gu, ln, L->gate_w, -1, 4 * l + 2, N, C, 2 * F);
    o->swiglu_forward(cx, h, gu, N, F);
    linear(m, cx, tmp, h, L->down_w, -1, 4 * l + 3, N, F, C);
    o->accumulate(cx, x, tmp, (size_t)N * C);
}

// model_decode_each's callback, handed each logits row as it is written.
typedef struct {
    ModelLogitsFn fn;  // NULL: none
    void *ud;
} Each;

// The whole model over one share: embedding, layers, then the logits of the
// rows wanted (every row, or each sequence's last), gathered into the
// share's own rows of tmp and normed there, chunk by chunk through its rows
// of the logits scratch into the caller's array (straight into it when the
// backend's memory is the host's).
static void decode_share(Model *m, OpCtx *cx, KVCache *kv, const InferBufs *b, int n, const int *ntok,
                         float *logits, int all_logits, Each each, const Share *sh) {
    const ModelOps *o = m->ops;
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size, N = sh->r1 - sh->r0;
    size_t r0 = (size_t)sh->r0;
    o->embedding_forward(cx, b->x + r0 * C, b->tok + r0, mp(m, m->embed), N, C);
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) decode_layer(m, cx, kv, b, l, n, sh);
    int rows = all_logits ? N : sh->s1 - sh->s0;
    float *tmp = b->tmp + r0 * C, *ln = b->ln + r0 * C, *lg = b->logits + (size_t)sh->l0 * V;
    if (all_logits) o->copy(cx, tmp, b->x + r0 * C, (size_t)N * C * sizeof(float));
    else
        for (int i = sh->s0, end = sh->r0; i < sh->s1; i++) {
            end += ntok[i];
            o->copy(cx, tmp + (size_t)(i - sh->s0) * C, b->x + (size_t)(end - 1) * C, (size_t)C * sizeof(float));
        }
    o->rmsnorm_forward(cx, ln, NULL, tmp, mp(m, m->norm), rows, C, m->cfg.rms_norm_eps);
    size_t out0 = all_logits ? r0 : (size_t)sh->s0;
    for (int i0 = 0; i0 < rows; i0 += sh->lrows) {
        int r = RS_MIN(sh->lrows, rows - i0);
        float *dst = logits + (out0 + i0) * V;
        linear(m, cx, o->host_memory ? dst : lg, ln + (size_t)i0 * C, m->lm_head, -1, 4 * m->cfg.num_hidden_layers, r,
               C, V);
        if (!o->host_memory) o->download(cx, dst, lg, (size_t)r * V * sizeof(float));
        for (int i = 0; each.fn && i < r; i++)
            each.fn((int)out0 + i0 + i, logits + (out0 + i0 + i) * V, each.ud);
    }
}

// Into how many shares (at most nt) to cut the n sequences: contiguous
// runs of about equal cost, a token's cost being its products (about twice
// the parameters) plus attention over its context. Returns 1 when the
// backend cannot split, or when a share would be too small or too lopsided
// for the split to beat op-level threads: each share reads every weight, so
// a share needs DECODE_SHARE_ROWS rows to use them well.
#define DECODE_SHARE_ROWS 8
static int plan_shares(const Model *m, const KVCache *kv, int n, const int *slots, const int *ntok, int N,
                       int chunk, int nt, Share *sh) {
    if (!m->ops->split_decode || nt < 2 || n < 2 || N < 2 * DECODE_SHARE_ROWS) return 1;
    nt = RS_MIN(nt, RS_MIN(n, RS_MIN(N / DECODE_SHARE_ROWS, chunk)));
    const ModelConfig *c = &m->cfg;
    double per_tok = 2.0 * (double)m->nparams;
    double per_ctx = 4.0 * c->num_hidden_layers * c->num_attention_heads * c->head_dim;
    double total = 0, *cost = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) total += cost[i] = ntok[i] * (per_tok + per_ctx * (kv->len[slots[i]] + ntok[i]));
    int k = 0, s = 0, r = 0;
    double acc = 0, worst = 0;
    for (; k < nt && s < n; k++) {  // share k ends where the running cost passes (k + 1) / nt
        sh[k].s0 = s, sh[k].r0 = r;
        double start = acc;
        while (s < n && (k == nt - 1 || acc + cost[s] / 2 <= total * (k + 1) / nt || s == sh[k].s0))
            acc += cost[s], r += ntok[s++];
        sh[k].s1 = s, sh[k].r1 = r;
        worst = RS_MAX(worst, acc - start);
    }
    free(cost);
    if (k < 2 || worst > 1.25 * total / k) return 1;
    for (int i = 0; i < k; i++) sh[i].lrows = chunk / k, sh[i].l0 = i * (chunk / k);
    return k;
}

// Per-thread op contexts of a split decode, made once.
static void share_contexts(Model *m, int k) {
    if (m->n_cx_share >= k) return;
    m->cx_share = xrealloc(m->cx_share, sizeof(OpCtx *) * (size_t)k);
    for (int i = m->n_cx_share; i < k; i++) m->cx_share[i] = m->ops->ctx_new();
    m->n_cx_share = k;
}

static int decode(Model *m, KVCache *kv, int n, const int *slots, const int *ntok, const int32_t *tokens,
                  float *logits, int all_logits, Each each, Err *e) {
    RS_CHECK(kv->m == m);
    int N = 0;
    if (check_decode(m, kv, n, slots, ntok, tokens, &N, e) != 0) return -1;
    InferBufs b = infer_bufs(m, (size_t)N);
    int chunk = RS_MIN(N, m->chunk), nt = omp_get_max_threads();
    Share *sh = xmalloc(sizeof(Share) * (size_t)RS_MAX(nt, 1));
    int k = plan_shares(m, kv, n, slots, ntok, N, chunk, nt, sh);  // before upload_index moves kv->len
    upload_index(m, kv, &b, n, slots, ntok, tokens, N);
    if (k == 1) {
        sh[0] = (Share){0, n, 0, N, 0, chunk};
        decode_share(m, m->cx, kv, &b, n, ntok, logits, all_logits, (Each){NULL, NULL}, &sh[0]);
        if (each.fn)  // one region for the rows, not one per op: there was no share to do it in
#pragma omp parallel for schedule(dynamic, 1) if (n > 1)
            for (int i = 0; i < n; i++) each.fn(i, logits + (size_t)i * m->cfg.vocab_size, each.ud);
    } else {
        // One parallel region for the whole call: ops inside run on their
        // thread alone (nested regions are inactive), on its own context.
        share_contexts(m, k);
#pragma omp parallel num_threads(k)
        for (int i = omp_get_thread_num(); i < k; i += omp_get_num_threads())  // fewer threads: each takes more
            decode_share(m, m->cx_share[i], kv, &b, n, ntok, logits, all_logits, each, &sh[i]);
    }
    free(sh);
    for (int i = 0; i < n; i++) kv->len[slots[i]] += ntok[i];  // rows were taken in upload_index
    return model_check(m, e);
}

int model_decode(Model *m, KVCache *kv, int n, const int *slots, const int *ntok, const int32_t *tokens,
                 float *logits, int all_logits, Err *e) {
    return decode(m, kv, n, slots, ntok, tokens, logits, all_logits, (Each){NULL, NULL}, e);
}

int model_decode_each(Model *m, KVCache *kv, int n, const int *slots, const int *ntok, const int32_t *tokens,
                      float *logits, ModelLogitsFn each, void *ud, Err *e) {
    return decode(m, kv, n, slots, ntok, tokens, logits, 0, (Each){each, ud}, e);
}
