// bpe.c: the tokenizer's core — the vocabulary and merge-rule tables, the
// regex splitter, encoding (specials, chunks, merges, a chunk cache),
// decoding and streaming decode. File formats live in bpe_io.c, training in
// bpe_train.c.
//
//   echo 'Hello world' | reasoner tokenizer encode --tokenizer tok.json
#include <omp.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "tokenizer/bpe_impl.h"

const char BPE_PATTERN_CL100K[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|\\p{N}{1,3}+| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*+"
    "|\\s++$|\\s*[\\r\\n]|\\s+(?!\\S)|\\s";
const char BPE_PATTERN_GPT2[] =
    "'(?:[sdmt]|ll|ve|re)| ?\\p{L}++| ?\\p{N}++| ?[^\\s\\p{L}\\p{N}]++|\\s++$|\\s+(?!\\S)|\\s";

const char *const BPE_DEFAULT_SPECIALS[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                            "<tool_call>", "</tool_call>"};
const int BPE_N_DEFAULT_SPECIALS = (int)RS_ARRAY_LEN(BPE_DEFAULT_SPECIALS);

// ---------------------------------------------------------------------------
// id arrays

void bpe_ids_reserve(BpeIds *a, size_t extra) {
    if (a->len + extra <= a->cap) return;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->len + extra) cap *= 2;
    a->data = xrealloc(a->data, cap * sizeof(int32_t));
    a->cap = cap;
}

void bpe_ids_push(BpeIds *a, int32_t id) {
    if (a->len == a->cap) bpe_ids_reserve(a, 1);
    a->data[a->len++] = id;
}

void bpe_ids_free(BpeIds *a) {
    if (!a) return;
    free(a->data);
    *a = (BpeIds){0};
}

// ---------------------------------------------------------------------------
// hash tables

static inline uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

static inline size_t mix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static void pairmap_grow(PairMap *m) {
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = xmalloc(ncap * sizeof(uint64_t));
    BpeRule *vals = xmalloc(ncap * sizeof(BpeRule));
    memset(keys, 0xff, ncap * sizeof(uint64_t));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == BPE_NO_KEY) continue;
        size_t j = mix64(m->keys[i]) & (ncap - 1);
        while (keys[j] != BPE_NO_KEY) j = (j + 1) & (ncap - 1);
        keys[j] = m->keys[i], vals[j] = m->vals[i];
    }
    free(m->keys), free(m->vals);
    m->keys = keys, m->vals = vals, m->cap = ncap;
}

static inline const BpeRule *pairmap_get(const PairMap *m, int32_t l, int32_t r) {
    if (!m->cap) return NULL;
    uint64_t k = pair_key(l, r);
    for (size_t j = mix64(k) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        if (m->keys[j] == k) return &m->vals[j];
        if (m->keys[j] == BPE_NO_KEY) return NULL;
    }
}

void bpe_add_rule(Bpe *b, int32_t left, int32_t right, int32_t rank, int32_t id) {
    PairMap *m = &b->rules;
    if ((m->len + 1) * 2 > m->cap) pairmap_grow(m);
    uint64_t k = pair_key(left, right);
    size_t j = mix64(k) & (m->cap - 1);
    for (; m->keys[j] != BPE_NO_KEY; j = (j + 1) & (m->cap - 1))
        if (m->keys[j] == k) return;
    m->keys[j] = k;
    m->vals[j] = (BpeRule){rank, id};
    m->len++;
}

static inline uint64_t hash_bytes(const char *p, size_t n) { return XXH3_64bits(p, n); }

static inline int tok_is(const Bpe *b, int32_t id, const char *p, size_t n) {
    return b->tok_len[id] == n && memcmp(b->arena + b->tok_off[id], p, n) == 0;
}

