// sandbox_filter.c: the two kernel filters the sandboxed program runs under.
//   - seccomp: an allowlist compiled once with libseccomp into classic BPF
//     (sbx_filter_build), in one variant per profile (SBX_FILTER_*); the
//     program's process loads it just before its one execve.
//     Exec: the launcher execs the program through execveat(SBX_EXEC_FD, "",
//     AT_EMPTY_PATH), the only exec the run profiles allow. SBX_EXEC_FD is
//     above the program's RLIMIT_NOFILE hard limit and close-on-exec, so
//     after that exec no descriptor with that number can exist again: every
//     later execve/execveat (a shell, a memfd, ld.so) kills the process.
//     The compile profile (gcc runs cc1, as, collect2, ld) allows exec.
//     Anything not listed kills the whole process (SIGSYS, status "denied"),
//     as does any architecture other than x86_64/aarch64 native: 32-bit
//     int 0x80 entries carry another audit arch, and x32 numbers (bit 30 set)
//     match no rule. A few calls return an errno instead, where runtimes
//     handle the failure (clone3 -> ENOSYS makes glibc fall back to clone,
//     whose flags a filter can see).
//   - Landlock: in the fallback without a mount namespace, the program may
//     read and execute the system dirs, read-write /dev/null and friends, and
//     do anything inside its work dir; nothing else, and (ABI >= 6) it may not
//     signal processes outside its domain.
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/base.h"
#include "verifier/sandbox/sandbox_internal.h"

// ---------------------------------------------------------------------------
// seccomp

// What a program, an interpreter (python3) or the C toolchain (gcc, cc1, as,
// ld) needs: file I/O on what the filesystem layers let it see, memory,
// threads and processes (without new namespaces), time, signals within its
// own tree. Measured with strace on python3 and gcc, then widened to the
// harmless neighbours of what they use.
static const char *const allowed_syscalls[] = {
    // file descriptors and I/O
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2",
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "sendfile", "splice", "tee",
    "copy_file_range", "fsync", "fdatasync", "ftruncate", "truncate", "fallocate", "fadvise64",
    "flock", "memfd_create",  // (fcntl is added with a command check)
    // the filesystem (what is visible is the mount/Landlock layers' business)
    "open", "openat", "openat2", "creat", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs",
    "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents",
    "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
    "fchmodat", "umask", "utime", "utimes", "utimensat", "futimesat", "mknod", "mknodat", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    // memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore", "membarrier",
    // processes and threads (clone, fork, vfork, execve, execveat and prctl are
    // added by profile and with argument checks)
    "exit", "exit_group", "wait4", "waitid", "getpid",
    "getppid", "gettid", "getpgrp", "getpgid", "getsid", "getuid", "geteuid", "getgid", "getegid",
    "getresuid", "getresgid", "getgroups", "capget", "arch_prctl", "set_tid_address",
    "set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv", "sched_yield",
    "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "getpriority", "getrlimit", "setrlimit",
    "getrusage", "times", "sysinfo", "uname",
    "getrandom", "getcpu", "restart_syscall",
    // time
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "alarm", "pause", "setitimer", "getitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    // signals (kill/tkill/tgkill are added with a pid check)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
    "rt_sigtimedwait", "sigaltstack", "signalfd", "signalfd4",
};

// Never in the allowlist, whatever it grows into: checked when the filter is
// built. Networking, debugging other processes, changing the filesystem
// view or the namespaces, kernel attack surface (io_uring, keyrings, bpf,
// perf), identity changes.
static const char *const never_syscalls[] = {
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
    "fsconfig", "move_mount", "open_tree", "mount_setattr", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "setuid",
    "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
    "capset", "personality", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "pidfd_getfd", "seccomp", "iopl", "ioperm",
};

// Calls allowed only under argument checks (add_special_rules,
// add_profile_rules): never in the plain allowlist, where the check would be
// moot. Checked when the filter is built.
static const char *const conditional_syscalls[] = {
    "clone", "fork", "vfork", "execve", "execveat", "kill", "tkill", "tgkill", "prctl", "fcntl", "ioctl",
    "prlimit64", "sched_setaffinity", "setpriority", "socket", "socketpair", "clone3", "setsid", "setpgid"};

