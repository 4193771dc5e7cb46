// cmd_sandbox.c: `reasoner sandbox run|info`: run one command in the
// verifier sandbox and print how it ended as one JSON object, or show which
// isolation layers this machine allows.
//   reasoner sandbox run --time-s 2 --memory-mb 256 -- python3 -c 'print(6*7)'
//   reasoner sandbox run --allow-exec --file prog.c=./prog.c -- cc -O2 -o prog prog.c
//   reasoner sandbox info
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "verifier/sandbox/sandbox.h"

typedef struct SandboxArgs {
    double time_s;
    int memory_mb, output_kb, procs, files, fsize_mb;
    ArgList file;
    ArgList ro;
    const char *stdin_path;
    int no_namespaces, allow_weak, allow_exec, no_fork;
    ArgList cmd;
} SandboxArgs;

// "NAME=PATH": read PATH into a work-dir file called NAME.
static int load_file(const char *spec, SbxFile *f, Err *e) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) return err_set(e, "--file %s: expected NAME=PATH", spec);
    char *data;
    size_t n;
    if (fs_read_all(eq + 1, &data, &n, e) != 0) return err_wrap(e, "--file %s", spec);
    *f = (SbxFile){.name = strndup(spec, (size_t)(eq - spec)), .data = data, .len = n, .executable = 1};
    return 0;
}

static cJSON *result_json(const SbxResult *r, const Sandbox *s) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", sbx_status_name(r->status));
    cJSON_AddNumberToObject(j, "exit_code", r->exit_code);
    cJSON_AddNumberToObject(j, "signal", r->signal);
    cJSON_AddNumberToObject(j, "cpu_ms", r->cpu_ms);
    cJSON_AddNumberToObject(j, "wall_ms", r->wall_ms);
    cJSON_AddNumberToObject(j, "peak_rss_kb", (double)r->peak_rss_kb);
    cJSON_AddNumberToObject(j, "rss_floor_kb", (double)r->rss_floor_kb);
    cJSON_AddStringToObject(j, "stdout", r->out);
    cJSON_AddStringToObject(j, "stderr", r->err);
    cJSON_AddNumberToObject(j, "stdout_bytes", (double)r->out_total);
    cJSON_AddNumberToObject(j, "stderr_bytes", (double)r->err_total);
    cJSON_AddStringToObject(j, "detail", r->detail);
    cJSON *layers = sbx_layers_json(s);
    cJSON *item;
    while ((item = layers->child) != NULL) cJSON_AddItemToObject(j, item->string, cJSON_DetachItemViaPointer(layers, item));
    cJSON_Delete(layers);
    return j;
}

