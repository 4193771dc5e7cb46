// test_gen.c: the generators. Reproducible from the seed; every answer checked
// by a computation written here independently of the generator (an expression
// parser for arith, an exhaustive solver for countdown, a second method per
// aime template); split disjointness; the errors of bad knobs.
#include <stdint.h>
#include <string.h>

#include "common/json.h"
#include "problems/gen.h"
#include "tests/test.h"

static ProblemSet *gen(const char *kind, GenOptions *o) {
    Err e = {0};
    ProblemSet *s = problems_gen(kind, o, &e);
    if (!s) fprintf(stderr, "    gen %s: %s\n", kind, e.msg);
    return s;
}

static char *all_json(const ProblemSet *s) {
    Buf b = {0};
    buf_puts(&b, "");
    for (int i = 0; i < s->n; i++) {
        char *j = json_compact(s->items[i].json);
        buf_printf(&b, "%s\n", j);
        free(j);
    }
    return buf_take(&b);
}

// ---- exact rational expression evaluation (independent of gen.c) -----------------------

typedef struct Q {
    __int128 n, d;
    int ok;
} Q;

static __int128 g128(__int128 a, __int128 b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        __int128 t = a % b;
        a = b, b = t;
    }
    return a;
}

static Q qmake(__int128 n, __int128 d, int ok) {
    if (!ok || d == 0) return (Q){0, 1, 0};
    if (d < 0) n = -n, d = -d;
    __int128 g = g128(n, d);
    if (g > 1) n /= g, d /= g;
    return (Q){n, d, 1};
}

static Q qop(Q a, char op, Q b) {
    int ok = a.ok && b.ok;
    switch (op) {
    case '+': return qmake(a.n * b.d + b.n * a.d, a.d * b.d, ok);
    case '-': return qmake(a.n * b.d - b.n * a.d, a.d * b.d, ok);
    case '*': return qmake(a.n * b.n, a.d * b.d, ok);
    default: return qmake(a.n * b.d, a.d * b.n, ok && b.n != 0);
    }
}

typedef struct Parser {
    const char *s;
    int64_t leaves[16];
    int nleaves, ops, bad;
} Parser;

static void skip(Parser *p) {
    while (*p->s == ' ') p->s++;
}

static Q p_expr(Parser *p);

static Q p_factor(Parser *p) {
    skip(p);
    if (*p->s == '(') {
        p->s++;
        Q v = p_expr(p);
        skip(p);
        if (*p->s != ')') p->bad = 1;
        else p->s++;
        return v;
    }
    if (*p->s == '-') {
        p->s++;
        Q v = p_factor(p);
        v.n = -v.n;
        return v;
    }
    if (*p->s < '0' || *p->s > '9') {
        p->bad = 1;
        return (Q){0, 1, 0};
    }
    char *end;
    long long v = strtoll(p->s, &end, 10);
    p->s = end;
    if (p->nleaves < 16) p->leaves[p->nleaves++] = v;
    return qmake(v, 1, 1);
}

static Q p_term(Parser *p) {
    Q v = p_factor(p);
    for (;;) {
        skip(p);
        char op = *p->s;
        if (op != '*' && op != '/') return v;
        p->s++, p->ops++;
        v = qop(v, op, p_factor(p));
    }
}

static Q p_expr(Parser *p) {
    Q v = p_term(p);
    for (;;) {
        skip(p);
        char op = *p->s;
        if (op != '+' && op != '-') return v;
        p->s++, p->ops++;
        v = qop(v, op, p_term(p));
    }
}

static Q eval_expr(const char *s, Parser *p) {
    memset(p, 0, sizeof *p);
    p->s = s;
    Q v = p_expr(p);
    skip(p);
    if (*p->s || p->bad) v.ok = 0;
    return v;
}

TEST(eval_parser_itself) {
    Parser p;
    Q v = eval_expr("(813 * 707 - 3) / 6", &p);
    CHECK(v.ok && v.d == 1 && v.n == 95798);
    CHECK_EQ(p.ops, 3);
    v = eval_expr("2 - 3 - 4", &p);
    CHECK(v.ok && v.n == -5);
    v = eval_expr("8 / (4 / 2)", &p);
    CHECK(v.ok && v.n == 4);
    v = eval_expr("7 / 2", &p);
    CHECK(v.ok && v.n == 7 && v.d == 2);
    CHECK(!eval_expr("3 +", &p).ok);
}

