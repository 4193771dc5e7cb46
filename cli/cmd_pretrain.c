// cmd_pretrain.c: `reasoner pretrain`: train a base model on token shards.
//   reasoner pretrain --data out/shards --model-config small --out out/base --steps 600
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "cli/train_flags.h"
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
    TrainFlags tf = TRAIN_FLAGS_FROM(c);
    char presets[256];
    snprintf(presets, sizeof presets, "a preset (%s) or a config.json", model_config_preset_names());
    ArgSpec specs[16 + TRAIN_FLAGS_N] = {
        {"data", 'd', ARG_STR, &c.data_dir, "DIR", "a `reasoner tokenize` folder", ARG_REQUIRED},
        {"model-config", 'm', ARG_STR, &c.model_config, "NAME", presets},
        {"out", 'o', ARG_STR, &c.out_dir, "DIR", "output folder", ARG_REQUIRED},
        {"batch-size", 'b', ARG_INT, &c.batch_size, "B", "sequences per micro-batch"},
        {"seq-len", 't', ARG_INT, &c.seq_len, "T", "tokens per sequence (0: max_position_embeddings)"},
        {"grad-accum", 0, ARG_INT, &c.grad_accum, "N", "micro-batches per optimizer step"},
        {"eval-batches", 0, ARG_INT, &c.eval_batches, "N", "val micro-batches per evaluation"},
        {"sample-every", 0, ARG_I64, &c.sample_every, "M", "log a text sample every M steps (0: at the end only)"},
        {"sample-prompt", 0, ARG_STR, &c.sample_prompt, "TEXT", "the samples' prompt (default: a document start)"},
    };
    int ns = train_flags_add(specs, args_count(specs), &tf);
    ArgCmd cmd = {.name = "reasoner pretrain",
                  .summary = "Pretrain a Llama-family model on token shards.",
                  .usage_args = "--data DIR --out DIR [--model-config NAME|config.json] [flags]",
                  .epilog = epilog,
                  .specs = specs,
                  .nspecs = ns};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    TRAIN_FLAGS_TO(tf, c);
    if (cli_device_use("reasoner pretrain", tf.device) != 0) return 1;
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
