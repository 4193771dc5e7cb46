// sandbox_child.c: the inside of the sandbox, after clone(). Two processes:
//   the supervisor (the clone child; pid 1 of the new pid namespace when
//   there is one) finishes the credentials, builds the private root,
//   writes the input files, starts the program (vfork-style), reaps everything, collects
//   the requested files and reports on the status pipe;
//   the program's process moves its fds into place, sets rlimits, drops
//   identity and capabilities, sets no_new_privs, applies Landlock (in the
//   fallback) and the seccomp filter, and execs.
// Rules here: the parent may be multithreaded and the child is a raw clone,
// so no malloc, no stdio, no locks, and credentials change through raw
// syscalls (glibc's setuid family would try to signal threads that do not
// exist in the child). Every failure is reported as (stage, errno) and ends
// the child: a half-built sandbox never runs the program.
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base.h"
#include "verifier/sandbox/sandbox_internal.h"

// The fds the child keeps, at fixed numbers above the program's 0-3.
enum { FD_STATUS = 10, FD_STDIN, FD_OUT, FD_ERR, FD_REPORT, FD_PASS0, FD_PASS1, FD_SYNC, FD_LAST = FD_SYNC };

// Where the private root is assembled before pivot_root (our mount
// namespace's own /tmp: the host's is untouched).
#define NEWROOT "/tmp"

static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w, n -= (size_t)w;
    }
}

static void send_msg(int kind, int a, int b, int c, int64_t n) {
    SbxMsg m = {.kind = kind, .a = a, .b = b, .c = c, .n = n};
    write_all(FD_STATUS, &m, sizeof m);
}

static _Noreturn void fail(int stage, int err, int idx) {
    send_msg(SBX_MSG_FAILED, stage, err, idx, 0);
    _exit(126);
}

// dst = a + b, truncated safely (paths here are short and ours).
static void path_join(char *dst, size_t cap, const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na + nb + 1 > cap) na = nb = 0;
    memcpy(dst, a, na);
    memcpy(dst + na, b, nb);
    dst[na + nb] = '\0';
}

// mkdir -p of path's parent directories.
static void mkdir_parents(char *path) {
    for (char *q = path + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        mkdir(path, 0755);
        *q = '/';
    }
}

// ---------------------------------------------------------------------------
// the supervisor

// Move the fds we need to FD_STATUS..FD_SYNC and close everything else, so
// nothing the caller had open (sockets, other jobs' pipes) reaches inside.
static void take_fds(const SbxPlan *p) {
    int want[FD_LAST - FD_STATUS + 1] = {p->status_fd, p->stdin_fd,   p->out_fd,     p->err_fd,
                                         p->report_fd, p->pass_fd[0], p->pass_fd[1], p->sync_fd};
    int tmp[FD_LAST - FD_STATUS + 1];
    for (int i = 0; i <= FD_LAST - FD_STATUS; i++) tmp[i] = want[i] < 0 ? -1 : fcntl(want[i], F_DUPFD_CLOEXEC, 64);
    for (int i = 0; i <= FD_LAST - FD_STATUS; i++) {
        if (tmp[i] < 0) continue;
        if (dup3(tmp[i], FD_STATUS + i, O_CLOEXEC) < 0) _exit(125);
        close(tmp[i]);
    }
    syscall(SYS_close_range, 0, FD_STATUS - 1, 0);
    syscall(SYS_close_range, FD_LAST + 1, ~0u, 0);
    for (int i = 0; i <= FD_LAST - FD_STATUS; i++)
        if (want[i] < 0) close(FD_STATUS + i);
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int err = errno;
    close(fd);
    errno = err;
    return w == (ssize_t)n ? 0 : -1;
}