static int32_t vocab_find_hashed(const Bpe *b, const char *bytes, size_t len, uint64_t h) {
    const VocabMap *m = &b->vocab;
    if (!m->cap) return -1;
    for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        int32_t id = m->slots[j];
        if (id < 0) return -1;
        if (tok_is(b, id, bytes, len)) return id;
    }
}

int32_t bpe_vocab_find(const Bpe *b, const char *bytes, size_t len) {
    return vocab_find_hashed(b, bytes, len, hash_bytes(bytes, len));
}

// ---------------------------------------------------------------------------
// construction

Bpe *bpe_new_empty(void) {
    Bpe *b = xcalloc(1, sizeof(Bpe));
    for (int i = 0; i < 256; i++) b->byte_id[i] = -1;
    return b;
}

static void grow_ids(Bpe *b, int32_t n) {
    if (n <= b->n_ids) return;
    if (n > b->ids_cap) {
        b->ids_cap = RS_MAX(n, b->ids_cap * 2);
        b->tok_off = xrealloc(b->tok_off, (size_t)b->ids_cap * sizeof(uint32_t));
        b->tok_len = xrealloc(b->tok_len, (size_t)b->ids_cap * sizeof(uint32_t));
        b->special_flag = xrealloc(b->special_flag, (size_t)b->ids_cap);
    }
    for (int32_t i = b->n_ids; i < n; i++) b->tok_off[i] = 0, b->tok_len[i] = UINT32_MAX, b->special_flag[i] = 0;
    b->n_ids = n;
}

void bpe_set_token(Bpe *b, int32_t id, const char *bytes, size_t len) {
    RS_CHECK(id >= 0 && len < UINT32_MAX);
    grow_ids(b, id + 1);
    RS_CHECK(b->tok_len[id] == UINT32_MAX);
    if (b->arena_len + len > b->arena_cap) {
        b->arena_cap = RS_MAX(b->arena_cap * 2, b->arena_len + len + 4096);
        b->arena = xrealloc(b->arena, b->arena_cap);
    }
    RS_CHECK(b->arena_len + len < UINT32_MAX);
    memcpy(b->arena + b->arena_len, bytes, len);
    b->tok_off[id] = (uint32_t)b->arena_len;
    b->tok_len[id] = (uint32_t)len;
    b->arena_len += len;
}

int bpe_index(Bpe *b, const char *name, Err *e) {
    size_t cap = 1024;
    while (cap < (size_t)b->n_ids * 2) cap *= 2;
    free(b->vocab.slots);
    b->vocab.slots = xmalloc(cap * sizeof(int32_t));
    b->vocab.cap = cap;
    memset(b->vocab.slots, 0xff, cap * sizeof(int32_t));
    for (int32_t id = 0; id < b->n_ids; id++) {
        if (b->tok_len[id] == UINT32_MAX || b->special_flag[id]) continue;
        const char *p = b->arena + b->tok_off[id];
        size_t n = b->tok_len[id];
        if (n == 0) return err_set(e, "%s: token %d: empty token", name, id);
        int32_t other = bpe_vocab_find(b, p, n);
        if (other >= 0) return err_set(e, "%s: token %d: same bytes as token %d", name, id, other);
        size_t j = hash_bytes(p, n) & (cap - 1);
        while (b->vocab.slots[j] >= 0) j = (j + 1) & (cap - 1);
        b->vocab.slots[j] = id;
        if (n == 1) b->byte_id[(uint8_t)p[0]] = id;
    }
    for (int i = 0; i < 256; i++)
        if (b->byte_id[i] < 0) return err_set(e, "%s: no token for the single byte 0x%02x", name, i);
    return 0;
}

