// args.c: table-driven flag parsing and help text.
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

static const ArgSpec *find_long(const ArgCmd *cmd, const char *name, size_t n) {
    for (int i = 0; i < cmd->nspecs; i++)
        if (strlen(cmd->specs[i].name) == n && strncmp(cmd->specs[i].name, name, n) == 0) return &cmd->specs[i];
    return NULL;
}

static const ArgSpec *find_short(const ArgCmd *cmd, char c) {
    for (int i = 0; i < cmd->nspecs; i++)
        if (cmd->specs[i].short_name == c) return &cmd->specs[i];
    return NULL;
}

static int usage_error(const ArgCmd *cmd, const char *fmt, const char *what) {
    fprintf(stderr, "%s: ", cmd->name);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    fprintf(stderr, "usage: %s %s  (see --help)\n", cmd->name, cmd->usage_args ? cmd->usage_args : "[flags]");
    return ARGS_USAGE;
}

static void list_push(ArgList *l, const char *s) {
    l->items = xrealloc(l->items, sizeof(char *) * (size_t)(l->n + 1));
    l->items[l->n++] = s;
}

static int set_value(const ArgCmd *cmd, const ArgSpec *s, const char *v) {
    char *end;
    errno = 0;
    switch (s->kind) {
    case ARG_INT: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno || x < -2147483647L || x > 2147483647L)
            return usage_error(cmd, "--%s: expected an integer", s->name);
        *(int *)s->dest = (int)x;
        return ARGS_OK;
    }
    case ARG_I64: {
        long long x = strtoll(v, &end, 10);
        if (*v == 0 || *end || errno) return usage_error(cmd, "--%s: expected an integer", s->name);
        *(int64_t *)s->dest = (int64_t)x;
        return ARGS_OK;
    }
    case ARG_FLOAT: {
        double x = strtod(v, &end);
        if (*v == 0 || *end || errno) return usage_error(cmd, "--%s: expected a number", s->name);
        *(double *)s->dest = x;
        return ARGS_OK;
    }
    case ARG_STR: *(const char **)s->dest = v; return ARGS_OK;
    case ARG_LIST: list_push((ArgList *)s->dest, v); return ARGS_OK;
    case ARG_FLAG: break;
    }
    RS_ABORT("set_value on a flag");
}

static int is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

// The flag loop; seen[i] is set for each spec given.
static int parse_flags(const ArgCmd *cmd, int argc, char **argv, char *seen) {
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == 0) {
            if (!cmd->positional) return usage_error(cmd, "unexpected argument '%s'", a);
            list_push(cmd->positional, a);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (is_help(a)) {
            args_print_help(cmd, stdout);
            return ARGS_HELP;
        }
        const ArgSpec *s = NULL;
        const char *inline_val = NULL;
        int negated = 0;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            s = find_long(cmd, name, n);
            if (!s && n > 3 && strncmp(name, "no-", 3) == 0) {
                s = find_long(cmd, name + 3, n - 3);
                negated = s && s->kind == ARG_FLAG;
                if (!negated) s = NULL;
            }
            if (eq) inline_val = eq + 1;
        } else if (a[2] == 0) {
            s = find_short(cmd, a[1]);
        }
        if (!s) return usage_error(cmd, "unknown flag '%s'", a);
        seen[s - cmd->specs] = 1;
        if (s->kind == ARG_FLAG) {
            if (inline_val) return usage_error(cmd, "--%s takes no value", s->name);
            *(int *)s->dest = !negated;
            continue;
        }
        if (inline_val) {
            int rc = set_value(cmd, s, inline_val);
            if (rc) return rc;
            continue;
        }
        if (i + 1 >= argc) return usage_error(cmd, "--%s needs a value", s->name);
        int rc = set_value(cmd, s, argv[++i]);
        if (rc) return rc;
        // A list flag takes every following value up to the next flag.
        while (s->kind == ARG_LIST && i + 1 < argc && (argv[i + 1][0] != '-' || argv[i + 1][1] == 0))
            list_push((ArgList *)s->dest, argv[++i]);
    }
    if (cmd->positional && cmd->positional->n < cmd->min_positional)
        return usage_error(cmd, "%s", "missing argument");
    return ARGS_OK;
}