// Inside a user namespace, become the mapped unprivileged id (keeping the
// namespace's capabilities until exec, since the old id was not root in
// here). A root caller writes the maps for us (only it may map another
// uid); otherwise we map our own uid, the one mapping allowed unprivileged,
// after making our /proc files ours (a caller that dropped privileges is
// not dumpable, and neither would we be).
static void become_inner(const SbxPlan *p) {
    const Sandbox *s = p->s;
    if (s->caller_uid == 0) {
        char c;
        if (read(FD_SYNC, &c, 1) != 1) _exit(125);  // the caller gave up
        close(FD_SYNC);
        if (syscall(SYS_setgroups, 0, NULL) != 0) fail(SBX_ST_CREDS, errno, 0);
    } else {
        prctl(PR_SET_DUMPABLE, 1);
        if (write_file("/proc/self/setgroups", "deny") != 0) fail(SBX_ST_CREDS, errno, 3);
        if (write_file("/proc/self/uid_map", s->uid_map) != 0) fail(SBX_ST_CREDS, errno, 4);
        if (write_file("/proc/self/gid_map", s->gid_map) != 0) fail(SBX_ST_CREDS, errno, 5);
    }
    if (syscall(SYS_setresgid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) != 0) fail(SBX_ST_CREDS, errno, 1);
    if (syscall(SYS_setresuid, SBX_INNER_ID, SBX_INNER_ID, SBX_INNER_ID) != 0) fail(SBX_ST_CREDS, errno, 2);
}

static void mount_entry(const SbxMount *m, int idx) {
    char path[512];
    path_join(path, sizeof path, NEWROOT, m->dst);
    mkdir_parents(path);
    int rc = 0;
    switch (m->kind) {
    case SBX_M_DIR:
        if (mkdir(path, 0755) != 0 && errno != EEXIST) rc = -1;
        break;
    case SBX_M_SYMLINK:
        rc = symlink(m->src, path);
        break;
    case SBX_M_BIND_RO:
    case SBX_M_BIND_DEV: {
        if (m->is_dir) {
            if (mkdir(path, 0755) != 0 && errno != EEXIST) fail(SBX_ST_MOUNT_ENTRY, errno, idx);
        } else {
            int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) fail(SBX_ST_MOUNT_ENTRY, errno, idx);
            close(fd);
        }
        rc = mount(m->src, path, NULL, MS_BIND | MS_REC, NULL);
        // A bind mount starts with its source's flags; making it read-only
        // takes a remount, which (in a user namespace) must keep the flags
        // the source mount has locked.
        if (rc == 0 && m->kind == SBX_M_BIND_RO)
            rc = mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | m->flags, NULL);
        break;
    }
    }
    if (rc != 0) fail(SBX_ST_MOUNT_ENTRY, errno, idx);
}

// The private root: a small tmpfs holding mount points and links, the
// read-only system dirs bound into it, /work as a fresh tmpfs, then the
// tmpfs itself made read-only and pivoted into, the old root detached.
static void build_root(const SbxPlan *p) {
    const Sandbox *s = p->s;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(SBX_ST_MOUNT_PRIVATE, errno, -1);
    if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=1024,mode=0755") != 0)
        fail(SBX_ST_MOUNT_ROOT, errno, -1);
    for (int i = 0; i < s->nmounts; i++) mount_entry(&s->mounts[i], i);
    char work[64];
    path_join(work, sizeof work, NEWROOT, SBX_WORK);
    if (mkdir(work, 0755) != 0 || mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, p->work_opts) != 0)
        fail(SBX_ST_MOUNT_WORK, errno, -1);
    if (mount(NULL, NEWROOT, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        fail(SBX_ST_MOUNT_ROOT, errno, -2);
    if (chdir(NEWROOT) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 ||
        chdir("/") != 0)
        fail(SBX_ST_PIVOT, errno, -1);
}

static void write_files(const SbxPlan *p) {
    const SbxRun *r = p->run;
    for (int i = 0; i < r->nfiles; i++) {
        const SbxFile *f = &r->files[i];
        int fd = open(f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->executable ? 0755 : 0644);
        if (fd < 0) fail(SBX_ST_WRITE_FILE, errno, i);
        const char *q = f->data;
        size_t n = f->len;
        while (n > 0) {
            ssize_t w = write(fd, q, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) fail(SBX_ST_WRITE_FILE, w < 0 ? errno : ENOSPC, i);
            q += w, n -= (size_t)w;
        }
        close(fd);
    }
}

// Send a work-dir file back (after the program ended). It was made by the
// program, so it is opened without following links or blocking, and only a
// regular file of bounded size is read.
static void send_file(const char *name, int idx) {
    int fd = open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_size > (256l << 20)) {
        if (fd >= 0) close(fd);
        send_msg(SBX_MSG_FILE, idx, 0, 0, -1);
        return;
    }
    send_msg(SBX_MSG_FILE, idx, 0, 0, st.st_size);
    char buf[1 << 15];
    int64_t left = st.st_size;
    while (left > 0) {
        ssize_t got = read(fd, buf, sizeof buf < (size_t)left ? sizeof buf : (size_t)left);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {  // shrank under us: pad, the size was announced
            memset(buf, 0, sizeof buf);
            got = sizeof buf < (size_t)left ? (ssize_t)sizeof buf : (ssize_t)left;
        }
        write_all(FD_STATUS, buf, (size_t)got);
        left -= got;
    }
    close(fd);
}

