// farm_worker.c: a farm worker. The main process speaks ZeroMQ to the
// broker (jobs in, results out, heartbeats) and hands each job to one of N
// pre-forked slot processes over a socketpair. A slot grades one job at a
// time (farm_grade_text: parse, validate, run the verifier; code verifiers
// then run the program in the sandbox). Why processes and not threads: the
// math verifier parses model output in-process, and a bug there (a crash, a
// runaway loop) must cost one job, not the worker; a pre-forked slot costs a
// socketpair round trip per job (microseconds) instead of a fork per job.
// A slot that dies is answered with an "error" result and restarted; one that
// grades longer than job_timeout_s is killed the same way.
//   reasoner farm worker --connect tcp://127.0.0.1:5555 --slots 8
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/log.h"
#include "verifier/farm/farm_wire.h"

#define FARM_JOB_TIMEOUT_S 300.0
#define FARM_MAX_SLOTS 1024

typedef struct WJob {
    zmq_msg_t tag, payload;  // tag: the broker's wtag for this hand-out
    struct WJob *next;
} WJob;

typedef struct Slot {
    pid_t pid;  // -1 when down (fork failed; retried)
    int fd;     // the worker's end of the socketpair
    WJob *job;  // being graded, or NULL
    double started;
} Slot;

typedef struct Worker {
    const FarmWorkerOptions *o;
    FarmHeartbeat hb;
    double job_timeout_s;
    pid_t self;
    void *ctx, *sock;
    char *endpoint;
    unsigned incarnation;
    double last_broker;
    Slot *slots;
    int nslots, prefetch;
    WJob *qhead, *qtail;
} Worker;

// ---------------------------------------------------------------------------
// slot processes: length-prefixed frames over a socketpair

static int fd_write_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p = (const char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}

// 1 when all n bytes were read, 0 at end of file before any, -1 otherwise.
static int fd_read_all(int fd, void *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return got == 0 && k == 0 ? 0 : -1;
        got += (size_t)k;
    }
    return 1;
}

static int frame_write(int fd, const void *data, size_t n) {
    uint64_t len = n;
    return fd_write_all(fd, &len, sizeof len) || fd_write_all(fd, data, n) ? -1 : 0;
}

// A frame into *out (malloc'd, NUL-terminated): 1, or 0 at end, -1 on error.
static int frame_read(int fd, char **out, size_t *n) {
    uint64_t len;
    int rc = fd_read_all(fd, &len, sizeof len);
    if (rc <= 0) return rc;
    if (len > (uint64_t)FARM_MAX_FRAME) return -1;
    *out = xmalloc(len + 1);
    (*out)[len] = 0;
    *n = len;
    if (fd_read_all(fd, *out, len) == 1) return 1;
    free(*out);
    return -1;
}

static _Noreturn void slot_main(const VerifierSet *vs, int fd) {
    for (;;) {
        char *job;
        size_t n;
        if (frame_read(fd, &job, &n) != 1) _exit(0);
        cJSON *r = farm_grade_text(vs, job, n);
        free(job);
        char *text = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        int rc = frame_write(fd, text, strlen(text));
        free(text);
        if (rc) _exit(0);
    }
}

static int slot_start(Worker *w, Slot *s) {
    int sv[2];
    s->pid = -1;
    s->fd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        wire_child_setup(w->self, sv[1]);
        slot_main(w->o->verifiers, sv[1]);
    }
    close(sv[1]);
    s->pid = pid;
    s->fd = sv[0];
    return 0;
}

static void slot_stop(Slot *s) {
    if (s->fd >= 0) close(s->fd);
    wire_kill_wait(s->pid);
    s->fd = -1;
    s->pid = -1;
}

// ---------------------------------------------------------------------------
// jobs

static void wjob_free(WJob *j) {
    if (!j) return;
    zmq_msg_close(&j->tag);
    zmq_msg_close(&j->payload);
    free(j);
}

static void send_result(Worker *w, WJob *j, const char *text) {
    WirePart out[] = {WIRE_STR("RESULT"), WIRE_MSG(&j->tag), WIRE_STR(text)};
    if (wire_send(w->sock, out, 3) != 0) log_warn("farm worker: result not sent: %s", zmq_strerror(errno));
}

