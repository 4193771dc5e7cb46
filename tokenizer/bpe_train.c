// bpe_train.c: training a byte-level BPE tokenizer.
//
//   reasoner tokenizer train --input corpus.jsonl --vocab 32768 --out tok/
//
// Two phases. Counting: the text is pre-split by the regex and each unique
// chunk is counted (per-thread xxh3 hash maps, OpenMP, merged at the end).
// Merging: every unique chunk is a word of byte symbols with a count; pair
// counts live in a hash map with, per pair, the list of words it occurs in,
// and a max-heap picks the most frequent pair. A merge rewrites only the
// words on that pair's list and updates the counts of the pairs around each
// rewritten spot — never a full recount. Heap entries are lazy: an entry
// whose count is stale is re-pushed with the true count when popped (old
// pairs only ever lose counts, so the first up-to-date entry is the true
// maximum). Ties go to the smallest (left id, right id): deterministic.
#include <omp.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/progress.h"
#include "tokenizer/bpe_impl.h"

// ---------------------------------------------------------------------------
// chunk counting

typedef struct ChunkEntry {
    uint64_t hash;
    uint64_t off;  // in ChunkMap.bytes
    uint32_t len;  // 0 marks an empty slot
    int64_t count;
} ChunkEntry;

typedef struct ChunkMap {
    ChunkEntry *slots;
    size_t cap, len;
    Buf bytes;
} ChunkMap;

static void chunkmap_grow(ChunkMap *m) {
    size_t ncap = m->cap ? m->cap * 2 : 1 << 14;
    ChunkEntry *s = xcalloc(ncap, sizeof(ChunkEntry));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].len) continue;
        size_t j = m->slots[i].hash & (ncap - 1);
        while (s[j].len) j = (j + 1) & (ncap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s, m->cap = ncap;
}

static void chunkmap_add(ChunkMap *m, const char *p, size_t n, uint64_t h, int64_t count) {
    if ((m->len + 1) * 2 > m->cap) chunkmap_grow(m);
    size_t j = h & (m->cap - 1);
    for (; m->slots[j].len; j = (j + 1) & (m->cap - 1)) {
        ChunkEntry *c = &m->slots[j];
        if (c->hash == h && c->len == n && memcmp(m->bytes.data + c->off, p, n) == 0) {
            c->count += count;
            return;
        }
    }
    m->slots[j] = (ChunkEntry){h, m->bytes.len, (uint32_t)n, count};
    m->len++;
    buf_append(&m->bytes, p, n);
}

static void chunkmap_free(ChunkMap *m) {
    free(m->slots);
    buf_free(&m->bytes);
    *m = (ChunkMap){0};
}

struct BpeTrainer {
    BpeTrainOpts o;
    char *pattern;
    char **specials;
    pcre2_code *re;
    int nthreads;
    ChunkMap *maps;  // one per thread
    uint64_t bytes;
};

static void count_chunk(void *ctx, const char *p, size_t n) {
    // Chunks longer than this are rare runs (spaces, digits, junk) whose
    // merges are learned from their shorter cousins; skipping them bounds memory.
    if (n > 1 << 16) return;
    chunkmap_add(ctx, p, n, XXH3_64bits(p, n), 1);
}

// Count many texts in parallel; each thread fills its own map.
static void count_texts(BpeTrainer *t, const char *const *texts, const size_t *lens, size_t n) {
#pragma omp parallel num_threads(t->nthreads)
    {
        BpeSplitter sp;
        bpe_splitter_init(&sp, t->re);
        ChunkMap *m = &t->maps[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++) bpe_split(&sp, texts[i], lens[i], count_chunk, m);
        bpe_splitter_free(&sp);
    }
    for (size_t i = 0; i < n; i++) t->bytes += lens[i];
}

// A place near `at` to cut a long text into blocks without changing how it
// splits: after a newline followed by a non-space character.
static size_t block_end(const char *text, size_t n, size_t at) {
    for (size_t i = at; i + 1 < n; i++)
        if (text[i] == '\n' && !strchr(" \t\r\n\v\f", text[i + 1])) return i + 1;
    return n;
}

#define BLOCK_BYTES (1 << 20)

