// data_urlfilter.c: the URL stage as datatrove's URLFilter does it, and the
// Aho-Corasick automaton it uses for banned sub-words. A document is removed
// when its host or any parent domain is blocklisted, its exact URL is
// blocklisted, a URL token (split at non-alphanumerics) is a hard-banned
// word, soft_word_threshold distinct tokens are soft-banned words, or a
// banned sub-word occurs anywhere in the URL with everything but letters
// and digits removed ("p-o-r-n" → "porn"). Lists come inline from the config
// or from files (one entry a line, '#' starts a comment).
#include <ctype.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "data/pipeline.h"

// ---------------------------------------------------------------------------
// Aho-Corasick: a full DFA over byte classes (the bytes that occur in some
// pattern, plus one class for every other byte), so a scan is one table
// lookup per byte. Memory: nodes × classes × 4 bytes.

struct DataAC {
    char **pats;
    size_t *lens;
    int *tags, npats;
    int nclass, nnodes, built;
    uint16_t cls[256];
    int32_t *delta;     // nnodes × nclass
    int32_t *out;       // first pattern ending at the node, -1 none
    int32_t *pat_next;  // next pattern with the same bytes, -1 none
    int32_t *dict;      // nearest proper suffix node with an output, -1 none
};

DataAC *data_ac_new(void) { return xcalloc(1, sizeof(DataAC)); }

void data_ac_add(DataAC *a, const char *pat, size_t n, int tag) {
    RS_CHECK(!a->built && n > 0);
    a->pats = xrealloc(a->pats, (size_t)(a->npats + 1) * sizeof *a->pats);
    a->lens = xrealloc(a->lens, (size_t)(a->npats + 1) * sizeof *a->lens);
    a->tags = xrealloc(a->tags, (size_t)(a->npats + 1) * sizeof *a->tags);
    a->pats[a->npats] = xstrndup(pat, n);
    a->lens[a->npats] = n;
    a->tags[a->npats++] = tag;
}

static int32_t ac_new_node(DataAC *a, int *cap) {
    if (a->nnodes == *cap) {
        *cap *= 2;
        a->delta = xrealloc(a->delta, (size_t)*cap * (size_t)a->nclass * sizeof *a->delta);
        a->out = xrealloc(a->out, (size_t)*cap * sizeof *a->out);
        a->dict = xrealloc(a->dict, (size_t)*cap * sizeof *a->dict);
    }
    int32_t v = a->nnodes++;
    for (int c = 0; c < a->nclass; c++) a->delta[(size_t)v * a->nclass + c] = -1;
    a->out[v] = a->dict[v] = -1;
    return v;
}

void data_ac_build(DataAC *a) {
    RS_CHECK(!a->built);
    a->built = 1;
    memset(a->cls, 0, sizeof a->cls);
    a->nclass = 1;  // class 0: bytes in no pattern
    for (int p = 0; p < a->npats; p++)
        for (size_t i = 0; i < a->lens[p]; i++) {
            uint8_t b = (uint8_t)a->pats[p][i];
            if (!a->cls[b]) a->cls[b] = (uint16_t)a->nclass++;
        }
    int cap = 64;
    a->delta = xmalloc((size_t)cap * (size_t)a->nclass * sizeof *a->delta);
    a->out = xmalloc((size_t)cap * sizeof *a->out);
    a->dict = xmalloc((size_t)cap * sizeof *a->dict);
    a->pat_next = xmalloc((size_t)(a->npats + 1) * sizeof *a->pat_next);
    ac_new_node(a, &cap);
    for (int p = 0; p < a->npats; p++) {  // the trie
        int32_t v = 0;
        for (size_t i = 0; i < a->lens[p]; i++) {
            size_t k = (size_t)v * a->nclass + a->cls[(uint8_t)a->pats[p][i]];
            if (a->delta[k] < 0) {
                int32_t w = ac_new_node(a, &cap);
                a->delta[(size_t)v * a->nclass + a->cls[(uint8_t)a->pats[p][i]]] = w;
            }
            v = a->delta[(size_t)v * a->nclass + a->cls[(uint8_t)a->pats[p][i]]];
        }
        a->pat_next[p] = a->out[v];
        a->out[v] = p;
    }
    // Breadth-first: fail links become DFA transitions and dictionary links.
    int32_t *queue = xmalloc((size_t)a->nnodes * sizeof *queue), *fail = xcalloc((size_t)a->nnodes, sizeof *fail);
    int head = 0, tail = 0;
    for (int c = 0; c < a->nclass; c++) {
        int32_t *d = &a->delta[c];
        if (*d < 0) *d = 0;
        else fail[*d] = 0, queue[tail++] = *d;
    }
    while (head < tail) {
        int32_t v = queue[head++];
        a->dict[v] = a->out[fail[v]] >= 0 ? fail[v] : a->dict[fail[v]];
        for (int c = 0; c < a->nclass; c++) {
            int32_t *d = &a->delta[(size_t)v * a->nclass + c];
            int32_t via_fail = a->delta[(size_t)fail[v] * a->nclass + c];
            if (*d < 0) *d = via_fail;
            else fail[*d] = via_fail, queue[tail++] = *d;
        }
    }
    free(queue);
    free(fail);
}