// The job in slot s failed without a result (crash, timeout): answer it with
// an error naming what happened, and restart the slot.
static void slot_fail(Worker *w, Slot *s, const char *what) {
    WJob *j = s->job;
    cJSON *job = cJSON_ParseWithLength(zmq_msg_data(&j->payload), zmq_msg_size(&j->payload));
    char *id = farm_job_id(job);
    cJSON_Delete(job);
    cJSON *r = farm_error_result(id, "%s after %.1f s grading this job; its slot was restarted", what,
                                 rs_now() - s->started);
    char *text = cJSON_PrintUnformatted(r);
    log_warn("farm worker: job %s: %s", id ? id : "(no id)", what);
    send_result(w, j, text);
    free(text);
    cJSON_Delete(r);
    free(id);
    wjob_free(j);
    s->job = NULL;
    slot_stop(s);
    if (slot_start(w, s) != 0) log_error("farm worker: cannot restart a slot: %s", strerror(errno));
}

static void on_slot_readable(Worker *w, Slot *s) {
    char *text;
    size_t n;
    if (frame_read(s->fd, &text, &n) != 1) {
        // The slot is gone; reap it to say why.
        int st = 0;
        close(s->fd);
        s->fd = -1;
        while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
        }
        s->pid = -1;
        char what[96];
        if (WIFSIGNALED(st)) snprintf(what, sizeof what, "verifier crashed (signal %d, %s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        else snprintf(what, sizeof what, "verifier exited with status %d", WEXITSTATUS(st));
        if (s->job) slot_fail(w, s, what);
        else if (slot_start(w, s) != 0) log_error("farm worker: cannot restart a slot: %s", strerror(errno));
        return;
    }
    if (s->job) send_result(w, s->job, text);
    free(text);
    wjob_free(s->job);
    s->job = NULL;
}

static void assign_jobs(Worker *w) {
    for (int i = 0; i < w->nslots && w->qhead; i++) {
        Slot *s = &w->slots[i];
        if (s->pid < 0 && slot_start(w, s) != 0) continue;
        if (s->job) continue;
        WJob *j = w->qhead;
        w->qhead = j->next;
        if (!w->qhead) w->qtail = NULL;
        s->job = j;
        s->started = rs_now();
        if (frame_write(s->fd, zmq_msg_data(&j->payload), zmq_msg_size(&j->payload)) != 0)
            slot_fail(w, s, "verifier slot died before taking the job");
    }
}

static void check_deadlines(Worker *w, double now) {
    for (int i = 0; i < w->nslots; i++) {
        Slot *s = &w->slots[i];
        if (s->job && now - s->started > w->job_timeout_s) {
            char what[96];
            snprintf(what, sizeof what, "grading exceeded the worker's job timeout of %g s", w->job_timeout_s);
            slot_fail(w, s, what);
        }
    }
}

// ---------------------------------------------------------------------------
// the broker connection

static void drop_queue(Worker *w) {
    while (w->qhead) {
        WJob *j = w->qhead;
        w->qhead = j->next;
        wjob_free(j);
    }
    w->qtail = NULL;
}

static void send_ready(Worker *w) {
    char slots[16], prefetch[16];
    snprintf(slots, sizeof slots, "%d", w->nslots);
    snprintf(prefetch, sizeof prefetch, "%d", w->prefetch);
    WirePart ready[] = {WIRE_STR("READY"), WIRE_STR(slots), WIRE_STR(prefetch)};
    wire_send(w->sock, ready, 3);
}

static int connect_broker(Worker *w, Err *e) {
    if (w->sock) zmq_close(w->sock);
    if (!(w->sock = wire_socket(w->ctx, ZMQ_DEALER, e))) return -1;
    char id[128], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(id, sizeof id, "w-%s-%d-%u", host, (int)w->self, ++w->incarnation);
    RS_CHECK(zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, id, strlen(id)) == 0);
    if (wire_curve_client(w->sock, w->o->server_key_file, w->o->key_file, e)) return -1;
    if (zmq_connect(w->sock, w->endpoint) != 0)
        return err_set(e, "farm worker: connect %s: %s", w->endpoint, zmq_strerror(zmq_errno()));
    w->last_broker = rs_now();
    send_ready(w);
    return 0;
}

static void on_broker(Worker *w, zmq_msg_t *f, int n) {
    w->last_broker = rs_now();
    if (n == 3 && wire_is(&f[0], "JOB")) {
        WJob *j = xcalloc(1, sizeof *j);
        zmq_msg_init(&j->tag);
        zmq_msg_init(&j->payload);
        zmq_msg_move(&j->tag, &f[1]);
        zmq_msg_move(&j->payload, &f[2]);
        if (w->qtail) w->qtail->next = j;
        else w->qhead = j;
        w->qtail = j;
    } else if (n == 1 && wire_is(&f[0], "RESET")) {
        // The broker dropped us and requeued our jobs; what we hold is stale.
        drop_queue(w);
        send_ready(w);
    }
}

