// problems.h: problem sets. The project's JSONL format, loaders that read the
// public sets as published (detected from their fields), prompt templates,
// and the answer helpers that eval and the verifiers share.
//
//   reasoner problems convert gsm8k_test.jsonl HumanEval.jsonl.gz -o problems.jsonl
//
// The format (ARCHITECTURE.md, "Problem format"), one problem a line:
//   {"id", "kind": "math"|"code"|"open", "prompt", "answer"?, "tests"?,
//    "entry_point"?, "language"?, "source"?, "verifier"?, ...}
// Code problems carry tests as HumanEval's ("test" + "entry_point"), MBPP's
// ("test_list" + "test_setup_code") or "tests": [{"stdin", "stdout"}, ...].
// "verifier" names the verifier to grade with when the kind's default
// (math, code, rm) is not the right one (generated Countdown: "countdown").
// Other fields ride along untouched (a MATH "level", a GSM8K "solution").
//
// Published formats, detected from a file's first record; every later record
// must then carry that format's fields:
//   gsm8k      question, answer          answer = text after the last "#### ", commas removed
//   math       problem, solution         answer = the record's "answer" when present (MATH-500,
//                                         Qwen's AIME copies), else the last \boxed{} of solution
//   aime       problem, answer           string, int or float: 27.0 -> "27"   (AIME, AMC)
//   humaneval  task_id, prompt, test, entry_point   kept as they are for the code verifier
//   mbpp       text (or prompt), test_list, test_setup_code (or test_imports)
//              prompt = text + "\nYour code should pass this test:\n" + test_list[0], the
//              customary signature hint (bigcode-evaluation-harness); the first test stays
//              in test_list, so the hint is one the graded tests contain.
// Files may be JSONL, a JSON array, or one JSON object (MATH's per-problem
// files), each optionally gzip-compressed (HumanEval.jsonl.gz as published).
//
// Ids: a native id is kept; a published string id containing '/' is already
// qualified and kept ("HumanEval/0"); any other id (or the 0-based record
// index when there is none) becomes "<source>/<id>" ("gsm8k_test/0",
// "mbpp/11", "aime24/60"). source is the native "source", else the file name
// without directory and extensions ("gsm8k_test").
//
// A ProblemSet owns its problems; problems are read-only after loading and
// may be shared by threads.
#pragma once
#include <cjson/cJSON.h>
#include <stdio.h>

#include "common/err.h"

typedef enum { PROBLEM_MATH = 0, PROBLEM_CODE = 1, PROBLEM_OPEN = 2, PROBLEM_NKINDS = 3 } ProblemKind;

typedef enum {
    PF_UNKNOWN = 0,
    PF_NATIVE,
    PF_GSM8K,
    PF_MATH,
    PF_AIME,
    PF_HUMANEVAL,
    PF_MBPP,
} ProblemFormat;

typedef struct Problem {
    const char *id;        // unique within its set
    ProblemKind kind;
    const char *prompt;    // the problem text that a template wraps
    const char *answer;    // reference answer; NULL when there is none (code, countdown, open)
    const char *source;    // the set it came from ("gsm8k_test", "gen/arith")
    const char *verifier;  // "verifier" field, else by kind: "math", "code", "rm"
    long line;             // line of the record in its file (1-based; 0 when built in memory)
    cJSON *json;           // the record in the project format; owns every string above.
                           // This is what a verifier job's "problem" carries.
} Problem;

typedef struct ProblemSet {
    Problem *items;
    int n, cap;
    char *path;            // as given ("<stdin>" for "-")
    ProblemFormat format;  // detected from the first good record
    int n_bad;             // records skipped (skip_bad)
    char *first_bad;       // the message of the first skipped record, or NULL
    char *stem;            // the file name without folders and extensions
    struct ProblemIdIndex *index;  // private: ids seen, for duplicates
} ProblemSet;

