// buf.h: a growable byte buffer, always NUL-terminated, for building text.
// Caller-owned struct: Buf b = {0}; buf_append(&b, ...); ... buf_free(&b).
#pragma once
#include <stdarg.h>
#include <stddef.h>

typedef struct Buf {
    char *data;  // NUL-terminated; NULL until the first append
    size_t len;
    size_t cap;
} Buf;

void buf_reserve(Buf *b, size_t extra);
void buf_append(Buf *b, const void *data, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(Buf *b, const char *fmt, va_list ap);
void buf_clear(Buf *b);  // len = 0, keeps the memory
// Hand the string to the caller (who frees it); b is left empty.
char *buf_take(Buf *b);
void buf_free(Buf *b);
