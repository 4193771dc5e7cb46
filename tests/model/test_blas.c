// test_blas.c: the GEMM kernels chosen at start-up (model/blas.h) compute
// the right products, the choice follows the CPU's features, and the
// user's OPENBLAS_CORETYPE is kept with a warning.
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "model/blas.h"
#include "tests/test.h"

// sgemm of odd shapes (every transpose, padded leading dimensions, alpha and
// beta) against plain loops in double.
static double gemm_err(Rng *r, int ta, int tb, int M, int N, int K) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 1;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4);
    double *D = malloc(nc * 8);
    for (size_t i = 0; i < na; i++) A[i] = (float)(rng_double(r) * 2 - 1);
    for (size_t i = 0; i < nb; i++) B[i] = (float)(rng_double(r) * 2 - 1);
    for (size_t i = 0; i < nc; i++) D[i] = C[i] = (float)(rng_double(r) * 2 - 1);
    float alpha = 0.75f, beta = -0.5f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                     (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
            D[(size_t)i * ldc + j] = alpha * s + beta * D[(size_t)i * ldc + j];
        }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
    // Error relative to the scale of a dot product of K terms in [-1, 1].
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double e = fabs(C[(size_t)i * ldc + j] - D[(size_t)i * ldc + j]) / sqrt((double)K + 1);
            worst = e > worst ? e : worst;
        }
    free(A), free(B), free(C), free(D);
    return worst;
}

TEST(sgemm_matches_double_reference_on_odd_shapes) {
    Rng r;
    rng_seed(&r, 12);
    const int shapes[][3] = {{1, 1, 1}, {1, 257, 33}, {37, 1, 129}, {63, 65, 17}, {130, 67, 515}, {17, 300, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                double e = gemm_err(&r, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2]);
                CHECK_MSG(e < 1e-6, "sgemm %dx%dx%d ta %d tb %d: error %.3g (core %s)", shapes[s][0],
                          shapes[s][1], shapes[s][2], ta, tb, e, model_blas_info()->core);
            }
}

TEST(the_kernels_in_use_match_the_cpu) {
    const ModelBlasInfo *b = model_blas_info();
    printf("    %s, core %s (%s), cpu %s%s\n", b->name, b->core, model_isa_name(b->core_isa),
           model_isa_name(b->cpu_isa), b->switched ? ", chosen by reasoner" : "");
    CHECK(b->cpu_isa == model_cpu_isa());
    // Unless the user forced a core or the BLAS cannot be steered (each
    // announced by a warning line), start-up left the best kernels in place.
    if (!b->user_forced && b->steerable) CHECK_EQ(b->core_isa, b->cpu_isa);
    if (b->differs) CHECK(b->warning[0] != 0);
}

TEST(plan_follows_features_not_names) {
    ModelBlasInfo o = {0};
    // The VM: OpenBLAS falls back to Prescott on an AVX-512 Xeon.
    CHECK_EQ(model_blas_plan("Prescott", 1, MODEL_ISA_AVX512, NULL, NULL, &o), 1);
    CHECK(!strcmp(o.best_core, "SkylakeX"));
    CHECK_EQ(o.warning[0], 0);
    CHECK_EQ(model_blas_plan("Nehalem", 1, MODEL_ISA_AVX2, NULL, NULL, &o), 1);
    CHECK(!strcmp(o.best_core, "Haswell"));
    CHECK_EQ(model_blas_plan("Core2", 1, MODEL_ISA_AVX, NULL, NULL, &o), 1);
    CHECK(!strcmp(o.best_core, "Sandybridge"));
    // Known CPUs: kernels at the CPU's level are kept.
    CHECK_EQ(model_blas_plan("Cooperlake", 1, MODEL_ISA_AVX512, NULL, NULL, &o), 0);
    CHECK(!o.differs && !o.warning[0]);
    CHECK_EQ(model_blas_plan("Zen", 1, MODEL_ISA_AVX2, NULL, NULL, &o), 0);
    CHECK(!o.differs && !o.warning[0]);
    CHECK_EQ(model_blas_plan("Prescott", 1, MODEL_ISA_SSE, NULL, NULL, &o), 0);
    CHECK(!o.differs);
    // After our own re-exec the marker matches: no loop, no warning.
    CHECK_EQ(model_blas_plan("SkylakeX", 1, MODEL_ISA_AVX512, "SkylakeX", "SkylakeX", &o), 0);
    CHECK(o.switched && !o.user_forced && !o.warning[0]);
    // ... and when OpenBLAS did not take it, a warning instead of a loop.
    CHECK_EQ(model_blas_plan("Prescott", 1, MODEL_ISA_AVX512, "SkylakeX", "SkylakeX", &o), 0);
    CHECK(o.warning[0] != 0);
}

