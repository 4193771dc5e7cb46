// ops_cpu.c: the CPU backend of the op table (model/ops.h) — the
// specification every other backend is checked against.
//
// Threading: OpenBLAS is the pthread build. Running its pool and OpenMP's
// side by side oversubscribes the cores (idle OpenMP workers spin while BLAS
// threads run), so OpenBLAS is set to one thread and every op parallelises
// with OpenMP instead: a matrix product is split into row or column blocks,
// one cblas_sgemm per thread; attention runs one (batch, head) per task with
// cblas_sgemm on row blocks. Reductions that feed parameter updates (dw of
// norms, embedding rows, sumsq) use fixed partitions so results do not depend
// on thread timing: a resumed run is bit-identical.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/base.h"
#include "common/fastexp.h"
#include "model/blas.h"
#include "model/gemm.h"
#include "model/ops.h"

struct OpCtx {
    float *scratch;   // per-thread attention scratch
    size_t scratch_n;
};

// ---------------------------------------------------------------------------
// context and memory

static OpCtx *cpu_ctx_new(void) {
    // The reference also links model/blas.c, whose constructor chose the
    // GEMM kernels before main, into every program that runs these ops.
    RS_CHECK(model_blas_info() != NULL);
    openblas_set_num_threads(1);
    return xcalloc(1, sizeof(OpCtx));
}

static void cpu_ctx_free(OpCtx *cx) {
    if (!cx) return;
    free(cx->scratch);
    free(cx);
}

static float *scratch(OpCtx *cx, size_t n) {
    if (cx->scratch_n < n) {
        free(cx->scratch);
        cx->scratch = xmalloc(n * sizeof(float));
        cx->scratch_n = n;
    }
    return cx->scratch;
}

static void *cpu_alloc(OpCtx *cx, size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) RS_ABORT("out of memory (%zu bytes)", bytes);
    memset(p, 0, rounded);
    return p;
}

static void cpu_free(OpCtx *cx, void *p) { free(p); }
static void cpu_copy(OpCtx *cx, void *dst, const void *src, size_t n) {
    if (n) memmove(dst, src, n);
}
static void cpu_zero(OpCtx *cx, void *p, size_t n) {
    if (n) memset(p, 0, n);
}
static void cpu_sync(OpCtx *cx) {}

// Below these sizes an op runs on the calling thread: waking the team costs
// more than the work (decode steps, tiny test models).
#define PAR_MIN (1u << 15)        // elements
#define PAR_MIN_FLOPS (1u << 20)  // multiply-adds

// [lo, hi) of part i when n items are split into parts, in multiples of `align`.
static void split(int n, int parts, int i, int align, int *lo, int *hi) {
    int blocks = (n + align - 1) / align;
    int b0 = (int)((int64_t)blocks * i / parts), b1 = (int)((int64_t)blocks * (i + 1) / parts);
    *lo = RS_MIN(n, b0 * align);
    *hi = RS_MIN(n, b1 * align);
}

// Row-major C (M, N) = alpha * op(A) op(B) + beta * C.
static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] *= beta;
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// ---------------------------------------------------------------------------
// elementwise

// Row ops that run on every token of a decode step are built per ISA (the
// build has no -march) and vectorised with `omp simd`; clones by feature,
// not "arch=" (the resolver would check the CPU model).
#define ROW_CLONE __attribute__((target_clones("avx512f", "avx2", "default")))

ROW_CLONE static void add_span(float *out, const float *a, const float *b, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// In spans of 4096 elements, each a vectorised run.
static void cpu_add(OpCtx *cx, float *out, const float *a, const float *b, size_t n) {
    size_t span = 4096, nspan = (n + span - 1) / span;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t k = 0; k < nspan; k++) add_span(out + k * span, a + k * span, b + k * span, RS_MIN(span, n - k * span));
}

static void cpu_accumulate(OpCtx *cx, float *y, const float *x, size_t n) { cpu_add(cx, y, y, x, n); }

static void cpu_scale(OpCtx *cx, float *x, float s, size_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

// ---------------------------------------------------------------------------
// embedding

static void cpu_embedding_forward(OpCtx *cx, float *out, const int32_t *ids, const float *wte,
                                  int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN)
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * C, wte + (size_t)ids[i] * C, C * sizeof(float));
}

// Columns are split across threads, rows visited in order: no two threads
// touch one element and the sum order is fixed.
static void cpu_embedding_backward(OpCtx *cx, float *dwte, const float *dout, const int32_t *ids,
                                   int N, int C, int V) {
#pragma omp parallel if ((size_t)N * C > PAR_MIN)
    {
        int lo, hi;
        split(C, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
        for (int i = 0; i < N; i++) {
            float *d = dwte + (size_t)ids[i] * C;
            const float *g = dout + (size_t)i * C;
            for (int c = lo; c < hi; c++) d[c] += g[c];
        }
    }
}

// ---------------------------------------------------------------------------
// RMSNorm

// One row; returns its r. The sum of squares is in double.
ROW_CLONE static float rmsnorm_row(float *o, const float *x, const float *w, int C, float eps) {
    double ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
    float r = (float)(1.0 / sqrt(ss / C + eps));
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = w[c] * (x[c] * r);
    return r;
}

static void cpu_rmsnorm_forward(OpCtx *cx, float *out, float *rstd, const float *x, const float *w,
                                int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN)
    for (int i = 0; i < N; i++) {
        float r = rmsnorm_row(out + (size_t)i * C, x + (size_t)i * C, w, C, eps);
        if (rstd) rstd[i] = r;
    }
}

