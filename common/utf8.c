// utf8.c: UTF-8 validation and repair (see utf8.h).
#include "utf8.h"

#include <stdint.h>

size_t utf8_char_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) return 0;  // overlong, surrogate
    if (len == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))) return 0;  // overlong, > U+10FFFF
    return len;
}

size_t utf8_bad_offset(const char *s, size_t n, int nul_ok) {
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_char_len(s + i, n - i);
        if (len == 0 || (!nul_ok && s[i] == 0)) return i;
        i += len;
    }
    return n;
}

int utf8_valid(const char *s, size_t n) { return utf8_bad_offset(s, n, 1) == n; }

void utf8_repair_append(Buf *out, const char *s, size_t n, int keep_nul) {
    buf_reserve(out, n + 1);
    out->data[out->len] = 0;  // terminated even when nothing is appended (n == 0)
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char_len(s + i, n - i);
        if (len && (keep_nul || s[i] != 0)) buf_append(out, s + i, len);
        else buf_puts(out, "\xEF\xBF\xBD");  // U+FFFD
        i += len ? len : 1;
    }
}

void utf8_repair_buf(Buf *b) {
    if (!b->len || utf8_valid(b->data, b->len)) return;
    Buf out = {0};
    utf8_repair_append(&out, b->data, b->len, 1);
    buf_free(b);
    *b = out;
}

char *utf8_repair(const char *s, size_t n) {
    Buf b = {0};
    utf8_repair_append(&b, s, n, 0);
    return buf_take(&b);
}