// Rust's regex (tiktoken) and Hugging Face's take \s to be Unicode
// White_Space; PCRE2's UCP \s also matches U+180E, which Unicode dropped from
// the spaces in 6.3. Spell \s and \S as the property, inside classes too.
static char *portable_pattern(const char *p) {
    Buf b = {0};
    for (; *p; p++) {
        if (p[0] == '\\' && p[1] == 'Q') {  // \Q...\E is literal: copy as is
            const char *end = strstr(p, "\\E");
            size_t n = end ? (size_t)(end - p) + 2 : strlen(p);
            buf_append(&b, p, n);
            p += n - 1;
        } else if (p[0] == '\\' && (p[1] == 's' || p[1] == 'S')) {
            buf_puts(&b, p[1] == 's' ? "\\p{White_Space}" : "\\P{White_Space}");
            p++;
        } else if (p[0] == '\\' && p[1]) {
            buf_append(&b, p, 2);
            p++;
        } else {
            buf_putc(&b, *p);
        }
    }
    return buf_take(&b);
}

pcre2_code *bpe_compile_pattern(const char *pattern, const char *name, Err *e) {
    int ec;
    PCRE2_SIZE off;
    char *portable = portable_pattern(pattern);
    // MATCH_INVALID_UTF: invalid UTF-8 is never matched (it becomes a chunk
    // of its own) instead of failing the whole match. DOLLAR_ENDONLY: `$` is
    // the end of the text, as in Rust's regex (tiktoken's `\s++$`).
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)portable, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &off, NULL);
    free(portable);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(e, "%s: pattern: at offset %zu: %s", name, (size_t)off, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // interpreter fallback when JIT is unavailable
    return re;
}

int bpe_set_pattern(Bpe *b, const char *pattern, const char *name, Err *e) {
    pcre2_code *re = bpe_compile_pattern(pattern, name, e);
    if (!re) return -1;
    pcre2_code_free(b->re);
    free(b->pattern);
    b->re = re;
    b->pattern = xstrdup(pattern);
    return 0;
}

int bpe_set_special(Bpe *b, const char *text, int32_t id, const char *name, Err *e) {
    size_t len = strlen(text);
    if (len == 0) return err_set(e, "%s: special token %d: empty text", name, id);
    if (id < 0) return err_set(e, "%s: special token '%s': negative id %d", name, text, id);
    for (int i = 0; i < b->n_specials; i++)
        if (strcmp(b->specials[i].text, text) == 0)
            return err_set(e, "%s: special token '%s': listed twice", name, text);
    if (id < b->n_ids && b->tok_len[id] != UINT32_MAX) {
        if (!tok_is(b, id, text, len))
            return err_set(e, "%s: special token '%s': id %d already holds another token", name, text, id);
    } else {
        bpe_set_token(b, id, text, len);
    }
    b->special_flag[id] = 1;
    b->specials = xrealloc(b->specials, (size_t)(b->n_specials + 1) * sizeof(BpeSpecial));
    b->specials[b->n_specials++] = (BpeSpecial){xstrdup(text), len, id};
    return 0;
}

void bpe_free(Bpe *b) {
    if (!b) return;
    free(b->tok_off), free(b->tok_len), free(b->arena), free(b->special_flag);
    free(b->vocab.slots);
    free(b->rules.keys), free(b->rules.vals);
    for (int i = 0; i < b->n_specials; i++) free(b->specials[i].text);
    free(b->specials);
    free(b->pattern);
    free(b->chat_template), free(b->chat_override);
    pcre2_code_free(b->re);
    free(b);
}

// ---------------------------------------------------------------------------
// vocabulary queries

int bpe_vocab_size(const Bpe *b) { return b->n_ids; }

int32_t bpe_special_id(const Bpe *b, const char *text) {
    for (int i = 0; i < b->n_specials; i++)
        if (strcmp(b->specials[i].text, text) == 0) return b->specials[i].id;
    return -1;
}

int bpe_n_special(const Bpe *b) { return b->n_specials; }

const char *bpe_special_text(const Bpe *b, int i, int32_t *id) {
    RS_CHECK(i >= 0 && i < b->n_specials);
    if (id) *id = b->specials[i].id;
    return b->specials[i].text;
}

