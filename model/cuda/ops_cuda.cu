// ops_cuda.cu: the CUDA backend of the op table (model/ops.h). Same ops,
// same names, same argument order as model/ops_cpu.c, which stays the
// specification: tests/model/test_ops.c runs every op of this table against
// the same references when a GPU is present (ARCHITECTURE.md, "CUDA backend").
//
// Precision: tensors stay float32 (the table's convention: fp32 master
// weights, moments and activations). Matrix products convert both operands
// to bf16 and run on cuBLASLt with fp32 accumulation and fp32 output
// (RS_CUDA_FP32=1 in the environment runs them in plain fp32 instead, to
// separate rounding from bugs). Attention, norms, RoPE, SwiGLU, log-probs
// and AdamW compute in fp32 with the CPU op's formulas.
//
// Determinism: reductions that feed parameters (embedding, norm weight and
// bias gradients, sumsq) use fixed partitions and a fixed summation order,
// and attention's dK/dV are summed over the GQA group inside one thread, so
// a run repeats bit for bit on one GPU (cuBLASLt picks one algorithm per
// shape and the choice is cached).
//
// Errors: ops return nothing (ops.h), so the context keeps the first CUDA
// or cuBLASLt failure, with the kernel's name and cudaGetErrorString, and
// ModelOps.error hands it to the model, which returns it up (model_check).
//
// Memory: every allocation of a context comes from its arena (one per
// model, since a model owns its context): freed blocks are kept and reused,
// so after the first step nothing reaches cudaMalloc.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <dlfcn.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cuda/cuda.h"

#ifndef RS_CUDA_ARCH
#define RS_CUDA_ARCH 90
#endif

#define FULL 0xffffffffu
#define NW 8   // warps per block in the attention kernels: query (or key) rows per block
#define BC 32  // keys (or queries) per shared-memory tile: one per lane

// ---------------------------------------------------------------------------
// cuBLASLt, loaded at the first context rather than linked: linked, the
// library alone makes every process ~200 MB resident at start, GPU or not,
// and the RL command forks its verifier farm while still small
// (ARCHITECTURE.md, "Grading").

#define LT_FNS(X)                                                                                              \
    X(cublasLtCreate) X(cublasLtDestroy) X(cublasLtGetStatusName) X(cublasLtGetStatusString)                  \
    X(cublasLtMatmulDescCreate) X(cublasLtMatmulDescSetAttribute) X(cublasLtMatmulDescDestroy)                \
    X(cublasLtMatrixLayoutCreate) X(cublasLtMatrixLayoutDestroy) X(cublasLtMatmulPreferenceCreate)            \
    X(cublasLtMatmulPreferenceSetAttribute) X(cublasLtMatmulPreferenceDestroy) X(cublasLtMatmulAlgoGetHeuristic) \
    X(cublasLtMatmul)
#define LT_MEMBER(f) decltype(&::f) f;
static struct {
    LT_FNS(LT_MEMBER)
} lt;
static int lt_state;  // 0 not tried, 1 loaded, -1 failed
static char lt_why[256];

#ifndef RS_CUDA_LIB
#define RS_CUDA_LIB "/usr/local/cuda/lib64"
#endif
#define RS_STR2(x) #x
#define RS_STR(x) RS_STR2(x)

