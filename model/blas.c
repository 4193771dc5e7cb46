// blas.c: GEMM kernels chosen by CPU features at start-up, and the sgemm
// peak (see blas.h for the design and why it re-executes).
//   build/reasoner version        # prints the BLAS, its core, the ISA, GFLOP/s
#include "model/blas.h"

#include <cblas.h>
#include <omp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"

// OpenBLAS extensions, weak so that another CBLAS links and is reported as
// unknown instead of failing to link.
#pragma weak openblas_get_corename
#pragma weak openblas_get_config
#pragma weak openblas_set_num_threads

extern char **environ;

#define ENV_MARK "REASONER_BLAS_CORE"
#define ENV_PROBE "REASONER_BLAS_PROBE"

static ModelBlasInfo g_info;  // written once, before main

const ModelBlasInfo *model_blas_info(void) { return &g_info; }

const char *model_isa_name(ModelIsa isa) {
    switch (isa) {
    case MODEL_ISA_SSE: return "sse";
    case MODEL_ISA_AVX: return "avx";
    case MODEL_ISA_AVX2: return "avx2";
    case MODEL_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

ModelIsa model_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();  // we may run before libgcc's own constructor
    // libgcc sets the AVX/AVX-512 bits only when XGETBV says the OS saves
    // the registers. OpenBLAS's SkylakeX kernels use AVX-512 F/BW/DQ/VL.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return MODEL_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MODEL_ISA_AVX2;
    if (__builtin_cpu_supports("avx")) return MODEL_ISA_AVX;
    return MODEL_ISA_SSE;
#else
    return MODEL_ISA_UNKNOWN;
#endif
}

// OpenBLAS x86-64 core names (DYNAMIC_ARCH, 0.3.x) by the ISA of their sgemm
// kernels. Piledriver..Excavator run FMA3 kernels: counted with AVX2 so that
// reasoner never swaps AMD's own tuned kernels for Intel's.
static const struct {
    const char *name;
    ModelIsa isa;
} CORES[] = {
    {"Katmai", MODEL_ISA_SSE},       {"Coppermine", MODEL_ISA_SSE},  {"Northwood", MODEL_ISA_SSE},
    {"Prescott", MODEL_ISA_SSE},     {"Banias", MODEL_ISA_SSE},      {"Athlon", MODEL_ISA_SSE},
    {"Opteron", MODEL_ISA_SSE},      {"Opteron_SSE3", MODEL_ISA_SSE}, {"Barcelona", MODEL_ISA_SSE},
    {"Bobcat", MODEL_ISA_SSE},       {"Nano", MODEL_ISA_SSE},        {"Core2", MODEL_ISA_SSE},
    {"Penryn", MODEL_ISA_SSE},       {"Dunnington", MODEL_ISA_SSE},  {"Nehalem", MODEL_ISA_SSE},
    {"Atom", MODEL_ISA_SSE},         {"Sandybridge", MODEL_ISA_AVX}, {"Bulldozer", MODEL_ISA_AVX},
    {"Piledriver", MODEL_ISA_AVX2},  {"Steamroller", MODEL_ISA_AVX2}, {"Excavator", MODEL_ISA_AVX2},
    {"Haswell", MODEL_ISA_AVX2},     {"Zen", MODEL_ISA_AVX2},        {"SkylakeX", MODEL_ISA_AVX512},
    {"Cooperlake", MODEL_ISA_AVX512}, {"SapphireRapids", MODEL_ISA_AVX512},
};

ModelIsa model_blas_core_isa(const char *core) {
    for (size_t i = 0; core && i < RS_ARRAY_LEN(CORES); i++)
        if (!strcasecmp(core, CORES[i].name)) return CORES[i].isa;
    return MODEL_ISA_UNKNOWN;
}

static const char *best_core_for(ModelIsa isa) {
    switch (isa) {
    case MODEL_ISA_AVX512: return "SkylakeX";
    case MODEL_ISA_AVX2: return "Haswell";
    case MODEL_ISA_AVX: return "Sandybridge";
    default: return "";  // baseline: whatever OpenBLAS picked is as good as any
    }
}

// Peak FLOP/cycle per core by ISA (vector width x FMA x 2 units), for the
// "expected" cost in warnings; Zen 4 runs AVX-512 at AVX2's rate, hence "up to".
static int isa_gap(ModelIsa have, ModelIsa best) { return 1 << (best > have ? best - have : 0); }

int model_blas_plan(const char *corename, int dynamic, ModelIsa cpu, const char *env_core,
                    const char *env_mark, ModelBlasInfo *o) {
    char name[sizeof o->name];
    memcpy(name, o->name, sizeof name);
    memset(o, 0, sizeof *o);
    memcpy(o->name, name, sizeof name);
    o->cpu_isa = cpu;
    o->core_isa = MODEL_ISA_UNKNOWN;
    snprintf(o->core, sizeof o->core, "%s", corename ? corename : "?");
    if (!corename) {
        o->differs = 1;
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: the BLAS is not OpenBLAS: its GEMM kernels cannot be identified or "
                 "steered; this CPU supports %s (see `reasoner version` for the measured GFLOP/s)",
                 model_isa_name(cpu));
        return 0;
    }
    o->steerable = dynamic;
    o->core_isa = model_blas_core_isa(corename);
    int ours = env_core && env_mark && !strcmp(env_core, env_mark);
    o->user_forced = env_core && *env_core && !ours;
    o->switched = ours;
    if (o->core_isa == MODEL_ISA_UNKNOWN || cpu == MODEL_ISA_UNKNOWN) {
        o->differs = 1;
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: OpenBLAS core '%s' on a CPU with %s: not a combination reasoner knows, "
                 "kernels left as they are",
                 corename, model_isa_name(cpu));
        return 0;
    }
    if (o->user_forced && model_blas_core_isa(env_core) == MODEL_ISA_UNKNOWN)
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: OPENBLAS_CORETYPE=%s is not an OpenBLAS core type: OpenBLAS ignored it "
                 "and runs its %s kernels",
                 env_core, corename);
    if (o->core_isa > cpu) {  // only a forced core gets here
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: OpenBLAS runs %s kernels (%s) but this CPU supports only %s: expect "
                 "illegal-instruction crashes; unset OPENBLAS_CORETYPE",
                 corename, model_isa_name(o->core_isa), model_isa_name(cpu));
        return 0;
    }
    if (o->core_isa == cpu) return 0;
    o->differs = 1;
    snprintf(o->best_core, sizeof o->best_core, "%s", best_core_for(cpu));
    int gap = isa_gap(o->core_isa, cpu);
    if (o->user_forced)
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: OPENBLAS_CORETYPE=%s set by the user, kept: its %s kernels are expected "
                 "to run up to %dx below the %s kernels (%s) this CPU supports; unset it to let "
                 "reasoner choose (`reasoner version` measures both)",
                 env_core, model_isa_name(o->core_isa), gap, model_isa_name(cpu), o->best_core);
    else if (!dynamic)
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: OpenBLAS runs %s kernels (%s), up to %dx below the %s kernels this CPU "
                 "supports, and cannot be steered (built without DYNAMIC_ARCH)",
                 corename, model_isa_name(o->core_isa), gap, model_isa_name(cpu));
    else if (ours)
        snprintf(o->warning, sizeof o->warning,
                 "reasoner: set OPENBLAS_CORETYPE=%s but OpenBLAS runs %s kernels (%s), up to %dx "
                 "below what this CPU supports",
                 env_core, corename, model_isa_name(o->core_isa), gap);
    else
        return 1;  // switch to best_core
    return 0;
}