static _Noreturn void program_main(const SbxPlan *p);
static int program_entry(void *p) { program_main(p); }

// Kill what the program started: in a pid namespace everything but us,
// else the program's process group.
static void kill_program(const SbxPlan *p, pid_t pid) {
    if (p->ns & SBX_NS_PID) kill(-1, SIGKILL);
    else kill(-pid, SIGKILL);
}

// Wait for the program, reaping every other child on the way. SIGUSR1 (the
// caller's wall clock or output cap) kills the program first, so that it is
// still reaped here and its CPU time counted. Returns its wait status.
static int wait_program(const SbxPlan *p, pid_t pid, const sigset_t *set) {
    for (;;) {
        int st;
        pid_t got;
        while ((got = wait4(-1, &st, __WALL | WNOHANG, NULL)) > 0)
            if (got == pid) return st;
        if (got < 0 && errno != EINTR) return 0;  // no children: cannot happen while pid is ours
        siginfo_t si;
        if (sigwaitinfo(set, &si) == SIGUSR1) kill_program(p, pid);
    }
}

_Noreturn void sbx_child_main(const SbxPlan *p) {
    take_fds(p);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The caller may ignore SIGCHLD (children would vanish unreaped) or
    // block signals: start from a known state, with the two signals we wait
    // for blocked so none is missed.
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_SETMASK, &set, NULL);
    if (p->ns & SBX_NS_USER) become_inner(p);
    if (p->private_root) build_root(p);
    if (p->probe) {
        // As root without a user namespace, the program will change uid:
        // check that this machine lets us.
        if (p->probe_drop && (syscall(SYS_setgroups, 0, NULL) != 0 ||
                              syscall(SYS_setresgid, p->run_gid, p->run_gid, p->run_gid) != 0 ||
                              syscall(SYS_setresuid, p->run_uid, p->run_uid, p->run_uid) != 0))
            fail(SBX_ST_DROP_UID, errno, -1);
        _exit(0);
    }
    umask(022);
    if (chdir(p->workdir) != 0) fail(SBX_ST_WORKDIR, errno, -1);
    if (p->ns & SBX_NS_UTS) sethostname("sandbox", 7);
    // Without a pid namespace, orphans of the program come to us, and the
    // process group is what gets killed.
    if (!(p->ns & SBX_NS_PID)) prctl(PR_SET_CHILD_SUBREAPER, 1);
    write_files(p);

    // The program starts as a copy of us, and the kernel's peak RSS of it
    // never drops below what it started with: tell the caller that floor.
    struct rusage self;
    int64_t floor_kb = getrusage(RUSAGE_SELF, &self) == 0 ? self.ru_maxrss : 0;
    // vfork-style: the program's process borrows our memory (on its own
    // stack) until it execs, so our pages are not copied a second time.
    size_t stack_size = 256 << 10;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) fail(SBX_ST_FORK, errno, -1);
    pid_t pid = clone(program_entry, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)p);
    if (pid < 0) fail(SBX_ST_FORK, errno, -1);
    munmap(stack, stack_size);
    send_msg(SBX_MSG_STARTED, pid, 0, 0, floor_kb);
    for (int fd = FD_STDIN; fd <= FD_PASS1; fd++) close(fd);

    int status = wait_program(p, pid, &set);
    // Whatever the program left dies, and every child (orphans come to us:
    // we are pid 1 or their subreaper) is reaped here: left to an init that
    // may never reap, zombies would count against the uid's RLIMIT_NPROC.
    // A fork bomb forks while it is being killed: kill again until no child
    // is left.
    for (;;) {
        kill_program(p, pid);
        pid_t got = wait4(-1, NULL, __WALL | WNOHANG, NULL);
        if (got > 0 || (got < 0 && errno == EINTR)) continue;
        if (got < 0) break;  // ECHILD: all reaped
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    for (int i = 0; p->run->collect && p->run->collect[i]; i++) send_file(p->run->collect[i], i);
    send_msg(SBX_MSG_EXITED, status, 0, 0, 0);
    _exit(0);
}