void bpe_trainer_add(BpeTrainer *t, const char *text, size_t n) {
    size_t nb = 0, cap = n / BLOCK_BYTES + 2;
    const char **texts = xmalloc(cap * sizeof(char *));
    size_t *lens = xmalloc(cap * sizeof(size_t));
    for (size_t pos = 0; pos < n;) {
        size_t end = n - pos > BLOCK_BYTES ? block_end(text, n, pos + BLOCK_BYTES) : n;
        if (nb == cap) {
            cap *= 2;
            texts = xrealloc(texts, cap * sizeof(char *));
            lens = xrealloc(lens, cap * sizeof(size_t));
        }
        texts[nb] = text + pos, lens[nb++] = end - pos;
        pos = end;
    }
    count_texts(t, texts, lens, nb);
    free(texts), free(lens);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// JSONL: documents are batched (~64 MB) and counted in parallel.
static int add_jsonl(BpeTrainer *t, const char *path, Err *e) {
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    size_t cap = 1024, n = 0, batch_bytes = 0;
    char **texts = xmalloc(cap * sizeof(char *));
    size_t *lens = xmalloc(cap * sizeof(size_t));
    int rc = 0;
    for (;;) {
        cJSON *rec = NULL;
        int got = jsonl_next(r, &rec, e);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 1) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(rec, "text");
            if (!cJSON_IsString(text)) {
                cJSON_Delete(rec);
                rc = err_set(e, "%s:%ld: field 'text': missing or not a string", path, jsonl_line(r));
                break;
            }
            if (n == cap) {
                cap *= 2;
                texts = xrealloc(texts, cap * sizeof(char *));
                lens = xrealloc(lens, cap * sizeof(size_t));
            }
            lens[n] = strlen(text->valuestring);
            texts[n++] = xstrdup(text->valuestring);
            batch_bytes += lens[n - 1];
            cJSON_Delete(rec);
        }
        if (n && (got == 0 || batch_bytes >= (64u << 20))) {
            count_texts(t, (const char *const *)texts, lens, n);
            for (size_t i = 0; i < n; i++) free(texts[i]);
            n = 0, batch_bytes = 0;
        }
        if (got == 0) break;
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts), free(lens);
    jsonl_close(r);
    return rc;
}

int bpe_trainer_add_file(BpeTrainer *t, const char *path, Err *e) {
    if (ends_with(path, ".jsonl")) return add_jsonl(t, path, e);
    char *data;
    size_t n;
    if (fs_read_all(path, &data, &n, e)) return -1;
    bpe_trainer_add(t, data, n);
    free(data);
    return 0;
}

uint64_t bpe_trainer_bytes(const BpeTrainer *t) { return t->bytes; }

// Fold the per-thread maps into the first.
static void merge_maps(BpeTrainer *t) {
    for (int i = 1; i < t->nthreads; i++) {
        ChunkMap *m = &t->maps[i];
        for (size_t j = 0; j < m->cap; j++) {
            ChunkEntry *c = &m->slots[j];
            if (c->len) chunkmap_add(&t->maps[0], m->bytes.data + c->off, c->len, c->hash, c->count);
        }
        chunkmap_free(m);
    }
}

size_t bpe_trainer_unique_chunks(BpeTrainer *t) {
    merge_maps(t);  // idempotent: the other maps are then empty
    return t->maps[0].len;
}

// ---------------------------------------------------------------------------
// lifetime

BpeTrainer *bpe_trainer_new(const BpeTrainOpts *o, Err *e) {
    const char *const *specials = o->specials ? o->specials : BPE_DEFAULT_SPECIALS;
    int ns = o->specials ? o->n_specials : BPE_N_DEFAULT_SPECIALS;
    if (o->vocab_size < 256 + ns || o->vocab_size > BPE_MAX_VOCAB)
        return err_set(e, "vocab size %d: must be in [%d, %d] (256 bytes + %d specials at least)", o->vocab_size,
                       256 + ns, BPE_MAX_VOCAB, ns),
               NULL;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < i; j++)
            if (!specials[i][0] || strcmp(specials[i], specials[j]) == 0)
                return err_set(e, "special token '%s': empty or listed twice", specials[i]), NULL;
    const char *pattern = o->pattern ? o->pattern : BPE_PATTERN_CL100K;
    pcre2_code *re = bpe_compile_pattern(pattern, "--pattern", e);
    if (!re) return NULL;
    BpeTrainer *t = xcalloc(1, sizeof(BpeTrainer));
    t->o = *o;
    t->re = re;
    t->pattern = xstrdup(pattern);
    t->specials = xcalloc((size_t)ns + 1, sizeof(char *));
    for (int i = 0; i < ns; i++) t->specials[i] = xstrdup(specials[i]);
    t->o.n_specials = ns;
    t->nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
    t->maps = xcalloc((size_t)t->nthreads, sizeof(ChunkMap));
    return t;
}

