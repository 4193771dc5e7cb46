// sandbox.c: the caller's side of the sandbox (sandbox.h has the layers).
//   reasoner sandbox run --time-s 1 -- python3 -c 'while True: pass'
// One run: prepare everything the child needs (no allocation after clone),
// clone() the supervisor into the namespaces (writing its id maps when we
// are root), then sit in
// a poll loop that feeds nothing (stdin is a memfd, so a program that never
// reads it cannot block us), drains stdout, stderr and fd 3 under their caps,
// reads the supervisor's status messages, and kills everything at the wall
// clock deadline or when an output cap is passed. The verdict comes from the
// program's wait status, the supervisor's rusage (CPU of the whole tree,
// peak RSS) and why we killed, if we did.
//
// Cost per run is a clone with the namespaces (one copy of the caller's
// page tables: the program's process borrows the supervisor's memory until
// it execs), ~30 mount calls and a handful of pipes; the seccomp filter,
// the mount plan and the namespace probe are built once in sbx_new.
//
// peak_rss_kb comes from the kernel's ru_maxrss, which for a forked child
// starts at the caller's resident size at the fork (exec keeps the
// high-water mark of the copied memory): for a small farm worker that is a
// few MB, for a process under AddressSanitizer it can be hundreds. The
// supervisor measures that floor and the result carries it, so a peak at
// the floor is known not to be the program's.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "verifier/sandbox/sandbox_internal.h"

static const char *const ns_names[SBX_NS_COUNT] = {"user", "pid", "net", "mount", "ipc", "uts"};
static const int ns_clone_flags[SBX_NS_COUNT] = {CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                                                 CLONE_NEWNS,   CLONE_NEWIPC, CLONE_NEWUTS};

const char *sbx_status_name(SbxStatus st) {
    switch (st) {
    case SBX_OK: return "ok";
    case SBX_EXIT: return "runtime_error";
    case SBX_SIGNAL: return "signal";
    case SBX_TIMEOUT: return "timeout";
    case SBX_MEMORY: return "memory";
    case SBX_OUTPUT_LIMIT: return "output_limit";
    case SBX_DENIED: return "denied";
    }
    return "?";
}

const char *sbx_stage_name(int stage) {
    static const char *const names[SBX_ST_COUNT] = {
        "waiting for the id maps", "switching to the sandbox uid", "making mounts private",
        "mounting the private root", "mounting", "mounting /work", "pivot_root", "entering the work dir",
        "writing an input file", "fork", "setting up fds", "setrlimit", "dropping to the sandbox uid",
        "dropping capabilities", "no_new_privs", "landlock", "loading the seccomp filter", "exec"};
    return stage >= 0 && stage < SBX_ST_COUNT ? names[stage] : "setup";
}

void sbx_limits_default(SbxLimits *l) {
    *l = (SbxLimits){.time_s = 10, .memory_mb = 1024, .output_kb = 64, .procs = 64, .files = 64, .fsize_mb = 64};
}

static SbxLimits fill_limits(const SbxLimits *in) {
    SbxLimits d;
    sbx_limits_default(&d);
    if (in->time_s > 0) d.time_s = in->time_s;
    if (in->memory_mb > 0) d.memory_mb = in->memory_mb;
    if (in->output_kb > 0) d.output_kb = in->output_kb;
    if (in->procs > 0) d.procs = in->procs;
    if (in->files > 0) d.files = RS_MIN(in->files, SBX_MAX_FILES);
    if (in->fsize_mb > 0) d.fsize_mb = in->fsize_mb;
    return d;
}

// ---------------------------------------------------------------------------
// the filesystem plan (built once)

static void add_mount(Sandbox *s, SbxMountKind kind, const char *src, const char *dst, int is_dir) {
    s->mounts = xrealloc(s->mounts, (size_t)(s->nmounts + 1) * sizeof *s->mounts);
    SbxMount *m = &s->mounts[s->nmounts++];
    *m = (SbxMount){.kind = kind, .is_dir = is_dir, .src = xstrdup(src), .dst = xstrdup(dst)};
    if (kind == SBX_M_BIND_RO) {
        // The remount that makes the bind read-only must keep these.
        struct statvfs sv;
        if (statvfs(src, &sv) == 0) {
            if (sv.f_flag & ST_NOSUID) m->flags |= MS_NOSUID;
            if (sv.f_flag & ST_NODEV) m->flags |= MS_NODEV;
            if (sv.f_flag & ST_NOEXEC) m->flags |= MS_NOEXEC;
            if (sv.f_flag & ST_NOATIME) m->flags |= MS_NOATIME;
            if (sv.f_flag & ST_NODIRATIME) m->flags |= MS_NODIRATIME;
            if (sv.f_flag & ST_RELATIME) m->flags |= MS_RELATIME;
        }
    }
}

static void add_ro_path(Sandbox *s, const char *path) {
    s->ro_paths = xrealloc(s->ro_paths, (size_t)(s->n_ro_paths + 1) * sizeof *s->ro_paths);
    s->ro_paths[s->n_ro_paths++] = xstrdup(path);
}

// A host path made visible read-only at the same place: a symlink is copied
// as a symlink (merged /usr: /bin -> usr/bin), a dir or file is bound.
static void plan_path(Sandbox *s, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISLNK(st.st_mode)) {
        char target[512];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0) return;
        target[n] = '\0';
        add_mount(s, SBX_M_SYMLINK, target, path, 0);
    } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
        add_mount(s, SBX_M_BIND_RO, path, path, S_ISDIR(st.st_mode));
    } else {
        return;
    }
    add_ro_path(s, path);
}

