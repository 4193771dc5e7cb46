// train_step.c: one full training step (forward, backward, AdamW) of a
// d_model 512, 8-layer model at sequence length 512, three ways in one run:
//   - peak: cblas_sgemm on 1024^2 products, one per OpenMP thread (the
//     op table's threading; the ceiling any step could reach);
//   - reasoner: the CPU op table (cblas_sgemm blocks under OpenMP);
//   - naive: the same model and step with matrix products and attention as
//     plain loops, the way llm.c's CPU reference (train_gpt2.c) writes them.
// Prints achieved FLOP/s (6 * params * tokens + attention, the nanoGPT/llm.c
// MFU count) over the sgemm peak of the kernels in use and, when they are
// not the CPU's best, over the best kernels' peak (target >= 75%); the peak
// of every OpenBLAS core type (to check the kernels chosen at start-up are
// within 10% of the best); and the speedup over the naive step (>= 5x).
//   make build/bench/train_step && build/bench/train_step [--batch 2] [--steps 3] [--naive 0] [--sweep 0]
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "common/base.h"
#include "model/blas.h"
#include "model/model.h"

// ---------------------------------------------------------------------------
// The naive backend: the CPU table with llm.c-style loops for the matrix
// products and attention.

static void naive_matmul_forward(OpCtx *cx, float *out, const float *inp, const float *w,
                                 const float *bias, int N, int IC, int OC) {
#pragma omp parallel for collapse(2)
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            float s = bias ? bias[o] : 0.0f;
            const float *x = inp + (size_t)i * IC, *wr = w + (size_t)o * IC;
            for (int k = 0; k < IC; k++) s += x[k] * wr[k];
            out[(size_t)i * OC + o] = s;
        }
}

static void naive_matmul_backward(OpCtx *cx, float *dinp, float *dw, float *dbias,
                                  const float *dout, const float *inp, const float *w, int N,
                                  int IC, int OC) {
    if (dinp) {
#pragma omp parallel for
        for (int i = 0; i < N; i++) {
            float *d = dinp + (size_t)i * IC;
            memset(d, 0, IC * sizeof(float));
            for (int o = 0; o < OC; o++) {
                float g = dout[(size_t)i * OC + o];
                const float *wr = w + (size_t)o * IC;
                for (int k = 0; k < IC; k++) d[k] += g * wr[k];
            }
        }
    }
#pragma omp parallel for
    for (int o = 0; o < OC; o++)
        for (int i = 0; i < N; i++) {
            float g = dout[(size_t)i * OC + o];
            if (dw) {
                float *d = dw + (size_t)o * IC;
                const float *x = inp + (size_t)i * IC;
                for (int k = 0; k < IC; k++) d[k] += g * x[k];
            }
            if (dbias) dbias[o] += g;
        }
}

// Scores of query row t of head h against keys 0..t, as probabilities.
static void naive_probs(float *p, const float *qkv, int b, int t, int h, int T, int NH, int NKV,
                        int hd, const float *lse, int have_lse) {
    int W = (NH + 2 * NKV) * hd, kh = NH + h / (NH / NKV);
    const float *q = qkv + ((size_t)b * T + t) * W + h * hd;
    float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY;
    for (int s = 0; s <= t; s++) {
        const float *k = qkv + ((size_t)b * T + s) * W + kh * hd;
        float d = 0;
        for (int j = 0; j < hd; j++) d += q[j] * k[j];
        p[s] = d * scale;
        if (p[s] > mx) mx = p[s];
    }
    if (have_lse) {
        for (int s = 0; s <= t; s++) p[s] = expf(p[s] - lse[t]);
        return;
    }
    float sum = 0;
    for (int s = 0; s <= t; s++) sum += (p[s] = expf(p[s] - mx));
    for (int s = 0; s <= t; s++) p[s] /= sum;
    p[T] = mx + logf(sum);  // the row's log-sum-exp, for the caller
}

static void naive_attention_forward(OpCtx *cx, float *out, float *lse, const float *qkv, const int32_t *seg,
                                    const int32_t *pre, int B, int T, int NH, int NKV,
                                    int hd) {  // seg, pre: never packed here
    int W = (NH + 2 * NKV) * hd, G = NH / NKV;
#pragma omp parallel
    {
        float *p = xmalloc((size_t)(T + 1) * sizeof(float));
#pragma omp for collapse(3)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++) {
                    naive_probs(p, qkv, b, t, h, T, NH, NKV, hd, NULL, 0);
                    lse[((size_t)b * NH + h) * T + t] = p[T];
                    float *o = out + ((size_t)b * T + t) * NH * hd + h * hd;
                    memset(o, 0, hd * sizeof(float));
                    for (int s = 0; s <= t; s++) {
                        const float *v = qkv + ((size_t)b * T + s) * W + (NH + NKV + h / G) * hd;
                        for (int j = 0; j < hd; j++) o[j] += p[s] * v[j];
                    }
                }
        free(p);
    }
}

