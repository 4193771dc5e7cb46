// math_eval.c: the values of parsed math answers. Every scalar is evaluated
// at VMATH_POINTS points over the complex numbers (variables take fixed
// pseudo-random values per name) and, where it can be, exactly as a
// rational; and expressions print back in a form the parser reads.
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/rng.h"
#include "verifier/math/math_expr.h"

const char *const vm_func_names[F_COUNT] = {"sin",  "cos",  "tan",  "cot", "sec", "csc", "arcsin", "arccos",
                                            "arctan", "sinh", "cosh", "tanh", "ln",  "log", "exp"};

// ---------------------------------------------------------------------------
// exact rationals

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

VmQ vm_q_make(int64_t n, int64_t d) {
    if (d == 0 || n == INT64_MIN || d == INT64_MIN) return VM_Q_BAD;
    if (d < 0) n = -n, d = -d;
    int64_t g = gcd64(n, d);
    if (g > 1) n /= g, d /= g;
    return (VmQ){n, d, 1};
}

static VmQ q_add(VmQ a, VmQ b) {
    int64_t x, y, n, d;
    if (!a.ok || !b.ok || __builtin_mul_overflow(a.n, b.d, &x) || __builtin_mul_overflow(b.n, a.d, &y) ||
        __builtin_add_overflow(x, y, &n) || __builtin_mul_overflow(a.d, b.d, &d))
        return VM_Q_BAD;
    return vm_q_make(n, d);
}

static VmQ q_neg(VmQ a) { return a.ok ? (VmQ){-a.n, a.d, 1} : VM_Q_BAD; }

VmQ vm_q_mul(VmQ a, VmQ b) {
    int64_t n, d;
    if (!a.ok || !b.ok) return VM_Q_BAD;
    int64_t g1 = gcd64(a.n, b.d), g2 = gcd64(b.n, a.d);  // cross-reduce first
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    if (__builtin_mul_overflow(a.n / g1, b.n / g2, &n) || __builtin_mul_overflow(a.d / g2, b.d / g1, &d)) return VM_Q_BAD;
    return vm_q_make(n, d);
}

VmQ vm_q_div(VmQ a, VmQ b) {
    if (!b.ok || b.n == 0) return VM_Q_BAD;
    return vm_q_mul(a, (VmQ){b.d, b.n, 1});
}

static VmQ q_pow(VmQ a, VmQ e) {
    if (!a.ok || !e.ok || e.d != 1 || e.n > 64 || e.n < -64) return VM_Q_BAD;
    if (e.n < 0) {
        if (a.n == 0) return VM_Q_BAD;
        a = vm_q_make(a.d, a.n);
    }
    VmQ r = {1, 1, 1};
    for (int64_t i = 0; i < (e.n < 0 ? -e.n : e.n) && r.ok; i++) r = vm_q_mul(r, a);
    return r;
}

static int64_t isqrt64(int64_t x) {
    if (x < 0) return -1;
    int64_t r = (int64_t)sqrt((double)x);
    while (r > 0 && r * r > x) r--;
    while ((r + 1) * (r + 1) <= x) r++;
    return r * r == x ? r : -1;
}

static VmQ q_sqrt(VmQ a) {
    if (!a.ok || a.n < 0 || a.n > (int64_t)1 << 60 || a.d > (int64_t)1 << 60) return VM_Q_BAD;
    int64_t n = isqrt64(a.n), d = isqrt64(a.d);
    return n < 0 || d < 0 ? VM_Q_BAD : vm_q_make(n, d);
}

static VmQ q_factorial(VmQ a) {
    if (!a.ok || a.d != 1 || a.n < 0 || a.n > 20) return VM_Q_BAD;
    int64_t r = 1;
    for (int64_t i = 2; i <= a.n; i++) r *= i;
    return vm_q_make(r, 1);
}

static VmQ q_binom(VmQ n, VmQ k) {
    if (!n.ok || !k.ok || n.d != 1 || k.d != 1 || k.n < 0 || n.n < k.n || n.n > 1000000) return VM_Q_BAD;
    int64_t kk = RS_MIN(k.n, n.n - k.n), r = 1;
    if (kk > 64) return VM_Q_BAD;
    for (int64_t i = 1; i <= kk; i++) {  // r * (n-kk+i) / i stays an integer
        int64_t t;
        if (__builtin_mul_overflow(r, n.n - kk + i, &t)) return VM_Q_BAD;
        r = t / i;
    }
    return vm_q_make(r, 1);
}