static long poll_wait_ms(Worker *w, double now, double next_hb) {
    double until = next_hb;
    for (int i = 0; i < w->nslots; i++) {
        if (w->slots[i].job) until = RS_MIN(until, w->slots[i].started + w->job_timeout_s);
        if (w->slots[i].pid < 0) until = RS_MIN(until, now + 0.1);  // a slot restart to retry
    }
    return RS_MAX(0, (long)(1e3 * (until - now)) + 1);
}

static int worker_loop(Worker *w, Err *e) {
    zmq_pollitem_t *items = xcalloc((size_t)w->nslots + 1, sizeof *items);
    double next_hb = rs_now();
    int rc = 0;
    while (!(w->o->stop && *w->o->stop)) {
        double now = rs_now();
        if (now >= next_hb) {
            WirePart hb[] = {WIRE_STR("HB")};
            wire_send(w->sock, hb, 1);
            next_hb = now + w->hb.interval_s;
        }
        if (now - w->last_broker > w->hb.timeout_s) {
            log_warn("farm worker: no word from the broker for %.1f s; reconnecting", now - w->last_broker);
            drop_queue(w);
            if ((rc = connect_broker(w, e)) != 0) break;
        }
        items[0] = (zmq_pollitem_t){w->sock, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < w->nslots; i++) items[i + 1] = (zmq_pollitem_t){NULL, w->slots[i].fd, ZMQ_POLLIN, 0};
        if (zmq_poll(items, w->nslots + 1, poll_wait_ms(w, now, next_hb)) < 0 && zmq_errno() != EINTR) {
            rc = err_set(e, "farm worker: poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        for (int i = 0; i < w->nslots; i++)
            if (w->slots[i].fd >= 0 && (items[i + 1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) on_slot_readable(w, &w->slots[i]);
        zmq_msg_t f[FARM_MAX_FRAMES];
        int n;
        while ((items[0].revents & ZMQ_POLLIN) && (n = wire_recv(w->sock, f, FARM_MAX_FRAMES, ZMQ_DONTWAIT)) > 0) {
            if (n <= FARM_MAX_FRAMES) on_broker(w, f, n);
            wire_close(f, RS_MIN(n, FARM_MAX_FRAMES));
        }
        check_deadlines(w, rs_now());
        assign_jobs(w);
    }
    free(items);
    return rc;
}

int farm_worker_run(const FarmWorkerOptions *o, Err *e) {
    Worker w = {.o = o, .hb = farm_hb_defaults(o->hb), .self = getpid()};
    w.job_timeout_s = o->job_timeout_s > 0 ? o->job_timeout_s : FARM_JOB_TIMEOUT_S;
    w.nslots = o->slots > 0 ? o->slots : 1;
    w.prefetch = o->prefetch > 0 ? o->prefetch : o->prefetch < 0 ? 0 : w.nslots;
    if (w.nslots > FARM_MAX_SLOTS || w.prefetch > FARM_MAX_SLOTS)
        return err_set(e, "farm worker: %d slots, prefetch %d: at most %d each", w.nslots, w.prefetch, FARM_MAX_SLOTS);
    RS_CHECK(o->verifiers);
    if (!o->insecure && (!o->server_key_file || !o->key_file))
        return err_set(e, "farm worker: CURVE is required: give the broker's public key (--server-key FILE.pub) and "
                          "this worker's keypair on the broker's list (--key FILE, from `reasoner farm keygen`), "
                          "or --insecure for a plaintext farm");
    if (!(w.endpoint = farm_worker_endpoint(o->connect, e))) return -1;
    // Slots are forked before the ZeroMQ context has threads.
    w.slots = xcalloc((size_t)w.nslots, sizeof *w.slots);
    int rc = 0;
    for (int i = 0; i < w.nslots && rc == 0; i++)
        if (slot_start(&w, &w.slots[i]) != 0) rc = err_errno(e, "farm worker: starting slot %d", i);
    w.ctx = zmq_ctx_new();
    if (rc == 0) rc = connect_broker(&w, e);
    if (rc == 0) {
        log_info("farm worker: %d slots, broker %s", w.nslots, w.endpoint);
        rc = worker_loop(&w, e);
        // Say BYE so the broker requeues our jobs now, not after a timeout.
        WirePart bye[] = {WIRE_STR("BYE")};
        int linger_ms = 1000;
        zmq_setsockopt(w.sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        wire_send(w.sock, bye, 1);
    }
    for (int i = 0; i < w.nslots; i++) {
        slot_stop(&w.slots[i]);
        wjob_free(w.slots[i].job);
    }
    drop_queue(&w);
    free(w.slots);
    if (w.sock) zmq_close(w.sock);
    zmq_ctx_term(w.ctx);
    free(w.endpoint);
    return rc;
}