// y = x r w with r = (mean(x^2) + eps)^-1/2:
//   dx = r w dy - x r^3 / C * sum_j(dy_j w_j x_j);  dw = sum_rows dy x r.
static void cpu_rmsnorm_backward(OpCtx *cx, float *dx, float *dw, const float *dout,
                                 const float *x, const float *w, const float *rstd, int N, int C) {
#pragma omp parallel if ((size_t)N * C > PAR_MIN)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *xi = x + (size_t)i * C, *gi = dout + (size_t)i * C;
            float *di = dx + (size_t)i * C;
            float r = rstd[i];
            double dot = 0;
            for (int c = 0; c < C; c++) dot += (double)gi[c] * w[c] * xi[c];
            float k = (float)(dot * r * r * r / C);
            for (int c = 0; c < C; c++) di[c] += r * w[c] * gi[c] - k * xi[c];
        }
        int lo, hi;
        split(C, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
        for (int i = 0; i < N; i++) {
            const float *xi = x + (size_t)i * C, *gi = dout + (size_t)i * C;
            float r = rstd[i];
            for (int c = lo; c < hi; c++) dw[c] += gi[c] * xi[c] * r;
        }
    }
}

// ---------------------------------------------------------------------------
// matmul (nn.Linear): out (N, OC) = inp (N, IC) @ w (OC, IC)^T + bias

// Split the rows of a product across threads when there are enough of them,
// the output columns otherwise (decode steps have a handful of rows).
static int split_rows(int N, int nt) { return N >= 32 * nt; }

static void cpu_matmul_forward(OpCtx *cx, float *out, const float *inp, const float *w,
                               const float *bias, int N, int IC, int OC) {
    int by_rows = split_rows(N, omp_get_max_threads());
#pragma omp parallel if ((size_t)N * IC * OC > PAR_MIN_FLOPS)
    {
        int lo, hi, t = omp_get_thread_num(), nt = omp_get_num_threads();
        split(by_rows ? N : OC, nt, t, by_rows ? 8 : 16, &lo, &hi);
        int r0 = by_rows ? lo : 0, r1 = by_rows ? hi : N;
        int c0 = by_rows ? 0 : lo, c1 = by_rows ? OC : hi;
        if (bias)
            for (int i = r0; i < r1; i++) memcpy(out + (size_t)i * OC + c0, bias + c0, (c1 - c0) * sizeof(float));
        if (r1 > r0 && c1 > c0)
            gemm(0, 1, r1 - r0, c1 - c0, IC, 1.0f, inp + (size_t)r0 * IC, IC, w + (size_t)c0 * IC, IC,
                 bias ? 1.0f : 0.0f, out + (size_t)r0 * OC + c0, OC);
    }
}

static void *cpu_pack_weight(OpCtx *cx, void *old, const float *w, int IC, int OC) {
    float *p = old ? old : cpu_alloc(cx, gemm_packed_floats(IC, OC) * sizeof(float));
    gemm_pack(p, w, IC, OC);
    return p;
}

static void cpu_matmul_packed(OpCtx *cx, float *out, const float *inp, const void *wp, const float *bias,
                              int N, int IC, int OC) {
    gemm_packed(out, inp, wp, bias, N, IC, OC, 1);
}

static void cpu_matmul_backward(OpCtx *cx, float *dinp, float *dw, float *dbias, const float *dout,
                                const float *inp, const float *w, int N, int IC, int OC) {
    int by_rows = split_rows(N, omp_get_max_threads());
#pragma omp parallel if ((size_t)N * IC * OC > PAR_MIN_FLOPS)
    {
        int lo, hi, t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (dinp) {  // dinp (N, IC) = dout (N, OC) @ w (OC, IC)
            split(by_rows ? N : IC, nt, t, by_rows ? 8 : 16, &lo, &hi);
            if (by_rows)
                gemm(0, 0, hi - lo, IC, OC, 1.0f, dout + (size_t)lo * OC, OC, w, IC, 0.0f,
                     dinp + (size_t)lo * IC, IC);
            else
                gemm(0, 0, N, hi - lo, OC, 1.0f, dout, OC, w + lo, IC, 0.0f, dinp + lo, IC);
        }
        // dw (OC, IC) += dout^T (OC, N) @ inp (N, IC): output rows split.
        split(OC, nt, t, 16, &lo, &hi);
        if (dw)
            gemm(1, 0, hi - lo, IC, N, 1.0f, dout + lo, OC, inp, IC, 1.0f, dw + (size_t)lo * IC, IC);
        if (dbias)
            for (int i = 0; i < N; i++)
                for (int o = lo; o < hi; o++) dbias[o] += dout[(size_t)i * OC + o];
    }
}

// ---------------------------------------------------------------------------
// RoPE (rotate-half), in place on the query and key heads of qkv

// The query and key heads of one row (nh heads of hd).
ROW_CLONE static void rope_row(float *x, const float *c, const float *s, int nh, int hd, float dir) {
    int half = hd / 2;
    for (int h = 0; h < nh; h++, x += hd)
#pragma omp simd
        for (int j = 0; j < half; j++) {
            float a = x[j], b = x[j + half], sj = dir * s[j];
            x[j] = a * c[j] - b * sj;
            x[j + half] = b * c[j] + a * sj;
        }
}

