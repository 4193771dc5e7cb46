// cmd_rl.c: `reasoner rl`: improve a chat model with RL against the verifiers
// (GRPO, or rejection-sampling fine-tuning), see policy/rl.h.
//   reasoner rl --model out/sft/final --problems train.jsonl --eval-problems test.jsonl --out out/rl
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "cli/train_flags.h"
#include "common/args.h"
#include "policy/rl.h"
#include "verifier/farm/farm.h"

static const char *epilog =
    "Per step: --prompts-per-step problems, --group-size samples each (ChatML prompts built\n"
    "from templates/), each graded as soon as it finishes, rewards (verifier score, --format-reward,\n"
    "--overlong-penalty), group advantages (--scale-rewards), then --mu passes of updates with the\n"
    "clipped ratio (--eps-low/--eps-high) and the k3 KL to the starting model (--beta; no\n"
    "reference is kept at 0). Groups whose grading failed are dropped (never partial grades);\n"
    "--dynamic-sampling also drops groups with equal rewards and refills from new prompts.\n"
    "Writes OUT/metrics.jsonl (reward, accuracy, lengths, clip fraction, KL, entropy, times),\n"
    "OUT/eval/step_N/ every --eval-every steps and OUT/final/; --resume continues bit-identically.\n\n"
    "examples:\n"
    "  reasoner rl --model out/sft/final --problems train.jsonl --eval-problems test.jsonl --out out/rl\n"
    "  reasoner rl --model qwen --problems gsm8k_train.jsonl --farm local:8 --out out/rl --beta 0.04 \\\n"
    "      --eps-high 0.28 --loss-agg token --dynamic-sampling --overlong-penalty 3072:4096\n"
    "  reasoner rl --algo rft --model out/sft/final --problems train.jsonl --out out/rft\n";