// Load a problem file in any supported format (detected per file). With
// skip_bad, bad records are counted in n_bad and skipped; without, the first
// one fails the load. Errors read "path:line: field 'x': what is wrong".
// Returns NULL and fills e on failure. The caller frees with problems_free.
ProblemSet *problems_load(const char *path, int skip_bad, Err *e);
// An empty set, for building one in memory (generators, tests).
ProblemSet *problems_set_new(const char *path);
// Take ownership of native (a record in the project format), validate it and
// append it. ctx prefixes errors ("file:line"). On failure native is freed,
// the set is unchanged, and -1 returned. Duplicate ids are an error.
int problems_add(ProblemSet *s, cJSON *native, long line, const char *ctx, Err *e);
// Keep only the first n problems (eval --limit); n >= s->n changes nothing.
void problems_truncate(ProblemSet *s, int n);
void problems_free(ProblemSet *s);

// The format a record's fields say it is in; PF_UNKNOWN when none fits.
ProblemFormat problems_detect(const cJSON *rec);
const char *problems_format_name(ProblemFormat f);
// The fields a format needs, for error messages ("question, answer").
const char *problems_format_fields(ProblemFormat f);
const char *problems_kind_name(ProblemKind k);
// "math" -> PROBLEM_MATH; -1 when unknown.
int problems_kind_parse(const char *name);

// Map one published record to the project format. source names the set and
// index is the record's 0-based position in its file (both used for ids).
// Returns a new object, or NULL with "ctx: field 'x': ..." in e.
cJSON *problems_to_native(const cJSON *rec, ProblemFormat f, const char *source, long index, const char *ctx,
                          Err *e);
// Write a set as JSONL in the project format. Returns 0 or -1 (errno set).
int problems_write(FILE *fp, const ProblemSet *s);

// ---- answers -----------------------------------------------------------------

// The contents of the last \boxed{...} (or \fbox{...}) in text, braces
// balanced; also the "\boxed 5" form. A malloc'd string, or NULL when there
// is none (or its braces never close).
char *problems_last_boxed(const char *text);
// A JSON number as answer text: integral values without a fraction (27.0 ->
// "27"), others in the shortest form that reads back exactly. Malloc'd.
char *problems_number_text(double v);

// ---- prompt templates -----------------------------------------------------------
// A template is a text file with a {problem} placeholder, one per kind:
// templates/math.txt, templates/code.txt, templates/open.txt (templates/README.md).
// One trailing newline of the file is not part of the template.

typedef struct ProblemTemplates {
    char *text[PROBLEM_NKINDS];
} ProblemTemplates;

// The folder of the default templates: $REASONER_TEMPLATES, else
// templates/ beside the binary's build folder (<exe>/../templates, then
// <exe>/../../templates for build/san), else ./templates. Malloc'd.
char *problems_templates_dir(void);
// Read one template; errors when it lacks a {problem} placeholder. Malloc'd.
char *problems_template_read(const char *path, Err *e);
// Read <dir>/math.txt, code.txt and open.txt into t. Returns 0 or -1.
int problems_templates_load(ProblemTemplates *t, const char *dir, Err *e);
void problems_templates_free(ProblemTemplates *t);
// The template with every {problem} replaced by p->prompt. Malloc'd.
char *problems_render_prompt(const char *tmpl, const Problem *p);

// An SFT conversation from a problem with a worked solution:
//   {"messages": [{"role": "system", ...}?, {"role": "user", "content": tmpl(p)},
//                 {"role": "assistant", "content": solution}], "id", "source"}
// The solution is the record's "solution" (the generators', MATH's, GSM8K's
// answer text) made to end in \boxed{}: GSM8K's calculator annotations
// <<48/2=24>> are dropped and its "#### 72" becomes "The answer is \boxed{72}.";
// a solution with no \boxed{} gets that sentence with the reference answer.
// NULL when the problem has no worked solution. system may be NULL.
// answer_only: the assistant turn is only that last sentence, no working.
cJSON *problems_to_chat(const Problem *p, const char *tmpl, const char *system, int answer_only);

// Whether problem `id` falls in the share `frac` of a set, by a hash of the id:
// the same problems for every run and every order of the file.
int problems_in_share(const char *id, double frac);