static void naive_attention_backward(OpCtx *cx, float *dqkv, const float *dout, const float *qkv,
                                     const float *out, const float *lse, const int32_t *seg,
                                     const int32_t *pre, int B, int T, int NH, int NKV, int hd) {
    int W = (NH + 2 * NKV) * hd, G = NH / NKV;
    float scale = 1.0f / sqrtf((float)hd);
    memset(dqkv, 0, (size_t)B * T * W * sizeof(float));
    // One (b, kv head) per thread: the heads of a group share dK, dV.
#pragma omp parallel
    {
        float *p = xmalloc((size_t)(T + 1) * sizeof(float)), *dp = xmalloc((size_t)T * sizeof(float));
#pragma omp for collapse(2)
        for (int b = 0; b < B; b++)
            for (int kh = 0; kh < NKV; kh++)
                for (int h = kh * G; h < (kh + 1) * G; h++)
                    for (int t = 0; t < T; t++) {
                        naive_probs(p, qkv, b, t, h, T, NH, NKV, hd, lse + ((size_t)b * NH + h) * T, 1);
                        const float *dO = dout + ((size_t)b * T + t) * NH * hd + h * hd;
                        const float *O = out + ((size_t)b * T + t) * NH * hd + h * hd;
                        const float *q = qkv + ((size_t)b * T + t) * W + h * hd;
                        float *dq = dqkv + ((size_t)b * T + t) * W + h * hd;
                        float D = 0;
                        for (int j = 0; j < hd; j++) D += dO[j] * O[j];
                        for (int s = 0; s <= t; s++) {
                            size_t row = ((size_t)b * T + s) * W;
                            const float *k = qkv + row + (NH + kh) * hd, *v = qkv + row + (NH + NKV + kh) * hd;
                            float *dk = dqkv + row + (NH + kh) * hd, *dv = dqkv + row + (NH + NKV + kh) * hd;
                            float d = 0;
                            for (int j = 0; j < hd; j++) d += dO[j] * v[j], dv[j] += p[s] * dO[j];
                            dp[s] = p[s] * (d - D) * scale;
                            for (int j = 0; j < hd; j++) dq[j] += dp[s] * k[j], dk[j] += dp[s] * q[j];
                        }
                    }
        free(p), free(dp);
    }
}

// ---------------------------------------------------------------------------

typedef struct {
    int batch, steps, naive, sweep;
} Opts;

// The sgemm peak of every OpenBLAS core type this CPU can run, each measured
// in a child process (model_cpu_peak_flops_core); the best of them.
static double sweep_core_types(double secs, char *best_core) {
    static const char *cores[] = {"Prescott", "Nehalem", "Sandybridge", "Haswell", "Zen", "SkylakeX", "Cooperlake"};
    double best = 0;
    printf("  sgemm peak per OpenBLAS core type (OPENBLAS_CORETYPE, child processes):\n");
    for (size_t i = 0; i < RS_ARRAY_LEN(cores); i++) {
        if (model_blas_core_isa(cores[i]) > model_blas_info()->cpu_isa) continue;
        double f = model_cpu_peak_flops_core(cores[i], secs);
        printf("    %-12s %8.1f GFLOP/s\n", cores[i], f / 1e9);
        if (f > best) best = f, strcpy(best_core, cores[i]);
    }
    return best;
}

// Seconds per step (best of `steps` after one warm-up when steps > 1) and the
// first step's loss.
static double time_steps(const ModelConfig *cfg, const ModelOps *ops, const int32_t *ids,
                         const int32_t *tg, int B, int T, int steps, double *loss0, float *gnorm0) {
    Err err;
    Model *m = model_new_on(cfg, ops, MODEL_GRADS, &err);
    RS_CHECK(m);
    model_init_random(m, 1);
    ModelAdamWConfig oc = model_adamw_defaults();
    ModelAdamW *opt = model_adamw_new(m, &oc);
    double best = 1e30;
    for (int s = 0; s < steps + (steps > 1); s++) {
        double t0 = rs_now(), loss;
        float gn;
        model_zero_grad(m);
        RS_CHECK(model_xent(m, ids, tg, NULL, B, T, 1.0f, &loss, &err) == 0);
        model_adamw_step(opt, 1e-3f, &gn);
        double dt = rs_now() - t0;
        if (s == 0) *loss0 = loss, *gnorm0 = gn;
        if (s > 0 || steps == 1) best = dt < best ? dt : best;
    }
    model_adamw_free(opt);
    model_free(m);
    return best;
}

