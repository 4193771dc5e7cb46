// cmd_sft.c: `reasoner sft`: fine-tune a model on conversations (sft/sft.h).
//   reasoner sft --model out/base/final --data chats.jsonl --out out/sft --epochs 2
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "cli/train_flags.h"
#include "common/args.h"
#include "sft/sft.h"

static const char *epilog =
    "--data takes JSONL conversations: {\"messages\": [{\"role\", \"content\"}, ...]} with roles\n"
    "system, user, assistant and tool (`reasoner problems to-chat` makes them from problem sets\n"
    "with worked solutions). They are rendered with ChatML; the loss is on assistant tokens only.\n"
    "Conversations are packed into rows of --seq-len tokens, each attending only to itself.\n"
    "A tokenizer without <|im_start|>/<|im_end|> gets them, and the embedding grows to match.\n"
    "Writes OUT/metrics.jsonl, OUT/step_NNNNNN/ every --save-every steps and OUT/final/\n"
    "(HF folders with optimizer and trainer state: --resume continues bit-identically).\n\n"
    "examples:\n"
    "  reasoner sft --model out/base/final --data chats.jsonl --out out/sft --epochs 2\n"
    "  reasoner sft --model out/base/final --data chats.jsonl --out out/sft --resume out/sft/step_000100\n";

int cmd_sft(int argc, char **argv) {
    SftConfig c = sft_defaults();
    ArgList data = {0};
    TrainFlags tf = TRAIN_FLAGS_FROM(c);
    ArgSpec specs[16 + TRAIN_FLAGS_N] = {
        {"model", 'm', ARG_STR, &c.model_dir, "DIR", "the starting checkpoint (HF folder with tokenizer.json)", ARG_REQUIRED},
        {"data", 'd', ARG_LIST, &data, "FILE", "conversation JSONL files (repeatable)", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &c.out_dir, "DIR", "output folder", ARG_REQUIRED},
        {"val-data", 0, ARG_STR, &c.val_data, "FILE", "held-out conversations (default: --val-fraction of --data)"},
        {"val-fraction", 0, ARG_FLOAT, &c.val_fraction, "F", "share of --data held out, by hash of the conversation"},
        {"chat-format", 0, ARG_STR, &c.chat_format, "NAME", "chat template: auto (the tokenizer's own; ChatML for ours), chatml or llama3"},
        {"skip-bad", 0, ARG_FLAG, &c.skip_bad, NULL, "skip (and count) bad conversations instead of failing"},
        {"batch-size", 'b', ARG_INT, &c.batch_size, "B", "packed rows per micro-batch"},
        {"seq-len", 't', ARG_INT, &c.seq_len, "T", "tokens per packed row (at most the model's context)"},
        {"grad-accum", 0, ARG_INT, &c.grad_accum, "N", "micro-batches per optimizer step"},
        {"epochs", 0, ARG_FLOAT, &c.epochs, "E", "passes over the data (sets --steps unless it is given)"},
    };
    int ns = train_flags_add(specs, args_count(specs), &tf);
    ArgCmd cmd = {.name = "reasoner sft",
                  .summary = "Fine-tune a model on chat conversations (loss on assistant tokens, packed rows).",
                  .usage_args = "--model DIR --data FILE... --out DIR [flags]",
                  .epilog = epilog,
                  .specs = specs,
                  .nspecs = ns};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    c.data = (const char *const *)data.items;
    c.n_data = data.n;
    TRAIN_FLAGS_TO(tf, c);
    if (cli_device_use("reasoner sft", tf.device) != 0) {
        args_list_free(&data);
        return 1;
    }
    SftResult r;
    Err err = {{0}};
    rc = sft_run(&c, &r, &err);
    args_list_free(&data);
    if (rc != 0) {
        fprintf(stderr, "reasoner sft: %s\n", err.msg);
        return 1;
    }
    printf("conversations: %d (%d held out, %d skipped)\n", r.conversations, r.val_conversations, r.skipped);
    printf("steps: %lld\n", (long long)r.steps);
    printf("trained_tokens: %lld\n", (long long)r.tokens);
    printf("train_loss: %.4f\n", r.train_loss);
    if (isnan(r.val_loss)) printf("val_loss: none (nothing held out)\n");
    else printf("val_loss: %.4f (first %.4f)\n", r.val_loss, r.first_val_loss);
    printf("tokens_per_s: %.0f\n", r.tokens_per_s);
    printf("mfu: %.1f%%\n", 100 * r.mfu);
    printf("time_s: %.1f\n", r.seconds);
    printf("checkpoint: %s/final\n", c.out_dir);
    return 0;
}