// ---------------------------------------------------------------------------
// evaluation

// Variables take positive values in [0.5, 2.5), fixed per name and point,
// so the same name means the same number in both answers.
static cplx var_value(uint64_t hash, int k) {
    Rng r;
    rng_seed(&r, hash + 0x9E3779B97F4A7C15ull * (uint64_t)(k + 1));
    return 0.5 + 2.0 * rng_double(&r);
}

static int is_real_int(cplx x, double lim) {
    return cimag(x) == 0 && fabs(creal(x)) <= lim && creal(x) == rint(creal(x));
}

static cplx c_pow(cplx a, cplx b) {
    if (is_real_int(b, 1024)) {  // exact-ish repeated squaring, no branch cut
        long n = lrint(creal(b));
        cplx r = 1, x = a;
        for (long m = n < 0 ? -n : n; m; m >>= 1, x *= x)
            if (m & 1) r *= x;
        return n < 0 ? 1 / r : r;
    }
    if (cimag(a) == 0 && creal(a) > 0 && cimag(b) == 0) return pow(creal(a), creal(b));
    if (a == 0) return creal(b) > 0 ? 0 : NAN;
    return cpow(a, b);
}

// \sqrt[n]{x}: the real root of a negative x for odd n, else the principal one.
static cplx c_root(cplx n, cplx x) {
    if (is_real_int(n, 1e9) && ((long)creal(n)) % 2 != 0 && cimag(x) == 0 && creal(x) < 0)
        return -pow(-creal(x), 1 / creal(n));
    return c_pow(x, 1 / n);
}

static cplx c_func(int fn, cplx x) {
    switch (fn) {
    case F_SIN: return csin(x);
    case F_COS: return ccos(x);
    case F_TAN: return ctan(x);
    case F_COT: return 1 / ctan(x);
    case F_SEC: return 1 / ccos(x);
    case F_CSC: return 1 / csin(x);
    case F_ASIN: return casin(x);
    case F_ACOS: return cacos(x);
    case F_ATAN: return catan(x);
    case F_SINH: return csinh(x);
    case F_COSH: return ccosh(x);
    case F_TANH: return ctanh(x);
    case F_LN: case F_LOG: return clog(x);  // \log is natural, as in sympy
    default: return cexp(x);
    }
}

static cplx c_fact(cplx x) {
    if (cimag(x) != 0 || creal(x) <= -1) return NAN;
    if (is_real_int(x, 170)) {
        double r = 1;
        for (int i = 2; i <= (int)creal(x); i++) r *= i;
        return r;
    }
    return tgamma(creal(x) + 1);
}

static cplx c_binom(cplx n, cplx k) {
    if (!is_real_int(n, 1e15) || !is_real_int(k, 1e15)) return NAN;
    double nn = creal(n), kk = creal(k);
    if (kk < 0 || kk > nn) return 0;
    double m = fmin(kk, nn - kk);
    if (m > 1000) return exp(lgamma(nn + 1) - lgamma(kk + 1) - lgamma(nn - kk + 1));
    double r = 1;
    for (int i = 1; i <= (int)m; i++) r = r * (nn - m + i) / i;
    return r;
}

static cplx eval_c(const VmNode *nd, cplx (*E)[VMATH_POINTS], int k, double sign) {
    cplx a = nd->a >= 0 ? E[nd->a][k] : 0, b = nd->b >= 0 ? E[nd->b][k] : 0;
    switch ((VmOp)nd->op) {
    case N_NUM: return nd->num;
    case N_VAR: return var_value(nd->hash, k);
    case N_PI: return M_PI;
    case N_E: return M_E;
    case N_I: return I;
    case N_INF: return INFINITY;
    case N_NEG: return -a;
    case N_ADD: return a + b;
    case N_SUB: return a - b;
    case N_MUL: return a * b;
    case N_DIV: return a / b;
    case N_POW: return c_pow(a, b);
    case N_PM: case N_MP: return a + sign * b;
    case N_UPM: return sign * a;
    case N_SQRT: return csqrt(a);
    case N_ROOT: return c_root(a, b);
    case N_FUNC: return c_func(nd->fn, a);
    case N_LOG: return clog(a) / clog(b);
    case N_FACT: return c_fact(a);
    case N_PCT: return a / 100;
    case N_DEG: return a * (M_PI / 180);
    case N_ABS: return cabs(a);
    case N_BINOM: return c_binom(a, b);
    }
    return NAN;
}

