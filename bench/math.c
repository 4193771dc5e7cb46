// bench/math.c: the math verifier on a case set and its speed, printed (not
// asserted; scripts/check-math.sh runs it beside Math-Verify).
//   - agreement with the expected verdicts of a JSONL case set (default
//     tests/verifier/math_cases.jsonl; one {"gold","pred","expected","note"}
//     a line): each pred is graded as a response against its gold through
//     vmath_grade, the farm's path (extraction, parsing, a fresh seed);
//     false positives (graded right, expected wrong) and false negatives
//     are listed;
//   - grades/s on one core (per second of the thread's CPU time, and per
//     wall-clock second): the case set, and MATH500's reference
//     solutions against their answers when ../shared/datasets/math500.jsonl
//     (or ../../shared/...) is there.
//   make build/bench/math && build/bench/math [--cases FILE] [--quiet]
#include <string.h>
#include <time.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/jsonl.h"
#include "verifier/math/math.h"

typedef struct Case {
    char *gold, *pred, *note;
    int expected;
} Case;

typedef struct Cases {
    Case *v;
    size_t n, cap;
} Cases;

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void push(Cases *c, const char *gold, const char *pred, int expected, const char *note) {
    if (c->n == c->cap) c->cap = c->cap ? 2 * c->cap : 256, c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    c->v[c->n++] = (Case){xstrdup(gold), xstrdup(pred), xstrdup(note ? note : ""), expected};
}

// The case set: 0, or -1 with a message (file:line: what is wrong).
static int load_cases(const char *path, Cases *c, Err *e) {
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    cJSON *o;
    int rc;
    while ((rc = jsonl_next(r, &o, e)) == 1) {
        const char *gold = str_field(o, "gold"), *pred = str_field(o, "pred");
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "expected");
        if (!gold || !pred || !cJSON_IsBool(x)) {
            err_set(e, "%s:%ld: expected {\"gold\": string, \"pred\": string, \"expected\": bool}", path, jsonl_line(r));
            cJSON_Delete(o);
            jsonl_close(r);
            return -1;
        }
        push(c, gold, pred, cJSON_IsTrue(x), str_field(o, "note"));
        cJSON_Delete(o);
    }
    jsonl_close(r);
    return rc < 0 ? -1 : 0;
}

// MATH500 problems: the reference solution graded against the answer.
static void load_math500(const char *path, Cases *c) {
    Err e;
    JsonlReader *r = jsonl_open(path, &e);
    if (!r) return;
    cJSON *o;
    while (jsonl_next(r, &o, &e) == 1) {
        const char *sol = str_field(o, "solution"), *ans = str_field(o, "answer");
        if (sol && ans) push(c, ans, sol, 1, "math500");
        cJSON_Delete(o);
    }
    jsonl_close(r);
}

static int grade(const Case *k) {
    cJSON *problem = cJSON_CreateObject();
    cJSON_AddStringToObject(problem, "answer", k->gold);
    VerifyJob job = {.id = "bench", .verifier = "math", .response = k->pred, .problem = problem};
    VerifyResult r = {0};
    Err e;
    RS_CHECK(vmath_grade(NULL, &job, &r, &e) == 0);
    int ok = r.score == 1.0;
    free(r.detail);
    free(r.extracted);
    cJSON_Delete(problem);
    return ok;
}

// Grades per second on one core, over at least a second of this thread's
// CPU time (so a machine shared with other jobs does not lower it), and per
// wall-clock second into *wall.
static double grades_per_s(const Cases *c, double *wall) {
    size_t done = 0;
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC), t;
    do {
        for (size_t i = 0; i < c->n; i++) grade(&c->v[i]);
        done += c->n;
    } while ((t = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) < 1.0);
    *wall = (double)done / (clock_s(CLOCK_MONOTONIC) - w0);
    return (double)done / t;
}

static void free_cases(Cases *c) {
    for (size_t i = 0; i < c->n; i++) free(c->v[i].gold), free(c->v[i].pred), free(c->v[i].note);
    free(c->v);
}

int main(int argc, char **argv) {
    const char *path = "tests/verifier/math_cases.jsonl";
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else return fprintf(stderr, "usage: %s [--cases FILE] [--quiet]\n", argv[0]), 2;
    }
    Cases c = {0};
    Err e;
    if (load_cases(path, &c, &e) < 0) return fprintf(stderr, "bench/math: %s\n", e.msg), 1;
    size_t agree = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < c.n; i++) {
        int got = grade(&c.v[i]);
        if (got == c.v[i].expected) agree++;
        else if (got) fp++;
        else fn++;
        if (got != c.v[i].expected && !quiet)
            printf("  %s  gold %s | pred %.120s | %s\n", got ? "FALSE POSITIVE" : "false negative", c.v[i].gold,
                   c.v[i].pred, c.v[i].note);
    }
    printf("reasoner math: %zu cases, agreement %.1f%% (%zu), false positives %zu, false negatives %zu\n", c.n,
           100.0 * (double)agree / (double)(c.n ? c.n : 1), agree, fp, fn);
    double wall, cpu = grades_per_s(&c, &wall);
    printf("reasoner math: %.0f grades/s per core of CPU time, %.0f per wall-clock second (case set)\n", cpu, wall);

    Cases m = {0};
    const char *const m500[] = {"../shared/datasets/math500.jsonl", "../../shared/datasets/math500.jsonl"};
    for (size_t i = 0; i < 2 && m.n == 0; i++)
        if (fs_exists(m500[i])) load_math500(m500[i], &m);
    if (m.n) {
        size_t ok = 0;
        for (size_t i = 0; i < m.n; i++) ok += (size_t)grade(&m.v[i]);
        printf("reasoner math: MATH500 reference solutions graded right: %zu / %zu\n", ok, m.n);
        cpu = grades_per_s(&m, &wall);
        printf("reasoner math: %.0f grades/s per core of CPU time, %.0f per wall-clock second (MATH500 solutions)\n", cpu,
               wall);
    } else {
        printf("reasoner math: MATH500 skipped (no ../shared/datasets/math500.jsonl)\n");
    }
    free_cases(&m);
    free_cases(&c);
    return 0;
}