// ---- arith -----------------------------------------------------------------------------------

TEST(arith_reproducible_and_correct) {
    GenOptions o;
    problems_gen_defaults(&o);
    o.n = 300, o.seed = 42, o.digits = 4, o.steps = 3, o.ops = "+-*/";
    ProblemSet *a = gen("arith", &o), *b = gen("arith", &o);
    REQUIRE(a && b);
    char *ja = all_json(a), *jb = all_json(b);
    CHECK_STR_EQ(ja, jb);
    o.seed = 43;
    ProblemSet *c = gen("arith", &o);
    REQUIRE(c);
    char *jc = all_json(c);
    CHECK(strcmp(ja, jc) != 0);
    int divisions = 0;
    for (int i = 0; i < a->n; i++) {
        const Problem *p = &a->items[i];
        const char *expr = json_opt_str(p->json, "expression", "");
        Parser ps;
        Q v = eval_expr(expr, &ps);
        CHECK_MSG(v.ok && v.d == 1, "%s: not an exact integer", expr);
        char want[64];
        snprintf(want, sizeof want, "%lld", (long long)v.n);
        CHECK_MSG(strcmp(p->answer, want) == 0, "%s = %s, generator says %s", expr, want, p->answer);
        CHECK_MSG(v.n >= 0, "%s: negative without --allow-negative", expr);
        CHECK_EQ(ps.ops, 3);
        for (int k = 0; k < ps.nleaves; k++) CHECK_MSG(ps.leaves[k] <= 9999, "%s: operand over 4 digits", expr);
        divisions += strchr(expr, '/') != NULL;
        // The worked solution ends in the answer.
        char tail[80];
        snprintf(tail, sizeof tail, "The answer is \\boxed{%s}.", p->answer);
        const char *sol = json_opt_str(p->json, "solution", "");
        CHECK(strlen(sol) > strlen(tail) && strcmp(sol + strlen(sol) - strlen(tail), tail) == 0);
        CHECK_STR_EQ(p->source, "gen/arith");
        CHECK(strncmp(p->id, "arith/", 6) == 0);
    }
    CHECK(divisions > 20);
    problems_free(a), problems_free(b), problems_free(c);
    // The same on every machine and in every process: a golden draw.
    o.n = 1, o.seed = 1, o.digits = 3;
    a = gen("arith", &o);
    REQUIRE(a);
    CHECK_STR_EQ(a->items[0].prompt, "What is (813 * 707 - 3) / 6?");
    problems_free(a);
    free(ja), free(jb), free(jc);
}

TEST(arith_knobs) {
    GenOptions o;
    problems_gen_defaults(&o);
    o.n = 200, o.seed = 3, o.digits = 2, o.min_digits = 2, o.steps = 1, o.ops = "-", o.allow_negative = 1;
    ProblemSet *s = gen("arith", &o);
    REQUIRE(s);
    int negative = 0;
    for (int i = 0; i < s->n; i++) {
        Parser ps;
        Q v = eval_expr(json_opt_str(s->items[i].json, "expression", ""), &ps);
        CHECK(v.ok && ps.ops == 1 && ps.nleaves == 2);
        for (int k = 0; k < ps.nleaves; k++) CHECK(ps.leaves[k] >= 10 && ps.leaves[k] <= 99);
        negative += v.n < 0;
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)v.n);
        CHECK_STR_EQ(s->items[i].answer, want);
    }
    CHECK(negative > 50);
    problems_free(s);
}

// ---- countdown ---------------------------------------------------------------------------------