static int parse(int argc, char **argv, Opts *o) {
    *o = (Opts){.batch = 2, .steps = 3, .naive = 1, .sweep = 1};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) o->batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) o->steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--naive")) o->naive = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sweep")) o->sweep = atoi(argv[i + 1]);
        else return -1;
    }
    return o->batch > 0 && o->steps > 0 && argc % 2 == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
    Opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: train_step [--batch N] [--steps N] [--naive 0|1] [--sweep 0|1]\n");
        return 2;
    }
    ModelConfig cfg;
    Err err;
    RS_CHECK(model_config_preset("base", &cfg, &err) == 0);
    cfg.vocab_size = 8192, cfg.max_position_embeddings = 512;
    int B = o.batch, T = 512, nt = omp_get_max_threads();
    double flops = model_config_train_flops_per_token(&cfg, T) * B * T;
    printf("train_step: d_model %d, %d layers, %d heads, ffn %d, vocab %d, %.1fM params, batch %dx%d, %d threads\n",
           cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size,
           cfg.vocab_size, model_config_num_params(&cfg) / 1e6, B, T, nt);
    int32_t *ids = xmalloc((size_t)B * T * 4), *tg = xmalloc((size_t)B * T * 4);
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)rng_below(&r, cfg.vocab_size);
    for (int i = 0; i < B * T; i++) tg[i] = i + 1 < B * T ? ids[i + 1] : 0;

    const ModelBlasInfo *bi = model_blas_info();
    printf("  blas: %s, core %s (%s kernels), cpu best isa %s%s\n", bi->name, bi->core, model_isa_name(bi->core_isa),
           model_isa_name(bi->cpu_isa), bi->switched ? " (core chosen at start-up)" : "");
    // Peaks are measured around the step and the best kept: the machine may be shared.
    double peak = model_cpu_peak_flops(1.0);
    double loss_f, loss_n = 0;
    float gn_f, gn_n = 0;
    double t_fast = time_steps(&cfg, model_ops_cpu(), ids, tg, B, T, o.steps, &loss_f, &gn_f);
    peak = RS_MAX(peak, model_cpu_peak_flops(1.0));
    double best = bi->differs ? model_cpu_best_peak_flops(1.0) : peak;
    char best_core[32] = "";
    double any = o.sweep ? sweep_core_types(0.5, best_core) : 0;
    printf("  sgemm peak, kernels in use (%d threads x 1024^2):  %8.1f GFLOP/s", nt, peak / 1e9);
    if (any > 0) printf("  (%.0f%% of the best core type, %s %.1f GFLOP/s)", 100 * peak / any, best_core, any / 1e9);
    printf("\n");
    if (best != peak) printf("  sgemm peak, best kernels the CPU supports (%s): %8.1f GFLOP/s\n", bi->best_core, best / 1e9);
    printf("  reasoner step: %7.3f s  %8.1f GFLOP/s  %.0f tokens/s  MFU %.1f%% of the sgemm peak (target >= 75%%)\n",
           t_fast, flops / t_fast / 1e9, B * T / t_fast, 100 * flops / t_fast / peak);
    if (best != peak)
        printf("                 MFU %.1f%% of the best kernels' peak (the figure that counts)\n",
               100 * flops / t_fast / best);
    if (o.naive) {
        ModelOps naive = *model_ops_cpu();
        naive.name = "naive";
        naive.matmul_forward = naive_matmul_forward;
        naive.matmul_backward = naive_matmul_backward;
        naive.attention_forward = naive_attention_forward;
        naive.attention_backward = naive_attention_backward;
        double t_naive = time_steps(&cfg, &naive, ids, tg, B, T, 1, &loss_n, &gn_n);
        printf("  naive step:    %7.3f s  %8.1f GFLOP/s  reasoner speedup %.1fx (target >= 5x)\n", t_naive,
               flops / t_naive / 1e9, t_naive / t_fast);
        printf("  same computation: loss %.6f vs %.6f, grad norm %.6f vs %.6f\n", loss_f, loss_n, gn_f, gn_n);
    }
    free(ids), free(tg);
    return !o.naive || fabs(loss_f - loss_n) < 1e-3 * fabs(loss_f) ? 0 : 1;
}
