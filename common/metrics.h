// metrics.h: training and evaluation metrics as JSONL, one object per step,
// flushed after every line so that a crash loses nothing and `tail -f` and
// `reasoner plot` see progress live. Not thread-safe per writer.
#pragma once
#include <cjson/cJSON.h>

#include "err.h"

typedef struct Metrics Metrics;

// Open path for writing; append=1 keeps earlier lines (resumed runs).
Metrics *metrics_open(const char *path, int append, Err *e);
// Write obj as one line and flush. Returns 0 or -1.
int metrics_write(Metrics *m, const cJSON *obj, Err *e);
// Convenience: name/value pairs of doubles, terminated by NULL:
// metrics_log(m, e, "step", 10.0, "loss", 2.31, NULL). Integral values are
// written without a fraction.
int metrics_log(Metrics *m, Err *e, ...);
void metrics_close(Metrics *m);
