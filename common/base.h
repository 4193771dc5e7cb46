// base.h: what every file includes. Invariant checks that stop the program
// with file:line in every build (a broken invariant is a bug, never user
// input), allocation that aborts on out-of-memory, and small macros.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Stop the program: a bug, not bad input. Kept in release builds.
#define RS_ABORT(...) rs_abort_at(__FILE__, __LINE__, __VA_ARGS__)
// Check an invariant; abort with the condition's text when it does not hold.
#define RS_CHECK(cond)                                                          \
    do {                                                                        \
        if (!(cond)) rs_abort_at(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

#define RS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define RS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RS_MAX(a, b) ((a) > (b) ? (a) : (b))

_Noreturn void rs_abort_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Allocation that never returns NULL: out of memory aborts with file:line.
#define xmalloc(n) rs_xmalloc((n), __FILE__, __LINE__)
#define xcalloc(n, sz) rs_xcalloc((n), (sz), __FILE__, __LINE__)
#define xrealloc(p, n) rs_xrealloc((p), (n), __FILE__, __LINE__)
#define xstrdup(s) rs_xstrdup((s), __FILE__, __LINE__)
#define xstrndup(s, n) rs_xstrndup((s), (n), __FILE__, __LINE__)
void *rs_xmalloc(size_t n, const char *file, int line);
void *rs_xcalloc(size_t n, size_t sz, const char *file, int line);
void *rs_xrealloc(void *p, size_t n, const char *file, int line);
char *rs_xstrdup(const char *s, const char *file, int line);
char *rs_xstrndup(const char *s, size_t n, const char *file, int line);

// Monotonic clock in seconds, for rates and timeouts.
double rs_now(void);
