// rng.c: xoshiro256** (Blackman & Vigna) with splitmix64 seeding.
#include "rng.h"

#include <math.h>

#include "base.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

Rng rng_split(const Rng *parent, uint64_t stream) {
    // Mix the parent's state with the stream index through splitmix64, so
    // nearby indices give unrelated streams.
    uint64_t x = parent->s[0] ^ (parent->s[1] << 1) ^ (parent->s[2] >> 1) ^ parent->s[3];
    x ^= splitmix64(&(uint64_t){stream ^ 0x5851f42d4c957f2dULL});
    Rng child;
    rng_seed(&child, splitmix64(&x));
    return child;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(Rng *r, uint64_t n) {
    RS_CHECK(n > 0);
    uint64_t limit = -n % n;  // 2^64 mod n: reject the low values that bias the modulo
    for (;;) {
        uint64_t x = rng_u64(r);
        if (x >= limit) return x % n;
    }
}

double rng_double(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }
float rng_float(Rng *r) { return (float)(rng_u64(r) >> 40) * 0x1.0p-24f; }

double rng_normal(Rng *r) {
    double u1 = rng_double(r), u2 = rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