// NULL once cuBLASLt is bound; else why it is not.
static const char *lt_load(void) {
    if (lt_state) return lt_state > 0 ? NULL : lt_why;
#ifdef RS_CUDA_EMU  // tests/model/cuda_emu: the emulator's cuBLASLt
#define LT_BIND(f) lt.f = ::f;
    LT_FNS(LT_BIND)
    return lt_state = 1, (const char *)NULL;
#else
    const char *names[] = {RS_CUDA_LIB "/libcublasLt.so." RS_STR(CUBLAS_VER_MAJOR),
                           "libcublasLt.so." RS_STR(CUBLAS_VER_MAJOR), "libcublasLt.so"};
    void *h = NULL;
    for (int i = 0; i < 3 && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(lt_why, sizeof lt_why, "cannot load %s: %s", names[1], dlerror());
        return lt_state = -1, lt_why;
    }
#define LT_SYM(f)                                                                               \
    if (!(*(void **)&lt.f = dlsym(h, #f))) {                                                    \
        snprintf(lt_why, sizeof lt_why, "%s: no symbol %s", names[1], #f);                      \
        return lt_state = -1, lt_why;                                                            \
    }
    LT_FNS(LT_SYM)
    return lt_state = 1, (const char *)NULL;
#endif
}

// ---------------------------------------------------------------------------
// context, arena, errors

typedef struct {
    char *p;
    size_t bytes;
    int live;
} Block;

typedef struct {
    uint64_t key[8];
    cublasLtMatmulAlgo_t algo;
} AlgoEntry;

#define ALGO_CACHE 256
enum { SLOT_A, SLOT_B, SLOT_C, SLOT_RED, SLOT_DRED, SLOT_ATT, NSLOTS };

struct OpCtx {
    int device;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *ws;  // cuBLASLt workspace
    size_t ws_bytes;
    int bf16;  // matmul operands in bf16 (default) or fp32 (RS_CUDA_FP32=1)
    Block *blocks;
    int nblocks, cap;
    void *slot[NSLOTS];  // internal scratch (staging, reduction partials), grown on demand
    size_t slot_bytes[NSLOTS];
    AlgoEntry algos[ALGO_CACHE];
    int nalgos;
    const char *last;  // the last kernel launched: names an asynchronous failure
    char err[512];     // the first failure; "" while none
};

static int g_device = 0;

static void fail(OpCtx *cx, const char *what, const char *detail) {
    if (cx->err[0]) return;  // keep the first: later ones are usually its consequences
    snprintf(cx->err, sizeof cx->err, "CUDA op %s on device %d failed: %s", what, cx->device, detail);
}

// 0, or -1 after recording e against `what`.
static int cuda_ok(OpCtx *cx, const char *what, cudaError_t e) {
    if (e == cudaSuccess) return 0;
    char d[256];
    snprintf(d, sizeof d, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    fail(cx, what, d);
    return -1;
}

// After every kernel launch: a bad configuration shows at once; a fault
// inside the kernel shows at the next synchronising call, named by cx->last.
static void launched(OpCtx *cx, const char *kernel) {
    cx->last = kernel;
    cuda_ok(cx, kernel, cudaGetLastError());
}

// A synchronising call: an earlier kernel's fault surfaces here.
static void synced(OpCtx *cx, const char *what, cudaError_t e) {
    if (e == cudaSuccess) return;
    char w[160];
    snprintf(w, sizeof w, "%s (after kernel %s)", what, cx->last ? cx->last : "none");
    cuda_ok(cx, w, e);
}

static void die_oom(OpCtx *cx, size_t bytes, cudaError_t e) {
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    fprintf(stderr, "fatal: CUDA device %d: cannot allocate %zu bytes (%s); %.2f GiB free of %.2f GiB\n",
            cx->device, bytes, cudaGetErrorString(e), fr / 1073741824.0, tot / 1073741824.0);
    abort();  // ops.h: alloc aborts on out-of-memory, as the CPU table does
}

static void arena_release_free(OpCtx *cx) {
    int k = 0;
    for (int i = 0; i < cx->nblocks; i++) {
        if (cx->blocks[i].live) cx->blocks[k++] = cx->blocks[i];
        else cudaFree(cx->blocks[i].p);
    }
    cx->nblocks = k;
}

// A block of at least `bytes`: a free one within 2x of the size, else a
// fresh cudaMalloc (only while buffers still grow: the first steps).
static void *arena_get(OpCtx *cx, size_t bytes) {
    size_t gran = bytes >= ((size_t)1 << 20) ? ((size_t)2 << 20) : 512;
    size_t sz = (bytes + gran - 1) / gran * gran;
    if (sz == 0) sz = gran;
    int best = -1;
    for (int i = 0; i < cx->nblocks; i++) {
        Block *b = &cx->blocks[i];
        if (!b->live && b->bytes >= sz && b->bytes <= 2 * sz && (best < 0 || b->bytes < cx->blocks[best].bytes))
            best = i;
    }
    if (best >= 0) {
        cx->blocks[best].live = 1;
        return cx->blocks[best].p;
    }
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, sz);
    if (e != cudaSuccess) {  // give back the cached blocks and try once more
        cudaGetLastError();
        cudaStreamSynchronize(cx->stream);
        arena_release_free(cx);
        e = cudaMalloc(&p, sz);
        if (e != cudaSuccess) die_oom(cx, bytes, e);
    }
    if (cx->nblocks == cx->cap) {
        cx->cap = cx->cap ? 2 * cx->cap : 64;
        cx->blocks = (Block *)realloc(cx->blocks, (size_t)cx->cap * sizeof(Block));
        if (!cx->blocks) abort();
    }
    cx->blocks[cx->nblocks++] = (Block){(char *)p, sz, 1};
    return p;
}

static void arena_put(OpCtx *cx, void *p) {
    if (!p) return;
    for (int i = 0; i < cx->nblocks; i++)
        if (cx->blocks[i].p == p) {
            // Stream order makes reuse safe: work queued on the block runs
            // before any later op that is handed the block again.
            cx->blocks[i].live = 0;
            return;
        }
    fprintf(stderr, "fatal: CUDA free of %p, which this context did not allocate\n", p);
    abort();
}

// Internal scratch slot k of at least `bytes`.
static void *slot(OpCtx *cx, int k, size_t bytes) {
    if (cx->slot_bytes[k] < bytes) {
        arena_put(cx, cx->slot[k]);
        cx->slot[k] = arena_get(cx, bytes);
        cx->slot_bytes[k] = bytes;
    }
    return cx->slot[k];
}

static OpCtx *cuda_ctx_new(void) {
    OpCtx *cx = (OpCtx *)calloc(1, sizeof(OpCtx));
    if (!cx) abort();
    cx->device = g_device;
    const char *fp32 = getenv("RS_CUDA_FP32");
    cx->bf16 = !(fp32 && fp32[0] == '1');
    if (cuda_ok(cx, "cudaSetDevice", cudaSetDevice(cx->device)) != 0) return cx;
    if (cuda_ok(cx, "cudaStreamCreate", cudaStreamCreateWithFlags(&cx->stream, cudaStreamNonBlocking)) != 0) return cx;
    const char *why = lt_load();
    if (why) return fail(cx, "loading cuBLASLt", why), cx;
    cublasStatus_t s = lt.cublasLtCreate(&cx->lt);
    if (s != CUBLAS_STATUS_SUCCESS) fail(cx, "cublasLtCreate", lt.cublasLtGetStatusString(s));
    cx->ws_bytes = (size_t)32 << 20;
    cx->ws = arena_get(cx, cx->ws_bytes);
    return cx;
}

static void cuda_ctx_free(OpCtx *cx) {
    if (!cx) return;
    if (cx->stream) cudaStreamSynchronize(cx->stream);
    for (int i = 0; i < cx->nblocks; i++) cudaFree(cx->blocks[i].p);
    if (cx->lt) lt.cublasLtDestroy(cx->lt);
    if (cx->stream) cudaStreamDestroy(cx->stream);
    free(cx->blocks);
    free(cx);
}

static const char *cuda_error(OpCtx *cx) { return cx->err[0] ? cx->err : NULL; }

static void *cuda_alloc(OpCtx *cx, size_t bytes) {
    void *p = arena_get(cx, bytes);
    cuda_ok(cx, "alloc (cudaMemsetAsync)", cudaMemsetAsync(p, 0, bytes ? bytes : 1, cx->stream));
    return p;
}
static void cuda_free(OpCtx *cx, void *p) { arena_put(cx, p); }

// Uploads wait for the copy: callers free or reuse the host buffer at once.
static void cuda_upload(OpCtx *cx, void *dst, const void *src, size_t n) {
    if (!n) return;
    cuda_ok(cx, "upload", cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, cx->stream));
    synced(cx, "upload", cudaStreamSynchronize(cx->stream));
}
static void cuda_download(OpCtx *cx, void *dst, const void *src, size_t n) {
    if (!n) return;
    cuda_ok(cx, "download", cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, cx->stream));
    synced(cx, "download", cudaStreamSynchronize(cx->stream));
}
static void cuda_copy(OpCtx *cx, void *dst, const void *src, size_t n) {
    if (n) cuda_ok(cx, "copy", cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, cx->stream));
}
static void cuda_zero(OpCtx *cx, void *p, size_t n) {
    if (n) cuda_ok(cx, "zero", cudaMemsetAsync(p, 0, n, cx->stream));
}
static void cuda_sync(OpCtx *cx) { synced(cx, "sync", cudaStreamSynchronize(cx->stream)); }

static unsigned blocks_for(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535u * 16 ? 65535u * 16 : b);
}

// ---------------------------------------------------------------------------
// reductions inside a warp and a block

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL, v, o));
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}

// Sum over a block of up to 1024 threads (a multiple of 32), in double;
// every thread gets the total. The order is fixed: deterministic.
__device__ double block_sum_d(double v) {
    __shared__ double part[32];
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum_d(v);
    __syncthreads();  // part[] may still be read by a previous call
    if (lane == 0) part[w] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : 0.0;
    return warp_sum_d(v);
}

__device__ float block_max(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : -INFINITY;
    return warp_max(v);
}

// ---------------------------------------------------------------------------
// elementwise

static __global__ void add_kernel(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}
static __global__ void accumulate_kernel(float *y, const float *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}
static __global__ void scale_kernel(float *x, float s, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

static void cuda_add(OpCtx *cx, float *out, const float *a, const float *b, size_t n) {
    if (!n) return;
    add_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(out, a, b, n);
    launched(cx, "add_kernel");
}
static void cuda_accumulate(OpCtx *cx, float *y, const float *x, size_t n) {
    if (!n) return;
    accumulate_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(y, x, n);
    launched(cx, "accumulate_kernel");
}
static void cuda_scale(OpCtx *cx, float *x, float s, size_t n) {
    if (!n) return;
    scale_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(x, s, n);
    launched(cx, "scale_kernel");
}

// ---------------------------------------------------------------------------
// embedding

static __global__ void embedding_forward_kernel(float *out, const int32_t *ids, const float *wte, int N, int C) {
    int i = blockIdx.x;
    const float *src = wte + (size_t)ids[i] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[(size_t)i * C + c] = src[c];
}

// Deterministic scatter-add: block (x, p) owns columns of chunk x and the
// vocabulary rows with id % P == p; each thread walks the N rows in order,
// so every element is summed in the CPU op's order (ascending i).
#define EMB_PARTS 64
static __global__ void embedding_backward_kernel(float *dwte, const float *dout, const int32_t *ids, int N,
                                                 int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, p = blockIdx.y;
    if (c >= C) return;
    for (int i = 0; i < N; i++) {
        int id = ids[i];
        if (id % EMB_PARTS == p) dwte[(size_t)id * C + c] += dout[(size_t)i * C + c];
    }
}

static void cuda_embedding_forward(OpCtx *cx, float *out, const int32_t *ids, const float *wte, int N, int C) {
    if (N <= 0) return;
    embedding_forward_kernel<<<N, 256, 0, cx->stream>>>(out, ids, wte, N, C);
    launched(cx, "embedding_forward_kernel");
}
static void cuda_embedding_backward(OpCtx *cx, float *dwte, const float *dout, const int32_t *ids, int N, int C,
                                    int V) {
    if (N <= 0) return;
    dim3 grid((C + 127) / 128, EMB_PARTS);
    embedding_backward_kernel<<<grid, 128, 0, cx->stream>>>(dwte, dout, ids, N, C);
    launched(cx, "embedding_backward_kernel");
}

// ---------------------------------------------------------------------------
// column sums in a fixed order (dbias, RMSNorm's dw): partial sums over
// blocks of COL_ROWS rows, then the partials added in block order.

#define COL_ROWS 128

// part (nrb, C): mode 0 sums a; mode 1 sums a * b * r[i] (dout * x * rstd).
static __global__ void colsum_partial_kernel(float *part, const float *a, const float *b, const float *r, int N,
                                             int C, int mode) {
    int c = blockIdx.x * blockDim.x + threadIdx.x, rb = blockIdx.y;
    if (c >= C) return;
    int i0 = rb * COL_ROWS, i1 = min(N, i0 + COL_ROWS);
    float s = 0.0f;
    for (int i = i0; i < i1; i++) {
        size_t ix = (size_t)i * C + c;
        s += mode == 0 ? a[ix] : a[ix] * b[ix] * r[i];
    }
    part[(size_t)rb * C + c] = s;
}

static __global__ void colsum_finish_kernel(float *dst, const float *part, int nrb, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int rb = 0; rb < nrb; rb++) s += part[(size_t)rb * C + c];
    dst[c] += s;
}

