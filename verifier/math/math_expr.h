// math_expr.h: internals of the math verifier shared by its files (not a
// public API; use verifier/math/math.h). An answer string is normalised
// (math_norm.c), parsed by a recursive-descent parser into expression nodes
// and a tree of values (math_expr.c), every scalar is evaluated at
// VMATH_POINTS points and, where it can be, exactly as an arbitrary-precision
// rational with GMP (math_eval.c); math.c compares the values and prints
// canonical forms.
//
// Nodes live in one array and children always have smaller indices than
// their parent (they are built first), so a scalar is a contiguous range
// [first, root] that evaluates in one loop with no recursion.
#pragma once
#include <complex.h>
#include <gmp.h>
#include <stdint.h>

#include "common/buf.h"
#include "verifier/math/math.h"

#define VM_MAX_NODES 4096  // per answer; more fails the parse (becomes text)
#define VM_MAX_DEPTH 96    // parser nesting
#define VM_MAX_ITEMS 512   // elements of one container
#define VM_MAX_PM 3        // "\pm" signs per scalar (2^3 values)

#define VM_MAX_BITS (1 << 17)  // exact values beyond this many bits become inexact

typedef double complex cplx;

typedef enum VmFunc { F_SIN, F_COS, F_TAN, F_COT, F_SEC, F_CSC, F_ASIN, F_ACOS, F_ATAN,
                      F_SINH, F_COSH, F_TANH, F_LN, F_LOG, F_EXP, F_COUNT } VmFunc;
extern const char *const vm_func_names[F_COUNT];  // "sin", ... in VmFunc order

typedef enum VmOp {
    N_NUM, N_VAR, N_PI, N_E, N_I, N_INF,
    N_NEG, N_ADD, N_SUB, N_MUL, N_DIV, N_POW,
    N_PM, N_MP, N_UPM,  // a \pm b, a \mp b, \pm a
    N_SQRT, N_ROOT,     // ROOT: a index, b radicand
    N_FUNC, N_LOG,      // FUNC: fn id, a argument; LOG: a argument, b base
    N_FACT, N_PCT, N_DEG, N_ABS, N_BINOM,  // DEG: a degrees, in radians
} VmOp;

typedef struct VmNode {
    uint8_t op, fn;
    int a, b;
    uint8_t int_lit;  // N_NUM written as a plain integer (no '.', no exponent)
    double num;       // N_NUM
    int exp10;        // N_NUM: the value is mantissa * 10^exp10
    uint64_t hash;    // N_VAR: hash of its name
    int name;         // N_VAR: offset of its name in names; N_NUM: of its mantissa digits
} VmNode;

typedef enum VmKind { VK_SCALAR, VK_EQ, VK_TUPLE, VK_SET, VK_LIST, VK_INTERVAL, VK_UNION, VK_TEXT } VmKind;

typedef struct VmVal {
    VmKind kind;
    int first, root;          // SCALAR, EQ (root = lhs - rhs): node range
    unsigned mask;            // which sign each \pm takes (bit i: the i-th is minus)
    int unit;                 // SCALAR whose root is a % or a degree: ev is the
                              // value (0.5, pi/6), ev_raw the number written (50, 30)
    int point;                // TUPLE written (a, b): also the open interval
    int rows, cols;           // TUPLE from a matrix environment: its shape (0: a plain tuple)
    int merged;               // SET made by a union of sets: compared as a set (repeats ignored)
    int eq;                   // SCALAR written "y = rhs": the equation y - rhs = 0 (a VK_EQ value), or -1
    int lo_closed, hi_closed; // INTERVAL
    int nkid, *kid;           // indices into VmathAnswer.vals (INTERVAL: ends)
    int has_vars;
    int evaluated;            // q and q_raw hold GMP values (cleared with the answer)
    int q_ok, q_raw_ok;       // the exact values below are known
    mpq_t q, q_raw;           // exact value (raw: without the percent)
    mpq_t *qk;                // an expression with variables, exactly at each point (the points
                              // are doubles, so rationals): VMATH_POINTS values, or NULL
    cplx ev[VMATH_POINTS], ev_raw[VMATH_POINTS];
    double err[VMATH_POINTS]; // rounding-noise scale of ev: a first-order bound on what cancellation lost
} VmVal;

struct VmathAnswer {
    char *norm;        // the normalised text
    char *text;        // its text form (vm_text_norm), for text comparison
    VmNode *nodes;
    int nn, ncap;
    VmVal *vals;
    int nv, vcap;
    Buf names;         // variable names and number mantissas
    uint64_t seed;     // where variables are evaluated (vm_var_value)
    int top;           // the value of the whole answer, or -1: text
    char *canon;       // canonical form, made on demand
};

// math_norm.c: the LaTeX clean-up every answer goes through (malloc'd).
char *vm_normalize_text(const char *s);
// Text form for text answers: no \text, braces, $, spaces; lower case;
// "(b)" -> "b". malloc'd.
char *vm_text_norm(const char *s);

// math_expr.c: parse a->norm into a->nodes/vals/top. Leaves a->top = -1
// when the text is not math.
void vm_parse(VmathAnswer *a);

// math_eval.c: evaluate every scalar and equation of a parsed answer.
void vm_eval(VmathAnswer *a);
// Print the expression at node of v (a SCALAR, or an EQ's side, with the
// \pm signs v->mask chooses) in a form vm_parse reads back.
void vm_print_expr(const VmathAnswer *a, const VmVal *v, int node, Buf *b);
// The value of the variable whose name hashes to hash at point k, for an
// answer evaluated with seed: magnitude in [0.3, 3), point 0 positive,
// point 1 negative, the other signs random.
double vm_var_value(uint64_t seed, uint64_t hash, int k);
uint64_t vm_hash(const char *s);
// Whether the node range [first, root] is f(x) = f(0) + slope * x in its
// one variable (hash var) with slope != 0 (checked at several real x);
// *slope is set.
int vm_linear(const VmathAnswer *A, int first, int root, uint64_t var, double *slope);
