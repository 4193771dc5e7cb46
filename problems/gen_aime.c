// gen_aime.c: AIME-style problems with integer answers 0..999, each from a
// template whose answer a program computes, with a worked solution that shows
// the computation. Levels 1..3 widen the numbers. Where a second method is
// cheap, the worked solution's figures come from it and must agree with the
// answer (RS_CHECK): a template bug stops the generator instead of teaching
// a wrong answer.
//   reasoner problems gen aime --n 100 --seed 1 --level 3 --templates modpow,crt
#include <string.h>

#include "common/base.h"
#include "problems/gen.h"

const char *const problems_aime_templates[] = {
    "modpow",   "powersum",   "divisible", "binomial", "lattice", "recurrence",
    "digitsum", "powerdigits", "divisors",  "crt",      "totient", "zeros",      NULL,
};

// ---- helpers ----------------------------------------------------------------------------

static int64_t rnd(Rng *r, int64_t lo, int64_t hi) { return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1)); }
static int64_t pick3(int level, int64_t a, int64_t b, int64_t c) { return level == 1 ? a : level == 2 ? b : c; }
static int64_t mulmod(int64_t a, int64_t b, int64_t m) { return (int64_t)((__int128)a * b % m); }

static int64_t powmod(int64_t a, int64_t b, int64_t m) {
    int64_t x = 1 % m;
    for (a %= m; b; b >>= 1, a = mulmod(a, a, m))
        if (b & 1) x = mulmod(x, a, m);
    return x;
}

static int64_t gcd(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static void param(GenItem *it, const char *key, int64_t v) {
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(it->extra, "params"), key, (double)v);
}

// Prime factors of n (trial division; n <= 1e12 here). Returns the count.
static int factor(int64_t n, int64_t *p, int *e) {
    int k = 0;
    for (int64_t d = 2; d * d <= n; d++) {
        if (n % d) continue;
        p[k] = d, e[k] = 0;
        while (n % d == 0) n /= d, e[k]++;
        k++;
    }
    if (n > 1) p[k] = n, e[k++] = 1;
    return k;
}

static void print_factors(Buf *b, const int64_t *p, const int *e, int k) {
    for (int i = 0; i < k; i++) {
        buf_printf(b, "%s%lld", i ? " \\cdot " : "", (long long)p[i]);
        if (e[i] > 1) buf_printf(b, "^{%d}", e[i]);
    }
}

// ---- templates: each fills prompt, params and solution; returns the answer or -1 ----

static int64_t t_modpow(int level, Rng *r, GenItem *it) {
    int64_t a = rnd(r, 2, pick3(level, 20, 99, 999));
    int64_t b = rnd(r, pick3(level, 10, 100, 10000), pick3(level, 100, 10000, 1000000000));
    int64_t m = level == 3 ? 1000 : rnd(r, pick3(level, 7, 101, 0), pick3(level, 100, 999, 0));
    param(it, "a", a), param(it, "b", b), param(it, "m", m);
    buf_printf(&it->prompt, "Find the remainder when $%lld^{%lld}$ is divided by $%lld$.", (long long)a, (long long)b,
               (long long)m);
    buf_printf(&it->solution, "Square repeatedly modulo %lld: ", (long long)m);
    int64_t sq = a % m, acc = 1 % m;
    Buf used = {0};
    buf_puts(&used, "");
    for (int i = 0; (b >> i) != 0; i++) {
        buf_printf(&it->solution, "%s$%lld^{%lld} \\equiv %lld$", i ? ", " : "", (long long)a, 1LL << i,
                   (long long)sq);
        if ((b >> i) & 1) {
            buf_printf(&used, "%s%lld", used.len ? " + " : "", 1LL << i);
            acc = mulmod(acc, sq, m);
        }
        sq = mulmod(sq, sq, m);
    }
    buf_printf(&it->solution, ".\nSince $%lld = %s$, multiplying those powers gives $%lld^{%lld} \\equiv %lld \\pmod{%lld}$.\n",
               (long long)b, used.data, (long long)a, (long long)b, (long long)acc, (long long)m);
    buf_free(&used);
    RS_CHECK(acc == powmod(a, b, m));
    return acc;
}

