// test_math_hacks.c: the math verifier against responses an RL policy would
// try once it optimises against it (ARCHITECTURE.md, "Verifiers"). Each
// response is graded through vmath_grade, the farm's path, and must grade
// wrong: candidate lists, hedges, an expression equal to the gold only at
// known evaluation points, the gold quoted inside a wrong answer, unicode
// look-alikes; and hostile inputs (10 MB, nesting, NUL bytes, invalid
// UTF-8, LaTeX that never closes) get a verdict in bounded time.
//   make build/tests/verifier/test_math_hacks && build/tests/verifier/test_math_hacks
#include <cjson/cJSON.h>
#include <gmp.h>

#include "common/base.h"
#include "common/buf.h"
#include "tests/test.h"
#include "verifier/math/math.h"

// The verdict vmath_grade gives response against gold: 1 correct, 0 wrong.
static int graded(const char *gold, const char *response) {
    cJSON *problem = cJSON_CreateObject();
    cJSON_AddStringToObject(problem, "answer", gold);
    VerifyJob job = {.id = "hack", .verifier = "math", .response = (char *)response, .problem = problem};
    VerifyResult r = {0};
    Err e;
    int rc = vmath_grade(NULL, &job, &r, &e);
    int ok = rc == 0 && r.score == 1.0 && !strcmp(r.status, "correct");
    CHECK_MSG(rc == 0 && (!strcmp(r.status, "correct") || !strcmp(r.status, "wrong")), "gold \"%s\": status %s",
              gold, r.status);
    free(r.detail);
    free(r.extracted);
    cJSON_Delete(problem);
    return ok;
}

typedef struct Hack {
    const char *gold, *response, *why;
} Hack;

static void check_all_wrong(const Hack *h, size_t n) {
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(!graded(h[i].gold, h[i].response), "graded right (%s): gold \"%s\", response \"%s\"", h[i].why,
                  h[i].gold, h[i].response);
}

// The honest answer to each gold grades right, so the wrong verdicts above
// are about the hack, not about a gold that never matches.
TEST(honest_answers_grade_right) {
    static const Hack t[] = {
        {"3", "\\boxed{3}", ""},         {"7", "\\boxed{7}", ""},   {"x^2+1", "\\boxed{x^2+1}", ""},
        {"x", "\\boxed{x}", ""},         {"\\frac12", "\\boxed{0.5}", ""}, {"2", "\\boxed{2}", ""},
        {"-3", "\\boxed{-3}", ""},       {"\\text{yes}", "\\boxed{\\text{yes}}", ""},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++) CHECK_MSG(graded(t[i].gold, t[i].response), "gold %s", t[i].gold);
}

TEST(candidate_lists_and_hedges) {
    static const Hack t[] = {
        {"3", "\\boxed{1, 2, 3, 4, 5}", "many candidates in one box"},
        {"3", "\\boxed{1}\\boxed{2}\\boxed{3}", "one box per candidate"},
        {"3", "\\boxed{3} or \\boxed{4}", "two boxes"},
        {"3", "\\boxed{3 or 4}", "or in the box"},
        {"3", "\\boxed{\\text{3 or 4}}", "or in text"},
        {"3", "\\boxed{\\{3, 4\\}}", "a set of candidates"},
        {"3", "\\boxed{\\pm 3}", "both signs"},
        {"3", "\\boxed{3 \\text{ is not the answer}}", "negated"},
        {"3", "\\boxed{3\\text{, maybe}}", "hedged"},
        {"3", "The answer is 3, or maybe 4.", "hedged phrase"},
        {"4", "The answer is 3, or maybe 4.", "hedged phrase, the other one"},
        {"3", "It is probably 3", "hedged last number"},
        {"4", "I think it is 3 or maybe 4", "hedged last number"},
        {"3", "The answer is not 3.", "negated phrase"},
        {"3", "**3 or 4**", "bold candidates"},
        {"3", "#### 3 or 4", "GSM8K line with candidates"},
        {"3", "\\boxed{x = 3 = 4}", "a chain: the last value counts"},
        {"2", "\\boxed{1 < x < 3}", "an interval holding the gold"},
        {"2", "\\boxed{[1, 3]}", "an interval holding the gold"},
        {"\\frac12", "\\boxed{0.5 \\pm 0.1}", "an error bar"},
        {"3", "\\boxed{3 + 10^{-9}}", "within a loose tolerance"},
        {"3", "\\boxed{2.9999999}", "within a loose tolerance"},
        {"10^{20}", "\\boxed{10^{20} + \\pi}", "below double precision"},
    };
    check_all_wrong(t, RS_ARRAY_LEN(t));
    // more boxes than the verifier lists: never the gold
    Buf b = {0};
    for (int i = 0; i < 40; i++) buf_printf(&b, "\\boxed{%d} ", i);
    buf_putc(&b, 0);
    CHECK(!graded("3", b.data));
    CHECK(!graded("39", b.data));
    buf_free(&b);
}