static int plan_filesystem(Sandbox *s, Err *e) {
    // What python3 and gcc need: /usr (and the merged-usr links), the
    // loader's cache, the alternatives links (cc -> gcc), the time zone.
    static const char *const system[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                                         "/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"};
    for (size_t i = 0; i < RS_ARRAY_LEN(system); i++) plan_path(s, system[i]);
    for (const char *const *p = s->cfg.ro_paths; p && *p; p++) {
        static const char *const reserved[] = {"/tmp", SBX_WORK, "/dev", "/proc", "/sys"};
        if ((*p)[0] != '/' || !fs_exists(*p)) return err_set(e, "sandbox: ro path '%s': not an existing absolute path", *p);
        for (size_t i = 0; i < RS_ARRAY_LEN(reserved); i++) {
            size_t n = strlen(reserved[i]);
            if (strncmp(*p, reserved[i], n) == 0 && ((*p)[n] == '/' || (*p)[n] == '\0'))
                return err_set(e, "sandbox: ro path '%s': under %s, which the sandbox owns", *p, reserved[i]);
        }
        plan_path(s, *p);
    }
    static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};
    for (size_t i = 0; i < RS_ARRAY_LEN(devs); i++)
        if (fs_exists(devs[i])) add_mount(s, SBX_M_BIND_DEV, devs[i], devs[i], 0);
    add_mount(s, SBX_M_SYMLINK, SBX_WORK, "/tmp", 0);  // programs that insist on /tmp get the work dir
    return 0;
}

// ---------------------------------------------------------------------------
// spawning the supervisor

static int write_proc(pid_t pid, const char *file, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int err = errno;
    close(fd);
    errno = err;
    return w == (ssize_t)n ? 0 : -1;
}

// Map SBX_INNER_ID inside to one unprivileged id outside: "nobody" when we
// are root. (An unprivileged caller's supervisor maps itself.)
static int write_id_maps(const Sandbox *s, pid_t pid, Err *e) {
    if (write_proc(pid, "uid_map", s->uid_map) != 0) return err_errno(e, "sandbox: writing uid_map");
    if (write_proc(pid, "gid_map", s->gid_map) != 0) return err_errno(e, "sandbox: writing gid_map");
    return 0;
}

// clone() the supervisor with the plan's namespaces. Its exit signal is 0,
// so only our __WALL wait reaps it (another thread's wait(-1) cannot steal
// it) and the caller gets no SIGCHLD. Returns its pid and the status pipe's
// read end, or -1.
static pid_t spawn(const Sandbox *s, SbxPlan *p, int *status_rd, Err *e) {
    int st[2], sy[2] = {-1, -1};
    if (pipe2(st, O_CLOEXEC) != 0) return err_errno(e, "sandbox: pipe");
    int root_maps = (p->ns & SBX_NS_USER) && s->caller_uid == 0;
    if (root_maps && pipe2(sy, O_CLOEXEC) != 0) {
        close(st[0]), close(st[1]);
        return err_errno(e, "sandbox: pipe");
    }
    p->status_fd = st[1];
    p->sync_fd = sy[0];
    unsigned long flags = 0;
    for (int i = 0; i < SBX_NS_COUNT; i++)
        if (p->ns & (1u << i)) flags |= (unsigned long)ns_clone_flags[i];
    pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (pid == 0) sbx_child_main(p);
    int err = errno;
    close(st[1]);
    if (sy[0] >= 0) close(sy[0]);
    if (pid < 0) {
        close(st[0]);
        if (sy[1] >= 0) close(sy[1]);
        errno = err;
        return err_errno(e, "sandbox: clone");
    }
    if (root_maps) {
        int rc = write_id_maps(s, pid, e);
        if (rc == 0 && write(sy[1], "x", 1) != 1) rc = err_errno(e, "sandbox: sync");
        close(sy[1]);
        if (rc != 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, __WALL);
            close(st[0]);
            return -1;
        }
    }
    *status_rd = st[0];
    return pid;
}

// ---------------------------------------------------------------------------
// reading the pipes

typedef struct Stream {
    int fd;       // -1 once at EOF
    Buf buf;      // at most cap bytes kept
    size_t cap;
    size_t total; // bytes the program wrote
} Stream;

// Read what is there; past the cap, read and drop, so the writer never
// blocks on us. Returns 1 when the stream just went past its cap.
static int stream_read(Stream *st) {
    char chunk[1 << 16];
    ssize_t n = read(st->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) {
        close(st->fd);
        st->fd = -1;
        return 0;
    }
    size_t was = st->total;
    st->total += (size_t)n;
    if (st->buf.len < st->cap) buf_append(&st->buf, chunk, RS_MIN((size_t)n, st->cap - st->buf.len));
    return was <= st->cap && st->total > st->cap;
}

// The supervisor's messages, decoded as they arrive.
typedef struct Status {
    Stream in;         // raw bytes (no cap)
    size_t off;        // parsed up to here
    pid_t prog;        // the program's pid as the supervisor sees it
    int exited, wstatus;
    int failed;
    SbxMsg fail;
} Status;

