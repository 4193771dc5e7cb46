// cmd_version.c: `reasoner version`: the version and what this build has,
// including the BLAS, the kernels it runs, the CPU's best ISA and the
// measured sgemm GFLOP/s (model/blas.h).
#include <omp.h>
#include <stdio.h>

#include "common/args.h"
#include "model/blas.h"

#define REASONER_VERSION "0.1.0"

// One or two lines on the BLAS; measuring takes about `secs` per figure.
void cli_print_blas(FILE *f, double secs) {
    const ModelBlasInfo *b = model_blas_info();
    double peak = model_cpu_peak_flops(secs);
    fprintf(f, "blas: %s, core %s (%s kernels), cpu best isa %s%s%s; sgemm %.1f GFLOP/s on %d threads\n",
            b->name, b->core, model_isa_name(b->core_isa), model_isa_name(b->cpu_isa),
            b->switched ? ", core chosen by reasoner" : "", b->user_forced ? ", core forced by OPENBLAS_CORETYPE" : "",
            peak / 1e9, omp_get_max_threads());
    if (b->differs && b->best_core[0]) {
        double best = model_cpu_peak_flops_core(b->best_core, secs);
        if (best > 0)
            fprintf(f, "blas: the %s kernels (%s) would give %.1f GFLOP/s (%.1fx)\n", b->best_core,
                    model_isa_name(b->cpu_isa), best / 1e9, best / peak);
    }
}

int cmd_version(int argc, char **argv) {
    ArgCmd cmd = {.name = "reasoner version", .summary = "Print the version and the build configuration."};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    printf("reasoner %s\n", REASONER_VERSION);
#ifdef RS_CUDA
    printf("cuda: yes\n");
#else
    printf("cuda: no\n");
#endif
#ifdef _OPENMP
    printf("openmp: yes\n");
#else
    printf("openmp: no\n");
#endif
    cli_print_blas(stdout, 0.3);
    return 0;
}
