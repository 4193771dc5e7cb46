// cmd_pretrain.c: `reasoner pretrain`: train a base model on token shards.
//   reasoner pretrain --data out/shards --model-config small --out out/base --steps 600
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "common/args.h"
#include "pretrain/train.h"

static const char *epilog =
    "The data folder comes from `reasoner tokenize`. --model-config takes a preset\n"
    "name or an HF config.json (its vocab_size is replaced by the tokenizer's).\n"
    "Writes OUT/metrics.jsonl (one line per step), OUT/step_NNNNNN/ every --save-every\n"
    "steps and OUT/final/: Hugging Face folders (config.json, model.safetensors,\n"
    "tokenizer.json) with optimizer.safetensors and trainer_state.json for --resume.\n"
    "A resumed run continues to --steps bit-identically (same flags, same threads).\n\n"
    "examples:\n"
    "  reasoner pretrain --data out/shards --model-config small --out out/base --steps 600\n"
    "  reasoner pretrain --data out/shards --out out/base --steps 1200 --resume out/base/final\n";

int cmd_pretrain(int argc, char **argv) {
    PretrainConfig c = pretrain_defaults();
    const char *schedule = c.schedule;
    int threads = 0, quiet = 0;
    int64_t seed = (int64_t)c.seed;
    double peak_gflops = 0;
    char presets[256];
    snprintf(presets, sizeof presets, "a preset (%s) or a config.json", model_config_preset_names());
    ArgSpec specs[] = {
        {"data", 'd', ARG_STR, &c.data_dir, "DIR", "a `reasoner tokenize` folder", ARG_REQUIRED},
        {"model-config", 'm', ARG_STR, &c.model_config, "NAME", presets},
        {"out", 'o', ARG_STR, &c.out_dir, "DIR", "output folder", ARG_REQUIRED},
        {"resume", 0, ARG_STR, &c.resume_dir, "DIR", "continue from this checkpoint folder"},
        {"batch-size", 'b', ARG_INT, &c.batch_size, "B", "sequences per micro-batch"},
        {"seq-len", 't', ARG_INT, &c.seq_len, "T", "tokens per sequence (0: max_position_embeddings)"},
        {"grad-accum", 0, ARG_INT, &c.grad_accum, "N", "micro-batches per optimizer step"},
        {"lr", 0, ARG_FLOAT, &c.lr, "X", "peak learning rate"},
        {"min-lr", 0, ARG_FLOAT, &c.min_lr, "X", "learning rate at the end of the decay"},
        {"warmup", 0, ARG_I64, &c.warmup, "N", "linear warmup steps"},
        {"schedule", 0, ARG_STR, &schedule, "S", "decay after warmup: cosine, linear or constant"},
        {"steps", 'n', ARG_I64, &c.steps, "N", "optimizer steps in all"},
        {"time-budget", 0, ARG_FLOAT, &c.time_budget, "SECS",
         "fit the run into SECS: --steps becomes what the step time allows (0: off)"},
        {"weight-decay", 0, ARG_FLOAT, &c.weight_decay, "X", "AdamW decoupled weight decay (2-D weights only)"},
        {"clip", 0, ARG_FLOAT, &c.clip, "X", "global gradient-norm clip (0: none)"},
        {"eval-every", 0, ARG_I64, &c.eval_every, "N", "validation loss every N steps (0: at the end only)"},
        {"eval-batches", 0, ARG_INT, &c.eval_batches, "N", "val micro-batches per evaluation"},
        {"sample-every", 0, ARG_I64, &c.sample_every, "M", "log a text sample every M steps (0: at the end only)"},
        {"sample-prompt", 0, ARG_STR, &c.sample_prompt, "TEXT", "the samples' prompt (default: a document start)"},
        {"save-every", 0, ARG_I64, &c.save_every, "K", "checkpoint every K steps (0: at the end only)"},
        {"seed", 's', ARG_I64, &seed, "N", "seed for init, data order and samples"},
        {"threads", 'j', ARG_INT, &threads, "N", "OpenMP threads (0: all cores)"},
        {"peak-gflops", 0, ARG_FLOAT, &peak_gflops, "X", "MFU denominator (0: measure cblas_sgemm at start)"},
        {"quiet", 'q', ARG_FLAG, &quiet, NULL, "no progress bar or log lines"},
    };
    ArgCmd cmd = {.name = "reasoner pretrain",
                  .summary = "Pretrain a Llama-family model on token shards.",
                  .usage_args = "--data DIR --out DIR [--model-config NAME|config.json] [flags]",
                  .epilog = epilog,
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0])};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    if (threads > 0) omp_set_num_threads(threads);
    c.schedule = schedule;
    c.seed = (uint64_t)seed;
    c.peak_flops = peak_gflops * 1e9;
    c.progress = !quiet;
    PretrainResult r;
    Err err = {{0}};
    if (pretrain_run(&c, &r, &err) != 0) {
        fprintf(stderr, "reasoner pretrain: %s\n", err.msg);
        return 1;
    }
    printf("steps: %lld\n", (long long)r.steps);
    printf("params: %lld\n", (long long)r.params);
    printf("tokens: %lld\n", (long long)r.tokens);
    printf("train_loss: %.4f\n", r.train_loss);
    if (isnan(r.val_loss)) printf("val_loss: none (empty val split)\n");
    else printf("val_loss: %.4f\n", r.val_loss);
    printf("tokens_per_s: %.0f\n", r.tokens_per_s);
    printf("mfu: %.1f%% of %.1f GFLOP/s\n", 100 * r.mfu, r.peak_flops / 1e9);
    printf("time_s: %.1f\n", r.seconds);
    printf("checkpoint: %s/final\n", c.out_dir);
    printf("sample: ");  // on one line: newlines shown as \n
    for (const char *p = r.sample; *p; p++) *p == '\n' ? fputs("\\n", stdout) : putchar(*p);
    printf("\n");
    return 0;
}