static VmQ eval_q(const VmNode *nd, const VmQ *Q, double sign) {
    VmQ a = nd->a >= 0 ? Q[nd->a] : VM_Q_BAD, b = nd->b >= 0 ? Q[nd->b] : VM_Q_BAD, s = {sign < 0 ? -1 : 1, 1, 1};
    switch ((VmOp)nd->op) {
    case N_NUM: return nd->q;
    case N_NEG: return q_neg(a);
    case N_ADD: return q_add(a, b);
    case N_SUB: return q_add(a, q_neg(b));
    case N_MUL: return vm_q_mul(a, b);
    case N_DIV: return vm_q_div(a, b);
    case N_POW: return q_pow(a, b);
    case N_PM: case N_MP: return q_add(a, vm_q_mul(s, b));
    case N_UPM: return vm_q_mul(s, a);
    case N_SQRT: return q_sqrt(a);
    case N_FACT: return q_factorial(a);
    case N_PCT: return vm_q_div(a, (VmQ){100, 1, 1});
    case N_ABS: return a.ok ? (VmQ){a.n < 0 ? -a.n : a.n, a.d, 1} : VM_Q_BAD;
    case N_BINOM: return q_binom(a, b);
    default: return VM_Q_BAD;
    }
}

static int is_pm(const VmNode *nd) { return nd->op == N_PM || nd->op == N_MP || nd->op == N_UPM; }

// The sign the \pm node i takes in v: +1 or -1.
static double pm_sign(const VmathAnswer *A, const VmVal *v, int i) {
    int idx = 0;
    for (int j = v->first; j < i; j++) idx += is_pm(&A->nodes[j]);
    double s = (v->mask >> idx & 1) ? -1 : 1;
    return A->nodes[i].op == N_MP ? -s : s;
}

// Evaluate v's node range in one pass (children come before parents).
static void eval_val(const VmathAnswer *A, VmVal *v, cplx (*E)[VMATH_POINTS], VmQ *Q) {
    int pm = 0;
    for (int i = v->first; i <= v->root; i++) {
        const VmNode *nd = &A->nodes[i];
        RS_CHECK(nd->a < i && nd->b < i && (nd->a < 0 || nd->a >= v->first) && (nd->b < 0 || nd->b >= v->first));
        double sign = 1;
        if (is_pm(nd)) sign = (v->mask >> pm++ & 1) ? -1 : 1;
        if (nd->op == N_MP) sign = -sign;
        v->has_vars |= nd->op == N_VAR;
        Q[i] = eval_q(nd, Q, sign);
        for (int k = 0; k < VMATH_POINTS; k++) {
            cplx z = eval_c(nd, E, k, sign);
            E[i][k] = cimag(z) == 0 ? (cplx)creal(z) : z;  // +0i, not -0i: sqrt(-1) is i, not -i
        }
    }
    const VmNode *root = &A->nodes[v->root];
    int raw = v->root;
    if (v->kind == VK_SCALAR && (root->op == N_PCT || root->op == N_DEG)) v->unit = 1, raw = root->a;
    v->q = Q[v->root], v->q_raw = Q[raw];
    for (int k = 0; k < VMATH_POINTS; k++) v->ev[k] = E[v->root][k], v->ev_raw[k] = E[raw][k];
}

void vm_eval(VmathAnswer *A) {
    if (A->top < 0) return;
    cplx (*E)[VMATH_POINTS] = xmalloc((size_t)(A->nn + 1) * sizeof *E);
    VmQ *Q = xmalloc((size_t)(A->nn + 1) * sizeof *Q);
    for (int i = 0; i < A->nv; i++)
        if (A->vals[i].kind == VK_SCALAR || A->vals[i].kind == VK_EQ) eval_val(A, &A->vals[i], E, Q);
    free(E);
    free(Q);
}

