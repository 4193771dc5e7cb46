// math.h: the math verifier. Pulls the final answer out of a model's
// response and decides whether it is the same mathematical object as the
// gold answer: numbers, fractions, radicals, pi, percentages, degrees and
// units, "x = 3", sets and unordered roots, ordered tuples, intervals,
// matrices, expressions with variables (by evaluation at random points) and
// text answers.
//
//   echo '{"id":"1","verifier":"math","response":"so \\boxed{\\frac12}","problem":{"answer":"0.5"}}' | reasoner verify --jsonl
//   -> {"id":"1","score":1,"status":"correct","detail":"answer \"\\frac12\" (boxed, ...","extracted":"0.5",...}
//
// Extraction order (vmath_extract), first rule that yields an answer wins:
//   1. \boxed{...} / \fbox{...} (nested braces matched; an unclosed or empty
//      one falls back to the one before it). Several different boxes are
//      all of them, joined as a list ("1, 2"); the same answer boxed again
//      is one answer; past 16 different boxes the list equals nothing
//   2. GSM8K's "#### N" (the rest of the last such line)
//   3. the last "answer is ..." / "answer: ..." phrase ("The final answer is
//      $5$. I hope it is correct.", "**Answer:** 5"): the $...$ span after
//      it, else the rest of the sentence; none when the rest of its line
//      hedges or takes it back ("or maybe", "not", "no wait")
//   4. a final bold span **...**: the last one, holding a digit, with no
//      digit after it ("she has **72** eggs left")
//   5. the last number in the text (with sign, thousands separators, a/b),
//      unless its sentence hedges ("probably 3", "3 or maybe 4")
//
// Equivalence rules (vmath_equal), decided here once and tested
// (verifier/README.md, "Math", has the decisions in a table):
//   - Exact wherever both sides are exact: integers, decimals, fractions,
//     mixed numbers, factorials, binomials, rational powers and roots that
//     come out rational are GMP rationals compared exactly (1/2006! !=
//     1/2004!, 0.333333 != 1/3, 0.\overline{3} = 1/3, e^0 = 1); expressions
//     with variables are exact at each (dyadic) point when they can be.
//     Anything else compares numerically with relative tolerance
//     VMATH_REL_TOL (6366.2 = \frac{20000}{\pi}) or within VMATH_NOISE of
//     what the evaluation cancelled; never an absolute tolerance. Values a
//     double cannot hold are undefined points, and an exact integer beyond
//     2^53 never equals an inexact value.
//   - "1,000" is one thousand when every group after the first has three
//     digits and no space follows the comma; "1, 000" is a list; "1,22" (one
//     comma, 2 or 4+ digits) is 1.22; "1,2" is a list. Inside brackets a
//     comma always separates: (12,102) is a point.
//   - Percent ("%", "percent", "pct"): x% equals x/100, and x itself only
//     when |x| >= 1 (50% = 50 = 0.5, but 0.5% != 0.5).
//   - Degrees: "30^\circ" equals both 30 and \frac{\pi}{6}; inside a
//     function they are converted (\tan 45^\circ = 1).
//   - \$, currency signs and trailing units or prose ("5.4 \text{ cents}",
//     "15 cm^2", "72 dollars") after a number are dropped, unless the words
//     hedge or negate it ("3 \text{ is not the answer}" is text). Single-
//     letter units are not (they read as variables: "5 m" is 5*m). Number
//     words ("five") are numbers.
//   - "x = 3", "f(x) = x^2", "(p, q) = (1, 2)" and "x \in [1,2]" compare by
//     their right side when the left is a lone variable, a function head or
//     a tuple of variables; "x = 3" also equals the equation "x - 3 = 0".
//     Other equations compare as equations (both sides moved left, equal up
//     to a constant factor: "2x + 2y = 2" is "x + y = 1"). Chains "x = 5+5+1
//     = 11" and equations without variables take their last value; "\approx"
//     is "=". Inequalities in one variable are the interval they describe:
//     "x > 2", "-2 \le x < 7", "-x > -1" (linear ones are solved), "0 < f(x)
//     < 1".
//   - A bare list "1, 2" is unordered against a set {2, 1} or another bare
//     list, and ordered against a tuple (1, 2); a set never equals a tuple.
//     "a \pm b" is the list of its two values. (1, 2) != (2, 1). A union of
//     finite sets is a set.
//   - (a, b) is both a point and an open interval; [a, b], (a, b], [a, b)
//     are intervals whose ends must match; unions compare unordered.
//   - Matrices are tuples of rows with their shape: a row vector is not a
//     column vector; a plain tuple equals either.
//   - Expressions with variables are evaluated at VMATH_POINTS points of
//     both signs drawn from the answers' seed (vmath_grade: fresh per job),
//     over the complex numbers; "i" is the imaginary unit and "e" Euler's
//     number. |x| != x.
//   - Answers that do not parse as math compare as text: \text{} stripped,
//     case and spaces ignored ("\text{Evelyn}" = "evelyn"). A lone letter
//     is a choice and ignores case too ("\text{(C)}" = "c"). Look-alike
//     Unicode (fullwidth digits, Cyrillic letters) is not mapped: it is text.
//
// Robustness: input is bounded (an answer over VMATH_MAX_ANSWER bytes
// equals nothing; recursion depth, nodes and container sizes are capped),
// so any input, 10 MB or binary, returns quickly. No global state:
// thread-safe.
#pragma once
#include <stdint.h>

