// test_gemm.c: the packed-weight product of decode steps (model/gemm.h):
// every kernel this CPU can run (AVX-512, AVX2, plain C) against plain
// loops in double over shapes that hit every tail (rows past a tile, columns
// past a panel, one panel of a pair), with and without bias, on one thread
// and split across threads; and the op table's matmul_packed against its
// matmul_forward.
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/rng.h"
#include "model/gemm.h"
#include "model/ops.h"
#include "tests/test.h"

static float *randn(Rng *r, size_t n) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_double(r) * 2 - 1);
    return x;
}

// Worst error of gemm_packed over a dot product's scale (sqrt(K) terms of
// size 1), against double.
static double packed_err(Rng *r, int M, int K, int N, int with_bias, int parallel) {
    float *x = randn(r, (size_t)M * K), *w = randn(r, (size_t)N * K), *b = with_bias ? randn(r, N) : NULL;
    // A guard past the end: stores are masked at the last columns, and a
    // tile stored whole would run past the matrix from its last row.
    enum { GUARD = 32 };
    float *wp = NULL, *out = malloc(sizeof(float) * ((size_t)M * N + GUARD));
    RS_CHECK(posix_memalign((void **)&wp, 64, sizeof(float) * gemm_packed_floats(K, N)) == 0);
    for (size_t i = 0; i < (size_t)M * N + GUARD; i++) out[i] = NAN;  // every element must be written
    gemm_pack(wp, w, K, N);
    gemm_packed(out, x, wp, b, M, K, N, parallel);
    double worst = 0;
    for (int g = 0; g < GUARD; g++)
        if (!isnan(out[(size_t)M * N + g])) worst = INFINITY;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = b ? b[j] : 0;
            for (int k = 0; k < K; k++) s += (double)x[(size_t)i * K + k] * w[(size_t)j * K + k];
            double e = fabs(out[(size_t)i * N + j] - s) / sqrt((double)K + 1);
            worst = isnan(e) || e > worst ? (isnan(e) ? INFINITY : e) : worst;
        }
    free(x), free(w), free(b), free(wp), free(out);
    return worst;
}

TEST(every_kernel_matches_double_on_every_tail) {
    static const int Ms[] = {1, 2, 5, 6, 7, 8, 9, 13, 17, 32, 33, 64};
    static const int Ks[] = {1, 3, 64, 321};
    static const int Ns[] = {1, 15, 16, 17, 31, 32, 33, 48, 100};
    ModelIsa best = gemm_isa();
    int kernels = 0;
    for (int isa = MODEL_ISA_SSE; isa <= best; isa++) {
        if (isa == MODEL_ISA_AVX) continue;  // no kernel of its own: the plain one
        CHECK_EQ((int)gemm_set_isa((ModelIsa)isa), isa);
        Rng r;
        rng_seed(&r, 7 + isa);
        double worst = 0;
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
                    worst = fmax(worst, packed_err(&r, Ms[a], Ks[k], Ns[n], (a + n) % 2, (a + k) % 2));
        CHECK_MSG(worst < 1e-5, "kernel %s: worst error %.3g", model_isa_name((ModelIsa)isa), worst);
        kernels++;
    }
    gemm_set_isa(best);
    CHECK(kernels >= 1);
    CHECK_EQ((int)gemm_isa(), (int)best);
}

TEST(a_kernel_beyond_the_cpu_is_not_chosen) {
    ModelIsa best = gemm_isa();
    CHECK(gemm_set_isa(MODEL_ISA_AVX512) <= model_cpu_isa());
    gemm_set_isa(best);
}

// Decode-sized products split across threads agree with one thread exactly:
// each output is the same sum in the same order whichever thread runs it.
TEST(threads_do_not_change_results) {
    Rng r;
    rng_seed(&r, 3);
    int M = 37, K = 200, N = 1000;
    float *x = randn(&r, (size_t)M * K), *w = randn(&r, (size_t)N * K), *b = randn(&r, N);
    float *wp = NULL, *a = malloc(sizeof(float) * M * N), *c = malloc(sizeof(float) * M * N);
    REQUIRE(posix_memalign((void **)&wp, 64, sizeof(float) * gemm_packed_floats(K, N)) == 0);
    gemm_pack(wp, w, K, N);
    gemm_packed(a, x, wp, b, M, K, N, 0);
    gemm_packed(c, x, wp, b, M, K, N, 1);
    CHECK(memcmp(a, c, sizeof(float) * M * N) == 0);
    free(x), free(w), free(b), free(wp), free(a), free(c);
}

TEST(op_matmul_packed_matches_matmul_forward) {
    const ModelOps *o = model_ops_cpu();
    REQUIRE(o->pack_weight && o->matmul_packed);
    OpCtx *cx = o->ctx_new();
    Rng r;
    rng_seed(&r, 11);
    int N = 19, IC = 96, OC = 130;
    float *x = randn(&r, (size_t)N * IC), *w = randn(&r, (size_t)OC * IC), *b = randn(&r, OC);
    float *ref = malloc(sizeof(float) * N * OC), *got = malloc(sizeof(float) * N * OC);
    void *wp = o->pack_weight(cx, NULL, w, IC, OC);
    o->matmul_forward(cx, ref, x, w, b, N, IC, OC);
    o->matmul_packed(cx, got, x, wp, b, N, IC, OC);
    double worst = 0;
    for (int i = 0; i < N * OC; i++) worst = fmax(worst, fabs(ref[i] - got[i]));
    CHECK_MSG(worst < 1e-4, "worst %.3g", worst);
    // Repacking into the same buffer takes the new weights.
    for (int i = 0; i < OC * IC; i++) w[i] = -w[i];
    CHECK(o->pack_weight(cx, wp, w, IC, OC) == wp);
    o->matmul_packed(cx, got, x, wp, NULL, N, IC, OC);
    o->matmul_forward(cx, ref, x, w, NULL, N, IC, OC);
    worst = 0;
    for (int i = 0; i < N * OC; i++) worst = fmax(worst, fabs(ref[i] - got[i]));
    CHECK_MSG(worst < 1e-4, "after repacking: worst %.3g", worst);
    o->free(cx, wp);
    o->ctx_free(cx);
    free(x), free(w), free(b), free(ref), free(got);
}