static int sandbox_run(int argc, char **argv) {
    SandboxArgs a = {0};
    SbxLimits d;
    sbx_limits_default(&d);
    a.time_s = d.time_s, a.memory_mb = d.memory_mb, a.output_kb = d.output_kb;
    a.procs = d.procs, a.files = d.files, a.fsize_mb = d.fsize_mb;
    ArgSpec specs[] = {
        {"time-s", 0, ARG_FLOAT, &a.time_s, "S", "wall-clock limit (the CPU limit is its ceiling)"},
        {"memory-mb", 0, ARG_INT, &a.memory_mb, "MB", "address-space limit"},
        {"output-kb", 0, ARG_INT, &a.output_kb, "KB", "cap of stdout and of stderr"},
        {"procs", 0, ARG_INT, &a.procs, "N", "processes and threads"},
        {"files", 0, ARG_INT, &a.files, "N", "open files"},
        {"fsize-mb", 0, ARG_INT, &a.fsize_mb, "MB", "largest file, and the work dir's size"},
        {"file", 0, ARG_LIST, &a.file, "NAME=PATH", "copy PATH into the work dir as NAME (repeatable)"},
        {"ro", 0, ARG_LIST, &a.ro, "PATH", "also show host PATH read-only (e.g. a Python outside /usr)"},
        {"stdin", 0, ARG_STR, &a.stdin_path, "FILE", "the program's stdin (default empty)"},
        {"no-namespaces", 0, ARG_FLAG, &a.no_namespaces, NULL,
         "use the fallback without namespaces (weak: needs --allow-weak-sandbox)"},
        {"allow-weak-sandbox", 0, ARG_FLAG, &a.allow_weak, NULL,
         "run even where the full jail cannot be built (RISK: the program may reach the host)"},
        {"allow-exec", 0, ARG_FLAG, &a.allow_exec, NULL, "CMD may run other programs (a compiler, a shell script)"},
        {"no-fork", 0, ARG_FLAG, &a.no_fork, NULL, "threads only: RLIMIT_AS then caps the whole job"},
    };
    ArgCmd cmd = {.name = "reasoner sandbox run",
                  .summary = "Run CMD in the verifier sandbox and print one JSON object: status, exit_code, "
                             "signal, cpu_ms, wall_ms, peak_rss_kb, stdout, stderr, and the layers in use.",
                  .usage_args = "[flags] -- CMD [ARGS...]",
                  .epilog = "example:\n  reasoner sandbox run --time-s 1 -- python3 -c 'while True: pass'",
                  .specs = specs, .nspecs = (int)(sizeof specs / sizeof specs[0]),
                  .positional = &a.cmd, .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&a.file), args_list_free(&a.ro), args_list_free(&a.cmd);
        return ARGS_EXIT_CODE(rc);
    }
    Err e = {{0}};
    SbxFile *files = calloc((size_t)a.file.n + 1, sizeof *files);
    char *in = NULL;
    size_t in_len = 0;
    int nfiles = 0, ok = 1;
    for (int i = 0; ok && i < a.file.n; i++, nfiles++) ok = load_file(a.file.items[i], &files[i], &e) == 0;
    if (ok && a.stdin_path) ok = fs_read_all(a.stdin_path, &in, &in_len, &e) == 0;
    const char **ro = calloc((size_t)a.ro.n + 1, sizeof *ro);
    for (int i = 0; i < a.ro.n; i++) ro[i] = a.ro.items[i];
    SbxConfig cfg = {.namespaces = a.no_namespaces ? 0 : SBX_NS_ALL, .ro_paths = ro, .allow_weak = a.allow_weak};
    Sandbox *s = ok ? sbx_new(&cfg, &e) : NULL;
    const char **cargv = calloc((size_t)a.cmd.n + 1, sizeof *cargv);
    for (int i = 0; i < a.cmd.n; i++) cargv[i] = a.cmd.items[i];
    SbxRun run = {.argv = cargv, .stdin_data = in, .stdin_len = in_len, .files = files, .nfiles = nfiles,
                  .allow_exec = a.allow_exec, .no_fork = a.no_fork,
                  .limits = {.time_s = a.time_s, .memory_mb = a.memory_mb, .output_kb = a.output_kb,
                             .procs = a.procs, .files = a.files, .fsize_mb = a.fsize_mb}};
    SbxResult res;
    int status = 1;
    if (s && sbx_run(s, &run, &res, &e) == 0) {
        cJSON *j = result_json(&res, s);
        json_write_line(stdout, j);
        cJSON_Delete(j);
        sbx_result_free(&res);
        status = 0;
    } else {
        fprintf(stderr, "reasoner: %s\n", e.msg);
    }
    sbx_free(s);
    for (int i = 0; i < nfiles; i++) free((char *)files[i].name), free((char *)files[i].data);
    free(files), free(in), free(ro), free(cargv);
    args_list_free(&a.file), args_list_free(&a.ro), args_list_free(&a.cmd);
    return status;
}

static int sandbox_info(int argc, char **argv) {
    int no_ns = 0, weak = 0;
    ArgSpec specs[] = {{"no-namespaces", 0, ARG_FLAG, &no_ns, NULL, "describe the fallback without namespaces"},
                       {"allow-weak-sandbox", 0, ARG_FLAG, &weak, NULL, "describe what there is, even short of the full jail"}};
    ArgCmd cmd = {.name = "reasoner sandbox info",
                  .summary = "Probe the kernel and print, as JSON, which sandbox layers are active here "
                             "(\"isolation\": \"full\" or what is missing); exit 1 with how to get what is "
                             "missing when the full jail cannot be built.",
                  .specs = specs, .nspecs = 2};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e = {{0}};
    SbxConfig cfg = {.namespaces = no_ns ? 0 : SBX_NS_ALL, .allow_weak = weak};
    Sandbox *s = sbx_new(&cfg, &e);
    if (!s) {
        fprintf(stderr, "reasoner: %s\n", e.msg);
        return 1;
    }
    cJSON *j = sbx_layers_json(s);
    json_write_line(stdout, j);
    cJSON_Delete(j);
    sbx_free(s);
    return 0;
}

int cmd_sandbox(int argc, char **argv) {
    static const SubCmd subs[] = {
        {"run", "run a command in the sandbox, print how it ended as JSON", sandbox_run},
        {"info", "show which isolation layers this machine allows", sandbox_info},
    };
    return args_dispatch("reasoner sandbox", "The verifier sandbox: namespaces, a private read-only root, rlimits, "
                         "no_new_privs and a seccomp allowlist.", subs, 2, argc, argv);
}
