// math.c: the math verifier's public side (math.h): parsed answers, their
// equivalence and canonical forms, the gold answer of a problem, and the
// "math" grader of builtins.def. Clean-up is math_norm.c, parsing
// math_expr.c, evaluation math_eval.c, extraction math_extract.c.
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#include "common/base.h"
#include "common/buf.h"
#include "verifier/math/math_expr.h"

// ---------------------------------------------------------------------------
// parsed answers

VmathAnswer *vmath_answer_new(const char *text) { return vmath_answer_new_seeded(text, 0); }

VmathAnswer *vmath_answer_new_seeded(const char *text, uint64_t seed) {
    VmathAnswer *a = xcalloc(1, sizeof *a);
    a->top = -1;
    a->seed = seed;
    if (!text || strnlen(text, VMATH_MAX_ANSWER + 1) > VMATH_MAX_ANSWER) {
        a->norm = xstrdup("");  // too long to be an answer: equal to nothing
        a->text = xstrdup("");
        return a;
    }
    a->norm = vm_normalize_text(text);
    a->text = vm_text_norm(a->norm);
    vm_parse(a);
    vm_eval(a);
    return a;
}

void vmath_answer_free(VmathAnswer *a) {
    if (!a) return;
    for (int i = 0; i < a->nv; i++) {
        free(a->vals[i].kid);
        if (a->vals[i].evaluated) mpq_clears(a->vals[i].q, a->vals[i].q_raw, NULL);
        for (int k = 0; a->vals[i].qk && k < VMATH_POINTS; k++) mpq_clear(a->vals[i].qk[k]);
        free(a->vals[i].qk);
    }
    free(a->vals);
    free(a->nodes);
    buf_free(&a->names);
    free(a->norm);
    free(a->text);
    free(a->canon);
    free(a);
}

const char *vmath_answer_kind(const VmathAnswer *a) {
    if (a->top < 0) return "text";
    const VmVal *v = &a->vals[a->top];
    switch (v->kind) {
    case VK_SCALAR: return v->has_vars ? "expression" : "number";
    case VK_EQ: return "equation";
    case VK_TUPLE: return "tuple";
    case VK_SET: return "set";
    case VK_LIST: return "list";
    case VK_INTERVAL: return "interval";
    case VK_UNION: return "union";
    default: return "text";
    }
}

// ---------------------------------------------------------------------------
// equivalence

static int is_nan_c(cplx x) { return isnan(creal(x)) || isnan(cimag(x)); }

// x and y (with rounding-noise scales ex, ey) are the same number: within
// VMATH_REL_TOL of the larger, or within the noise of what their
// evaluations cancelled. Never an absolute tolerance: 2^{-99} and 2^{-98}
// differ. Symmetric in (x, ex) and (y, ey).
static int close_c(cplx x, cplx y, double ex, double ey) {
    if (is_nan_c(x) || is_nan_c(y)) return 0;
    if (isinf(creal(x)) || isinf(creal(y)) || isinf(cimag(x)) || isinf(cimag(y)))
        return creal(x) == creal(y) && isfinite(cimag(x)) && isfinite(cimag(y));
    double d = cabs(x - y);
    return d <= VMATH_REL_TOL * fmax(cabs(x), cabs(y)) || d <= VMATH_NOISE * fmax(ex, ey);
}

// Equal at every point where either is defined, and defined somewhere.
static int close_points(const cplx *x, const double *ex, const cplx *y, const double *ey) {
    int valid = 0;
    for (int k = 0; k < VMATH_POINTS; k++) {
        if (is_nan_c(x[k]) && is_nan_c(y[k])) continue;
        if (!close_c(x[k], y[k], ex[k], ey[k])) return 0;
        valid++;
    }
    return valid > 0;
}

// An exact integer beyond 2^53 against an inexact value: a double cannot
// tell 10^{20} from 10^{20} + \pi, so they are not called equal.
static int beyond_double(const mpq_t q) {
    return mpz_cmp_ui(mpq_denref(q), 1) == 0 && mpz_sizeinbase(mpq_numref(q), 2) > 53;
}