static void rope_apply(float *qkv, const int32_t *pos, const float *cos, const float *sin, int N,
                       int NH, int NKV, int hd, float dir) {
    int half = hd / 2, W = (NH + 2 * NKV) * hd;
#pragma omp parallel for schedule(static) if ((size_t)N * W > PAR_MIN)
    for (int i = 0; i < N; i++)
        rope_row(qkv + (size_t)i * W, cos + (size_t)pos[i] * half, sin + (size_t)pos[i] * half, NH + NKV, hd, dir);
}

static void cpu_rope_forward(OpCtx *cx, float *qkv, const int32_t *pos, const float *cos,
                             const float *sin, int N, int NH, int NKV, int hd) {
    rope_apply(qkv, pos, cos, sin, N, NH, NKV, hd, 1.0f);
}

// The rotation is orthogonal: its transpose is the rotation by -angle.
static void cpu_rope_backward(OpCtx *cx, float *dqkv, const int32_t *pos, const float *cos,
                              const float *sin, int N, int NH, int NKV, int hd) {
    rope_apply(dqkv, pos, cos, sin, N, NH, NKV, hd, -1.0f);
}

// ---------------------------------------------------------------------------
// attention

#define ATT_BR 64  // query rows per block: bounds the score scratch to ATT_BR x T

// x[j] = e^(x[j] - shift), j < n (rs_expf, built per ISA); returns their
// sum, in double.
ROW_CLONE static double exp_shift(float *x, int n, float shift) {
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) sum += (x[j] = rs_expf(x[j] - shift));
    return sum;
}

// One block of nr query rows q (ldq) against keys/values k, v (ldkv); row r
// sees keys 0..pre-1 and st[r]..pos0+r (st NULL: from 0; pre: a shared
// prefix, 0 for none). o (ldo) gets the attention output, lse (may be NULL)
// the log-sum-exp per row. s: scratch of nr * (pos0 + nr) floats.
static void attn_block(const float *q, int ldq, const float *k, const float *v, int ldkv,
                       float *o, int ldo, float *lse, const int32_t *st, int pre, int nr, int pos0, int hd,
                       float *s) {
    int nk = pos0 + nr;
    float scale = 1.0f / sqrtf((float)hd);
    gemm(0, 1, nr, nk, hd, scale, q, ldq, k, ldkv, 0.0f, s, nk);  // (nr, nk) scores
    for (int r = 0; r < nr; r++) {
        float *sr = s + (size_t)r * nk;
        int n = pos0 + r + 1, j0 = st ? st[r] : 0, pe = RS_MIN(pre, j0);  // keys [0, pe) and [j0, n)
        float mx = -INFINITY;
        for (int j = 0; j < pe; j++) mx = sr[j] > mx ? sr[j] : mx;
        for (int j = j0; j < n; j++) mx = sr[j] > mx ? sr[j] : mx;
        double sum = exp_shift(sr, pe, mx) + exp_shift(sr + j0, n - j0, mx);
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < pe; j++) sr[j] *= inv;
        for (int j = pe; j < j0; j++) sr[j] = 0.0f;
        for (int j = j0; j < n; j++) sr[j] *= inv;
        for (int j = n; j < nk; j++) sr[j] = 0.0f;
        if (lse) lse[r] = mx + (float)log(sum);
    }
    gemm(0, 0, nr, hd, nk, 1.0f, s, nk, v, ldkv, 0.0f, o, ldo);  // (nr, hd)
}

static void cpu_attention_forward(OpCtx *cx, float *out, float *lse, const float *qkv,
                                  const int32_t *seg, const int32_t *pre, int B, int T, int NH, int NKV, int hd) {
    int W = (NH + 2 * NKV) * hd, G = NH / NKV, nt = omp_get_max_threads();
    float *scr = scratch(cx, (size_t)nt * ATT_BR * T);
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)B * NH * T * T * hd > PAR_MIN_FLOPS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kh = NH + h / G;
        const float *base = qkv + (size_t)b * T * W;
        float *s = scr + (size_t)omp_get_thread_num() * ATT_BR * T;
        for (int i0 = 0; i0 < T; i0 += ATT_BR) {
            int nr = RS_MIN(ATT_BR, T - i0);
            attn_block(base + (size_t)i0 * W + h * hd, W, base + kh * hd, base + (kh + NKV) * hd, W,
                       out + ((size_t)b * T + i0) * NH * hd + h * hd, NH * hd,
                       lse + ((size_t)b * NH + h) * T + i0, seg ? seg + (size_t)b * T + i0 : NULL,
                       seg && pre ? pre[b] : 0, nr, i0, hd, s);
        }
    }
}