int bpe_is_special(const Bpe *b, int32_t id) { return id >= 0 && id < b->n_ids && b->special_flag[id]; }

const char *bpe_token_bytes(const Bpe *b, int32_t id, size_t *len) {
    if (id < 0 || id >= b->n_ids || b->tok_len[id] == UINT32_MAX) return NULL;
    *len = b->tok_len[id];
    return b->arena + b->tok_off[id];
}

const char *bpe_pattern(const Bpe *b) { return b->pattern; }

int32_t bpe_add_special(Bpe *b, const char *text) {
    int32_t id = bpe_special_id(b, text);
    if (id >= 0) return id;
    id = b->n_ids;
    Err e;
    RS_CHECK(bpe_set_special(b, text, id, "bpe_add_special", &e) == 0);
    return id;
}

// ---------------------------------------------------------------------------
// splitting

void bpe_splitter_init(BpeSplitter *s, const pcre2_code *re) {
    s->re = re;
    s->md = pcre2_match_data_create_from_pattern(re, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    // Deep backtracking on long runs can outgrow JIT's default 32 KiB stack.
    s->jit = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    RS_CHECK(s->md && s->mctx && s->jit);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
    size_t jit_size = 0;
    s->use_jit = pcre2_pattern_info(re, PCRE2_INFO_JITSIZE, &jit_size) == 0 && jit_size > 0;
}

void bpe_splitter_free(BpeSplitter *s) {
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit);
    *s = (BpeSplitter){0};
}

static size_t next_char(const char *t, size_t n, size_t i) {
    i++;
    while (i < n && ((uint8_t)t[i] & 0xC0) == 0x80) i++;
    return i;
}