// Two exact rationals compare exactly; anything else numerically.
static int number_eq(int qa_ok, const mpq_t qa, const cplx *ea, const double *sa, int qb_ok, const mpq_t qb,
                     const cplx *eb, const double *sb) {
    if (qa_ok && qb_ok) return mpq_equal(qa, qb);
    if ((qa_ok && beyond_double(qa)) || (qb_ok && beyond_double(qb))) return 0;
    return close_points(ea, sa, eb, sb);
}

// A percent also equals the number written (50% = 50, as MATH's graders
// allow for "what percent" answers) when that number is at least 1 in size:
// 0.5% is not 0.5. A degree equals the number written (30^\circ = 30).
static int scalar_eq(const VmathAnswer *A, const VmVal *a, const VmathAnswer *B, const VmVal *b) {
    if (a->qk && b->qk && !a->unit && !b->unit) {  // both exact at every point: x^2 + 10^{-20} is not x^2
        for (int k = 0; k < VMATH_POINTS; k++)
            if (!mpq_equal(a->qk[k], b->qk[k])) return 0;
        return 1;
    }
    if (number_eq(a->q_ok, a->q, a->ev, a->err, b->q_ok, b->q, b->ev, b->err)) return 1;
    if (a->unit == b->unit) return 0;
    const VmVal *p = a->unit ? a : b, *o = a->unit ? b : a;
    const VmathAnswer *P = a->unit ? A : B;
    if (P->nodes[p->root].op == N_PCT) {
        if (!o->q_ok && !p->q_raw_ok) return 0;
        double m = o->q_ok ? fabs(mpq_get_d(o->q)) : cabs(p->ev_raw[0]);
        if (!(m >= 1)) return 0;
    }
    return number_eq(p->q_raw_ok, p->q_raw, p->ev_raw, p->err, o->q_ok, o->q, o->ev, o->err);
}

// Equations l1 = r1 and l2 = r2 are the same when f = l1 - r1 and g = l2 - r2
// are proportional ("2y = 4x + 6" is "y = 2x + 3"): f_k g_r = g_k f_r at
// every point k against a reference point r where both are nonzero. The
// test is symmetric in f and g.
static int equation_eq(const VmVal *a, const VmVal *b) {
    if (a->qk && b->qk) {  // exactly: f_k g_r = g_k f_r
        int ref = -1, eq = 1;
        for (int k = 0; k < VMATH_POINTS && eq; k++) {
            eq = (mpq_sgn(a->qk[k]) == 0) == (mpq_sgn(b->qk[k]) == 0);
            if (eq && ref < 0 && mpq_sgn(a->qk[k]) != 0) ref = k;
        }
        mpq_t x, y;
        mpq_inits(x, y, NULL);
        for (int k = 0; k < VMATH_POINTS && eq && ref >= 0; k++) {
            mpq_mul(x, a->qk[k], b->qk[ref]);
            mpq_mul(y, b->qk[k], a->qk[ref]);
            eq = mpq_equal(x, y);
        }
        mpq_clears(x, y, NULL);
        return eq;
    }
    const cplx *f = a->ev, *g = b->ev;
    int ref = -1;
    for (int k = 0; k < VMATH_POINTS; k++) {
        if (is_nan_c(f[k]) || is_nan_c(g[k])) {
            if (is_nan_c(f[k]) != is_nan_c(g[k])) return 0;
            continue;
        }
        int zf = cabs(f[k]) <= VMATH_NOISE * a->err[k], zg = cabs(g[k]) <= VMATH_NOISE * b->err[k];
        if (zf != zg) return 0;
        if (!zf && ref < 0) ref = k;
    }
    if (ref < 0) return 1;  // both vanish wherever defined: identities
    for (int k = 0; k < VMATH_POINTS; k++) {
        if (is_nan_c(f[k])) continue;
        cplx x = f[k] * g[ref], y = g[k] * f[ref];
        double ex = a->err[k] * cabs(g[ref]) + cabs(f[k]) * b->err[ref];
        double ey = b->err[k] * cabs(f[ref]) + cabs(g[k]) * a->err[ref];
        if (!close_c(x, y, ex, ey)) return 0;
    }
    return 1;
}

static int val_eq(const VmathAnswer *A, int ia, const VmathAnswer *B, int ib);