// Per (b, h): recompute P = exp(S - lse) block by block, then
//   dV += P^T dO;  dP = dO V^T;  dS = P (dP - rowsum(dO o O)) / sqrt(hd);
//   dQ = dS K;  dK += dS^T Q.
// dK, dV go to per-head scratch and are summed over each GQA group after,
// so that tasks never share an output.
static void cpu_attention_backward(OpCtx *cx, float *dqkv, const float *dout, const float *qkv,
                                   const float *out, const float *lse, const int32_t *seg,
                                   const int32_t *pre, int B, int T, int NH, int NKV, int hd) {
    int W = (NH + 2 * NKV) * hd, G = NH / NKV, nt = omp_get_max_threads(), C = NH * hd;
    size_t per_thread = (size_t)2 * ATT_BR * T + ATT_BR;
    size_t head_kv = (size_t)T * hd;
    float *scr = scratch(cx, (size_t)nt * per_thread + (size_t)B * NH * 2 * head_kv);
    float *dkv = scr + (size_t)nt * per_thread;  // (B, NH, 2, T, hd)
    memset(dkv, 0, (size_t)B * NH * 2 * head_kv * sizeof(float));
    int par = (size_t)B * NH * T * T * hd > PAR_MIN_FLOPS;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)B * NH * T * T * hd > PAR_MIN_FLOPS)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kh = NH + h / G;
        const float *base = qkv + (size_t)b * T * W, *K = base + kh * hd, *V = base + (kh + NKV) * hd;
        float *dK = dkv + (size_t)bh * 2 * head_kv, *dV = dK + head_kv;
        float *P = scr + (size_t)omp_get_thread_num() * per_thread, *dP = P + (size_t)ATT_BR * T;
        float *D = dP + (size_t)ATT_BR * T;
        for (int i0 = 0; i0 < T; i0 += ATT_BR) {
            int nr = RS_MIN(ATT_BR, T - i0), nk = i0 + nr;
            const float *Q = base + (size_t)i0 * W + h * hd;
            const float *dO = dout + ((size_t)b * T + i0) * C + h * hd;
            const float *O = out + ((size_t)b * T + i0) * C + h * hd;
            const float *L = lse + ((size_t)b * NH + h) * T + i0;
            gemm(0, 1, nr, nk, hd, scale, Q, W, K, W, 0.0f, P, nk);
            for (int r = 0; r < nr; r++) {
                float *pr = P + (size_t)r * nk;
                int n = i0 + r + 1, j0 = seg ? seg[(size_t)b * T + i0 + r] : 0;
                int pe = seg && pre ? RS_MIN(pre[b], j0) : 0;  // keys [0, pe) and [j0, n)
                exp_shift(pr, pe, L[r]);
                for (int j = pe; j < j0; j++) pr[j] = 0.0f;
                exp_shift(pr + j0, n - j0, L[r]);
                for (int j = n; j < nk; j++) pr[j] = 0.0f;
                double d = 0;
                for (int c = 0; c < hd; c++) d += (double)dO[(size_t)r * C + c] * O[(size_t)r * C + c];
                D[r] = (float)d;
            }
            gemm(1, 0, nk, hd, nr, 1.0f, P, nk, dO, C, 1.0f, dV, hd);
            gemm(0, 1, nr, nk, hd, 1.0f, dO, C, V, W, 0.0f, dP, nk);
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < nk; j++) {
                    size_t ix = (size_t)r * nk + j;
                    dP[ix] = P[ix] * (dP[ix] - D[r]) * scale;
                }
            gemm(0, 0, nr, hd, nk, 1.0f, dP, nk, K, W, 0.0f, dqkv + ((size_t)b * T + i0) * W + h * hd, W);
            gemm(1, 0, nk, hd, nr, 1.0f, dP, nk, Q, W, 1.0f, dK, hd);
        }
    }
#pragma omp parallel for schedule(static) if (par)
    for (int bt = 0; bt < B * T; bt++) {
        int b = bt / T, t = bt % T;
        float *row = dqkv + (size_t)bt * W;
        for (int kh = 0; kh < NKV; kh++) {
            float *dk = row + (size_t)(NH + kh) * hd, *dv = row + (size_t)(NH + NKV + kh) * hd;
            memset(dk, 0, hd * sizeof(float));
            memset(dv, 0, hd * sizeof(float));
            for (int g = 0; g < G; g++) {
                const float *src = dkv + ((size_t)(b * NH + kh * G + g) * 2 * T + t) * hd;
                for (int c = 0; c < hd; c++) dk[c] += src[c], dv[c] += src[head_kv + c];
            }
        }
    }
}

// float32 -> bfloat16, rounded to nearest even (NaN stays NaN: its top half
// keeps a mantissa bit set).
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t nan = (uint16_t)((u >> 16) | 0x40), rounded = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

ROW_CLONE static void to_bf16_row(uint16_t *o, const float *x, int n) {
#pragma omp simd
    for (int c = 0; c < n; c++) o[c] = f32_to_bf16(x[c]);
}

static void cpu_kv_write(OpCtx *cx, void *kcache, void *vcache, const float *qkv,
                         const int32_t *rows, int N, int NH, int NKV, int hd, int bf16) {
    int W = (NH + 2 * NKV) * hd, kvw = NKV * hd;
#pragma omp parallel for schedule(static) if ((size_t)N * kvw > PAR_MIN)
    for (int i = 0; i < N; i++) {
        size_t at = (size_t)rows[i] * kvw;
        const float *k = qkv + (size_t)i * W + (size_t)NH * hd, *v = k + kvw;
        if (!bf16) {
            memcpy((float *)kcache + at, k, kvw * sizeof(float));
            memcpy((float *)vcache + at, v, kvw * sizeof(float));
            continue;
        }
        uint16_t *kb = (uint16_t *)kcache + at, *vb = (uint16_t *)vcache + at;
        to_bf16_row(kb, k, kvw), to_bf16_row(vb, v, kvw);
    }
}

__attribute__((always_inline)) static inline float bf16_to_f32(uint16_t b) {
    union {
        uint32_t u;
        float f;
    } x = {.u = (uint32_t)b << 16};
    return x.f;
}