// ioctl requests a program may make: terminal queries (isatty), and fd
// flags. TIOCSTI (inject input into a terminal) and everything else kill.
// The request is compared on its low 32 bits, as the kernel reads it, so
// high bits set in the register do not slip past the check.
static const unsigned long allowed_ioctls[] = {TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX};

#define NS_CLONE_FLAGS \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static int in_list(const char *name, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned nargs,
                    const struct scmp_arg_cmp *args, Err *e) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return 0;  // not on this architecture (e.g. "open" on aarch64)
    int rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
    if (rc < 0) return err_set(e, "seccomp: rule for %s: %s", name, strerror(-rc));
    return 0;
}

// fcntl commands: fd flags, status flags, locks, dups, pipe sizes, seals,
// and the owner/signal queries. F_SETOWN, F_SETOWN_EX and F_SETSIG (which
// make the kernel signal a chosen process on I/O), leases and F_NOTIFY kill.
static const unsigned long allowed_fcntls[] = {
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW,
    F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_GETPIPE_SZ, F_SETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS,
    F_GETOWN, F_GETOWN_EX, F_GETSIG};

// prctl options: names, the queries, and the calls runtimes make at start
// (glibc names anonymous mappings with PR_SET_VMA). Everything else kills:
// PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_CHILD_SUBREAPER, PR_SET_MM,
// PR_SET_SECCOMP, PR_CAP_AMBIENT, PR_SET_SECUREBITS, PR_SET_IO_FLUSHER, ...
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
static const unsigned long allowed_prctls[] = {
    PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_PDEATHSIG, PR_GET_NO_NEW_PRIVS, PR_SET_NO_NEW_PRIVS,
    PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_TIMERSLACK, PR_GET_THP_DISABLE, PR_GET_KEEPCAPS, PR_SET_VMA};

// Rules that differ by profile: how processes start (fork/clone) and what
// may be exec'd.
static int add_profile_rules(scmp_filter_ctx ctx, int profile, Err *e) {
    int no_fork = profile == SBX_FILTER_RUN_NO_FORK;
    if (no_fork) {
        // Threads only: they share the one address space RLIMIT_AS caps.
        struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, NS_CLONE_FLAGS | CLONE_THREAD, CLONE_THREAD);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread, e)) return -1;
    } else {
        struct scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, NS_CLONE_FLAGS, 0);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &no_ns, e)) return -1;
        if (add_rule(ctx, SCMP_ACT_ALLOW, "fork", 0, NULL, e)) return -1;
        if (add_rule(ctx, SCMP_ACT_ALLOW, "vfork", 0, NULL, e)) return -1;
    }
    if (profile == SBX_FILTER_EXEC) {
        if (add_rule(ctx, SCMP_ACT_ALLOW, "execve", 0, NULL, e)) return -1;
        if (add_rule(ctx, SCMP_ACT_ALLOW, "execveat", 0, NULL, e)) return -1;
    } else {
        // The launcher's own exec and nothing after it (see the file top).
        struct scmp_arg_cmp own[] = {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, SBX_EXEC_FD),
                                     SCMP_A4(SCMP_CMP_MASKED_EQ, 0xffffffffu, AT_EMPTY_PATH)};
        if (add_rule(ctx, SCMP_ACT_ALLOW, "execveat", 2, own, e)) return -1;
    }
    return 0;
}