static int64_t t_powersum(int level, Rng *r, GenItem *it) {
    int64_t n = rnd(r, pick3(level, 10, 100, 1000), pick3(level, 50, 1000, 1000000));
    int64_t k = rnd(r, pick3(level, 1, 2, 3), pick3(level, 2, 4, 9));
    int64_t m = level == 3 ? 1000 : rnd(r, pick3(level, 7, 100, 0), pick3(level, 100, 999, 0));
    param(it, "n", n), param(it, "k", k), param(it, "m", m);
    buf_printf(&it->prompt, "Find the remainder when $1^{%lld} + 2^{%lld} + 3^{%lld} + \\cdots + %lld^{%lld}$ is divided by $%lld$.",
               (long long)k, (long long)k, (long long)k, (long long)n, (long long)k, (long long)m);
    // i^k mod m depends only on i mod m: one period times the full periods, plus the rest.
    int64_t period = 0, rest = 0, q = n / m, rem = n % m;
    for (int64_t i = 1; i <= m; i++) {
        int64_t t = powmod(i, k, m);
        period = (period + t) % m;
        if (i <= rem) rest = (rest + t) % m;
    }
    int64_t ans = (mulmod(q % m, period, m) + rest) % m;
    if (q == 0) {
        buf_printf(&it->solution, "Adding the %lld terms modulo %lld gives %lld.\n", (long long)n, (long long)m,
                   (long long)ans);
    } else {
        buf_printf(&it->solution,
                   "Since $i^{%lld} \\bmod %lld$ depends only on $i \\bmod %lld$, the terms repeat every %lld. One "
                   "block $1^{%lld} + \\cdots + %lld^{%lld} \\equiv %lld$. There are %lld full blocks and %lld more "
                   "terms, which add to %lld.\nSo the sum is $\\equiv %lld \\cdot %lld + %lld \\equiv %lld \\pmod{%lld}$.\n",
                   (long long)k, (long long)m, (long long)m, (long long)m, (long long)k, (long long)m, (long long)k,
                   (long long)period, (long long)q, (long long)rem, (long long)rest, (long long)q, (long long)period,
                   (long long)rest, (long long)ans, (long long)m);
    }
    return ans;
}

static int64_t t_divisible(int level, Rng *r, GenItem *it) {
    int nd = level == 1 ? 2 : 3;
    int64_t d[3], lo = pick3(level, 2, 2, 7), hi = pick3(level, 12, 30, 200);
    for (int i = 0; i < nd; i++) d[i] = rnd(r, lo, hi);
    if (d[0] == d[1] || (nd == 3 && (d[2] == d[0] || d[2] == d[1]))) return -1;
    int64_t dmin = RS_MIN(d[0], RS_MIN(d[1], nd == 3 ? d[2] : d[1]));
    int64_t nhi = RS_MIN(pick3(level, 999, 9999, 1000000), 999 * dmin);
    int64_t N = rnd(r, RS_MIN(pick3(level, 100, 1000, 10000), nhi), nhi);
    param(it, "N", N), param(it, "a", d[0]), param(it, "b", d[1]);
    if (nd == 3) param(it, "c", d[2]);
    if (nd == 2)
        buf_printf(&it->prompt, "How many positive integers less than or equal to $%lld$ are divisible by $%lld$ or $%lld$?",
                   (long long)N, (long long)d[0], (long long)d[1]);
    else
        buf_printf(&it->prompt,
                   "How many positive integers less than or equal to $%lld$ are divisible by at least one of $%lld$, "
                   "$%lld$ and $%lld$?",
                   (long long)N, (long long)d[0], (long long)d[1], (long long)d[2]);
    // Inclusion-exclusion over the non-empty subsets, through the lcm of each.
    buf_puts(&it->solution, "By inclusion-exclusion, with $\\lfloor N/x \\rfloor$ for each lcm of a subset: ");
    int64_t total = 0;
    for (int mask = 1; mask < (1 << nd); mask++) {
        int64_t l = 1;
        int bits = 0;
        for (int i = 0; i < nd; i++)
            if (mask & (1 << i)) l = l / gcd(l, d[i]) * d[i], bits++;
        int64_t t = N / l;
        total += bits & 1 ? t : -t;
        buf_printf(&it->solution, "%s%lld", mask == 1 ? "" : bits & 1 ? " + " : " - ", (long long)t);
    }
    buf_printf(&it->solution, " = %lld.\n", (long long)total);
    return total;
}

