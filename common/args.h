// args.h: GNU-style long flags for every subcommand, declared once as a
// table that also produces --help. `--name VALUE`, `--name=VALUE`, `-x VALUE`,
// `--flag` / `--no-flag`, list flags that take one or more values
// (`--input a b c`, repeatable), positionals, and `--` after which everything
// is positional (for `sandbox run -- CMD ARGS`). A bad flag prints one line
// and the usage to stderr; the caller exits 2. Values point into argv.
#pragma once
#include <stdint.h>

typedef enum { ARG_FLAG, ARG_INT, ARG_I64, ARG_FLOAT, ARG_STR, ARG_LIST } ArgKind;

typedef struct ArgList {
    const char **items;  // malloc'd array of pointers into argv; args_list_free
    int n;
} ArgList;

typedef struct ArgSpec {
    const char *name;     // long name without "--"
    char short_name;      // 0 for none
    ArgKind kind;
    void *dest;           // FLAG int*, INT int*, I64 int64_t*, FLOAT double*, STR const char**, LIST ArgList*
    const char *metavar;  // "N", "FILE"; NULL for FLAG
    const char *help;     // one line; the current value of *dest is shown as the default
    int required;         // ARG_REQUIRED: a usage error when the flag is not given
} ArgSpec;

#define ARG_REQUIRED 1

typedef struct ArgCmd {
    const char *name;         // "reasoner tokenizer train"
    const char *summary;      // one line
    const char *usage_args;   // "[flags] FILE..." shown after name
    const char *epilog;       // more text after the flags (examples), or NULL
    const ArgSpec *specs;
    int nspecs;
    ArgList *positional;      // NULL: positionals are an error
    int min_positional;       // fewer is a usage error
} ArgCmd;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_USAGE = 2 };

// Parse argv[1..argc) (argv[0] is the command name). Returns ARGS_OK,
// ARGS_HELP (help printed to stdout), or ARGS_USAGE (error printed: an
// unknown flag, a bad value, a missing ARG_REQUIRED flag). On anything but
// ARGS_OK the list flags and positionals are already freed.
int args_parse(const ArgCmd *cmd, int argc, char **argv);
void args_print_help(const ArgCmd *cmd, void *fp);  // fp is a FILE*
void args_list_free(ArgList *l);
// The exit status a command returns for a parse result: 0 for help, 2 for usage.
#define ARGS_EXIT_CODE(rc) ((rc) == ARGS_HELP ? 0 : 2)

// A command group: `reasoner tokenizer <sub> ...`.
typedef struct SubCmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand name
} SubCmd;

// Dispatch argv[1] to a subcommand; lists them on --help or when missing.
// Returns the subcommand's exit status, or 0/2 for help/usage.
int args_dispatch(const char *group, const char *summary, const SubCmd *subs, int nsubs, int argc, char **argv);