// Exhaustive search: can vals[0..n) be combined with + - * / (exact rationals,
// any order) into target, every value used once?
static int solvable(Q *vals, int n, int64_t target) {
    if (n == 1) return vals[0].ok && vals[0].d == 1 && vals[0].n == target;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            Q rest[8];
            int k = 0;
            for (int t = 0; t < n; t++)
                if (t != i && t != j) rest[k++] = vals[t];
            static const char ops[] = "+-*/";
            for (int o = 0; o < 4; o++) {
                if ((ops[o] == '+' || ops[o] == '*') && i > j) continue;  // commutative: one order
                rest[k] = qop(vals[i], ops[o], vals[j]);
                if (rest[k].ok && solvable(rest, k + 1, target)) return 1;
            }
        }
    return 0;
}

static int cmp_ll(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void check_countdown(const Problem *p, int count) {
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(p->json, "numbers");
    REQUIRE(cJSON_GetArraySize(nums) == count);
    int64_t target = json_opt_int(p->json, "target", -1), given[8];
    Q vals[8];
    for (int i = 0; i < count; i++) {
        given[i] = (int64_t)cJSON_GetArrayItem(nums, i)->valuedouble;
        vals[i] = qmake(given[i], 1, 1);
    }
    CHECK_MSG(solvable(vals, count, target), "%s: no solution found", p->prompt);
    // The reference solution uses exactly the numbers and hits the target.
    char *expr = problems_last_boxed(json_opt_str(p->json, "solution", ""));
    REQUIRE(expr);
    Parser ps;
    Q v = eval_expr(expr, &ps);
    CHECK_MSG(v.ok && v.d == 1 && v.n == target, "%s != %lld", expr, (long long)target);
    REQUIRE(ps.nleaves == count);
    qsort(ps.leaves, (size_t)count, sizeof(int64_t), cmp_ll);
    qsort(given, (size_t)count, sizeof(int64_t), cmp_ll);
    CHECK(memcmp(ps.leaves, given, sizeof(int64_t) * (size_t)count) == 0);
    CHECK(p->answer == NULL);
    CHECK_STR_EQ(p->verifier, "countdown");
    char tgt[32];
    snprintf(tgt, sizeof tgt, "equals %lld.", (long long)target);
    CHECK_CONTAINS(p->prompt, tgt);
    free(expr);
}

TEST(countdown_always_solvable) {
    GenOptions o;
    problems_gen_defaults(&o);
    for (int count = 2; count <= 6; count++) {
        o.n = count == 6 ? 8 : 60, o.seed = (uint64_t)count, o.count = count;
        ProblemSet *s = gen("countdown", &o);
        REQUIRE(s);
        CHECK_EQ(s->n, o.n);
        for (int i = 0; i < s->n; i++) {
            check_countdown(&s->items[i], count);
            int64_t t = json_opt_int(s->items[i].json, "target", -1);
            CHECK(t >= o.min_target && t <= o.max_target);
        }
        problems_free(s);
    }
}

TEST(countdown_solver_can_say_no) {
    Q v[3] = {qmake(1, 1, 1), qmake(1, 1, 1), qmake(1, 1, 1)};
    CHECK(!solvable(v, 3, 50));
    CHECK(solvable(v, 3, 3));
}

// ---- aime ---------------------------------------------------------------------------------------

static int64_t P(const Problem *p, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p->json, "params"), key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static int64_t gcd_t(int64_t a, int64_t b) { return b ? gcd_t(b, a % b) : a; }

// a^b mod m through the cycle of powers (not square-and-multiply).
static int64_t pow_by_cycle(int64_t a, int64_t b, int64_t m) {
    static int first[1001];
    int64_t seq[1002];
    for (int i = 0; i <= m; i++) first[i] = -1;
    int64_t x = 1 % m;
    for (int64_t i = 0;; i++) {
        if (i == b) return x;
        if (first[x] >= 0) {
            int64_t start = first[x], period = i - start;
            return seq[start + (b - start) % period];
        }
        first[x] = (int)i, seq[i] = x;
        x = x * (a % m) % m;
    }
}

// C(n, k) mod 1000 by the primes of n! / (k! (n-k)!).
static int64_t binom_mod1000(int64_t n, int64_t k) {
    int64_t r = 1;
    for (int64_t p = 2; p <= n; p++) {
        int prime = 1;
        for (int64_t d = 2; d * d <= p; d++)
            if (p % d == 0) prime = 0;
        if (!prime) continue;
        int64_t e = 0;
        for (int64_t q = p; q <= n; q *= p) e += n / q - k / q - (n - k) / q;
        while (e-- > 0) r = r * p % 1000;
    }
    return r;
}

static int64_t binom_small(int64_t n, int64_t k) {
    if (k < 0 || k > n) return 0;
    __int128 c = 1;
    for (int64_t i = 0; i < k; i++) c = c * (n - i) / (i + 1);
    return (int64_t)c;
}

static int64_t digit_sum_t(int64_t n) {
    int64_t s = 0;
    for (; n; n /= 10) s += n % 10;
    return s;
}

static int64_t expected_answer(const Problem *p) {
    const char *t = json_opt_str(p->json, "template", "");
    if (!strcmp(t, "modpow")) return pow_by_cycle(P(p, "a"), P(p, "b"), P(p, "m"));
    if (!strcmp(t, "powersum")) {
        int64_t m = P(p, "m"), k = P(p, "k"), s = 0;
        for (int64_t i = 1; i <= P(p, "n"); i++) {
            int64_t t2 = 1;
            for (int64_t j = 0; j < k; j++) t2 = t2 * (i % m) % m;
            s = (s + t2) % m;
        }
        return s;
    }
    if (!strcmp(t, "divisible")) {
        int64_t c = 0, a = P(p, "a"), b = P(p, "b"), d = P(p, "c");
        for (int64_t i = 1; i <= P(p, "N"); i++) c += i % a == 0 || i % b == 0 || (d > 0 && i % d == 0);
        return c;
    }
    if (!strcmp(t, "binomial")) {
        int64_t n = P(p, "n"), k = P(p, "k");
        return strstr(p->prompt, "committee") ? binom_small(n, k) : binom_mod1000(n, k);
    }
    if (!strcmp(t, "lattice")) {
        int64_t a = P(p, "a"), b = P(p, "b"), x = P(p, "p"), y = P(p, "q");
        int64_t c = binom_small(a + b, a) - (x >= 0 ? binom_small(x + y, x) * binom_small(a + b - x - y, a - x) : 0);
        return strstr(p->prompt, "remainder") ? c % 1000 : c;
    }
    if (!strcmp(t, "recurrence")) {
        int64_t m = P(p, "m"), N = P(p, "N"), u = P(p, "x") % m, v = P(p, "y") % m, pp = P(p, "p"), q = P(p, "q");
        // Walk until the pair state repeats (hash of all m*m states), then jump.
        int32_t *seen = malloc(sizeof(int32_t) * (size_t)(m * m));
        for (int64_t i = 0; i < m * m; i++) seen[i] = 0;
        int64_t n = 1;
        while (n < N) {
            int64_t key = u * m + v;
            if (seen[key]) {
                int64_t period = n - seen[key];
                int64_t left = (N - n) % period;
                for (int64_t i = 0; i < left; i++) {
                    int64_t w = (pp * v + q * u) % m;
                    u = v, v = w;
                }
                n = N;
                break;
            }
            seen[key] = (int32_t)n;
            int64_t w = (pp * v + q * u) % m;
            u = v, v = w, n++;
        }
        free(seen);
        return u;
    }
    if (!strcmp(t, "digitsum")) {
        int64_t c = 0;
        for (int64_t i = 1; i <= P(p, "N"); i++) c += digit_sum_t(i) == P(p, "s");
        return c;
    }
    if (!strcmp(t, "powerdigits")) {
        int d[400] = {1}, nd = 1;
        for (int64_t i = 0; i < P(p, "b"); i++) {
            int carry = 0;
            for (int j = 0; j < nd; j++) {
                int x = d[j] * (int)P(p, "a") + carry;
                d[j] = x % 10, carry = x / 10;
            }
            while (carry) d[nd++] = carry % 10, carry /= 10;
        }
        int64_t s = 0;
        for (int j = 0; j < nd; j++) s += d[j];
        return s;
    }
    if (!strcmp(t, "divisors")) {
        int64_t N = P(p, "N"), c = 0;
        for (int64_t d = 1; d * d <= N; d++)
            if (N % d == 0) c += d * d == N ? 1 : 2;
        return c;
    }
    if (!strcmp(t, "crt")) {
        int64_t prod = P(p, "m1") * P(p, "m2") * (P(p, "m3") > 0 ? P(p, "m3") : 1);
        for (int64_t x = 1; x <= prod; x++)
            if (x % P(p, "m1") == P(p, "r1") && x % P(p, "m2") == P(p, "r2") && (P(p, "m3") < 0 || x % P(p, "m3") == P(p, "r3")))
                return x;
        return -1;
    }
    if (!strcmp(t, "totient")) {
        int64_t c = 0;
        for (int64_t i = 1; i <= P(p, "N"); i++) c += gcd_t(i, P(p, "N")) == 1;
        return c;
    }
    if (!strcmp(t, "zeros")) {
        int64_t c = 0;
        for (int64_t i = 1; i <= P(p, "N"); i++)
            for (int64_t x = i; x % 5 == 0; x /= 5) c++;
        return c;
    }
    return -1;
}

TEST(aime_every_template_every_level) {
    GenOptions o;
    problems_gen_defaults(&o);
    for (int t = 0; problems_aime_templates[t]; t++)
        for (int level = 1; level <= 3; level++) {
            o.n = level == 3 ? 6 : 12, o.seed = (uint64_t)(100 * t + level), o.level = level;
            o.templates = problems_aime_templates[t];
            ProblemSet *s = gen("aime", &o);
            REQUIRE(s);
            for (int i = 0; i < s->n; i++) {
                const Problem *p = &s->items[i];
                CHECK_STR_EQ(json_opt_str(p->json, "template", ""), problems_aime_templates[t]);
                int64_t want = expected_answer(p);
                char w[32];
                snprintf(w, sizeof w, "%lld", (long long)want);
                CHECK_MSG(strcmp(w, p->answer) == 0, "%s (level %d): %s\n      expected %s, generator says %s",
                          problems_aime_templates[t], level, p->prompt, w, p->answer);
                CHECK(want >= 0 && want <= 999);
                char tail[64];
                snprintf(tail, sizeof tail, "\\boxed{%s}.", p->answer);
                CHECK_CONTAINS(json_opt_str(p->json, "solution", ""), tail);
            }
            problems_free(s);
        }
}

TEST(aime_mixed_reproducible) {
    GenOptions o;
    problems_gen_defaults(&o);
    o.n = 60, o.seed = 9;
    ProblemSet *a = gen("aime", &o), *b = gen("aime", &o);
    REQUIRE(a && b);
    char *ja = all_json(a), *jb = all_json(b);
    CHECK_STR_EQ(ja, jb);
    int seen[32] = {0}, kinds = 0;
    for (int i = 0; i < a->n; i++)
        for (int t = 0; problems_aime_templates[t]; t++)
            if (!strcmp(json_opt_str(a->items[i].json, "template", ""), problems_aime_templates[t]) && !seen[t]++) kinds++;
    CHECK(kinds >= 8);
    free(ja), free(jb);
    problems_free(a), problems_free(b);
}

// ---- split ---------------------------------------------------------------------------------------

static int has_canonical(const ProblemSet *s, const char *c) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(json_opt_str(s->items[i].json, "canonical", ""), c)) return 1;
    return 0;
}