// C(n, k) exactly, or -1 past 2^62.
static int64_t binom_exact(int64_t n, int64_t k) {
    if (k < 0 || k > n) return 0;
    k = RS_MIN(k, n - k);
    __int128 c = 1;
    for (int64_t i = 1; i <= k; i++) {
        c = c * (n - k + i) / i;
        if (c > ((__int128)1 << 62)) return -1;
    }
    return (int64_t)c;
}

static int64_t legendre(int64_t n, int64_t p) {
    int64_t e = 0;
    for (int64_t q = p; q <= n; q *= p) e += n / q;
    return e;
}

static int64_t t_binomial(int level, Rng *r, GenItem *it) {
    int64_t n = rnd(r, pick3(level, 5, 20, 100), pick3(level, 20, 100, 2000));
    int64_t k = rnd(r, 2, level == 1 ? n - 2 : n / 2);
    param(it, "n", n), param(it, "k", k);
    if (level == 1) {
        int64_t c = binom_exact(n, k);
        if (c < 0 || c > 999) return -1;
        buf_printf(&it->prompt, "In how many ways can a committee of $%lld$ people be chosen from a group of $%lld$ people?",
                   (long long)k, (long long)n);
        buf_printf(&it->solution, "The count is $\\binom{%lld}{%lld} = \\frac{%lld!}{%lld!\\,%lld!} = %lld$.\n", (long long)n,
                   (long long)k, (long long)n, (long long)k, (long long)(n - k), (long long)c);
        return c;
    }
    buf_printf(&it->prompt, "Find the remainder when $\\binom{%lld}{%lld}$ is divided by $1000$.", (long long)n, (long long)k);
    // The answer from Pascal's rule modulo 1000; the solution from Legendre's formula.
    int64_t *row = xcalloc((size_t)k + 1, sizeof *row);
    row[0] = 1;
    for (int64_t i = 1; i <= n; i++)
        for (int64_t j = RS_MIN(i, k); j >= 1; j--) row[j] = (row[j] + row[j - 1]) % 1000;
    int64_t ans = row[k];
    free(row);
    int64_t p[512];
    int e[512], np = 0;
    for (int64_t q = 2; q <= n; q++) {
        int prime = 1;
        for (int64_t d = 2; d * d <= q && prime; d++) prime = q % d != 0;
        int64_t x = prime ? legendre(n, q) - legendre(k, q) - legendre(n - k, q) : 0;
        if (x > 0 && np < 512) p[np] = q, e[np++] = (int)x;
    }
    int64_t check = 1;
    for (int i = 0; i < np; i++) check = mulmod(check, powmod(p[i], e[i], 1000), 1000);
    RS_CHECK(check == ans);
    buf_printf(&it->solution, "By Legendre's formula for the primes in $%lld!/(%lld!\\,%lld!)$, $\\binom{%lld}{%lld} = ",
               (long long)n, (long long)k, (long long)(n - k), (long long)n, (long long)k);
    print_factors(&it->solution, p, e, np);
    buf_printf(&it->solution, "$. Multiplying these prime powers modulo 1000 gives %lld.\n", (long long)ans);
    return ans;
}

