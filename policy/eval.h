// eval.h: AIME-style evaluation of a model on problem sets — sample K
// answers per problem (rollout/), grade every one through the verifier farm
// (verifier/), count avg@K, pass@k and maj@k per set (problems/metrics.h),
// and write samples.jsonl, summary.json and report.html. `reasoner eval`
// runs it; the RL loop runs it on held-out sets every N steps.
//
//   EvalOpts o = eval_defaults();  o.k = 16;  o.ro.temperature = 0.6f;
//   EvalSet sets[1] = {{.name = "aime24", .problems = ps}};
//   eval_run(model, tok, sets, 1, &o, "out/eval", &err);   // fills sets[i].metrics
//
// Prompts. Chat mode wraps each kind's template (templates/math.txt, ...)
// in the ChatML template; a tokenizer without chat tokens is an error.
// Plain mode (base models) starts with <|endoftext|> (as every pretraining
// document does) and puts few-shot examples before the problem:
// "<template(shot)>\n<shot solution>\n\n" per shot, then "<template(p)>\n",
// and stops at a blank line; the default plain template is "{problem}". A
// shot with the problem's own id or text is skipped (no answer leaks).
// Not thread-safe per model.
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"
#include "problems/metrics.h"
#include "problems/problems.h"
#include "rollout/rollout.h"
#include "tokenizer/bpe.h"
#include "reward/grade.h"

typedef struct EvalOpts {
    int k;                      // samples per problem (default 1)
    RolloutOpts ro;             // temperature, top-k/p, max_new_tokens, batch
    uint64_t seed;              // a problem's samples use seed ^ hash(problem id)
    int chat;                   // 1: ChatML prompts (default); 0: plain
    const char *system;         // chat system message or NULL
    const char *templates_dir;  // NULL: problems_templates_dir() in chat mode, "{problem}" in plain
    const ProblemSet *shots;    // plain mode: few-shot examples (NULL: none)
    int n_shots;
    Grader *grader;             // required: opened by the caller before the model was loaded
                                // (reward/grade.h); each sample is graded as it finishes
} EvalOpts;

EvalOpts eval_defaults(void);

typedef struct EvalSet {
    const char *name;           // e.g. the file stem "aime24"
    const ProblemSet *problems;
    EvalMetrics metrics;        // filled by eval_run
} EvalSet;

// Evaluate m on every set and write out_dir/{samples.jsonl, summary.json,
// report.html} (created; each written atomically). Progress on stderr.
// Returns 0, or -1 with e filled (chat tokens missing, shots in chat mode,
// a bad farm endpoint (checked before sampling), a prompt that fills the
// context (named by file:line and id), unwritable out_dir).
int eval_run(Model *m, const Bpe *tok, EvalSet *sets, int nsets, const EvalOpts *o, const char *out_dir,
             Err *e);
