// data_text.c: the text primitives every stage shares: UTF-8 decoding and
// validation, the word tokenizer, character classes (punctuation, letters),
// binary sniffing, charset conversion to UTF-8 (iconv), and a small hash map
// for counting lines and n-grams. No Unicode database: the classes cover
// the blocks that matter for web text (see is_punct).
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"
#include "data/pipeline.h"

// ---------------------------------------------------------------------------
// scratch and hash map

DataScratch *data_scratch_new(void) { return xcalloc(1, sizeof(DataScratch)); }

void data_scratch_free(DataScratch *s) {
    if (!s) return;
    free(s->words), free(s->lines), free(s->u32), free(s->u64);
    buf_free(&s->b1), buf_free(&s->b2), buf_free(&s->b3);
    data_hmap_free(&s->map);
    free(s);
}

void *data_grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    *cap = c;
    return xrealloc(p, c * elem);
}

void data_hmap_reset(DataHMap *m, size_t expected) {
    size_t cap = 64;
    while (cap < expected * 2) cap *= 2;
    if (cap > m->cap) {
        free(m->e);
        m->e = xmalloc(cap * sizeof *m->e);
        m->cap = cap;
    }
    // Keep a big table from an earlier document only when it is not far too big.
    if (m->cap > cap * 8) {
        free(m->e);
        m->e = xmalloc(cap * sizeof *m->e);
        m->cap = cap;
    }
    memset(m->e, 0, m->cap * sizeof *m->e);
    m->n = 0;
}

static void hmap_grow(DataHMap *m) {
    DataHMap big = {xcalloc(m->cap * 2, sizeof(DataHEntry)), m->cap * 2, 0};
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].key) continue;
        size_t j = m->e[i].key & (big.cap - 1);
        while (big.e[j].key) j = (j + 1) & (big.cap - 1);
        big.e[j] = m->e[i];
        big.n++;
    }
    free(m->e);
    *m = big;
}

DataHEntry *data_hmap_get(DataHMap *m, uint64_t key, uint32_t idx, int *is_new) {
    if (!key) key = 1;
    if (!m->cap) data_hmap_reset(m, 32);
    if ((m->n + 1) * 4 > m->cap * 3) hmap_grow(m);
    size_t j = (key ^ (key >> 29)) & (m->cap - 1);
    while (m->e[j].key && m->e[j].key != key) j = (j + 1) & (m->cap - 1);
    DataHEntry *e = &m->e[j];
    *is_new = !e->key;
    if (!e->key) {
        e->key = key, e->count = 0, e->first = idx;
        m->n++;
    }
    return e;
}

const DataHEntry *data_hmap_find(const DataHMap *m, uint64_t key) {
    if (!key) key = 1;
    if (!m->cap) return NULL;
    size_t j = (key ^ (key >> 29)) & (m->cap - 1);
    while (m->e[j].key && m->e[j].key != key) j = (j + 1) & (m->cap - 1);
    return m->e[j].key ? &m->e[j] : NULL;
}

void data_hmap_free(DataHMap *m) {
    free(m->e);
    m->e = NULL, m->cap = m->n = 0;
}

// ---------------------------------------------------------------------------
// UTF-8

uint32_t data_u8decode(const char *str, size_t n, size_t i, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[i];
    *len = 1;
    if (c < 0x80) return c;
    size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (!k || n - i <= k) return 0xFFFD;
    uint32_t cp = c & (0x3F >> k);
    for (size_t j = 1; j <= k; j++) {
        if ((s[i + j] & 0xC0) != 0x80) return 0xFFFD;
        cp = cp << 6 | (s[i + j] & 0x3F);
    }
    *len = k + 1;
    return cp;
}

size_t data_u8len(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}


int data_looks_binary(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t m = n < 65536 ? n : 65536, ctrl = 0;
    for (size_t i = 0; i < m; i++) {
        unsigned c = s[i];
        if (c == 0) return 1;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') || c == 0x7F) ctrl++;
    }
    return m > 0 && ctrl * 20 > m;  // over 5% control bytes
}

// ---------------------------------------------------------------------------
// character classes

