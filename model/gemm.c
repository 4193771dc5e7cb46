// gemm.c: the packed-weight product of decode steps (see gemm.h). The
// weights were packed once into 16-column panels; the rows of x are read
// where they are, a kernel broadcasting x[r][k] from MR row streams (a
// per-call k-major copy of them cost more than it saved). A kernel keeps an
// MR x 32 (or x 16) tile of the output in registers over the whole of K,
// then stores it, with the bias, straight into the output (masked at the
// last columns).
#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/base.h"
#include "model/gemm.h"

size_t gemm_packed_floats(int K, int N) {
    return (size_t)((N + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * (size_t)K;
}

void gemm_pack(float *dst, const float *w, int K, int N) {
    int np = (N + GEMM_NR - 1) / GEMM_NR;
#pragma omp parallel for schedule(static) if ((size_t)N * K > (1u << 16))
    for (int p = 0; p < np; p++) {
        float *d = dst + (size_t)p * K * GEMM_NR;
        for (int j = 0; j < GEMM_NR; j++) {
            int n = p * GEMM_NR + j;
            const float *src = w + (size_t)n * K;
            for (int k = 0; k < K; k++) d[(size_t)k * GEMM_NR + j] = n < N ? src[k] : 0.0f;
        }
    }
}

// ---------------------------------------------------------------------------
// kernels: out (MR, 32) = x (MR, K; rows ldx apart) . panels p0 (and p1) (K, 16)

#define MR_MAX 8

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))

// MR rows against two panels (p1 != p0) or one (cols <= 16).
// An FMA waits about 4 cycles for its accumulator and two issue per cycle,
// so a tile needs 8 independent sums: under 4 rows, U = 4 / MR partial sums
// per output over interleaved k, added at the end.
AVX512 static inline __attribute__((always_inline)) void tile_avx512(const int MR, int K, const float *x, int ldx,
                                                                     const float *p0, const float *p1,
                                                                     const float *bias, float *out, int ldo,
                                                                     int cols) {
    enum { U_MAX = 4 };
    const int U = MR >= 4 ? 1 : 4 / MR;
    __m512 c0[U_MAX][MR_MAX], c1[U_MAX][MR_MAX];
    const float *xr[MR_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) xr[r] = x + (size_t)r * ldx;
#pragma GCC unroll 8
    for (int u = 0; u < U; u++)
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) c0[u][r] = c1[u][r] = _mm512_setzero_ps();
    int k = 0;
    for (; k + U <= K; k += U)
#pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            _mm_prefetch((const char *)(p0 + (size_t)(k + u + 32) * GEMM_NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(p1 + (size_t)(k + u + 32) * GEMM_NR), _MM_HINT_T0);
            __m512 w0 = _mm512_load_ps(p0 + (size_t)(k + u) * GEMM_NR);
            __m512 w1 = _mm512_load_ps(p1 + (size_t)(k + u) * GEMM_NR);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                __m512 b = _mm512_set1_ps(xr[r][k + u]);
                c0[u][r] = _mm512_fmadd_ps(b, w0, c0[u][r]);
                c1[u][r] = _mm512_fmadd_ps(b, w1, c1[u][r]);
            }
        }
    for (; k < K; k++) {
        __m512 w0 = _mm512_load_ps(p0 + (size_t)k * GEMM_NR), w1 = _mm512_load_ps(p1 + (size_t)k * GEMM_NR);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 b = _mm512_set1_ps(xr[r][k]);
            c0[0][r] = _mm512_fmadd_ps(b, w0, c0[0][r]);
            c1[0][r] = _mm512_fmadd_ps(b, w1, c1[0][r]);
        }
    }
#pragma GCC unroll 4
    for (int u = 1; u < U; u++)
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
            c0[0][r] = _mm512_add_ps(c0[0][r], c0[u][r]), c1[0][r] = _mm512_add_ps(c1[0][r], c1[u][r]);
    // Masked loads and stores: the tile's columns past `cols` are not there.
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (bias) b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(out + (size_t)r * ldo, m0, _mm512_add_ps(c0[0][r], b0));
        _mm512_mask_storeu_ps(out + (size_t)r * ldo + 16, m1, _mm512_add_ps(c1[0][r], b1));
    }
}

