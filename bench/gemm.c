// gemm.c: the products of one decode step of the `small` preset (C 320,
// F 864, V 4096) on one thread, at the rows a thread gets at batch 1, 8, 32
// and 64 split over two threads: the packed-weight kernel (model/gemm.h)
// against cblas_sgemm with the weight as it is (what the op did before, and
// what matmul_forward does), in the same run. Prints GFLOP/s, the share of
// the one-thread sgemm peak, and the speedup.
//   make build/bench/gemm && build/bench/gemm
#include <cblas.h>
#include <omp.h>
#include <stdio.h>

#include "common/base.h"
#include "common/rng.h"
#include "model/blas.h"
#include "model/gemm.h"

static double now(void) { return omp_get_wtime(); }

// Seconds per call of f over about 0.2 s (best of 3 such runs).
#define TIME_IT(out, body)                                          \
    do {                                                            \
        double best = 1e30;                                         \
        for (int rep = 0; rep < 3; rep++) {                         \
            int n = 0;                                              \
            double t0 = now();                                      \
            do body while (++n < 5 || now() - t0 < 0.2);            \
            best = RS_MIN(best, (now() - t0) / n);                  \
        }                                                           \
        out = best;                                                 \
    } while (0)

int main(void) {
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    const ModelBlasInfo *bi = model_blas_info();
    double peak = model_cpu_peak_flops(0.5);
    printf("decode products of the small preset, one thread: packed (%s kernel) vs cblas_sgemm (%s)\n",
           model_isa_name(gemm_isa()), bi->core);
    printf("one-thread sgemm peak %.1f GFLOP/s\n\n", peak / 1e9);
    static const struct {
        const char *name;
        int K, N;
    } shapes[] = {{"qkv", 320, 960}, {"o", 320, 320}, {"gate|up", 320, 1728}, {"down", 864, 320}, {"head", 320, 4096}};
    static const int rows[] = {1, 4, 16, 32};
    printf("%-8s %5s %5s %5s %12s %12s %9s %9s\n", "product", "rows", "K", "N", "cblas GF/s", "packed GF/s",
           "of peak", "speedup");
    Rng r;
    rng_seed(&r, 1);
    double step_blas[4] = {0}, step_packed[4] = {0};
    for (size_t s = 0; s < RS_ARRAY_LEN(shapes); s++) {
        int K = shapes[s].K, N = shapes[s].N;
        float *w = xmalloc(sizeof(float) * (size_t)N * K), *x = xmalloc(sizeof(float) * 64 * (size_t)K);
        float *out = xmalloc(sizeof(float) * 64 * (size_t)N), *wp = NULL;
        for (size_t i = 0; i < (size_t)N * K; i++) w[i] = (float)rng_double(&r) - 0.5f;
        for (size_t i = 0; i < 64 * (size_t)K; i++) x[i] = (float)rng_double(&r) - 0.5f;
        RS_CHECK(posix_memalign((void **)&wp, 64, sizeof(float) * gemm_packed_floats(K, N)) == 0);
        gemm_pack(wp, w, K, N);
        for (size_t j = 0; j < RS_ARRAY_LEN(rows); j++) {
            int M = rows[j];
            double tb, tp, flops = 2.0 * M * K * N;
            TIME_IT(tb, { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, out, N); });
            TIME_IT(tp, { gemm_packed(out, x, wp, NULL, M, K, N, 0); });
            step_blas[j] += tb, step_packed[j] += tp;
            printf("%-8s %5d %5d %5d %12.1f %12.1f %8.1f%% %8.2fx\n", shapes[s].name, M, K, N, flops / tb / 1e9,
                   flops / tp / 1e9, 100 * flops / tp / peak, tb / tp);
        }
        free(w), free(x), free(out), free(wp);
    }
    printf("\none layer's products plus the head, per rows of a thread (the step's matrix work):\n");
    for (size_t j = 0; j < RS_ARRAY_LEN(rows); j++)
        printf("  %2d rows: cblas %.1f us, packed %.1f us (%.2fx)\n", rows[j], 1e6 * step_blas[j],
               1e6 * step_packed[j], step_blas[j] / step_packed[j]);
    return 0;
}
