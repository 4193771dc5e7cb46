// gpu.c: the CUDA backend's figures, for scripts/gpu-check.sh (it needs a
// GPU; without one it prints the reason as JSON, {"error": "no GPU"}):
//   - train: one pretraining step (forward, backward, AdamW) of the `base`
//     preset at T = 1024; model FLOPs (model_config_train_flops_per_token,
//     the nanoGPT/llm.c count) per second over the dense bf16 peak;
//   - copy: device-to-device copy bandwidth (bytes read + written per s);
//   - decode1: batch-1 decoding after a 512-token prompt, time per token
//     against the HBM floor: bytes that must be read per token (weights once,
//     the KV cache so far) over the measured copy bandwidth, with weights
//     counted at 2 bytes (bf16, what an ideal bf16 decoder reads) and at 4
//     (fp32, what this backend stores);
//   - decode256: 256 sequences decoded together, tokens/s and the share of
//     the compute peak (2 x params FLOPs per token).
// Writes one JSON object on stdout; progress on stderr.
//   build/bench/gpu [--what train,copy,decode1,decode256] [--batch 16] [--steps 5] [--peak-tflops 989.4]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "model/device.h"
#include "model/model.h"

typedef struct {
    const char *what;
    int batch, steps;
    double peak;
} Opts;

static int want(const Opts *o, const char *name) { return strstr(o->what, name) != NULL; }

static Model *base_model(int flags, ModelConfig *cfg) {
    Err e = {{0}};
    RS_CHECK(model_config_preset("base", cfg, &e) == 0);
    cfg->max_position_embeddings = 2048;
    Model *m = model_new(cfg, flags, &e);
    RS_CHECK(m);
    model_init_random(m, 1);
    return m;
}

static int check(Model *m) {
    Err e = {{0}};
    if (model_check(m, &e) == 0) return 0;
    fprintf(stderr, "gpu bench: %s\n", e.msg);
    return -1;
}

// The training step: seconds per step (best of o->steps after two warm-up steps).
static void bench_train(const Opts *o, FILE *js) {
    ModelConfig cfg;
    Model *m = base_model(MODEL_GRADS, &cfg);
    int B = o->batch, T = 1024, N = B * T;
    int32_t *ids = malloc((size_t)N * 4), *tg = malloc((size_t)N * 4);
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) ids[i] = (int32_t)rng_below(&r, (uint64_t)cfg.vocab_size);
    for (int i = 0; i < N; i++) tg[i] = i % T == T - 1 ? -1 : ids[i + 1];
    ModelAdamWConfig oc = model_adamw_defaults();
    ModelAdamW *opt = model_adamw_new(m, &oc);
    Err e = {{0}};
    double best = 1e30, loss = 0;
    for (int s = 0; s < o->steps + 2; s++) {
        double t0 = rs_now();
        if (model_xent(m, ids, tg, NULL, B, T, 1.0f, &loss, &e) != 0) break;
        float gn;
        model_adamw_step(opt, 1e-4f, &gn);  // sumsq reads the norm back: the step has finished
        model_zero_grad(m);
        double dt = rs_now() - t0;
        fprintf(stderr, "train step %d: %.1f ms, loss %.4f\n", s, dt * 1e3, loss);
        if (s >= 2 && dt < best) best = dt;
    }
    if (check(m) == 0 && best < 1e30) {
        double flops = model_config_train_flops_per_token(&cfg, T) * N;
        fprintf(js, "\"train\": {\"preset\": \"base\", \"params\": %lld, \"B\": %d, \"T\": %d, \"step_s\": %.5f, "
                    "\"tokens_per_s\": %.0f, \"tflops\": %.2f, \"mfu\": %.4f, \"loss\": %.4f},\n",
                (long long)model_config_num_params(&cfg), B, T, best, N / best, flops / best / 1e12,
                flops / best / o->peak, loss);
    } else {
        fprintf(js, "\"train\": {\"error\": \"%s\"},\n", e.msg[0] ? "forward failed" : "device error");
    }
    model_adamw_free(opt);
    model_free(m);
    free(ids), free(tg);
}

// Device copy bandwidth, bytes read plus written per second.
static double bench_copy(FILE *js) {
    const ModelOps *o = model_ops_default();
    OpCtx *cx = o->ctx_new();
    size_t n = (size_t)1 << 30;
    void *a = o->alloc(cx, n), *b = o->alloc(cx, n);
    o->copy(cx, b, a, n);
    o->sync(cx);
    double t0 = rs_now();
    for (int i = 0; i < 10; i++) o->copy(cx, i % 2 ? a : b, i % 2 ? b : a, n);
    o->sync(cx);
    double bw = 2.0 * n * 10 / (rs_now() - t0);
    const char *err = o->error ? o->error(cx) : NULL;
    o->free(cx, a), o->free(cx, b);
    o->ctx_free(cx);
    if (err) return fprintf(js, "\"copy\": {\"error\": \"device error\"},\n"), 0;
    fprintf(js, "\"copy\": {\"bytes_per_s\": %.4g},\n", bw);
    fprintf(stderr, "copy bandwidth %.0f GB/s\n", bw / 1e9);
    return bw;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) b = x[i] > x[b] ? i : b;
    return b;
}