static int ordered_eq(const VmathAnswer *A, const VmVal *a, const VmathAnswer *B, const VmVal *b) {
    if (a->nkid != b->nkid) return 0;
    for (int i = 0; i < a->nkid; i++)
        if (!val_eq(A, a->kid[i], B, b->kid[i])) return 0;
    return 1;
}

// Multisets: a perfect matching between the elements of a and b (Kuhn's
// augmenting paths, so the verdict does not depend on the order of either
// side, as a greedy match would when equality has a tolerance).
typedef struct Match {
    const VmathAnswer *A, *B;
    const VmVal *a, *b;
    signed char *eq;  // na x nb: -1 unknown, 0, 1
    int *owner;       // element of b -> element of a, or -1
    char *seen;
} Match;

static int pair_eq(Match *m, int i, int j) {
    signed char *c = &m->eq[(size_t)i * (size_t)m->b->nkid + (size_t)j];
    if (*c < 0) *c = (signed char)val_eq(m->A, m->a->kid[i], m->B, m->b->kid[j]);
    return *c;
}

static int augment(Match *m, int i) {
    for (int j = 0; j < m->b->nkid; j++) {
        if (m->seen[j] || !pair_eq(m, i, j)) continue;
        m->seen[j] = 1;
        if (m->owner[j] < 0 || augment(m, m->owner[j])) {
            m->owner[j] = i;
            return 1;
        }
    }
    return 0;
}

static int unordered_eq(const VmathAnswer *A, const VmVal *a, const VmathAnswer *B, const VmVal *b) {
    if (a->nkid != b->nkid) return 0;
    int n = a->nkid;
    Match m = {A, B, a, b, xmalloc((size_t)n * (size_t)n + 1), xmalloc(((size_t)n + 1) * sizeof(int)),
               xmalloc((size_t)n + 1)};
    memset(m.eq, -1, (size_t)n * (size_t)n + 1);
    for (int j = 0; j < n; j++) m.owner[j] = -1;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        memset(m.seen, 0, (size_t)n + 1);
        ok = augment(&m, i);
    }
    free(m.eq);
    free(m.owner);
    free(m.seen);
    return ok;
}

// Sets where repeats do not count (a union of sets): every element of each
// is in the other.
static int in_set(const VmathAnswer *A, int x, const VmathAnswer *B, const VmVal *b) {
    for (int j = 0; j < b->nkid; j++)
        if (val_eq(A, x, B, b->kid[j])) return 1;
    return 0;
}

static int as_sets_eq(const VmathAnswer *A, const VmVal *a, const VmathAnswer *B, const VmVal *b) {
    for (int i = 0; i < a->nkid; i++)
        if (!in_set(A, a->kid[i], B, b)) return 0;
    for (int j = 0; j < b->nkid; j++)
        if (!in_set(B, b->kid[j], A, a)) return 0;
    return 1;
}

static int is_open_interval(const VmVal *v) {
    return v->kind == VK_INTERVAL && !v->lo_closed && !v->hi_closed;
}

static int val_eq(const VmathAnswer *A, int ia, const VmathAnswer *B, int ib) {
    const VmVal *a = &A->vals[ia], *b = &B->vals[ib];
    VmKind ka = a->kind, kb = b->kind;
    if (ka == VK_SET && a->nkid == 1 && kb != VK_SET) return val_eq(A, a->kid[0], B, ib);  // {3} = 3
    if (kb == VK_SET && b->nkid == 1 && ka != VK_SET) return val_eq(A, ia, B, b->kid[0]);
    int unordered_a = ka == VK_SET || ka == VK_LIST, unordered_b = kb == VK_SET || kb == VK_LIST;
    if (ka == VK_SCALAR && kb == VK_SCALAR) return scalar_eq(A, a, B, b);
    if (ka == VK_EQ && kb == VK_EQ) return equation_eq(a, b);
    // "y = 2x + 3" against "2x - y + 3 = 0": the same line in another form
    if (ka == VK_SCALAR && kb == VK_EQ && a->eq >= 0) return equation_eq(&A->vals[a->eq], b);
    if (ka == VK_EQ && kb == VK_SCALAR && b->eq >= 0) return equation_eq(a, &B->vals[b->eq]);
    if (ka == VK_TUPLE && kb == VK_TUPLE)  // a row vector is not a column vector
        return (!a->rows || !b->rows || (a->rows == b->rows && a->cols == b->cols)) && ordered_eq(A, a, B, b);
    if ((ka == VK_LIST && kb == VK_TUPLE) || (ka == VK_TUPLE && kb == VK_LIST)) return ordered_eq(A, a, B, b);
    if (ka == VK_SET && kb == VK_SET && (a->merged || b->merged)) return as_sets_eq(A, a, B, b);
    if (unordered_a && unordered_b) return unordered_eq(A, a, B, b);
    if (ka == VK_UNION && kb == VK_UNION) return unordered_eq(A, a, B, b);
    if (ka == VK_INTERVAL && kb == VK_INTERVAL)
        return a->lo_closed == b->lo_closed && a->hi_closed == b->hi_closed && ordered_eq(A, a, B, b);
    if ((a->point && is_open_interval(b)) || (b->point && is_open_interval(a))) return ordered_eq(A, a, B, b);
    return 0;
}