// The conditional rules: signals only to pids >= 0 (no process groups, no
// "every process I may signal"), ioctl, fcntl and prctl by request, and the
// calls that fail softly.
static int add_special_rules(scmp_filter_ctx ctx, Err *e) {
    struct scmp_arg_cmp pid_pos = SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0);
    struct scmp_arg_cmp pid_neg = SCMP_A0(SCMP_CMP_MASKED_EQ, 0x80000000u, 0x80000000u);
    const char *sig_calls[] = {"kill", "tgkill", "tkill"};
    for (size_t i = 0; i < RS_ARRAY_LEN(sig_calls); i++) {
        if (add_rule(ctx, SCMP_ACT_ALLOW, sig_calls[i], 1, &pid_pos, e)) return -1;
        if (add_rule(ctx, SCMP_ACT_ERRNO(EPERM), sig_calls[i], 1, &pid_neg, e)) return -1;
    }
    // Calls that may name another process act on ourselves only: without a
    // pid namespace the caller could be named, and prlimit can kill it
    // (RLIMIT_CPU) or starve it.
    struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, 0);
    if (add_rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &self, e)) return -1;
    if (add_rule(ctx, SCMP_ACT_ALLOW, "sched_setaffinity", 1, &self, e)) return -1;
    struct scmp_arg_cmp own_process[] = {SCMP_A0(SCMP_CMP_EQ, PRIO_PROCESS), SCMP_A1(SCMP_CMP_EQ, 0)};
    if (add_rule(ctx, SCMP_ACT_ALLOW, "setpriority", 2, own_process, e)) return -1;
    for (size_t i = 0; i < RS_ARRAY_LEN(allowed_ioctls); i++) {
        struct scmp_arg_cmp req = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &req, e)) return -1;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(allowed_fcntls); i++) {
        struct scmp_arg_cmp cmd = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_fcntls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &cmd, e)) return -1;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(allowed_prctls); i++) {
        struct scmp_arg_cmp opt = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_prctls[i]);
        if (add_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &opt, e)) return -1;
    }
    // glibc's name service first tries nscd over a unix socket and goes on
    // without it: refusing softly keeps getpwuid() and friends working.
    // Every other socket (inet, inet6, packet, netlink, ...) kills.
    struct scmp_arg_cmp unix_dom = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, AF_UNIX);
    if (add_rule(ctx, SCMP_ACT_ERRNO(EACCES), "socket", 1, &unix_dom, e)) return -1;
    if (add_rule(ctx, SCMP_ACT_ERRNO(EACCES), "socketpair", 1, &unix_dom, e)) return -1;
    // glibc tries clone3 first and falls back to clone on ENOSYS; clone3
    // passes its flags in memory, where a filter cannot look.
    if (add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, e)) return -1;
    // A program may not leave its process group (the wall-clock kill is a
    // group kill when there is no pid namespace); failing is harmless.
    if (add_rule(ctx, SCMP_ACT_ERRNO(EPERM), "setsid", 0, NULL, e)) return -1;
    if (add_rule(ctx, SCMP_ACT_ERRNO(EPERM), "setpgid", 0, NULL, e)) return -1;
    return 0;
}

// Export the compiled program through a memfd (libseccomp 2.5 writes BPF
// to an fd only).
static int export_bpf(scmp_filter_ctx ctx, Sandbox *s, int profile, Err *e) {
    int fd = (int)syscall(SYS_memfd_create, "sbx-bpf", MFD_CLOEXEC);
    if (fd < 0) return err_errno(e, "seccomp: memfd_create");
    int rc = seccomp_export_bpf(ctx, fd);
    struct stat st;
    if (rc < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter)) {
        close(fd);
        return err_set(e, "seccomp: export_bpf failed (%s)", rc < 0 ? strerror(-rc) : "bad size");
    }
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n > 0xffff) {
        close(fd);
        return err_set(e, "seccomp: filter of %zu instructions is too long", n);
    }
    s->bpf[profile] = xmalloc((size_t)st.st_size);
    ssize_t got = pread(fd, s->bpf[profile], (size_t)st.st_size, 0);
    close(fd);
    if (got != st.st_size) return err_set(e, "seccomp: reading the exported filter failed");
    s->bpf_len[profile] = (unsigned short)n;
    return 0;
}