static void colsum_add(OpCtx *cx, float *dst, const float *a, const float *b, const float *r, int N, int C, int mode,
                       const char *what) {
    if (N <= 0 || C <= 0) return;
    int nrb = (N + COL_ROWS - 1) / COL_ROWS;
    float *part = (float *)slot(cx, SLOT_RED, (size_t)nrb * C * sizeof(float));
    colsum_partial_kernel<<<dim3((C + 255) / 256, nrb), 256, 0, cx->stream>>>(part, a, b, r, N, C, mode);
    launched(cx, what);
    colsum_finish_kernel<<<(C + 255) / 256, 256, 0, cx->stream>>>(dst, part, nrb, C);
    launched(cx, what);
}

// ---------------------------------------------------------------------------
// RMSNorm: one block per row

static __global__ void rmsnorm_forward_kernel(float *out, float *rstd, const float *x, const float *w, int C,
                                              float eps) {
    int i = blockIdx.x;
    const float *xi = x + (size_t)i * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += xi[c] * xi[c];
    double tot = block_sum_d(ss);
    float r = (float)(1.0 / sqrt(tot / C + eps));
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[(size_t)i * C + c] = w[c] * (xi[c] * r);
    if (rstd && threadIdx.x == 0) rstd[i] = r;
}

// dx += r w dy - x r^3 / C * sum_j(dy_j w_j x_j) (the CPU op's formula).
static __global__ void rmsnorm_backward_dx_kernel(float *dx, const float *dout, const float *x, const float *w,
                                                  const float *rstd, int C) {
    int i = blockIdx.x;
    const float *xi = x + (size_t)i * C, *gi = dout + (size_t)i * C;
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += gi[c] * w[c] * xi[c];
    double tot = block_sum_d(dot);
    float r = rstd[i], k = (float)(tot * r * r * r / C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) dx[(size_t)i * C + c] += r * w[c] * gi[c] - k * xi[c];
}

static void cuda_rmsnorm_forward(OpCtx *cx, float *out, float *rstd, const float *x, const float *w, int N, int C,
                                 float eps) {
    if (N <= 0) return;
    rmsnorm_forward_kernel<<<N, 256, 0, cx->stream>>>(out, rstd, x, w, C, eps);
    launched(cx, "rmsnorm_forward_kernel");
}

static void cuda_rmsnorm_backward(OpCtx *cx, float *dx, float *dw, const float *dout, const float *x,
                                  const float *w, const float *rstd, int N, int C) {
    if (N <= 0) return;
    rmsnorm_backward_dx_kernel<<<N, 256, 0, cx->stream>>>(dx, dout, x, w, rstd, C);
    launched(cx, "rmsnorm_backward_dx_kernel");
    colsum_add(cx, dw, dout, x, rstd, N, C, 1, "rmsnorm_backward_dw (colsum kernels)");
}

// ---------------------------------------------------------------------------
// matmul through cuBLASLt. Row-major out (N, OC) is column-major out^T
// (OC, N), so every product is written in its transposed, column-major form.

static __global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

static __global__ void fill_rows_kernel(float *out, const float *bias, int N, int OC) {
    size_t n = (size_t)N * OC;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % OC];
}

// The operand as the matmul reads it: x itself (fp32) or its bf16 copy in slot k.
static const void *operand(OpCtx *cx, int k, const float *x, size_t n, int bf16) {
    if (!bf16) return x;
    __nv_bfloat16 *d = (__nv_bfloat16 *)slot(cx, k, n * sizeof(__nv_bfloat16));
    to_bf16_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(d, x, n);
    launched(cx, "to_bf16_kernel");
    return d;
}

static uint64_t align_of(const void *p) {
    uint64_t a = 256;
    while (a > 1 && ((uintptr_t)p % a)) a /= 2;
    return a;
}

static int lt_ok(OpCtx *cx, const char *what, cublasStatus_t s) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    char d[256];
    snprintf(d, sizeof d, "cuBLASLt %s: %s", lt.cublasLtGetStatusName(s), lt.cublasLtGetStatusString(s));
    fail(cx, what, d);
    return -1;
}

// bf16 operands when the context wants them and every leading dimension of
// a bf16 operand is a multiple of 8 elements (16 bytes: what the tensor-core
// kernels need); other shapes, rare (odd test sizes), run in fp32. The choice
// depends on the shape only, so a shape always rounds the same way.
static int use_bf16(const OpCtx *cx, int lda, int ldb) { return cx->bf16 && lda % 8 == 0 && ldb % 8 == 0; }

// Column-major C (m, n) = op(A) op(B) + beta C, fp32 C, A and B in bf16
// (bf16 = 1) or fp32, fp32 accumulation.
static void lt_matmul(OpCtx *cx, const char *what, int bf16, int ta, int tb, int m, int n, int k, const void *A,
                      int lda, const void *B, int ldb, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0 || cx->err[0] || !cx->lt) return;
    if (k <= 0) {  // nothing to multiply: C = beta C
        if (beta == 0.0f) cuda_ok(cx, what, cudaMemsetAsync(C, 0, (size_t)ldc * n * sizeof(float), cx->stream));
        return;
    }
    cudaDataType_t ab = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    uint64_t aa = align_of(A), ab_ = align_of(B), ac = align_of(C);
    if (lt_ok(cx, what, lt.cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) != 0) return;
    lt.cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    lt.cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    int ok = lt_ok(cx, what, lt.cublasLtMatrixLayoutCreate(&la, ab, ta ? k : m, ta ? m : k, lda)) == 0 &&
             lt_ok(cx, what, lt.cublasLtMatrixLayoutCreate(&lb, ab, tb ? n : k, tb ? k : n, ldb)) == 0 &&
             lt_ok(cx, what, lt.cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc)) == 0;
    // One algorithm per shape, alignment and operand type, chosen once:
    // the same shape always runs the same code (deterministic results).
    uint64_t key[8] = {(uint64_t)ta | (uint64_t)tb << 1 | (uint64_t)(beta != 0.0f) << 2 | (uint64_t)bf16 << 3,
                       (uint64_t)m, (uint64_t)n, (uint64_t)k, (uint64_t)lda << 32 | (uint64_t)ldb, (uint64_t)ldc,
                       aa << 32 | ab_, ac};
    const cublasLtMatmulAlgo_t *algo = NULL;
    for (int i = 0; ok && i < cx->nalgos; i++)
        if (memcmp(cx->algos[i].key, key, sizeof key) == 0) algo = &cx->algos[i].algo;
    if (ok && !algo) {
        cublasLtMatmulHeuristicResult_t res;
        int nres = 0;
        ok = lt_ok(cx, what, lt.cublasLtMatmulPreferenceCreate(&pref)) == 0;
        if (ok) {
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &cx->ws_bytes,
                                                 sizeof cx->ws_bytes);
            uint32_t a32 = (uint32_t)aa, b32 = (uint32_t)ab_, c32 = (uint32_t)ac;
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &a32, sizeof a32);
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &b32, sizeof b32);
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &c32, sizeof c32);
            lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &c32, sizeof c32);
            ok = lt_ok(cx, what, lt.cublasLtMatmulAlgoGetHeuristic(cx->lt, op, la, lb, lc, lc, pref, 1, &res, &nres)) == 0;
        }
        if (ok && nres == 0) {
            fail(cx, what, "cuBLASLt has no algorithm for this shape");
            ok = 0;
        }
        if (ok) {
            AlgoEntry *e = &cx->algos[cx->nalgos < ALGO_CACHE ? cx->nalgos++ : ALGO_CACHE - 1];
            memcpy(e->key, key, sizeof key);
            e->algo = res.algo;
            algo = &e->algo;
        }
    }
    float alpha = 1.0f;
    if (ok)
        lt_ok(cx, what, lt.cublasLtMatmul(cx->lt, op, &alpha, A, la, B, lb, &beta, C, lc, C, lc, algo, cx->ws,
                                       cx->ws_bytes, cx->stream));
    if (pref) lt.cublasLtMatmulPreferenceDestroy(pref);
    if (la) lt.cublasLtMatrixLayoutDestroy(la);
    if (lb) lt.cublasLtMatrixLayoutDestroy(lb);
    if (lc) lt.cublasLtMatrixLayoutDestroy(lc);
    lt.cublasLtMatmulDescDestroy(op);
    cx->last = what;
}