#include "verifier/verifier.h"

#define VMATH_MAX_ANSWER 4096  // longest answer string parsed (bytes)
#define VMATH_REL_TOL 1e-6     // relative tolerance for non-exact numbers
#define VMATH_NOISE 1e-11      // rounding noise, relative to the magnitudes an evaluation cancelled
#define VMATH_POINTS 12        // evaluation points for expressions

// Which extraction rule found the answer.
typedef enum VmathSource {
    VMATH_SRC_NONE,
    VMATH_SRC_BOXED,
    VMATH_SRC_HASHES,
    VMATH_SRC_ANSWER_IS,
    VMATH_SRC_BOLD,
    VMATH_SRC_LAST_NUMBER,
} VmathSource;

// The final answer in response (rules above), malloc'd and trimmed, or NULL
// when there is none. response may be NULL or arbitrarily large.
char *vmath_extract(const char *response);
// The same, also saying which rule matched (src may be NULL).
char *vmath_extract_from(const char *response, VmathSource *src);
// "boxed", "####", "answer is", "bold", "last number" or "none".
const char *vmath_source_name(VmathSource src);
// The content of the last complete \boxed{} / \fbox{} in text, or NULL.
char *vmath_last_boxed(const char *text);

// A parsed answer, for comparing one gold answer against many responses
// without parsing it again. Never NULL: what does not parse becomes text.
// Variables are evaluated at points drawn from seed: two answers compare
// only when they were made with the same seed (comparing answers of
// different seeds is a bug and stops the program). vmath_answer_new uses
// seed 0; graders that face a policy draw a fresh seed per job
// (vmath_grade does), so no fixed set of points can be learned.
typedef struct VmathAnswer VmathAnswer;
VmathAnswer *vmath_answer_new(const char *text);
VmathAnswer *vmath_answer_new_seeded(const char *text, uint64_t seed);
void vmath_answer_free(VmathAnswer *a);
// 1 when a and b are the same answer (rules above), else 0.
int vmath_answer_equal(const VmathAnswer *a, const VmathAnswer *b);
// The canonical form: equivalent answers map to the same string where
// feasible (exact rationals as p/q, other constants to 10 significant
// digits, sets sorted, units and "x =" dropped). Owned by a.
const char *vmath_answer_canonical(VmathAnswer *a);
// What a parsed to: "number", "expression", "equation", "tuple", "set",
// "list", "interval", "union" or "text".
const char *vmath_answer_kind(const VmathAnswer *a);

// vmath_answer_equal on two strings (NULL is never equal to anything). The
// seed is a symmetric hash of the two strings: reproducible, and
// vmath_equal(a, b) == vmath_equal(b, a).
int vmath_equal(const char *a, const char *b);
// The same with an explicit seed.
int vmath_equal_seeded(const char *a, const char *b, uint64_t seed);
// The value variable `name` takes at point k (0 <= k < VMATH_POINTS) for
// seed: what an attacker would need to know to build an expression equal
// to the gold only at the evaluation points (the tests build one).
double vmath_point(uint64_t seed, const char *name, int k);
// The canonical form of an answer string, malloc'd (maj@k voting key).
char *vmath_normalize(const char *answer);

// The gold answer of a problem, malloc'd: "answer" (a string, whose text
// after a last "####" is taken as GSM8K's, or a number), else the last
// \boxed{} of "solution" (MATH). NULL with e set when there is none.
char *vmath_gold_answer(const cJSON *problem, Err *e);

// The "math" verifier (builtins.def): score 1 "correct" or 0 "wrong";
// "error" when the problem has no gold answer. out->extracted is the
// canonical extracted answer, out->detail what was extracted and compared.
int vmath_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e);