TEST(split_never_shares_a_problem) {
    // A small problem space (1-digit sums and products: 200 problems) so that
    // seeds overlap heavily: train and test must still never meet.
    GenOptions o;
    problems_gen_defaults(&o);
    o.digits = 1, o.ops = "+*", o.test_fraction = 0.3;
    o.split = GEN_SPLIT_TRAIN, o.n = 100, o.seed = 1;
    ProblemSet *train = gen("arith", &o);
    o.split = GEN_SPLIT_TEST, o.n = 40, o.seed = 2;
    ProblemSet *test = gen("arith", &o);
    o.seed = 1;
    ProblemSet *test1 = gen("arith", &o);
    REQUIRE(train && test && test1);
    for (int i = 0; i < train->n; i++) {
        const char *c = json_opt_str(train->items[i].json, "canonical", "");
        CHECK_STR_EQ(json_opt_str(train->items[i].json, "split", ""), "train");
        CHECK_EQ(problems_split_of(c, 0.3), GEN_SPLIT_TRAIN);
        CHECK_MSG(!has_canonical(test, c) && !has_canonical(test1, c), "%s in both splits", c);
    }
    for (int i = 0; i < test->n; i++) CHECK_STR_EQ(json_opt_str(test->items[i].json, "split", ""), "test");
    // Within one set no problem repeats.
    for (int i = 0; i < test->n; i++)
        for (int j = i + 1; j < test->n; j++)
            CHECK(strcmp(json_opt_str(test->items[i].json, "canonical", ""), json_opt_str(test->items[j].json, "canonical", "")));
    problems_free(train), problems_free(test), problems_free(test1);
}

