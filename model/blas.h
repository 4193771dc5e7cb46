// blas.h: which GEMM kernels the CPU backend runs, chosen by the CPU's
// features, and the sgemm peak that MFU is measured against.
//
// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels from the
// CPU's model name at load time. A CPU it does not know (a cloud VM that
// reports "Intel(R) Xeon(R) Processor") gets the SSE3 `Prescott` kernels:
// ~6x below what an AVX-512 core runs. At start-up, in a constructor that
// runs before main (so in `reasoner`, every test and every bench), reasoner
// compares the kernels in use with the CPU's best ISA (CPUID and XGETBV: the
// OS must save the vector state) and, when they are worse, sets
// OPENBLAS_CORETYPE to the core of that ISA (AVX-512: SkylakeX, AVX2+FMA:
// Haswell, AVX: Sandybridge) and re-executes the program once.
//
// Why re-exec: OpenBLAS reads OPENBLAS_CORETYPE in its own constructor,
// before any of ours runs, and has no public call to switch kernels later.
// Re-exec uses only that documented variable, works with the library as
// Debian ships it, and costs one exec (milliseconds) on the CPUs that need
// it and nothing elsewhere. (Rejected: dlopen after setenv means resolving
// every cblas symbol by hand in every binary; BLIS is not installed here;
// swapping OpenBLAS's internal `gotoblas` table relies on undocumented
// internals; own micro-kernels are a project of their own.)
//
// Bad input. A user-set OPENBLAS_CORETYPE is kept, with one warning line on
// stderr when it is worse than (or beyond) what the CPU supports. A BLAS
// that is not a DYNAMIC_ARCH OpenBLAS cannot be steered: one warning line
// when its kernels look worse than the CPU allows, or when they cannot be
// identified. Nothing is guessed silently. REASONER_BLAS_CORE marks the core
// type reasoner itself set, so child processes do not mistake it for the
// user's.
//
// Thread-safety: model_blas_info is filled once before main; the peak
// functions run BLAS on every OpenMP thread and must not overlap other ops.
#pragma once

typedef enum {
    MODEL_ISA_UNKNOWN = -1,
    MODEL_ISA_SSE = 0,     // baseline x86-64 (SSE2/SSE3)
    MODEL_ISA_AVX = 1,     // 8-wide, no FMA
    MODEL_ISA_AVX2 = 2,    // AVX2 + FMA3
    MODEL_ISA_AVX512 = 3,  // AVX-512F
} ModelIsa;

typedef struct ModelBlasInfo {
    char name[96];       // "OpenBLAS 0.3.21 DYNAMIC_ARCH", or "unknown BLAS"
    char core[32];       // kernels in use ("SkylakeX"); "?" when unknown
    ModelIsa core_isa;   // the ISA those kernels are written for
    ModelIsa cpu_isa;    // the best ISA this CPU and OS support
    char best_core[32];  // the OpenBLAS core for cpu_isa ("" when none is better)
    int steerable;       // 1: OpenBLAS with DYNAMIC_ARCH (OPENBLAS_CORETYPE works)
    int user_forced;     // 1: OPENBLAS_CORETYPE was set by the user and kept
    int switched;        // 1: reasoner set the core type at start-up
    int differs;         // 1: core_isa < cpu_isa (or unknown): not the best kernels
    char warning[320];   // the one warning line printed at start-up, or ""
} ModelBlasInfo;

// What start-up found and did (filled before main; never NULL).
const ModelBlasInfo *model_blas_info(void);
// "sse", "avx", "avx2", "avx512", "unknown".
const char *model_isa_name(ModelIsa isa);
// The best ISA of this CPU (CPUID + OS support).
ModelIsa model_cpu_isa(void);
// The ISA of an OpenBLAS core name ("Haswell" -> AVX2); UNKNOWN for names
// OpenBLAS does not have.
ModelIsa model_blas_core_isa(const char *core);

// The decision made at start-up, as a pure function (tests drive it).
// corename: what the BLAS reports (NULL: not OpenBLAS); dynamic: DYNAMIC_ARCH;
// env_core: OPENBLAS_CORETYPE (NULL: unset); env_mark: REASONER_BLAS_CORE.
// Fills out (name excepted) and returns 1 when the program should set
// OPENBLAS_CORETYPE=out->best_core and re-exec, else 0; out->warning is
// the line to print ("" for none).
int model_blas_plan(const char *corename, int dynamic, ModelIsa cpu, const char *env_core,
                    const char *env_mark, ModelBlasInfo *out);

// Peak sgemm FLOP/s with the kernels in use, measured the way the CPU ops
// run BLAS: every OpenMP thread multiplies its own 1024^2 matrices with a
// single-threaded cblas_sgemm, for about `secs` seconds (>= one product per
// thread), the best of three windows. The MFU denominator.
double model_cpu_peak_flops(double secs);
// The same measured with another OpenBLAS core type, in a child process
// (this program re-run with OPENBLAS_CORETYPE=core; its constructor measures
// and exits before main). Returns 0 when that cannot run (no /proc/self/exe,
// a BLAS that cannot be steered, a core the CPU lacks).
double model_cpu_peak_flops_core(const char *core, double secs);
// The peak of the best kernels the CPU supports: model_cpu_peak_flops when
// they are in use, else model_cpu_peak_flops_core(best_core) (falling back to
// the kernels in use when that fails).
double model_cpu_best_peak_flops(double secs);
