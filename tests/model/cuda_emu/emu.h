// emu.h: just enough of CUDA and cuBLASLt, on the CPU, to run
// model/cuda/ops_cuda.cu's kernels where there is no GPU
// (tests/model/test_cuda_emu.sh). Each block runs as blockDim.x host threads,
// one block at a time; __syncthreads is a barrier over the block, warp
// shuffles exchange through a per-warp buffer between two barriers over the
// warp's 32 threads. So it checks the kernels' arithmetic, indexing, masks and
// tiling, and that every lane of a warp (every thread of a block) reaches the
// same shuffles (barriers) — a divergent shuffle deadlocks here (the test's
// timeout reports it) as it would misbehave on a GPU. It says nothing about
// speed, memory coalescing, or what only hardware does (races between blocks
// that run concurrently on a GPU are not exercised). cuBLASLt's matmul is a
// plain loop that honours the layouts, transposes and operand types
// (bf16 operands are rounded as the GPU's are). Not part of the product.
#pragma once
#include <setjmp.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

using std::max;
using std::min;

// --- execution model -------------------------------------------------------
// One OS thread. A block's threads are fibers (makecontext to start, then
// _setjmp/_longjmp to switch: no system call per switch); a fiber runs until
// it waits at a barrier or returns, and the scheduler resumes the others in
// turn. A pass over the fibers in which no barrier opens and no fiber moves
// on is a deadlock: some thread of the block (lane of the warp) skipped a
// barrier (shuffle) the others wait at.
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline dim3 threadIdx, blockIdx, gridDim, blockDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static  // function-local: shared by the block's threads (blocks run one at a time)
inline float __uint_as_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline uint32_t __float_as_uint(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

struct EmuBarrier {
    unsigned live, arrived, gen;
};
struct EmuFibers {
    enum { MAXT = 1024, STACK = 64 * 1024 };
    char *stacks = nullptr;
    ucontext_t start[MAXT];
    jmp_buf jb[MAXT], sched;
    bool started[MAXT], done[MAXT];
    unsigned nt = 0, cur = 0;
    bool progress = false;
    EmuBarrier block, warp[32];
    uint64_t buf[32][32];  // shuffle exchange, per warp and lane
    const std::function<void()> *fn = nullptr;
};
inline EmuFibers emu_f;
alignas(16) inline float emu_dyn_smem[65536];  // the block's dynamic shared memory (256 KiB)

inline void emu_yield() {
    if (!_setjmp(emu_f.jb[emu_f.cur])) _longjmp(emu_f.sched, 1);
}

inline void emu_wait(EmuBarrier &b) {
    unsigned g = b.gen;
    if (++b.arrived == b.live) b.arrived = 0, b.gen++, emu_f.progress = true;
    while (b.gen == g) emu_yield();
    emu_f.progress = true;
}

// An exited thread no longer holds up the others (as on a GPU).
inline void emu_leave(EmuBarrier &b) {
    b.live--;
    if (b.arrived && b.arrived == b.live) b.arrived = 0, b.gen++;
}

inline void emu_fiber_main() {
    (*emu_f.fn)();
    unsigned t = emu_f.cur;
    emu_f.done[t] = true, emu_f.progress = true;
    emu_leave(emu_f.block);
    emu_leave(emu_f.warp[t / 32]);
    _longjmp(emu_f.sched, 1);
}

inline void __syncthreads() { emu_wait(emu_f.block); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_wait(emu_f.warp[threadIdx.x / 32]); }

template <class T>
inline T emu_shfl(T v, int src) {
    unsigned w = threadIdx.x / 32;
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    emu_f.buf[w][threadIdx.x % 32] = bits;
    emu_wait(emu_f.warp[w]);
    uint64_t got = emu_f.buf[w][src & 31];
    emu_wait(emu_f.warp[w]);
    T r;
    memcpy(&r, &got, sizeof r);
    return r;
}
template <class T> inline T __shfl_sync(unsigned, T v, int src) { return emu_shfl(v, src); }
template <class T> inline T __shfl_xor_sync(unsigned, T v, int o) { return emu_shfl(v, (int)(threadIdx.x % 32) ^ o); }

// Run fn once per thread of every block of grid, with smem bytes of dynamic
// shared memory.
inline void emu_run(dim3 grid, dim3 block, size_t smem, const std::function<void()> &fn) {
    EmuFibers &F = emu_f;
    unsigned nt = block.x;
    if (nt % 32 || nt > EmuFibers::MAXT || block.y != 1 || block.z != 1 || smem > sizeof emu_dyn_smem) {
        fprintf(stderr, "emu: block (%u, %u, %u) with %zu bytes of shared memory not supported\n", block.x, block.y,
                block.z, smem);
        abort();
    }
    if (!F.stacks) F.stacks = (char *)malloc((size_t)EmuFibers::MAXT * EmuFibers::STACK);
    gridDim = grid, blockDim = block, F.fn = &fn, F.nt = nt;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx = dim3(x, y, z);
                F.block = {nt, 0, 0};
                for (unsigned w = 0; w < nt / 32; w++) F.warp[w] = {32, 0, 0};
                memset(emu_dyn_smem, 0xff, smem);  // garbage, as on a GPU: NaNs if read unwritten
                for (unsigned t = 0; t < nt; t++) F.started[t] = F.done[t] = false;
                for (unsigned left = nt; left;) {
                    F.progress = false;
                    for (unsigned t = 0; t < nt; t++) {
                        if (F.done[t]) continue;
                        F.cur = t, threadIdx = dim3(t);
                        if (_setjmp(F.sched)) continue;  // the fiber yielded or finished
                        if (F.started[t]) _longjmp(F.jb[t], 1);
                        F.started[t] = true;
                        getcontext(&F.start[t]);
                        F.start[t].uc_stack.ss_sp = F.stacks + (size_t)t * EmuFibers::STACK;
                        F.start[t].uc_stack.ss_size = EmuFibers::STACK;
                        F.start[t].uc_link = nullptr;
                        makecontext(&F.start[t], emu_fiber_main, 0);
                        setcontext(&F.start[t]);
                    }
                    left = 0;
                    for (unsigned t = 0; t < nt; t++) left += !F.done[t];
                    if (left && !F.progress) {
                        fprintf(stderr, "emu: deadlock in block (%u, %u, %u): threads wait at different barriers\n",
                                x, y, z);
                        abort();
                    }
                }
            }
}

