// test_math.c: the math verifier. Equivalence cases by category (each is
// checked both ways round), extraction from GSM8K/MATH-style responses,
// canonical forms for maj@k, grading of jobs, and hostile inputs.
//   make build/tests/verifier/test_math && build/tests/verifier/test_math
#include <cjson/cJSON.h>

#include "common/base.h"
#include "common/rng.h"
#include "tests/test.h"
#include "verifier/math/math.h"

typedef struct Pair {
    const char *a, *b;
    int eq;
} Pair;

static int n_cases;

static void check_pairs(const Pair *p, size_t n) {
    for (size_t i = 0; i < n; i++, n_cases++) {
        int ab = vmath_equal(p[i].a, p[i].b), ba = vmath_equal(p[i].b, p[i].a);
        CHECK_MSG(ab == p[i].eq, "vmath_equal(\"%s\", \"%s\") = %d, want %d", p[i].a, p[i].b, ab, p[i].eq);
        CHECK_MSG(ba == ab, "not symmetric: \"%s\" vs \"%s\"", p[i].a, p[i].b);
    }
}
#define CHECK_PAIRS(table) check_pairs(table, RS_ARRAY_LEN(table))

// ---------------------------------------------------------------------------
// equivalence, by category

TEST(integers_and_decimals) {
    static const Pair t[] = {
        {"72", "72", 1},        {"72", "73", 0},           {"3.0", "3", 1},        {"3.00", "3", 1},
        {"2.50", "2.5", 1},     {".5", "0.5", 1},          {"0.5", "1/2", 1},      {"-3", "3", 0},
        {"-3", "-3.0", 1},      {"007", "7", 1},           {"0", "-0", 1},         {"0.1", "0.10", 1},
        {"0.15", "0.150", 1},   {"3.21", "3.2", 0},        {"1000001", "1000000", 0}, {"326.5", "326.50", 1},
        {".0000672", "6.72e-5", 1}, {"0.3333", "1/3", 0},  {"0.333333", "\\frac{1}{3}", 0}, {"18", "18.", 1},
        {"+5", "5", 1},         {"5", "5.0001", 0},
    };
    CHECK_PAIRS(t);
}

TEST(thousands_separators) {
    static const Pair t[] = {
        {"1,000", "1000", 1},           {"1,000,000", "1000000", 1}, {"10,\\!080", "10080", 1},
        {"11,\\! 111,\\! 111,\\! 100", "11111111100", 1},            {"58,500", "58500", 1},
        {"\\$32,\\!348", "32348", 1},   {"1{,}000", "1000", 1},      {"10\\,000", "10000", 1},
        {"1,000", "1", 0},              {"1,2", "12", 0},            {"1,000.5", "1000.5", 1},
        {"1, 000", "1000", 0},          {"1234,567", "1234567", 0},
        // inside brackets a comma separates: points and intervals, not thousands
        {"(12,102)", "(12, 102)", 1},   {"(12,102)", "12102", 0},    {"[1,000]", "[1, 0]", 1},
    };
    CHECK_PAIRS(t);
}

TEST(scientific_notation) {
    static const Pair t[] = {
        {"1e3", "1000", 1},          {"1.5e3", "1500", 1},         {"1.5E-3", "0.0015", 1},
        {"1.5\\times10^{3}", "1500", 1}, {"2.5 \\cdot 10^{-2}", "0.025", 1}, {"6.02\\times 10^{23}", "6.02e23", 1},
        {"10^{10}", "10000000000", 1}, {"1e3", "100", 0},           {"3 \\times 10^5", "300000", 1},
        {"1.2e+2", "120", 1},
    };
    CHECK_PAIRS(t);
}

// Two exact rationals compare exactly, so a rounded decimal is not the
// fraction (4.666666667 != 14/3); irrational values use the tolerance.
TEST(fractions) {
    static const Pair t[] = {
        {"\\frac{1}{2}", "1/2", 1},      {"\\dfrac{1}{2}", "0.5", 1},      {"\\tfrac{3}{4}", "\\frac34", 1},
        {"\\frac 34", "0.75", 1},        {"\\frac9{19}", "9/19", 1},       {"\\frac{2}{4}", "\\frac12", 1},
        {"-\\frac{3}{8}", "\\frac{-3}{8}", 1}, {"-\\frac{3}{8}", "\\frac{3}{8}", 0}, {"\\frac{1}{3}", "\\frac{1}{4}", 0},
        {"1\\frac{4}{5}", "\\frac{9}{5}", 1}, {"137 \\frac{1}{2}", "137.5", 1}, {"-2\\frac{1}{2}", "-2.5", 1},
        {"\\frac{a}{b}", "a/b", 1},      {"\\frac{14}{3}", "4.666666667", 0}, {"\\frac{1997}{2}", "998.5", 1},
        {"\\frac{35}{64}", "35/64", 1},  {"3/4", "4/3", 0},                {"\\dfrac{33}{100}", "0.33", 1},
        {"\\frac{\\frac{1}{2}}{3}", "\\frac16", 1}, {"(1/2)/(1/4)", "2", 1},
    };
    CHECK_PAIRS(t);
}