// ---------------------------------------------------------------------------
// printing (canonical forms of expressions with variables)

static int precedence(const VmNode *nd) {
    switch ((VmOp)nd->op) {
    case N_ADD: case N_SUB: case N_PM: case N_MP: return 1;
    case N_MUL: case N_DIV: return 2;
    case N_NEG: case N_UPM: return 3;
    case N_POW: return 4;
    case N_FACT: case N_PCT: case N_DEG: return 5;
    default: return 6;
    }
}

static void print_number(double v, VmQ q, Buf *b) {
    if (q.ok && q.d == 1) {
        buf_printf(b, "%lld", (long long)q.n);
        return;
    }
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v) snprintf(s, sizeof s, "%.17g", v);
    buf_puts(b, s);
}

static void print_node(const VmathAnswer *A, const VmVal *v, int i, int min_prec, Buf *b) {
    const VmNode *nd = &A->nodes[i];
    int paren = precedence(nd) < min_prec;
    if (paren) buf_putc(b, '(');
    switch ((VmOp)nd->op) {
    case N_NUM: print_number(nd->num, nd->q, b); break;
    case N_VAR: buf_puts(b, A->names.data + nd->name); break;
    case N_PI: buf_puts(b, "\\pi"); break;
    case N_E: buf_putc(b, 'e'); break;
    case N_I: buf_putc(b, 'i'); break;
    case N_INF: buf_puts(b, "\\infty"); break;
    case N_NEG: case N_UPM:
        if (nd->op == N_NEG || pm_sign(A, v, i) < 0) buf_putc(b, '-');
        print_node(A, v, nd->a, 3, b);
        break;
    case N_ADD: case N_SUB: case N_PM: case N_MP: {
        int minus = nd->op == N_SUB || (nd->op != N_ADD && pm_sign(A, v, i) < 0);
        print_node(A, v, nd->a, 1, b);
        buf_putc(b, minus ? '-' : '+');
        print_node(A, v, nd->b, 2, b);
        break;
    }
    case N_MUL: case N_DIV:
        print_node(A, v, nd->a, 2, b);
        buf_putc(b, nd->op == N_MUL ? '*' : '/');
        print_node(A, v, nd->b, 3, b);
        break;
    case N_POW:
        print_node(A, v, nd->a, 5, b);
        buf_puts(b, "^{");
        print_node(A, v, nd->b, 0, b);
        buf_putc(b, '}');
        break;
    case N_SQRT: buf_puts(b, "\\sqrt{"), print_node(A, v, nd->a, 0, b), buf_putc(b, '}'); break;
    case N_ROOT:
        buf_puts(b, "\\sqrt["), print_node(A, v, nd->a, 0, b), buf_puts(b, "]{");
        print_node(A, v, nd->b, 0, b), buf_putc(b, '}');
        break;
    case N_FUNC: buf_printf(b, "\\%s(", vm_func_names[nd->fn]), print_node(A, v, nd->a, 0, b), buf_putc(b, ')'); break;
    case N_LOG:
        buf_puts(b, "\\log_{"), print_node(A, v, nd->b, 0, b), buf_puts(b, "}(");
        print_node(A, v, nd->a, 0, b), buf_putc(b, ')');
        break;
    case N_FACT: case N_PCT: case N_DEG:
        print_node(A, v, nd->a, 6, b);
        buf_puts(b, nd->op == N_FACT ? "!" : nd->op == N_PCT ? "%" : "^\\circ");
        break;
    case N_ABS: buf_putc(b, '|'), print_node(A, v, nd->a, 0, b), buf_putc(b, '|'); break;
    case N_BINOM:
        buf_puts(b, "\\binom{"), print_node(A, v, nd->a, 0, b), buf_puts(b, "}{");
        print_node(A, v, nd->b, 0, b), buf_putc(b, '}');
        break;
    }
    if (paren) buf_putc(b, ')');
}

void vm_print_expr(const VmathAnswer *A, const VmVal *v, int node, Buf *b) { print_node(A, v, node, 0, b); }