// --- bf16 ----------------------------------------------------------------------
struct __nv_bfloat16 {
    uint16_t x;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1);  // round to nearest even (finite inputs)
    return __nv_bfloat16{(uint16_t)(u >> 16)};
}
inline float emu_bf16_to_float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// --- runtime -------------------------------------------------------------------
typedef enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorNoDevice = 100 } cudaError_t;
typedef enum { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice } cudaMemcpyKind;
typedef int *cudaStream_t;
enum { cudaStreamNonBlocking = 1 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct cudaDeviceProp {
    char name[256];
    int major, minor;
    size_t totalGlobalMem;
};
inline const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated error" : "no error"; }
inline const char *cudaGetErrorName(cudaError_t e) { return e ? "cudaErrorEmulated" : "cudaSuccess"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int *d) { return *d = 0, cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int *n) { return *n = 1, cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    snprintf(p->name, sizeof p->name, "emulated");
    p->major = 9, p->minor = 0, p->totalGlobalMem = (size_t)1 << 34;
    return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t *f, size_t *t) { return *f = *t = (size_t)1 << 34, cudaSuccess; }
inline cudaError_t cudaMalloc(void **p, size_t n) {
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (*p) memset(*p, 0xff, n);  // fresh device memory is garbage
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void *p) { return free(p), cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t) { return memset(p, v, n), cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind, cudaStream_t) {
    return memmove(d, s, n), cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) { return *s = new int(0), cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { return delete s, cudaSuccess; }
inline cudaError_t cudaFuncSetAttribute(const void *, cudaFuncAttribute, int v) {
    return v <= (int)sizeof emu_dyn_smem ? cudaSuccess : cudaErrorMemoryAllocation;
}

// --- cuBLASLt ------------------------------------------------------------------
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_SUPPORTED = 15 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType_t;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4 } cublasLtMatmulDescAttributes_t;
typedef enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8,
} cublasLtMatmulPreferenceAttributes_t;
struct EmuLt {};
struct EmuDesc {
    int ta, tb;
};
struct EmuLayout {
    cudaDataType_t t;
    uint64_t rows, cols;
    int64_t ld;
};
typedef EmuLt *cublasLtHandle_t;
typedef EmuDesc *cublasLtMatmulDesc_t;
typedef EmuLayout *cublasLtMatrixLayout_t;
typedef int *cublasLtMatmulPreference_t;
struct cublasLtMatmulAlgo_t {
    uint64_t data[8];
};
struct cublasLtMatmulHeuristicResult_t {
    cublasLtMatmulAlgo_t algo;
};
inline const char *cublasLtGetStatusName(cublasStatus_t s) { return s ? "CUBLAS_STATUS_NOT_SUPPORTED" : "CUBLAS_STATUS_SUCCESS"; }
inline const char *cublasLtGetStatusString(cublasStatus_t s) { return s ? "not supported" : "success"; }
inline cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) { return *h = new EmuLt, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) { return delete h, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t, cudaDataType_t) {
    return *d = new EmuDesc{0, 0}, CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                                     const void *v, size_t) {
    int op = *(const int *)v;
    (a == CUBLASLT_MATMUL_DESC_TRANSA ? d->ta : d->tb) = op == CUBLAS_OP_T;
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) { return delete d, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t t, uint64_t r, uint64_t c,
                                                 int64_t ld) {
    if (ld < (int64_t)r) return CUBLAS_STATUS_NOT_SUPPORTED;  // column-major: ld >= rows
    return *l = new EmuLayout{t, r, c, ld}, CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) { return delete l, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    return *p = new int(0), CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                                                           const void *, size_t) {
    return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) { return delete p, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                     cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int,
                                                     cublasLtMatmulHeuristicResult_t *r, int *n) {
    memset(r, 0, sizeof *r);
    return *n = 1, CUBLAS_STATUS_SUCCESS;
}
inline float emu_at(const void *p, const EmuLayout *l, uint64_t r, uint64_t c) {
    size_t i = (size_t)c * l->ld + r;
    return l->t == CUDA_R_16BF ? emu_bf16_to_float(((const __nv_bfloat16 *)p)[i]) : ((const float *)p)[i];
}
// D = alpha op(A) op(B) + beta C, column-major, fp32 accumulation.
inline cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
                                     cublasLtMatrixLayout_t la, const void *B, cublasLtMatrixLayout_t lb,
                                     const void *beta, const void *C, cublasLtMatrixLayout_t lc, void *D,
                                     cublasLtMatrixLayout_t ld, const cublasLtMatmulAlgo_t *, void *, size_t,
                                     cudaStream_t) {
    uint64_t m = lc->rows, n = lc->cols, k = d->ta ? la->rows : la->cols;
    if ((d->ta ? la->cols : la->rows) != m || (d->tb ? lb->cols : lb->rows) != k || (d->tb ? lb->rows : lb->cols) != n)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    float a = *(const float *)alpha, b = *(const float *)beta;
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) {
            float s = 0;
            for (uint64_t p = 0; p < k; p++)
                s += (d->ta ? emu_at(A, la, p, i) : emu_at(A, la, i, p)) * (d->tb ? emu_at(B, lb, j, p) : emu_at(B, lb, p, j));
            float *out = (float *)D + (size_t)j * ld->ld + i;
            float c = ((const float *)C)[(size_t)j * lc->ld + i];
            *out = a * s + (b != 0 ? b * c : 0.0f);
        }
    return CUBLAS_STATUS_SUCCESS;
}