static void status_parse(Status *st, SbxResult *res) {
    for (;;) {
        size_t left = st->in.buf.len - st->off;
        if (left < sizeof(SbxMsg)) break;
        SbxMsg m;
        memcpy(&m, st->in.buf.data + st->off, sizeof m);
        size_t need = sizeof m + (m.kind == SBX_MSG_FILE && m.n > 0 ? (size_t)m.n : 0);
        if (left < need) break;
        const char *body = st->in.buf.data + st->off + sizeof m;
        st->off += need;
        if (m.kind == SBX_MSG_STARTED) st->prog = m.a, res->rss_floor_kb = (long)m.n;
        else if (m.kind == SBX_MSG_EXITED) st->exited = 1, st->wstatus = m.a;
        else if (m.kind == SBX_MSG_FAILED && !st->failed) st->failed = 1, st->fail = m;
        else if (m.kind == SBX_MSG_FILE && m.a >= 0 && m.a < res->nfiles && m.n >= 0) {
            SbxOutFile *f = &res->files[m.a];
            free(f->data);
            f->data = xmalloc((size_t)m.n + 1);
            memcpy(f->data, body, (size_t)m.n);
            f->data[m.n] = '\0';
            f->len = (size_t)m.n;
        }
    }
    if (st->off == st->in.buf.len) buf_clear(&st->in.buf), st->off = 0;
}

static int status_read(Status *st, SbxResult *res) {
    char chunk[1 << 16];
    ssize_t n = read(st->in.fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) {
        close(st->in.fd);
        st->in.fd = -1;
        return 0;
    }
    buf_append(&st->in.buf, chunk, (size_t)n);
    status_parse(st, res);
    return 0;
}

static int fail_message(const Sandbox *s, const SbxMsg *m, Err *e) {
    const char *what = "";
    if (m->a == SBX_ST_MOUNT_ENTRY && m->c >= 0 && m->c < s->nmounts) what = s->mounts[m->c].dst;
    return err_set(e, "sandbox: %s%s%s: %s", sbx_stage_name(m->a), *what ? " " : "", what, strerror(m->b));
}

// ---------------------------------------------------------------------------
// one run

enum { KILL_NONE, KILL_TIMEOUT, KILL_OUTPUT };

// Remove a work dir the program may have filled with anything (read-only
// dirs, links): never follows links, makes dirs writable before emptying.
static void rm_tree_at(int parent, const char *name) {
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT) return;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        fchmodat(parent, name, 0700, 0);
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return;
    }
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        rm_tree_at(dirfd(d), de->d_name);
    }
    closedir(d);
    unlinkat(parent, name, AT_REMOVEDIR);
}

static const char *const memory_marks[] = {"MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory"};

// From how the program ended (and why we killed it) to a status.
static void judge(SbxResult *res, const SbxLimits *l, int killed, int wstatus) {
    if (killed == KILL_OUTPUT) {
        res->status = SBX_OUTPUT_LIMIT;
        res->signal = SIGKILL;
        snprintf(res->detail, sizeof res->detail, "output passed the %d KB cap", l->output_kb);
        return;
    }
    if (killed == KILL_TIMEOUT) {
        res->status = SBX_TIMEOUT;
        res->signal = SIGKILL;
        snprintf(res->detail, sizeof res->detail, "wall clock limit of %g s", l->time_s);
        return;
    }
    if (WIFEXITED(wstatus)) {
        res->exit_code = WEXITSTATUS(wstatus);
        res->status = res->exit_code == 0 ? SBX_OK : SBX_EXIT;
        if (res->exit_code) snprintf(res->detail, sizeof res->detail, "exit code %d", res->exit_code);
    } else if (WIFSIGNALED(wstatus)) {
        res->signal = WTERMSIG(wstatus);
        res->status = SBX_SIGNAL;
        snprintf(res->detail, sizeof res->detail, "killed by signal %d (%s)", res->signal, strsignal(res->signal));
        if (res->signal == SIGSYS) {
            res->status = SBX_DENIED;
            snprintf(res->detail, sizeof res->detail, "killed by the seccomp filter: a forbidden system call");
        } else if (res->signal == SIGXCPU || (res->signal == SIGKILL && res->cpu_ms >= 1000.0 * ceil(l->time_s))) {
            res->status = SBX_TIMEOUT;
            snprintf(res->detail, sizeof res->detail, "CPU limit of %g s", ceil(l->time_s));
        }
    }
    if (res->status != SBX_EXIT && res->status != SBX_SIGNAL) return;
    // Out of address space shows as an exception or an abort (the runtime
    // saw the failed allocation) or as a crash near the limit (it did not).
    // The peak says so only when it is the program's own: above the floor
    // (and the few pages the child touches between that measure and exec).
    int mem = res->status == SBX_SIGNAL && res->peak_rss_kb > res->rss_floor_kb + 4096 &&
              res->peak_rss_kb >= (long)l->memory_mb * 1024 * 3 / 4;
    for (size_t i = 0; !mem && i < RS_ARRAY_LEN(memory_marks); i++)
        mem = res->err && strstr(res->err, memory_marks[i]) != NULL;
    if (mem) {
        res->status = SBX_MEMORY;
        snprintf(res->detail, sizeof res->detail, "address space limit of %d MB", l->memory_mb);
    }
}

static char *take_stream(Stream *st, size_t *len) {
    *len = st->buf.len;
    char *s = buf_take(&st->buf);
    return s ? s : xstrdup("");
}