// Pool row `row` (n floats from element off) as float32: in place for a
// float32 pool, widened into buf (n) for a bfloat16 one.
static inline const float *pool_row(const void *pool, int32_t row, int kvw, int off, int n, int bf16,
                                    float *buf) {
    size_t at = (size_t)row * kvw + off;
    if (!bf16) return (const float *)pool + at;
    const uint16_t *b = (const uint16_t *)pool + at;
    for (int c = 0; c < n; c++) buf[c] = bf16_to_f32(b[c]);
    return buf;
}

// q (n) . pool[at .. at + n), and o (n) += p * pool[at .. at + n): the
// direct path's two loops, widening bf16 in registers. The dot works on
// 16-float vectors (GCC's generic vectors: one AVX-512 register in that
// clone, narrower ones elsewhere) and adds the lanes by halving shuffles: an
// "omp simd reduction" spilled its lanes and summed them one by one, a
// quarter of the decode attention's time.
typedef float V16 __attribute__((vector_size(64)));
typedef int32_t I16 __attribute__((vector_size(64)));
typedef uint16_t H16 __attribute__((vector_size(32)));

// *v = 16 pool elements from at, as floats.
__attribute__((always_inline)) static inline void load16(V16 *v, const void *pool, size_t at, int bf16) {
    if (bf16) {
        H16 h;
        memcpy(&h, (const uint16_t *)pool + at, sizeof h);
        I16 u = __builtin_convertvector(h, I16) << 16;
        memcpy(v, &u, sizeof *v);
    } else {
        memcpy(v, (const float *)pool + at, sizeof *v);
    }
}