// A lone letter on both sides compares without case: multiple choice "(C)" = "c".
static int same_letter(const VmathAnswer *a, const VmathAnswer *b) {
    const VmVal *va = &a->vals[a->top], *vb = &b->vals[b->top];
    if (va->kind != VK_SCALAR || vb->kind != VK_SCALAR) return 0;
    const VmNode *x = &a->nodes[va->root], *y = &b->nodes[vb->root];
    if (x->op != N_VAR || y->op != N_VAR) return 0;
    const char *nx = a->names.data + x->name, *ny = b->names.data + y->name;
    return strlen(nx) == 1 && strlen(ny) == 1 && strcasecmp(nx, ny) == 0;
}

int vmath_answer_equal(const VmathAnswer *a, const VmathAnswer *b) {
    if (!a || !b || !a->norm[0] || !b->norm[0]) return 0;
    RS_CHECK(a->seed == b->seed);  // points differ: the verdict would mean nothing
    if (strcmp(a->norm, b->norm) == 0) return 1;
    if (a->top < 0 || b->top < 0) return a->text[0] && strcmp(a->text, b->text) == 0;
    return same_letter(a, b) || val_eq(a, a->top, b, b->top);
}

int vmath_equal(const char *a, const char *b) {
    if (!a || !b) return 0;
    return vmath_equal_seeded(a, b, vm_hash(a) + vm_hash(b));
}

int vmath_equal_seeded(const char *a, const char *b, uint64_t seed) {
    if (!a || !b) return 0;
    VmathAnswer *x = vmath_answer_new_seeded(a, seed), *y = vmath_answer_new_seeded(b, seed);
    int eq = vmath_answer_equal(x, y);
    vmath_answer_free(x);
    vmath_answer_free(y);
    return eq;
}

// ---------------------------------------------------------------------------
// canonical forms

static void canon_val(const VmathAnswer *A, int iv, Buf *b);

static void print_z(const mpz_t z, Buf *b) {
    char *t = mpz_get_str(NULL, 10, z);
    buf_puts(b, t);
    void (*freefunc)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &freefunc);
    freefunc(t, strlen(t) + 1);
}

// n/d as a terminating decimal ("0.0000672") when d = 2^a 5^b (and a, b are
// small), else p/q; integers as they are.
static void print_q(const mpq_t q, Buf *b) {
    if (mpz_cmp_ui(mpq_denref(q), 1) == 0) {
        print_z(mpq_numref(q), b);
        return;
    }
    mpz_t d, n;
    mpz_inits(d, n, NULL);
    mpz_set(d, mpq_denref(q));
    mpz_t f;
    mpz_init_set_ui(f, 2);
    unsigned long a2 = mpz_remove(d, d, f);
    mpz_set_ui(f, 5);
    unsigned long a5 = mpz_remove(d, d, f);
    unsigned long digits = a2 > a5 ? a2 : a5;
    if (mpz_cmp_ui(d, 1) == 0 && digits <= 40) {
        // n/d = n * (10^digits / d) / 10^digits
        mpz_ui_pow_ui(f, 10, digits);
        mpz_divexact(f, f, mpq_denref(q));
        mpz_mul(n, mpq_numref(q), f);
        if (mpz_sgn(n) < 0) buf_putc(b, '-'), mpz_neg(n, n);
        mpz_ui_pow_ui(f, 10, digits);
        mpz_tdiv_qr(d, n, n, f);  // d: whole part, n: fraction digits
        print_z(d, b);
        buf_putc(b, '.');
        Buf fr = {0};
        print_z(n, &fr);
        for (size_t k = fr.len; k < digits; k++) buf_putc(b, '0');
        buf_append(b, fr.data, fr.len);
        buf_free(&fr);
    } else {
        print_z(mpq_numref(q), b);
        buf_putc(b, '/');
        print_z(mpq_denref(q), b);
    }
    mpz_clears(d, n, f, NULL);
}