static int valid_file_name(const char *name) {
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

// One sbx_run on the caller's side: what the child needs, prepared before
// clone, and what we watch afterwards.
typedef struct Run {
    SbxPlan plan;
    char hostdir[512];   // the fallback's work dir; "" with a private root
    char home[600], tmpdir[600];
    char **envp;
    int stdin_fd;        // a memfd
    int fds[6];          // stdout r/w, stderr r/w, fd-3 r/w
    Stream streams[3];   // stdout, stderr, fd 3
    Status st;
    pid_t sup;
    int killed, hard_killed;
    double t0, deadline, stop_sent, give_up;
} Run;

static void run_init(Run *r, const Sandbox *s, const SbxRun *run) {
    memset(r, 0, sizeof *r);
    SbxPlan *p = &r->plan;
    *p = (SbxPlan){.s = s, .run = run, .lim = fill_limits(&run->limits), .ns = s->ns_active,
                   .private_root = s->private_root, .report_fd = -1, .stdin_fd = -1, .pass_fd = {-1, -1}};
    p->filter = run->allow_exec ? SBX_FILTER_EXEC : run->no_fork ? SBX_FILTER_RUN_NO_FORK : SBX_FILTER_RUN;
    for (int i = 0; i < run->npass && i < SBX_MAX_PASS; i++) p->pass_fd[i] = run->pass_fds[i];
    // Root without a user namespace runs each program as its own uid (the
    // thread id makes it unique among runs in flight), so RLIMIT_NPROC
    // counts one run at a time.
    p->run_uid = s->cred == SBX_CRED_ROOT ? SBX_RUN_UID_BASE + (uid_t)gettid() : s->caller_uid;
    p->run_gid = s->cred == SBX_CRED_ROOT ? (gid_t)p->run_uid : s->caller_gid;
    // In a user namespace the supervisor counts too.
    p->nproc = s->cred == SBX_CRED_USERNS ? p->lim.procs + 1
               : s->cred == SBX_CRED_ROOT ? p->lim.procs
                                          : s->nproc_base + p->lim.procs;
    unsigned owner = s->cred == SBX_CRED_USERNS ? SBX_INNER_ID : (unsigned)p->run_uid;
    snprintf(p->work_opts, sizeof p->work_opts, "size=%dm,nr_inodes=4096,mode=0755,uid=%u,gid=%u", p->lim.fsize_mb,
             owner, owner);
    r->stdin_fd = -1;
    for (int i = 0; i < 6; i++) r->fds[i] = -1;
    r->st.in.fd = -1;
    r->sup = -1;
}

// The work dir: /work inside a private root, else a fresh host dir the
// supervisor (and the program) may enter.
static int make_workdir(const Sandbox *s, Run *r, Err *e) {
    SbxPlan *p = &r->plan;
    if (p->private_root) {
        p->workdir = SBX_WORK;
        return 0;
    }
    snprintf(r->hostdir, sizeof r->hostdir, "%s/reasoner-sbx-XXXXXX", s->tmp_dir);
    if (!mkdtemp(r->hostdir)) {
        r->hostdir[0] = '\0';
        return err_errno(e, "sandbox: creating a work dir in %s", s->tmp_dir);
    }
    p->workdir = r->hostdir;
    if (s->cred == SBX_CRED_SAME) return 0;
    uid_t uid = s->cred == SBX_CRED_USERNS ? (s->caller_uid == 0 ? SBX_INNER_ID : s->caller_uid) : p->run_uid;
    gid_t gid = s->cred == SBX_CRED_USERNS ? (s->caller_uid == 0 ? SBX_INNER_ID : s->caller_gid) : p->run_gid;
    if (chown(r->hostdir, uid, gid) != 0) return err_errno(e, "sandbox: chown %s", r->hostdir);
    return 0;
}

// stdin as a memfd (a program that never reads it cannot block us), the
// output pipes, the environment.
static int make_io(const Sandbox *s, const SbxRun *run, Run *r, Err *e) {
    r->stdin_fd = (int)syscall(SYS_memfd_create, "sbx-stdin", MFD_CLOEXEC);
    if (r->stdin_fd < 0) return err_errno(e, "sandbox: memfd_create");
    for (size_t off = 0; off < run->stdin_len;) {
        ssize_t w = write(r->stdin_fd, run->stdin_data + off, run->stdin_len - off);
        if (w <= 0) return err_errno(e, "sandbox: writing stdin");
        off += (size_t)w;
    }
    lseek(r->stdin_fd, 0, SEEK_SET);
    if (pipe2(r->fds, O_CLOEXEC) || pipe2(r->fds + 2, O_CLOEXEC) || (run->report_fd && pipe2(r->fds + 4, O_CLOEXEC)))
        return err_errno(e, "sandbox: pipe");
    SbxPlan *p = &r->plan;
    p->stdin_fd = r->stdin_fd, p->out_fd = r->fds[1], p->err_fd = r->fds[3];
    p->report_fd = run->report_fd ? r->fds[5] : -1;
    snprintf(r->home, sizeof r->home, "HOME=%s", p->workdir);
    snprintf(r->tmpdir, sizeof r->tmpdir, "TMPDIR=%s", p->workdir);
    const char *base[] = {"PATH=/usr/local/bin:/usr/bin:/bin", r->home, r->tmpdir, "LANG=C.UTF-8",
                          "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0"};
    size_t nbase = RS_ARRAY_LEN(base);
    r->envp = xcalloc(nbase + (size_t)s->nenv + 1, sizeof *r->envp);
    for (size_t i = 0; i < nbase; i++) r->envp[i] = (char *)base[i];
    for (int i = 0; i < s->nenv; i++) r->envp[nbase + (size_t)i] = s->env[i];
    p->envp = r->envp;
    return 0;
}

// After clone: our copies of the child's ends go, our ends stop blocking.
static void start_watching(Run *r) {
    for (int i = 1; i < 6; i += 2)
        if (r->fds[i] >= 0) close(r->fds[i]), r->fds[i] = -1;
    close(r->stdin_fd), r->stdin_fd = -1;
    free(r->envp), r->envp = NULL;
    size_t cap = (size_t)r->plan.lim.output_kb * 1024;
    r->streams[0] = (Stream){.fd = r->fds[0], .cap = cap};
    r->streams[1] = (Stream){.fd = r->fds[2], .cap = cap};
    r->streams[2] = (Stream){.fd = r->fds[4], .cap = 1u << 20};
    r->fds[0] = r->fds[2] = r->fds[4] = -1;
    for (int i = 0; i < 3; i++)
        if (r->streams[i].fd >= 0) fcntl(r->streams[i].fd, F_SETFL, O_NONBLOCK);
    r->deadline = r->t0 + r->plan.lim.time_s;
}

// The kills, by the clock. Stopping is the supervisor's job (it kills and
// reaps, so the CPU is counted, and reports); if it does not answer within
// a second, it and the program's group die from here.
static void enforce(Run *r, double now) {
    const Status *st = &r->st;
    if (!r->killed && !st->exited && now >= r->deadline) r->killed = KILL_TIMEOUT;
    if (r->killed && r->stop_sent == 0) {
        kill(r->sup, SIGUSR1);
        r->stop_sent = now;
    }
    if (r->stop_sent > 0 && !r->hard_killed && !st->exited && now >= r->stop_sent + 1.0) {
        if (!(r->plan.ns & SBX_NS_PID) && st->prog > 0) kill(-st->prog, SIGKILL);
        kill(r->sup, SIGKILL);
        r->hard_killed = 1;
        r->give_up = now + 2.0;
    }
    // Once the program is gone, whatever still holds a pipe dies with the
    // supervisor: give the pipes a moment to drain, never forever.
    if ((st->exited || st->in.fd < 0) && r->give_up == 0) r->give_up = now + 2.0;
}

// Poll the pipes until everything is drained or we give up.
static void watch(Run *r, SbxResult *res) {
    for (;;) {
        struct pollfd pf[4];
        int idx[4], n = 0;
        for (int i = 0; i < 3; i++)
            if (r->streams[i].fd >= 0) pf[n] = (struct pollfd){.fd = r->streams[i].fd, .events = POLLIN}, idx[n++] = i;
        if (r->st.in.fd >= 0) pf[n] = (struct pollfd){.fd = r->st.in.fd, .events = POLLIN}, idx[n++] = 3;
        if (n == 0) break;
        double now = rs_now();
        enforce(r, now);
        if (r->give_up > 0 && now >= r->give_up) break;
        double until = r->give_up > 0 ? r->give_up : r->stop_sent > 0 ? r->stop_sent + 1.0 : r->deadline;
        if (poll(pf, (nfds_t)n, (int)RS_MAX(1.0, (until - now) * 1000.0 + 1.0)) < 0 && errno != EINTR) break;
        for (int k = 0; k < n; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (idx[k] == 3) status_read(&r->st, res);
            else if (stream_read(&r->streams[idx[k]]) && idx[k] < 2 && !r->killed && !r->st.exited)
                r->killed = KILL_OUTPUT;
        }
        if (r->st.exited && !res->wall_ms) res->wall_ms = (rs_now() - r->t0) * 1000.0;
    }
    if (!res->wall_ms) res->wall_ms = (rs_now() - r->t0) * 1000.0;
}

// Reap the supervisor (killing it if it is stuck): CPU and peak RSS of the
// whole tree come with it.
static int reap(Run *r, SbxResult *res) {
    const Status *st = &r->st;
    if (st->in.fd >= 0) {
        if (!(r->plan.ns & SBX_NS_PID) && st->prog > 0 && !st->exited) kill(-st->prog, SIGKILL);
        kill(r->sup, SIGKILL);
    }
    int status = 0;
    struct rusage ru = {0};
    while (wait4(r->sup, &status, __WALL, &ru) < 0 && errno == EINTR) {}
    r->sup = -1;
    res->cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
                  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
    res->peak_rss_kb = ru.ru_maxrss;
    res->out = take_stream(&r->streams[0], &res->out_len), res->out_total = r->streams[0].total;
    res->err = take_stream(&r->streams[1], &res->err_len), res->err_total = r->streams[1].total;
    if (r->plan.run->report_fd) res->report = take_stream(&r->streams[2], &res->report_len);
    return status;
}

static void run_close(Run *r) {
    for (int i = 0; i < 6; i++)
        if (r->fds[i] >= 0) close(r->fds[i]);
    for (int i = 0; i < 3; i++) {
        if (r->streams[i].fd >= 0) close(r->streams[i].fd);
        buf_free(&r->streams[i].buf);
    }
    if (r->st.in.fd >= 0) close(r->st.in.fd);
    buf_free(&r->st.in.buf);
    if (r->stdin_fd >= 0) close(r->stdin_fd);
    free(r->envp);
    if (r->hostdir[0]) rm_tree_at(AT_FDCWD, r->hostdir);
}

// The caller's channel fds are the program's now: once the supervisor has
// its copies (or when it never will), ours go, so the other end sees EOF
// when the program ends.
static void close_passed(const SbxRun *run) {
    for (int i = 0; i < run->npass && i < SBX_MAX_PASS; i++)
        if (run->pass_fds[i] >= 0) close(run->pass_fds[i]);
}

int sbx_run(const Sandbox *s, const SbxRun *run, SbxResult *res, Err *e) {
    memset(res, 0, sizeof *res);
    RS_CHECK(run->argv && run->argv[0]);
    RS_CHECK(run->npass >= 0 && run->npass <= SBX_MAX_PASS);
    for (int i = 0; i < run->nfiles; i++)
        if (!valid_file_name(run->files[i].name)) {
            close_passed(run);
            return err_set(e, "sandbox: file name '%s': must be a plain name", run->files[i].name ? run->files[i].name : "");
        }
    int ncollect = 0;
    for (; run->collect && run->collect[ncollect]; ncollect++)
        if (!valid_file_name(run->collect[ncollect])) {
            close_passed(run);
            return err_set(e, "sandbox: collect '%s': must be a plain name", run->collect[ncollect]);
        }

    Run *r = xmalloc(sizeof *r);
    run_init(r, s, run);
    int rc = -1;
    if (make_workdir(s, r, e) == 0 && make_io(s, run, r, e) == 0) {
        res->nfiles = ncollect;
        res->files = ncollect ? xcalloc((size_t)ncollect, sizeof *res->files) : NULL;
        for (int i = 0; i < ncollect; i++) res->files[i].name = xstrdup(run->collect[i]);
        r->t0 = rs_now();
        r->sup = spawn(s, &r->plan, &r->st.in.fd, e);
    }
    close_passed(run);
    if (r->sup > 0) {
        start_watching(r);
        watch(r, res);
        int sstatus = reap(r, res);
        const Status *st = &r->st;
        if (st->failed && !r->killed) {
            if (st->fail.a == SBX_ST_EXEC) err_set(e, "sandbox: exec %s: %s", run->argv[0], strerror(st->fail.b));
            else fail_message(s, &st->fail, e);
        } else if (!r->killed && !st->exited) {
            err_set(e, "sandbox: the supervisor died (%s %d)", WIFSIGNALED(sstatus) ? "signal" : "exit",
                    WIFSIGNALED(sstatus) ? WTERMSIG(sstatus) : WEXITSTATUS(sstatus));
        } else {
            judge(res, &r->plan.lim, r->killed, st->wstatus);
            rc = 0;
        }
    }
    if (rc != 0) sbx_result_free(res);
    run_close(r);
    free(r);
    return rc;
}

void sbx_result_free(SbxResult *res) {
    if (!res) return;
    free(res->out);
    free(res->err);
    free(res->report);
    for (int i = 0; i < res->nfiles; i++) free(res->files[i].name), free(res->files[i].data);
    free(res->files);
    memset(res, 0, sizeof *res);
}

// ---------------------------------------------------------------------------
// probing what the kernel allows (once, in sbx_new)

// Spawn a supervisor that only sets up (ns, and the private root when
// asked) and exits. 0 when that worked, else -1 with the reason in e.
static int probe(Sandbox *s, unsigned ns, int private_root, int drop, Err *e) {
    SbxPlan p = {.s = s, .probe = 1, .probe_drop = drop, .ns = ns, .private_root = private_root, .stdin_fd = -1,
                 .out_fd = -1, .err_fd = -1, .report_fd = -1, .workdir = SBX_WORK,
                 .run_uid = SBX_RUN_UID_BASE + (uid_t)gettid(), .run_gid = SBX_RUN_UID_BASE + (gid_t)gettid()};
    snprintf(p.work_opts, sizeof p.work_opts, "size=1m,mode=0755");
    Status st = {.in = {.fd = -1}};
    SbxResult none = {0};
    pid_t pid = spawn(s, &p, &st.in.fd, e);
    if (pid < 0) return -1;
    double give_up = rs_now() + 10.0;
    while (st.in.fd >= 0 && rs_now() < give_up) {
        struct pollfd pf = {.fd = st.in.fd, .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) status_read(&st, &none);
    }
    if (st.in.fd >= 0) close(st.in.fd), kill(pid, SIGKILL);
    buf_free(&st.in.buf);
    int status = 0;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
    if (st.failed) return fail_message(s, &st.fail, e);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return err_set(e, "sandbox: probe child ended with status %d", status);
    return 0;
}

static void refuse(Sandbox *s, int i, const char *why) {
    snprintf(s->refused[i], sizeof s->refused[i], "%s", why);
}

// Strip the "sandbox: " prefix of a probe error for the refusal note.
static const char *reason(const Err *e) {
    return strncmp(e->msg, "sandbox: ", 9) == 0 ? e->msg + 9 : e->msg;
}

static void probe_namespaces(Sandbox *s) {
    unsigned want = s->cfg.namespaces;
    Err e;
    unsigned base = 0;
    s->cred = s->caller_uid == 0 ? SBX_CRED_ROOT : SBX_CRED_SAME;
    if (want & SBX_NS_USER) {
        if (probe(s, SBX_NS_USER, 0, 0, &e) == 0) base = SBX_NS_USER, s->cred = SBX_CRED_USERNS;
        else refuse(s, 0, reason(&e));
    }
    if (s->cred == SBX_CRED_ROOT && probe(s, 0, 0, 1, &e) != 0) {  // root without CAP_SETUID
        s->cred = SBX_CRED_SAME;
        snprintf(s->cred_note, sizeof s->cred_note, "cannot drop root: %s", reason(&e));
    }
    s->ns_active = base;
    for (int i = 0; i < SBX_NS_COUNT; i++)
        if (!(want & (1u << i))) refuse(s, i, "disabled by the configuration");
    for (int i = 1; i < SBX_NS_COUNT; i++) {
        unsigned bit = 1u << i;
        if (!(want & bit)) continue;
        if (probe(s, base | bit, 0, 0, &e) == 0) s->ns_active |= bit;
        else refuse(s, i, reason(&e));
    }
    if (s->ns_active & SBX_NS_MOUNT) {
        if (probe(s, s->ns_active, 1, 0, &e) == 0) s->private_root = 1;
        else snprintf(s->fs_note, sizeof s->fs_note, "no private root: %s", reason(&e));
    } else {
        snprintf(s->fs_note, sizeof s->fs_note, "no private root: no mount namespace");
    }
}

// Processes (threads) the uid already has: in the fallback without any
// namespace RLIMIT_NPROC counts them too.
static long count_user_tasks(uid_t uid) {
    long n = 0;
    DIR *d = opendir("/proc");
    if (!d) return 1024;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%s/task", de->d_name);
        if (stat(path, &st) != 0 || st.st_uid != uid) continue;
        st.st_nlink > 2 ? (n += (long)st.st_nlink - 2) : n++;
    }
    closedir(d);
    return n;
}

