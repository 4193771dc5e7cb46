// math_eval.c: the values of parsed math answers. Every scalar is evaluated
// at VMATH_POINTS points over the complex numbers (variables take values of
// both signs drawn from the answer's seed) with a scale of its rounding
// noise, and, where it can be, exactly as a GMP rational; and expressions
// print back in a form the parser reads.
#include <float.h>
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/rng.h"
#include "verifier/math/math_expr.h"

const char *const vm_func_names[F_COUNT] = {"sin",  "cos",  "tan",  "cot", "sec", "csc", "arcsin", "arccos",
                                            "arctan", "sinh", "cosh", "tanh", "ln",  "log", "exp"};

// ---------------------------------------------------------------------------
// exact rationals (GMP): every op checks its operands are known and keeps
// results under VM_MAX_BITS, so 10^{10^9} or 100000! becomes inexact (and
// then compares numerically, where it overflows and equals nothing) instead
// of eating memory.

static size_t q_bits(const mpq_t x) {
    return mpz_sizeinbase(mpq_numref(x), 2) + mpz_sizeinbase(mpq_denref(x), 2);
}

static int q_is_int(const mpq_t x) { return mpz_cmp_ui(mpq_denref(x), 1) == 0; }

// A small integer exponent in e (|e| <= lim), into *out.
static int q_small_int(const mpq_t e, long lim, long *out) {
    if (!q_is_int(e) || !mpz_fits_slong_p(mpq_numref(e))) return 0;
    long v = mpz_get_si(mpq_numref(e));
    if (v > lim || v < -lim) return 0;
    *out = v;
    return 1;
}

static int q_literal(const VmathAnswer *A, const VmNode *nd, mpq_t r) {
    if (nd->exp10 > 4000 || nd->exp10 < -4000) return 0;
    if (mpz_set_str(mpq_numref(r), A->names.data + nd->name, 10) != 0) return 0;
    mpz_set_ui(mpq_denref(r), 1);
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, (unsigned long)(nd->exp10 < 0 ? -nd->exp10 : nd->exp10));
    if (nd->exp10 < 0) mpz_set(mpq_denref(r), p);
    else mpz_mul(mpq_numref(r), mpq_numref(r), p);
    mpz_clear(p);
    mpq_canonicalize(r);
    return 1;
}

// The exact n-th root of x (n >= 1), when there is one.
static int q_root(mpq_t r, const mpq_t x, unsigned long n) {
    if (n == 0 || n > 64) return 0;
    int neg = mpq_sgn(x) < 0;
    if (neg && n % 2 == 0) return 0;
    mpz_t a, b;
    mpz_inits(a, b, NULL);
    mpz_abs(a, mpq_numref(x));
    int ok = mpz_root(a, a, n) && mpz_root(b, mpq_denref(x), n);
    if (ok) {
        if (neg) mpz_neg(a, a);
        mpz_set(mpq_numref(r), a), mpz_set(mpq_denref(r), b);
        mpq_canonicalize(r);
    }
    mpz_clears(a, b, NULL);
    return ok;
}

// x^e with e rational: exact when e is a small integer, or p/q and x has an
// exact q-th root; the size is estimated before it is computed.
static int q_pow(mpq_t r, const mpq_t x, const mpq_t e) {
    if (mpq_sgn(e) == 0) {
        if (mpq_sgn(x) == 0) return 0;  // 0^0
        mpq_set_ui(r, 1, 1);
        return 1;
    }
    if (!mpz_fits_slong_p(mpq_denref(e)) || mpz_get_si(mpq_denref(e)) > 64) return 0;
    unsigned long q = mpz_get_ui(mpq_denref(e));
    mpq_t base;
    mpq_init(base);
    int ok = q == 1 ? (mpq_set(base, x), 1) : q_root(base, x, q);
    long p = 0;
    mpq_t ei;
    mpq_init(ei);
    mpq_set_z(ei, mpq_numref(e));
    ok = ok && q_small_int(ei, 1000000, &p);
    mpq_clear(ei);
    if (ok && p < 0 && mpq_sgn(base) == 0) ok = 0;
    int unit = ok && mpz_cmpabs_ui(mpq_numref(base), 1) == 0 && mpz_cmp_ui(mpq_denref(base), 1) == 0;
    if (ok && !unit && mpq_sgn(base) != 0 && (double)q_bits(base) * (double)(p < 0 ? -p : p) > VM_MAX_BITS) ok = 0;
    if (ok) {
        unsigned long m = (unsigned long)(p < 0 ? -p : p);
        if (unit) m %= 2;
        mpz_pow_ui(mpq_numref(r), mpq_numref(base), m);
        mpz_pow_ui(mpq_denref(r), mpq_denref(base), m);
        if (p < 0) mpq_inv(r, r);
    }
    mpq_clear(base);
    return ok;
}

