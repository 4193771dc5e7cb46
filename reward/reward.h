// reward.h: turning grades into the scalar reward RL optimises — the
// verifier's score, an optional format reward, and length shaping (DAPO's
// soft overlong punishment). Routing to a verifier by problem kind happens
// in the grader (grade.h); the learned reward model will add a term here.
// Pure functions, thread-safe.
#pragma once
#include "common/err.h"
#include "verifier/verifier.h"

typedef struct RewardOpts {
    double correct_weight;   // times the verifier's score (default 1)
    double format_weight;    // added when an answer could be extracted (\boxed{}, "####"); default 0
    int overlong_start;      // soft overlong punishment: 0 up to this many tokens,
    int overlong_end;        // falling linearly to -1 at this many (0: off)
} RewardOpts;

RewardOpts reward_defaults(void);

// "START:END" for --overlong-penalty (0 < START < END). Returns 0 or -1.
int reward_parse_overlong(const char *s, RewardOpts *o, Err *e);

// The parts of one sample's reward.
typedef struct Reward {
    double total;
    double score;     // verifier score times correct_weight
    double format;    // format reward
    double length;    // overlong shaping (<= 0)
} Reward;

// Compose the reward of a graded response of n_tokens tokens.
Reward reward_compose(const RewardOpts *o, const VerifyResult *g, int n_tokens);