AVX512 static void kernel_avx512(int mr, int K, const float *x, int ldx, const float *p0, const float *p1,
                                 const float *bias, float *out, int ldo, int cols) {
    switch (mr) {
    case 8: tile_avx512(8, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 7: tile_avx512(7, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 6: tile_avx512(6, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 5: tile_avx512(5, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 4: tile_avx512(4, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 3: tile_avx512(3, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    case 2: tile_avx512(2, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    default: tile_avx512(1, K, x, ldx, p0, p1, bias, out, ldo, cols); break;
    }
}

// One panel, MR <= 6 rows: 12 accumulators of the 16 ymm registers.
AVX2 static inline __attribute__((always_inline)) void tile_avx2(const int MR, int K, const float *x, int ldx,
                                                                 const float *p0, const float *bias, float *out,
                                                                 int ldo, int cols) {
    __m256 c0[6], c1[6];
    const float *xr[6];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm256_setzero_ps(), xr[r] = x + (size_t)r * ldx;
    for (int k = 0; k < K; k++) {
        __m256 w0 = _mm256_load_ps(p0 + (size_t)k * GEMM_NR), w1 = _mm256_load_ps(p0 + (size_t)k * GEMM_NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 b = _mm256_broadcast_ss(xr[r] + k);
            c0[r] = _mm256_fmadd_ps(b, w0, c0[r]);
            c1[r] = _mm256_fmadd_ps(b, w1, c1[r]);
        }
    }
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    if (cols == 16) {
        if (bias) b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(out + (size_t)r * ldo, _mm256_add_ps(c0[r], b0));
            _mm256_storeu_ps(out + (size_t)r * ldo + 8, _mm256_add_ps(c1[r], b1));
        }
        return;
    }
    float t[16];  // the panel's last columns
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(t, c0[r]), _mm256_storeu_ps(t + 8, c1[r]);
        for (int j = 0; j < cols; j++) out[(size_t)r * ldo + j] = t[j] + (bias ? bias[j] : 0.0f);
    }
}

AVX2 static void kernel_avx2(int mr, int K, const float *x, int ldx, const float *p0, const float *p1,
                             const float *bias, float *out, int ldo, int cols) {
    switch (mr) {
    case 6: tile_avx2(6, K, x, ldx, p0, bias, out, ldo, cols); break;
    case 5: tile_avx2(5, K, x, ldx, p0, bias, out, ldo, cols); break;
    case 4: tile_avx2(4, K, x, ldx, p0, bias, out, ldo, cols); break;
    case 3: tile_avx2(3, K, x, ldx, p0, bias, out, ldo, cols); break;
    case 2: tile_avx2(2, K, x, ldx, p0, bias, out, ldo, cols); break;
    default: tile_avx2(1, K, x, ldx, p0, bias, out, ldo, cols); break;
    }
}
#endif

// Plain C (any CPU): one panel, up to 4 rows.
static void kernel_plain(int mr, int K, const float *x, int ldx, const float *p0, const float *p1,
                         const float *bias, float *out, int ldo, int cols) {
    float c[4][GEMM_NR] = {{0}};
    for (int k = 0; k < K; k++)
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < GEMM_NR; j++) c[r][j] += x[(size_t)r * ldx + k] * p0[(size_t)k * GEMM_NR + j];
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < cols; j++) out[(size_t)r * ldo + j] = c[r][j] + (bias ? bias[j] : 0.0f);
}

// A tile of mr rows and `cols` columns (at most 16 per panel) of out (ldo),
// bias (the tile's columns, or NULL) added.
typedef void (*KernelFn)(int mr, int K, const float *x, int ldx, const float *p0, const float *p1,
                         const float *bias, float *out, int ldo, int cols);
typedef struct {
    ModelIsa isa;
    KernelFn fn;
    int mr, panels;  // rows per tile, panels per tile
} Kernel;

static Kernel kernel_for(ModelIsa isa) {
#if defined(__x86_64__)
    if (isa >= MODEL_ISA_AVX512) return (Kernel){MODEL_ISA_AVX512, kernel_avx512, 8, 2};
    if (isa >= MODEL_ISA_AVX2) return (Kernel){MODEL_ISA_AVX2, kernel_avx2, 6, 1};
#endif
    return (Kernel){MODEL_ISA_SSE, kernel_plain, 4, 1};
}

static Kernel g_kernel;
static int g_kernel_set;

static Kernel current(void) {
    if (!g_kernel_set) g_kernel = kernel_for(model_cpu_isa()), g_kernel_set = 1;
    return g_kernel;
}

ModelIsa gemm_isa(void) { return current().isa; }

ModelIsa gemm_set_isa(ModelIsa isa) {
    g_kernel = kernel_for(RS_MIN(isa, model_cpu_isa())), g_kernel_set = 1;
    return g_kernel.isa;
}

// ---------------------------------------------------------------------------

// Output columns [c0, c0 + width) of every row: the tile kernels over each
// block of rows, storing into out.
static void columns(const Kernel *kn, float *out, const float *x, const float *wp, const float *bias, int M,
                    int K, int N, int c0, int width) {
    const float *p0 = wp + (size_t)(c0 / GEMM_NR) * K * GEMM_NR;
    const float *p1 = width > GEMM_NR ? p0 + (size_t)K * GEMM_NR : p0;
    int cols = RS_MIN(width, N - c0);
    for (int i0 = 0; i0 < M; i0 += kn->mr)
        kn->fn(RS_MIN(kn->mr, M - i0), K, x + (size_t)i0 * K, K, p0, p1, bias ? bias + c0 : NULL,
               out + (size_t)i0 * N + c0, N, cols);
}

void gemm_packed(float *out, const float *x, const float *wp, const float *bias, int M, int K, int N,
                 int parallel) {
    if (M <= 0 || N <= 0) return;
    Kernel kn = current();
    int np = (N + GEMM_NR - 1) / GEMM_NR, step = kn.panels;
    int par = parallel && !omp_in_parallel() && (double)M * K * N > (double)(1u << 20);
#pragma omp parallel if (par)
    {
        // Panels split evenly by thread; each thread takes them `step` at a time.
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int lo = (int)((int64_t)np * t / nt), hi = (int)((int64_t)np * (t + 1) / nt);
        for (int p = lo; p < hi; p += step)
            columns(&kn, out, x, wp, bias, M, K, N, p * GEMM_NR, RS_MIN(step, hi - p) * GEMM_NR);
    }
}