static int64_t t_lattice(int level, Rng *r, GenItem *it) {
    int64_t a = rnd(r, pick3(level, 2, 3, 8), pick3(level, 5, 7, 15)), b = rnd(r, pick3(level, 2, 3, 8), pick3(level, 5, 7, 15));
    int64_t px = level == 1 ? -1 : rnd(r, 1, a - 1), py = level == 1 ? -1 : rnd(r, 1, b - 1);
    param(it, "a", a), param(it, "b", b);
    if (level > 1) param(it, "p", px), param(it, "q", py);
    // Count by walking the grid (the answer); the solution uses the binomial formula.
    uint64_t grid[16][16] = {{0}};
    for (int x = 0; x <= a; x++)
        for (int y = 0; y <= b; y++)
            grid[x][y] = (x == px && y == py) ? 0 : (x == 0 && y == 0) ? 1 : (x ? grid[x - 1][y] : 0) + (y ? grid[x][y - 1] : 0);
    int64_t count = (int64_t)grid[a][b], all = binom_exact(a + b, a);
    int64_t through = level == 1 ? 0 : binom_exact(px + py, px) * binom_exact(a + b - px - py, a - px);
    RS_CHECK(count == all - through);
    int64_t ans = count <= 999 ? count : count % 1000;
    buf_printf(&it->prompt, "A lattice path from $(0,0)$ to $(%lld,%lld)$ uses unit steps right or up", (long long)a, (long long)b);
    if (level > 1) buf_printf(&it->prompt, " and does not pass through the point $(%lld,%lld)$", (long long)px, (long long)py);
    if (count <= 999) buf_puts(&it->prompt, ". How many such paths are there?");
    else buf_puts(&it->prompt, ". Find the remainder when the number of such paths is divided by $1000$.");
    buf_printf(&it->solution, "A path is an arrangement of %lld right and %lld up steps: $\\binom{%lld}{%lld} = %lld$ paths.",
               (long long)a, (long long)b, (long long)(a + b), (long long)a, (long long)all);
    if (level > 1)
        buf_printf(&it->solution, " Through $(%lld,%lld)$ go $\\binom{%lld}{%lld}\\binom{%lld}{%lld} = %lld$ of them, leaving %lld.",
                   (long long)px, (long long)py, (long long)(px + py), (long long)px, (long long)(a + b - px - py),
                   (long long)(a - px), (long long)through, (long long)count);
    if (count > 999) buf_printf(&it->solution, " Modulo 1000 that is %lld.", (long long)ans);
    buf_putc(&it->solution, '\n');
    return ans;
}

static int64_t t_recurrence(int level, Rng *r, GenItem *it) {
    int64_t x = rnd(r, 1, 9), y = rnd(r, 1, 9), p = rnd(r, 1, pick3(level, 3, 5, 9)), q = rnd(r, 1, pick3(level, 3, 5, 9));
    int64_t N = rnd(r, pick3(level, 5, 20, 1000), pick3(level, 15, 1000, 1000000000));
    int64_t m = level == 3 ? 1000 : rnd(r, pick3(level, 10, 100, 0), pick3(level, 100, 999, 0));
    param(it, "x", x), param(it, "y", y), param(it, "p", p), param(it, "q", q), param(it, "N", N), param(it, "m", m);
    char cp[24] = "", cq[24] = "";  // "3 " or "" for a coefficient of 1
    if (p > 1) snprintf(cp, sizeof cp, "%lld ", (long long)p);
    if (q > 1) snprintf(cq, sizeof cq, "%lld ", (long long)q);
    buf_printf(&it->prompt,
               "A sequence is defined by $a_1 = %lld$, $a_2 = %lld$, and $a_n = %sa_{n-1} + %sa_{n-2}$ for "
               "$n \\ge 3$. Find the remainder when $a_{%lld}$ is divided by $%lld$.",
               (long long)x, (long long)y, cp, cq, (long long)N, (long long)m);
    // The answer by 2x2 matrix powers: (a_n, a_{n-1}) = M^(n-2) (a_2, a_1).
    int64_t M[2][2] = {{p % m, q % m}, {1 % m, 0}}, R[2][2] = {{1 % m, 0}, {0, 1 % m}};
    for (int64_t e = N - 2; e > 0; e >>= 1) {
        int64_t T[2][2];
        if (e & 1) {
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) T[i][j] = (R[i][0] * M[0][j] + R[i][1] * M[1][j]) % m;
            memcpy(R, T, sizeof T);
        }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) T[i][j] = (M[i][0] * M[0][j] + M[i][1] * M[1][j]) % m;
        memcpy(M, T, sizeof T);
    }
    int64_t ans = (R[0][0] * (y % m) + R[0][1] * (x % m)) % m;
    // The solution walks the terms modulo m until a pair repeats.
    int32_t *first = xmalloc(sizeof(int32_t) * (size_t)(m * m));
    for (int64_t i = 0; i < m * m; i++) first[i] = -1;
    int64_t u = x % m, v = y % m, n = 1, walked = 0;
    buf_printf(&it->solution, "Modulo %lld the terms are ", (long long)m);
    while (n < N && first[u * m + v] < 0) {
        first[u * m + v] = (int32_t)n;
        if (n <= 24) buf_printf(&it->solution, "%lld, ", (long long)u);
        int64_t w = (p * v + q * u) % m;
        u = v, v = w, n++;
    }
    if (n == N) {
        walked = u;
        buf_printf(&it->solution, "%s%lld, so $a_{%lld} \\equiv %lld$.\n", n <= 25 ? "" : "..., ", (long long)u,
                   (long long)N, (long long)u);
    } else {
        int64_t start = first[u * m + v], period = n - start, idx = start + (N - start) % period;
        buf_printf(&it->solution,
                   "...; the pair $(a_{%lld}, a_{%lld})$ repeats $(a_{%lld}, a_{%lld})$, so from $n = %lld$ the terms "
                   "repeat with period %lld and $a_{%lld} \\equiv a_{%lld}",
                   (long long)n, (long long)(n + 1), (long long)start, (long long)(start + 1), (long long)start,
                   (long long)period, (long long)N, (long long)idx);
        u = x % m, v = y % m;
        for (int64_t i = 1; i < idx; i++) {
            int64_t w = (p * v + q * u) % m;
            u = v, v = w;
        }
        walked = u;
        buf_printf(&it->solution, " \\equiv %lld$.\n", (long long)u);
    }
    free(first);
    RS_CHECK(walked == ans);
    return ans;
}