int data_ac_scan(const DataAC *a, const char *text, size_t n,
                 int (*on_match)(void *ctx, int tag, size_t end, size_t len), void *ctx) {
    RS_CHECK(a->built);
    if (!a->npats) return 0;
    int32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = a->delta[(size_t)v * a->nclass + a->cls[(uint8_t)text[i]]];
        for (int32_t u = a->out[v] >= 0 ? v : a->dict[v]; u >= 0; u = a->dict[u])
            for (int32_t p = a->out[u]; p >= 0; p = a->pat_next[p]) {
                int rc = on_match(ctx, a->tags[p], i + 1, a->lens[p]);
                if (rc) return rc;
            }
    }
    return 0;
}

void data_ac_free(DataAC *a) {
    if (!a) return;
    for (int p = 0; p < a->npats; p++) free(a->pats[p]);
    free(a->pats), free(a->lens), free(a->tags);
    free(a->delta), free(a->out), free(a->pat_next), free(a->dict);
    free(a);
}

// ---------------------------------------------------------------------------
// A string set (open addressing on xxh3) for domains, URLs and words.

typedef struct StrSet {
    char **keys;
    int *vals;
    size_t cap, n;
} StrSet;

static size_t set_slot(const StrSet *s, const char *k, size_t n) {
    size_t j = XXH3_64bits(k, n) & (s->cap - 1);
    while (s->keys[j] && !(strlen(s->keys[j]) == n && !memcmp(s->keys[j], k, n))) j = (j + 1) & (s->cap - 1);
    return j;
}

static void set_add(StrSet *s, const char *k, size_t n, int val) {
    if ((s->n + 1) * 2 > s->cap) {
        StrSet big = {xcalloc(s->cap ? s->cap * 2 : 64, sizeof(char *)), xcalloc(s->cap ? s->cap * 2 : 64, sizeof(int)),
                      s->cap ? s->cap * 2 : 64, s->n};
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = set_slot(&big, s->keys[i], strlen(s->keys[i]));
                big.keys[j] = s->keys[i], big.vals[j] = s->vals[i];
            }
        free(s->keys), free(s->vals);
        *s = big;
    }
    size_t j = set_slot(s, k, n);
    if (s->keys[j]) return;
    s->keys[j] = xstrndup(k, n);
    s->vals[j] = val;
    s->n++;
}

// The value stored for k, or -1.
static int set_get(const StrSet *s, const char *k, size_t n) {
    if (!s->n) return -1;
    size_t j = set_slot(s, k, n);
    return s->keys[j] ? s->vals[j] : -1;
}

static void set_free(StrSet *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
    free(s->keys), free(s->vals);
    memset(s, 0, sizeof *s);
}

// ---------------------------------------------------------------------------
// the filter

struct DataUrlFilter {
    StrSet domains, urls, hard, soft;
    DataAC *sub;
    int soft_threshold;
};

static void add_lowercase(StrSet *s, const char *k, int val) {
    size_t n = strlen(k);
    char *low = xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)k[i]);
    while (n && low[n - 1] == '.') low[--n] = 0;  // "example.com." is example.com
    if (n) set_add(s, low, n, val);
    free(low);
}

// Read a list file: one entry a line, '#' comments, surrounding space trimmed.
static int load_list(const DataConfig *c, const char *rel, StrSet *s, int lower, Err *e) {
    char *path = data_config_path(c, rel), *text;
    size_t n;
    int rc = fs_read_all(path, &text, &n, e);
    if (rc) {
        err_wrap(e, "url_filter list");
        free(path);
        return -1;
    }
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        while (*line == ' ' || *line == '\t') line++;
        size_t k = strlen(line);
        while (k && (line[k - 1] == ' ' || line[k - 1] == '\t' || line[k - 1] == '\r')) line[--k] = 0;
        if (!k) continue;
        if (lower) add_lowercase(s, line, 1);
        else set_add(s, line, k, 1);
    }
    free(text);
    free(path);
    return 0;
}

