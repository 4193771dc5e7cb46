// code.h: the code verifier. Grades a response holding a Python or C
// program against a problem's tests, every program run (and the C
// compiler) inside the sandbox.
//   echo '{"id":"1","verifier":"code","response":"```python\nprint(int(input())*2)\n```",
//          "problem":{"tests":[{"stdin":"21\n","stdout":"42\n"}]}}' | reasoner verify
//
// The program is the last fenced code block of the response (after the last
// </think>, when there is one), else the whole response. Its language is the
// problem's "language", else the fence's tag, else Python.
// Test forms (ARCHITECTURE.md, "Problem format"), tried in this order:
//   "tests": [{"stdin", "stdout"}]   any language; one run per test, stdout
//                                     compared with trailing whitespace ignored
//   "test_list" (+ "test_setup_code") MBPP asserts, Python; each assert runs
//                                     on its own, so one failure hides no other
//   "test" + "entry_point" (+ "prompt") HumanEval; the prompt is prepended when
//                                     the program does not define the entry
//                                     point, then check(entry_point) runs
// score = fraction of tests passed; all_passed the all-or-nothing flag;
// status: correct, wrong, timeout, memory, output_limit, runtime_error,
// compile_error, denied.
// Function-style tests run in a harness inside the program's interpreter
// (as HumanEval's and MBPP's reference harnesses do); its verdicts travel on
// fd 3 tagged with a per-run nonce, so printing or exiting early cannot fake
// a pass. Thread-safe.
#pragma once
#include <stddef.h>

#include "verifier/sandbox/sandbox.h"
#include "verifier/verifier.h"

// Grade job with sandbox s into out (zeroed by the caller). Returns 0, or -1
// (e filled) when the problem is unusable or the sandbox failed; the
// caller turns that into status "error".
int vcode_grade_with(const Sandbox *s, const VerifyJob *job, VerifyResult *out, Err *e);

// Verifier.grade for builtins.def: vcode_grade_with on sbx_shared().
int vcode_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e);

// The program in a response: malloc'd text; lang (cap bytes) gets the
// fence's tag lower-cased ("" when none or no fence).
char *vcode_extract(const char *response, char *lang, size_t cap);

// Does Python source define `name` at top level (def, async def, class, or
// an assignment)? Used to decide whether a HumanEval prompt is prepended.
int vcode_defines(const char *src, const char *name);

// Stdout comparison: equal once \r\n is \n, each line's trailing
// whitespace and trailing blank lines are dropped.
int vcode_output_matches(const char *got, const char *want);