// Whether every point of E is finite and not NaN.
static int all_finite(const cplx *e) {
    for (int k = 0; k < VMATH_POINTS; k++)
        if (!isfinite(creal(e[k])) || !isfinite(cimag(e[k]))) return 0;
    return 1;
}

static int all_nonzero(const cplx *e) {
    for (int k = 0; k < VMATH_POINTS; k++)
        if (e[k] == 0) return 0;
    return 1;
}

// Node i exactly into Q[i]: 1 known, 0 not. Variables are known at point
// k >= 0 (their value there), not when k < 0.
static int eval_q(const VmathAnswer *A, int i, mpq_t *Q, const unsigned char *ok, cplx (*E)[VMATH_POINTS], double sign,
                  int k) {
    const VmNode *nd = &A->nodes[i];
    int ka = nd->a >= 0 && ok[nd->a], kb = nd->b >= 0 && ok[nd->b];
    mpq_t *r = &Q[i];
    const mpq_t *a = nd->a >= 0 ? (const mpq_t *)&Q[nd->a] : NULL, *b = nd->b >= 0 ? (const mpq_t *)&Q[nd->b] : NULL;
    int res = 0;
    switch ((VmOp)nd->op) {
    case N_NUM: res = q_literal(A, nd, *r); break;
    case N_VAR: if (k >= 0) mpq_set_d(*r, vm_var_value(A->seed, nd->hash, k)), res = 1; break;
    case N_NEG: if (ka) mpq_neg(*r, *a), res = 1; break;
    case N_ADD: if (ka && kb) mpq_add(*r, *a, *b), res = 1; break;
    case N_SUB: if (ka && kb) mpq_sub(*r, *a, *b), res = 1; break;
    case N_PM: case N_MP:
        if (ka && kb) sign < 0 ? mpq_sub(*r, *a, *b) : mpq_add(*r, *a, *b), res = 1;
        break;
    case N_UPM: if (ka) sign < 0 ? mpq_neg(*r, *a) : mpq_set(*r, *a), res = 1; break;
    case N_MUL:
        if (ka && kb) mpq_mul(*r, *a, *b), res = 1;
        // 0 times anything finite is exactly 0 ("0 \cdot \pi")
        else if ((ka && mpq_sgn(*a) == 0 && all_finite(E[nd->b])) || (kb && mpq_sgn(*b) == 0 && all_finite(E[nd->a])))
            mpq_set_ui(*r, 0, 1), res = 1;
        break;
    case N_DIV:
        if (ka && kb && mpq_sgn(*b) != 0) mpq_div(*r, *a, *b), res = 1;
        else if (ka && mpq_sgn(*a) == 0 && all_finite(E[nd->b]) && all_nonzero(E[nd->b])) mpq_set_ui(*r, 0, 1), res = 1;
        break;
    case N_POW:
        if (ka && kb) res = q_pow(*r, *a, *b);
        // x^0 is exactly 1 for any finite nonzero x: e^0, \pi^0 stay exact
        else if (kb && mpq_sgn(*b) == 0 && all_finite(E[nd->a]) && all_nonzero(E[nd->a])) mpq_set_ui(*r, 1, 1), res = 1;
        break;
    case N_SQRT: if (ka && mpq_sgn(*a) >= 0) res = q_root(*r, *a, 2); break;
    case N_ROOT: {
        long n;
        if (ka && kb && q_small_int(*a, 64, &n) && n >= 1) res = q_root(*r, *b, (unsigned long)n);
        break;
    }
    case N_FACT: {
        long n;
        if (ka && q_small_int(*a, 5000, &n) && n >= 0) {
            mpz_fac_ui(mpq_numref(*r), (unsigned long)n), mpz_set_ui(mpq_denref(*r), 1), res = 1;
        }
        break;
    }
    case N_BINOM: {
        long n, k;
        if (ka && kb && q_small_int(*a, 100000, &n) && q_small_int(*b, 100000, &k) && n >= 0) {
            if (k < 0 || k > n) mpq_set_ui(*r, 0, 1);
            else mpz_bin_uiui(mpq_numref(*r), (unsigned long)n, (unsigned long)k), mpz_set_ui(mpq_denref(*r), 1);
            res = 1;
        }
        break;
    }
    case N_PCT: if (ka) mpq_set_ui(*r, 1, 100), mpq_mul(*r, *r, *a), res = 1; break;
    case N_ABS: if (ka) mpq_abs(*r, *a), res = 1; break;
    case N_FUNC:  // the exact values at 0 (and ln 1)
        if (ka && mpq_sgn(*a) == 0 && nd->fn != F_LN && nd->fn != F_LOG && nd->fn != F_COT && nd->fn != F_CSC &&
            nd->fn != F_ACOS) {
            int one = nd->fn == F_COS || nd->fn == F_SEC || nd->fn == F_COSH || nd->fn == F_EXP;
            mpq_set_ui(*r, one, 1), res = 1;
        } else if (ka && (nd->fn == F_LN || nd->fn == F_LOG) && mpq_cmp_ui(*a, 1, 1) == 0) {
            mpq_set_ui(*r, 0, 1), res = 1;
        }
        break;
    default: break;
    }
    return res && q_bits(*r) <= VM_MAX_BITS;
}