TEST(radicals_and_pi) {
    static const Pair t[] = {
        {"\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2", 1}, {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{2}}{2}", 0},
        {"2\\sqrt{5}", "\\sqrt{20}", 1},             {"2 \\sqrt{5}", "2\\sqrt5", 1},
        {"11\\sqrt2", "11\\sqrt{2}", 1},              {"\\sqrt{51}", "\\sqrt{52}", 0},
        {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", 1}, {"\\sqrt[3]{8}", "2", 1},
        {"\\sqrt[3]{-8}", "-2", 1},                   {"\\sqrt{4}", "2", 1},
        {"12\\pi", "12 \\pi", 1},                     {"12\\pi", "37.69911184", 1},
        {"\\pi", "3.14", 0},                          {"288 \\pi", "288\\pi", 1},
        {"\\frac{20000}{\\pi}", "6366.2", 1},         {"18+2\\pi", "2\\pi+18", 1},
        {"-\\frac{\\pi}{6}", "-\\pi/6", 1},           {"\\frac{\\pi}{6}", "\\frac{\\pi}{3}", 0},
        {"1+2\\sqrt{3}", "2\\sqrt{3}+1", 1},          {"11 \\sqrt{5} + 11", "11(\\sqrt5+1)", 1},
        {"\\sqrt{2}", "1.414", 0},                    {"\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt3", 1},
        {"2^{1/2}", "\\sqrt{2}", 1},                  {"\\sqrt{2}\\sqrt{3}", "\\sqrt6", 1},
    };
    CHECK_PAIRS(t);
}

// Rule: a percent sign may be kept or dropped ("50%" = 50 = 0.5); without
// one, 50 and 0.5 differ.
TEST(percentages) {
    static const Pair t[] = {
        {"50\\%", "0.5", 1},   {"50\\%", "50", 1},    {"50%", "50\\%", 1},   {"50", "0.5", 0},
        {"12.5\\%", "0.125", 1}, {"12.5\\%", "1/8", 1}, {"50\\%", "5", 0},    {"25%", "0.5", 0},
        {"100\\%", "1", 1},    {"0.5\\%", "0.005", 1},
    };
    CHECK_PAIRS(t);
}

TEST(degrees_and_units) {
    static const Pair t[] = {
        {"30^\\circ", "30", 1},              {"90^{\\circ}", "90", 1},       {"106^\\circ", "106", 1},
        {"30°", "30", 1},                    {"30^\\circ", "60", 0},        {"30^\\circ", "\\frac{\\pi}{6}", 1},
        {"30^\\circ", "\\frac{\\pi}{3}", 0}, {"\\tan 45^\\circ", "1", 1},     {"\\sin 30^{\\circ}", "\\frac12", 1},
        {"180\\degree", "\\pi", 1},         {"5.4 \\text{ cents}", "5.4", 1},
        {"15\\mbox{ cm}^2", "15", 1},        {"864 \\mbox{ inches}^2", "864", 1}, {"\\$18.90", "18.9", 1},
        {"\\$36", "36", 1},                  {"72 dollars", "72", 1},         {"5 cm", "5", 1},
        {"\\frac{270}7\\text{ degrees}", "\\frac{270}{7}", 1},            {"60 km/h", "60", 1},
        {"12 \\text{ sq ft}", "12", 1},      {"72 dollars", "27", 0},         {"3 hours", "3", 1},
        {"5 because we add them", "5", 1},   {"9 m/s", "9", 0},  // single-letter units read as variables
    };
    CHECK_PAIRS(t);
}

TEST(equations_and_x_equals) {
    static const Pair t[] = {
        {"x=3", "3", 1},                 {"x = 5", "5", 1},              {"x=3", "x=4", 0},
        {"k = \\frac{1}{2}", "0.5", 1},  {"y = 2x + 3", "y=3+2x", 1},    {"y = 2x + 3", "2y = 4x + 6", 1},
        {"y = -2x", "-2x", 1},           {"5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0", 1},
        {"5x - 7y + 11z + 4 = 0", "10x - 14y + 22z + 8 = 0", 1}, {"5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0", 0},
        {"x + y = 1", "y = 1 - x", 1},   {"2x + 2y = 2", "x + y = 1", 1}, {"x_1 = 2", "2", 1},
        {"x = 1, x = 2", "1, 2", 1},     {"x=2", "y=2", 1},              {"f(x) = x^2 + 1", "x^2+1", 1},
        {"p(t) = 3t", "3t", 1},          {"2(x+1) = 4", "4", 0},
    };
    CHECK_PAIRS(t);
}

TEST(sets_and_roots) {
    static const Pair t[] = {
        {"\\{1,2\\}", "\\{2,1\\}", 1},      {"\\{1,2\\}", "\\{1,3\\}", 0},          {"\\{1,2\\}", "\\{1,2,3\\}", 0},
        {"1,2", "2,1", 1},                  {"1,2", "\\{1,2\\}", 1},                {"3, 5, 7", "7,5,3", 1},
        {"-2,1", "1, -2", 1},               {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", 1},
        {"3 \\pm 2 \\sqrt{2}", "3-2\\sqrt2,3+2\\sqrt2", 1}, {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}", 0},
        {"\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt5", 1}, {"\\{3\\}", "3", 1},
        {"\\left\\{ 1, 2 \\right\\}", "\\{2, 1\\}", 1},  {"\\{1,1,2\\}", "\\{1,2\\}", 0},
        {"x = 1 \\text{ or } x = 2", "2, 1", 1},        {"1 and 2", "1, 2", 1},
        {"\\emptyset", "\\{\\}", 1},        {"\\{\\frac12, 2\\}", "\\{2, 0.5\\}", 1},
        {"{1, 2}", "\\{2, 1\\}", 1},        {"\\pm 3", "3, -3", 1},
    };
    CHECK_PAIRS(t);
}

TEST(tuples_and_points) {
    static const Pair t[] = {
        {"(1,2)", "(1,2)", 1},                 {"(1,2)", "(2,1)", 0},        {"(1,2)", "\\{1,2\\}", 0},
        {"(1,2)", "1,2", 1},                   {"(1,2)", "2,1", 0},          {"(1,2,3)", "(1,2)", 0},
        {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", 1},
        {"\\left( \\frac{3}{2}, -13 \\right)", "(1.5,-13)", 1},             {"(6,31,-1)", "(6, 31, -1)", 1},
        {"(1,-16,-4,43)", "(1,-16,-4,42)", 0}, {"(8,-2)", "(8, -2)", 1},     {"\\langle 1, 2 \\rangle", "(1,2)", 1},
        {"((1,2),(3,4))", "((1,2),(3,4))", 1}, {"((1,2),(3,4))", "((3,4),(1,2))", 0},
        {"[1, 2, 3]", "(1,2,3)", 1},
    };
    CHECK_PAIRS(t);
}

TEST(intervals_and_unions) {
    static const Pair t[] = {
        {"[1,2)", "[1,2)", 1},                       {"[1,2)", "[1,2]", 0},          {"[1,2)", "(1,2]", 0},
        {"(2,\\infty)", "(2, \\infty)", 1},          {"(2,\\infty)", "[2,\\infty)", 0}, {"(-\\infty, 0]", "(-\\infty,0]", 1},
        {"(-\\infty, 0]", "(-\\infty,0)", 0},         {"(5,\\infty)", "x > 5", 1},    {"[5,\\infty)", "x \\ge 5", 1},
        {"(-\\infty, 2)", "x<2", 1},                  {"[-2,7]", "x \\in [-2,7]", 1}, {"[-2,7]", "-2 \\le x \\le 7", 1},
        {"(3,4]", "3 < x \\leq 4", 1},                {"(3,4]", "4 \\ge x > 3", 1},   {"(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty) \\cup (-\\infty,2)", 1},
        {"(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty, 2] \\cup (3, \\infty)", 0},
        {"(0,9) \\cup (9,36)", "(0,9)\\cup(9,36)", 1}, {"(2,12) \\cup (12,102)", "(12,102) \\cup (2,12)", 1}, {"\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, 8/3]", 1},
        {"\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]", "[\\pi^2/8, 5\\pi^2/4]", 1},
        {"(-\\sqrt{3}, \\sqrt{3})", "(-\\sqrt3,\\sqrt3)", 1}, {"(2,4)", "(2,4)", 1},
        {"(1,2)", "[1,2]", 0},                         {"(-∞, 3)", "(-\\infty,3)", 1},
    };
    CHECK_PAIRS(t);
}

// Expressions with variables: evaluated at random points.
TEST(expressions) {
    static const Pair t[] = {
        {"x^2+2x+1", "(x+1)^2", 1},           {"x^2+2x+1", "(x-1)^2", 0},         {"x^2+2x+1", "x^2+2x+2", 0},
        {"(a+5)(b+2)", "ab+2a+5b+10", 1},     {"-13x+3", "3-13x", 1},             {"15x - 80", "5(3x-16)", 1},
        {"6r^2-4r-24", "2(3r^2-2r-12)", 1},   {"8n^2 + 4n + 1", "8n^2+4n-1", 0},  {"p - q", "-(q-p)", 1},
        {"p - q", "q - p", 0},                {"2k+2", "2(k+1)", 1},              {"3R^2", "3 R^2", 1},
        {"5r^5", "5 r^{5}", 1},               {"x^3+3x-6", "x(x^2+3)-6", 1},      {"\\frac{11+9a}{20}", "\\frac{11}{20}+\\frac{9a}{20}", 1},
        {"x^5 - x^4 + x^3 - x^2 + x - 1", "(x-1)(x^4+x^2+1)", 1},
        {"x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1", "\\frac{x^9-1}{x-1}", 1},
        {"\\sin^2 x + \\cos^2 x", "1", 1},    {"\\cot x", "\\frac{\\cos x}{\\sin x}", 1}, {"\\cot x", "\\tan x", 0},
        {"2xy", "2yx", 1},                    {"\\frac{1}{x}", "x^{-1}", 1},      {"e^{x}", "\\exp(x)", 1},
        // points take both signs: these are not identities over the reals
        {"\\ln(ab)", "\\ln a + \\ln b", 0},   {"\\sqrt{x^2}", "x", 0},            {"x", "y", 0},
        {"\\sqrt{x^2}", "|x|", 1},          {"|x|", "x", 0},                    {"|xy|", "xy", 0},
        {"\\ln(2x)", "\\ln 2 + \\ln x", 1},
        {"1-1/e", "1+1/e", 0},                {"1-\\frac{1}{e}", "\\frac{e-1}{e}", 1}, {"x^2", "2x", 0},
        {"\\alpha + \\beta", "\\beta+\\alpha", 1},  {"x**2 - 1", "(x-1)(x+1)", 1},
    };
    CHECK_PAIRS(t);
}

TEST(text_answers) {
    static const Pair t[] = {
        {"\\text{Evelyn}", "Evelyn", 1},  {"\\text{Evelyn}", "evelyn", 1},  {"\\text{Navin}", "Evelyn", 0},
        {"\\text{(C)}", "C", 1},          {"\\text{(C)}", "(c)", 1},        {"\\text{(B)}", "(C)", 0},
        {"\\text{east}", "East", 1},      {"\\text{ellipse}", "\\text{ Ellipse }", 1}, {"\\text{even}", "odd", 0},
        {"yes", "Yes", 1},                {"yes", "no", 0},                 {"\\textbf{Monday}", "monday", 1},
        {"New York", "new  york", 1},
    };
    CHECK_PAIRS(t);
}

TEST(complex_matrices_bases_functions) {
    static const Pair t[] = {
        {"-2 + 7i", "7i-2", 1},          {"1+2i", "1-2i", 0},            {"6 - 5i", "6-5i", 1},
        {"1 - 12i", "1-12 i", 1},        {"i", "\\sqrt{-1}", 1},         {"e^{i\\pi}", "-1", 1},
        {"\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}", 1},
        {"\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} 1 & 0 \\\\ 0 & -1 \\end{pmatrix}", 0},
        {"\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "(0.2, -3.6)", 1},
        {"\\begin{pmatrix} 16/49 \\\\ 48/49 \\\\ 24/49 \\end{pmatrix}", "\\begin{bmatrix} \\frac{16}{49} \\\\ \\frac{48}{49} \\\\ \\frac{24}{49} \\end{bmatrix}", 1},
        {"204_5", "204_{5}", 1},         {"204_5", "54", 0},            {"2516_8", "2516", 0},
        {"\\binom{5}{2}", "10", 1},      {"5!", "120", 1},              {"|-3|", "3", 1},
        {"\\log_2 8", "3", 1},           {"\\sin(\\pi/6)", "1/2", 1},   {"\\cos 0", "1", 1},
        {"\\arctan 1", "\\pi/4", 1},     {"\\sin^{-1}(1)", "\\pi/2", 1},
    };
    CHECK_PAIRS(t);
}

// Wrong answers that a sloppy grader would accept.
TEST(wrong_answers) {
    static const Pair t[] = {
        {"1-1/e", "1+1/e", 0},       {"\\frac{1}{2}", "2", 0},     {"-5", "5", 0},           {"x+1", "x-1", 0},
        {"\\sqrt{3}", "3", 0},       {"\\pi", "180", 0},           {"0.1", "0.01", 0},       {"10", "100", 0},
        {"1/2", "1/3", 0},           {"2\\pi", "\\pi", 0},         {"(1,2)", "(1,3)", 0},    {"1e3", "1e4", 0},
        {"", "", 0},                 {"", "0", 0},                 {"\\text{}", "0", 0},     {"2^{10}", "2^{11}", 0},
        {"123456789012", "123456789013", 0},
    };
    CHECK_PAIRS(t);
}

TEST(null_arguments) {
    CHECK_EQ(vmath_equal(NULL, "1"), 0);
    CHECK_EQ(vmath_equal("1", NULL), 0);
    CHECK(vmath_extract(NULL) == NULL);
    char *s = vmath_normalize(NULL);
    CHECK_STR_EQ(s, "");
    free(s);
    n_cases += 4;
}

// ---------------------------------------------------------------------------
// extraction

typedef struct XCase {
    const char *response, *want;
    VmathSource src;
} XCase;

TEST(extract_rules_in_order) {
    static const XCase t[] = {
        {"so the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", VMATH_SRC_BOXED},
        {"first \\boxed{1} then \\boxed{2}", "1, 2", VMATH_SRC_BOXED},
        {"\\boxed{\\left\\{1,2\\right\\}}", "\\left\\{1,2\\right\\}", VMATH_SRC_BOXED},
        {"nested \\boxed{\\frac{\\sqrt{3}}{\\boxed{2}}} end", "\\frac{\\sqrt{3}}{\\boxed{2}}", VMATH_SRC_BOXED},
        {"We get \\boxed{7} and then \\boxed{3", "7", VMATH_SRC_BOXED},  // unclosed last box
        {"an empty \\boxed{} after \\boxed{4}", "4", VMATH_SRC_BOXED},
        {"\\boxed 5 is it", "5", VMATH_SRC_BOXED},
        {"\\fbox{7}", "7", VMATH_SRC_BOXED},
        {"The answer is \\boxed{42}. #### 41", "42", VMATH_SRC_BOXED},
        {"Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18", "18", VMATH_SRC_HASHES},
        {"So the total is 1,234.\n#### 1,234\n", "1,234", VMATH_SRC_HASHES},
        {"The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}", VMATH_SRC_ANSWER_IS},
        {"**Answer:** 42\n", "42", VMATH_SRC_ANSWER_IS},
        {"Thus the answer is 1,000 dollars.", "1,000 dollars", VMATH_SRC_ANSWER_IS},
        {"The answer is 5. Wait, no: the answer is 6.", "6", VMATH_SRC_ANSWER_IS},
        {"Final Answer:\n\\(\\frac12\\)", "\\frac12", VMATH_SRC_ANSWER_IS},
        {"so THE ANSWER IS: $x = 3$", "x = 3", VMATH_SRC_ANSWER_IS},
        {"the answer is 3.14.", "3.14", VMATH_SRC_ANSWER_IS},
        {"Adding up, she has **72** eggs left", "72", VMATH_SRC_BOLD},
        {"**Step 1** add them; the sum is 9", "9", VMATH_SRC_LAST_NUMBER},
        {"Total: **$1,080** for the year.", "1,080", VMATH_SRC_BOLD},
        {"**Step one** we add: so it costs -3.5 dollars", "-3.5", VMATH_SRC_LAST_NUMBER},
        {"The ratio is 3/4", "3/4", VMATH_SRC_LAST_NUMBER},
        {"It adds to 1,234,567 people in 2 cities", "2", VMATH_SRC_LAST_NUMBER},
        {"total population 1,234,567.", "1,234,567", VMATH_SRC_LAST_NUMBER},
        {"x-5", "5", VMATH_SRC_LAST_NUMBER},
        {"temperature -12 degrees", "-12", VMATH_SRC_LAST_NUMBER},
        {"pi is about .5 here", ".5", VMATH_SRC_LAST_NUMBER},
        {"no numbers here at all", NULL, VMATH_SRC_NONE},
        {"", NULL, VMATH_SRC_NONE},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++, n_cases++) {
        VmathSource src;
        char *got = vmath_extract_from(t[i].response, &src);
        if (t[i].want) CHECK_MSG(got && strcmp(got, t[i].want) == 0, "extract(\"%s\") = \"%s\", want \"%s\"", t[i].response, got ? got : "(null)", t[i].want);
        else CHECK_MSG(got == NULL, "extract(\"%s\") = \"%s\", want none", t[i].response, got);
        CHECK_MSG(src == t[i].src, "extract(\"%s\") via %s, want %s", t[i].response, vmath_source_name(src), vmath_source_name(t[i].src));
        free(got);
    }
}

TEST(last_boxed) {
    char *s = vmath_last_boxed("We have \\boxed{\\{1,2\\}} so far, then \\boxed{\\dfrac{1}{2}}.");
    CHECK_STR_EQ(s, "\\dfrac{1}{2}");
    free(s);
    CHECK(vmath_last_boxed("no box") == NULL);
    CHECK(vmath_last_boxed(NULL) == NULL);
    n_cases += 3;
}

// ---------------------------------------------------------------------------
// canonical forms (maj@k keys)

TEST(canonical_forms) {
    static const struct {
        const char *in, *want;
    } t[] = {
        {"72", "72"},               {"1,000", "1000"},            {"3.0", "3"},              {"\\frac{1}{2}", "0.5"},
        {"0.50", "0.5"},            {"\\frac{2}{6}", "1/3"},      {"-\\frac{3}{8}", "-0.375"}, {".0000672", "0.0000672"},
        {"\\frac{\\sqrt{3}}{2}", "0.8660254038"}, {"\\sqrt3/2", "0.8660254038"}, {"x = 3", "3"},
        {"30^\\circ", "30"},        {"\\$18.90", "18.9"},         {"50\\%", "50%"},          {"\\{2,1\\}", "{1,2}"},
        {"3, 1, 2", "1,2,3"},       {"(2,1)", "(2,1)"},           {"[1, 2)", "[1,2)"},       {"x > 5", "(5,\\infty)"},
        {"x^2+2x+1", "x^{2}+2*x+1"}, {"\\text{Evelyn}", "evelyn"}, {"-2 + 7i", "-2+7i"},      {"i", "i"},
        {"(3,\\infty) \\cup (-\\infty,2)", "(-\\infty,2)\\cup(3,\\infty)"}, {"1 \\pm 2", "-1,3"},
        {"\\emptyset", "\\emptyset"}, {"5.4 \\text{ cents}", "5.4"}, {"2y = 4x + 6", "2*y=4*x+6"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++, n_cases++) {
        char *got = vmath_normalize(t[i].in);
        CHECK_MSG(strcmp(got, t[i].want) == 0, "normalize(\"%s\") = \"%s\", want \"%s\"", t[i].in, got, t[i].want);
        free(got);
    }
}

// The canonical form is itself an answer equal to the original, and
// equivalent spellings of a number share one canonical form.
TEST(canonical_round_trip) {
    static const char *const answers[] = {
        "\\frac{\\sqrt{3}}{2}", "(x+1)^2", "\\{1\\pm\\sqrt{5},-2\\}", "(-\\infty, 2) \\cup (3, \\infty)",
        "\\left( 3, \\frac{\\pi}{2} \\right)", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "50\\%",
        "5x - 7y + 11z + 4 = 0", "\\frac{11+9a}{20}", "204_5", "\\sin^2 x", "\\log_2 x", "|x-1|",
        "\\binom{n}{2}", "-2 + 7i", "x_1 + x_{2}", "\\sqrt[3]{x}", "\\frac{1}{3}", "-\\frac{\\pi}{6}",
        "\\text{(C)}", "n!", "(x-1)^{-2}", "-x^2", "(-x)^2", "2^{3^x}", "\\alpha\\beta", "1e-20", "e^{-x}",
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(answers); i++, n_cases++) {
        char *c = vmath_normalize(answers[i]);
        CHECK_MSG(vmath_equal(c, answers[i]), "canonical \"%s\" of \"%s\" is not equal to it", c, answers[i]);
        char *c2 = vmath_normalize(c);
        CHECK_MSG(strcmp(c, c2) == 0, "canonical form not stable: \"%s\" -> \"%s\"", c, c2);
        free(c);
        free(c2);
    }
    static const char *const same[][3] = {
        {"0.5", "\\frac{1}{2}", "1/2"}, {"1,000", "1000.0", "10^3"}, {"\\sqrt{2}/2", "\\frac{1}{\\sqrt2}", "\\frac{\\sqrt{2}}{2}"},
        {"x=3", "3", "\\boxed{3}"},     {"\\{1,2\\}", "\\{2,1\\}", "\\left\\{ 2, 1 \\right\\}"}, {"30^\\circ", "30", "30.00"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(same); i++, n_cases++) {
        char *c0 = vmath_normalize(same[i][0]), *c1 = vmath_normalize(same[i][1]), *c2 = vmath_normalize(same[i][2]);
        CHECK_MSG(strcmp(c0, c1) == 0 && strcmp(c1, c2) == 0, "\"%s\" \"%s\" \"%s\" differ", c0, c1, c2);
        free(c0), free(c1), free(c2);
    }
}

TEST(answer_objects) {
    VmathAnswer *g = vmath_answer_new("\\frac{\\sqrt{3}}{2}");
    CHECK_STR_EQ(vmath_answer_kind(g), "number");
    const char *resp[] = {"\\sqrt{3}/2", "0.866", "\\frac{\\sqrt3}{2}", "\\sqrt{3}"};
    int want[] = {1, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        VmathAnswer *r = vmath_answer_new(resp[i]);
        CHECK_MSG(vmath_answer_equal(r, g) == want[i], "\"%s\"", resp[i]);
        vmath_answer_free(r);
    }
    vmath_answer_free(g);
    vmath_answer_free(NULL);
    const char *kinds[][2] = {{"x+1", "expression"}, {"x+y=1", "equation"}, {"(1,2,3)", "tuple"}, {"\\{1,2\\}", "set"},
                              {"1, 2", "list"},      {"[1,2]", "interval"}, {"(1,2)\\cup(3,4)", "union"}, {"Evelyn", "text"}};
    for (size_t i = 0; i < RS_ARRAY_LEN(kinds); i++, n_cases++) {
        VmathAnswer *a = vmath_answer_new(kinds[i][0]);
        CHECK_MSG(strcmp(vmath_answer_kind(a), kinds[i][1]) == 0, "kind(\"%s\") = %s", kinds[i][0], vmath_answer_kind(a));
        vmath_answer_free(a);
    }
}

// ---------------------------------------------------------------------------
// grading jobs

static VerifyResult grade(const char *problem_json, const char *response) {
    VerifyJob job = {.id = "t", .verifier = "math", .response = (char *)response, .problem = cJSON_Parse(problem_json)};
    VerifyResult r = {0};
    Err e = {{0}};
    RS_CHECK(job.problem);
    CHECK_EQ(vmath_grade(NULL, &job, &r, &e), 0);
    cJSON_Delete(job.problem);
    return r;
}

static void result_free(VerifyResult *r) {
    free(r->detail);
    free(r->extracted);
}

TEST(grade_gsm8k_style) {
    const char *problem = "{\"question\": \"How much?\", \"answer\": \"She makes 9 * 2 = $<<9*2=18>>18 every day.\\n#### 18\"}";
    VerifyResult r = grade(problem, "Each day she sells 9 eggs, so she earns $9 \\times 2 = \\boxed{18}$ dollars.");
    CHECK_STR_EQ(r.status, "correct");
    CHECK_EQ(r.score, 1);
    CHECK_EQ(r.all_passed, 1);
    CHECK_STR_EQ(r.extracted, "18");
    CHECK_CONTAINS(r.detail, "boxed");
    result_free(&r);
    r = grade(problem, "She earns 9 + 2 = 11 dollars.\n#### 11");
    CHECK_STR_EQ(r.status, "wrong");
    CHECK_EQ(r.score, 0);
    CHECK_EQ(r.all_passed, 0);
    CHECK_STR_EQ(r.extracted, "11");
    CHECK_CONTAINS(r.detail, "differs");
    result_free(&r);
    r = grade("{\"answer\": \"#### 1,080\"}", "The total is 1080.");
    CHECK_STR_EQ(r.status, "correct");
    result_free(&r);
    n_cases += 3;
}

TEST(grade_math_style) {
    // MATH: the gold answer is the solution's last \boxed{} when "answer" is absent.
    const char *problem = "{\"problem\": \"Find r.\", \"solution\": \"So $r = \\\\boxed{\\\\dfrac{\\\\sqrt{3}}{2}}$.\"}";
    VerifyResult r = grade(problem, "Therefore r is \\(\\frac{\\sqrt 3}{2}\\). The answer is $\\frac{\\sqrt{3}}{2}$.");
    CHECK_STR_EQ(r.status, "correct");
    CHECK_STR_EQ(r.extracted, "0.8660254038");
    result_free(&r);
    r = grade("{\"answer\": \"\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)\"}", "The point is $\\boxed{(3, \\frac{\\pi}{2})}$.");
    CHECK_STR_EQ(r.status, "correct");
    result_free(&r);
    r = grade("{\"answer\": \"\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)\"}", "The point is $\\boxed{(\\frac{\\pi}{2}, 3)}$.");
    CHECK_STR_EQ(r.status, "wrong");
    result_free(&r);
    r = grade("{\"answer\": 27.0}", "They meet after \\boxed{27} miles.");  // AMC: a float answer
    CHECK_STR_EQ(r.status, "correct");
    result_free(&r);
    r = grade("{\"answer\": \"\\\\text{Evelyn}\"}", "The winner is **Evelyn**. \\boxed{\\text{evelyn}}");
    CHECK_STR_EQ(r.status, "correct");
    result_free(&r);
    n_cases += 5;
}

TEST(grade_errors_and_no_answer) {
    VerifyResult r = grade("{\"problem\": \"no gold here\"}", "\\boxed{1}");
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "answer");
    result_free(&r);
    r = grade("{\"answer\": [1, 2]}", "\\boxed{1}");
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "expected a string or a number");
    result_free(&r);
    r = grade("{\"solution\": \"no box in it\"}", "\\boxed{1}");
    CHECK_STR_EQ(r.status, "error");
    result_free(&r);
    r = grade("{\"answer\": \"   \"}", "\\boxed{1}");
    CHECK_STR_EQ(r.status, "error");
    CHECK_CONTAINS(r.detail, "empty");
    result_free(&r);
    r = grade("{\"answer\": \"5\"}", "I don't know.");
    CHECK_STR_EQ(r.status, "wrong");
    CHECK(r.extracted == NULL);
    CHECK_CONTAINS(r.detail, "no final answer");
    result_free(&r);
    VerifyJob job = {.id = "t", .verifier = "math", .response = NULL, .problem = NULL};
    VerifyResult q = {0};
    Err e = {{0}};
    CHECK_EQ(vmath_grade(NULL, &job, &q, &e), 0);
    CHECK_STR_EQ(q.status, "error");
    result_free(&q);
    n_cases += 6;
}

TEST(gold_answer) {
    Err e = {{0}};
    cJSON *p = cJSON_Parse("{\"answer\": \"Natalia sold 48/2 = <<48/2=24>>24 clips.\\n#### 72\"}");
    char *g = vmath_gold_answer(p, &e);
    CHECK_STR_EQ(g, "72");
    free(g);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"answer\": 0.1}");
    g = vmath_gold_answer(p, &e);
    CHECK_STR_EQ(g, "0.1");
    free(g);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"answer\": null}");
    CHECK(vmath_gold_answer(p, &e) == NULL);
    CHECK_CONTAINS(e.msg, "missing");
    cJSON_Delete(p);
    n_cases += 3;
}

// ---------------------------------------------------------------------------
// hostile input: never a crash or a hang

// ---------------------------------------------------------------------------
// issue 14: equivalence widened and tightened (ARCHITECTURE.md, "Verifiers")

// fuzz_math found vmath_equal(a, b) != vmath_equal(b, a) for "54 = 0"
// against "-5²114=0": two equations, 5^2114 overflowed to -inf, and the old
// proportionality test divided one side by the other (-inf/54 has a NaN
// imaginary part, 54/-inf does not) with an absolute tolerance. Overflow is
// now an undefined point, the test is symmetric (f_k g_r = g_k f_r), and
// big values are exact. (Both inputs now read as chains whose last value,
// 0, counts, so they are equal; the overflow path is kept alive with \pi.)
TEST(fuzz_math_symmetry_regressions) {
    static const Pair t[] = {
        {"54 = 0", "-5\xc2\xb2" "114=0", 1}, {"2x + 54\\pi = 0", "2x - 5^{2114}\\pi = 0", 0},
        {"x + 54 = 0", "x - 5^{2114} = 0", 0}, {"5^{2114}\\pi", "5^{2115}\\pi", 0}, {"x = 0", "10^{-13}y = 0", 0},
        {"2x = 0", "10^{-300}x = 0", 1},       {"5^{2114}", "5^{2114}+1", 0}, {"\\{10^{400}, 1\\}", "\\{1, 10^{400}\\}", 1},
        {"10^{-13}x", "y", 0},                  {"x^{400}", "x^{401}", 0},
    };
    CHECK_PAIRS(t);
    // the bytes the fuzzer wrote, through the fuzz target's own check
    const char *a = "54 = 0", *b = "-5\xc2\xb2" "114=0";
    CHECK_EQ(vmath_equal(a, b), vmath_equal(b, a));
}

TEST(numbers_widened) {
    static const Pair t[] = {
        // decimal commas: 2 or 4+ digits after one comma; 3 is thousands, 1 a list
        {"1,22", "1.22", 1},     {"12,34", "12.34", 1},   {"1,22", "122", 0},     {"1,220", "1220", 1},
        {"1,2345", "1.2345", 1}, {"-3,75", "-3.75", 1},   {"1,22", "1, 22", 0},
        // currency and units, on either side
        {"1,000.99\xe2\x82\xac", "1000.99", 1}, {"\xe2\x82\xac" "1,000.99", "1000.99", 1}, {"1,000.99\xe2\x82\xac", "1000.9", 0},
        {"125\\textnormal{ miles}", "125", 1}, {"125", "125\\textnormal{ miles}", 1}, {"125\\textnormal{ miles}", "126", 0},
        {"\xc2\xa3" "12", "12", 1},  {"12\\euro", "12", 1},  {"\\$1,000", "1000", 1},
        // percent spelled three ways; 0.5% is not 0.5
        {"0.5\\%", "0.5", 0},    {"0.5\\%", "0.005", 1},  {"25 percent", "25\\%", 1}, {"25 pct", "0.25", 1},
        {"25\\text{ percent}", "25", 1}, {"25 percent", "26\\%", 0}, {"5\\%", "0.5", 0},  {"150\\%", "1.5", 1},
        {"150\\%", "150", 1},
        // number words
        {"five", "5", 1},        {"\\text{five}", "5", 1}, {"five", "6", 0},       {"Twenty", "20", 1},
        {"five apples", "5", 1}, {"zero", "0", 1},
    };
    CHECK_PAIRS(t);
}

// Exact wherever both sides are exact (GMP), relative tolerance otherwise.
TEST(exact_big_and_small) {
    static const Pair t[] = {
        {"\\frac{1}{2006!}", "\\frac{1}{2004!}", 0},    {"\\frac{1}{2006!}", "\\frac{1}{2006 \\cdot 2005!}", 1},
        {"2^{-98}", "2^{-99}", 0},                      {"2^{-98}", "4^{-49}", 1},
        {"\\binom{70}{35}+1000", "\\binom{70}{35}", 0}, {"\\binom{70}{35}", "112186277816662845432", 1},
        {"2^{100}", "1267650600228229401496703205376", 1}, {"2^{100}", "1267650600228229401496703205377", 0},
        {"100!", "100\\cdot 99!", 1},                   {"30!", "265252859812191058636308480000000", 1},
        {"30!", "265252859812191058636308480000001", 0},
        {"10^{20}", "10^{20}+\\pi", 0},                  {"\\frac{\\pi}{2006!}", "\\frac{\\pi}{2004!}", 0},
        {"e^{-2000}", "e^{-2001}", 0},                   {"5", "5e^0", 1},  {"5", "5\\pi^{0}", 1},
        {"112186277816662845432", "\\binom{70}{35}e^0+1000", 0}, {"0", "0\\cdot\\pi", 1},
        {"8^{2/3}", "4", 1},                             {"27^{1/3}", "3", 1},  {"\\sqrt{2}^2", "2", 1},
        {"\\sin(\\pi)", "0", 1},                         {"x^2", "x^2 + 10^{-20}", 0}, {"3x", "3.0000001x", 0},
        {"x^2", "x^2 + 10^{-3}\\pi", 0},       {"10^{-400}", "0", 0},  {"10^{-400}\\pi", "0", 0},
        {"1e-400", "1e-401", 0},                {"1e-400", "10^{-400}", 1},
    };
    CHECK_PAIRS(t);
}

// Decision: a repeating decimal written with a bar is exactly its rational;
// a truncated or rounded one is a different number (exact rationals compare
// exactly). A decimal against an irrational uses the relative tolerance.
TEST(repeating_decimals) {
    static const Pair t[] = {
        {"\\frac{1}{3}", "0.\\overline{3}", 1},   {"\\frac{1}{6}", "0.1\\overline{6}", 1},
        {"\\frac{1}{7}", "0.\\overline{142857}", 1}, {"\\frac{1}{3}", "0.333333", 0},
        {"\\frac{1}{3}", "0.3333333333", 0},      {"\\frac{1}{3}", "0.\\overline{33}", 1},
        {"\\frac{2}{3}", "0.\\overline{6}", 1},   {"\\frac{2}{3}", "0.667", 0},
        {"1", "0.\\overline{9}", 1},              {"\\frac{20000}{\\pi}", "6366.2", 1},
    };
    CHECK_PAIRS(t);
}

// Variables take values of both signs: |x| is not x. Point 0 is positive and
// point 1 negative for every variable, whatever the seed.
TEST(evaluation_points_both_signs) {
    static const Pair t[] = {
        {"|x|", "x", 0},          {"x|x|", "x^2", 0},        {"|x|+|y|", "|x+y|", 0}, {"|xy|", "|x|\\cdot|y|", 1},
        {"\\sqrt{x^2}", "|x|", 1}, {"x^{2}", "|x|^2", 1},     {"\\frac{|x|}{x}", "1", 0},
    };
    CHECK_PAIRS(t);
    const char *names[] = {"x", "y", "a", "\\theta", "n"};
    int pos = 0, neg = 0;
    for (uint64_t seed = 0; seed < 50; seed++)
        for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
            CHECK(vmath_point(seed, names[i], 0) > 0);
            CHECK(vmath_point(seed, names[i], 1) < 0);
            for (int k = 0; k < VMATH_POINTS; k++) {
                double v = vmath_point(seed, names[i], k);
                CHECK(fabs(v) >= 0.3 && fabs(v) < 3.0);
                pos += v > 0, neg += v < 0;
            }
        }
    CHECK(pos > 500 && neg > 500);
    CHECK(vmath_point(1, "x", 3) != vmath_point(2, "x", 3));  // the seed moves the points
}

TEST(structure_widened) {
    static const Pair t[] = {
        // row and column vectors and matrix shapes differ
        {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix}", 0},
        {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{bmatrix}1\\\\2\\end{bmatrix}", 1},
        {"\\begin{pmatrix}1&2\\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix}", 1},
        {"\\begin{pmatrix}1&2&3\\\\4&5&6\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\\\5&6\\end{pmatrix}", 0},
        {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)", 1},  // a plain tuple is either vector
        // named tuples
        {"(p,q,r) = (6,31,-1)", "(6,31,-1)", 1}, {"(p,q,r) = (6,31,-1)", "(6,31,1)", 0},
        {"(a, b) = (1, 2)", "(a,b)=(1,2)", 1},  {"(a, b) = (1, 2)", "(2, 1)", 0},
        // unions of sets are sets
        {"\\{1,3\\}\\cup\\{2,4\\}", "\\{1,2,3,4\\}", 1}, {"\\{1,3\\}\\cup\\{2,4\\}", "\\{1,2,3\\}", 0},
        {"\\{1,3\\}\\cup\\{3,4\\}", "\\{1,3,4\\}", 1},   {"\\{1,3\\}\\cup\\{2,4\\}", "\\{1,2,3,5\\}", 0},
    };
    CHECK_PAIRS(t);
}

// Decision: an inequality in one variable is the set it describes, so it
// equals that interval and every other inequality of the same set.
TEST(relations_widened) {
    static const Pair t[] = {
        {"x \\approx 11", "11", 1},         {"x \\approx 11", "12", 0},      {"x \xe2\x89\x88 11", "11", 1},
        {"x = 5+5+1 = 11", "11", 1},        {"x = 5+5+1 = 11", "12", 0},     {"5+2 = 7", "7", 1},
        {"x = 7 = 12", "7", 0},             {"x = 7 = 12", "12", 1},
        {"-x > -1", "x < 1", 1},            {"-x > -1", "x > 1", 0},         {"-x > -1", "(-\\infty, 1)", 1},
        {"2x - 6 \\ge 0", "[3, \\infty)", 1}, {"2x - 6 \\ge 0", "(3, \\infty)", 0}, {"3 > 1 - x", "x > -2", 1},
        {"0<f(x)<1", "(0,1)", 1},           {"0<f(x)\\le 1", "(0,1)", 0},
        {"-2\\le x\\le 7", "x\\in[-2,7]", 1}, {"-2\\le x\\le 7", "[-2,7]", 1}, {"-2 < x\\le 7", "[-2,7]", 0},
        {"x^2 > 1", "x > 1", 0},            {"x + y > 1", "x > 1", 0},
        // the same line in another form
        {"y = 2x+3", "2x - y + 3 = 0", 1},  {"y = 2x+3", "2x + y + 3 = 0", 0}, {"y=-\\frac12x+2", "x+2y=4", 1},
        {"y=-\\frac12x+2", "x+2y=8", 0},    {"x = 3", "x - 3 = 0", 1},       {"x = 3", "2x = 6", 1},
    };
    CHECK_PAIRS(t);
}

TEST(extraction_widened) {
    static const XCase t[] = {
        {"roots $\\boxed{1}$ and $\\boxed{2}$", "1, 2", VMATH_SRC_BOXED},
        {"$\\boxed{2}$, so again $\\boxed{2}$", "2", VMATH_SRC_BOXED},
        {"$\\boxed{2}$, that is $\\boxed{2.0}$", "2.0", VMATH_SRC_BOXED},  // one answer: the last box
        {"Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", "\\frac{1}{2}", VMATH_SRC_ANSWER_IS},
        {"Final Answer: The final answer is 7. I hope it is correct.", "7", VMATH_SRC_ANSWER_IS},
        {"Adding them gives **73**.", "73", VMATH_SRC_BOLD},
        {"The answer is\n$$\n5\n$$", "5", VMATH_SRC_ANSWER_IS},
        {"so\n\\[\n\\boxed{\n5\n}\n\\]", "5", VMATH_SRC_BOXED},
        {"It is 3, or maybe 4", NULL, VMATH_SRC_NONE},
        {"The answer is 20 cups... no wait, 21.", NULL, VMATH_SRC_NONE},  // taken back: no answer
        {"It is probably 3", NULL, VMATH_SRC_NONE},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++, n_cases++) {
        VmathSource src;
        char *a = vmath_extract_from(t[i].response, &src);
        if (t[i].want) CHECK_MSG(a && !strcmp(a, t[i].want), "extract(\"%s\") = \"%s\", want \"%s\"", t[i].response, a ? a : "(null)", t[i].want);
        else CHECK_MSG(a == NULL, "extract(\"%s\") = \"%s\", want none", t[i].response, a);
        CHECK_MSG(src == t[i].src, "extract(\"%s\"): source %s, want %s", t[i].response, vmath_source_name(src), vmath_source_name(t[i].src));
        free(a);
    }
    // prose after the number that takes it back or hedges it is no answer
    static const Pair p[] = {
        {"3 \\text{ is not the answer}", "3", 0}, {"3\\text{, maybe}", "3", 0}, {"3 \\text{ or so}", "3", 0},
        {"3 \\text{ apples}", "3", 1},          {"3 or 4", "3", 0},          {"\\text{3 or 4}", "3", 0},
    };
    CHECK_PAIRS(p);
}

TEST(huge_response) {
    size_t n = 10u << 20;
    char *s = xmalloc(n + 64);
    for (size_t i = 0; i < n; i++) s[i] = "ab {}\\$*#x "[i % 11];
    strcpy(s + n, " so \\boxed{42}");
    double t0 = rs_now();
    char *a = vmath_extract(s);
    CHECK_STR_EQ(a, "42");
    free(a);
    memset(s, '{', n);  // a 10 MB run of unclosed braces after a \boxed
    memcpy(s, "\\boxed", 6);
    s[n] = 0;
    a = vmath_extract(s);
    CHECK(a == NULL);
    free(a);
    for (size_t i = 0; i < n; i += 7) memcpy(s + i, "\\boxed{", 7);  // a million unclosed boxes
    s[n] = 0;
    a = vmath_extract(s);
    CHECK(a == NULL);
    CHECK_EQ(vmath_equal(s, s), 0);  // too long to be an answer
    free(a);
    free(s);
    printf("    10 MB responses: %.2f s\n", rs_now() - t0);
    n_cases += 4;
}

static char *repeat(const char *pre, const char *unit, size_t times, const char *post) {
    size_t u = strlen(unit);
    char *s = xmalloc(strlen(pre) + u * times + strlen(post) + 1), *w = s;
    w = stpcpy(w, pre);
    for (size_t i = 0; i < times; i++) w = stpcpy(w, unit);
    strcpy(w, post);
    return s;
}

TEST(deep_nesting_and_long_chains) {
    static const struct {
        const char *pre, *unit, *post;
        size_t times;
    } t[] = {
        {"", "(", "1", 3000},        {"", "{", "1", 3000},          {"", "\\frac{", "1", 2000},
        {"", "\\sqrt{", "2", 2000},  {"", "-", "1", 4000},           {"2", "^2", "", 3000},
        {"1", "+1", "", 4000},       {"", "\\{", "1", 2000},         {"x", "\\pm 1", "", 20},
        {"", "1,", "1", 2000},       {"", "\\begin{pmatrix}", "1", 500}, {"", "[", "1", 3000},
        {"", "|", "1", 3000},        {"", "\\left(", "1", 3000},     {"", "(1,", "1", 2000},
        {"", "\\text{", "1", 1500},  {"", "x_", "1", 1000},           {"", "2^{", "", 2000},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(t); i++, n_cases++) {
        char *s = repeat(t[i].pre, t[i].unit, t[i].times, t[i].post);
        int eq = vmath_equal(s, "1");
        CHECK(eq == 0 || eq == 1);
        char *c = vmath_normalize(s);
        free(c);
        char *x = vmath_extract(s);
        free(x);
        free(s);
    }
    // Values that overflow or are undefined are compared, not crashed on.
    static const Pair big[] = {
        {"10^{10^{10}}", "10^{10^{10}}", 1}, {"1000!", "1000!", 1},  {"\\binom{10^9}{5\\cdot 10^8}", "1", 0},
        {"0/0", "1", 0},                    {"\\frac{1}{0}", "1", 0}, {"2^{2^{2^{2^{2}}}}", "1", 0},
        {"\\infty", "\\infty", 1},          {"\\infty", "-\\infty", 0}, {"\\log 0", "1", 0},
    };
    CHECK_PAIRS(big);
}

TEST(binary_garbage) {
    Rng r;
    rng_seed(&r, 7);
    static const char alphabet[] = "0123456789+-*/^_{}()[]\\,.=<>!|%$ abcxyzeipq\\frac\\sqrt\\boxed\\pm\\in\\cup\\text";
    char buf[600];
    double t0 = rs_now();
    int runs = 3000;
    for (int i = 0; i < runs; i++) {
        size_t n = rng_below(&r, sizeof buf - 1);
        for (size_t k = 0; k < n; k++)
            buf[k] = (i & 1) ? (char)(1 + rng_below(&r, 255)) : alphabet[rng_below(&r, sizeof alphabet - 1)];
        buf[n] = 0;
        char *x = vmath_extract(buf);
        free(x);
        char *c = vmath_normalize(buf);
        free(c);
        int eq = vmath_equal(buf, buf + n / 2);
        CHECK(eq == 0 || eq == 1);
    }
    printf("    %d garbage inputs: %.2f s\n", runs, rs_now() - t0);
    n_cases += 1;
}