static void cuda_matmul_forward(OpCtx *cx, float *out, const float *inp, const float *w, const float *bias, int N,
                                int IC, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (bias) {
        fill_rows_kernel<<<blocks_for((size_t)N * OC, 256), 256, 0, cx->stream>>>(out, bias, N, OC);
        launched(cx, "fill_rows_kernel (bias)");
    }
    int bf = use_bf16(cx, IC, IC);
    const void *A = operand(cx, SLOT_A, w, (size_t)OC * IC, bf), *B = operand(cx, SLOT_B, inp, (size_t)N * IC, bf);
    // out^T (OC, N) = op(A) B with A = w seen as (IC, OC) and transposed, B = inp seen as (IC, N).
    lt_matmul(cx, "matmul_forward (cublasLtMatmul)", bf, 1, 0, OC, N, IC, A, IC, B, IC, bias ? 1.0f : 0.0f, out, OC);
}

static void cuda_matmul_backward(OpCtx *cx, float *dinp, float *dw, float *dbias, const float *dout,
                                 const float *inp, const float *w, int N, int IC, int OC) {
    if (N <= 0) return;
    int bf = use_bf16(cx, IC, OC);
    const void *G = operand(cx, SLOT_C, dout, (size_t)N * OC, bf);
    if (dinp) {  // dinp^T (IC, N) = w (IC, OC) col-major x dout^T (OC, N)
        const void *A = operand(cx, SLOT_A, w, (size_t)OC * IC, bf);
        lt_matmul(cx, "matmul_backward dinp (cublasLtMatmul)", bf, 0, 0, IC, N, OC, A, IC, G, OC, 0.0f, dinp, IC);
    }
    if (dw) {  // dw^T (IC, OC) += inp^T (IC, N) x dout (N, OC)
        const void *B = operand(cx, SLOT_B, inp, (size_t)N * IC, bf);
        lt_matmul(cx, "matmul_backward dw (cublasLtMatmul)", bf, 0, 1, IC, OC, N, B, IC, G, OC, 1.0f, dw, IC);
    }
    if (dbias) colsum_add(cx, dbias, dout, NULL, NULL, N, OC, 0, "matmul_backward dbias (colsum kernels)");
}

// ---------------------------------------------------------------------------
// RoPE: one thread per (row, head, j < hd/2)

static __global__ void rope_kernel(float *qkv, const int32_t *pos, const float *cos_, const float *sin_, int N,
                                   int NH, int NKV, int hd, float dir) {
    int half = hd / 2, W = (NH + 2 * NKV) * hd, per_row = (NH + NKV) * half;
    size_t n = (size_t)N * per_row;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(t / per_row), r = (int)(t % per_row), h = r / half, j = r % half;
        float *x = qkv + (size_t)i * W + (size_t)h * hd;
        float c = cos_[(size_t)pos[i] * half + j], s = dir * sin_[(size_t)pos[i] * half + j];
        float a = x[j], b = x[j + half];
        x[j] = a * c - b * s;
        x[j + half] = b * c + a * s;
    }
}

static void rope(OpCtx *cx, float *qkv, const int32_t *pos, const float *c, const float *s, int N, int NH, int NKV,
                 int hd, float dir, const char *what) {
    size_t n = (size_t)N * (NH + NKV) * (hd / 2);
    if (!n) return;
    rope_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(qkv, pos, c, s, N, NH, NKV, hd, dir);
    launched(cx, what);
}
static void cuda_rope_forward(OpCtx *cx, float *qkv, const int32_t *pos, const float *c, const float *s, int N,
                              int NH, int NKV, int hd) {
    rope(cx, qkv, pos, c, s, N, NH, NKV, hd, 1.0f, "rope_kernel (forward)");
}
static void cuda_rope_backward(OpCtx *cx, float *dqkv, const int32_t *pos, const float *c, const float *s, int N,
                               int NH, int NKV, int hd) {
    rope(cx, dqkv, pos, c, s, N, NH, NKV, hd, -1.0f, "rope_kernel (backward)");
}

// ---------------------------------------------------------------------------
// attention, FlashAttention-2 style: tiles of BC keys in shared memory, an
// online softmax per query row, nothing of size T x T in memory; lse kept
// for the backward, which recomputes the probabilities tile by tile.
// A warp owns one query row (forward, dQ) or one key row (dK, dV); lane j
// scores key (query) j of the tile; each lane accumulates the output
// columns lane, lane + 32, ... (NC of them: hd <= 32 NC). fp32 throughout.
// Rows of K and Q tiles are padded to hd + 1 floats so that 32 lanes reading
// 32 different rows at one column hit 32 different banks.

// The key tiles a block of queries visits: those of a shared prefix (below
// pend), then from kstart on, skipping the tiles between.
static __device__ __forceinline__ int next_tile(int j0, int pend, int kstart) {
    j0 += BC;
    return j0 >= pend && j0 < kstart ? kstart : j0;
}

