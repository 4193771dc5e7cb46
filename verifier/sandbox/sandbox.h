// sandbox.h: run an untrusted program (a model's code, a compiler, a plugin)
// under every layer of isolation the kernel allows, and report how it ended.
//
//   reasoner sandbox run --time-s 2 --memory-mb 256 -- python3 -c 'print(1)'
//
// Layers, outermost first (sandbox.c has the why of each):
//   - a supervisor process created with clone() in new user, pid, net, mount,
//     ipc and uts namespaces where the kernel allows (sbx_new probes once and
//     records which were refused, then carries on with the rest);
//   - with a mount namespace: a read-only root holding only /usr (and the
//     merged-usr links), a few /etc files the loader needs, /dev/null, zero,
//     full, random, urandom, and a fresh size-limited tmpfs /work as the only
//     writable place; without one: a fresh host work dir and Landlock rules
//     that allow the same (when the kernel has Landlock);
//   - the program runs as an unprivileged uid with no capabilities, rlimits
//     (CPU, address space, file size, processes, open files, no core),
//     no_new_privs, and a seccomp allowlist whose default kills the process
//     (non-native architectures and x32 included);
//   - a wall-clock kill of the whole process group / pid namespace, only
//     fds 0-2 (and 3 when asked) inherited, stdout/stderr read through a
//     poll loop with caps so a flood can never block either side.
//
// A Sandbox is read-only after sbx_new and may be shared by threads; each
// sbx_run is independent. It belongs to the process that created it (forked
// children may use it too: it holds no fds).
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

// Namespaces, as bits of SbxConfig.namespaces and sbx_namespaces().
enum {
    SBX_NS_USER = 1 << 0,
    SBX_NS_PID = 1 << 1,
    SBX_NS_NET = 1 << 2,
    SBX_NS_MOUNT = 1 << 3,
    SBX_NS_IPC = 1 << 4,
    SBX_NS_UTS = 1 << 5,
    SBX_NS_ALL = (1 << 6) - 1,
    SBX_NS_COUNT = 6,
};

typedef enum SbxStatus {
    SBX_OK,            // exited 0
    SBX_EXIT,          // exited non-zero ("runtime_error")
    SBX_SIGNAL,        // killed by a signal other than the ones below
    SBX_TIMEOUT,       // wall clock or CPU limit
    SBX_MEMORY,        // address-space limit (MemoryError, bad_alloc, or a crash near the limit)
    SBX_OUTPUT_LIMIT,  // stdout or stderr went past its cap (the program is killed)
    SBX_DENIED,        // killed by the seccomp filter (SIGSYS)
} SbxStatus;

typedef struct SbxLimits {
    double time_s;  // wall clock; the CPU rlimit is ceil(time_s) (+1 s hard). Default 10.
    int memory_mb;  // RLIMIT_AS. Default 1024.
    int output_kb;  // cap of stdout and of stderr each. Default 64.
    int procs;      // RLIMIT_NPROC: processes and threads. Default 64.
    int files;      // RLIMIT_NOFILE. Default 64, at most 512.
    int fsize_mb;   // RLIMIT_FSIZE and the size of /work. Default 64.
} SbxLimits;

typedef struct SbxConfig {
    unsigned namespaces;          // which to try; SBX_NS_ALL normally, 0 forces the no-namespace fallback
    int no_landlock;              // 1: do not use Landlock in the fallback (tests)
    const char *const *ro_paths;  // extra host paths visible read-only at the same path, NULL-terminated
    const char *const *env;       // extra "KEY=VALUE" for every program, NULL-terminated
    const char *tmp_dir;          // parent of host work dirs in the fallback (default $TMPDIR or /tmp);
                                  // when the caller is root it must be reachable by other users
    int allow_weak;               // 0 (default): sbx_new fails unless the full jail can be built;
                                  // 1: run with what there is, sbx_isolation() naming what is missing
} SbxConfig;

// The environment variable that makes sbx_shared() accept a weak sandbox
// (the CLI's --allow-weak-sandbox sets it, so forked farm workers inherit it).
#define SBX_ALLOW_WEAK_ENV "REASONER_ALLOW_WEAK_SANDBOX"

typedef struct Sandbox Sandbox;

// A file put into the work dir before the program starts (name: no '/').
typedef struct SbxFile {
    const char *name;
    const char *data;
    size_t len;
    int executable;
} SbxFile;