TEST(plan_bad_input_keeps_the_choice_and_warns_once) {
    ModelBlasInfo o = {0};
    CHECK_EQ(model_blas_plan("Prescott", 1, MODEL_ISA_AVX512, "Prescott", NULL, &o), 0);
    CHECK(o.user_forced && o.differs && strstr(o.warning, "up to 8x") && strstr(o.warning, "SkylakeX"));
    // A user-set core equal to the best costs nothing: no warning.
    CHECK_EQ(model_blas_plan("SkylakeX", 1, MODEL_ISA_AVX512, "SkylakeX", NULL, &o), 0);
    CHECK(!o.warning[0]);
    // A marker from another choice does not make the user's value ours.
    CHECK_EQ(model_blas_plan("Haswell", 1, MODEL_ISA_AVX512, "Haswell", "SkylakeX", &o), 0);
    CHECK(o.user_forced && strstr(o.warning, "up to 2x"));
    CHECK_EQ(model_blas_plan("SkylakeX", 1, MODEL_ISA_AVX2, "SkylakeX", NULL, &o), 0);
    CHECK(strstr(o.warning, "illegal-instruction") != NULL);
    // Not steerable, not OpenBLAS, or a core nobody knows: warn, don't guess.
    CHECK_EQ(model_blas_plan("Prescott", 0, MODEL_ISA_AVX512, NULL, NULL, &o), 0);
    CHECK(strstr(o.warning, "DYNAMIC_ARCH") != NULL);
    CHECK_EQ(model_blas_plan(NULL, 0, MODEL_ISA_AVX2, NULL, NULL, &o), 0);
    CHECK(o.differs && strstr(o.warning, "not OpenBLAS"));
    CHECK_EQ(model_blas_plan("Neoverse", 1, MODEL_ISA_AVX2, NULL, NULL, &o), 0);
    CHECK(o.differs && o.warning[0]);
    CHECK_EQ(model_blas_core_isa("haswell"), MODEL_ISA_AVX2);
    CHECK_EQ(model_blas_core_isa("nonsense"), MODEL_ISA_UNKNOWN);
}

// The start-up path for real: this test program re-run with a forced core.
TEST(a_forced_core_is_kept_with_one_warning_line) {
    const ModelBlasInfo *b = model_blas_info();
    if (!b->steerable || b->cpu_isa <= MODEL_ISA_SSE) {
        printf("    skipped: needs a DYNAMIC_ARCH OpenBLAS on a CPU above SSE\n");
        return;
    }
    char self[1024] = {0}, cmd[1200];
    REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Prescott REASONER_BLAS_CORE= '%s' no_test_has_this_name 2>&1", self);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    char line[512];
    int warnings = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, "reasoner:")) {
            warnings++;
            CHECK(strstr(line, "OPENBLAS_CORETYPE=Prescott set by the user, kept") != NULL);
        }
    CHECK_EQ(pclose(p), 0);
    CHECK_EQ(warnings, 1);
}

TEST(peak_of_another_core_in_a_child) {
    const ModelBlasInfo *b = model_blas_info();
    CHECK(model_cpu_peak_flops(0.02) > 1e8);
    CHECK(model_cpu_peak_flops_core("NoSuchCore", 0.02) == 0);
    if (!b->steerable) return;
    CHECK(model_cpu_peak_flops_core("Prescott", 0.02) > 1e8);  // every x86-64 runs SSE kernels
    if (b->cpu_isa < MODEL_ISA_AVX512) CHECK(model_cpu_peak_flops_core("SkylakeX", 0.02) == 0);
    CHECK(model_cpu_best_peak_flops(0.02) > 1e8);
}