template <int NC>
static __global__ void attn_forward_kernel(float *out, float *lse, const float *qkv, const int32_t *seg,
                                           const int32_t *pre, int T, int NH, int NKV, int hd, float scale) {
    extern __shared__ float sm[];
    int hdp = hd + 1;
    float *Ks = sm, *Vs = Ks + BC * hdp, *Qs = Vs + BC * hd;
    int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int kh = h / (NH / NKV), W = (NH + 2 * NKV) * hd;
    int t0 = blockIdx.x * NW, t = t0 + warp;
    const float *base = qkv + (size_t)b * T * W;
    bool active = t < T;
    int s0 = active && seg ? seg[(size_t)b * T + t] : 0;
    float *q = Qs + warp * hd;
    if (active)
        for (int c = lane; c < hd; c += 32) q[c] = base[(size_t)t * W + h * hd + c];
    int tmax = min(T - 1, t0 + NW - 1);
    int kstart = seg ? seg[(size_t)b * T + t0] : 0;  // the smallest start in the block (starts never decrease)
    kstart -= kstart % BC;
    int P = seg && pre ? pre[b] : 0, pend = (P + BC - 1) / BC * BC;  // the shared prefix's tiles, then kstart on
    float m = -INFINITY, l = 0.0f, acc[NC];
#pragma unroll
    for (int k = 0; k < NC; k++) acc[k] = 0.0f;
    for (int j0 = P > 0 ? 0 : kstart; j0 <= tmax; j0 = next_tile(j0, pend, kstart)) {
        __syncthreads();  // the previous tile is consumed
        for (int i = threadIdx.x; i < BC * hd; i += blockDim.x) {
            int r = i / hd, c = i % hd, s = j0 + r;
            bool in = s < T;
            Ks[r * hdp + c] = in ? base[(size_t)s * W + (NH + kh) * hd + c] : 0.0f;
            Vs[r * hd + c] = in ? base[(size_t)s * W + (NH + NKV + kh) * hd + c] : 0.0f;
        }
        __syncthreads();
        if (!active || j0 > t || (j0 >= P && j0 + BC <= s0)) continue;  // warp-uniform
        int s = j0 + lane;
        float sc = -INFINITY;
        if (s <= t && (s >= s0 || s < P)) {
            float d = 0.0f;
            for (int c = 0; c < hd; c++) d += q[c] * Ks[lane * hdp + c];
            sc = d * scale;
        }
        float mn = fmaxf(m, warp_max(sc));
        float corr = expf(m - mn), p = sc == -INFINITY ? 0.0f : expf(sc - mn);
        l = l * corr + warp_sum(p);
#pragma unroll
        for (int k = 0; k < NC; k++) acc[k] *= corr;
        for (int j = 0; j < BC; j++) {
            float pj = __shfl_sync(FULL, p, j);
#pragma unroll
            for (int k = 0; k < NC; k++) {
                int c = lane + 32 * k;
                if (c < hd) acc[k] += pj * Vs[j * hd + c];
            }
        }
        m = mn;
    }
    if (!active) return;
    float inv = 1.0f / l;
#pragma unroll
    for (int k = 0; k < NC; k++) {
        int c = lane + 32 * k;
        if (c < hd) out[((size_t)b * T + t) * NH * hd + h * hd + c] = acc[k] * inv;
    }
    if (lane == 0) lse[((size_t)b * NH + h) * T + t] = m + logf(l);
}

// D[b, h, t] = sum_c dO o O: one warp per (b, t, h), grid-stride.
static __global__ void attn_rowdot_kernel(float *D, const float *dout, const float *out, int B, int T, int NH,
                                          int hd) {
    size_t nwarps = (size_t)gridDim.x * blockDim.x / 32, rows = (size_t)B * T * NH;
    int lane = threadIdx.x % 32;
    for (size_t wid = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32; wid < rows; wid += nwarps) {
        int h = (int)(wid % NH);
        size_t bt = wid / NH;
        int b = (int)(bt / T), t = (int)(bt % T);
        const float *g = dout + bt * NH * hd + h * hd, *o = out + bt * NH * hd + h * hd;
        float s = 0.0f;
        for (int c = lane; c < hd; c += 32) s += g[c] * o[c];
        s = warp_sum(s);
        if (lane == 0) D[((size_t)b * NH + h) * T + t] = s;
    }
}

// dQ per query row: dS = P (dO V^T - D) / sqrt(hd); dQ = dS K (overwrites
// the query part of dqkv).
template <int NC>
static __global__ void attn_backward_dq_kernel(float *dqkv, const float *dout, const float *qkv, const float *lse,
                                               const float *D, const int32_t *seg, const int32_t *pre, int T, int NH,
                                               int NKV, int hd, float scale) {
    extern __shared__ float sm[];
    int hdp = hd + 1;
    float *Ks = sm, *Vs = Ks + BC * hdp, *Qs = Vs + BC * hdp, *Gs = Qs + NW * hd;
    int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int kh = h / (NH / NKV), W = (NH + 2 * NKV) * hd, C = NH * hd;
    int t0 = blockIdx.x * NW, t = t0 + warp;
    const float *base = qkv + (size_t)b * T * W;
    bool active = t < T;
    int s0 = active && seg ? seg[(size_t)b * T + t] : 0;
    float *q = Qs + warp * hd, *g = Gs + warp * hd;
    float L = 0.0f, Dt = 0.0f;
    if (active) {
        for (int c = lane; c < hd; c += 32) {
            q[c] = base[(size_t)t * W + h * hd + c];
            g[c] = dout[((size_t)b * T + t) * C + h * hd + c];
        }
        L = lse[((size_t)b * NH + h) * T + t];
        Dt = D[((size_t)b * NH + h) * T + t];
    }
    int tmax = min(T - 1, t0 + NW - 1);
    int kstart = seg ? seg[(size_t)b * T + t0] : 0;
    kstart -= kstart % BC;
    int P = seg && pre ? pre[b] : 0, pend = (P + BC - 1) / BC * BC;
    float acc[NC];
#pragma unroll
    for (int k = 0; k < NC; k++) acc[k] = 0.0f;
    for (int j0 = P > 0 ? 0 : kstart; j0 <= tmax; j0 = next_tile(j0, pend, kstart)) {
        __syncthreads();
        for (int i = threadIdx.x; i < BC * hd; i += blockDim.x) {
            int r = i / hd, c = i % hd, s = j0 + r;
            bool in = s < T;
            Ks[r * hdp + c] = in ? base[(size_t)s * W + (NH + kh) * hd + c] : 0.0f;
            Vs[r * hdp + c] = in ? base[(size_t)s * W + (NH + NKV + kh) * hd + c] : 0.0f;
        }
        __syncthreads();
        if (!active || j0 > t || (j0 >= P && j0 + BC <= s0)) continue;
        int s = j0 + lane;
        float ds = 0.0f;
        if (s <= t && (s >= s0 || s < P)) {
            float d = 0.0f, dp = 0.0f;
            for (int c = 0; c < hd; c++) d += q[c] * Ks[lane * hdp + c], dp += g[c] * Vs[lane * hdp + c];
            float p = expf(d * scale - L);
            ds = p * (dp - Dt) * scale;
        }
        for (int j = 0; j < BC; j++) {
            float dsj = __shfl_sync(FULL, ds, j);
#pragma unroll
            for (int k = 0; k < NC; k++) {
                int c = lane + 32 * k;
                if (c < hd) acc[k] += dsj * Ks[j * hdp + c];
            }
        }
    }
    if (!active) return;
#pragma unroll
    for (int k = 0; k < NC; k++) {
        int c = lane + 32 * k;
        if (c < hd) dqkv[((size_t)b * T + t) * W + h * hd + c] = acc[k];
    }
}

