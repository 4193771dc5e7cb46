// jsonl.h: a streaming JSONL reader that knows its line numbers.
// One JSON object a line; blank lines are skipped; a bad line gives an error
// "path:N: ..." and the reader can go on past it (for --skip-bad). Lines of
// any length. Reads a path, or stdin for "-". Not thread-safe per reader.
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>

#include "err.h"

typedef struct JsonlReader JsonlReader;

// Open path ("-" is stdin). NULL and e filled when it cannot be opened.
JsonlReader *jsonl_open(const char *path, Err *e);
// Next record: 1 with *out (the caller cJSON_Delete's it), 0 at the end,
// -1 on a bad line (e names path and line); calling again continues after it.
int jsonl_next(JsonlReader *r, cJSON **out, Err *e);
// 1-based line number of the record (or error) last returned.
long jsonl_line(const JsonlReader *r);
const char *jsonl_path(const JsonlReader *r);
// Byte offset of the start of the next line (for resumable readers).
long long jsonl_offset(const JsonlReader *r);
void jsonl_close(JsonlReader *r);

// Parse one line's text as a JSON object; errors read "path:line: ...".
// What the reader uses per line, and what the fuzz target drives.
cJSON *jsonl_parse_line(const char *text, size_t n, const char *path, long line, Err *e);
