// gen.c: the generator driver (seeding, dedup, split) and the arith and
// countdown generators; the aime templates live in gen_aime.c.
//   reasoner problems gen countdown --n 1000 --seed 7 --count 4 --split train
#include "gen.h"

#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/json.h"

const char *const problems_gen_kinds[] = {"arith", "countdown", "aime", NULL};

void problems_gen_defaults(GenOptions *o) {
    *o = (GenOptions){
        .n = 100,
        .seed = 1,
        .split = GEN_SPLIT_ALL,
        .test_fraction = 0.1,
        .digits = 3,
        .min_digits = 1,
        .steps = 1,
        .ops = "+-*",
        .count = 4,
        .max_number = 99,
        .min_target = 10,
        .max_target = 999,
        .level = 2,
    };
}

GenSplit problems_split_of(const char *canonical, double test_fraction) {
    uint64_t h = XXH3_64bits(canonical, strlen(canonical));
    double u = (double)(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return u < test_fraction ? GEN_SPLIT_TEST : GEN_SPLIT_TRAIN;
}

// ---- expression trees (arith and countdown) ------------------------------------------

#define EXPR_MAX 64

typedef struct Expr {
    int n;
    char op[EXPR_MAX];  // 0 for a number
    int64_t val[EXPR_MAX];
    int left[EXPR_MAX], right[EXPR_MAX];
} Expr;

static int expr_leaf(Expr *x, int64_t v) {
    RS_CHECK(x->n < EXPR_MAX);
    x->op[x->n] = 0, x->val[x->n] = v;
    return x->n++;
}

static int prec(char op) { return op == '+' || op == '-' ? 1 : op == '*' || op == '/' ? 2 : 3; }

// a op b into *out; 0, or -1 on overflow or inexact division.
static int apply_op(char op, int64_t a, int64_t b, int64_t *out) {
    switch (op) {
    case '+': return __builtin_add_overflow(a, b, out) ? -1 : 0;
    case '-': return __builtin_sub_overflow(a, b, out) ? -1 : 0;
    case '*': return __builtin_mul_overflow(a, b, out) ? -1 : 0;
    case '/':
        if (b == 0 || (a == INT64_MIN && b == -1) || a % b != 0) return -1;
        *out = a / b;
        return 0;
    }
    RS_ABORT("unknown operator '%c'", op);
}

static int expr_node(Expr *x, char op, int l, int r) {
    RS_CHECK(x->n < EXPR_MAX);
    int i = x->n++;
    x->op[i] = op, x->left[i] = l, x->right[i] = r;
    if (apply_op(op, x->val[l], x->val[r], &x->val[i]) != 0) return -1;
    return i;
}

// Print with the parentheses the tree needs: operators of one precedence
// chain to the left, so a right child of equal precedence is bracketed.
static void expr_print(const Expr *x, int i, Buf *b, int top) {
    if (!x->op[i]) {
        if (x->val[i] < 0 && !top) buf_printf(b, "(%lld)", (long long)x->val[i]);
        else buf_printf(b, "%lld", (long long)x->val[i]);
        return;
    }
    int l = x->left[i], r = x->right[i];
    int pl = x->op[l] && prec(x->op[l]) < prec(x->op[i]);
    int pr = x->op[r] && prec(x->op[r]) <= prec(x->op[i]);
    if (pl) buf_putc(b, '(');
    expr_print(x, l, b, 0);
    buf_printf(b, "%s %c ", pl ? ")" : "", x->op[i]);
    if (pr) buf_putc(b, '(');
    expr_print(x, r, b, 0);
    if (pr) buf_putc(b, ')');
}

// The first operation a person would do: the leftmost node whose operands
// are both numbers, in evaluation (post) order. -1 when i is a number.
static int expr_next_step(const Expr *x, int i) {
    if (!x->op[i]) return -1;
    int s = expr_next_step(x, x->left[i]);
    if (s >= 0) return s;
    s = expr_next_step(x, x->right[i]);
    return s >= 0 ? s : i;
}

// "347 + 891 * 12\n= 347 + 10692\n= 11039\n": one line per operation.
static void expr_worked(const Expr *x0, int root, Buf *b) {
    Expr x = *x0;
    expr_print(&x, root, b, 1);
    for (int s; (s = expr_next_step(&x, root)) >= 0;) {
        x.op[s] = 0;
        buf_puts(b, "\n= ");
        expr_print(&x, root, b, 1);
    }
    buf_putc(b, '\n');
}

// ---- arith -----------------------------------------------------------------------------

static int64_t pow10i(int d) {
    int64_t p = 1;
    while (d-- > 0) p *= 10;
    return p;
}

static int64_t draw_operand(Rng *r, const GenOptions *o) {
    int d = o->min_digits + (int)rng_below(r, (uint64_t)(o->digits - o->min_digits + 1));
    int64_t lo = d == 1 ? 0 : pow10i(d - 1), hi = pow10i(d) - 1;
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

// A divisor of v in [2, 10^digits - 1] drawn at random; 0 when there is none.
// Dividends that are numbers are instead built as divisor * quotient.
static int64_t draw_divisor(Rng *r, int64_t v, const GenOptions *o) {
    int64_t hi = RS_MIN(pow10i(o->digits) - 1, 100000), found[64];
    int n = 0;
    v = v < 0 ? -v : v;
    for (int64_t d = 2; d <= hi && n < 64; d++)
        if (v % d == 0) found[n++] = d;
    return n ? found[rng_below(r, (uint64_t)n)] : 0;
}

// A random tree of nops operations; the root index, or -1 when the draw is
// unusable (overflow, a negative value when not allowed, no exact divisor).
static int arith_build(Expr *x, Rng *r, const GenOptions *o, int nops) {
    if (nops == 0) return expr_leaf(x, draw_operand(r, o));
    size_t nops_allowed = strlen(o->ops);
    char op = o->ops[rng_below(r, nops_allowed)];
    int nl = (int)rng_below(r, (uint64_t)nops);
    if (op == '/') nl = nops - 1;  // the divisor is a number
    int l = arith_build(x, r, o, nl);
    if (l < 0) return -1;
    int rt;
    if (op != '/') {
        rt = arith_build(x, r, o, nops - 1 - nl);
    } else if (!x->op[l]) {
        int64_t hi = pow10i(o->digits) - 1, d = 2 + (int64_t)rng_below(r, (uint64_t)(hi - 1));
        x->val[l] = d * (1 + (int64_t)rng_below(r, (uint64_t)(hi / d)));
        rt = expr_leaf(x, d);
    } else {
        int64_t d = draw_divisor(r, x->val[l], o);
        rt = d ? expr_leaf(x, d) : -1;
    }
    if (rt < 0) return -1;
    int i = expr_node(x, op, l, rt);
    if (i < 0 || (!o->allow_negative && x->val[i] < 0)) return -1;
    return i;
}

static int gen_arith(Rng *r, const GenOptions *o, GenItem *it) {
    Expr x = {0};
    int root = arith_build(&x, r, o, o->steps);
    if (root < 0) return -1;
    Buf expr = {0};
    expr_print(&x, root, &expr, 1);
    buf_printf(&it->canonical, "arith:%s", expr.data);
    buf_printf(&it->prompt, "What is %s?", expr.data);
    buf_printf(&it->answer, "%lld", (long long)x.val[root]);
    expr_worked(&x, root, &it->solution);
    buf_printf(&it->solution, "The answer is \\boxed{%lld}.", (long long)x.val[root]);
    it->extra = cJSON_CreateObject();
    cJSON_AddStringToObject(it->extra, "expression", expr.data);
    buf_free(&expr);
    return 0;
}

// ---- countdown ------------------------------------------------------------------------------

// Combine the numbers (leaves 0..count-1) two at a time with operations whose
// results stay positive whole numbers until one value is left; the steps go
// into *steps. The root, or -1 when an operation overflowed.
static int countdown_combine(Expr *x, Rng *r, int count, Buf *steps) {
    int pool[8], n = count;
    for (int i = 0; i < n; i++) pool[i] = i;
    while (n > 1) {
        int a = (int)rng_below(r, (uint64_t)n), b = (int)rng_below(r, (uint64_t)(n - 1));
        if (b >= a) b++;
        int64_t va = x->val[pool[a]], vb = x->val[pool[b]];
        if (va < vb) {  // larger first: subtraction and division need it
            int t = a;
            a = b, b = t;
            int64_t tv = va;
            va = vb, vb = tv;
        }
        char ops[4];
        int nops = 0;
        ops[nops++] = '+', ops[nops++] = '*';
        if (va > vb) ops[nops++] = '-';
        if (vb > 1 && va % vb == 0) ops[nops++] = '/';
        char op = ops[rng_below(r, (uint64_t)nops)];
        int node = expr_node(x, op, pool[a], pool[b]);
        if (node < 0) return -1;
        buf_printf(steps, "%lld %c %lld = %lld\n", (long long)va, op, (long long)vb, (long long)x->val[node]);
        pool[RS_MIN(a, b)] = node;
        pool[RS_MAX(a, b)] = pool[--n];
    }
    return pool[0];
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int gen_countdown(Rng *r, const GenOptions *o, GenItem *it) {
    int64_t nums[8];
    for (int i = 0; i < o->count; i++) nums[i] = 1 + (int64_t)rng_below(r, (uint64_t)o->max_number);
    for (int tries = 0; tries < 50; tries++) {
        Expr x = {0};
        for (int i = 0; i < o->count; i++) expr_leaf(&x, nums[i]);
        Buf steps = {0};
        int root = countdown_combine(&x, r, o->count, &steps);
        if (root < 0 || x.val[root] < o->min_target || x.val[root] > o->max_target) {
            buf_free(&steps);
            continue;
        }
        int64_t sorted[8], target = x.val[root];
        memcpy(sorted, nums, sizeof(int64_t) * (size_t)o->count);
        qsort(sorted, (size_t)o->count, sizeof *sorted, cmp_i64);
        Buf list = {0}, expr = {0};
        for (int i = 0; i < o->count; i++) buf_printf(&list, "%s%lld", i ? ", " : "", (long long)nums[i]);
        buf_puts(&it->canonical, "countdown:");
        for (int i = 0; i < o->count; i++) buf_printf(&it->canonical, "%s%lld", i ? "," : "", (long long)sorted[i]);
        buf_printf(&it->canonical, "=%lld", (long long)target);
        buf_printf(&it->prompt,
                   "Using the numbers [%s], create an equation that equals %lld. You can use basic arithmetic "
                   "operations (+, -, *, /) and each number can be used at most once.",
                   list.data, (long long)target);
        expr_print(&x, root, &expr, 1);
        buf_printf(&it->solution, "%sSo %s = %lld. The answer is \\boxed{%s}.", steps.data, expr.data,
                   (long long)target, expr.data);
        it->extra = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(it->extra, "numbers");
        for (int i = 0; i < o->count; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)nums[i]));
        cJSON_AddNumberToObject(it->extra, "target", (double)target);
        cJSON_AddStringToObject(it->extra, "verifier", "countdown");
        buf_free(&steps), buf_free(&list), buf_free(&expr);
        return 0;
    }
    return -1;
}

// ---- the driver --------------------------------------------------------------------------------

static int check_options(const char *kind, const GenOptions *o, Err *e) {
    if (o->n < 1) return err_set(e, "n must be at least 1, got %d", o->n);
    if (!(o->test_fraction > 0 && o->test_fraction < 1))
        return err_set(e, "test fraction must be in (0, 1), got %g", o->test_fraction);
    if (strcmp(kind, "arith") == 0) {
        if (o->digits < 1 || o->digits > 18) return err_set(e, "digits must be 1..18, got %d", o->digits);
        if (o->min_digits < 1 || o->min_digits > o->digits)
            return err_set(e, "min-digits must be 1..digits (%d), got %d", o->digits, o->min_digits);
        if (o->steps < 1 || o->steps > 16) return err_set(e, "steps must be 1..16, got %d", o->steps);
        if (!o->ops || !*o->ops || strspn(o->ops, "+-*/") != strlen(o->ops))
            return err_set(e, "ops must be a non-empty string of + - * /, got '%s'", o->ops ? o->ops : "");
    } else if (strcmp(kind, "countdown") == 0) {
        if (o->count < 2 || o->count > 6) return err_set(e, "count must be 2..6, got %d", o->count);
        if (o->max_number < 2 || o->max_number > 1000)
            return err_set(e, "max-number must be 2..1000, got %d", o->max_number);
        if (o->min_target < 1 || o->max_target < o->min_target)
            return err_set(e, "target range must be 1 <= min-target <= max-target, got %d..%d", o->min_target,
                           o->max_target);
    } else if (strcmp(kind, "aime") == 0) {
        if (o->level < 1 || o->level > 3) return err_set(e, "level must be 1..3, got %d", o->level);
    } else {
        return err_set(e, "unknown generator '%s' (expected arith, countdown or aime)", kind);
    }
    return 0;
}

// The aime templates named in a comma list (all when NULL) as a bit mask.
static int aime_mask(const char *list, uint32_t *mask, Err *e) {
    int nt = 0;
    while (problems_aime_templates[nt]) nt++;
    *mask = list ? 0 : (uint32_t)((1u << nt) - 1);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int t = 0; t < nt; t++)
            if (strlen(problems_aime_templates[t]) == n && strncmp(p, problems_aime_templates[t], n) == 0) found = t;
        if (found < 0) return err_set(e, "unknown aime template '%.*s'", (int)n, p);
        *mask |= 1u << found;
        p += n + (p[n] == ',');
    }
    if (!*mask) return err_set(e, "no aime templates selected");
    return 0;
}

