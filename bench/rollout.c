// bench/rollout.c: sampling throughput of the rollout engine on the `small`
// preset (random weights), at batch 1, 8, 32 and 64 with a float32 KV cache
// and at 32 and 64 with a bf16 one (RolloutOpts.kv_bf16), and the cost of
// prefix sharing: G = 16 samples of a 512-token prompt against the prefill
// of one, and against 16 unshared copies — all measured in the same run.
// Each figure is the best of 3 runs (the machine may be shared). Beside
// each, the same run with decode's products as cblas_sgemm on the unpacked
// weights (the CPU table without pack_weight: model/gemm.h). The
// compute limit is 2 * params * tokens/s over the measured sgemm peak (the
// better of a measurement before the table and one after); batch 1 is set
// against the measured memory read bandwidth, since it reads every weight
// once per token.
//   make build/bench/rollout && build/bench/rollout [--batch B [--bf16]]   (B: only that batch, for profiling;
//   ROLLOUT_NEW_TOKENS=N sets its new tokens per sequence, default 256)
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "common/base.h"
#include "model/blas.h"
#include "model/model.h"
#include "rollout/rollout.h"
#include "tokenizer/bpe.h"

static Bpe *train_tokenizer(int vocab) {
    // Words built from syllables: enough distinct pairs for `vocab` merges.
    static const char *syl[] = {"ka", "to", "ri", "mu", "sen", "lo", "pa", "di", "ne", "vor", "qu", "el", "an", "st"};
    Rng r;
    rng_seed(&r, 1);
    Buf text = {0};
    for (int w = 0; w < 400000; w++) {
        int n = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < n; k++) buf_puts(&text, syl[rng_below(&r, RS_ARRAY_LEN(syl))]);
        buf_putc(&text, w % 17 == 16 ? '\n' : ' ');
    }
    Err e = {0};
    BpeTrainOpts o = {.vocab_size = vocab};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    bpe_trainer_add(t, text.data, text.len);
    Bpe *tok = bpe_trainer_finish(t, &e);
    RS_CHECK(tok);
    bpe_trainer_free(t);
    buf_free(&text);
    return tok;
}

// Seconds to generate n_new tokens for each of n_prompts prompts of len tokens
// (G samples each) at the given batch, with a float32 or bf16 KV cache;
// *tokens gets the tokens generated.
static double run(Model *m, const Bpe *tok, int batch, int n_prompts, int len, int G, int n_new, int bf16,
                  long *tokens) {
    int V = model_config(m)->vocab_size;
    int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)len);
    for (int i = 0; i < len; i++) ids[i] = 256 + i % (V - 256 - 8);
    RolloutPrompt *p = xcalloc((size_t)n_prompts, sizeof *p);
    for (int i = 0; i < n_prompts; i++) p[i] = (RolloutPrompt){ids, len, G, (uint64_t)i};
    RolloutOpts o = rollout_defaults();
    o.batch = batch;
    o.max_new_tokens = n_new;
    o.kv_bf16 = bf16;
    RolloutResult r;
    Err e = {0};
    if (rollout_generate(m, tok, &o, p, n_prompts, NULL, &r, &e) != 0) RS_ABORT("%s", e.msg);
    double s = r.seconds;
    if (tokens) *tokens = r.tokens;
    rollout_result_free(&r);
    free(p);
    free(ids);
    return s;
}

// Memory read bandwidth (bytes/s, best of 3) on all threads: a sum over a
// 256 MiB buffer, far beyond the caches. Batch 1 reads every weight once per
// token, so its ceiling is this over the bytes of the weights.
static double read_bandwidth(void) {
    size_t n = (size_t)64 << 20;
    float *a = xmalloc(n * sizeof *a);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 1.0f;
    double best = 0, sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t = omp_get_wtime(), sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (size_t b = 0; b < n; b += 1024) {  // blocks of 16 independent lanes
            float acc[16] = {0};
            for (size_t i = b; i < b + 1024; i += 16)
                for (int l = 0; l < 16; l++) acc[l] += a[i + l];
            for (int l = 0; l < 16; l++) sum += acc[l];
        }
        t = omp_get_wtime() - t;
        sink += sum;
        best = RS_MAX(best, (double)n * sizeof *a / t);
    }
    free(a);
    return sink > 0 ? best : 0;
}

// Best of `reps` runs: seconds, and the tokens of one run.
static double best_run(Model *m, const Bpe *tok, int reps, int batch, int n_prompts, int len, int G, int n_new,
                       int bf16, long *tokens) {
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double s = run(m, tok, batch, n_prompts, len, G, n_new, bf16, tokens);
        best = s < best ? s : best;
    }
    return best;
}

