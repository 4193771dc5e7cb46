// plugin.h: external verifiers. A plugin is one executable file (a script
// with a #! line, or a binary that needs only system libraries) that reads
// a job as JSON on stdin and writes a result as JSON on stdout:
//   in:  {"id", "verifier", "response", "problem": {...}, "limits": {...}}
//   out: {"score": 0..1, "status"?: "correct"|"wrong"|..., "detail"?: "...",
//         "all_passed"?: bool, "extracted"?: "..."}
// It runs inside the sandbox like any untrusted program (a copy of the file
// in the work dir, no network, read-only system dirs), with the job's time
// and memory limits. A plugin that fails (non-zero exit, a limit, bad JSON)
// makes the grade fail: status "error" with the plugin's complaint.
// plugins/README.md walks through plugins/countdown. Thread-safe.
//   reasoner verify --plugin countdown=plugins/countdown < jobs.jsonl
#pragma once
#include "verifier/sandbox/sandbox.h"
#include "verifier/verifier.h"

// Verifier.grade for plugins: runs self->plugin_path in sbx_shared().
int vplugin_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e);

// The same with an explicit sandbox and plugin path.
int vplugin_grade_with(const Sandbox *s, const char *path, const VerifyJob *job, VerifyResult *out, Err *e);