// ---------------------------------------------------------------------------
// the program's process

static void set_limit(int resource, rlim_t soft, rlim_t hard) {
    struct rlimit rl = {soft, hard};
    if (setrlimit(resource, &rl) != 0) fail(SBX_ST_RLIMIT, errno, resource);
}

static void set_limits(const SbxPlan *p) {
    const SbxLimits *l = &p->lim;
    rlim_t cpu = (rlim_t)(l->time_s + 0.999);
    if (cpu < 1) cpu = 1;
    set_limit(RLIMIT_CPU, cpu, cpu + 1);
    set_limit(RLIMIT_AS, (rlim_t)l->memory_mb << 20, (rlim_t)l->memory_mb << 20);
    set_limit(RLIMIT_FSIZE, (rlim_t)l->fsize_mb << 20, (rlim_t)l->fsize_mb << 20);
    set_limit(RLIMIT_NOFILE, (rlim_t)l->files, (rlim_t)l->files);
    set_limit(RLIMIT_NPROC, (rlim_t)p->nproc, (rlim_t)p->nproc);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_MEMLOCK, 0, 0);
    set_limit(RLIMIT_MSGQUEUE, 0, 0);
    struct rlimit st;
    if (getrlimit(RLIMIT_STACK, &st) == 0 && (st.rlim_max == RLIM_INFINITY || st.rlim_max > ((rlim_t)l->memory_mb << 20))) {
        rlim_t cap = (rlim_t)l->memory_mb << 20;
        set_limit(RLIMIT_STACK, st.rlim_cur == RLIM_INFINITY || st.rlim_cur > cap ? cap : st.rlim_cur, cap);
    }
}

static void drop_identity(const SbxPlan *p) {
    if (p->s->cred == SBX_CRED_ROOT) {
        if (syscall(SYS_setgroups, 0, NULL) != 0 ||
            syscall(SYS_setresgid, p->run_gid, p->run_gid, p->run_gid) != 0 ||
            syscall(SYS_setresuid, p->run_uid, p->run_uid, p->run_uid) != 0)
            fail(SBX_ST_DROP_UID, errno, -1);
    }
    // No capabilities at all (exec as a non-root id would clear them too).
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0) fail(SBX_ST_CAPS, errno, -1);
    // After the identity change, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// Open a program for reading (for exec when it cannot be read) by execvp's