void bpe_trainer_free(BpeTrainer *t) {
    if (!t) return;
    for (int i = 0; i < t->nthreads; i++) chunkmap_free(&t->maps[i]);
    free(t->maps);
    for (int i = 0; i < t->o.n_specials; i++) free(t->specials[i]);
    free(t->specials);
    free(t->pattern);
    pcre2_code_free(t->re);
    free(t);
}

// ---------------------------------------------------------------------------
// merging

typedef struct Occ {
    uint32_t *w;  // words the pair occurs in (maybe stale, maybe repeated)
    uint32_t n, cap;
} Occ;

typedef struct HeapEnt {
    int64_t count;
    uint64_t key;  // left << 32 | right
} HeapEnt;

typedef struct Merger {
    // words: the symbols of word w are sym[off[w] .. off[w] + len[w])
    int32_t *sym;
    uint64_t *off;
    uint32_t *len;
    int64_t *wcount;
    uint32_t *wstamp;  // the merge step that last rewrote the word
    size_t nwords;
    // pairs: key -> index p; per p its key, count, word list
    uint64_t *mkeys;
    uint32_t *midx;
    size_t mcap;
    uint64_t *pkey;
    int64_t *pcount;
    Occ *occ;
    uint32_t *pstamp;
    size_t npairs, pairs_cap;
    HeapEnt *heap;
    size_t nheap, heap_cap;
    uint32_t *touched;  // pairs that gained counts in this merge
    size_t ntouched, touched_cap;
    uint32_t step;
} Merger;

static inline size_t key_hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(k ^ k >> 29);
}

static void pairmap_rehash(Merger *m) {
    size_t ncap = m->mcap ? m->mcap * 2 : 1 << 16;
    uint64_t *k = xmalloc(ncap * sizeof(uint64_t));
    uint32_t *v = xmalloc(ncap * sizeof(uint32_t));
    memset(k, 0xff, ncap * sizeof(uint64_t));
    for (size_t i = 0; i < m->mcap; i++) {
        if (m->mkeys[i] == BPE_NO_KEY) continue;
        size_t j = key_hash(m->mkeys[i]) & (ncap - 1);
        while (k[j] != BPE_NO_KEY) j = (j + 1) & (ncap - 1);
        k[j] = m->mkeys[i], v[j] = m->midx[i];
    }
    free(m->mkeys), free(m->midx);
    m->mkeys = k, m->midx = v, m->mcap = ncap;
}

// The index of pair `key`, created with count 0 when new.
static uint32_t pair_index(Merger *m, uint64_t key) {
    if ((m->npairs + 1) * 2 > m->mcap) pairmap_rehash(m);
    size_t j = key_hash(key) & (m->mcap - 1);
    for (; m->mkeys[j] != BPE_NO_KEY; j = (j + 1) & (m->mcap - 1))
        if (m->mkeys[j] == key) return m->midx[j];
    if (m->npairs == m->pairs_cap) {
        m->pairs_cap = m->pairs_cap ? m->pairs_cap * 2 : 1 << 16;
        m->pkey = xrealloc(m->pkey, m->pairs_cap * sizeof(uint64_t));
        m->pcount = xrealloc(m->pcount, m->pairs_cap * sizeof(int64_t));
        m->occ = xrealloc(m->occ, m->pairs_cap * sizeof(Occ));
        m->pstamp = xrealloc(m->pstamp, m->pairs_cap * sizeof(uint32_t));
    }
    uint32_t p = (uint32_t)m->npairs++;
    m->pkey[p] = key, m->pcount[p] = 0, m->occ[p] = (Occ){0}, m->pstamp[p] = 0;
    m->mkeys[j] = key, m->midx[j] = p;
    return p;
}

static void occ_push(Occ *o, uint32_t w) {
    if (o->n && o->w[o->n - 1] == w) return;  // words are visited one at a time: no repeats
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 4;
        o->w = xrealloc(o->w, o->cap * sizeof(uint32_t));
    }
    o->w[o->n++] = w;
}

static inline int heap_before(const HeapEnt *a, const HeapEnt *b) {
    return a->count > b->count || (a->count == b->count && a->key < b->key);
}

static void heap_push(Merger *m, HeapEnt it) {
    if (m->nheap == m->heap_cap) {
        m->heap_cap = m->heap_cap ? m->heap_cap * 2 : 1 << 16;
        m->heap = xrealloc(m->heap, m->heap_cap * sizeof(HeapEnt));
    }
    size_t i = m->nheap++;
    while (i > 0 && heap_before(&it, &m->heap[(i - 1) / 2])) m->heap[i] = m->heap[(i - 1) / 2], i = (i - 1) / 2;
    m->heap[i] = it;
}