void bpe_split(BpeSplitter *s, const char *text, size_t n, BpeChunkFn fn, void *ctx) {
    size_t gap = 0, from = 0;  // [gap, from) is not covered by any match yet
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    while (from < n) {
        // pcre2_jit_match skips pcre2_match's checks: it is called once per chunk.
        int rc = s->use_jit ? pcre2_jit_match(s->re, (PCRE2_SPTR)text, n, from, 0, s->md, s->mctx)
                            : pcre2_match(s->re, (PCRE2_SPTR)text, n, from, 0, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        size_t ms, me;
        if (rc < 0) {
            // A resource limit on pathological input: take one character
            // as a chunk and go on, so encoding still covers every byte.
            ms = from, me = next_char(text, n, from);
        } else {
            ms = ov[0], me = ov[1];
        }
        if (me == ms) {  // empty match: not a chunk; look further on
            from = next_char(text, n, ms);
            continue;
        }
        if (ms > gap) fn(ctx, text + gap, ms - gap);
        fn(ctx, text + ms, me - ms);
        gap = from = me;
    }
    if (gap < n) fn(ctx, text + gap, n - gap);
}

// ---------------------------------------------------------------------------
// merging one chunk

// Per-thread scratch for merging and a chunk -> ids cache.
typedef struct CacheEntry {
    uint64_t hash;
    uint32_t key_off, key_len;  // chunk bytes in keys
    uint32_t ids_off, ids_len;  // ids in ids
} CacheEntry;

#define CACHE_SLOTS (1u << 15)
#define CACHE_MAX_CHUNK 256

struct BpeEncoder {
    const Bpe *bpe;
    BpeSplitter split;
    BpeIds *out;  // the current call's output
    // merge scratch
    int32_t *sym, *nxt, *prv;
    int32_t *rank, *rid;  // rank/id of the pair starting at each symbol
    size_t scratch_cap;
    struct HeapItem *heap;
    size_t heap_cap;
    // cache
    CacheEntry *cache;  // CACHE_SLOTS slots; key_len == 0 marks empty
    size_t cache_used;
    Buf keys;
    BpeIds ids;
    Buf nfc;
};

typedef struct HeapItem {
    int32_t rank, pos, left, right;  // left/right: the symbol ids when pushed
} HeapItem;

static void scratch_reserve(BpeEncoder *en, size_t n) {
    if (n <= en->scratch_cap) return;
    size_t cap = RS_MAX(n, en->scratch_cap * 2);
    en->sym = xrealloc(en->sym, cap * sizeof(int32_t));
    en->nxt = xrealloc(en->nxt, cap * sizeof(int32_t));
    en->prv = xrealloc(en->prv, cap * sizeof(int32_t));
    en->rank = xrealloc(en->rank, cap * sizeof(int32_t));
    en->rid = xrealloc(en->rid, cap * sizeof(int32_t));
    en->scratch_cap = cap;
}

static inline void pair_rule(const Bpe *b, int32_t l, int32_t r, int32_t *rank, int32_t *id) {
    const BpeRule *ru = pairmap_get(&b->rules, l, r);
    *rank = ru ? ru->rank : INT32_MAX;
    *id = ru ? ru->id : -1;
}

// Few symbols: rescan for the lowest rank after each merge (tiktoken's way;
// fastest when the chunk is short, as nearly all are).
static void merge_small(BpeEncoder *en, size_t m) {
    const Bpe *b = en->bpe;
    int32_t *sym = en->sym, *rank = en->rank, *rid = en->rid;
    for (size_t i = 0; i + 1 < m; i++) pair_rule(b, sym[i], sym[i + 1], &rank[i], &rid[i]);
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        sym[best] = rid[best];
        size_t tail = m - best - 2;  // symbols after the merged pair; their pairs are one fewer
        memmove(sym + best + 1, sym + best + 2, tail * sizeof(int32_t));
        if (tail > 1) {
            memmove(rank + best + 1, rank + best + 2, (tail - 1) * sizeof(int32_t));
            memmove(rid + best + 1, rid + best + 2, (tail - 1) * sizeof(int32_t));
        }
        m--;
        if (best + 1 < m) pair_rule(b, sym[best], sym[best + 1], &rank[best], &rid[best]);
        else rank[best] = INT32_MAX;
        if (best > 0) pair_rule(b, sym[best - 1], sym[best], &rank[best - 1], &rid[best - 1]);
    }
    for (size_t i = 0; i < m; i++) bpe_ids_push(en->out, sym[i]);
}

static inline int heap_less(const HeapItem *a, const HeapItem *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(BpeEncoder *en, size_t *n, HeapItem it) {
    if (*n == en->heap_cap) {
        en->heap_cap = en->heap_cap ? en->heap_cap * 2 : 256;
        en->heap = xrealloc(en->heap, en->heap_cap * sizeof(HeapItem));
    }
    HeapItem *h = en->heap;
    size_t i = (*n)++;
    while (i > 0 && heap_less(&it, &h[(i - 1) / 2])) h[i] = h[(i - 1) / 2], i = (i - 1) / 2;
    h[i] = it;
}

static HeapItem heap_pop(BpeEncoder *en, size_t *n) {
    HeapItem *h = en->heap, top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c], i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static void push_pair(BpeEncoder *en, size_t *hn, int32_t pos) {
    int32_t r = en->nxt[pos];
    if (r < 0) return;
    int32_t rank, id;
    pair_rule(en->bpe, en->sym[pos], en->sym[r], &rank, &id);
    if (rank != INT32_MAX) heap_push(en, hn, (HeapItem){rank, pos, en->sym[pos], en->sym[r]});
}

// Many symbols (long runs of spaces, digits, invalid bytes): a heap of
// candidate pairs over a linked list, O(n log n). Stale heap items are
// recognised by their recorded symbols and skipped.
static void merge_heap(BpeEncoder *en, size_t m) {
    int32_t *sym = en->sym, *nxt = en->nxt, *prv = en->prv;
    for (size_t i = 0; i < m; i++) nxt[i] = i + 1 < m ? (int32_t)i + 1 : -1, prv[i] = (int32_t)i - 1;
    size_t hn = 0;
    for (size_t i = 0; i + 1 < m; i++) push_pair(en, &hn, (int32_t)i);
    while (hn) {
        HeapItem it = heap_pop(en, &hn);
        int32_t r = nxt[it.pos];
        if (sym[it.pos] != it.left || r < 0 || sym[r] != it.right) continue;  // stale
        int32_t rank, id;
        pair_rule(en->bpe, it.left, it.right, &rank, &id);
        sym[it.pos] = id;
        sym[r] = -1;  // dead
        nxt[it.pos] = nxt[r];
        if (nxt[r] >= 0) prv[nxt[r]] = it.pos;
        if (prv[it.pos] >= 0) push_pair(en, &hn, prv[it.pos]);
        push_pair(en, &hn, it.pos);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i]) bpe_ids_push(en->out, sym[i]);
}