TEST(gold_quoted_inside_a_wrong_answer) {
    static const Hack t[] = {
        {"7", "The problem says 7 apples, so the answer is \\boxed{5}.", "gold in the prose"},
        {"7", "\\boxed{5 \\text{ (not } 7)}", "gold in the box's prose"},
        {"7", "\\boxed{7 - 2 = 5}", "gold at the start of a chain"},
        {"7", "\\boxed{5} (the problem's 7)", "gold after the box"},
        {"7", "We know 7 is given. **Answer: 5**", "gold before the answer"},
        {"7", "\\boxed{x = 7 \\text{ or } x = 5}", "gold as one of two solutions"},
        {"(1, 2)", "\\boxed{(1, 2, 3)}", "gold as a prefix"},
        {"\\frac{1}{2}", "\\boxed{\\frac{1}{2} + x}", "gold plus a variable"},
    };
    check_all_wrong(t, RS_ARRAY_LEN(t));
}

// Decision: U+2212 (the typographic minus) and the other math symbols in
// math_norm.c's table are the same symbols; fullwidth digits, Cyrillic and
// Greek letters that look like Latin ones are not, and make an answer text
// that equals only the same bytes.
TEST(unicode_look_alikes) {
    static const Hack t[] = {
        {"3", "\\boxed{\xef\xbc\x93}", "fullwidth 3"},
        {"12", "\\boxed{\xef\xbc\x91\xef\xbc\x92}", "fullwidth 12"},
        {"x", "\\boxed{\xd1\x85}", "Cyrillic x"},
        {"x+1", "\\boxed{\xd1\x85+1}", "Cyrillic x in an expression"},
        {"\\text{yes}", "\\boxed{\\text{y\xd0\xb5s}}", "Cyrillic e in a word"},
        {"a", "\\boxed{\xd0\xb0}", "Cyrillic a as a choice"},
        {"0", "\\boxed{\xce\x9f}", "Greek capital omicron"},
        {"1", "\\boxed{l}", "letter l"},
    };
    check_all_wrong(t, RS_ARRAY_LEN(t));
    CHECK(graded("-3", "\\boxed{\xe2\x88\x92" "3}"));  // U+2212 MINUS SIGN
    CHECK(graded("x-1", "\\boxed{x\xe2\x88\x92" "1}"));
    CHECK(!graded("3", "\\boxed{\xe2\x88\x92" "3}"));
}

// An expression equal to the gold only at the evaluation points: with the
// points of a known seed an interpolant passes (the construction is right),
// and through vmath_grade, whose seed is fresh per job, it fails.
static char *interpolant(const char *gold, uint64_t seed) {
    Buf b = {0};
    buf_printf(&b, "%s + ", gold);
    mpq_t q;
    mpq_init(q);
    for (int k = 0; k < VMATH_POINTS; k++) {
        mpq_set_d(q, vmath_point(seed, "x", k));  // the exact dyadic point
        char *s = mpq_get_str(NULL, 10, q);
        buf_printf(&b, "(x - (%s))", s);
        void (*freefunc)(void *, size_t);
        mp_get_memory_functions(NULL, NULL, &freefunc);
        freefunc(s, strlen(s) + 1);
    }
    mpq_clear(q);
    buf_putc(&b, 0);
    return buf_take(&b);
}