__attribute__((always_inline)) static inline float dot_pool(const float *q, const void *pool, size_t at, int n,
                                                            int bf16) {
    V16 acc = {0}, qv, kv;
    int c = 0;
    for (; c + 16 <= n; c += 16) {
        memcpy(&qv, q + c, sizeof qv);
        load16(&kv, pool, at + c, bf16);
        acc += qv * kv;
    }
    acc += __builtin_shuffle(acc, (I16){8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
    acc += __builtin_shuffle(acc, (I16){4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3});
    acc += __builtin_shuffle(acc, (I16){2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1});
    float d = acc[0] + acc[1];
    for (; c < n; c++)
        d += q[c] * (bf16 ? bf16_to_f32(((const uint16_t *)pool)[at + c]) : ((const float *)pool)[at + c]);
    return d;
}

// out[i] = scale * (the sum of a[i]'s 16 lanes), i < 4: the four sums by
// one transposing tree (8 shuffles for four, against 12 one at a time).
__attribute__((always_inline)) static inline void sum4(const V16 *a, float *out, float scale) {
    const I16 lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const I16 hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    V16 ab = __builtin_shuffle(a[0], a[1], lo) + __builtin_shuffle(a[0], a[1], hi);  // a0 in 0-7, a1 in 8-15
    V16 cd = __builtin_shuffle(a[2], a[3], lo) + __builtin_shuffle(a[2], a[3], hi);
    V16 x = __builtin_shuffle(ab, cd, (I16){0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27}) +
            __builtin_shuffle(ab, cd, (I16){4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31});
    x += __builtin_shuffle(x, (I16){2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13});
    x += __builtin_shuffle(x, (I16){1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14});
    for (int i = 0; i < 4; i++) out[i] = x[4 * i] * scale;
}

__attribute__((always_inline)) static inline void axpy_pool(float *o, float p, const void *pool, size_t at, int n,
                                                            int bf16) {
    if (bf16) {
        const uint16_t *v = (const uint16_t *)pool + at;
#pragma omp simd
        for (int c = 0; c < n; c++) o[c] += p * bf16_to_f32(v[c]);
    } else {
        const float *v = (const float *)pool + at;
#pragma omp simd
        for (int c = 0; c < n; c++) o[c] += p * v[c];
    }
}

// The whole row: rows jump between blocks, where the hardware's stream
// prefetch loses track. l2: into L2 only (prefetcht1: L2 on Zen 4, L2 and
// up on Intel), else into L1 as well.
__attribute__((always_inline)) static inline void prefetch_row(const void *pool, int32_t row, int kvw, int bf16,
                                                               const int l2) {
    size_t bytes = (size_t)kvw * (bf16 ? 2 : 4);
    const char *p = (const char *)pool + (size_t)row * bytes;
    for (size_t off = 0; off < bytes; off += 64)
        if (l2) __builtin_prefetch(p + off, 0, 2);
        else __builtin_prefetch(p + off, 0, 3);
}

static size_t decode_work(const int32_t *seg_pos, const int32_t *seg_len, int nseg) {
    size_t w = 0;
    for (int s = 0; s < nseg; s++) w += (size_t)seg_len[s] * (seg_pos[s] + seg_len[s]);
    return w;
}

// Query rows per segment up to which attention reads the pool rows in place
// (dot products); longer segments (prefill) gather their keys and values
// into contiguous scratch and use attn_block's matrix products.
#define DECODE_DIRECT_ROWS 4

// Rows ahead that the direct path asks L2 for (keys and values), running on
// into the next segment's rows at the end of this one's: the next segment is
// the one a split decode's share (a thread alone) takes next, and its first
// rows would otherwise wait on memory. Measured on a Zen 4 VM at batch 64:
// attention time -10% (64 new tokens) to -14% (256) against none.
#define ATTN_L2_AHEAD 32

// Row r of q (at q + r * ldq), every head, against the keys/values of
// positions 0..pos0+r, pool rows prow[j]; o (ldo) gets the output. Heads are
// done together so that each position's row (all NKV heads, kvw floats side
// by side) is read once from memory: the first head's pass prefetches whole
// rows (4 ahead into L1, ATTN_L2_AHEAD ahead into L2, on into the next
// segment's rows pnext[0..nnext)) and the later heads find them in cache.
// The loop streams the cache, which is far larger than the caches at batch
// 32-64, and waits on memory (ARCHITECTURE.md, "Decoding on the CPU"). s:
// scratch of NH * (pos0 + nr) + NH floats. Sums are in registers, four keys
// at a time, with FMA contracted (ISO C mode turns contraction off
// elsewhere).
__attribute__((always_inline)) static inline void attn_rows(const int bf16, const float *q, int ldq, const void *kc,
                                                           const void *vc, int kvw, const int32_t *prow, float *o,
                                                           int ldo, int nr, int pos0, int NH, int G, int hd,
                                                           const int32_t *pnext, int nnext, float *s) {
    float scale = 1.0f / sqrtf((float)hd), *inv = s + (size_t)NH * (pos0 + nr);
    for (int r = 0; r < nr; r++) {
        const float *qr = q + (size_t)r * ldq;
        int n = pos0 + r + 1;
        for (int h = 0; h < NH; h++) {  // scores (NH, n), head by head
            const float *qh = qr + (size_t)h * hd;
            float *sh = s + (size_t)h * n;
            size_t off = (size_t)(h / G) * hd;
            int j = 0;
            for (; hd % 16 == 0 && j + 4 <= n; j += 4) {
                if (h == 0)
                    for (int i = 4; i < 8 && j + i < n; i++) prefetch_row(kc, prow[j + i], kvw, bf16, 0);
                for (int i = ATTN_L2_AHEAD; h == 0 && r == 0 && i < ATTN_L2_AHEAD + 4; i++) {
                    int at = j + i;  // this segment's rows, or the next's (a later query row finds them there)
                    const int32_t *t = at < n ? prow : pnext;
                    if (at >= n && (at -= n) >= nnext) break;
                    prefetch_row(kc, t[at], kvw, bf16, 1), prefetch_row(vc, t[at], kvw, bf16, 1);
                }
                size_t r0 = (size_t)prow[j] * kvw + off, r1 = (size_t)prow[j + 1] * kvw + off;
                size_t r2 = (size_t)prow[j + 2] * kvw + off, r3 = (size_t)prow[j + 3] * kvw + off;
                V16 a[4] = {{0}, {0}, {0}, {0}}, qv, k0, k1, k2, k3;
                for (int c = 0; c < hd; c += 16) {
                    memcpy(&qv, qh + c, sizeof qv);
                    load16(&k0, kc, r0 + c, bf16), load16(&k1, kc, r1 + c, bf16);
                    load16(&k2, kc, r2 + c, bf16), load16(&k3, kc, r3 + c, bf16);
                    a[0] += qv * k0, a[1] += qv * k1, a[2] += qv * k2, a[3] += qv * k3;
                }
                sum4(a, sh + j, scale);
            }
            for (; j < n; j++) sh[j] = dot_pool(qh, kc, (size_t)prow[j] * kvw + off, hd, bf16) * scale;
        }
        for (int h = 0; h < NH; h++) {  // softmax per head, left unnormalised
            float *sh = s + (size_t)h * n, mx = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) mx = sh[j] > mx ? sh[j] : mx;
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < n; j++) sum += (sh[j] = rs_expf(sh[j] - mx));
            inv[h] = 1.0f / sum;
        }
        // Values head by head, 64 columns at a time summed in registers,
        // scaled by 1/sum once at the end.
        float *orow = o + (size_t)r * ldo;
        for (int h = 0; h < NH; h++) {
            const float *sh = s + (size_t)h * n;
            float *oh = orow + (size_t)h * hd;
            size_t off = (size_t)(h / G) * hd;
            int c0 = 0;
            for (; c0 + 64 <= hd; c0 += 64) {
                V16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
                for (int j = 0; j < n; j++) {
                    if (h == 0 && c0 == 0 && j + 4 < n) prefetch_row(vc, prow[j + 4], kvw, bf16, 0);
                    size_t at = (size_t)prow[j] * kvw + off + c0;
                    float p = sh[j];
                    load16(&v0, vc, at, bf16), load16(&v1, vc, at + 16, bf16);
                    load16(&v2, vc, at + 32, bf16), load16(&v3, vc, at + 48, bf16);
                    a0 += p * v0, a1 += p * v1, a2 += p * v2, a3 += p * v3;
                }
                a0 *= inv[h], a1 *= inv[h], a2 *= inv[h], a3 *= inv[h];
                memcpy(oh + c0, &a0, 64), memcpy(oh + c0 + 16, &a1, 64);
                memcpy(oh + c0 + 32, &a2, 64), memcpy(oh + c0 + 48, &a3, 64);
            }
            if (c0 < hd) {  // a head dimension that is not a multiple of 64
                memset(oh + c0, 0, (size_t)(hd - c0) * sizeof(float));
                for (int j = 0; j < n; j++)
                    axpy_pool(oh + c0, sh[j] * inv[h], vc, (size_t)prow[j] * kvw + off + c0, hd - c0, bf16);
            }
        }
    }
}

