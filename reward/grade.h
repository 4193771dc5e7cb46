// grade.h: the grading API every stage uses — grade (problem, response)
// pairs in this process or through a verifier farm, asynchronously, with
// results as C structs (VerifyResult). Eval uses it, and so does RL, which
// submits each sample the moment the sampler finishes it (rollout's
// on_sample) so grading overlaps with decoding the rest.
//
//   Grader *g = grader_open(&(GraderOpts){.farm = "local:4"}, &err);   // BEFORE loading a model
//   Model *m = model_load(...);
//   grader_submit(g, problem, response_text, &err);   // returns at once
//   VerifyResult *res = xcalloc(n, sizeof *res);
//   grader_collect(g, res, &err);                      // in submission order
//   ... res[i].score, res[i].status, res[i].extracted ...; grade_results_free(res, n);
//   grader_close(g);
//
// Routing: a problem's "verifier" field, else its kind (math -> "math", code
// -> "code", open -> "rm"). In process ("none"), a job is graded inside
// grader_submit with no JSON round trip (math takes microseconds; code forks
// a sandbox from this process). Through a farm, the job is sent at once and
// graded by the workers while the caller goes on.
//
// Fork before load. A "local:N" farm forks its broker and workers from this
// process; forked after a model is loaded, each would carry the model's pages
// and fork sandboxes slowly. grader_open enforces the order: in local mode
// it refuses when this process is already large (GRADER_MAX_FORK_RSS_MB
// resident), naming the rule (ARCHITECTURE.md, "Grading").
// Not thread-safe: one thread submits and collects.
#pragma once
#include "common/err.h"
#include "problems/problems.h"
#include "rollout/rollout.h"
#include "verifier/farm/farm.h"
#include "verifier/verifier.h"

#define GRADER_MAX_FORK_RSS_MB 256

typedef struct GraderOpts {
    const char *farm;              // "none" (this process), "local:N", or a farm endpoint
    const VerifierSet *verifiers;  // none/local: what grades (NULL: the built-ins)
    const char *server_key_file;   // tcp with CURVE: the broker's public key
    double timeout_s;              // collect gives up on a job after this long (default 600)
    VerifyLimits limits;           // per job (zero: the verifiers' defaults)
} GraderOpts;

typedef struct Grader Grader;

// Open the grader (and a local farm). NULL with e: a bad endpoint, a local
// farm opened after a large allocation (see above).
Grader *grader_open(const GraderOpts *o, Err *e);
void grader_close(Grader *g);  // NULL is fine
const char *grader_name(const Grader *g);  // "none", "local:4", ...

// Queue the grading of response to p (both copied as needed). Returns 0, or
// -1 with e on a transport failure.
int grader_submit(Grader *g, const Problem *p, const char *response, Err *e);
int grader_pending(const Grader *g);
// Wait for every submitted job; out (grader_pending() entries, zeroed or
// not) receives the results in submission order, each the caller's to free
// (grade_results_free). A job the farm could not answer in time becomes
// status "error" (a grading failure, not a wrong answer: callers must not
// train on it). Then the queue is empty. Returns how many jobs expired, or
// -1 on a transport failure (e filled; out holds nothing).
int grader_collect(Grader *g, VerifyResult *out, Err *e);
void grade_results_free(VerifyResult *r, int n);

// Seconds the last collect waited for results after they were asked for
// (0 when grading had finished while the caller sampled): the un-overlapped
// part of grading.
double grader_last_wait(const Grader *g);

// 1 when status is a verdict on the response (correct, wrong, timeout, ...),
// 0 when grading itself failed ("error"): such a sample carries no signal.
int grade_is_verdict(const VerifyResult *r);

// ---------------------------------------------------------------------------
// Sampling with grading overlapped.


typedef struct GradedRollout {
    RolloutResult r;         // the samples, prompt-major (rollout.h)
    VerifyResult *grades;    // (r.n) the grade of each sample, same order
    int expired;             // jobs the farm did not answer in time (status "error")
    double sample_s;         // wall time of sampling
    double grade_wait_s;     // time spent waiting for grades after sampling ended
} GradedRollout;

// Sample prompts with rollout_generate and hand each sample to g the moment
// it finishes; problems[i] is prompt i's problem. Returns 0, or -1 with e (a
// sampling error, a transport failure); out is then empty.
int grade_rollout(Grader *g, Model *m, const Bpe *tok, const RolloutOpts *o, const RolloutPrompt *prompts,
                  const Problem *const *problems, int np, Progress *progress, GradedRollout *out, Err *e);
void graded_rollout_free(GradedRollout *gr);
