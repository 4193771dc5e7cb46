// gen.h: problem generators for training and held-out evaluation, seeded and
// reproducible (the same options give the same problems, in the same order,
// on any machine).
//
//   reasoner problems gen arith --n 1000 --seed 1 --digits 3 --steps 2 --split train
//   reasoner problems gen countdown --n 500 --seed 2 --count 4 --split test
//   reasoner problems gen aime --n 200 --seed 3 --level 2 --text
//
// Kinds:
//   arith      "What is 347 + 891 * 12?" with operands of min_digits..digits digits, `steps`
//              operations drawn from `ops` (+ - * /; division is always exact), nested as a
//              random tree and printed with the parentheses it needs. Answer: an integer.
//   countdown  "Using the numbers [3, 25, 4, 75], create an equation that equals 203..."
//              Fields "numbers" and "target"; each number may be used at most once with
//              + - * / and parentheses (the plugin's rule, as TinyZero's). Always solvable: the
//              target is built by combining all the numbers with positive whole intermediate results (so a solver that keeps
//              every intermediate a positive integer finds it too). No "answer": there are
//              many; "verifier": "countdown", and "solution" holds one.
//   aime       integer answers 0..999 from computable templates (problems_aime_templates):
//              modular arithmetic, counting, combinatorics, recurrences, digit sums, divisors.
//              Fields "template" and "params" (the numbers the answer is computed from).
// Every record also has "solution": a worked answer ending in the final answer
// in \boxed{} (the text a pretraining or SFT mix learns from), "canonical" and "split".
//
// Split: a problem belongs to "test" when the hash of its canonical form (the
// expression; the sorted numbers and target; the template's prompt) falls in
// the first test_fraction of the hash range, else to "train". The split is a
// function of the problem alone, so no seed, count or knob can put one
// problem in both. Within one run problems are distinct.
// Thread-safe: no shared state.
#pragma once
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/rng.h"
#include "problems/problems.h"

typedef enum { GEN_SPLIT_ALL = 0, GEN_SPLIT_TRAIN, GEN_SPLIT_TEST } GenSplit;

typedef struct GenOptions {
    int n;                 // problems to make
    uint64_t seed;
    GenSplit split;        // which split's problems to keep
    double test_fraction;  // share of the problem space that is test (default 0.1)
    // arith
    int digits, min_digits;  // operand digits (default 1..3)
    int steps;               // operations per problem (default 1)
    const char *ops;         // drawn from these of "+-*/" (default "+-*")
    int allow_negative;      // results and intermediates may be negative (default 0)
    // countdown
    int count;                   // numbers given (default 4; 2..6)
    int max_number;              // numbers drawn from 1..max_number (default 99)
    int min_target, max_target;  // target range (default 10..999)
    // aime
    int level;              // 1 (easy) .. 3 (hard), default 2
    const char *templates;  // comma-separated names to draw from; NULL for all
} GenOptions;

// What one generator call makes; problems_gen turns it into a record.
typedef struct GenItem {
    Buf canonical;  // the problem's identity for dedup and split
    Buf prompt;
    Buf answer;     // empty for countdown
    Buf solution;   // worked answer ending in the final answer
    cJSON *extra;   // kind-specific fields for the record (an object)
} GenItem;

void problems_gen_defaults(GenOptions *o);
// The generator kinds: "arith", "countdown", "aime"; NULL-terminated.
extern const char *const problems_gen_kinds[];
// The aime template names, NULL-terminated.
extern const char *const problems_aime_templates[];

// Make o->n problems of a kind. Fails (NULL, e) on bad options, or when the
// knobs allow fewer than n distinct problems in the split. Records are in
// the project format with source "gen/<kind>" and id "<kind>/<16 hex of the
// canonical hash>". The caller frees with problems_free.
ProblemSet *problems_gen(const char *kind, const GenOptions *o, Err *e);
// The split a canonical form falls in (GEN_SPLIT_TRAIN or GEN_SPLIT_TEST).
GenSplit problems_split_of(const char *canonical, double test_fraction);
// The pretraining text of a generated problem: prompt, newline, solution.
// Malloc'd; NULL when the record has no "solution".
char *problems_gen_text(const Problem *p);

// One aime problem from template index t (of problems_aime_templates) at the
// given level into it (empty). Returns 0, or -1 when this draw is unusable
// (answer out of range); the caller draws again. Exposed for the generator.
int problems_aime_make(int t, int level, Rng *r, GenItem *it);