// dK, dV per key row s of kv head kh, summed over the G query heads of its
// group and every query t that sees s (t >= s, start(t) <= s), in one
// thread: dV = sum P dO; dK = sum dS Q. Overwrites the key and value parts.
template <int NC>
static __global__ void attn_backward_dkv_kernel(float *dqkv, const float *dout, const float *qkv, const float *lse,
                                                const float *D, const int32_t *seg, const int32_t *pre, int T,
                                                int NH, int NKV, int hd, float scale) {
    extern __shared__ float sm[];
    int hdp = hd + 1;
    float *Qs = sm, *Gs = Qs + BC * hdp, *Ls = Gs + BC * hdp, *Ds = Ls + BC;
    int *S0 = (int *)(Ds + BC);
    float *ks = (float *)(S0 + BC), *vs = ks + NW * hd;
    int b = blockIdx.z, kh = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int G = NH / NKV, W = (NH + 2 * NKV) * hd, C = NH * hd;
    int sb = blockIdx.x * NW, s = sb + warp, smax = min(T - 1, sb + NW - 1);
    const float *base = qkv + (size_t)b * T * W;
    bool active = s < T;
    float *kr = ks + warp * hd, *vr = vs + warp * hd;
    if (active)
        for (int c = lane; c < hd; c += 32) {
            kr[c] = base[(size_t)s * W + (NH + kh) * hd + c];
            vr[c] = base[(size_t)s * W + (NH + NKV + kh) * hd + c];
        }
    int P = seg && pre ? pre[b] : 0;
    float ak[NC], av[NC];
#pragma unroll
    for (int k = 0; k < NC; k++) ak[k] = av[k] = 0.0f;
    for (int gi = 0; gi < G; gi++) {
        int h = kh * G + gi;
        for (int t0 = sb - sb % BC; t0 < T; t0 += BC) {
            // Starts never decrease: once a tile's first query starts after
            // the block's last key, no later query sees any key here (unless
            // the block holds shared-prefix keys, which every query sees).
            if (seg && seg[(size_t)b * T + t0] > smax && sb >= P) break;  // block-uniform
            __syncthreads();
            for (int i = threadIdx.x; i < BC * hd; i += blockDim.x) {
                int r = i / hd, c = i % hd, t = t0 + r;
                bool in = t < T;
                Qs[r * hdp + c] = in ? base[(size_t)t * W + h * hd + c] : 0.0f;
                Gs[r * hdp + c] = in ? dout[((size_t)b * T + t) * C + h * hd + c] : 0.0f;
            }
            for (int r = threadIdx.x; r < BC; r += blockDim.x) {
                int t = t0 + r;
                bool in = t < T;
                Ls[r] = in ? lse[((size_t)b * NH + h) * T + t] : 0.0f;
                Ds[r] = in ? D[((size_t)b * NH + h) * T + t] : 0.0f;
                S0[r] = in ? (seg ? seg[(size_t)b * T + t] : 0) : T;
            }
            __syncthreads();
            if (!active || t0 + BC <= s) continue;
            int t = t0 + lane;
            float p = 0.0f, ds = 0.0f;
            if (t < T && t >= s && (S0[lane] <= s || s < P)) {
                float d = 0.0f, dp = 0.0f;
                for (int c = 0; c < hd; c++) d += Qs[lane * hdp + c] * kr[c], dp += Gs[lane * hdp + c] * vr[c];
                p = expf(d * scale - Ls[lane]);
                ds = p * (dp - Ds[lane]) * scale;
            }
            for (int j = 0; j < BC; j++) {
                float pj = __shfl_sync(FULL, p, j), dsj = __shfl_sync(FULL, ds, j);
#pragma unroll
                for (int k = 0; k < NC; k++) {
                    int c = lane + 32 * k;
                    if (c < hd) av[k] += pj * Gs[j * hdp + c], ak[k] += dsj * Qs[j * hdp + c];
                }
            }
        }
    }
    if (!active) return;
#pragma unroll
    for (int k = 0; k < NC; k++) {
        int c = lane + 32 * k;
        if (c < hd) {
            dqkv[((size_t)b * T + s) * W + (NH + kh) * hd + c] = ak[k];
            dqkv[((size_t)b * T + s) * W + (NH + NKV + kh) * hd + c] = av[k];
        }
    }
}

// Columns per lane for a head size: the kernels are built for 1, 2, 4, 8.
static int att_nc(int hd) { return hd <= 32 ? 1 : hd <= 64 ? 2 : hd <= 128 ? 4 : 8; }

