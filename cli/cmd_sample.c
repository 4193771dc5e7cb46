// cmd_sample.c: `reasoner sample`: continue a prompt with a model, streaming
// the text to stdout as it is generated (KV-cache decoding).
//   reasoner sample --model out/base/final --prompt "The" --max-tokens 64 --seed 1
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/fsutil.h"
#include "pretrain/train.h"

static void emit_stdout(const char *text, size_t n, void *ud) {
    fwrite(text, 1, n, stdout);
    fflush(stdout);
}

// Load the model and tokenizer of dir, encode the prompt after
// <|endoftext|> (the start of a document, as in pretraining) and generate.
static int run(const char *dir, const char *prompt, const PretrainSampleOpts *o, uint64_t seed, int echo, Err *e) {
    Model *m = model_load(dir, 0, e);
    if (!m) return -1;
    char *tp = fs_join(dir, "tokenizer.json");
    Bpe *tok = bpe_load(tp, e);
    free(tp);
    int rc = tok ? 0 : -1;
    BpeIds ids = {0};
    if (rc == 0) {
        int32_t eot = bpe_special_id(tok, "<|endoftext|>");
        if (eot >= 0) bpe_ids_push(&ids, eot);
        bpe_encode(tok, prompt, strlen(prompt), BPE_SPECIAL_ALL, &ids);
        if (ids.len == 0) rc = err_set(e, "--prompt: empty, and the tokenizer has no <|endoftext|> to start from");
    }
    if (rc == 0) {
        if (echo) emit_stdout(prompt, strlen(prompt), NULL);
        Rng rng;
        rng_seed(&rng, seed);
        rc = pretrain_generate(m, tok, ids.data, (int)ids.len, o, &rng, emit_stdout, NULL, NULL, e);
        printf("\n");
    }
    bpe_ids_free(&ids);
    bpe_free(tok);
    model_free(m);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    PretrainSampleOpts o = pretrain_sample_defaults();
    const char *model = NULL, *prompt = "";
    double temperature = o.temperature, top_p = o.top_p;
    int64_t seed = 0;
    int threads = 0, echo = 1, stop = o.stop_at_eot;
    o.max_tokens = 128;
    ArgSpec specs[] = {
        {"model", 'm', ARG_STR, &model, "DIR", "a checkpoint folder (config.json, model.safetensors, tokenizer.json)", ARG_REQUIRED},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "text to continue (special tokens allowed)"},
        {"temperature", 0, ARG_FLOAT, &temperature, "X", "softmax temperature (0: greedy)"},
        {"top-k", 0, ARG_INT, &o.top_k, "K", "sample among the K most likely tokens (0: all)"},
        {"top-p", 0, ARG_FLOAT, &top_p, "P", "then among the smallest set with probability >= P"},
        {"max-tokens", 'n', ARG_INT, &o.max_tokens, "N", "new tokens at most"},
        {"seed", 's', ARG_I64, &seed, "N", "sampling seed"},
        {"stop-at-eot", 0, ARG_FLAG, &stop, NULL, "stop at <|endoftext|>"},
        {"echo", 0, ARG_FLAG, &echo, NULL, "print the prompt before the continuation"},
        {"threads", 'j', ARG_INT, &threads, "N", "OpenMP threads (0: all cores)"},
    };
    ArgCmd cmd = {.name = "reasoner sample",
                  .summary = "Continue a prompt with a model, streaming the text to stdout.",
                  .usage_args = "--model DIR [--prompt TEXT] [flags]",
                  .epilog = "example:\n  reasoner sample --model out/base/final --prompt \"The\" --max-tokens 64\n",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0])};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    if (temperature < 0 || top_p <= 0 || top_p > 1 || o.top_k < 0 || o.max_tokens < 0) {
        fprintf(stderr, "reasoner sample: --temperature >= 0, --top-p in (0, 1], --top-k >= 0, --max-tokens >= 0\n");
        return 2;
    }
    if (threads > 0) omp_set_num_threads(threads);
    o.temperature = (float)temperature;
    o.top_p = (float)top_p;
    o.stop_at_eot = stop;
    Err err = {{0}};
    if (run(model, prompt, &o, (uint64_t)seed, echo, &err) != 0) {
        fprintf(stderr, "reasoner sample: %s\n", err.msg);
        return 1;
    }
    return 0;
}