static void print_real(double x, Buf *b) {
    if (isinf(x)) buf_puts(b, x < 0 ? "-\\infty" : "\\infty");
    else buf_printf(b, "%.10g", x == 0 ? 0.0 : x);
}

// Exact rationals as integers, terminating decimals or p/q, other constants to 10 significant digits (so
// \frac{\sqrt3}{2} and \sqrt{3}/2 share one form), expressions printed.
static void canon_scalar(const VmathAnswer *A, const VmVal *v, Buf *b) {
    int q_ok = v->unit ? v->q_raw_ok : v->q_ok;
    cplx z = v->unit ? v->ev_raw[0] : v->ev[0];
    if (q_ok) {
        print_q(v->unit ? v->q_raw : v->q, b);
    } else if (!v->has_vars && !is_nan_c(z)) {
        double re = creal(z), im = cimag(z);
        if (fabs(im) <= 1e-12 * cabs(z) || isinf(re)) {
            print_real(re, b);
        } else {
            int has_re = fabs(re) > 1e-12 * cabs(z);
            if (has_re) print_real(re, b);
            if (im == 1 || im == -1) buf_puts(b, im < 0 ? "-i" : has_re ? "+i" : "i");
            else buf_printf(b, has_re ? "%+.10gi" : "%.10gi", im);
        }
    } else {
        vm_print_expr(A, v, v->unit ? A->nodes[v->root].a : v->root, b);
    }
    if (v->unit && A->nodes[v->root].op == N_PCT) buf_putc(b, '%');  // degrees are dropped
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

// Elements joined by sep, sorted when unordered.
static void canon_kids(const VmathAnswer *A, const VmVal *v, int sorted, const char *sep, Buf *b) {
    char **s = xmalloc(((size_t)v->nkid + 1) * sizeof *s);
    for (int i = 0; i < v->nkid; i++) {
        Buf k = {0};
        canon_val(A, v->kid[i], &k);
        buf_putc(&k, 0);
        s[i] = buf_take(&k);
    }
    if (sorted) qsort(s, (size_t)v->nkid, sizeof *s, cmp_str);
    for (int i = 0; i < v->nkid; i++) {
        if (i) buf_puts(b, sep);
        buf_puts(b, s[i]);
        free(s[i]);
    }
    free(s);
}

static void canon_val(const VmathAnswer *A, int iv, Buf *b) {
    const VmVal *v = &A->vals[iv];
    switch (v->kind) {
    case VK_SCALAR: canon_scalar(A, v, b); break;
    case VK_EQ: {
        const VmNode *d = &A->nodes[v->root];  // lhs - rhs
        vm_print_expr(A, v, d->a, b);
        buf_putc(b, '=');
        vm_print_expr(A, v, d->b, b);
        break;
    }
    case VK_TUPLE: buf_putc(b, '('), canon_kids(A, v, 0, ",", b), buf_putc(b, ')'); break;
    case VK_INTERVAL:
        buf_putc(b, v->lo_closed ? '[' : '('), canon_kids(A, v, 0, ",", b), buf_putc(b, v->hi_closed ? ']' : ')');
        break;
    case VK_SET:
        if (v->nkid == 0) buf_puts(b, "\\emptyset");
        else buf_putc(b, '{'), canon_kids(A, v, 1, ",", b), buf_putc(b, '}');
        break;
    case VK_LIST: canon_kids(A, v, 1, ",", b); break;
    case VK_UNION: canon_kids(A, v, 1, "\\cup", b); break;
    case VK_TEXT: break;
    }
}

const char *vmath_answer_canonical(VmathAnswer *a) {
    if (a->canon) return a->canon;
    if (a->top < 0) {
        a->canon = xstrdup(a->text);
    } else {
        Buf b = {0};
        canon_val(a, a->top, &b);
        buf_putc(&b, 0);
        a->canon = buf_take(&b);
    }
    return a->canon;
}

char *vmath_normalize(const char *answer) {
    VmathAnswer *a = vmath_answer_new(answer);
    char *s = xstrdup(vmath_answer_canonical(a));
    vmath_answer_free(a);
    return s;
}

// ---------------------------------------------------------------------------
// grading

static char *trimmed(const char *s, size_t n) {
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return xstrndup(s, n);
}

char *vmath_gold_answer(const cJSON *problem, Err *e) {
    if (!cJSON_IsObject(problem)) return err_set(e, "problem: expected an object"), NULL;
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(problem, "answer");
    char *gold = NULL;
    if (cJSON_IsString(ans)) {
        const char *s = ans->valuestring, *h = NULL;
        for (const char *p = strstr(s, "####"); p; p = strstr(p + 4, "####")) h = p;
        if (h) {  // GSM8K: the worked solution ends "#### 72"
            h += 4;
            gold = trimmed(h, strcspn(h, "\n"));
        } else {
            gold = trimmed(s, strlen(s));
        }
    } else if (cJSON_IsNumber(ans)) {
        char s[40];
        snprintf(s, sizeof s, "%.15g", ans->valuedouble);
        if (strtod(s, NULL) != ans->valuedouble) snprintf(s, sizeof s, "%.17g", ans->valuedouble);
        gold = xstrdup(s);
    } else if (ans && !cJSON_IsNull(ans)) {
        return err_set(e, "problem: field 'answer': expected a string or a number"), NULL;
    } else {
        const cJSON *sol = cJSON_GetObjectItemCaseSensitive(problem, "solution");
        if (!cJSON_IsString(sol)) return err_set(e, "problem: field 'answer': missing (and no 'solution')"), NULL;
        gold = vmath_last_boxed(sol->valuestring);
        if (!gold) return err_set(e, "problem: field 'solution': no \\boxed{} answer in it"), NULL;
    }
    if (!gold[0]) {
        free(gold);
        return err_set(e, "problem: field 'answer': empty"), NULL;
    }
    return gold;
}

static void set_result(VerifyResult *out, const char *status, double score, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_result(VerifyResult *out, const char *status, double score, const char *fmt, ...) {
    snprintf(out->status, sizeof out->status, "%s", status);
    out->score = score;
    out->all_passed = score == 1.0;
    Buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(out->detail);
    out->detail = buf_take(&b);
}

int vmath_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    Err gold_err = {{0}};
    char *gold = vmath_gold_answer(job->problem, &gold_err);
    if (!gold) {
        set_result(out, "error", 0, "%s", gold_err.msg);
        return 0;
    }
    VmathSource src;
    char *ans = vmath_extract_from(job->response, &src);
    if (!ans) {
        set_result(out, "wrong", 0, "no final answer in the response (no \\boxed{}, ####, 'answer is', bold or number); gold \"%.200s\"", gold);
        free(gold);
        return 0;
    }
    // Fresh evaluation points per job: no fixed set of points a policy could
    // learn to fit (an expression equal to the gold only there).
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) seed ^= (uint64_t)(uintptr_t)&seed ^ vm_hash(ans);
    VmathAnswer *g = vmath_answer_new_seeded(gold, seed), *r = vmath_answer_new_seeded(ans, seed);
    int eq = vmath_answer_equal(r, g);
    out->extracted = xstrdup(vmath_answer_canonical(r));
    set_result(out, eq ? "correct" : "wrong", eq ? 1.0 : 0.0, "answer \"%.200s\" (%s, %s \"%.200s\") %s gold \"%.200s\" (%s \"%.200s\")",
               ans, vmath_source_name(src), vmath_answer_kind(r), out->extracted, eq ? "equals" : "differs from", gold,
               vmath_answer_kind(g), vmath_answer_canonical(g));
    vmath_answer_free(g);
    vmath_answer_free(r);
    free(ans);
    free(gold);
    return 0;
}