// attn_rows for each cache type, built for AVX-512, AVX2 and baseline,
// picked at load time (the build has no -march). (Clones by feature, not
// "arch=": the resolver would check the CPU model.)
#define ATTN_ROWS_ARGS                                                                                          \
    const float *q, int ldq, const void *kc, const void *vc, int kvw, const int32_t *prow, float *o, int ldo, \
        int nr, int pos0, int NH, int G, int hd, const int32_t *pnext, int nnext, float *s
#define ATTN_ROWS_CLONE __attribute__((target_clones("avx512f", "avx2,fma", "default"), optimize("fp-contract=fast")))
ATTN_ROWS_CLONE static void attn_rows_f32(ATTN_ROWS_ARGS) {
    attn_rows(0, q, ldq, kc, vc, kvw, prow, o, ldo, nr, pos0, NH, G, hd, pnext, nnext, s);
}
ATTN_ROWS_CLONE static void attn_rows_bf16(ATTN_ROWS_ARGS) {
    attn_rows(1, q, ldq, kc, vc, kvw, prow, o, ldo, nr, pos0, NH, G, hd, pnext, nnext, s);
}

static void cpu_attention_decode(OpCtx *cx, float *out, const float *qkv, const void *kcache,
                                 const void *vcache, const int32_t *table, const int32_t *seg_slot,
                                 const int32_t *seg_pos, const int32_t *seg_row,
                                 const int32_t *seg_len, int nseg, int NH, int NKV, int hd,
                                 int max_len, int bf16) {
    int W = (NH + 2 * NKV) * hd, G = NH / NKV, kvw = NKV * hd, nt = omp_get_max_threads();
    // Scores (a row block's, or the direct path's NH rows, NH sums and one
    // widened row), then gathered K and V.
    size_t sc = RS_MAX((size_t)ATT_BR * max_len, (size_t)NH * max_len + NH + kvw);
    size_t per_thread = sc + (size_t)2 * max_len * hd;
    float *scr = scratch(cx, (size_t)nt * per_thread);
    // Tasks are (segment, head); a short segment's first task does all its heads.
#pragma omp parallel for schedule(dynamic, 1) if (decode_work(seg_pos, seg_len, nseg) * NH * hd > PAR_MIN_FLOPS)
    for (int sh = 0; sh < nseg * NH; sh++) {
        int sg = sh / NH, h = sh % NH, nk = seg_pos[sg] + seg_len[sg];
        const int32_t *prow = table + (size_t)seg_slot[sg] * max_len;
        float *s = scr + (size_t)omp_get_thread_num() * per_thread;
        if (seg_len[sg] <= DECODE_DIRECT_ROWS) {
            if (h > 0) continue;
            int nx = sg + 1 < nseg && seg_len[sg + 1] <= DECODE_DIRECT_ROWS ? seg_pos[sg + 1] + seg_len[sg + 1] : 0;
            const int32_t *pnext = nx ? table + (size_t)seg_slot[sg + 1] * max_len : NULL;
            (bf16 ? attn_rows_bf16 : attn_rows_f32)(qkv + (size_t)seg_row[sg] * W, W, kcache, vcache, kvw, prow,
                                                     out + (size_t)seg_row[sg] * NH * hd, NH * hd, seg_len[sg],
                                                     seg_pos[sg], NH, G, hd, pnext, nx, s);
            continue;
        }
        const float *q = qkv + (size_t)seg_row[sg] * W + h * hd;
        float *o = out + (size_t)seg_row[sg] * NH * hd + h * hd;
        float *K = s + sc, *V = K + (size_t)max_len * hd;
        for (int j = 0; j < nk; j++) {  // this head's keys and values, contiguous float32
            const float *k = pool_row(kcache, prow[j], kvw, (h / G) * hd, hd, bf16, K + (size_t)j * hd);
            const float *v = pool_row(vcache, prow[j], kvw, (h / G) * hd, hd, bf16, V + (size_t)j * hd);
            if (!bf16)
                memcpy(K + (size_t)j * hd, k, hd * sizeof(float)), memcpy(V + (size_t)j * hd, v, hd * sizeof(float));
        }
        for (int i0 = 0; i0 < seg_len[sg]; i0 += ATT_BR) {
            int nr = RS_MIN(ATT_BR, seg_len[sg] - i0);
            attn_block(q + (size_t)i0 * W, W, K, V, hd, o + (size_t)i0 * NH * hd, NH * hd, NULL, NULL, 0, nr,
                       seg_pos[sg] + i0, hd, s);
        }
    }
}

// ---------------------------------------------------------------------------
// SwiGLU

// Rows are vectorised with rs_expf (common/fastexp.h), built per ISA.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void swiglu_row(float *o, const float *g, const float *u, int F) {
#pragma omp simd
    for (int j = 0; j < F; j++) o[j] = g[j] / (1.0f + rs_expf(-g[j])) * u[j];
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void swiglu_row_backward(float *dg, float *du, const float *d, const float *g, const float *u, int F) {
#pragma omp simd
    for (int j = 0; j < F; j++) {
        float sig = 1.0f / (1.0f + rs_expf(-g[j]));
        du[j] = d[j] * g[j] * sig;
        dg[j] = d[j] * u[j] * sig * (1.0f + g[j] * (1.0f - sig));
    }
}

static void cpu_swiglu_forward(OpCtx *cx, float *out, const float *gu, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F;
        swiglu_row(out + (size_t)i * F, g, g + F, F);
    }
}