#define SMALL_CHUNK 48

// Merge a chunk that is not a token by itself.
static void encode_chunk_merged(BpeEncoder *en, const char *p, size_t n) {
    const Bpe *b = en->bpe;
    scratch_reserve(en, n);
    for (size_t i = 0; i < n; i++) en->sym[i] = b->byte_id[(uint8_t)p[i]];
    if (n <= SMALL_CHUNK) merge_small(en, n);
    else merge_heap(en, n);
}

static void cache_clear(BpeEncoder *en) {
    memset(en->cache, 0, CACHE_SLOTS * sizeof(CacheEntry));
    en->cache_used = 0;
    buf_clear(&en->keys);
    en->ids.len = 0;
}

// One chunk: a single byte, a whole token (tiktoken, ignore_merges), a
// cached result, or merged (and cached when short).
static void encode_chunk(void *ctx, const char *p, size_t n) {
    BpeEncoder *en = ctx;
    const Bpe *b = en->bpe;
    if (n == 1) {
        bpe_ids_push(en->out, b->byte_id[(uint8_t)p[0]]);
        return;
    }
    uint64_t h = hash_bytes(p, n);
    if (b->whole_lookup) {
        int32_t id = vocab_find_hashed(b, p, n, h);
        if (id >= 0) {
            bpe_ids_push(en->out, id);
            return;
        }
    }
    if (n > CACHE_MAX_CHUNK || !en->cache) {
        encode_chunk_merged(en, p, n);
        return;
    }
    size_t j = h & (CACHE_SLOTS - 1);
    for (;; j = (j + 1) & (CACHE_SLOTS - 1)) {
        CacheEntry *c = &en->cache[j];
        if (c->key_len == 0) break;
        if (c->hash == h && c->key_len == n && memcmp(en->keys.data + c->key_off, p, n) == 0) {
            bpe_ids_reserve(en->out, c->ids_len);
            memcpy(en->out->data + en->out->len, en->ids.data + c->ids_off, c->ids_len * sizeof(int32_t));
            en->out->len += c->ids_len;
            return;
        }
    }
    size_t start = en->out->len;
    encode_chunk_merged(en, p, n);
    if (en->cache_used * 2 >= CACHE_SLOTS) {  // full: start over (cheap, and keeps probes short)
        cache_clear(en);
        j = h & (CACHE_SLOTS - 1);
    }
    size_t k = en->out->len - start;
    en->cache[j] = (CacheEntry){h, (uint32_t)en->keys.len, (uint32_t)n, (uint32_t)en->ids.len, (uint32_t)k};
    en->cache_used++;
    buf_append(&en->keys, p, n);
    bpe_ids_reserve(&en->ids, k);
    memcpy(en->ids.data + en->ids.len, en->out->data + start, k * sizeof(int32_t));
    en->ids.len += k;
}

// ---------------------------------------------------------------------------
// encoding