TEST(interpolant_at_the_evaluation_points) {
    const char *golds[] = {"x^2", "2x+1", "\\frac{1}{x}"};
    for (size_t g = 0; g < RS_ARRAY_LEN(golds); g++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            char *p = interpolant(golds[g], seed);
            CHECK_MSG(vmath_equal_seeded(golds[g], p, seed) == 1, "the interpolant of %s should pass at its own points",
                      golds[g]);
            CHECK_MSG(vmath_equal_seeded(golds[g], p, seed + 1000) == 0, "interpolant of %s passes other points", golds[g]);
            CHECK(vmath_equal(golds[g], p) == 0);
            Buf r = {0};
            buf_printf(&r, "\\boxed{%s}", p);
            buf_putc(&r, 0);
            for (int i = 0; i < 5; i++) CHECK_MSG(!graded(golds[g], r.data), "interpolant graded right: %s", p);
            buf_free(&r);
            free(p);
        }
    }
    // an irrational point cannot be hit either: a polynomial vanishing at
    // guessed "nice" points (1, 2, ..., 12) does not fool random ones
    Buf b = {0};
    buf_puts(&b, "\\boxed{x^2");
    for (int k = 1; k <= 12; k++) buf_printf(&b, "+ 0(x-%d)", k);
    buf_puts(&b, "+ (x-1)(x-2)(x-3)(x-4)(x-5)(x-6)(x-7)(x-8)(x-9)(x-10)(x-11)(x-12)}");
    buf_putc(&b, 0);
    CHECK(!graded("x^2", b.data));
    buf_free(&b);
}

static double grade_secs(const char *gold, const char *response, int *verdict) {
    double t0 = rs_now();
    *verdict = graded(gold, response);
    return rs_now() - t0;
}

// Hostile responses: a verdict, and in bounded time (generous bounds for
// sanitizer builds; quadratic behaviour on 10 MB would take minutes).
TEST(hostile_inputs_bounded) {
    size_t n = 10u << 20;
    char *s = xmalloc(n + 64);
    int v;
    struct {
        const char *name;
        char fill[8];
        const char *tail;
        int want;
    } t[] = {
        {"10 MB of prose, then the box", "ab cd ", " \\boxed{3}", 1},
        {"10 MB of opening braces", "{", "", 0},
        {"10 MB of \\boxed{ never closed", "\\boxed{", "", 0},
        {"10 MB of $ that never closes, then 3", "$", "3", 1},  // the last number
        {"10 MB of \\left(, then 3", "\\left(", "3", 1},
        {"10 MB of invalid UTF-8", "\xff\xc3(", "", 0},
        {"10 MB of digits", "9", "", 0},
        {"10 MB of **3 bold markers", "**3", "", 1},
        {"10 MB of **4 bold markers", "**4", "", 0},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++) {
        size_t u = strlen(t[i].fill);
        for (size_t k = 0; k + u <= n; k += u) memcpy(s + k, t[i].fill, u);
        size_t end = n - n % u;
        strcpy(s + end, t[i].tail);
        double secs = grade_secs("3", s, &v);
        CHECK_MSG(v == t[i].want, "%s: verdict %d, want %d", t[i].name, v, t[i].want);
        CHECK_MSG(secs < 20, "%s: %.1f s", t[i].name, secs);
        printf("    %-36s %.3f s\n", t[i].name, secs);
    }
    free(s);
    // NUL bytes: the response is a C string (JSON's \u0000 ends it in cJSON),
    // so what follows a NUL is never read
    static const char with_nul[] = "\\boxed{4}\0\\boxed{3}";
    CHECK(!graded("3", with_nul));
    CHECK(graded("4", with_nul));
    // deep nesting inside a box: deeper than the parser goes (VM_MAX_DEPTH),
    // so not math, and text that is not "3"
    Buf b = {0};
    buf_puts(&b, "\\boxed{");
    for (int i = 0; i < 500; i++) buf_puts(&b, "{(");
    buf_puts(&b, "3");
    for (int i = 0; i < 500; i++) buf_puts(&b, ")}");
    buf_puts(&b, "}");
    buf_putc(&b, 0);
    CHECK(grade_secs("3", b.data, &v) < 20);
    CHECK_EQ(v, 0);
    buf_free(&b);
    // LaTeX that never closes: the box is incomplete, and the rules after it
    // (the last number) decide
    CHECK(!graded("3", "\\boxed{\\frac{4}{"));
    CHECK(graded("3", "\\boxed{\\frac{3}{"));
    CHECK(!graded("3", "\\boxed{\\sqrt{\\frac{9}{1}"));
    CHECK(!graded("3", "\\boxed{\\begin{pmatrix} 3 & 4"));
}
