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
//   1. the last complete \boxed{...} or \fbox{...} (nested braces matched;
//      an unclosed or empty one falls back to the one before it)
//   2. GSM8K's "#### N" (the rest of the last such line)
//   3. the last "answer is ..." / "answer: ..." phrase ("The final answer is
//      $5$", "**Answer:** 5"): the $...$ span after it, else the rest of the
//      sentence
//   4. a final bold span **...**: the last one, holding a digit, with no
//      digit after it ("she has **72** eggs left")
//   5. the last number in the text (with sign, thousands separators, a/b)
//
// Equivalence rules (vmath_equal), decided here once and tested:
//   - Two exact rationals (integers, decimals, fractions, mixed numbers
//     "1\frac{4}{5}") compare exactly: 0.5 = 1/2 and 3.0 = 3, but
//     0.3333 != 1/3 and 1000001 != 1000000. Anything irrational, complex or
//     with variables compares numerically with relative tolerance
//     VMATH_REL_TOL (6366.2 = \frac{20000}{\pi}).
//   - "1,000" is one thousand when every group after the first has three
//     digits and no space follows the comma; "1,2" and "1, 000" are lists.
//     Inside brackets a comma always separates: (12,102) is a point.
//   - Percent: "50%" equals both 50 and 0.5 (the sign may be kept or
//     dropped, as the MATH graders allow); without a sign 50 != 0.5.
//   - Degrees: "30^\circ" equals both 30 and \frac{\pi}{6}; inside a
//     function they are converted (\tan 45^\circ = 1).
//   - \$ and trailing units or prose ("5.4 \text{ cents}", "15 cm^2",
//     "72 dollars") after a number are dropped. Single-letter units are
//     not (they read as variables: "5 m" is 5*m).
//   - "x = 3", "f(x) = x^2" and "x \in [1,2]" compare by their right side
//     when the left is a lone variable or a function head; other equations
//     compare as equations (both sides moved left, equal up to a constant
//     factor: "2x + 2y = 2" is "x + y = 1"). "x > 2", "-2 \le x < 7" are
//     intervals.
//   - A bare list "1, 2" is unordered against a set {2, 1} or another bare
//     list, and ordered against a tuple (1, 2); a set never equals a tuple.
//     "a \pm b" is the list of its two values. (1, 2) != (2, 1).
//   - (a, b) is both a point and an open interval; [a, b], (a, b], [a, b)
//     are intervals whose ends must match; unions compare unordered.
//   - Expressions with variables are evaluated at VMATH_POINTS pseudo-random
//     positive points (fixed per variable name, so results are reproducible),
//     over the complex numbers; "i" is the imaginary unit and "e" Euler's
//     number.
//   - Answers that do not parse as math compare as text: \text{} stripped,
//     case and spaces ignored ("\text{Evelyn}" = "evelyn"). A lone letter
//     is a choice and ignores case too ("\text{(C)}" = "c").
//
// Robustness: input is bounded (an answer over VMATH_MAX_ANSWER bytes
// equals nothing; recursion depth, nodes and container sizes are capped),
// so any input, 10 MB or binary, returns quickly. No global state:
// thread-safe.
#pragma once
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