static int draw_item(const char *kind, Rng *r, const GenOptions *o, uint32_t mask, GenItem *it) {
    if (strcmp(kind, "arith") == 0) return gen_arith(r, o, it);
    if (strcmp(kind, "countdown") == 0) return gen_countdown(r, o, it);
    int picks[32], n = 0;
    for (int t = 0; problems_aime_templates[t]; t++)
        if (mask & (1u << t)) picks[n++] = t;
    return problems_aime_make(picks[rng_below(r, (uint64_t)n)], o->level, r, it);
}

static void item_free(GenItem *it) {
    buf_free(&it->canonical), buf_free(&it->prompt), buf_free(&it->answer), buf_free(&it->solution);
    cJSON_Delete(it->extra);
    memset(it, 0, sizeof *it);
}

static cJSON *item_record(const char *kind, GenItem *it, uint64_t h, GenSplit split) {
    char id[64], source[32];
    snprintf(id, sizeof id, "%s/%016llx", kind, (unsigned long long)h);
    snprintf(source, sizeof source, "gen/%s", kind);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "kind", "math");
    cJSON_AddStringToObject(rec, "prompt", it->prompt.data);
    if (it->answer.len) cJSON_AddStringToObject(rec, "answer", it->answer.data);
    cJSON_AddStringToObject(rec, "source", source);
    for (cJSON *f = it->extra ? it->extra->child : NULL; f;) {
        cJSON *next = f->next;
        cJSON_AddItemToObject(rec, f->string, cJSON_DetachItemViaPointer(it->extra, f));
        f = next;
    }
    cJSON_AddStringToObject(rec, "solution", it->solution.data);
    cJSON_AddStringToObject(rec, "canonical", it->canonical.data);
    cJSON_AddStringToObject(rec, "split", split == GEN_SPLIT_TEST ? "test" : "train");
    return rec;
}