DataUrlFilter *data_urlfilter_new(const DataConfig *c, Err *e) {
    DataUrlFilter *f = xcalloc(1, sizeof *f);
    f->soft_threshold = (int)c->url.soft_word_threshold;
    for (int i = 0; i < c->url.domain_files.n; i++)
        if (load_list(c, c->url.domain_files.items[i], &f->domains, 1, e)) goto fail;
    for (int i = 0; i < c->url.url_files.n; i++)
        if (load_list(c, c->url.url_files.items[i], &f->urls, 0, e)) goto fail;
    for (int i = 0; i < c->url.domains.n; i++) add_lowercase(&f->domains, c->url.domains.items[i], 1);
    for (int i = 0; i < c->url.urls.n; i++) set_add(&f->urls, c->url.urls.items[i], strlen(c->url.urls.items[i]), 1);
    for (int i = 0; i < c->url.banned_words.n; i++) add_lowercase(&f->hard, c->url.banned_words.items[i], i);
    for (int i = 0; i < c->url.soft_banned_words.n; i++) add_lowercase(&f->soft, c->url.soft_banned_words.items[i], i);
    f->sub = data_ac_new();
    for (int i = 0; i < c->url.banned_subwords.n; i++) {
        const char *w = c->url.banned_subwords.items[i];
        char norm[256];
        size_t k = 0;
        for (; *w && k < sizeof norm; w++)
            if (isalnum((unsigned char)*w)) norm[k++] = (char)tolower((unsigned char)*w);
        if (k) data_ac_add(f->sub, norm, k, i);
    }
    data_ac_build(f->sub);
    return f;
fail:
    data_urlfilter_free(f);
    return NULL;
}

void data_urlfilter_free(DataUrlFilter *f) {
    if (!f) return;
    set_free(&f->domains), set_free(&f->urls), set_free(&f->hard), set_free(&f->soft);
    data_ac_free(f->sub);
    free(f);
}

// The host of a URL, lowercase, without user info, port or trailing dot.
static size_t url_host(const char *url, size_t n, char *out, size_t cap) {
    const char *p = url, *end = url + n;
    const char *scheme = memmem(url, n, "://", 3);
    if (scheme) p = scheme + 3;
    const char *h = p;
    while (p < end && *p != '/' && *p != '?' && *p != '#') p++;
    const char *at = memrchr(h, '@', (size_t)(p - h));
    if (at) h = at + 1;
    const char *colon = memchr(h, ':', (size_t)(p - h));
    if (colon) p = colon;
    size_t k = 0;
    for (; h < p && k + 1 < cap; h++) out[k++] = (char)tolower((unsigned char)*h);
    while (k && out[k - 1] == '.') k--;
    out[k] = 0;
    return k;
}

static int domain_blocked(const DataUrlFilter *f, const char *url, size_t n) {
    if (!f->domains.n) return 0;
    char host[512];
    size_t k = url_host(url, n, host, sizeof host);
    for (const char *d = host; k && d && *d;) {  // host, then each parent domain
        if (set_get(&f->domains, d, strlen(d)) >= 0) return 1;
        d = strchr(d, '.');
        if (d) d++;
    }
    return 0;
}

static int on_subword(void *ctx, int tag, size_t end, size_t len) { return 1; }

DataRule data_urlfilter_check(const DataUrlFilter *f, const char *url, size_t n) {
    if (!n) return DATA_R_NONE;
    if (domain_blocked(f, url, n)) return DATA_R_URL_DOMAIN;
    if (set_get(&f->urls, url, n) >= 0) return DATA_R_URL_URL;
    // Tokens: maximal runs of letters and digits, lowercase.
    char tok[128], norm[4096];
    size_t nn = 0;
    int soft_seen[64], nsoft = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && !isalnum((unsigned char)url[i])) i++;
        size_t k = 0;
        for (; i < n && isalnum((unsigned char)url[i]); i++) {
            char ch = (char)tolower((unsigned char)url[i]);
            if (k < sizeof tok) tok[k++] = ch;
            if (nn < sizeof norm) norm[nn++] = ch;
        }
        if (!k || k == sizeof tok) continue;
        if (set_get(&f->hard, tok, k) >= 0) return DATA_R_URL_HARD_WORD;
        int s = set_get(&f->soft, tok, k);
        if (s < 0) continue;
        int dup = 0;
        for (int j = 0; j < nsoft; j++) dup |= soft_seen[j] == s;
        if (!dup && nsoft < 64) soft_seen[nsoft++] = s;
    }
    if (f->soft_threshold > 0 && nsoft >= f->soft_threshold) return DATA_R_URL_SOFT_WORDS;
    if (data_ac_scan(f->sub, norm, nn, on_subword, NULL)) return DATA_R_URL_SUBWORD;
    return DATA_R_NONE;
}