// How to get each missing layer, for the refusal message.
static const char *const how_userns =
    "enable user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (Debian/Ubuntu) and "
    "sysctl -w user.max_user_namespaces=10000; Ubuntu 24.04+: sysctl -w "
    "kernel.apparmor_restrict_unprivileged_userns=0; in Docker: --security-opt seccomp=unconfined "
    "--security-opt apparmor=unconfined, or --privileged";
static const char *const how_ns =
    "the container forbids new namespaces: run it with --privileged or with --security-opt "
    "seccomp=unconfined --security-opt apparmor=unconfined (Docker), or on the host";

// Fill s->isolation; when a layer is missing, also a refusal message in e
// naming the first one, why, and how to get it. Returns 0 for the full jail.
static int judge_isolation(Sandbox *s, Err *e) {
    Buf b = {0};
    const char *first = NULL, *why = "", *how = how_ns;
    static const struct { int ns; const char *tag, *name; } need[] = {
        {0, "no-userns", "a user namespace"}, {1, "no-pidns", "a pid namespace"},
        {2, "no-netns", "a network namespace"}, {3, "no-mountns", "a mount namespace"}};
    for (size_t i = 0; i < RS_ARRAY_LEN(need); i++) {
        if (s->ns_active & (1u << need[i].ns)) continue;
        buf_printf(&b, "%s%s", b.len ? "," : "", need[i].tag);
        if (!first) first = need[i].name, why = s->refused[need[i].ns], how = i == 0 ? how_userns : how_ns;
    }
    if (!s->private_root && s->landlock_abi == 0) {
        buf_printf(&b, "%sno-fs", b.len ? "," : "");
        if (!first) first = "a private root or Landlock", why = s->fs_note,
                    how = "a mount namespace (see above) or a kernel with Landlock (CONFIG_SECURITY_LANDLOCK, lsm=landlock)";
    }
    if (s->cred == SBX_CRED_SAME) {
        buf_printf(&b, "%ssame-uid", b.len ? "," : "");
        if (!first) first = "a uid that is not the caller's", why = s->cred_note[0] ? s->cred_note : "no user namespace and not root",
                    how = how_userns;
    }
    int rc = 0;
    if (first) {
        snprintf(s->isolation, sizeof s->isolation, "weak:%s", b.data);
        rc = err_set(e, "sandbox: the full jail cannot be built here: missing %s (%s). To get it: %s. Or accept a "
                        "weaker sandbox, at the risk of a program reaching the host (its verdicts say "
                        "\"isolation\": \"%s\"): --allow-weak-sandbox (%s=1)",
                     first, why && *why ? why : "refused", how, s->isolation, SBX_ALLOW_WEAK_ENV);
    } else {
        snprintf(s->isolation, sizeof s->isolation, "full");
    }
    buf_free(&b);
    return rc;
}

