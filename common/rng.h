// rng.h: a seeded, reproducible random number generator (xoshiro256**,
// seeded through splitmix64). The state is plain data (four words), so it
// saves into trainer_state.json and restores bit-identically. rng_split
// derives an independent stream per thread, worker or sequence from a parent
// and an index without advancing the parent: the same (seed, index) gives
// the same stream whatever the thread count. One Rng per thread.
#pragma once
#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
// An independent child stream number `stream` of parent; parent unchanged.
Rng rng_split(const Rng *parent, uint64_t stream);
uint64_t rng_u64(Rng *r);
// Uniform in [0, n), unbiased. n must be > 0.
uint64_t rng_below(Rng *r, uint64_t n);
// Uniform in [0, 1): 53-bit double and 24-bit float.
double rng_double(Rng *r);
float rng_float(Rng *r);
// Standard normal (Box-Muller).
double rng_normal(Rng *r);
