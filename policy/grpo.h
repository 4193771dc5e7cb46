// grpo.h: the GRPO objective as plain functions — group-normalised
// advantages and the clipped-ratio loss with an optional k3 KL penalty, with
// its exact gradient with respect to each token's log-prob. The RL trainer
// (policy/rl.h) feeds it model_forward's log-probs and hands the gradient to
// model_backward. Doubles throughout, so the gradient is checked against
// finite differences directly. Thread-safe (no state).
//
// Per token t of sequence i (ARCHITECTURE.md, "RL loop"):
//   r = exp(logp - old_logp)
//   obj = min(r * A_i, clip(r, 1 - eps_low, 1 + eps_high) * A_i)
//   k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1        (beta > 0)
//   l_t = -obj + beta * k3
// aggregated over the batch's live tokens (mask 1):
//   token    (DAPO):      sum_i sum_t l / sum_i |y_i|
//   sequence (GRPO):      mean_i (sum_t l / |y_i|)
//   dr-grpo  (Dr. GRPO):  sum_i sum_t l / (n_seq * max_tokens)
#pragma once
#include <stdint.h>

#include "common/err.h"

typedef enum { GRPO_AGG_TOKEN, GRPO_AGG_SEQUENCE, GRPO_AGG_DR } GrpoAgg;
typedef enum { GRPO_SCALE_GROUP, GRPO_SCALE_BATCH, GRPO_SCALE_NONE } GrpoScale;

int grpo_agg_parse(const char *s, GrpoAgg *out, Err *e);      // token | sequence | dr-grpo
int grpo_scale_parse(const char *s, GrpoScale *out, Err *e);  // group | batch | none
const char *grpo_agg_name(GrpoAgg a);

// Advantages of ngroups groups of G rewards each (group-major):
//   A = r - mean(group), divided by the std of the group (GROUP), of the
//   whole batch (BATCH, as Dr. GRPO's authors and TRL's scale_rewards="batch"),
//   or not at all (NONE, Dr. GRPO). std is the population std plus 1e-4 in
//   the denominator (TRL); a group whose rewards are all equal gets 0.
void grpo_advantages(const double *rewards, int ngroups, int G, GrpoScale scale, double *adv);

typedef struct GrpoLossOpts {
    double eps_low, eps_high;  // clip range (defaults 0.2, 0.2; DAPO's clip-higher: 0.2, 0.28)
    double beta;               // KL weight (0: no reference needed)
    GrpoAgg agg;
    int max_tokens;            // the generation limit, for GRPO_AGG_DR
    // The normalisers when the sequences given are one micro-batch of a larger
    // minibatch (gradients accumulate over micro-batches): the minibatch's live
    // tokens (token) and sequences (sequence, dr-grpo). 0: these sequences'.
    int64_t norm_tokens;
    int norm_seqs;
} GrpoLossOpts;

// One sequence's response tokens.
typedef struct GrpoSeq {
    int n;                     // tokens
    const double *logp;        // (n) under the current policy
    const double *old_logp;    // (n) under the sampling policy
    const double *ref_logp;    // (n) under the reference, or NULL when beta = 0
    const uint8_t *mask;       // (n) 1: in the loss; NULL: all
    double adv;
} GrpoSeq;

typedef struct GrpoStats {
    double loss;
    double clip_frac;   // share of live tokens whose gradient the clip removed
    double kl;          // mean k3 over live tokens (computed even when beta = 0 and ref given)
    double ratio_mean, ratio_max_dev;  // mean r and max |r - 1| over live tokens
    int64_t tokens;     // live tokens
} GrpoStats;

// The aggregated loss of n sequences; dlogp[i] (seqs[i].n entries each, the
// caller's arrays) receives d(loss)/d(logp) per token (0 where masked).
// Returns the loss; st (may be NULL) gets the statistics.
double grpo_loss(const GrpoLossOpts *o, const GrpoSeq *seqs, int n, double *const *dlogp, GrpoStats *st);