// ---------------------------------------------------------------------------
// evaluation

uint64_t vm_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

double vm_var_value(uint64_t seed, uint64_t hash, int k) {
    Rng r;
    rng_seed(&r, seed ^ (hash * 0xD6E8FEB86659FD93ull) ^ (0x9E3779B97F4A7C15ull * (uint64_t)(k + 1)));
    double m = 0.3 + 2.7 * rng_double(&r);
    int neg = k == 1 || (k > 1 && (rng_u64(&r) >> 63));
    return neg ? -m : m;
}

double vmath_point(uint64_t seed, const char *name, int k) {
    return k >= 0 && k < VMATH_POINTS ? vm_var_value(seed, vm_hash(name ? name : ""), k) : NAN;
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

static cplx eval_c(const VmathAnswer *A, const VmNode *nd, cplx (*E)[VMATH_POINTS], int k, double sign) {
    cplx a = nd->a >= 0 ? E[nd->a][k] : 0, b = nd->b >= 0 ? E[nd->b][k] : 0;
    switch ((VmOp)nd->op) {
    case N_NUM: return nd->num;
    case N_VAR: return vm_var_value(A->seed, nd->hash, k);
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

static int finite_c(cplx x) { return isfinite(creal(x)) && isfinite(cimag(x)); }

// A value a double cannot hold: a result that overflowed to infinity from
// finite operands, or underflowed (to zero or a subnormal) from nonzero
// ones. 1/2006! and \pi/2006! are not 0, and 2^{-2000} is not 2^{-2001}:
// such points are undefined (NaN) rather than wrongly equal.
static int lost_range(const VmNode *nd, cplx a, cplx b, cplx r) {
    double m = cabs(r);
    switch ((VmOp)nd->op) {
    case N_NUM: return nd->num != 0 && (isinf(nd->num) || fabs(nd->num) < DBL_MIN);
    case N_MUL: case N_DIV: case N_POW: case N_FUNC: case N_LOG: case N_FACT: case N_BINOM: case N_PCT:
    case N_DEG: case N_ROOT: case N_SQRT:
        if (!finite_c(a) || (nd->b >= 0 && nd->op != N_FUNC && nd->op != N_FACT && nd->op != N_SQRT && !finite_c(b)))
            return 0;  // an infinite operand (\infty) may give an infinite result
        if (isinf(m)) return 1;
        return m < DBL_MIN && (a != 0 || nd->op == N_FUNC) && (nd->op != N_MUL || b != 0) && !(nd->op == N_POW && a == 0);
    case N_INF: case N_VAR: case N_PI: case N_E: case N_I: return 0;
    default: return isinf(m) && finite_c(a) && (nd->b < 0 || finite_c(b));
    }
}

// First-order scale of the rounding error of node value r (>= |r|): what
// cancellation in a sum may leave behind. sin(\pi) is 1.2e-16, not 0, and
// its scale is \pi, so it equals 0; 2^{-99} has scale 2^{-99}, so it never
// equals 2^{-98} or 0.
static double err_scale(const VmNode *nd, cplx a, cplx b, cplx r, double ea, double eb) {
    double m = cabs(r), aa = cabs(a), ab = cabs(b), s;
    switch ((VmOp)nd->op) {
    case N_ADD: case N_SUB: case N_PM: case N_MP: s = ea + eb; break;
    case N_NEG: case N_UPM: case N_ABS: s = ea; break;
    case N_MUL: s = ea * ab + eb * aa; break;
    case N_DIV: s = ab > 0 ? ea / ab + eb * aa / (ab * ab) : INFINITY; break;
    case N_POW: s = m * (aa > 0 ? cabs(b) * ea / aa : 0) + m * fabs(log(fmax(aa, 1e-300))) * eb; break;
    case N_SQRT: case N_ROOT: s = aa > 0 ? m * ea / aa : ea; break;
    case N_FUNC: s = ea * fmax(1.0, m); break;  // |f'| is at most about max(1, |f|) for these
    default: s = fmax(ea, eb); break;
    }
    return isnan(s) ? INFINITY : fmax(s, m);
}

// f at real x: NaN where it is not a real number.
static double eval_at(const VmathAnswer *A, int first, int root, uint64_t var, double x, cplx (*E)[VMATH_POINTS]) {
    for (int i = first; i <= root; i++) {
        const VmNode *nd = &A->nodes[i];
        if (nd->op == N_VAR) E[i][0] = nd->hash == var ? x : NAN;
        else if (nd->op == N_PM || nd->op == N_MP || nd->op == N_UPM || nd->op == N_INF) E[i][0] = NAN;
        else E[i][0] = eval_c(A, nd, E, 0, 1);
    }
    cplx r = E[root][0];
    return cimag(r) == 0 && isfinite(creal(r)) ? creal(r) : NAN;
}

int vm_linear(const VmathAnswer *A, int first, int root, uint64_t var, double *slope) {
    cplx (*E)[VMATH_POINTS] = xmalloc((size_t)(root + 1) * sizeof *E);
    double f0 = eval_at(A, first, root, var, 0, E), f1 = eval_at(A, first, root, var, 1, E);
    double a = f1 - f0;
    int ok = isfinite(f0) && isfinite(a) && a != 0;
    static const double xs[] = {2.5, -1.75, 0.375, 7.125};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0] && ok; k++) {
        double y = eval_at(A, first, root, var, xs[k], E), want = f0 + a * xs[k];
        ok = isfinite(y) && fabs(y - want) <= 1e-9 * (fabs(f0) + fabs(a * xs[k]) + fabs(y));
    }
    free(E);
    *slope = a;
    return ok;
}

static int is_pm(const VmNode *nd) { return nd->op == N_PM || nd->op == N_MP || nd->op == N_UPM; }

// The sign the \pm node i takes in v: +1 or -1.
static double pm_sign(const VmathAnswer *A, const VmVal *v, int i) {
    int idx = 0;
    for (int j = v->first; j < i; j++) idx += is_pm(&A->nodes[j]);
    double s = (v->mask >> idx & 1) ? -1 : 1;
    return A->nodes[i].op == N_MP ? -s : s;
}

typedef struct Scratch {
    cplx (*E)[VMATH_POINTS];
    double (*S)[VMATH_POINTS];
    mpq_t *Q;
    unsigned char *ok;
} Scratch;

// An expression with variables exactly at every point, into v->qk (left
// NULL when some point is not exact: a root, \pi, a pole).
static void exact_points(VmathAnswer *A, VmVal *v, Scratch *w) {
    mpq_t *qk = xmalloc(VMATH_POINTS * sizeof *qk);
    int all = 1, made = 0;
    for (int k = 0; k < VMATH_POINTS && all; k++) {
        int pm = 0;
        for (int i = v->first; i <= v->root; i++) {
            const VmNode *nd = &A->nodes[i];
            double sign = 1;
            if (is_pm(nd)) sign = (v->mask >> pm++ & 1) ? -1 : 1;
            if (nd->op == N_MP) sign = -sign;
            w->ok[i] = (unsigned char)eval_q(A, i, w->Q, w->ok, w->E, sign, k);
        }
        if (!(all = w->ok[v->root])) break;
        mpq_init(qk[k]), made++;
        mpq_set(qk[k], w->Q[v->root]);
    }
    if (all) {
        v->qk = qk;
        return;
    }
    for (int k = 0; k < made; k++) mpq_clear(qk[k]);
    free(qk);
}

// Evaluate v's node range in one pass (children come before parents).
static void eval_val(VmathAnswer *A, VmVal *v, Scratch *w) {
    int pm = 0;
    for (int i = v->first; i <= v->root; i++) {
        const VmNode *nd = &A->nodes[i];
        RS_CHECK(nd->a < i && nd->b < i && (nd->a < 0 || nd->a >= v->first) && (nd->b < 0 || nd->b >= v->first));
        double sign = 1;
        if (is_pm(nd)) sign = (v->mask >> pm++ & 1) ? -1 : 1;
        if (nd->op == N_MP) sign = -sign;
        v->has_vars |= nd->op == N_VAR;
        for (int k = 0; k < VMATH_POINTS; k++) {
            cplx a = nd->a >= 0 ? w->E[nd->a][k] : 0, b = nd->b >= 0 ? w->E[nd->b][k] : 0;
            cplx z = eval_c(A, nd, w->E, k, sign);
            if (lost_range(nd, a, b, z)) z = NAN;
            w->E[i][k] = cimag(z) == 0 ? (cplx)creal(z) : z;  // +0i, not -0i: sqrt(-1) is i, not -i
            double ea = nd->a >= 0 ? w->S[nd->a][k] : 0, eb = nd->b >= 0 ? w->S[nd->b][k] : 0;
            w->S[i][k] = nd->a < 0 && nd->b < 0 ? cabs(z) : err_scale(nd, a, b, z, ea, eb);
        }
        w->ok[i] = (unsigned char)eval_q(A, i, w->Q, w->ok, w->E, sign, -1);
    }
    const VmNode *root = &A->nodes[v->root];
    int raw = v->root;
    if (v->kind == VK_SCALAR && (root->op == N_PCT || root->op == N_DEG)) v->unit = 1, raw = root->a;
    mpq_inits(v->q, v->q_raw, NULL);
    v->evaluated = 1;
    v->q_ok = w->ok[v->root], v->q_raw_ok = w->ok[raw];
    if (v->q_ok) mpq_set(v->q, w->Q[v->root]);
    if (v->q_raw_ok) mpq_set(v->q_raw, w->Q[raw]);
    if (v->has_vars) exact_points(A, v, w);  // after: it reuses the scratch
    double d = v->q_ok ? mpq_get_d(v->q) : 0;
    int d_ok = v->q_ok && isfinite(d) && (mpq_sgn(v->q) == 0 || fabs(d) >= DBL_MIN);
    for (int k = 0; k < VMATH_POINTS; k++) {
        v->ev[k] = w->E[v->root][k], v->ev_raw[k] = w->E[raw][k];
        v->err[k] = w->S[v->root][k];
        if (v->q_ok && !isnan(creal(v->ev[k]))) {  // an exact value is exact to the last bit
            if (d_ok) v->ev[k] = d, v->err[k] = fabs(d);
            else v->ev[k] = NAN;
        }
    }
}

void vm_eval(VmathAnswer *A) {
    if (A->top < 0) return;
    Scratch w;
    w.E = xmalloc((size_t)(A->nn + 1) * sizeof *w.E);
    w.S = xmalloc((size_t)(A->nn + 1) * sizeof *w.S);
    w.Q = xmalloc((size_t)(A->nn + 1) * sizeof *w.Q);
    w.ok = xcalloc((size_t)A->nn + 1, 1);
    for (int i = 0; i < A->nn; i++) mpq_init(w.Q[i]);
    for (int i = 0; i < A->nv; i++)
        if (A->vals[i].kind == VK_SCALAR || A->vals[i].kind == VK_EQ) eval_val(A, &A->vals[i], &w);
    for (int i = 0; i < A->nn; i++) mpq_clear(w.Q[i]);
    free(w.E);
    free(w.S);
    free(w.Q);
    free(w.ok);
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

static void print_number(const VmathAnswer *A, const VmNode *nd, Buf *b) {
    double v = nd->num;
    if (nd->int_lit) {
        const char *m = A->names.data + nd->name;
        while (m[0] == '0' && m[1]) m++;
        buf_puts(b, m);
        for (int k = 0; k < nd->exp10; k++) buf_putc(b, '0');
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
    case N_NUM: print_number(A, nd, b); break;
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