Sandbox *sbx_new(const SbxConfig *cfg, Err *e) {
    Sandbox *s = xcalloc(1, sizeof *s);
    if (cfg) s->cfg = *cfg;
    else s->cfg.namespaces = SBX_NS_ALL;
    s->caller_uid = geteuid();
    s->caller_gid = getegid();
    unsigned outer_uid = s->caller_uid == 0 ? SBX_INNER_ID : (unsigned)s->caller_uid;
    unsigned outer_gid = s->caller_uid == 0 ? SBX_INNER_ID : (unsigned)s->caller_gid;
    snprintf(s->uid_map, sizeof s->uid_map, "%u %u 1\n", SBX_INNER_ID, outer_uid);
    snprintf(s->gid_map, sizeof s->gid_map, "%u %u 1\n", SBX_INNER_ID, outer_gid);
    const char *tmp = cfg && cfg->tmp_dir ? cfg->tmp_dir : getenv("TMPDIR");
    s->tmp_dir = xstrdup(tmp && *tmp ? tmp : "/tmp");
    for (const char *const *v = cfg ? cfg->env : NULL; v && *v; v++) {
        s->env = xrealloc(s->env, (size_t)(s->nenv + 2) * sizeof *s->env);
        s->env[s->nenv++] = xstrdup(*v);
        s->env[s->nenv] = NULL;
    }
    int rc = sbx_filter_build(s, e) == 0 && plan_filesystem(s, e) == 0 ? 0 : -1;
    // The caller's strings are copied into the plan; keep no pointer to them.
    s->cfg.ro_paths = NULL, s->cfg.env = NULL, s->cfg.tmp_dir = NULL;
    if (rc != 0) {
        sbx_free(s);
        return NULL;
    }
    probe_namespaces(s);
    if (!s->private_root && !s->cfg.no_landlock) s->landlock_abi = sbx_landlock_probe();
    if (s->cred == SBX_CRED_SAME) s->nproc_base = count_user_tasks(s->caller_uid);
    if (judge_isolation(s, e) != 0 && !s->cfg.allow_weak) {
        sbx_free(s);
        return NULL;
    }
    return s;
}