TEST(split_fraction_and_countdown_order_invariance) {
    GenOptions o;
    problems_gen_defaults(&o);
    o.n = 2000, o.seed = 5, o.digits = 3, o.steps = 2;
    ProblemSet *s = gen("arith", &o);
    REQUIRE(s);
    int test = 0;
    for (int i = 0; i < s->n; i++) test += !strcmp(json_opt_str(s->items[i].json, "split", ""), "test");
    CHECK_MSG(test > 140 && test < 260, "test share %d / 2000 for fraction 0.1", test);
    problems_free(s);
    // Countdown's canonical form ignores the order the numbers are listed in.
    o.n = 50, o.count = 4;
    s = gen("countdown", &o);
    REQUIRE(s);
    for (int i = 0; i < s->n; i++) {
        const char *c = json_opt_str(s->items[i].json, "canonical", "");
        int64_t prev = -1;
        for (const char *q = c + strlen("countdown:"); *q && *q != '='; q++) {
            int64_t v = strtoll(q, (char **)&q, 10);
            CHECK(v >= prev);
            prev = v;
            if (*q == '=') break;
        }
    }
    problems_free(s);
}

// ---- errors and text ----------------------------------------------------------------------------

TEST(bad_knobs_and_exhaustion) {
    GenOptions o;
    problems_gen_defaults(&o);
    Err e = {0};
    o.digits = 0;
    CHECK(problems_gen("arith", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "digits must be 1..18");
    problems_gen_defaults(&o);
    o.ops = "+^";
    CHECK(problems_gen("arith", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "ops must be");
    problems_gen_defaults(&o);
    CHECK(problems_gen("sudoku", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unknown generator 'sudoku'");
    o.templates = "modpow,nope";
    CHECK(problems_gen("aime", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unknown aime template 'nope'");
    problems_gen_defaults(&o);
    o.count = 7;
    CHECK(problems_gen("countdown", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "count must be 2..6");
    // 1-digit sums: 100 distinct problems, so 101 cannot be made.
    problems_gen_defaults(&o);
    o.digits = 1, o.ops = "+", o.n = 101;
    CHECK(problems_gen("arith", &o, &e) == NULL);
    CHECK_CONTAINS(e.msg, "found only 100 distinct problems");
    o.n = 100;
    ProblemSet *s = problems_gen("arith", &o, &e);
    CHECK(s && s->n == 100);
    problems_free(s);
}

TEST(pretraining_text) {
    GenOptions o;
    problems_gen_defaults(&o);
    o.n = 5, o.steps = 2;
    ProblemSet *s = gen("arith", &o);
    REQUIRE(s);
    for (int i = 0; i < s->n; i++) {
        char *t = problems_gen_text(&s->items[i]);
        REQUIRE(t);
        CHECK(strncmp(t, s->items[i].prompt, strlen(s->items[i].prompt)) == 0);
        CHECK_EQ(t[strlen(s->items[i].prompt)], '\n');
        char tail[64];
        snprintf(tail, sizeof tail, "\\boxed{%s}.", s->items[i].answer);
        CHECK(strcmp(t + strlen(t) - strlen(tail), tail) == 0);
        free(t);
    }
    problems_free(s);
}