static int digit_sum(int64_t n) {
    int s = 0;
    for (; n; n /= 10) s += (int)(n % 10);
    return s;
}

static int64_t t_digitsum(int level, Rng *r, GenItem *it) {
    int64_t N = rnd(r, pick3(level, 100, 1000, 10000), pick3(level, 999, 9999, 1000000));
    int64_t s = rnd(r, 2, pick3(level, 20, 30, 40));
    param(it, "N", N), param(it, "s", s);
    buf_printf(&it->prompt, "How many integers $n$ with $1 \\le n \\le %lld$ have digits that sum to $%lld$?", (long long)N,
               (long long)s);
    // ways[r][t]: strings of r digits summing to t.
    int64_t ways[8][64] = {{0}};
    ways[0][0] = 1;
    for (int len = 1; len < 8; len++)
        for (int t = 0; t < 64; t++)
            for (int d = 0; d <= 9 && d <= t; d++) ways[len][t] += ways[len - 1][t - d];
    char digits[16];
    int L = snprintf(digits, sizeof digits, "%lld", (long long)N), prefix = 0;
    int64_t total = 0;
    buf_printf(&it->solution,
               "Write each $n < %lld$ with %d digits (leading zeros allowed) and sort by the first position where "
               "its digit is below that of %lld; counting digit strings with the right sum for the remaining "
               "positions gives",
               (long long)N, L, (long long)N);
    for (int i = 0; i < L; i++) {
        int64_t here = 0;
        for (int d = 0; d < digits[i] - '0'; d++) {
            int need = (int)s - prefix - d;
            if (need >= 0 && need < 64) here += ways[L - 1 - i][need];
        }
        buf_printf(&it->solution, "%s %lld (position %d)", i ? " +" : "", (long long)here, i + 1);
        total += here;
        prefix += digits[i] - '0';
    }
    int self = prefix == s;
    total += self;
    buf_printf(&it->solution, ", plus %d for %lld itself (its digits sum to %d): %lld in all.\n", self, (long long)N, prefix,
               (long long)total);
    RS_CHECK(prefix == digit_sum(N));
    return total >= 1 && total <= 999 ? total : -1;
}