static HeapEnt heap_pop(Merger *m) {
    HeapEnt *h = m->heap, top = h[0], last = h[--m->nheap];
    size_t i = 0, n = m->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&h[c + 1], &h[c])) c++;
        if (!heap_before(&h[c], &last)) break;
        h[i] = h[c], i = c;
    }
    if (n) h[i] = last;
    return top;
}

static inline uint64_t key_of(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

// Add delta occurrences of (l, r) in word w; pairs that gain are noted so
// that their new counts go on the heap after the merge.
static void pair_change(Merger *m, int32_t l, int32_t r, int64_t delta, uint32_t w) {
    uint32_t p = pair_index(m, key_of(l, r));
    m->pcount[p] += delta;
    if (delta <= 0) return;
    occ_push(&m->occ[p], w);
    if (m->pstamp[p] == m->step) return;
    m->pstamp[p] = m->step;
    if (m->ntouched == m->touched_cap) {
        m->touched_cap = m->touched_cap ? m->touched_cap * 2 : 1024;
        m->touched = xrealloc(m->touched, m->touched_cap * sizeof(uint32_t));
    }
    m->touched[m->ntouched++] = p;
}

static void merger_init(Merger *m, const ChunkMap *cm) {
    *m = (Merger){0};
    m->nwords = cm->len;
    m->off = xmalloc((m->nwords + 1) * sizeof(uint64_t));
    m->len = xmalloc((m->nwords + 1) * sizeof(uint32_t));
    m->wcount = xmalloc((m->nwords + 1) * sizeof(int64_t));
    m->wstamp = xcalloc(m->nwords + 1, sizeof(uint32_t));
    m->sym = xmalloc((cm->bytes.len + 1) * sizeof(int32_t));
    size_t w = 0, at = 0;
    for (size_t j = 0; j < cm->cap; j++) {
        const ChunkEntry *c = &cm->slots[j];
        if (!c->len) continue;
        m->off[w] = at, m->len[w] = c->len, m->wcount[w] = c->count;
        for (uint32_t i = 0; i < c->len; i++) m->sym[at + i] = (uint8_t)cm->bytes.data[c->off + i];
        at += c->len;
        w++;
    }
    for (uint32_t v = 0; v < m->nwords; v++) {
        const int32_t *s = m->sym + m->off[v];
        for (uint32_t i = 0; i + 1 < m->len[v]; i++) {
            uint32_t p = pair_index(m, key_of(s[i], s[i + 1]));
            m->pcount[p] += m->wcount[v];
            occ_push(&m->occ[p], v);
        }
    }
    for (uint32_t p = 0; p < m->npairs; p++) heap_push(m, (HeapEnt){m->pcount[p], m->pkey[p]});
}

static void merger_free(Merger *m) {
    for (size_t p = 0; p < m->npairs; p++) free(m->occ[p].w);
    free(m->sym), free(m->off), free(m->len), free(m->wcount), free(m->wstamp);
    free(m->mkeys), free(m->midx), free(m->pkey), free(m->pcount), free(m->occ), free(m->pstamp);
    free(m->heap), free(m->touched);
}

// Replace each (a, b) in word w by z, left to right, and move the counts of
// the neighbouring pairs: (x, a) -> (x, z) and (b, y) -> (z, y).
static void merge_word(Merger *m, uint32_t w, int32_t a, int32_t b, int32_t z) {
    int32_t *s = m->sym + m->off[w];
    uint32_t n = m->len[w], k = 0;
    int64_t c = m->wcount[w];
    for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (k > 0) pair_change(m, s[k - 1], a, -c, w), pair_change(m, s[k - 1], z, c, w);
            if (i + 2 < n) pair_change(m, b, s[i + 2], -c, w), pair_change(m, z, s[i + 2], c, w);
            pair_change(m, a, b, -c, w);
            s[k++] = z;
            i += 2;
        } else {
            s[k++] = s[i++];
        }
    }
    m->len[w] = k;
}

// The most frequent pair now (count 0 when none is left).
static HeapEnt best_pair(Merger *m) {
    while (m->nheap) {
        HeapEnt it = heap_pop(m);
        int64_t now = m->pcount[pair_index(m, it.key)];
        if (now == it.count) return it;
        if (now > 0) heap_push(m, (HeapEnt){now, it.key});  // stale: counts only fall, so re-queue
    }
    return (HeapEnt){0, 0};
}