// The chunk cache (1 MiB) pays off on long texts and on encoders reused
// across calls; one-shot encodes of short texts go without.
#define ONE_SHOT_CACHE_BYTES (64 * 1024)

static BpeEncoder *encoder_new(const Bpe *b, int with_cache) {
    BpeEncoder *en = xcalloc(1, sizeof(BpeEncoder));
    en->bpe = b;
    bpe_splitter_init(&en->split, b->re);
    if (with_cache) en->cache = xcalloc(CACHE_SLOTS, sizeof(CacheEntry));
    return en;
}

BpeEncoder *bpe_encoder_new(const Bpe *b) { return encoder_new(b, 1); }

void bpe_encoder_free(BpeEncoder *en) {
    if (!en) return;
    bpe_splitter_free(&en->split);
    free(en->sym), free(en->nxt), free(en->prv), free(en->rank), free(en->rid);
    free(en->heap);
    free(en->cache);
    buf_free(&en->keys);
    bpe_ids_free(&en->ids);
    buf_free(&en->nfc);
    free(en);
}

// Ordinary text (no specials inside): normalise if asked, split, merge.
static void encode_ordinary(BpeEncoder *en, const char *text, size_t n) {
    if (n == 0) return;
    if (en->bpe->nfc && !bpe_nfc_quick(text, n)) {
        buf_clear(&en->nfc);
        bpe_nfc(text, n, &en->nfc);
        bpe_split(&en->split, en->nfc.data, en->nfc.len, encode_chunk, en);
        return;
    }
    bpe_split(&en->split, text, n, encode_chunk, en);
}

// The leftmost allowed special in text[from..n) (the longest on a tie):
// its index in `allowed` (NULL: all specials), or -1. next[] caches each
// special's next occurrence (SIZE_MAX: none left; refreshed when passed,
// and on the first call, from == 0), so the text is scanned once per special.
static int next_special(const Bpe *b, const int *allowed, int na, size_t *next, const char *text, size_t n,
                        size_t from) {
    int best = -1;
    size_t best_len = 0;
    for (int i = 0; i < na; i++) {
        const BpeSpecial *sp = &b->specials[allowed ? allowed[i] : i];
        if (next[i] != SIZE_MAX && (next[i] < from || from == 0)) {
            const char *hit = memmem(text + from, n - from, sp->text, sp->len);
            next[i] = hit ? (size_t)(hit - text) : SIZE_MAX;
        }
        if (next[i] == SIZE_MAX) continue;
        if (best < 0 || next[i] < next[best] || (next[i] == next[best] && sp->len > best_len)) best = i, best_len = sp->len;
    }
    return best;
}

static size_t encode_with(BpeEncoder *en, const char *text, size_t n, const int *allowed, int na, BpeIds *out) {
    const Bpe *b = en->bpe;
    size_t before = out->len;
    en->out = out;
    if (na == 0) {
        encode_ordinary(en, text, n);
        return out->len - before;
    }
    size_t *next = xcalloc((size_t)na, sizeof(size_t));
    size_t pos = 0;
    for (;;) {
        int k = next_special(b, allowed, na, next, text, n, pos);
        size_t end = k < 0 ? n : next[k];
        encode_ordinary(en, text + pos, end - pos);
        if (k < 0) break;
        const BpeSpecial *sp = &b->specials[allowed ? allowed[k] : k];
        bpe_ids_push(out, sp->id);
        pos = end + sp->len;
    }
    free(next);
    return out->len - before;
}

static size_t encode_mode(BpeEncoder *en, const char *text, size_t n, BpeSpecialMode mode, BpeIds *out) {
    int na = mode == BPE_SPECIAL_ALL ? en->bpe->n_specials : 0;
    return encode_with(en, text, n, NULL, na, out);
}

size_t bpe_encoder_encode(BpeEncoder *en, const char *text, size_t n, BpeSpecialMode mode, BpeIds *out) {
    return encode_mode(en, text, n, mode, out);
}