static void att_smem(OpCtx *cx, const void *fn, size_t bytes, const char *what) {
    if (bytes > 48 * 1024)  // above the default: opt in (the device allows up to 227 KiB)
        cuda_ok(cx, what, cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

#define ATT_DISPATCH(hd, KERNEL, ...)                                      \
    do {                                                                   \
        switch (att_nc(hd)) {                                              \
        case 1: KERNEL<1>(__VA_ARGS__); break;                             \
        case 2: KERNEL<2>(__VA_ARGS__); break;                             \
        case 4: KERNEL<4>(__VA_ARGS__); break;                             \
        default: KERNEL<8>(__VA_ARGS__); break;                            \
        }                                                                  \
    } while (0)

template <int NC>
static void launch_attn_forward(OpCtx *cx, float *out, float *lse, const float *qkv, const int32_t *seg,
                                const int32_t *pre, int B, int T, int NH, int NKV, int hd) {
    size_t sm = ((size_t)BC * (hd + 1) + (size_t)BC * hd + (size_t)NW * hd) * sizeof(float);
    att_smem(cx, (const void *)attn_forward_kernel<NC>, sm, "attn_forward_kernel (smem)");
    dim3 grid((T + NW - 1) / NW, NH, B);
    attn_forward_kernel<NC><<<grid, NW * 32, sm, cx->stream>>>(out, lse, qkv, seg, pre, T, NH, NKV, hd,
                                                               1.0f / sqrtf((float)hd));
    launched(cx, "attn_forward_kernel");
}

template <int NC>
static void launch_attn_backward(OpCtx *cx, float *dqkv, const float *dout, const float *qkv, const float *lse,
                                 const float *D, const int32_t *seg, const int32_t *pre, int B, int T, int NH, int NKV,
                                 int hd) {
    float scale = 1.0f / sqrtf((float)hd);
    size_t sm_q = ((size_t)2 * BC * (hd + 1) + (size_t)2 * NW * hd) * sizeof(float);
    att_smem(cx, (const void *)attn_backward_dq_kernel<NC>, sm_q, "attn_backward_dq_kernel (smem)");
    attn_backward_dq_kernel<NC><<<dim3((T + NW - 1) / NW, NH, B), NW * 32, sm_q, cx->stream>>>(
        dqkv, dout, qkv, lse, D, seg, pre, T, NH, NKV, hd, scale);
    launched(cx, "attn_backward_dq_kernel");
    size_t sm_kv = ((size_t)2 * BC * (hd + 1) + 3 * BC + (size_t)2 * NW * hd) * sizeof(float);
    att_smem(cx, (const void *)attn_backward_dkv_kernel<NC>, sm_kv, "attn_backward_dkv_kernel (smem)");
    attn_backward_dkv_kernel<NC><<<dim3((T + NW - 1) / NW, NKV, B), NW * 32, sm_kv, cx->stream>>>(
        dqkv, dout, qkv, lse, D, seg, pre, T, NH, NKV, hd, scale);
    launched(cx, "attn_backward_dkv_kernel");
}

static void cuda_attention_forward(OpCtx *cx, float *out, float *lse, const float *qkv, const int32_t *seg,
                                   const int32_t *pre, int B, int T, int NH, int NKV, int hd) {
    if (B <= 0 || T <= 0) return;
    if (hd > 256) return fail(cx, "attention_forward", "head_dim above 256 is not built");
    ATT_DISPATCH(hd, launch_attn_forward, cx, out, lse, qkv, seg, pre, B, T, NH, NKV, hd);
}

static void cuda_attention_backward(OpCtx *cx, float *dqkv, const float *dout, const float *qkv, const float *out,
                                    const float *lse, const int32_t *seg, const int32_t *pre, int B, int T, int NH,
                                    int NKV, int hd) {
    if (B <= 0 || T <= 0) return;
    if (hd > 256) return fail(cx, "attention_backward", "head_dim above 256 is not built");
    size_t rows = (size_t)B * T * NH;
    float *D = (float *)slot(cx, SLOT_ATT, rows * sizeof(float));
    attn_rowdot_kernel<<<blocks_for(rows * 32, 256), 256, 0, cx->stream>>>(D, dout, out, B, T, NH, hd);
    launched(cx, "attn_rowdot_kernel");
    ATT_DISPATCH(hd, launch_attn_backward, cx, dqkv, dout, qkv, lse, D, seg, pre, B, T, NH, NKV, hd);
}

// ---------------------------------------------------------------------------
// KV cache (model/ops.h: a pool of rows, a table per slot)

// Pool elements: float32, or bfloat16 kept as its 16 bits (model/ops.h),
// rounded to nearest even exactly as the CPU op rounds.
static __device__ __forceinline__ float kv_load(const float *p) { return *p; }
static __device__ __forceinline__ float kv_load(const uint16_t *p) { return __uint_as_float((uint32_t)*p << 16); }
static __device__ __forceinline__ void kv_store(float *p, float x) { *p = x; }
static __device__ __forceinline__ void kv_store(uint16_t *p, float x) {
    uint32_t u = __float_as_uint(x);
    *p = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40) : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

template <typename KV>
static __global__ void kv_write_kernel(KV *kc, KV *vc, const float *qkv, const int32_t *rows, int N, int NH,
                                       int NKV, int hd) {
    int W = (NH + 2 * NKV) * hd, kvw = NKV * hd;
    size_t n = (size_t)N * kvw;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(t / kvw), c = (int)(t % kvw);
        size_t at = (size_t)rows[i] * kvw + c;
        kv_store(kc + at, qkv[(size_t)i * W + (size_t)NH * hd + c]);
        kv_store(vc + at, qkv[(size_t)i * W + (size_t)(NH + NKV) * hd + c]);
    }
}

static void cuda_kv_write(OpCtx *cx, void *kcache, void *vcache, const float *qkv, const int32_t *rows, int N,
                          int NH, int NKV, int hd, int bf16) {
    size_t n = (size_t)N * NKV * hd;
    if (!n) return;
    if (bf16)
        kv_write_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>((uint16_t *)kcache, (uint16_t *)vcache, qkv, rows,
                                                                    N, NH, NKV, hd);
    else
        kv_write_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>((float *)kcache, (float *)vcache, qkv, rows, N,
                                                                    NH, NKV, hd);
    launched(cx, "kv_write_kernel");
}

// Block (segment, head); its warps take the segment's rows in turn. Lane j
// scores position j0 + j, reading the pool row the table gives; the output
// columns are spread over the lanes as in the training kernels.
template <int NC, typename KV>
static __global__ void attn_decode_kernel(float *out, const float *qkv, const KV *kc, const KV *vc,
                                          const int32_t *table, const int32_t *seg_slot, const int32_t *seg_pos,
                                          const int32_t *seg_row, const int32_t *seg_len, int NH, int NKV, int hd,
                                          int max_len, float scale) {
    extern __shared__ float sm[];
    int sg = blockIdx.x, h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int kh = h / (NH / NKV), W = (NH + 2 * NKV) * hd, kvw = NKV * hd;
    const int32_t *prow = table + (size_t)seg_slot[sg] * max_len;
    float *q = sm + warp * hd;
    for (int r = warp; r < seg_len[sg]; r += NW) {
        int row = seg_row[sg] + r, n = seg_pos[sg] + r + 1;
        __syncwarp();
        for (int c = lane; c < hd; c += 32) q[c] = qkv[(size_t)row * W + h * hd + c];
        __syncwarp();
        float m = -INFINITY, l = 0.0f, acc[NC];
#pragma unroll
        for (int k = 0; k < NC; k++) acc[k] = 0.0f;
        for (int j0 = 0; j0 < n; j0 += 32) {
            int j = j0 + lane, pr = j < n ? prow[j] : 0;
            float sc = -INFINITY;
            if (j < n) {
                const KV *kp = kc + (size_t)pr * kvw + kh * hd;
                float d = 0.0f;
                for (int c = 0; c < hd; c++) d += q[c] * kv_load(kp + c);
                sc = d * scale;
            }
            float mn = fmaxf(m, warp_max(sc));
            float corr = expf(m - mn), p = j < n ? expf(sc - mn) : 0.0f;
            l = l * corr + warp_sum(p);
#pragma unroll
            for (int k = 0; k < NC; k++) acc[k] *= corr;
            int cnt = min(32, n - j0);
            for (int jj = 0; jj < cnt; jj++) {
                float pj = __shfl_sync(FULL, p, jj);
                int rj = __shfl_sync(FULL, pr, jj);
                const KV *vp = vc + (size_t)rj * kvw + kh * hd;
#pragma unroll
                for (int k = 0; k < NC; k++) {
                    int c = lane + 32 * k;
                    if (c < hd) acc[k] += pj * kv_load(vp + c);
                }
            }
            m = mn;
        }
        float inv = 1.0f / l;
#pragma unroll
        for (int k = 0; k < NC; k++) {
            int c = lane + 32 * k;
            if (c < hd) out[(size_t)row * NH * hd + h * hd + c] = acc[k] * inv;
        }
    }
}

template <int NC>
static void launch_attn_decode(OpCtx *cx, float *out, const float *qkv, const void *kc, const void *vc,
                               const int32_t *table, const int32_t *seg_slot, const int32_t *seg_pos,
                               const int32_t *seg_row, const int32_t *seg_len, int nseg, int NH, int NKV, int hd,
                               int max_len, int bf16) {
    size_t sm = (size_t)NW * hd * sizeof(float);
    float scale = 1.0f / sqrtf((float)hd);
    if (bf16)
        attn_decode_kernel<NC, uint16_t><<<dim3(nseg, NH), NW * 32, sm, cx->stream>>>(
            out, qkv, (const uint16_t *)kc, (const uint16_t *)vc, table, seg_slot, seg_pos, seg_row, seg_len, NH, NKV,
            hd, max_len, scale);
    else
        attn_decode_kernel<NC, float><<<dim3(nseg, NH), NW * 32, sm, cx->stream>>>(
            out, qkv, (const float *)kc, (const float *)vc, table, seg_slot, seg_pos, seg_row, seg_len, NH, NKV, hd,
            max_len, scale);
    launched(cx, "attn_decode_kernel");
}

static void cuda_attention_decode(OpCtx *cx, float *out, const float *qkv, const void *kcache, const void *vcache,
                                  const int32_t *table, const int32_t *seg_slot, const int32_t *seg_pos,
                                  const int32_t *seg_row, const int32_t *seg_len, int nseg, int NH, int NKV, int hd,
                                  int max_len, int bf16) {
    if (nseg <= 0) return;
    if (hd > 256) return fail(cx, "attention_decode", "head_dim above 256 is not built");
    ATT_DISPATCH(hd, launch_attn_decode, cx, out, qkv, kcache, vcache, table, seg_slot, seg_pos, seg_row, seg_len,
                 nseg, NH, NKV, hd, max_len, bf16);
}

// ---------------------------------------------------------------------------
// SwiGLU

static __global__ void swiglu_forward_kernel(float *out, const float *gu, int N, int F) {
    size_t n = (size_t)N * F;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        size_t i = t / F, j = t % F;
        float g = gu[i * 2 * F + j], u = gu[i * 2 * F + F + j];
        out[t] = g / (1.0f + expf(-g)) * u;
    }
}

static __global__ void swiglu_backward_kernel(float *dgu, const float *dout, const float *gu, int N, int F) {
    size_t n = (size_t)N * F;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        size_t i = t / F, j = t % F;
        float g = gu[i * 2 * F + j], u = gu[i * 2 * F + F + j], d = dout[t];
        float sig = 1.0f / (1.0f + expf(-g));
        dgu[i * 2 * F + F + j] = d * g * sig;
        dgu[i * 2 * F + j] = d * u * sig * (1.0f + g * (1.0f - sig));
    }
}

static void cuda_swiglu_forward(OpCtx *cx, float *out, const float *gu, int N, int F) {
    size_t n = (size_t)N * F;
    if (!n) return;
    swiglu_forward_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(out, gu, N, F);
    launched(cx, "swiglu_forward_kernel");
}
static void cuda_swiglu_backward(OpCtx *cx, float *dgu, const float *dout, const float *gu, int N, int F) {
    size_t n = (size_t)N * F;
    if (!n) return;
    swiglu_backward_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(dgu, dout, gu, N, F);
    launched(cx, "swiglu_backward_kernel");
}

// ---------------------------------------------------------------------------
// log-probabilities: one block per row of the chunk (model.c never hands
// more than one chunk of logits, so B x T x V never exists)

static __global__ void logprob_forward_kernel(float *logp, float *lse, float *entropy, const float *logits,
                                              const int32_t *targets, int V, float inv_temp) {
    int i = blockIdx.x;
    const float *z = logits + (size_t)i * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, z[j] * inv_temp);
    mx = block_max(mx);
    float s = 0.0f, pz = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float zj = z[j] * inv_temp, p = expf(zj - mx);
        s += p, pz += p * zj;
    }
    double sum = block_sum_d(s), psum = block_sum_d(pz);
    if (threadIdx.x != 0) return;
    double l = mx + log(sum);
    lse[i] = (float)l;
    if (entropy) entropy[i] = (float)(l - psum / sum);
    if (logp) logp[i] = targets[i] >= 0 ? (float)(z[targets[i]] * inv_temp - l) : 0.0f;
}