static int64_t t_powerdigits(int level, Rng *r, GenItem *it) {
    int64_t a = rnd(r, 2, pick3(level, 9, 20, 99)), b = rnd(r, pick3(level, 5, 10, 20), pick3(level, 20, 50, 55));
    param(it, "a", a), param(it, "b", b);
    buf_printf(&it->prompt, "Find the sum of the digits of $%lld^{%lld}$.", (long long)a, (long long)b);
    // Base 10^9 limbs, least significant first.
    uint32_t limb[40] = {1};
    int nl = 1;
    for (int64_t i = 0; i < b; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nl; j++) {
            uint64_t t = (uint64_t)limb[j] * (uint64_t)a + carry;
            limb[j] = (uint32_t)(t % 1000000000u), carry = t / 1000000000u;
        }
        if (carry) {
            if (nl == 40) return -1;
            limb[nl++] = (uint32_t)carry;
        }
    }
    Buf num = {0};
    buf_printf(&num, "%u", limb[nl - 1]);
    for (int j = nl - 2; j >= 0; j--) buf_printf(&num, "%09u", limb[j]);
    int64_t sum = 0;
    for (size_t i = 0; i < num.len; i++) sum += num.data[i] - '0';
    buf_printf(&it->solution, "$%lld^{%lld} = %s$, whose digits sum to %lld.\n", (long long)a, (long long)b, num.data,
               (long long)sum);
    buf_free(&num);
    return sum;
}

static int64_t t_divisors(int level, Rng *r, GenItem *it) {
    static const int primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
    int64_t limit = pick3(level, 10000, 10000000, 1000000000000LL), N = 1;
    int nf = (int)rnd(r, 2, level + 2), used[32] = {0}, count = 1;
    for (int i = 0; i < nf; i++) {
        int pi = (int)rnd(r, 0, pick3(level, 5, 12, 24));
        if (used[pi]) continue;
        used[pi] = 1;
        int e = (int)rnd(r, 1, pick3(level, 4, 5, 7));
        for (int j = 0; j < e; j++) {
            if (N > limit / primes[pi]) return -1;
            N *= primes[pi];
        }
        count *= e + 1;
    }
    if (N < 12) return -1;
    param(it, "N", N);
    buf_printf(&it->prompt, "How many positive divisors does $%lld$ have?", (long long)N);
    int64_t p[16];
    int e[16], k = factor(N, p, e), check = 1;
    buf_printf(&it->solution, "$%lld = ", (long long)N);
    print_factors(&it->solution, p, e, k);
    buf_puts(&it->solution, "$, so it has $");
    for (int i = 0; i < k; i++) buf_printf(&it->solution, "(%d+1)", e[i]), check *= e[i] + 1;
    buf_printf(&it->solution, " = %d$ divisors.\n", check);
    RS_CHECK(check == count);
    return count;
}

static int64_t ext_inverse(int64_t a, int64_t m) {
    int64_t g = m, x = 0, x1 = 1, aa = a % m;
    while (aa) {
        int64_t q = g / aa, t = g - q * aa;
        g = aa, aa = t;
        t = x - q * x1;
        x = x1, x1 = t;
    }
    RS_CHECK(g == 1);
    return ((x % m) + m) % m;
}

static int64_t t_crt(int level, Rng *r, GenItem *it) {
    int nm = level == 1 ? 2 : 3;
    int64_t m[3], rem[3], prod = 1;
    for (int i = 0; i < nm; i++) {
        m[i] = rnd(r, 2, pick3(level, 15, 20, 40));
        for (int j = 0; j < i; j++)
            if (gcd(m[i], m[j]) != 1) return -1;
        prod *= m[i];
    }
    if (prod > 999 || prod < 12) return -1;
    int zero = 1;
    for (int i = 0; i < nm; i++) rem[i] = rnd(r, 0, m[i] - 1), zero &= rem[i] == 0;
    if (zero) return -1;
    static const char *names[] = {"m1", "m2", "m3"}, *rnames[] = {"r1", "r2", "r3"};
    buf_puts(&it->prompt, "Find the smallest positive integer that leaves");
    for (int i = 0; i < nm; i++) {
        param(it, names[i], m[i]), param(it, rnames[i], rem[i]);
        buf_printf(&it->prompt, "%s a remainder of $%lld$ when divided by $%lld$", i == 0 ? "" : i == nm - 1 ? ", and" : ",",
                   (long long)rem[i], (long long)m[i]);
    }
    buf_putc(&it->prompt, '.');
    // The answer by the CRT formula; the solution by sieving, one modulus at a time.
    int64_t x = 0;
    for (int i = 0; i < nm; i++) {
        int64_t Mi = prod / m[i];
        x = (x + rem[i] * Mi % prod * ext_inverse(Mi, m[i])) % prod;
    }
    if (x == 0) x = prod;
    int64_t s = rem[0] ? rem[0] : m[0], step = m[0];
    buf_printf(&it->solution, "Start from %lld, the least positive number with remainder %lld mod %lld.", (long long)s,
               (long long)rem[0], (long long)m[0]);
    for (int i = 1; i < nm; i++) {
        while (s % m[i] != rem[i]) s += step;
        step *= m[i];
        buf_printf(&it->solution, " Adding %lld at a time, the first with remainder %lld mod %lld is %lld.",
                   (long long)(step / m[i]), (long long)rem[i], (long long)m[i], (long long)s);
    }
    buf_putc(&it->solution, '\n');
    RS_CHECK(s == x);
    return x;
}

