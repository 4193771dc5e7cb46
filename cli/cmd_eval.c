// cmd_eval.c: `reasoner eval`: AIME-style accuracy of a model on problem
// sets (avg@k, pass@k, maj@k), graded by the verifier farm.
//   reasoner eval --model out/sft --problems aime24.jsonl math500.jsonl -k 16
//       --temperature 0.6 --max-tokens 4096 --farm local:4 --out out/eval
#include <stdio.h>
#include <string.h>

#include "cli/device_flag.h"
#include "common/args.h"
#include "common/base.h"
#include "common/fsutil.h"
#include "policy/eval.h"
#include "tokenizer/chat.h"

typedef struct {
    const char *model, *out, *farm, *system, *templates, *few_shot_from, *plugins_dir, *chat_format, *device;
    ArgList problems, plugins;
    int k, top_k, max_tokens, batch, chat, few_shot, limit, skip_bad, kv_bf16;
    double temperature, top_p, timeout;
    int64_t seed;
} EvalArgs;

static void print_table(const EvalSet *sets, int n, const char *out) {
    printf("%-20s %8s %8s %9s %9s %9s %8s %6s\n", "set", "problems", "samples", "avg@K", "pass@K", "maj@K", "tokens",
           "trunc");
    for (int i = 0; i < n; i++) {
        const EvalMetrics *m = &sets[i].metrics;
        int last = m->n_ks - 1;
        printf("%-20s %8d %8ld %9.3f %9.3f %9.3f %8.1f %5.1f%%\n", sets[i].name, m->n_problems, m->n_samples,
               m->avg_at_k, last >= 0 ? m->pass_at[last] : 0, last >= 0 ? m->maj_at[last] : 0, m->mean_length,
               100 * m->truncated_share);
        for (int j = 0; j < m->n_ks; j++)
            printf("  pass@%-3d %.3f   maj@%-3d %.3f\n", m->ks[j], m->pass_at[j], m->ks[j], m->maj_at[j]);
    }
    printf("samples: %s/samples.jsonl  summary: %s/summary.json  report: %s/report.html\n", out, out, out);
}