typedef struct SbxRun {
    const char *const *argv;  // NULL-terminated; argv[0] is searched in PATH unless it has a '/'
    const char *stdin_data;   // may be NULL (empty stdin)
    size_t stdin_len;
    const SbxFile *files;
    int nfiles;
    const char *const *collect;  // work-dir files to bring back after a clean exit, NULL-terminated
    int report_fd;               // 1: fd 3 is a pipe whose bytes come back in SbxResult.report
    const int *pass_fds;         // up to SBX_MAX_PASS caller fds the program gets as fds 4, 5 (a
    int npass;                   // channel to another sandboxed program); sbx_run closes them, always
    int no_fork;                 // 1: threads only (fork and clone of a process are denied), so that
                                 // RLIMIT_AS caps the memory of the whole job
    int allow_exec;              // 1: a tool that runs other programs (the C compiler): execve allowed.
                                 // 0 (programs): the one exec that starts argv[0], then none
    SbxLimits limits;            // zeros mean the defaults
} SbxRun;

#define SBX_MAX_PASS 2

// A collected file (SbxRun.collect); data is malloc'd, NULL when missing.
typedef struct SbxOutFile {
    char *name;
    char *data;
    size_t len;
} SbxOutFile;

typedef struct SbxResult {
    SbxStatus status;
    int exit_code;      // when exited
    int signal;         // when killed by a signal (SIGKILL for the wall-clock kill)
    double cpu_ms;      // user + system, the whole process tree
    double wall_ms;
    long peak_rss_kb;   // the kernel's peak RSS of the program (and its children)
    long rss_floor_kb;  // peak_rss_kb never reads below this: what the program inherited from
                        // the forking caller before exec; at or under it, the true peak is unknown
    char *out, *err;    // captured stdout/stderr, NUL-terminated, at most output_kb each
    size_t out_len, err_len;
    size_t out_total, err_total;  // bytes the program wrote (more than *_len when capped)
    char *report;       // fd 3 contents (report_fd), NUL-terminated
    size_t report_len;
    SbxOutFile *files;  // one per SbxRun.collect entry
    int nfiles;
    char detail[256];   // a few words on why (timeout, memory, output_limit, denied)
} SbxResult;

// Probe the kernel (namespaces, Landlock), compile the seccomp filter and
// plan the filesystem view once. cfg may be NULL (defaults). NULL + e on
// failure: no usable sandbox (seccomp missing, fork failing), or, unless
// cfg->allow_weak, any layer of the full jail missing (user, pid, net and
// mount namespaces; a private root or Landlock; a uid not the caller's):
// the message names the layer, why, and how to get it.
Sandbox *sbx_new(const SbxConfig *cfg, Err *e);
void sbx_free(Sandbox *s);

// The process-wide default sandbox, created on first use and kept for the
// life of the process (thread-safe; built once, read-only afterwards). The
// verifiers use it; NULL + e when sbx_new failed. Full jail only, unless the
// environment has SBX_ALLOW_WEAK_ENV=1.
const Sandbox *sbx_shared(Err *e);

// Run one program. Returns 0 when it ran (res->status says how it ended),
// -1 + e when the sandbox itself could not be set up or the program could
// not be started (res is then empty). Free res with sbx_result_free.
int sbx_run(const Sandbox *s, const SbxRun *run, SbxResult *res, Err *e);
void sbx_result_free(SbxResult *res);

// "ok", "runtime_error", "signal", "timeout", "memory", "output_limit", "denied".
const char *sbx_status_name(SbxStatus st);
void sbx_limits_default(SbxLimits *l);

// What is active: namespace bits, whether the filesystem view comes from a
// mount namespace, and Landlock's ABI version in use (0 none).
// "full" when every layer of the jail is up, else "weak:" and what is
// missing, comma-separated: no-userns, no-pidns, no-netns, no-mountns,
// no-fs (neither a private root nor Landlock), same-uid. Verdicts produced
// under a weak sandbox carry it.
const char *sbx_isolation(const Sandbox *s);
unsigned sbx_namespaces(const Sandbox *s);
int sbx_has_private_root(const Sandbox *s);
int sbx_landlock_abi(const Sandbox *s);
// One line: "namespaces user pid net mount ipc uts; refused none; filesystem
// pivot_root; uid 65534 in a user namespace; seccomp allowlist (N syscalls)".
void sbx_describe(const Sandbox *s, Buf *out);
// The same as a JSON object: {"namespaces": [...], "refused": {"net": "why"}, ...}.
cJSON *sbx_layers_json(const Sandbox *s);
