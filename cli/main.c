// main.c: the one binary, `reasoner <command> [subcommand] [flags]`.
// It sets the log level and dispatches to the table in commands.def; every
// command parses its own flags (common/args.h) and returns its exit status.
//   reasoner --help
//   reasoner tokenizer train --input corpus.txt --vocab 4096 --out tok/
//   reasoner --verbose <command> ...   (or --verbose anywhere before "--"):
//       first print the BLAS, its kernels and the measured sgemm GFLOP/s
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/log.h"

#define COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "cli/commands.def"
#undef COMMAND

static const SubCmd commands[] = {
#define COMMAND(name, fn, summary) {#name, summary, fn},
#include "cli/commands.def"
#undef COMMAND
};

void cli_print_blas(FILE *f, double secs);  // cmd_version.c

// Remove every "--verbose" before a "--" from argv; 1 if there was one.
static int take_verbose(int *argc, char **argv) {
    int found = 0, k = 1, i = 1;
    for (; i < *argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--verbose")) found = 1;
        else argv[k++] = argv[i];
    for (; i < *argc; i++) argv[k++] = argv[i];
    argv[k] = NULL;
    *argc = k;
    return found;
}

static const char *summary =
    "reasoner: train reasoning models in C: pretrain on web text, SFT, and RL\n"
    "against sandboxed verifiers. Logs go to stderr (REASONER_LOG=debug|info|warn|error).";

int main(int argc, char **argv) {
    const char *env = getenv("REASONER_LOG");
    if (env) {
        int lvl = log_level_parse(env);
        if (lvl < 0) {
            fprintf(stderr, "reasoner: REASONER_LOG=%s: expected debug, info, warn, error or off\n", env);
            return 2;
        }
        log_set_level((LogLevel)lvl);
    }
    if (take_verbose(&argc, argv)) cli_print_blas(stderr, 0.25);
    return args_dispatch("reasoner", summary, commands, (int)(sizeof commands / sizeof commands[0]), argc, argv);
}
