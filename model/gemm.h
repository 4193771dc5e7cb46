// gemm.h: the CPU's matrix product for decoding with fixed weights:
// out (M, N) = x (M, K) @ w (N, K)^T + bias, with w packed once into
// column panels so that no call repacks it.
//
// Why our own: a decode step multiplies a few dozen rows by every weight
// matrix, and cblas_sgemm repacks the whole weight matrix on every call;
// at 32 rows per thread OpenBLAS spent more time packing (sgemm_incopy)
// than multiplying (ARCHITECTURE.md, "Decoding on the CPU"). The weights do
// not change while a KV cache lives (model/model.h, model_kv_new), so they
// are packed once per cache and every step only streams them.
//
// Layout: panels of GEMM_NR = 16 output columns; panel p holds, for k = 0
// .. K-1, the 16 weights w[p*16 + j][k] side by side (zero past N). A row
// of x is then broadcast against one or two panels per k: 8 x 32 register
// tiles on AVX-512, 6 x 16 on AVX2 + FMA, 4 x 16 in plain C elsewhere.
// Each output is one float32 sum over k in order (FMA where the ISA has it),
// so results match a BLAS to float rounding, not bit for bit.
#pragma once
#include <stddef.h>

#include "model/blas.h"

#define GEMM_NR 16

// Floats of the packed copy of a (N, K) matrix.
size_t gemm_packed_floats(int K, int N);
// dst (gemm_packed_floats(K, N), 64-byte aligned) = w (N, K) in panels.
void gemm_pack(float *dst, const float *w, int K, int N);
// out (M, N) = x (M, K) @ w^T + bias (N, or NULL), wp = gemm_pack(w).
// Splits the column panels across OpenMP threads when `parallel` and the
// product is big enough (inside a parallel region it runs on the caller).
void gemm_packed(float *out, const float *x, const float *wp, const float *bias, int M, int K, int N,
                 int parallel);

// The kernel gemm_packed runs: the best of AVX-512, AVX2 or plain C that the
// CPU supports. Tests set another (no better than the CPU's) to compare them;
// returns the one in force after the call.
ModelIsa gemm_isa(void);
ModelIsa gemm_set_isa(ModelIsa isa);