// search over the sandbox's fixed PATH, without allocation. Returns the fd
// (close-on-exec) or -errno.
static int open_exec(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) fd = open(path, O_PATH | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int find_program(const char *prog) {
    if (strchr(prog, '/')) return open_exec(prog);
    static const char *const dirs[] = {"/usr/local/bin/", "/usr/bin/", "/bin/"};
    int err = -ENOENT;
    for (size_t i = 0; i < RS_ARRAY_LEN(dirs); i++) {
        char path[512];
        path_join(path, sizeof path, dirs[i], prog);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        int fd = open_exec(path);
        if (fd >= 0) return fd;
        err = fd;
    }
    return err;
}

// What the one exec runs: the program, or a script's interpreter with the
// script as its argument (the kernel cannot run a script from a
// close-on-exec descriptor). Lives in program_main's frame.
typedef struct ExecArgs {
    char head[256];           // the script's first line
    const char *argv[64];
    const char *const *use;  // run->argv or argv
} ExecArgs;

// Put fd at SBX_EXEC_FD (close-on-exec) and close it. Returns 0 or -errno.
static int place_exec_fd(int fd) {
    // The descriptor must be above the program's RLIMIT_NOFILE: raise our
    // soft limit to reach it (the program's limits come later).
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= SBX_EXEC_FD) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > SBX_EXEC_FD ? SBX_EXEC_FD + 1 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int rc = dup3(fd, SBX_EXEC_FD, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

// Open what the exec will run at SBX_EXEC_FD and fill x. Returns 0 or -errno.
static int prepare_exec(const SbxPlan *p, ExecArgs *x) {
    const char *const *argv = p->run->argv;
    x->use = argv;
    int fd = find_program(argv[0]);
    if (fd < 0) return fd;
    ssize_t n = pread(fd, x->head, sizeof x->head - 1, 0);  // fails on an O_PATH fd: not a script then
    if (n <= 2 || x->head[0] != '#' || x->head[1] != '!') return place_exec_fd(fd);
    close(fd);
    x->head[n] = '\0';
    char *q = x->head + 2, *end = strchr(q, '\n');
    if (!end) return -ENOEXEC;
    *end = '\0';
    while (*q == ' ' || *q == '\t') q++;
    char *interp = q;
    while (*q && *q != ' ' && *q != '\t') q++;
    char *arg = NULL;
    if (*q) {
        *q++ = '\0';
        while (*q == ' ' || *q == '\t') q++;
        if (*q) arg = q;
        for (char *t = end - 1; arg && t > arg && (*t == ' ' || *t == '\t'); t--) *t = '\0';
    }
    // "#!/usr/bin/env NAME": env would exec NAME, a second exec; find it here.
    size_t il = strlen(interp);
    if (arg && arg[0] != '-' && !strchr(arg, ' ') && il >= 4 && strcmp(interp + il - 4, "/env") == 0) {
        fd = find_program(arg);
        interp = arg, arg = NULL;
    } else {
        fd = open_exec(interp);
    }
    if (fd < 0) return fd;
    int k = 0;
    x->argv[k++] = interp;
    if (arg) x->argv[k++] = arg;
    for (int i = 0; argv[i]; i++) {
        if (k >= 63) {
            close(fd);
            return -E2BIG;
        }
        x->argv[k++] = argv[i];
    }
    x->argv[k] = NULL;
    x->use = x->argv;
    return place_exec_fd(fd);
}

static _Noreturn void program_main(const SbxPlan *p) {
    // fds 0-2 (and 3) from our fixed slots; the status fd stays (close-on-exec)
    // to report a failed exec; nothing else.
    if (dup2(FD_STDIN, 0) < 0 || dup2(FD_OUT, 1) < 0 || dup2(FD_ERR, 2) < 0) fail(SBX_ST_FDS, errno, -1);
    int first_free = 3;
    if (p->report_fd >= 0) {
        if (dup2(FD_REPORT, 3) < 0) fail(SBX_ST_FDS, errno, 3);
        first_free = 4;
    }
    for (int i = 0; i < SBX_MAX_PASS; i++) {
        if (p->pass_fd[i] < 0) continue;
        if (dup2(FD_PASS0 + i, 4 + i) < 0) fail(SBX_ST_FDS, errno, 4 + i);
        first_free = 5 + i;
    }
    syscall(SYS_close_range, first_free, FD_STATUS - 1, 0);
    syscall(SYS_close_range, FD_STATUS + 1, ~0u, 0);
    ExecArgs x;
    int rc = prepare_exec(p, &x);
    if (rc < 0) fail(SBX_ST_EXEC, -rc, -1);
    setpgid(0, 0);
    // Default dispositions and an empty mask, whatever the caller had
    // (an ignored SIGPIPE or SIGXFSZ would survive exec).
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    set_limits(p);
    drop_identity(p);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(SBX_ST_NO_NEW_PRIVS, errno, -1);
    if (!p->private_root && p->s->landlock_abi > 0) {
        int rc = sbx_landlock_apply(p->s, p->workdir);
        if (rc < 0) fail(SBX_ST_LANDLOCK, -rc, -1);
    }
    struct sock_fprog prog = {.len = p->s->bpf_len[p->filter], .filter = p->s->bpf[p->filter]};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) fail(SBX_ST_SECCOMP, errno, -1);
    // The one exec the filter allows (sandbox_filter.c).
    syscall(SYS_execveat, SBX_EXEC_FD, "", (char *const *)x.use, p->envp, AT_EMPTY_PATH);
    fail(SBX_ST_EXEC, errno, -1);
}