void sbx_free(Sandbox *s) {
    if (!s) return;
    for (int i = 0; i < SBX_FILTER_COUNT; i++) free(s->bpf[i]);
    for (int i = 0; i < s->nmounts; i++) free(s->mounts[i].src), free(s->mounts[i].dst);
    free(s->mounts);
    for (int i = 0; i < s->n_ro_paths; i++) free(s->ro_paths[i]);
    free(s->ro_paths);
    for (int i = 0; i < s->nenv; i++) free(s->env[i]);
    free(s->env);
    free(s->tmp_dir);
    free(s);
}

// The one process-wide object of this module: built on first use, never
// changed afterwards, so threads share it without locks.
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static Sandbox *shared_sandbox;
static Err shared_err;

static void shared_init(void) {
    const char *weak = getenv(SBX_ALLOW_WEAK_ENV);
    SbxConfig cfg = {.namespaces = SBX_NS_ALL, .allow_weak = weak && strcmp(weak, "1") == 0};
    shared_sandbox = sbx_new(&cfg, &shared_err);
}

const Sandbox *sbx_shared(Err *e) {
    pthread_once(&shared_once, shared_init);
    if (!shared_sandbox) err_set(e, "%s", shared_err.msg);
    return shared_sandbox;
}

// ---------------------------------------------------------------------------
// describing the layers