static int64_t t_totient(int level, Rng *r, GenItem *it) {
    int64_t N = rnd(r, pick3(level, 10, 100, 1000), pick3(level, 100, 999, 5000));
    param(it, "N", N);
    buf_printf(&it->prompt, "How many positive integers less than or equal to $%lld$ are relatively prime to $%lld$?",
               (long long)N, (long long)N);
    int64_t p[16];
    int e[16], k = factor(N, p, e);
    int64_t phi = N;
    for (int i = 0; i < k; i++) phi = phi / p[i] * (p[i] - 1);
    buf_printf(&it->solution, "$%lld = ", (long long)N);
    print_factors(&it->solution, p, e, k);
    buf_printf(&it->solution, "$, so Euler's totient is $%lld", (long long)N);
    for (int i = 0; i < k; i++) buf_printf(&it->solution, " \\cdot (1 - \\tfrac{1}{%lld})", (long long)p[i]);
    buf_printf(&it->solution, " = %lld$.\n", (long long)phi);
    return phi;
}

static int64_t t_zeros(int level, Rng *r, GenItem *it) {
    int64_t N = rnd(r, pick3(level, 10, 100, 1000), pick3(level, 100, 1000, 4000));
    param(it, "N", N);
    buf_printf(&it->prompt, "How many zeros are at the end of the decimal representation of $%lld!$?", (long long)N);
    buf_puts(&it->solution, "Each trailing zero needs a factor 5 (factors 2 are more plentiful). By Legendre's formula the factors 5 in ");
    buf_printf(&it->solution, "$%lld!$ number ", (long long)N);
    int64_t total = 0;
    for (int64_t q = 5; q <= N; q *= 5) {
        buf_printf(&it->solution, "%s$\\lfloor %lld/%lld \\rfloor = %lld$", q == 5 ? "" : " + ", (long long)N, (long long)q,
                   (long long)(N / q));
        total += N / q;
    }
    buf_printf(&it->solution, " = %lld.\n", (long long)total);
    return total;
}

typedef int64_t (*AimeTemplate)(int level, Rng *r, GenItem *it);
static const AimeTemplate templates[] = {t_modpow,   t_powersum,    t_divisible, t_binomial, t_lattice, t_recurrence,
                                         t_digitsum, t_powerdigits, t_divisors,  t_crt,      t_totient, t_zeros};

int problems_aime_make(int t, int level, Rng *r, GenItem *it) {
    RS_CHECK(t >= 0 && t < (int)RS_ARRAY_LEN(templates) && problems_aime_templates[t]);
    it->extra = cJSON_CreateObject();
    cJSON_AddStringToObject(it->extra, "template", problems_aime_templates[t]);
    cJSON_AddObjectToObject(it->extra, "params");
    int64_t ans = templates[t](level, r, it);
    if (ans < 0 || ans > 999) return -1;
    buf_printf(&it->answer, "%lld", (long long)ans);
    buf_printf(&it->solution, "The answer is \\boxed{%lld}.", (long long)ans);
    buf_printf(&it->canonical, "aime:%s:%s", problems_aime_templates[t], it->prompt.data);
    return 0;
}
