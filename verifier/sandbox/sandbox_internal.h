// sandbox_internal.h: what sandbox.c (the caller's side), sandbox_child.c
// (the supervisor and the program's side of the fork) and sandbox_filter.c
// (seccomp and Landlock) share. Not a public header.
#pragma once
#include <linux/filter.h>
#include <stdint.h>
#include <sys/types.h>

#include "verifier/sandbox/sandbox.h"

// The uid and gid the program has inside a user namespace ("nobody"), and
// outside one when the caller is root (then one per run: SBX_RUN_UID_BASE +
// the supervisor's pid, so RLIMIT_NPROC counts each run on its own).
#define SBX_INNER_ID 65534
#define SBX_RUN_UID_BASE 0x10000000u
// Where the work dir is inside a private root.
#define SBX_WORK "/work"

// The seccomp profiles (sandbox_filter.c): a program that may not exec
// after its start (and may fork), the same without fork (threads only), and
// a tool that may exec (the C compiler).
enum { SBX_FILTER_RUN, SBX_FILTER_RUN_NO_FORK, SBX_FILTER_EXEC, SBX_FILTER_COUNT };
// The descriptor the launcher execs the program through: above any
// RLIMIT_NOFILE a program gets (SbxLimits.files is capped below it), so no
// program can hold it after its exec.
#define SBX_EXEC_FD 1000
#define SBX_MAX_FILES 512

// How the program's credentials are made.
typedef enum {
    SBX_CRED_USERNS,  // a user namespace maps SBX_INNER_ID to an unprivileged outer uid
    SBX_CRED_ROOT,    // the caller is root: namespaces as root, the program drops to a per-run uid
    SBX_CRED_SAME,    // neither: the program keeps the caller's uid
} SbxCredMode;

// One entry of the private root (built once by sbx_new).
typedef enum { SBX_M_BIND_RO, SBX_M_BIND_DEV, SBX_M_SYMLINK, SBX_M_DIR } SbxMountKind;
typedef struct SbxMount {
    SbxMountKind kind;
    int is_dir;             // bind: the source is a directory
    char *src;              // host path (bind) or link target (symlink)
    char *dst;              // absolute path inside the sandbox
    unsigned long flags;    // bind: flags the remount must keep (nosuid, nodev, atime...)
} SbxMount;

struct Sandbox {
    SbxConfig cfg;            // copies of the strings below live in the fields
    unsigned ns_active;       // SBX_NS_* that every run gets
    char refused[SBX_NS_COUNT][96];  // why a namespace is not used ("" when used or not asked)
    char fs_note[160];        // why there is no private root, when there is none
    char cred_note[160];      // why the caller's uid is kept, when root could not drop it
    SbxCredMode cred;
    int private_root;         // mount namespace with the pivot_root view works
    int landlock_abi;         // 0: not used
    uid_t caller_uid;
    gid_t caller_gid;
    char uid_map[64], gid_map[64];  // "65534 OUTER 1\n": the user namespace's one mapping
    long nproc_base;          // SBX_CRED_SAME: processes the uid already has
    struct sock_filter *bpf[SBX_FILTER_COUNT];  // the seccomp allowlist per profile, compiled once
    unsigned short bpf_len[SBX_FILTER_COUNT];
    int n_allowed;            // syscalls in the allowlist (for the description)
    SbxMount *mounts;
    int nmounts;
    char **ro_paths;          // the read-only host paths (Landlock rules in the fallback)
    int n_ro_paths;
    char **env;               // extra environment, NULL-terminated
    int nenv;
    char *tmp_dir;
    char isolation[96];       // sbx_isolation()
};

// Messages from the supervisor and the program to the caller, on the status
// pipe. Each is written with one write() of at most PIPE_BUF bytes, so the
// two writers never interleave; a FILE message is followed by n bytes.
enum { SBX_MSG_STARTED = 1, SBX_MSG_FAILED, SBX_MSG_EXITED, SBX_MSG_FILE };
typedef struct SbxMsg {
    int32_t kind;
    int32_t a;  // STARTED: the program's pid; FAILED: stage; EXITED: wait status; FILE: index
    int32_t b;  // FAILED: errno
    int32_t c;  // FAILED: entry index or -1
    int64_t n;  // STARTED: the program's inherited RSS floor (KB); FILE: size, -1 when missing
} SbxMsg;

// Setup stages, for error messages ("sandbox: bind /usr: Permission denied").
typedef enum {
    SBX_ST_SYNC, SBX_ST_CREDS, SBX_ST_MOUNT_PRIVATE, SBX_ST_MOUNT_ROOT, SBX_ST_MOUNT_ENTRY,
    SBX_ST_MOUNT_WORK, SBX_ST_PIVOT, SBX_ST_WORKDIR, SBX_ST_WRITE_FILE, SBX_ST_FORK,
    SBX_ST_FDS, SBX_ST_RLIMIT, SBX_ST_DROP_UID, SBX_ST_CAPS, SBX_ST_NO_NEW_PRIVS,
    SBX_ST_LANDLOCK, SBX_ST_SECCOMP, SBX_ST_EXEC, SBX_ST_COUNT
} SbxStage;
const char *sbx_stage_name(int stage);

// Everything the child side needs, prepared by the caller before clone so
// the child never allocates (the caller may be multithreaded, so the child
// may touch no lock another thread could hold: no malloc, no stdio).
typedef struct SbxPlan {
    const Sandbox *s;
    const SbxRun *run;
    SbxLimits lim;           // filled defaults
    int probe;               // 1: set up the namespaces and the root, then exit 0
    int probe_drop;          // probe: also switch to run_uid/run_gid
    unsigned ns;             // namespaces of this run
    int private_root;
    int sync_fd;             // read end: the caller has written the id maps (root caller, user ns)
    int status_fd;           // write end of the status pipe
    int stdin_fd;            // a memfd with the program's stdin
    int out_fd, err_fd;      // write ends of the stdout/stderr pipes
    int report_fd;           // write end of the fd-3 pipe, or -1
    int pass_fd[SBX_MAX_PASS];  // the caller's fds for the program's 4 and 5, or -1
    int filter;              // SBX_FILTER_*
    const char *workdir;     // SBX_WORK, or the host work dir in the fallback
    char work_opts[96];      // tmpfs options of /work
    char *const *envp;
    uid_t run_uid;           // the program's uid and gid (outside; inside = SBX_INNER_ID with a user ns)
    gid_t run_gid;
    long nproc;              // RLIMIT_NPROC value
} SbxPlan;

// sandbox_child.c: the child side. Runs in the child created by clone();
// never returns.
_Noreturn void sbx_child_main(const SbxPlan *p);

// sandbox_filter.c
// Compile the allowlist into s->bpf[profile], every profile. Returns 0 or -1.
int sbx_filter_build(Sandbox *s, Err *e);
// Landlock ABI version the kernel offers (0 when none).
int sbx_landlock_probe(void);
// In the program's process: restrict the filesystem to the read-only paths
// and workdir (read-write). Returns 0 or -errno. Child-safe (no allocation).
int sbx_landlock_apply(const Sandbox *s, const char *workdir);
