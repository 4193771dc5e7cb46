// verifier.h: the contract every verifier meets, and the one table of them.
// A job is a model's response to a problem; a verifier grades it into a
// result with a score in [0, 1] and a status saying why. Built-in verifiers
// (math, code) are C functions listed in verifier/builtins.def; external
// plugins are programs run in the sandbox that read the job as JSON on stdin
// and write the result as JSON on stdout. Grading never takes the process
// down: whatever goes wrong becomes a result with status "error".
// A VerifierSet is read-only after setup and may be shared by threads.
#pragma once
#include <cjson/cJSON.h>

#include "common/err.h"

// Limits a job may set (ARCHITECTURE.md, "Farm messages": "limits").
typedef struct VerifyLimits {
    double time_s;      // wall/CPU seconds per program run (default 10)
    int memory_mb;      // address space (default 1024)
    int output_kb;      // stdout/stderr cap (default 64)
    int return_output;  // copy the program's stdout/stderr into the result
} VerifyLimits;

typedef struct VerifyJob {
    char *id;
    char *verifier;     // "math", "code", or a plugin's name
    char *response;     // the model's text
    cJSON *problem;     // the problem object (ARCHITECTURE.md, "Problem format")
    VerifyLimits limits;
} VerifyJob;

// Statuses: correct, wrong, timeout, memory, output_limit, runtime_error,
// compile_error, denied, crash, error.
typedef struct VerifyResult {
    double score;        // 0..1 (code: fraction of tests passed)
    int all_passed;      // the all-or-nothing flag
    char status[24];
    char *detail;        // malloc'd human-readable reason, or NULL
    char *extracted;     // malloc'd normalised extracted answer (math, for maj@k), or NULL
    char *out_stdout;    // malloc'd, only when limits.return_output
    char *out_stderr;
    double elapsed_ms;
    char isolation[64];  // sandboxed verifiers: sbx_isolation() of the sandbox that ran the job
                         // ("full", or "weak:..." under --allow-weak-sandbox); "" otherwise
} VerifyResult;

typedef struct Verifier {
    const char *name;
    // Grade job into out (zeroed by the caller). Returns 0; -1 only for
    // failures of the grader itself (e filled), which become status "error".
    int (*grade)(const struct Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e);
    const char *plugin_path;  // external plugins only
} Verifier;

typedef struct VerifierSet VerifierSet;

// A set holding the built-ins of builtins.def.
VerifierSet *verifier_set_new(void);
void verifier_set_free(VerifierSet *s);
// Register a C verifier (a test double, or one outside builtins.def); the set
// copies *v and its name. Returns 0, or -1 when the name is taken or invalid.
int verifier_set_add(VerifierSet *s, const Verifier *v, Err *e);
// Register an external program as verifier `name`. Returns 0 or -1.
int verifier_set_add_plugin(VerifierSet *s, const char *name, const char *path, Err *e);
// Register every executable in dir as a plugin named after its file (minus extension).
int verifier_set_add_plugin_dir(VerifierSet *s, const char *dir, Err *e);
const Verifier *verifier_set_find(const VerifierSet *s, const char *name);
// Grade a job, always filling out (unknown verifier, grader failure -> "error").
// Sets out->elapsed_ms.
void verifier_grade(const VerifierSet *s, const VerifyJob *job, VerifyResult *out);

// Farm messages. Parse a job object; errors name the field
// ("job: field 'response': missing"). The job owns copies of everything.
int verify_job_from_json(const cJSON *j, VerifyJob *job, Err *e);
cJSON *verify_job_to_json(const VerifyJob *job);
void verify_job_free(VerifyJob *job);
// {"id", "score", "status", "detail", "elapsed_ms", ...}
cJSON *verify_result_to_json(const char *id, const VerifyResult *r);
int verify_result_from_json(const cJSON *j, VerifyResult *r, Err *e);
void verify_result_free(VerifyResult *r);
// Set status, score and a printf-style detail in one call.
void verify_result_set(VerifyResult *r, const char *status, double score, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
