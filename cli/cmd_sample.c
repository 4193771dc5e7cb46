// cmd_sample.c: `reasoner sample`: continue a prompt with a model, streaming
// the text to stdout as it is generated (KV-cache decoding).
//   reasoner sample --model out/base/final --prompt "The" --max-tokens 64 --seed 1
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/device_flag.h"
#include "common/args.h"
#include "common/base.h"
#include "common/fsutil.h"
#include "model/model.h"
#include "rollout/rollout.h"
#include "tokenizer/bpe.h"

static void emit_stdout(int sample, const char *text, size_t n, void *ud) {
    fwrite(text, 1, n, stdout);
    fflush(stdout);
}

// Load the model and tokenizer of dir, encode the prompt after the
// tokenizer's BOS (bpe_bos_id: <|endoftext|> for our models, as in
// pretraining; <|begin_of_text|> for Llama 3; none for Qwen2) and generate.
static int run(const char *dir, const char *prompt, RolloutOpts *o, int stop_at_eot, uint64_t seed, int echo, Err *e) {
    Model *m = model_load(dir, 0, e);
    if (!m) return -1;
    char *tp = fs_join(dir, "tokenizer.json");
    Bpe *tok = bpe_load(tp, e);
    free(tp);
    int rc = tok ? 0 : -1;
    BpeIds ids = {0};
    if (rc == 0) {
        int32_t bos = bpe_bos_id(tok);
        if (bos >= 0) bpe_ids_push(&ids, bos);
        bpe_encode(tok, prompt, strlen(prompt), BPE_SPECIAL_ALL, &ids);
        if (ids.len == 0) rc = err_set(e, "--prompt: empty, and the tokenizer has no BOS token to start from");
    }
    if (rc == 0) {
        if (echo) emit_stdout(0, prompt, strlen(prompt), NULL);
        // generation_config.json's eos ids, else <|endoftext|>
        int32_t eot[8];
        int neot = bpe_eos_ids(tok, eot, 8);
        if (neot == 0 && (eot[0] = bpe_special_id(tok, "<|endoftext|>")) >= 0) neot = 1;
        o->stop_ids = eot;
        o->n_stop_ids = stop_at_eot ? RS_MIN(neot, 8) : 0;
        o->on_text = emit_stdout;
        RolloutPrompt p = {.ids = ids.data, .len = (int)ids.len, .n_samples = 1, .seed = seed};
        RolloutResult r;
        rc = rollout_generate(m, tok, o, &p, 1, NULL, &r, e);
        rollout_result_free(&r);
        printf("\n");
    }
    bpe_ids_free(&ids);
    bpe_free(tok);
    model_free(m);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    RolloutOpts o = rollout_defaults();
    o.top_k = 40;
    o.max_new_tokens = 128;
    o.batch = 1;
    const char *model = NULL, *prompt = "", *device = NULL;
    double temperature = 0.8, top_p = 0.95;
    int64_t seed = 0;
    int threads = 0, echo = 1, stop = 1;
    ArgSpec specs[] = {
        {"model", 'm', ARG_STR, &model, "DIR", "a checkpoint folder (config.json, model.safetensors, tokenizer.json)", ARG_REQUIRED},
        {"prompt", 'p', ARG_STR, &prompt, "TEXT", "text to continue (special tokens allowed)"},
        {"temperature", 0, ARG_FLOAT, &temperature, "X", "softmax temperature (0: greedy)"},
        {"top-k", 0, ARG_INT, &o.top_k, "K", "sample among the K most likely tokens (0: all)"},
        {"top-p", 0, ARG_FLOAT, &top_p, "P", "then among the smallest set with probability >= P"},
        {"max-tokens", 'n', ARG_INT, &o.max_new_tokens, "N", "new tokens at most"},
        {"seed", 's', ARG_I64, &seed, "N", "sampling seed"},
        {"stop-at-eot", 0, ARG_FLAG, &stop, NULL, "stop at the end of text (generation_config.json eos ids, else <|endoftext|>)"},
        {"echo", 0, ARG_FLAG, &echo, NULL, "print the prompt before the continuation"},
        {"threads", 'j', ARG_INT, &threads, "N", "OpenMP threads (0: all cores)"},
        {"device", 0, ARG_STR, &device, "DEV", DEVICE_FLAG_HELP},
    };
    ArgCmd cmd = {.name = "reasoner sample",
                  .summary = "Continue a prompt with a model, streaming the text to stdout.",
                  .usage_args = "--model DIR [--prompt TEXT] [flags]",
                  .epilog = "example:\n  reasoner sample --model out/base/final --prompt \"The\" --max-tokens 64\n",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0])};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    if (temperature < 0 || top_p <= 0 || top_p > 1 || o.top_k < 0 || o.max_new_tokens < 1) {
        fprintf(stderr, "reasoner sample: --temperature >= 0, --top-p in (0, 1], --top-k >= 0, --max-tokens >= 1\n");
        return 2;
    }
    if (threads > 0) omp_set_num_threads(threads);
    if (cli_device_use("reasoner sample", device) != 0) return 1;
    o.temperature = (float)temperature;
    o.top_p = (float)top_p;
    Err err = {{0}};
    if (run(model, prompt, &o, stop, (uint64_t)seed, echo, &err) != 0) {
        fprintf(stderr, "reasoner sample: %s\n", err.msg);
        return 1;
    }
    return 0;
}
