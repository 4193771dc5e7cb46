// metrics.h: accuracy metrics over K sampled answers per problem, the way
// AIME-style results are reported (DeepSeek-R1, Qwen2.5-Math):
//   avg@K   mean over problems of the fraction of its K samples graded correct (= pass@1)
//   pass@k  the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021), averaged
//           over problems, for k = 1, 2, 4, ... up to K, and K itself
//   maj@k   a majority vote over the normalised extracted answers of the first k samples
//           (samples without an answer do not vote; ties go to the answer seen first);
//           correct when the winning answer's first sample was graded correct
//   the mean response length and the share of responses cut by the token limit.
// The caller (eval, RL) grades samples and hands in per-problem arrays; these
// functions only count. Pure functions, thread-safe.
#pragma once
#include <cjson/cJSON.h>

// One problem's samples, in sampling order. Arrays have n entries.
typedef struct ProblemSamples {
    int n;
    const int *correct;           // 1 = graded correct
    const char *const *answers;   // extracted answers; NULL entries (or a NULL array) do not vote
    const int *lengths;           // response lengths in tokens, or NULL
    const int *truncated;         // 1 = stopped by the token limit, or NULL
} ProblemSamples;

#define PROBLEMS_MAX_KS 32

typedef struct EvalMetrics {
    int n_problems;
    int k;                            // the most samples any problem has (K)
    long n_samples;
    double avg_at_k;                  // mean per-problem accuracy
    double avg_stderr;                // its standard error across problems
    int n_ks;
    int ks[PROBLEMS_MAX_KS];          // 1, 2, 4, ..., K
    double pass_at[PROBLEMS_MAX_KS];  // pass@ks[i]
    double maj_at[PROBLEMS_MAX_KS];   // maj@ks[i]
    double mean_length;               // over samples with a length; 0 when none
    double truncated_share;           // over samples with a flag; 0 when none
} EvalMetrics;

// Unbiased pass@k for one problem with n samples of which c are correct,
// computed as the stable product 1 - prod_{i=n-c+1..n} (1 - k/i). When
// k > n it is pass@n (1 if any sample is correct). Needs 0 <= c <= n, k >= 1.
double problems_pass_at_k(int n, int c, int k);
// The k values reported for K samples: 1, 2, 4, ... <= K, then K if it is
// not a power of two. Returns how many were written (at most max).
int problems_ks(int K, int *ks, int max);
// The majority answer among answers[0..n): the index of the first sample that
// carries it, or -1 when no sample has an answer. Answers are compared after
// problems_normalize_answer; ties go to the answer whose first sample is earliest.
int problems_majority(const char *const *answers, int n);
// A light canonical form for voting (the verifier decides equivalence; this
// only merges spellings of one answer): surrounding $ and \boxed{} removed,
// spaces and spacing commands (\, \! \left \right) dropped, \dfrac/\tfrac ->
// \frac, \text{x} -> x, degree marks and a trailing period dropped, and plain
// decimals canonical ("1,000" -> "1000", "27.0" -> "27", "+.50" -> "0.5").
// Malloc'd.
char *problems_normalize_answer(const char *s);
// All of the above over a problem set. n_problems may be 0 (all zeros).
void problems_eval_metrics(const ProblemSamples *probs, int n_problems, EvalMetrics *out);
// {"n_problems", "n_samples", "avg@K", "avg_stderr", "pass@1", ..., "maj@1", ...,
//  "mean_length", "truncated_share"} — the keys a summary and metrics.jsonl use.
cJSON *problems_eval_metrics_json(const EvalMetrics *m);
