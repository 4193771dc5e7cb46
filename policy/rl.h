// rl.h: the RL trainer — sample, grade, update, on the shared loop.
//
//   reasoner rl --model out/sft/final --problems train.jsonl --eval-problems test.jsonl
//               --farm local:2 --out out/rl --steps 50 --group-size 8 --prompts-per-step 16
//
// Per step (ARCHITECTURE.md, "RL loop"): draw prompts (a seeded, resumable
// pass over the training problems); sample G completions each with the chat
// template through rollout/; hand each finished sample to the grader at once
// (reward/grade.h), so grading overlaps with decoding the rest; compose
// rewards (reward/reward.h); drop groups whose grading failed (never train on
// partial grades) and, with dynamic sampling, groups whose rewards are all
// equal, refilling from new prompts; group advantages; then mu passes of
// minibatch updates with the clipped ratio and the optional k3 KL to a
// frozen reference (policy/grpo.h). --algo rft instead keeps the correct
// samples (shortest first, at most M per prompt) and fine-tunes on them.
//
// One model, no weight sync: rollout and training use the same in-process
// weights. The old-policy log-probs are computed by the training kernels
// before the step's first update (with one update per step, that update's
// own forward is the old policy), so the first ratio is exactly 1.0; the
// sampler's recorded log-probs are compared with them every step
// ("logp_mismatch" in the metrics).
//
// The grader is opened before any model is loaded (a local farm forks).
// Not thread-safe; one run per process.
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "verifier/verifier.h"

typedef struct RlConfig {
    const char *model_dir;          // the starting policy, also the frozen reference
    const char *const *problems;    // training problem files
    int n_problems;
    const char *const *eval_problems;  // held-out sets, evaluated every eval_every steps
    int n_eval;
    const char *out_dir, *resume_dir;
    const char *farm;               // "local:N", "none" or an endpoint
    const char *server_key;         // tcp with CURVE
    const VerifierSet *verifiers;   // none/local: what grades (NULL: the built-ins)
    const char *algo;               // "grpo" | "rft"
    const char *system;             // chat system message or NULL
    const char *templates_dir;      // NULL: the defaults eval uses
    int group_size, prompts_per_step, mu, minibatch;  // minibatch: samples per update (0: all)
    double beta, eps_low, eps_high;
    const char *loss_agg, *scale_rewards;
    int dynamic_sampling, max_refill, mask_truncated;
    const char *overlong;           // "START:END" or NULL
    double format_reward;
    int rft_keep;                   // rft: at most this many correct samples per prompt
    float temperature, top_p;
    int top_k, max_tokens, batch;   // batch: decode slots
    int64_t steps;
    double lr, min_lr, weight_decay, clip;
    int64_t warmup;
    const char *schedule;
    int64_t eval_every, save_every;
    int eval_k, eval_max_tokens, eval_limit;
    float eval_temperature;
    uint64_t seed;
    double time_budget, peak_flops;
    int progress;
} RlConfig;
RlConfig rl_defaults(void);

typedef struct RlResult {
    int64_t steps, samples, updates;
    double first_reward, last_reward;      // mean reward of the first step and of the last 5
    double first_accuracy, last_accuracy;
    double eval_before, eval_after;        // avg@k on the first held-out set (NAN without one)
    double sample_s, grade_wait_s, update_s, seconds;
    double mfu;
} RlResult;

// Train as configured; writes out_dir/{metrics.jsonl, final/, step_*/,
// eval/step_NNNNNN/}. Returns 0 or -1 with e.
int rl_run(const RlConfig *c, RlResult *r, Err *e);