int data_is_space_cp(uint32_t c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Punctuation and symbols: ASCII punctuation, Latin-1 symbols, general
// punctuation, arrows through dingbats, CJK and full-width punctuation.
int data_is_punct_cp(uint32_t c) {
    if (c < 0x80) return c > ' ' && c < 0x7F && !isalnum((int)c);
    return (c >= 0xA1 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 || c == 0xF7 ||
           (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x20A0 && c <= 0x20CF) ||
           (c >= 0x2100 && c <= 0x214F && c != 0x2102 && c != 0x2107 && !(c >= 0x210A && c <= 0x2113) &&
            c != 0x2115 && !(c >= 0x2119 && c <= 0x211D) && c != 0x2124 && c != 0x2128 && !(c >= 0x212A && c <= 0x212D) &&
            !(c >= 0x212F && c <= 0x2139)) ||
           (c >= 0x2190 && c <= 0x2BFF) || (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) ||
           (c >= 0x3014 && c <= 0x301F) || (c >= 0xFE10 && c <= 0xFE6F) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
           c == 0xFFFD || (c >= 0x1F000 && c <= 0x1FAFF);
}

// Letters: ASCII letters, and every other non-ASCII code point that is not
// space, punctuation, a digit block or a combining mark.
static int is_letter_cp(uint32_t c) {
    if (c < 0x80) return isalpha((int)c);
    if (data_is_space_cp(c) || data_is_punct_cp(c) || c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
    if (c >= 0x300 && c <= 0x36F) return 0;                      // combining marks
    if ((c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) || (c >= 0x966 && c <= 0x96F) ||
        (c >= 0xFF10 && c <= 0xFF19))
        return 0;  // Arabic-Indic, Devanagari, full-width digits
    return 1;
}

int data_is_symbol_token(const char *w, size_t n) {
    size_t i = 0, len;
    while (i < n) {
        if (!data_is_punct_cp(data_u8decode(w, n, i, &len))) return 0;
        i += len;
    }
    return 1;
}

int data_has_letter(const char *w, size_t n) {
    size_t i = 0, len;
    while (i < n) {
        if (is_letter_cp(data_u8decode(w, n, i, &len))) return 1;
        i += len;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// words

static void push_word(DataScratch *s, size_t *nw, size_t off, size_t len) {
    if (!len) return;
    s->words = data_grow(s->words, &s->cap_words, *nw + 1, sizeof *s->words);
    s->words[(*nw)++] = (DataSpan){(uint32_t)off, (uint32_t)len};
}

// Split one whitespace-free chunk [a, b) into leading punctuation, the
// middle, and trailing punctuation.
static void split_chunk(DataScratch *s, size_t *nw, const unsigned char *t, size_t n, size_t a, size_t b) {
    size_t lead = a, len;
    while (lead < b && data_is_punct_cp(data_u8decode((const char *)t, n, lead, &len))) lead += len;
    if (lead == b) {  // all punctuation: one token
        push_word(s, nw, a, b - a);
        return;
    }
    size_t trail = b;  // walk back to the start of each code point
    for (;;) {
        size_t p = trail - 1;
        while (p > lead && (t[p] & 0xC0) == 0x80) p--;
        if (!data_is_punct_cp(data_u8decode((const char *)t, n, p, &len))) break;
        trail = p;
    }
    push_word(s, nw, a, lead - a);
    push_word(s, nw, lead, trail - lead);
    push_word(s, nw, trail, b - trail);
}

size_t data_words(DataScratch *s, const char *text, size_t n, const DataSpan **words) {
    const unsigned char *t = (const unsigned char *)text;
    size_t nw = 0, i = 0, len;
    while (i < n) {
        while (i < n && data_is_space_cp(data_u8decode((const char *)t, n, i, &len))) i += len;
        size_t a = i;
        while (i < n && !data_is_space_cp(data_u8decode((const char *)t, n, i, &len))) i += len;
        if (i > a) split_chunk(s, &nw, t, n, a, i);
    }
    *words = s->words;
    return nw;
}

// ---------------------------------------------------------------------------
// charsets

int data_to_utf8(const char *charset, const char *s, size_t n, Buf *out) {
    buf_clear(out);
    char name[48];
    size_t k = 0;
    for (; charset[k] && k < sizeof name - 1; k++) name[k] = (char)tolower((unsigned char)charset[k]);
    name[k] = 0;
    // WHATWG: these labels all mean windows-1252 on the web.
    const char *from = name;
    if (!strcmp(name, "iso-8859-1") || !strcmp(name, "latin1") || !strcmp(name, "us-ascii") ||
        !strcmp(name, "ascii") || !strcmp(name, "iso8859-1") || !strcmp(name, "l1"))
        from = "WINDOWS-1252";
    else if (!strcmp(name, "gb2312") || !strcmp(name, "x-gbk")) from = "GBK";
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1) return -1;
    buf_reserve(out, n * 2 + 16);
    char *in = (char *)s;
    size_t inleft = n;
    int rc = 0;
    while (inleft > 0) {
        buf_reserve(out, inleft * 3 + 16);
        char *o = out->data + out->len;
        size_t oleft = out->cap - out->len - 1;
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        out->len = (size_t)(o - out->data);
        if (r == (size_t)-1 && errno != E2BIG) {
            rc = -1;
            break;
        }
    }
    out->data[out->len] = 0;
    iconv_close(cd);
    return rc;
}

int data_html_meta_charset(const char *html, size_t n, char *out, size_t cap) {
    size_t m = n < 4096 ? n : 4096;
    static const char key[] = "charset";
    for (size_t i = 0; i + 7 < m; i++) {
        if (strncasecmp(html + i, key, 7) != 0) continue;
        size_t j = i + 7;
        while (j < m && (html[j] == ' ' || html[j] == '\t')) j++;
        if (j >= m || html[j] != '=') continue;
        j++;
        while (j < m && (html[j] == ' ' || html[j] == '"' || html[j] == '\'')) j++;
        size_t k = 0;
        while (j < m && k + 1 < cap && (isalnum((unsigned char)html[j]) || strchr("-_:.", html[j])))
            out[k++] = (char)tolower((unsigned char)html[j++]);
        out[k] = 0;
        if (k) return 1;
    }
    return 0;
}