static void cpu_swiglu_backward(OpCtx *cx, float *dgu, const float *dout, const float *gu, int N,
                                int F) {
#pragma omp parallel for schedule(static) if ((size_t)N * F > PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *g = gu + (size_t)i * 2 * F;
        float *dg = dgu + (size_t)i * 2 * F;
        swiglu_row_backward(dg, dg + F, dout + (size_t)i * F, g, g + F, F);
    }
}

// ---------------------------------------------------------------------------
// log-probabilities

// Over one row of logits z (V): sum of e = exp(x), x = z * it - mx, and of
// e * x (for the entropy, log(sum) - sum(e x) / sum: x <= 0, so no
// cancellation): float within blocks of 128, double across, so the sums are
// as good unvectorised (a sanitizer build) as in vector lanes.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void softmax_sums(const float *z, int V, float it, float mx, double *sum, double *px) {
    double S = 0, P = 0;
    for (int j0 = 0; j0 < V; j0 += 128) {
        int j1 = RS_MIN(V, j0 + 128);
        float s = 0, p = 0;
#pragma omp simd reduction(+ : s, p)
        for (int j = j0; j < j1; j++) {
            float x = z[j] * it - mx, e = rs_expf(x);
            s += e;
            p += e * x;
        }
        S += s, P += p;
    }
    *sum = S, *px = P;
}

// z = -g softmax(z * it) (l: the row's log-sum-exp).
__attribute__((target_clones("avx512f", "avx2", "default")))
static void softmax_grad_row(float *z, int V, float it, float l, float g) {
#pragma omp simd
    for (int j = 0; j < V; j++) z[j] = -g * rs_expf(z[j] * it - l);
}

static void cpu_logprob_forward(OpCtx *cx, float *logp, float *lse, float *entropy,
                                const float *logits, const int32_t *targets, int n, int V,
                                float inv_temp) {
#pragma omp parallel for schedule(static) if ((size_t)n * V > PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * V;
        float mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = z[j] * inv_temp > mx ? z[j] * inv_temp : mx;
        double sum, px;
        softmax_sums(z, V, inv_temp, mx, &sum, &px);
        double l = mx + log(sum);
        lse[i] = (float)l;
        if (entropy) entropy[i] = (float)(log(sum) - px / sum);
        if (logp) logp[i] = targets[i] >= 0 ? (float)(z[targets[i]] * inv_temp - l) : 0.0f;
    }
}

static void cpu_logprob_backward(OpCtx *cx, float *logits, const float *lse, const int32_t *targets,
                                 const float *dlogp, int n, int V, float inv_temp) {
#pragma omp parallel for schedule(static) if ((size_t)n * V > PAR_MIN)
    for (int i = 0; i < n; i++) {
        float *z = logits + (size_t)i * V;
        if (targets[i] < 0 || dlogp[i] == 0.0f) {
            memset(z, 0, V * sizeof(float));
            continue;
        }
        float g = dlogp[i] * inv_temp, l = lse[i];
        softmax_grad_row(z, V, inv_temp, l, g);
        z[targets[i]] += g;
    }
}

// ---------------------------------------------------------------------------
// optimizer

#define SUMSQ_BLOCK 65536  // fixed blocks: the sum's rounding is independent of threads

static double cpu_sumsq(OpCtx *cx, const float *g, size_t n) {
    size_t nb = (n + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    double *part = xmalloc((nb ? nb : 1) * sizeof(double));
#pragma omp parallel for schedule(static) if (nb > 1)
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * SUMSQ_BLOCK, hi = RS_MIN(n, lo + SUMSQ_BLOCK);
        double s = 0;
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
        part[b] = s;
    }
    double total = 0;
    for (size_t b = 0; b < nb; b++) total += part[b];
    free(part);
    return total;
}

// torch.optim.AdamW (foreach=False) in the same operation order.
static void cpu_adamw_update(OpCtx *cx, float *p, const float *g, float *m, float *v, size_t n,
                             float lr, float b1, float b2, float eps, float wd, float grad_scale,
                             int64_t t) {
    // Bias corrections in double, as torch computes them on Python floats.
    double bc1 = 1.0 - pow(b1, (double)t);
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
    float step = (float)(lr / bc1), decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        p[i] *= decay;
        m[i] += (gi - m[i]) * (1.0f - b1);
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        p[i] -= step * (m[i] / (sqrtf(v[i]) / bc2_sqrt + eps));
    }
}

// ---------------------------------------------------------------------------

static const ModelOps CPU_OPS = {
    .name = "cpu",
    .split_decode = 1,
    .host_memory = 1,
    .ctx_new = cpu_ctx_new,
    .ctx_free = cpu_ctx_free,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .add = cpu_add,
    .accumulate = cpu_accumulate,
    .scale = cpu_scale,
    .embedding_forward = cpu_embedding_forward,
    .embedding_backward = cpu_embedding_backward,
    .rmsnorm_forward = cpu_rmsnorm_forward,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,
    .rope_forward = cpu_rope_forward,
    .rope_backward = cpu_rope_backward,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .kv_write = cpu_kv_write,
    .attention_decode = cpu_attention_decode,
    .swiglu_forward = cpu_swiglu_forward,
    .swiglu_backward = cpu_swiglu_backward,
    .logprob_forward = cpu_logprob_forward,
    .logprob_backward = cpu_logprob_backward,
    .sumsq = cpu_sumsq,
    .adamw_update = cpu_adamw_update,
    .pack_weight = cpu_pack_weight,
    .matmul_packed = cpu_matmul_packed,
};

const ModelOps *model_ops_cpu(void) { return &CPU_OPS; }
