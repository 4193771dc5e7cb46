// test.h: a tiny test harness. A test program is one .c file:
//
//   #include "tests/test.h"
//   TEST(parses_numbers) { CHECK_EQ(parse("42"), 42); }
//
// Each TEST registers itself; main (defined here) runs them in order (or only
// those whose name contains argv[1]), prints "ok"/"FAIL" per test and the
// closing "N passed, N failed" (", N skipped" when SKIP was used), and exits
// 1 if anything failed. CHECK_* record
// a failure and go on; REQUIRE stops the current test.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} TestCase;

static TestCase t__cases[512];
static int t__ncases, t__failed_checks, t__skip;

// Optional passes: a program that declares TEST_PASSES(n, begin, name) runs
// every test once per pass (e.g. once per registered op table), after
// begin(pass), with the pass's name before each test's name.
static int (*t__npasses)(void);
static void (*t__pass_begin)(int);
static const char *(*t__pass_name)(int);
#define TEST_PASSES(count_fn, begin_fn, name_fn)                        \
    __attribute__((constructor)) static void t__reg_passes(void) {      \
        t__npasses = count_fn, t__pass_begin = begin_fn, t__pass_name = name_fn; \
    }
static char t__tmpdir[256];

#define TEST(name)                                                            \
    static void name(void);                                                   \
    __attribute__((constructor)) static void t__reg_##name(void) {            \
        if (t__ncases < 512) t__cases[t__ncases++] = (TestCase){#name, name}; \
    }                                                                         \
    static void name(void)

#define T__FAIL(...)                                              \
    do {                                                          \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);        \
        fprintf(stderr, __VA_ARGS__);                             \
        fputc('\n', stderr);                                      \
        t__failed_checks++;                                       \
    } while (0)

// Skip the current test, saying why (what this machine lacks): it counts
// neither as passed nor as failed, and the closing line adds ", N skipped".
#define SKIP(...)                                    \
    do {                                             \
        printf("    skipped: ");                     \
        printf(__VA_ARGS__);                         \
        printf("\n");                                \
        t__skip = 1;                                 \
        return;                                      \
    } while (0)

#define CHECK(cond)                                     \
    do {                                                \
        if (!(cond)) T__FAIL("CHECK(%s) failed", #cond); \
    } while (0)
#define CHECK_MSG(cond, ...)              \
    do {                                  \
        if (!(cond)) T__FAIL(__VA_ARGS__); \
    } while (0)
#define REQUIRE(cond)                                        \
    do {                                                     \
        if (!(cond)) {                                       \
            T__FAIL("REQUIRE(%s) failed", #cond);            \
            return;                                          \
        }                                                    \
    } while (0)
#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        long long t__a = (long long)(a), t__b = (long long)(b);                              \
        if (t__a != t__b) T__FAIL("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, t__a, t__b);    \
    } while (0)
#define CHECK_STR_EQ(a, b)                                                                        \
    do {                                                                                          \
        const char *t__a = (a), *t__b = (b);                                                      \
        if (!t__a || !t__b || strcmp(t__a, t__b) != 0)                                            \
            T__FAIL("CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b, t__a ? t__a : "(null)",       \
                    t__b ? t__b : "(null)");                                                      \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                                           \
    do {                                                                                      \
        const char *t__h = (hay), *t__n = (needle);                                           \
        if (!t__h || !strstr(t__h, t__n))                                                     \
            T__FAIL("CHECK_CONTAINS(%s, \"%s\"): got \"%s\"", #hay, t__n, t__h ? t__h : "(null)"); \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                    \
    do {                                                                                         \
        double t__a = (double)(a), t__b = (double)(b), t__t = (double)(tol);                    \
        if (!(fabs(t__a - t__b) <= t__t))                                                        \
            T__FAIL("CHECK_NEAR(%s, %s, %g): %.10g vs %.10g", #a, #b, t__t, t__a, t__b);          \
    } while (0)

// A fresh temp directory for this test program, made before the first test
// and removed at exit unless KEEP_TMP is set. Returns the same path on every
// call, from any thread.
__attribute__((unused)) static const char *test_tmpdir(void) {
    if (!t__tmpdir[0]) {
        snprintf(t__tmpdir, sizeof t__tmpdir, "%s/reasoner-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(t__tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return t__tmpdir;
}

// Path of a file inside test_tmpdir(), in a static buffer (copy it to keep it).
__attribute__((unused)) static const char *test_path(const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

__attribute__((unused)) static void test_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    fputs(text, f);
    fclose(f);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    test_tmpdir();  // made here, before any test starts threads that race to make it
    int passes = t__npasses ? t__npasses() : 1;
    for (int pass = 0; pass < passes; pass++) {
        if (t__pass_begin) t__pass_begin(pass);
        const char *pn = t__pass_name ? t__pass_name(pass) : NULL;
        for (int i = 0; i < t__ncases; i++) {
            if (filter && !strstr(t__cases[i].name, filter)) continue;
            int before = t__failed_checks;
            t__skip = 0;
            t__cases[i].fn();
            int ok = t__failed_checks == before;
            if (ok && t__skip) {
                printf("skip %s%s%s\n", pn ? pn : "", pn ? ": " : "", t__cases[i].name);
                skipped++;
                continue;
            }
            printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", pn ? pn : "", pn ? ": " : "", t__cases[i].name);
            fflush(stdout);
            ok ? passed++ : failed++;
        }
    }
    if (t__tmpdir[0] && !getenv("KEEP_TMP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t__tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", t__tmpdir);
    }
    if (skipped) printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