static int build_one(Sandbox *s, int profile, Err *e) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) return err_set(e, "seccomp: seccomp_init failed");
    int rc = 0;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
        rc = err_set(e, "seccomp: setting filter attributes failed");
    s->n_allowed = 0;
    for (size_t i = 0; rc == 0 && i < RS_ARRAY_LEN(allowed_syscalls); i++) {
        rc = add_rule(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0, NULL, e);
        s->n_allowed++;
    }
    if (rc == 0) rc = add_special_rules(ctx, e);
    if (rc == 0) rc = add_profile_rules(ctx, profile, e);
    if (rc == 0) rc = export_bpf(ctx, s, profile, e);
    seccomp_release(ctx);
    return rc;
}

int sbx_filter_build(Sandbox *s, Err *e) {
    for (size_t i = 0; i < RS_ARRAY_LEN(allowed_syscalls); i++) {
        RS_CHECK(!in_list(allowed_syscalls[i], never_syscalls, RS_ARRAY_LEN(never_syscalls)));
        RS_CHECK(!in_list(allowed_syscalls[i], conditional_syscalls, RS_ARRAY_LEN(conditional_syscalls)));
    }
    for (int p = 0; p < SBX_FILTER_COUNT; p++)
        if (build_one(s, p, e) != 0) return -1;
    return 0;
}

// ---------------------------------------------------------------------------
// Landlock (the kernel headers may be older than the kernel: the ABI's
// constants are spelled out here)

#define LL_EXECUTE (1ull << 0)
#define LL_WRITE_FILE (1ull << 1)
#define LL_READ_FILE (1ull << 2)
#define LL_READ_DIR (1ull << 3)
#define LL_REFER (1ull << 13)     // ABI 2
#define LL_TRUNCATE (1ull << 14)  // ABI 3
#define LL_IOCTL_DEV (1ull << 15) // ABI 5
#define LL_NET_BIND_TCP (1ull << 0)
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0)
#define LL_SCOPE_SIGNAL (1ull << 1)

typedef struct {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;  // ABI 4
    uint64_t scoped;              // ABI 6
} LlRulesetAttr;

typedef struct __attribute__((packed)) {
    uint64_t allowed_access;
    int32_t parent_fd;
} LlPathBeneath;

int sbx_landlock_probe(void) {
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

static uint64_t ll_fs_all(int abi) {
    uint64_t all = (1ull << 13) - 1;  // ABI 1: execute .. make_sym
    if (abi >= 2) all |= LL_REFER;
    if (abi >= 3) all |= LL_TRUNCATE;
    if (abi >= 5) all |= LL_IOCTL_DEV;
    return all;
}

// Allow `access` beneath path (files get only the file rights).
static int ll_allow(int ruleset, const char *path, uint64_t access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        access &= LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV;
    LlPathBeneath pb = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int err = rc < 0 ? -errno : 0;
    close(fd);
    return err;
}

int sbx_landlock_apply(const Sandbox *s, const char *workdir) {
    int abi = s->landlock_abi;
    uint64_t fs_all = ll_fs_all(abi);
    LlRulesetAttr attr = {.handled_access_fs = fs_all};
    size_t size = sizeof attr.handled_access_fs;
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        size += sizeof attr.handled_access_net;
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        size += sizeof attr.scoped;
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) return -errno;
    int rc = 0;
    uint64_t ro = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR;
    for (int i = 0; rc == 0 && i < s->n_ro_paths; i++) rc = ll_allow(rs, s->ro_paths[i], ro);
    uint64_t dev = LL_READ_FILE | LL_WRITE_FILE | (abi >= 3 ? LL_TRUNCATE : 0) | (abi >= 5 ? LL_IOCTL_DEV : 0);
    for (int i = 0; rc == 0 && i < s->nmounts; i++)
        if (s->mounts[i].kind == SBX_M_BIND_DEV) rc = ll_allow(rs, s->mounts[i].src, dev);
    if (rc == 0) rc = ll_allow(rs, workdir, fs_all);
    if (rc == 0 && syscall(SYS_landlock_restrict_self, rs, 0) != 0) rc = -errno;
    close(rs);
    return rc;
}