// ---------------------------------------------------------------------------
// The sgemm peak

// One window of `secs`: every thread's products over the window's wall time.
static double peak_window(double secs) {
    const int n = 1024;
    if (openblas_set_num_threads) openblas_set_num_threads(1);  // the op table's setting
    double flops = 0, t0 = 0, el = 1;
#pragma omp parallel reduction(+ : flops)
    {
        float *a = xmalloc((size_t)n * n * sizeof(float)), *b = xmalloc((size_t)n * n * sizeof(float)),
              *c = xmalloc((size_t)n * n * sizeof(float));
        for (int i = 0; i < n * n; i++) a[i] = (float)(i % 7) * 0.01f, b[i] = (float)(i % 5) * 0.01f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);  // warm
#pragma omp barrier
#pragma omp single
        t0 = rs_now();
        do {  // implicit barrier after single: every thread starts together
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            flops += 2.0 * n * n * n;
        } while (rs_now() - t0 < secs);
#pragma omp barrier
#pragma omp single
        el = rs_now() - t0;
        free(a), free(b), free(c);
    }
    return flops / el;
}

// The best of three windows: another process on a shared machine only ever
// lowers a window's rate, and a peak taken from one unlucky window would
// make every MFU printed against it look better than it is.
double model_cpu_peak_flops(double secs) {
    double best = 0;
    for (int w = 0; w < 3; w++) {
        double f = peak_window(secs / 3);
        best = RS_MAX(best, f);
    }
    return best;
}