const char *sbx_isolation(const Sandbox *s) { return s->isolation; }
unsigned sbx_namespaces(const Sandbox *s) { return s->ns_active; }
int sbx_has_private_root(const Sandbox *s) { return s->private_root; }
int sbx_landlock_abi(const Sandbox *s) { return s->landlock_abi; }

static const char *filesystem_layer(const Sandbox *s) {
    if (s->private_root) return "pivot_root";
    return s->landlock_abi > 0 ? "landlock" : "none";
}

static const char *cred_layer(const Sandbox *s) {
    switch (s->cred) {
    case SBX_CRED_USERNS: return "nobody in a user namespace";
    case SBX_CRED_ROOT: return "a per-run unprivileged uid";
    case SBX_CRED_SAME: return "the caller's uid";
    }
    return "?";
}

void sbx_describe(const Sandbox *s, Buf *out) {
    buf_puts(out, "namespaces");
    int any = 0;
    for (int i = 0; i < SBX_NS_COUNT; i++)
        if (s->ns_active & (1u << i)) buf_printf(out, " %s", ns_names[i]), any = 1;
    if (!any) buf_puts(out, " none");
    buf_puts(out, "; refused");
    any = 0;
    for (int i = 0; i < SBX_NS_COUNT; i++)
        if (s->refused[i][0]) buf_printf(out, " %s (%s)", ns_names[i], s->refused[i]), any = 1;
    if (!any) buf_puts(out, " none");
    buf_printf(out, "; filesystem %s", filesystem_layer(s));
    if (!s->private_root) buf_printf(out, " (%s)", s->fs_note);
    if (s->landlock_abi) buf_printf(out, " landlock ABI %d", s->landlock_abi);
    buf_printf(out, "; runs as %s", cred_layer(s));
    if (s->cred_note[0]) buf_printf(out, " (%s)", s->cred_note);
    buf_printf(out, "; rlimits; no_new_privs; seccomp allowlist (%d syscalls, default kill; one exec); isolation %s",
               s->n_allowed, s->isolation);
}

cJSON *sbx_layers_json(const Sandbox *s) {
    cJSON *j = cJSON_CreateObject();
    cJSON *ns = cJSON_AddArrayToObject(j, "namespaces");
    cJSON *ref = cJSON_AddObjectToObject(j, "refused");
    for (int i = 0; i < SBX_NS_COUNT; i++) {
        if (s->ns_active & (1u << i)) cJSON_AddItemToArray(ns, cJSON_CreateString(ns_names[i]));
        if (s->refused[i][0]) cJSON_AddStringToObject(ref, ns_names[i], s->refused[i]);
    }
    cJSON_AddStringToObject(j, "filesystem", filesystem_layer(s));
    if (!s->private_root) cJSON_AddStringToObject(j, "filesystem_note", s->fs_note);
    cJSON_AddNumberToObject(j, "landlock_abi", s->landlock_abi);
    cJSON_AddStringToObject(j, "runs_as", cred_layer(s));
    if (s->cred_note[0]) cJSON_AddStringToObject(j, "runs_as_note", s->cred_note);
    cJSON_AddNumberToObject(j, "seccomp_syscalls", s->n_allowed);
    cJSON_AddStringToObject(j, "isolation", s->isolation);
    return j;
}