// Hashes of the problems made so far (open addressing; 0 marks empty).
typedef struct HashSet {
    uint64_t *slots;
    size_t cap, n;
} HashSet;

// Insert h; 0 if it was new, 1 if it was there.
static int hashset_add(HashSet *s, uint64_t h) {
    h |= 1;  // never 0; the low bit is lost, collisions stay ~2^-63
    if ((s->n + 1) * 2 > s->cap) {
        HashSet g = {xcalloc(s->cap ? s->cap * 2 : 256, sizeof(uint64_t)), s->cap ? s->cap * 2 : 256, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) hashset_add(&g, s->slots[i]);
        free(s->slots);
        *s = g;
    }
    size_t i = (size_t)(h >> 7) & (s->cap - 1);
    for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
        if (s->slots[i] == h) return 1;
    s->slots[i] = h, s->n++;
    return 0;
}

ProblemSet *problems_gen(const char *kind, const GenOptions *o, Err *e) {
    uint32_t mask = 0;
    if (check_options(kind, o, e) != 0) return NULL;
    if (strcmp(kind, "aime") == 0 && aime_mask(o->templates, &mask, e) != 0) return NULL;
    char path[32];
    snprintf(path, sizeof path, "gen/%s", kind);
    ProblemSet *s = problems_set_new(path);
    HashSet seen = {0};
    Rng root;
    rng_seed(&root, o->seed);
    // Draws that fail, land in the other split or repeat a problem are
    // skipped; give up when the knobs leave too few distinct problems.
    long max_draws = 100L * o->n + 10000;
    for (long d = 0; s->n < o->n; d++) {
        if (d == max_draws) {
            err_set(e, "%s: found only %d distinct problems for this split in %ld draws; widen the knobs", kind, s->n,
                    max_draws);
            problems_free(s), free(seen.slots);
            return NULL;
        }
        Rng r = rng_split(&root, (uint64_t)d);
        GenItem it = {0};
        if (draw_item(kind, &r, o, mask, &it) != 0) {
            item_free(&it);
            continue;
        }
        GenSplit split = problems_split_of(it.canonical.data, o->test_fraction);
        uint64_t h = XXH3_64bits(it.canonical.data, it.canonical.len);
        if ((o->split != GEN_SPLIT_ALL && split != o->split) || hashset_add(&seen, h)) {
            item_free(&it);
            continue;
        }
        cJSON *rec = item_record(kind, &it, h, split);
        item_free(&it);
        Err bad = {0};
        if (problems_add(s, rec, 0, path, &bad) != 0) RS_ABORT("generated record rejected: %s", bad.msg);
    }
    free(seen.slots);
    return s;
}

char *problems_gen_text(const Problem *p) {
    const char *sol = json_opt_str(p->json, "solution", NULL);
    if (!sol) return NULL;
    Buf b = {0};
    buf_printf(&b, "%s\n%s", p->prompt, sol);
    return buf_take(&b);
}