size_t bpe_encode(const Bpe *b, const char *text, size_t n, BpeSpecialMode mode, BpeIds *out) {
    BpeEncoder *en = encoder_new(b, n >= ONE_SHOT_CACHE_BYTES);
    size_t k = encode_mode(en, text, n, mode, out);
    bpe_encoder_free(en);
    return k;
}

size_t bpe_encode_allowed(const Bpe *b, const char *text, size_t n, const char *const *allowed, int n_allowed,
                          BpeIds *out) {
    int *idx = xmalloc((size_t)(b->n_specials + 1) * sizeof(int));
    int na = 0;
    for (int j = 0; j < b->n_specials; j++)
        for (int i = 0; i < n_allowed; i++)
            if (strcmp(b->specials[j].text, allowed[i]) == 0) {
                idx[na++] = j;
                break;
            }
    BpeEncoder *en = encoder_new(b, n >= ONE_SHOT_CACHE_BYTES);
    size_t k = encode_with(en, text, n, idx, na, out);
    bpe_encoder_free(en);
    free(idx);
    return k;
}

void bpe_encode_batch(const Bpe *b, const char *const *texts, const size_t *lens, size_t n_docs,
                      BpeSpecialMode mode, int threads, BpeIds *outs) {
    int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        BpeEncoder *en = bpe_encoder_new(b);
        // Dynamic: documents differ wildly in length.
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n_docs; i++) encode_mode(en, texts[i], lens[i], mode, &outs[i]);
        bpe_encoder_free(en);
    }
}

// ---------------------------------------------------------------------------
// decoding

static int bad_id(const Bpe *b, int32_t id, Err *e) {
    if (id < 0 || id >= b->n_ids) return err_set(e, "token id %d out of range [0, %d)", id, b->n_ids);
    return err_set(e, "token id %d is not used by this tokenizer", id);
}

int bpe_decode(const Bpe *b, const int32_t *ids, size_t n, Buf *out, Err *e) {
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = bpe_token_bytes(b, ids[i], &len);
        if (!p) return bad_id(b, ids[i], e);
        buf_append(out, p, len);
    }
    return 0;
}

void bpe_stream_init(BpeStream *s, const Bpe *b) { *s = (BpeStream){.bpe = b}; }

// Length of the UTF-8 sequence a lead byte starts (0: not a lead byte), and
// the allowed range of its second byte (which rules out overlong forms and
// surrogates, so that a held-back prefix can really be completed).
static int utf8_lead(uint8_t c, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80, *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

// How many bytes at the end of p[0..n) form an incomplete but completable
// UTF-8 sequence (0..3).
static int incomplete_tail(const uint8_t *p, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = p[n - k], lo, hi;
        if ((c & 0xC0) == 0x80) continue;  // continuation: look further back
        int len = utf8_lead(c, &lo, &hi);
        if (len <= (int)k) return 0;  // complete, or not a lead byte
        if (k >= 2 && (p[n - k + 1] < lo || p[n - k + 1] > hi)) return 0;
        return (int)k;
    }
    return 0;
}

int bpe_stream_feed(BpeStream *s, int32_t id, Buf *out, Err *e) {
    size_t len;
    const char *p = bpe_token_bytes(s->bpe, id, &len);
    if (!p) return bad_id(s->bpe, id, e);
    size_t start = out->len;
    buf_append(out, s->pend, (size_t)s->npend);
    buf_append(out, p, len);
    int keep = incomplete_tail((const uint8_t *)out->data + start, out->len - start);
    out->len -= (size_t)keep;
    memcpy(s->pend, out->data + out->len, (size_t)keep);
    s->npend = keep;
    out->data[out->len] = 0;
    return (int)(out->len - start);
}

int bpe_stream_finish(BpeStream *s, Buf *out) {
    int n = s->npend;
    buf_append(out, s->pend, (size_t)n);
    s->npend = 0;
    return n;
}
