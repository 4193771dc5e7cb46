// json.h: JSON helpers on cJSON (the Debian library everyone else uses, so
// that we write no JSON parser of our own). Typed field access that names the
// file, line and field when something is missing or of the wrong type, file
// read/write (atomic), and compact printing. Pure functions; thread-safe.
#pragma once
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

// Parse text of length n. On failure: "ctx:line:col: invalid JSON near '...'"
// where line/col are counted in text and line is offset by first_line-1.
cJSON *json_parse(const char *text, size_t n, const char *ctx, long first_line, Err *e);
// Read and parse a whole file; errors name the file and the line.
cJSON *json_read_file(const char *path, Err *e);
// Pretty-print and write atomically. Returns 0 or -1.
int json_write_file(const char *path, const cJSON *j, Err *e);
// Compact one-line text; the caller frees with free().
char *json_compact(const cJSON *j);
// Write j compact plus '\n' (a JSONL record). Returns 0 or -1 (errno set).
int json_write_line(FILE *fp, const cJSON *j);

// Required fields: 0 and *out set, or -1 with "ctx: field 'key': missing" or
// "...: expected a string". ctx is usually "file:line". *out points into obj.
int json_get_str(const cJSON *obj, const char *key, const char **out, const char *ctx, Err *e);
int json_get_int(const cJSON *obj, const char *key, int64_t *out, const char *ctx, Err *e);
int json_get_num(const cJSON *obj, const char *key, double *out, const char *ctx, Err *e);
// Optional fields: the default when absent or of another type.
const char *json_opt_str(const cJSON *obj, const char *key, const char *dflt);
int64_t json_opt_int(const cJSON *obj, const char *key, int64_t dflt);
double json_opt_num(const cJSON *obj, const char *key, double dflt);
int json_opt_bool(const cJSON *obj, const char *key, int dflt);
