// train_flags.h: the flags every training command shares (the shared loop's
// knobs: schedule, optimizer, cadence, budget, resume), declared once.
//   TrainFlags tf = TRAIN_FLAGS_FROM(c);  n = train_flags_add(specs, args_count(specs), &tf);
//   ... args_parse ...;  TRAIN_FLAGS_TO(tf, c);   // back into c, and --threads applied
// Header-only: cli/ is one binary and these are its plain helpers.
#pragma once
#include <omp.h>

#include "cli/device_flag.h"
#include "common/args.h"

typedef struct TrainFlags {
    const char *resume, *schedule, *device;
    double lr, min_lr, weight_decay, clip, time_budget, peak_gflops;
    int64_t warmup, steps, eval_every, save_every, seed;
    int threads, quiet;
} TrainFlags;

enum { TRAIN_FLAGS_N = 16 };

// The specs given before the first unused (zeroed) slot.
static inline int args_count(const ArgSpec *specs) {
    int n = 0;
    while (specs[n].name) n++;
    return n;
}

// Append the shared flags to specs[n..n + TRAIN_FLAGS_N); returns the count.
static inline int train_flags_add(ArgSpec *specs, int n, TrainFlags *f) {
    const ArgSpec add[TRAIN_FLAGS_N] = {
        {"resume", 0, ARG_STR, &f->resume, "DIR", "continue from this checkpoint folder (bit-identical)"},
        {"steps", 'n', ARG_I64, &f->steps, "N", "optimizer (loop) steps in all"},
        {"lr", 0, ARG_FLOAT, &f->lr, "X", "peak learning rate"},
        {"min-lr", 0, ARG_FLOAT, &f->min_lr, "X", "learning rate at the end of the decay"},
        {"warmup", 0, ARG_I64, &f->warmup, "N", "linear warmup steps"},
        {"schedule", 0, ARG_STR, &f->schedule, "S", "decay after warmup: cosine, linear or constant"},
        {"weight-decay", 0, ARG_FLOAT, &f->weight_decay, "X", "AdamW decoupled weight decay (2-D weights only)"},
        {"clip", 0, ARG_FLOAT, &f->clip, "X", "global gradient-norm clip (0: none)"},
        {"time-budget", 0, ARG_FLOAT, &f->time_budget, "SECS",
         "fit the run into SECS: --steps becomes what the step time allows (0: off)"},
        {"eval-every", 0, ARG_I64, &f->eval_every, "N", "held-out evaluation every N steps (0: at the end only)"},
        {"save-every", 0, ARG_I64, &f->save_every, "K", "checkpoint every K steps (0: at the end only)"},
        {"seed", 's', ARG_I64, &f->seed, "N", "seed for initialisation, data order and sampling"},
        {"threads", 'j', ARG_INT, &f->threads, "N", "OpenMP threads (0: all cores)"},
        {"peak-gflops", 0, ARG_FLOAT, &f->peak_gflops, "X", "MFU denominator (0: the best kernels' sgemm peak, measured)"},
        {"quiet", 'q', ARG_FLAG, &f->quiet, NULL, "no progress bar or log lines"},
        {"device", 0, ARG_STR, &f->device, "DEV", DEVICE_FLAG_HELP},
    };
    for (int i = 0; i < TRAIN_FLAGS_N; i++) specs[n++] = add[i];
    return n;
}

// The flags' defaults from a stage config c, and back into it after parsing
// (every stage config names these fields alike); TO also applies --threads.
// --device is applied by the command (cli_device_use): it can fail.
#define TRAIN_FLAGS_FROM(c)                                                                                  \
    ((TrainFlags){.schedule = (c).schedule, .lr = (c).lr, .min_lr = (c).min_lr, .weight_decay = (c).weight_decay, \
                  .clip = (c).clip, .warmup = (c).warmup, .steps = (c).steps, .eval_every = (c).eval_every,    \
                  .save_every = (c).save_every, .seed = (int64_t)(c).seed})
#define TRAIN_FLAGS_TO(tf, c)                                                                                   \
    do {                                                                                                        \
        train_flags_apply(&(tf));                                                                               \
        (c).resume_dir = (tf).resume, (c).schedule = (tf).schedule, (c).lr = (tf).lr, (c).min_lr = (tf).min_lr; \
        (c).weight_decay = (tf).weight_decay, (c).clip = (tf).clip, (c).time_budget = (tf).time_budget;        \
        (c).warmup = (tf).warmup, (c).steps = (tf).steps, (c).eval_every = (tf).eval_every;                   \
        (c).save_every = (tf).save_every, (c).seed = (uint64_t)(tf).seed;                                     \
        (c).peak_flops = (tf).peak_gflops * 1e9, (c).progress = !(tf).quiet;                                  \
    } while (0)

static inline void train_flags_apply(const TrainFlags *f) {
    if (f->threads > 0) omp_set_num_threads(f->threads);
}
