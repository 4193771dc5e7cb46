// math.c: the math verifier's public side (math.h): parsed answers, their
// equivalence and canonical forms, the gold answer of a problem, and the
// "math" grader of builtins.def. Clean-up is math_norm.c, parsing
// math_expr.c, evaluation math_eval.c, extraction math_extract.c.
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "verifier/math/math_expr.h"

// ---------------------------------------------------------------------------
// parsed answers

VmathAnswer *vmath_answer_new(const char *text) {
    VmathAnswer *a = xcalloc(1, sizeof *a);
    a->top = -1;
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
    for (int i = 0; i < a->nv; i++) free(a->vals[i].kid);
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

static int close_c(cplx x, cplx y) {
    if (is_nan_c(x) || is_nan_c(y)) return 0;
    if (isinf(creal(x)) || isinf(creal(y)) || isinf(cimag(x)) || isinf(cimag(y)))
        return creal(x) == creal(y) && isfinite(cimag(x)) && isfinite(cimag(y));
    double d = cabs(x - y);
    return d <= VMATH_REL_TOL * fmax(cabs(x), cabs(y)) || d <= 1e-12;
}

// Equal at every point where either is defined, and defined somewhere.
static int close_points(const cplx *x, const cplx *y) {
    int valid = 0;
    for (int k = 0; k < VMATH_POINTS; k++) {
        if (is_nan_c(x[k]) && is_nan_c(y[k])) continue;
        if (!close_c(x[k], y[k])) return 0;
        valid++;
    }
    return valid > 0;
}

// Two exact rationals compare exactly; anything else numerically.
static int number_eq(VmQ qa, const cplx *ea, VmQ qb, const cplx *eb) {
    if (qa.ok && qb.ok) return qa.n == qb.n && qa.d == qb.d;
    return close_points(ea, eb);
}

static int scalar_eq(const VmVal *a, const VmVal *b) {
    if (number_eq(a->q, a->ev, b->q, b->ev)) return 1;
    if (a->unit == b->unit) return 0;
    const VmVal *p = a->unit ? a : b, *o = a->unit ? b : a;  // 50% also equals 50, 30 degrees 30
    return number_eq(p->q_raw, p->ev_raw, o->q, o->ev);
}

// Equations l1 = r1 and l2 = r2 are the same when l1 - r1 and l2 - r2 are
// proportional ("2y = 4x + 6" is "y = 2x + 3").
static int equation_eq(const VmVal *a, const VmVal *b) {
    cplx ratio = 0;
    int have = 0;
    for (int k = 0; k < VMATH_POINTS; k++) {
        cplx x = a->ev[k], y = b->ev[k];
        if (is_nan_c(x) || is_nan_c(y)) {
            if (is_nan_c(x) != is_nan_c(y)) return 0;
            continue;
        }
        int zx = close_c(x, 0), zy = close_c(y, 0);
        if (zx || zy) {
            if (zx != zy) return 0;
            continue;
        }
        cplx r = x / y;
        if (have && !close_c(r, ratio)) return 0;
        ratio = r, have = 1;
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

// Multisets: every element of a matched to a distinct equal element of b.
static int unordered_eq(const VmathAnswer *A, const VmVal *a, const VmathAnswer *B, const VmVal *b) {
    if (a->nkid != b->nkid) return 0;
    char *used = xcalloc((size_t)b->nkid + 1, 1);
    int ok = 1;
    for (int i = 0; i < a->nkid && ok; i++) {
        ok = 0;
        for (int j = 0; j < b->nkid && !ok; j++)
            if (!used[j] && val_eq(A, a->kid[i], B, b->kid[j])) used[j] = 1, ok = 1;
    }
    free(used);
    return ok;
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
    if (ka == VK_SCALAR && kb == VK_SCALAR) return scalar_eq(a, b);
    if (ka == VK_EQ && kb == VK_EQ) return equation_eq(a, b);
    if (ka == VK_TUPLE && kb == VK_TUPLE) return ordered_eq(A, a, B, b);
    if ((ka == VK_LIST && kb == VK_TUPLE) || (ka == VK_TUPLE && kb == VK_LIST)) return ordered_eq(A, a, B, b);
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
    if (strcmp(a->norm, b->norm) == 0) return 1;
    if (a->top < 0 || b->top < 0) return a->text[0] && strcmp(a->text, b->text) == 0;
    return same_letter(a, b) || val_eq(a, a->top, b, b->top);
}

int vmath_equal(const char *a, const char *b) {
    if (!a || !b) return 0;
    VmathAnswer *x = vmath_answer_new(a), *y = vmath_answer_new(b);
    int eq = vmath_answer_equal(x, y);
    vmath_answer_free(x);
    vmath_answer_free(y);
    return eq;
}

// ---------------------------------------------------------------------------
// canonical forms

static void canon_val(const VmathAnswer *A, int iv, Buf *b);

// n/d as a terminating decimal ("0.0000672") when d = 2^a 5^b and it fits.
static int print_decimal(VmQ q, Buf *b) {
    int64_t d = q.d, scale = 1, digits = 0;
    while (d % 10 == 0) d /= 10, scale *= 10, digits++;
    while (d % 2 == 0 || d % 5 == 0) {
        int64_t f = d % 2 == 0 ? 5 : 2;  // multiply n/d by f/f to make the factor a 10
        if (__builtin_mul_overflow(scale, 10, &scale) || __builtin_mul_overflow(q.n, f, &q.n)) return 0;
        d /= 10 / f, digits++;
    }
    if (d != 1) return 0;
    uint64_t m = q.n < 0 ? -(uint64_t)q.n : (uint64_t)q.n;
    buf_printf(b, "%s%llu.%0*llu", q.n < 0 ? "-" : "", (unsigned long long)(m / (uint64_t)scale), (int)digits,
               (unsigned long long)(m % (uint64_t)scale));
    return 1;
}

static void print_q(VmQ q, Buf *b) {
    if (q.d == 1) buf_printf(b, "%lld", (long long)q.n);
    else if (!print_decimal(q, b)) buf_printf(b, "%lld/%lld", (long long)q.n, (long long)q.d);
}

static void print_real(double x, Buf *b) {
    if (isinf(x)) buf_puts(b, x < 0 ? "-\\infty" : "\\infty");
    else buf_printf(b, "%.10g", x == 0 ? 0.0 : x);
}

// Exact rationals as integers, terminating decimals or p/q, other constants to 10 significant digits (so
// \frac{\sqrt3}{2} and \sqrt{3}/2 share one form), expressions printed.
static void canon_scalar(const VmathAnswer *A, const VmVal *v, Buf *b) {
    VmQ q = v->unit ? v->q_raw : v->q;
    cplx z = v->unit ? v->ev_raw[0] : v->ev[0];
    if (q.ok) {
        print_q(q, b);
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
    VmathAnswer *g = vmath_answer_new(gold), *r = vmath_answer_new(ans);
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