// Batch-1 decoding: seconds per token over `steps` tokens after a prompt of P.
static void bench_decode1(double bw, FILE *js) {
    ModelConfig cfg;
    Model *m = base_model(0, &cfg);
    int P = 512, steps = 128, V = cfg.vocab_size;
    Err e = {{0}};
    KVCache *kv = model_kv_new(m, 1, P + steps + 8, &e);
    int32_t *prompt = malloc((size_t)P * 4);
    for (int i = 0; i < P; i++) prompt[i] = (i * 7919) % V;
    float *logits = malloc((size_t)V * 4);
    int slot = 0, np = P, one = 1;
    model_decode(m, kv, 1, &slot, &np, prompt, logits, 0, &e);
    int32_t next = argmax(logits, V);
    for (int s = 0; s < 4; s++) model_decode(m, kv, 1, &slot, &one, &next, logits, 0, &e), next = argmax(logits, V);
    double t0 = rs_now();
    for (int s = 0; s < steps; s++) {
        if (model_decode(m, kv, 1, &slot, &one, &next, logits, 0, &e) != 0) break;
        next = argmax(logits, V);
    }
    double per = (rs_now() - t0) / steps;
    if (check(m) == 0 && bw > 0) {
        double params = (double)model_config_num_params(&cfg);
        double ctx = P + 4 + steps / 2.0;  // mean positions read per step
        double kvb = ctx * cfg.num_hidden_layers * 2.0 * cfg.num_key_value_heads * cfg.head_dim * 4;
        double floor2 = (2 * params + kvb) / bw, floor4 = (4 * params + kvb) / bw;
        fprintf(js, "\"decode1\": {\"prompt\": %d, \"s_per_token\": %.6f, \"floor_bf16_weights_s\": %.6f, "
                    "\"floor_fp32_weights_s\": %.6f, \"x_floor_bf16\": %.2f, \"x_floor_fp32\": %.2f},\n",
                P, per, floor2, floor4, per / floor2, per / floor4);
        fprintf(stderr, "decode b=1: %.3f ms/token, %.2fx the bf16-weight floor\n", per * 1e3, per / floor2);
    } else {
        fprintf(js, "\"decode1\": {\"error\": \"%s\"},\n", e.msg[0] ? "decode failed" : "device error");
    }
    model_kv_free(kv);
    model_free(m);
    free(prompt), free(logits);
}

// 256 sequences together: tokens/s over `steps` steps after 32-token prompts.
static void bench_decode256(const Opts *o, FILE *js) {
    ModelConfig cfg;
    Model *m = base_model(0, &cfg);
    int S = 256, P = 32, steps = 64, V = cfg.vocab_size;
    Err e = {{0}};
    KVCache *kv = model_kv_new(m, S, P + steps + 8, &e);
    int *slots = malloc(S * sizeof(int)), *np = malloc(S * sizeof(int)), *ones = malloc(S * sizeof(int));
    int32_t *toks = malloc((size_t)S * P * 4), *next = malloc(S * 4);
    float *logits = malloc((size_t)S * V * 4);
    for (int i = 0; i < S; i++) slots[i] = i, np[i] = P, ones[i] = 1;
    for (int i = 0; i < S * P; i++) toks[i] = (i * 7919) % V;
    model_decode(m, kv, S, slots, np, toks, logits, 0, &e);
    for (int i = 0; i < S; i++) next[i] = argmax(logits + (size_t)i * V, V);
    double t0 = rs_now();
    int done = 0;
    for (int s = 0; s < steps; s++, done++) {
        if (model_decode(m, kv, S, slots, ones, next, logits, 0, &e) != 0) break;
        for (int i = 0; i < S; i++) next[i] = argmax(logits + (size_t)i * V, V);
    }
    double dt = rs_now() - t0, tps = (double)S * done / dt;
    if (check(m) == 0 && done == steps) {
        double params = (double)model_config_num_params(&cfg);
        fprintf(js, "\"decode256\": {\"tokens_per_s\": %.0f, \"compute_share\": %.4f},\n", tps,
                2 * params * tps / o->peak);
        fprintf(stderr, "decode b=256: %.0f tokens/s\n", tps);
    } else {
        fprintf(js, "\"decode256\": {\"error\": \"%s\"},\n", e.msg[0] ? "decode failed" : "device error");
    }
    model_kv_free(kv);
    model_free(m);
    free(slots), free(np), free(ones), free(toks), free(next), free(logits);
}

int main(int argc, char **argv) {
    Opts o = {.what = "train,copy,decode1,decode256", .batch = 16, .steps = 5, .peak = MODEL_CUDA_PEAK_FLOPS};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--what")) o.what = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) o.batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) o.steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--peak-tflops")) o.peak = atof(argv[i + 1]) * 1e12;
        else return fprintf(stderr, "usage: gpu [--what LIST] [--batch B] [--steps N] [--peak-tflops X]\n"), 2;
    }
    ModelDevice d = {MODEL_DEVICE_CUDA, -1};
    char desc[512];
    Err e = {{0}};
    if (model_device_use(&d, desc, sizeof desc, &e) != 0) {
        printf("{\"error\": \"no GPU\", \"detail\": \"%s\"}\n", e.msg);
        return 0;  // `make bench` on a CPU machine: nothing to measure, not a failure
    }
    fprintf(stderr, "gpu bench on %s, peak %.1f TFLOP/s\n", desc, o.peak / 1e12);
    printf("{\"device\": \"%s\", \"peak_tflops\": %.1f,\n", desc, o.peak / 1e12);
    if (want(&o, "train")) bench_train(&o, stdout);
    double bw = want(&o, "copy") || want(&o, "decode1") ? bench_copy(stdout) : 0;
    if (want(&o, "decode1")) bench_decode1(bw, stdout);
    if (want(&o, "decode256")) bench_decode256(&o, stdout);
    printf("\"done\": true}\n");
    return 0;
}