// Run this program again with the given core type and ENV_PROBE set; its
// constructor prints "<core> <flop/s>" and exits before main.
double model_cpu_peak_flops_core(const char *core, double secs) {
    ModelIsa isa = model_blas_core_isa(core);
    if (!g_info.steerable || isa == MODEL_ISA_UNKNOWN || isa > g_info.cpu_isa) return 0;
    if (!strcasecmp(core, g_info.core)) return model_cpu_peak_flops(secs);
    size_t n = 0;
    while (environ[n]) n++;
    char **env = xcalloc(n + 4, sizeof *env), set_core[96], set_mark[96], set_probe[64];
    snprintf(set_core, sizeof set_core, "OPENBLAS_CORETYPE=%s", core);
    snprintf(set_mark, sizeof set_mark, ENV_MARK "=%s", core);
    snprintf(set_probe, sizeof set_probe, ENV_PROBE "=%g", secs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) && strncmp(environ[i], ENV_MARK "=", sizeof ENV_MARK) &&
            strncmp(environ[i], ENV_PROBE "=", sizeof ENV_PROBE))
            env[k++] = environ[i];
    env[k++] = set_core, env[k++] = set_mark, env[k++] = set_probe;
    int fd[2];
    double flops = 0;
    if (pipe(fd) != 0) return free(env), 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    char *argv[] = {"reasoner-blas-probe", NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env) == 0) {
        close(fd[1]);
        char buf[128] = {0}, got[64];
        size_t len = 0;
        ssize_t r;
        while (len + 1 < sizeof buf && (r = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
        int st = 0;
        waitpid(pid, &st, 0);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sscanf(buf, "%63s %lf", got, &flops) == 2 &&
              !strcasecmp(got, core)))
            flops = 0;  // crashed, or OpenBLAS did not take the core type
    } else {
        close(fd[1]);
    }
    close(fd[0]);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    return flops;
}

double model_cpu_best_peak_flops(double secs) {
    if (g_info.differs && g_info.best_core[0]) {
        double f = model_cpu_peak_flops_core(g_info.best_core, secs);
        if (f > 0) return f;
    }
    return model_cpu_peak_flops(secs);
}

// ---------------------------------------------------------------------------
// Start-up. glibc passes (argc, argv, envp) to constructors.

__attribute__((constructor)) static void blas_startup(int argc, char **argv, char **envp) {
    const char *corename = openblas_get_corename ? openblas_get_corename() : NULL;
    const char *config = openblas_get_config ? openblas_get_config() : NULL;
    const char *probe = getenv(ENV_PROBE);
    if (probe) {  // a child of model_cpu_peak_flops_core: measure, report, leave
        printf("%s %.6g\n", corename ? corename : "?", model_cpu_peak_flops(atof(probe)));
        fflush(stdout);
        _exit(0);
    }
    if (config) {
        // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64"
        const char *sp = strchr(config, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        snprintf(g_info.name, sizeof g_info.name, "%.*s%s", sp ? (int)(sp - config) : (int)strlen(config), config,
                 strstr(config, "DYNAMIC_ARCH") ? " DYNAMIC_ARCH" : "");
    } else {
        snprintf(g_info.name, sizeof g_info.name, "%s", corename ? "OpenBLAS" : "unknown BLAS");
    }
    int dynamic = config && strstr(config, "DYNAMIC_ARCH") != NULL;
    const char *env_core = getenv("OPENBLAS_CORETYPE"), *env_mark = getenv(ENV_MARK);
    if (model_blas_plan(corename, dynamic, model_cpu_isa(), env_core, env_mark, &g_info)) {
        setenv("OPENBLAS_CORETYPE", g_info.best_core, 1);
        setenv(ENV_MARK, g_info.best_core, 1);
        if (argv && argc > 0) execv("/proc/self/exe", argv);
        // exec failed (no /proc, binary replaced): carry on with the old kernels
        snprintf(g_info.warning, sizeof g_info.warning,
                 "reasoner: OpenBLAS runs %s kernels (%s) on a CPU with %s and re-running with "
                 "OPENBLAS_CORETYPE=%s failed: expect up to %dx fewer FLOP/s",
                 g_info.core, model_isa_name(g_info.core_isa), model_isa_name(g_info.cpu_isa), g_info.best_core,
                 isa_gap(g_info.core_isa, g_info.cpu_isa));
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv(ENV_MARK);
    }
    if (g_info.warning[0]) fprintf(stderr, "%s\n", g_info.warning);
    (void)envp;
}