int cmd_rl(int argc, char **argv) {
    RlConfig c = rl_defaults();
    ArgList problems = {0}, evals = {0}, plugins = {0};
    const char *plugins_dir = NULL;
    TrainFlags tf = TRAIN_FLAGS_FROM(c);
    double temperature = c.temperature, top_p = c.top_p, eval_temperature = c.eval_temperature;
    ArgSpec specs[48 + TRAIN_FLAGS_N] = {
        {"model", 'm', ARG_STR, &c.model_dir, "DIR", "the chat model to start from (and the KL reference)", ARG_REQUIRED},
        {"problems", 'p', ARG_LIST, &problems, "FILE", "training problems (any format `problems` reads)", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &c.out_dir, "DIR", "output folder", ARG_REQUIRED},
        {"eval-problems", 0, ARG_LIST, &evals, "FILE", "held-out problem sets for --eval-every"},
        {"farm", 0, ARG_STR, &c.farm, "ENDPOINT", "verifier farm: local:N, tcp://HOST:PORT, ipc://PATH, or none"},
        {"server-key", 0, ARG_STR, &c.server_key, "FILE", "the broker's public key (tcp with CURVE)"},
        {"plugin", 0, ARG_LIST, &plugins, "NAME=PATH", "external verifier program"},
        {"plugins", 0, ARG_STR, &plugins_dir, "DIR", "folder of verifier programs"},
        {"algo", 0, ARG_STR, &c.algo, "NAME", "grpo or rft (rejection-sampling fine-tuning)"},
        {"group-size", 'G', ARG_INT, &c.group_size, "G", "samples per prompt"},
        {"prompts-per-step", 'P', ARG_INT, &c.prompts_per_step, "N", "prompts (groups) per step"},
        {"mu", 0, ARG_INT, &c.mu, "N", "passes over each step's samples"},
        {"minibatch", 0, ARG_INT, &c.minibatch, "N", "samples per optimizer update (0: one update per pass)"},
        {"beta", 0, ARG_FLOAT, &c.beta, "X", "KL weight (k3) to the starting model (0: no reference model)"},
        {"eps-low", 0, ARG_FLOAT, &c.eps_low, "X", "ratio clip below: 1 - X"},
        {"eps-high", 0, ARG_FLOAT, &c.eps_high, "X", "ratio clip above: 1 + X (DAPO clip-higher: 0.28)"},
        {"loss-agg", 0, ARG_STR, &c.loss_agg, "NAME", "token (DAPO), sequence (GRPO) or dr-grpo"},
        {"scale-rewards", 0, ARG_STR, &c.scale_rewards, "NAME", "advantage scaling: group, batch or none (Dr. GRPO)"},
        {"dynamic-sampling", 0, ARG_FLAG, &c.dynamic_sampling, NULL, "drop groups with equal rewards and refill"},
        {"max-refill", 0, ARG_INT, &c.max_refill, "N", "dynamic sampling: extra sampling rounds at most"},
        {"mask-truncated", 0, ARG_FLAG, &c.mask_truncated, NULL, "no loss on completions cut at --max-tokens"},
        {"overlong-penalty", 0, ARG_STR, &c.overlong, "START:END", "reward falls from 0 to -1 between these lengths"},
        {"format-reward", 0, ARG_FLOAT, &c.format_reward, "X", "added when an answer can be extracted"},
        {"rft-keep", 0, ARG_INT, &c.rft_keep, "M", "rft: correct samples kept per prompt, shortest first"},
        {"temperature", 't', ARG_FLOAT, &temperature, "T", "sampling temperature"},
        {"top-p", 0, ARG_FLOAT, &top_p, "P", "nucleus sampling"},
        {"top-k", 0, ARG_INT, &c.top_k, "N", "sample among the N most likely tokens (0 = off)"},
        {"max-tokens", 0, ARG_INT, &c.max_tokens, "N", "new tokens per sample"},
        {"batch", 0, ARG_INT, &c.batch, "N", "sequences decoded together"},
        {"system", 0, ARG_STR, &c.system, "TEXT", "a system message in every prompt"},
        {"templates", 0, ARG_STR, &c.templates_dir, "DIR", "prompt templates (math.txt, code.txt, open.txt)"},
        {"eval-k", 0, ARG_INT, &c.eval_k, "K", "held-out samples per problem"},
        {"eval-temperature", 0, ARG_FLOAT, &eval_temperature, "T", "held-out sampling temperature"},
        {"eval-max-tokens", 0, ARG_INT, &c.eval_max_tokens, "N", "held-out new tokens (0: --max-tokens)"},
        {"eval-limit", 0, ARG_INT, &c.eval_limit, "N", "first N problems of each held-out set"},
    };
    ArgCmd cmd = {.name = "reasoner rl",
                  .summary = "Improve a chat model with RL against the verifiers: GRPO (DAPO and Dr. GRPO options) "
                             "or rejection-sampling fine-tuning.",
                  .usage_args = "--model DIR --problems FILE... --out DIR [flags]",
                  .epilog = epilog,
                  .specs = specs,
                  .nspecs = 0};
    cmd.nspecs = train_flags_add(specs, args_count(specs), &tf);
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    TRAIN_FLAGS_TO(tf, c);
    if (cli_device_use("reasoner rl", tf.device) != 0) {
        args_list_free(&problems), args_list_free(&evals), args_list_free(&plugins);
        return 1;
    }
    c.problems = (const char *const *)problems.items, c.n_problems = problems.n;
    c.eval_problems = (const char *const *)evals.items, c.n_eval = evals.n;
    c.temperature = (float)temperature, c.top_p = (float)top_p, c.eval_temperature = (float)eval_temperature;
    Err err = {{0}};
    VerifierSet *vs = farm_verifiers_new(plugins.items, plugins.n, plugins_dir, &err);
    RlResult r;
    rc = vs ? rl_run((c.verifiers = vs, &c), &r, &err) : -1;
    verifier_set_free(vs);
    args_list_free(&problems), args_list_free(&evals), args_list_free(&plugins);
    if (rc != 0) {
        fprintf(stderr, "reasoner rl: %s\n", err.msg);
        return 1;
    }
    printf("steps: %lld (%lld updates, %lld samples)\n", (long long)r.steps, (long long)r.updates, (long long)r.samples);
    printf("reward: %.3f -> %.3f (first step -> mean of the last 5)\n", r.first_reward, r.last_reward);
    printf("accuracy: %.3f -> %.3f\n", r.first_accuracy, r.last_accuracy);
    if (!isnan(r.eval_before)) printf("held-out avg@k: %.3f -> %.3f\n", r.eval_before, r.eval_after);
    printf("time: %.1f s (sampling %.1f, grading wait %.1f, updates %.1f); MFU %.1f%%\n", r.seconds, r.sample_s,
           r.grade_wait_s, r.update_s, 100 * r.mfu);
    printf("checkpoint: %s/final\n", c.out_dir);
    return 0;
}