static int run(EvalArgs *a) {
    Err e = {0};
    int rc = 1, nsets = a->problems.n;
    Model *m = NULL;
    Bpe *tok = NULL;
    ProblemSet **ps = xcalloc((size_t)nsets, sizeof *ps), *shots = NULL;
    EvalSet *sets = xcalloc((size_t)nsets, sizeof *sets);
    char **names = xcalloc((size_t)nsets, sizeof(char *));
    Grader *grader = NULL;
    VerifierSet *vs = farm_verifiers_new(a->plugins.items, a->plugins.n, a->plugins_dir, &e);
    if (!vs) goto done;
    // Problems first (bad files fail fast), then the grader (a local farm forks
    // this process; grader_open refuses once a model is loaded), then the model.
    for (int i = 0; i < nsets; i++) {
        if (!(ps[i] = problems_load(a->problems.items[i], a->skip_bad, &e))) goto done;
        if (ps[i]->n_bad)
            fprintf(stderr, "reasoner eval: %s: skipped %d bad records (first: %s)\n", ps[i]->path, ps[i]->n_bad,
                    ps[i]->first_bad);
        if (a->limit > 0) problems_truncate(ps[i], a->limit);
        names[i] = xstrdup(ps[i]->stem);
        for (int j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0) {
                Buf b = {0};
                buf_printf(&b, "%s_%d", names[i], i);
                free(names[i]);
                names[i] = buf_take(&b);
            }
        sets[i] = (EvalSet){.name = names[i], .problems = ps[i]};
    }
    GraderOpts go = {.farm = a->farm, .verifiers = vs, .timeout_s = a->timeout};
    if (!(grader = grader_open(&go, &e))) goto done;
    if (!(m = model_load(a->model, 0, &e))) goto done;
    if (!(tok = bpe_load(a->model, &e))) goto done;
    if (chat_set_format(tok, a->chat_format, &e) != 0) goto done;
    if (bpe_vocab_size(tok) > model_config(m)->vocab_size) {
        err_set(&e, "%s: tokenizer has %d tokens but the model's vocab_size is %d", a->model, bpe_vocab_size(tok),
                model_config(m)->vocab_size);
        goto done;
    }
    if (a->few_shot > 0) {
        if (!a->few_shot_from) {
            err_set(&e, "--few-shot needs --few-shot-from FILE (problems with answers or solutions)");
            goto done;
        }
        if (!(shots = problems_load(a->few_shot_from, 0, &e))) goto done;
    }
    EvalOpts o = eval_defaults();
    o.k = a->k;
    o.ro.temperature = (float)a->temperature;
    o.ro.top_p = (float)a->top_p;
    o.ro.top_k = a->top_k;
    o.ro.max_new_tokens = a->max_tokens;
    o.ro.batch = a->batch;
    o.ro.kv_bf16 = a->kv_bf16;
    o.seed = (uint64_t)a->seed;
    o.chat = a->chat;
    o.system = a->system;
    o.templates_dir = a->templates;
    o.shots = shots;
    o.n_shots = a->few_shot;
    o.grader = grader;
    // Stop where an answer ends: the template's end of turn (chat) and the
    // model's eos ids (generation_config.json), plus <|endoftext|>/<|im_end|>.
    int32_t stops[16];
    int nstops = a->chat ? RS_MIN(chat_stop_ids(tok, CHAT_AUTO, stops, 12), 12) : RS_MIN(bpe_eos_ids(tok, stops, 12), 12);
    const char *end_names[] = {"<|endoftext|>", "<|im_end|>"};
    for (int k = 0; k < 2; k++) {
        int32_t id = bpe_special_id(tok, end_names[k]), seen = 0;
        for (int i = 0; i < nstops; i++) seen |= stops[i] == id;
        if (id >= 0 && !seen) stops[nstops++] = id;
    }
    o.ro.stop_ids = stops, o.ro.n_stop_ids = nstops;
    fprintf(stderr, "reasoner eval: model %s, %d set(s), k=%d, temperature %.2f, top-p %.2f, max tokens %d, farm %s\n",
            a->model, nsets, a->k, a->temperature, a->top_p, a->max_tokens, a->farm);
    if (eval_run(m, tok, sets, nsets, &o, a->out, &e) != 0) goto done;
    print_table(sets, nsets, a->out);
    rc = 0;
done:
    if (rc) fprintf(stderr, "reasoner eval: %s\n", e.msg);
    for (int i = 0; i < nsets; i++) problems_free(ps[i]), free(names[i]);
    problems_free(shots);
    free(ps), free(sets), free(names);
    grader_close(grader);
    verifier_set_free(vs);
    bpe_free(tok);
    model_free(m);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a = {.out = "out/eval", .farm = "local:2", .k = 1, .max_tokens = 512, .batch = 32, .chat = 1,
                  .temperature = 1.0, .top_p = 1.0, .timeout = 600, .plugins_dir = NULL};
    ArgSpec specs[] = {
        {"model", 'm', ARG_STR, &a.model, "DIR", "checkpoint folder (config.json, model.safetensors, tokenizer.json)", ARG_REQUIRED},
        {"problems", 'p', ARG_LIST, &a.problems, "FILE", "problem files: project JSONL or GSM8K/MATH/AIME/HumanEval/MBPP as published", ARG_REQUIRED},
        {"k", 'k', ARG_INT, &a.k, "K", "samples per problem"},
        {"temperature", 't', ARG_FLOAT, &a.temperature, "T", "sampling temperature (0 = greedy)"},
        {"top-p", 0, ARG_FLOAT, &a.top_p, "P", "nucleus sampling"},
        {"top-k", 0, ARG_INT, &a.top_k, "N", "sample among the N most likely tokens (0 = off)"},
        {"max-tokens", 0, ARG_INT, &a.max_tokens, "N", "new tokens per sample"},
        {"batch", 0, ARG_INT, &a.batch, "N", "sequences decoded together"},
        {"kv-bf16", 0, ARG_FLAG, &a.kv_bf16, NULL, "cache keys and values as bfloat16: faster decoding, log-probs off by up to ~0.05"},
        {"seed", 0, ARG_I64, &a.seed, "S", "sampling seed"},
        {"farm", 0, ARG_STR, &a.farm, "ENDPOINT", "verifier farm: local:N, tcp://HOST:PORT, ipc://PATH, or none"},
        {"timeout", 0, ARG_FLOAT, &a.timeout, "SECS", "deadline for grading all samples"},
        {"chat", 0, ARG_FLAG, &a.chat, NULL, "chat prompts in the model's own template; --no-chat for base models"},
        {"chat-format", 0, ARG_STR, &a.chat_format, "NAME", "auto (tokenizer_config.json's chat_template), chatml or llama3"},
        {"system", 0, ARG_STR, &a.system, "TEXT", "system message in chat mode"},
        {"templates", 0, ARG_STR, &a.templates, "DIR", "prompt templates (math.txt, code.txt, open.txt)"},
        {"few-shot", 0, ARG_INT, &a.few_shot, "N", "plain mode: N worked examples before each problem"},
        {"few-shot-from", 0, ARG_STR, &a.few_shot_from, "FILE", "problems to take the examples from"},
        {"limit", 0, ARG_INT, &a.limit, "N", "first N problems of each set"},
        {"skip-bad", 0, ARG_FLAG, &a.skip_bad, NULL, "skip bad problem records (counted) instead of failing"},
        {"plugin", 0, ARG_LIST, &a.plugins, "NAME=PATH", "external verifier program"},
        {"plugins", 0, ARG_STR, &a.plugins_dir, "DIR", "folder of verifier programs"},
        {"out", 'o', ARG_STR, &a.out, "DIR", "writes samples.jsonl, summary.json, report.html"},
        {"device", 0, ARG_STR, &a.device, "DEV", DEVICE_FLAG_HELP},
    };
    ArgCmd cmd = {.name = "reasoner eval",
                  .summary = "Sample K answers per problem, grade them through the verifier farm, and report avg@k, "
                             "pass@k (unbiased) and maj@k per problem set.",
                  .usage_args = "--model DIR --problems FILE... [flags]",
                  .epilog = "example:\n  reasoner eval --model out/sft --problems aime24.jsonl -k 16 --temperature 0.6 "
                            "--max-tokens 4096",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs)};
    int rc = args_parse(&cmd, argc, argv);
    if (rc == ARGS_OK && a.k < 1) {
        fprintf(stderr, "reasoner eval: -k must be at least 1\n");
        rc = ARGS_USAGE;
    }
    if (rc == ARGS_OK && cli_device_use("reasoner eval", a.device) != 0) rc = 1;
    else if (rc == ARGS_OK) rc = run(&a);
    else rc = ARGS_EXIT_CODE(rc);
    args_list_free(&a.problems);
    args_list_free(&a.plugins);
    return rc;
}