static __global__ void logprob_backward_kernel(float *logits, const float *lse, const int32_t *targets,
                                               const float *dlogp, int V, float inv_temp) {
    int i = blockIdx.x, tg = targets[i];
    float *z = logits + (size_t)i * V;
    float dl = dlogp[i];
    if (tg < 0 || dl == 0.0f) {
        for (int j = threadIdx.x; j < V; j += blockDim.x) z[j] = 0.0f;
        return;
    }
    float g = dl * inv_temp, l = lse[i];
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float v = -g * expf(z[j] * inv_temp - l);
        if (j == tg) v += g;  // the CPU op's order: -g p first, then + g
        z[j] = v;
    }
}

static void cuda_logprob_forward(OpCtx *cx, float *logp, float *lse, float *entropy, const float *logits,
                                 const int32_t *targets, int n, int V, float inv_temp) {
    if (n <= 0) return;
    logprob_forward_kernel<<<n, 512, 0, cx->stream>>>(logp, lse, entropy, logits, targets, V, inv_temp);
    launched(cx, "logprob_forward_kernel");
}
static void cuda_logprob_backward(OpCtx *cx, float *logits, const float *lse, const int32_t *targets,
                                  const float *dlogp, int n, int V, float inv_temp) {
    if (n <= 0) return;
    logprob_backward_kernel<<<n, 512, 0, cx->stream>>>(logits, lse, targets, dlogp, V, inv_temp);
    launched(cx, "logprob_backward_kernel");
}

// ---------------------------------------------------------------------------
// optimizer

#define SUMSQ_BLOCKS 1024  // fixed: the sum's rounding does not depend on n's split

static __global__ void sumsq_partial_kernel(double *part, const float *g, size_t n) {
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)g[i] * g[i];
    s = block_sum_d(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

static __global__ void sumsq_finish_kernel(double *out, const double *part, int np) {
    double s = 0.0;
    for (int i = threadIdx.x; i < np; i += blockDim.x) s += part[i];
    s = block_sum_d(s);
    if (threadIdx.x == 0) *out = s;
}

// NaN when the device failed: model_adamw_step then skips the update, so a
// broken step never reaches the weights or the moments.
static double cuda_sumsq(OpCtx *cx, const float *g, size_t n) {
    if (!n) return 0.0;
    double *part = (double *)slot(cx, SLOT_DRED, (SUMSQ_BLOCKS + 1) * sizeof(double));
    sumsq_partial_kernel<<<SUMSQ_BLOCKS, 256, 0, cx->stream>>>(part + 1, g, n);
    launched(cx, "sumsq_partial_kernel");
    sumsq_finish_kernel<<<1, 1024, 0, cx->stream>>>(part, part + 1, SUMSQ_BLOCKS);
    launched(cx, "sumsq_finish_kernel");
    double s = NAN;
    cuda_download(cx, &s, part, sizeof s);
    return cx->err[0] ? NAN : s;
}

// torch.optim.AdamW (foreach=False) in the CPU op's operation order.
static __global__ void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                                    float eps, float grad_scale, float step, float decay, float bc2_sqrt) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i] * grad_scale, pi = p[i] * decay, mi = m[i], vi = v[i];
        mi += (gi - mi) * (1.0f - b1);
        vi = vi * b2 + (1.0f - b2) * gi * gi;
        pi -= step * (mi / (sqrtf(vi) / bc2_sqrt + eps));
        p[i] = pi, m[i] = mi, v[i] = vi;
    }
}

static void cuda_adamw_update(OpCtx *cx, float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                              float b2, float eps, float wd, float grad_scale, int64_t t) {
    if (!n) return;
    double bc1 = 1.0 - pow(b1, (double)t);  // in double on the host, as the CPU op
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
    float step = (float)(lr / bc1), decay = 1.0f - lr * wd;
    adamw_kernel<<<blocks_for(n, 256), 256, 0, cx->stream>>>(p, g, m, v, n, b1, b2, eps, grad_scale, step, decay,
                                                             bc2_sqrt);
    launched(cx, "adamw_kernel");
}

// ---------------------------------------------------------------------------
// device probe and the table

extern "C" int model_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear: the probe's failure is an answer, not an error
        return 0;
    }
    return n;
}

extern "C" int model_cuda_mem_info(int index, size_t *free_b, size_t *total_b) {
    int prev = 0;
    if (cudaGetDevice(&prev) != cudaSuccess || cudaSetDevice(index) != cudaSuccess) return cudaGetLastError(), -1;
    cudaError_t e = cudaMemGetInfo(free_b, total_b);
    cudaSetDevice(prev);
    if (e != cudaSuccess) return cudaGetLastError(), -1;
    return 0;
}

extern "C" int model_cuda_probe(int index, char *desc, size_t n) {
    // The runtime's word for a missing driver is "driver version is
    // insufficient"; say what is actually missing.
#ifndef RS_CUDA_EMU  // the emulator (tests/model/cuda_emu) needs no driver
    void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!drv) drv = dlopen("libcuda.so.1", RTLD_LAZY);
    if (!drv) return snprintf(desc, n, "no NVIDIA driver on this machine (libcuda.so.1 not found)"), -1;
    dlclose(drv);
#endif
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(desc, n, "no usable CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        cudaGetLastError();
        return -1;
    }
    if (count == 0) return snprintf(desc, n, "no CUDA device: the driver reports none"), -1;
    if (index < 0 || index >= count)
        return snprintf(desc, n, "cuda:%d: this machine has %d CUDA device(s) (cuda:0..cuda:%d)", index, count,
                        count - 1),
               -1;
    cudaDeviceProp p;
    if ((e = cudaGetDeviceProperties(&p, index)) != cudaSuccess)
        return snprintf(desc, n, "cuda:%d: %s", index, cudaGetErrorString(e)), cudaGetLastError(), -1;
    // No context yet (no cudaMemGetInfo): a process that forks its verifier
    // farm after choosing the device must still be small (ARCHITECTURE.md,
    // "Grading": fork before load); free memory is checked at model_new.
    int cc = p.major * 10 + p.minor;
    snprintf(desc, n, "cuda:%d %s, sm_%d, %.1f GiB", index, p.name, cc, p.totalGlobalMem / 1073741824.0);
    if (cc < RS_CUDA_ARCH) {
        size_t k = strlen(desc);
        snprintf(desc + k, n - k, ": this build's kernels need sm_%d or newer (rebuild with CUDA_ARCH=%d)",
                 RS_CUDA_ARCH, cc);
        return -1;
    }
    return 0;
}

// Recorded only: ctx_new makes it current (creating the CUDA context then,
// after any fork of the verifier farm).
extern "C" void model_cuda_set_device(int index) { g_device = index; }

static const ModelOps CUDA_OPS = {
    /* name */ "cuda",
    /* split_decode */ 0,
    /* host_memory */ 0,
    cuda_ctx_new,
    cuda_ctx_free,
    cuda_alloc,
    cuda_free,
    cuda_upload,
    cuda_download,
    cuda_copy,
    cuda_zero,
    cuda_sync,
    cuda_error,
    cuda_add,
    cuda_accumulate,
    cuda_scale,
    cuda_embedding_forward,
    cuda_embedding_backward,
    cuda_rmsnorm_forward,
    cuda_rmsnorm_backward,
    cuda_matmul_forward,
    cuda_matmul_backward,
    cuda_rope_forward,
    cuda_rope_backward,
    cuda_attention_forward,
    cuda_attention_backward,
    cuda_kv_write,
    cuda_attention_decode,
    cuda_swiglu_forward,
    cuda_swiglu_backward,
    cuda_logprob_forward,
    cuda_logprob_backward,
    cuda_sumsq,
    cuda_adamw_update,
};

extern "C" const ModelOps *model_ops_cuda(void) { return &CUDA_OPS; }
