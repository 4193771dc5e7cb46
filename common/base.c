// base.c: abort, allocation and clock helpers declared in base.h.
#include "base.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void rs_abort_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: internal error: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *rs_xmalloc(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) rs_abort_at(file, line, "out of memory allocating %zu bytes", n);
    return p;
}

void *rs_xcalloc(size_t n, size_t sz, const char *file, int line) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) rs_abort_at(file, line, "out of memory allocating %zu x %zu bytes", n, sz);
    return p;
}

void *rs_xrealloc(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) rs_abort_at(file, line, "out of memory reallocating %zu bytes", n);
    return q;
}

char *rs_xstrdup(const char *s, const char *file, int line) {
    return rs_xstrndup(s, strlen(s), file, line);
}

char *rs_xstrndup(const char *s, size_t n, const char *file, int line) {
    char *d = rs_xmalloc(n + 1, file, line);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

double rs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