int main(int argc, char **argv) {
    int only = argc >= 3 && !strcmp(argv[1], "--batch") ? atoi(argv[2]) : 0;
    int only_bf16 = argc == 4 && !strcmp(argv[3], "--bf16");
    if (argc != 1 && (only <= 0 || argc > 4 || (argc == 4 && !only_bf16))) {
        fprintf(stderr, "usage: rollout [--batch B [--bf16]]\n");
        return 2;
    }
    Bpe *tok = train_tokenizer(4096);
    Err e = {0};
    ModelConfig cfg;
    RS_CHECK(model_config_preset("small", &cfg, &e) == 0);
    cfg.vocab_size = bpe_vocab_size(tok);
    cfg.max_position_embeddings = 1024;
    Model *m = model_new(&cfg, 0, &e);
    RS_CHECK(m);
    model_init_random(m, 1);
    double params = (double)model_config_num_params(&cfg);
    printf("rollout bench: preset small (C %d, L %d, NH %d, V %d, %.1fM params)\n", cfg.hidden_size,
           cfg.num_hidden_layers, cfg.num_attention_heads, cfg.vocab_size, params / 1e6);

    // Warm up the allocator, the kept KV cache and BLAS threads.
    run(m, tok, 8, 8, 32, 1, 8, 0, NULL);
    if (only) {
        long toks;
        const char *nn = getenv("ROLLOUT_NEW_TOKENS");  // the table's 64, or longer contexts (default 256)
        double s = 0;
        for (int rep = 0; rep < 3; rep++)  // the kept cache has grown after the first
            s = run(m, tok, only, only, 32, 1, nn ? atoi(nn) : 256, only_bf16, &toks);
        printf("batch %d%s: %.0f tokens/s\n", only, only_bf16 ? " (bf16 KV)" : "", toks / s);
        model_free(m), bpe_free(tok);
        return 0;
    }
    // The baseline in the same run: the same weights on the CPU table without
    // packed weights, every decode product a cblas_sgemm that repacks them.
    ModelOps unpacked = *model_ops_cpu();
    unpacked.pack_weight = NULL, unpacked.matmul_packed = NULL;
    Model *mb = model_new_on(&cfg, &unpacked, 0, &e);
    RS_CHECK(mb);
    model_init_random(mb, 1);
    run(mb, tok, 8, 8, 32, 1, 8, 0, NULL);
    // The peak and the bandwidth are measured before the table and again
    // after it, and the better of each is used: on a shared machine one
    // measurement can fall in a busy moment, which would inflate every share.
    double peak0 = model_cpu_peak_flops(0.5), bw0 = read_bandwidth();
    const int batches[] = {1, 8, 32, 64, 32, 64}, bf16[] = {0, 0, 0, 0, 1, 1};
    double tps[6], base[6];
    for (int i = 0; i < 6; i++) {
        int b = batches[i], n = b < 4 ? 4 : b;
        long toks;
        fprintf(stderr, "\rbatch %d, %s KV ...   ", b, bf16[i] ? "bf16" : "float32");
        double s = best_run(m, tok, 3, b, n, 32, 1, 64, bf16[i], &toks);
        tps[i] = toks / s, base[i] = toks / best_run(mb, tok, 3, b, n, 32, 1, 64, bf16[i], &toks);
    }
    fprintf(stderr, "\r                          \r");
    double peak1 = model_cpu_peak_flops(0.5), bw1 = read_bandwidth();
    double peak = RS_MAX(peak0, peak1), bw = RS_MAX(bw0, bw1);
    printf("sgemm peak %.1f GFLOP/s (%s kernels; %.1f before the table, %.1f after)\n", peak / 1e9,
           model_blas_info()->core, peak0 / 1e9, peak1 / 1e9);
    printf("compute limit = 2 x params x tokens/s over that peak\n");
    printf("memory read bandwidth %.1f GB/s; batch 1 reads the %.1f MB of weights once per token\n", bw / 1e9,
           4 * params / 1e6);
    printf("each sequence: a %d-token prompt (its prefill is in the time), then %d new tokens\n", 32, 64);
    printf("\n%-8s %-8s %10s %12s %10s %14s %16s %18s\n", "batch", "KV", "sequences", "tokens/s", "vs b=1",
           "compute limit", "with prompt", "unpacked tok/s");
    for (int i = 0; i < 6; i++) {
        int b = batches[i], n = b < 4 ? 4 : b;
        printf("%-8d %-8s %10d %12.0f %9.2fx %13.1f%% %15.1f%% %10.0f (%.2fx)\n", b, bf16[i] ? "bf16" : "float32", n,
               tps[i], tps[i] / tps[0], 100 * 2 * params * tps[i] / peak,
               100 * 2 * params * tps[i] * (32 + 64) / 64 / peak, base[i], tps[i] / base[i]);
    }
    printf("  targets: batch 64 >= 50%% of the compute limit; batch 32 >= 10x batch 1 (b=1 is float32)\n");
    printf("  compute limit counts the new tokens; \"with prompt\" counts the prompt tokens too (their prefill is\n"
           "  in the time); batch 1 streamed the weights at %.1f GB/s, %.0f%% of the read bandwidth\n",
           4 * params * tps[0] / 1e9, 100 * 4 * params * tps[0] / bw);

    // Prefix sharing: one prefill of the prompt; its 16 slots share its cache rows.
    double one = best_run(m, tok, 3, 16, 1, 512, 1, 1, 0, NULL);
    double shared = best_run(m, tok, 3, 16, 1, 512, 16, 1, 0, NULL);
    double unshared = best_run(m, tok, 3, 16, 16, 512, 1, 1, 0, NULL);
    printf("\nprefix sharing, 512-token prompt, first token only:\n");
    printf("  prefill of one           %8.1f ms\n", one * 1e3);
    printf("  G=16 shared prefix       %8.1f ms  (%.2fx the prefill of one; target < 1.2x)\n", shared * 1e3,
           shared / one);
    printf("  16 unshared copies       %8.1f ms  (%.2fx)\n", unshared * 1e3, unshared / one);
    model_free(m);
    model_free(mb);
    bpe_free(tok);
    return 0;
}
