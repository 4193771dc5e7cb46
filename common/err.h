// err.h: the error a failing function hands back to its caller.
// Functions that can fail for reasons a user or the world causes (bad files,
// bad JSON, a dead worker) return -1 (or NULL) and fill an Err whose message
// carries context: "file:line: field: what is wrong". The caller decides
// whether to print it; nothing below cli/ prints errors or exits.
#pragma once
#include <stddef.h>

typedef struct Err {
    char msg[1024];
} Err;

// Format the message into e (e may be NULL). Returns -1, so that
// `return err_set(e, "...")` reads as a failure return.
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prefix context to the message already in e: "ctx: old message". Returns -1.
int err_wrap(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Set the message from errno: "what: strerror(errno)". Returns -1.
int err_errno(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