// Merge pair `key` into z in every word on its list.
static void apply_merge(Merger *m, uint64_t key, int32_t z) {
    int32_t a = (int32_t)(key >> 32), b = (int32_t)(uint32_t)key;
    uint32_t p = pair_index(m, key);
    m->step++;
    m->ntouched = 0;
    Occ o = m->occ[p];
    m->occ[p] = (Occ){0};
    for (uint32_t i = 0; i < o.n; i++) {
        uint32_t w = o.w[i];
        if (m->wstamp[w] == m->step) continue;
        m->wstamp[w] = m->step;
        merge_word(m, w, a, b, z);
    }
    free(o.w);
    RS_CHECK(m->pcount[p] == 0);
    for (size_t i = 0; i < m->ntouched; i++) {
        uint32_t q = m->touched[i];
        if (m->pcount[q] > 0) heap_push(m, (HeapEnt){m->pcount[q], m->pkey[q]});
    }
}

// ---------------------------------------------------------------------------
// building the tokenizer

// Token bytes -> id while training (two merges can make the same bytes:
// (ab, c) and (a, bc); the second reuses the first's id, as HF does).
typedef struct TokIndex {
    int32_t *slots;
    size_t cap;
} TokIndex;

static int32_t tokindex_find(const TokIndex *ti, const Bpe *b, const char *p, size_t n, size_t *slot) {
    size_t j = XXH3_64bits(p, n) & (ti->cap - 1);
    for (; ti->slots[j] >= 0; j = (j + 1) & (ti->cap - 1)) {
        int32_t id = ti->slots[j];
        if (b->tok_len[id] == n && memcmp(b->arena + b->tok_off[id], p, n) == 0) return id;
    }
    *slot = j;
    return -1;
}

static void tokindex_init(TokIndex *ti, const Bpe *b, int vocab) {
    ti->cap = 1024;
    while (ti->cap < (size_t)vocab * 2) ti->cap *= 2;
    ti->slots = xmalloc(ti->cap * sizeof(int32_t));
    memset(ti->slots, 0xff, ti->cap * sizeof(int32_t));
    for (int32_t id = 0; id < b->n_ids; id++) {
        size_t slot;
        RS_CHECK(tokindex_find(ti, b, b->arena + b->tok_off[id], b->tok_len[id], &slot) < 0);
        ti->slots[slot] = id;
    }
}

// The merge loop: adds tokens and rules to b until `target` ids exist.
static void run_merges(Merger *m, Bpe *b, int32_t target, int64_t min_freq, int verbose) {
    TokIndex ti;
    tokindex_init(&ti, b, target);
    Progress *pg = verbose ? progress_new("bpe merges", target - b->n_ids, "tok") : NULL;
    Buf cat = {0};
    int32_t rank = 0;
    while (b->n_ids < target) {
        HeapEnt best = best_pair(m);
        if (best.count <= 0 || best.count < min_freq) break;
        int32_t l = (int32_t)(best.key >> 32), r = (int32_t)(uint32_t)best.key;
        buf_clear(&cat);
        buf_append(&cat, b->arena + b->tok_off[l], b->tok_len[l]);
        buf_append(&cat, b->arena + b->tok_off[r], b->tok_len[r]);
        size_t slot;
        int32_t id = tokindex_find(&ti, b, cat.data, cat.len, &slot);
        if (id < 0) {
            id = b->n_ids;
            bpe_set_token(b, id, cat.data, cat.len);
            ti.slots[slot] = id;
            if (pg) progress_add(pg, 1);
        }
        bpe_add_rule(b, l, r, rank++, id);
        apply_merge(m, best.key, id);
    }
    progress_finish(pg);
    buf_free(&cat);
    free(ti.slots);
}

Bpe *bpe_trainer_finish(BpeTrainer *t, Err *e) {
    merge_maps(t);
    if (t->maps[0].len == 0) return err_set(e, "no text to train on"), NULL;
    double t0 = rs_now();
    Merger m;
    merger_init(&m, &t->maps[0]);
    if (t->o.verbose)
        log_info("bpe: %zu unique chunks, %zu pairs (%.1f s)", m.nwords, m.npairs, rs_now() - t0);
    Bpe *b = bpe_new_empty();
    b->whole_lookup = 1;
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        bpe_set_token(b, i, &c, 1);
    }
    run_merges(&m, b, t->o.vocab_size - t->o.n_specials, t->o.min_frequency, t->o.verbose);
    merger_free(&m);
    for (int i = 0; i < t->o.n_specials; i++) RS_CHECK(bpe_set_special(b, t->specials[i], b->n_ids, "train", e) == 0);
    if (bpe_set_pattern(b, t->pattern, "train", e) || bpe_index(b, "train", e)) {
        bpe_free(b);
        return NULL;
    }
    return b;
}
