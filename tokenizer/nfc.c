// nfc.c: Unicode NFC normalisation (UAX #15) for tokenizer.json files that
// ask for it (Qwen2.5's "normalizer": {"type": "NFC"}): canonical
// decomposition, canonical ordering, canonical composition. The data comes
// from nfc_tables.h (generated from Python's unicodedata by
// tokenizer/gen_nfc_tables.py). Invalid UTF-8 bytes pass through unchanged
// and block composition across them.
#include <string.h>

#include "common/base.h"
#include "tokenizer/bpe_impl.h"
#include "tokenizer/nfc_tables.h"

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19, VCOUNT = 21, TCOUNT = 28 };
enum { NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };
#define RAW_BYTE 0x80000000u  // an invalid byte carried through as RAW_BYTE | byte

static int ccc_of(uint32_t cp) {
    return cp >= 0x110000 ? 0 : nfc_ccc_blocks[nfc_ccc_index[cp >> 8]][cp & 255];
}

static int maybe_changes(uint32_t cp) {
    return cp < 0x110000 && (nfc_maybe_blocks[nfc_maybe_index[cp >> 8]][(cp >> 3) & 31] >> (cp & 7) & 1);
}

// Decode one code point at p[0..n); invalid bytes come back as RAW_BYTE|byte.
static uint32_t utf8_next(const uint8_t *p, size_t n, size_t *used) {
    uint8_t c = p[0];
    *used = 1;
    if (c < 0x80) return c;
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 0) : c >= 0xC2 ? 2 : 0;
    if (!len || (size_t)len > n) return RAW_BYTE | c;
    uint32_t cp = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return RAW_BYTE | c;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return RAW_BYTE | c;
    *used = (size_t)len;
    return cp;
}

static void utf8_put(Buf *out, uint32_t cp) {
    char s[4];
    if (cp & RAW_BYTE) buf_putc(out, (char)(cp & 0xFF));
    else if (cp < 0x80) buf_putc(out, (char)cp);
    else if (cp < 0x800) s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F)), buf_append(out, s, 2);
    else if (cp < 0x10000)
        s[0] = (char)(0xE0 | cp >> 12), s[1] = (char)(0x80 | (cp >> 6 & 0x3F)), s[2] = (char)(0x80 | (cp & 0x3F)),
        buf_append(out, s, 3);
    else
        s[0] = (char)(0xF0 | cp >> 18), s[1] = (char)(0x80 | (cp >> 12 & 0x3F)), s[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
        s[3] = (char)(0x80 | (cp & 0x3F)), buf_append(out, s, 4);
}

int bpe_nfc_quick(const char *text, size_t n) {
    const uint8_t *p = (const uint8_t *)text;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0xCC) {  // below U+0300 nothing changes under NFC
            i++;
            continue;
        }
        size_t used;
        uint32_t cp = utf8_next(p + i, n - i, &used);
        if (!(cp & RAW_BYTE) && maybe_changes(cp)) return 0;
        i += used;
    }
    return 1;
}

typedef struct CpBuf {
    uint32_t *v;
    size_t n, cap;
} CpBuf;

static void cp_push(CpBuf *b, uint32_t cp) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = xrealloc(b->v, b->cap * sizeof(uint32_t));
    }
    b->v[b->n++] = cp;
}

static const uint32_t *find_decomp(uint32_t cp) {
    size_t lo = 0, hi = RS_ARRAY_LEN(nfc_decomp);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (nfc_decomp[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < RS_ARRAY_LEN(nfc_decomp) && nfc_decomp[lo][0] == cp ? nfc_decomp[lo] : NULL;
}

static void decompose(uint32_t cp, CpBuf *out) {
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE;
        cp_push(out, LBASE + s / NCOUNT);
        cp_push(out, VBASE + (s % NCOUNT) / TCOUNT);
        if (s % TCOUNT) cp_push(out, TBASE + s % TCOUNT);
        return;
    }
    const uint32_t *d = (cp & RAW_BYTE) ? NULL : find_decomp(cp);
    if (!d) {
        cp_push(out, cp);
        return;
    }
    decompose(d[1], out);
    if (d[2]) decompose(d[2], out);
}

// The primary composite of (a, b), or 0.
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = RS_ARRAY_LEN(nfc_comp);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (nfc_comp[mid][0] < a || (nfc_comp[mid][0] == a && nfc_comp[mid][1] < b)) lo = mid + 1;
        else hi = mid;
    }
    return lo < RS_ARRAY_LEN(nfc_comp) && nfc_comp[lo][0] == a && nfc_comp[lo][1] == b ? nfc_comp[lo][2] : 0;
}

// Stable sort of each run of non-starters by combining class.
static void canonical_order(CpBuf *b) {
    for (size_t i = 1; i < b->n; i++) {
        uint32_t cp = b->v[i];
        int c = ccc_of(cp);
        if (c == 0) continue;
        size_t j = i;
        while (j > 0 && ccc_of(b->v[j - 1]) > c) b->v[j] = b->v[j - 1], j--;
        b->v[j] = cp;
    }
}

// Compose in place: each character joins the last starter unless a
// character between them is a starter or has a class >= its own.
static void canonical_compose(CpBuf *b) {
    size_t k = 0;
    long starter = -1;
    int last_cc = -1;  // class of the last character kept after the starter; -1: none
    for (size_t i = 0; i < b->n; i++) {
        uint32_t ch = b->v[i];
        int cc = ccc_of(ch);
        if (starter >= 0 && !(ch & RAW_BYTE) && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
            uint32_t c = compose(b->v[starter], ch);
            if (c) {
                b->v[starter] = c;
                continue;
            }
        }
        if (cc == 0) starter = (ch & RAW_BYTE) ? -1 : (long)k, last_cc = -1;
        else last_cc = cc;
        b->v[k++] = ch;
    }
    b->n = k;
}

void bpe_nfc(const char *text, size_t n, Buf *out) {
    CpBuf d = {0};
    const uint8_t *p = (const uint8_t *)text;
    for (size_t i = 0; i < n;) {
        size_t used;
        decompose(utf8_next(p + i, n - i, &used), &d);
        i += used;
    }
    canonical_order(&d);
    canonical_compose(&d);
    buf_reserve(out, n + 16);
    for (size_t i = 0; i < d.n; i++) utf8_put(out, d.v[i]);
    free(d.v);
}