int args_parse(const ArgCmd *cmd, int argc, char **argv) {
    char *seen = xcalloc((size_t)(cmd->nspecs ? cmd->nspecs : 1), 1);
    int rc = parse_flags(cmd, argc, argv, seen);
    for (int i = 0; rc == ARGS_OK && i < cmd->nspecs; i++)
        if (cmd->specs[i].required && !seen[i]) rc = usage_error(cmd, "--%s is required", cmd->specs[i].name);
    free(seen);
    // Nothing parsed is used after help or a usage error: free the lists here
    // so that no caller has to on its early return.
    for (int i = 0; rc != ARGS_OK && i < cmd->nspecs; i++)
        if (cmd->specs[i].kind == ARG_LIST) args_list_free((ArgList *)cmd->specs[i].dest);
    if (rc != ARGS_OK && cmd->positional) args_list_free(cmd->positional);
    return rc;
}

static void print_default(const ArgSpec *s, FILE *fp) {
    switch (s->kind) {
    case ARG_INT: fprintf(fp, " (default %d)", *(int *)s->dest); break;
    case ARG_I64: fprintf(fp, " (default %lld)", (long long)*(int64_t *)s->dest); break;
    case ARG_FLOAT: fprintf(fp, " (default %g)", *(double *)s->dest); break;
    case ARG_STR:
        if (*(const char **)s->dest) fprintf(fp, " (default %s)", *(const char **)s->dest);
        break;
    case ARG_FLAG:
        if (*(int *)s->dest) fprintf(fp, " (default on; --no-%s turns it off)", s->name);
        break;
    case ARG_LIST: break;
    }
}

void args_print_help(const ArgCmd *cmd, void *fpv) {
    FILE *fp = fpv;
    fprintf(fp, "usage: %s %s\n\n%s\n\n", cmd->name, cmd->usage_args ? cmd->usage_args : "[flags]", cmd->summary);
    fprintf(fp, "flags:\n");
    for (int i = 0; i < cmd->nspecs; i++) {
        const ArgSpec *s = &cmd->specs[i];
        char left[64];
        const char *mv = s->metavar ? s->metavar : (s->kind == ARG_LIST ? "X..." : "X");
        if (s->kind == ARG_FLAG) snprintf(left, sizeof left, "--%s", s->name);
        else snprintf(left, sizeof left, "--%s %s%s", s->name, mv, s->kind == ARG_LIST ? "..." : "");
        if (s->short_name) fprintf(fp, "  -%c, %-26s ", s->short_name, left);
        else fprintf(fp, "      %-26s ", left);
        fprintf(fp, "%s", s->help ? s->help : "");
        if (s->required) fprintf(fp, " (required)");
        else print_default(s, fp);
        fputc('\n', fp);
    }
    fprintf(fp, "  -h, %-26s show this help\n", "--help");
    if (cmd->epilog) fprintf(fp, "\n%s\n", cmd->epilog);
}

void args_list_free(ArgList *l) {
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void print_subs(const char *group, const char *summary, const SubCmd *subs, int n, FILE *fp) {
    fprintf(fp, "usage: %s <command> [flags]\n\n%s\n\ncommands:\n", group, summary);
    for (int i = 0; i < n; i++) fprintf(fp, "  %-12s %s\n", subs[i].name, subs[i].summary);
    fprintf(fp, "\n'%s <command> --help' shows a command's flags.\n", group);
}

int args_dispatch(const char *group, const char *summary, const SubCmd *subs, int nsubs, int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "%s: missing command\n", group);
        print_subs(group, summary, subs, nsubs, stderr);
        return ARGS_USAGE;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        print_subs(group, summary, subs, nsubs, stdout);
        return 0;
    }
    for (int i = 0; i < nsubs; i++)
        if (strcmp(argv[1], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n", group, argv[1]);
    print_subs(group, summary, subs, nsubs, stderr);
    return ARGS_USAGE;
}
