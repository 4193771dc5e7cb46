// farm_client.c: the client side of the farm: submit a batch of jobs, collect
// their results in submission order by a deadline, resending jobs that stay
// unanswered (a restarted broker forgets what it held). Each job carries a
// tag (its sequence number) so the first result per job wins and late ones
// from an earlier batch are recognised. "local:N" spawns the whole farm as
// child processes over ipc:// in a private temp dir and restarts any of them
// that dies.
//   FarmClient *c = farm_client_new("local:4", NULL, &e);
//   farm_submit(c, jobs, n, &e); farm_collect(c, 600, results, &e);
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/log.h"
#include "verifier/farm/farm_wire.h"

#define FARM_RETRY_S 60.0
#define FARM_MAX_LOCAL 256
#define TEND_S 0.25       // how often a waiting client pings, resends, checks children
#define SILENT_WARN_S 10.0  // warn when the broker has not answered a ping for this long

typedef struct CJob {
    char *data;  // the job message, kept to resend
    size_t len;
    double sent_at;
    int sends;
    cJSON *result;
} CJob;

struct FarmClient {
    FarmClientOptions o;
    void *ctx, *sock;
    CJob *jobs;
    int n, cap;
    uint64_t base;  // tag of jobs[0]
    char broker_run[20];  // the broker run that last answered a ping
    double last_pong;
    FarmStats st;
    // local mode
    int nlocal;
    char *dir, *endpoint;
    pid_t broker, *workers;
    VerifierSet *own_set;
};

// ---------------------------------------------------------------------------
// local mode

// A local farm's processes are the client's business: their routine news
// (bound, joined) stays at debug unless the caller asked for debug.
static void quiet_child(void) {
    if (log_get_level() == LOG_INFO) log_set_level(LOG_WARN);
}

static pid_t spawn_broker(FarmClient *c) {
    pid_t parent = getpid(), pid = fork();
    if (pid != 0) return pid;
    wire_child_setup(parent, -1);
    quiet_child();
    // Plaintext on purpose: the ipc socket lives in a 0700 dir of ours, so
    // only this user reaches it (verifier/README.md, "local:N").
    FarmBrokerOptions bo = {.bind = c->endpoint, .hb = c->o.hb, .insecure = 1};
    Err e = {{0}};
    if (farm_broker_run(&bo, &e) != 0) log_error("farm broker: %s", e.msg);
    _exit(1);
}

static pid_t spawn_worker(FarmClient *c) {
    pid_t parent = getpid(), pid = fork();
    if (pid != 0) return pid;
    wire_child_setup(parent, -1);
    quiet_child();
    FarmWorkerOptions wo = {.connect = c->endpoint,
                            .slots = 1,
                            .verifiers = c->o.verifiers,
                            .job_timeout_s = c->o.job_timeout_s,
                            .insecure = 1,
                            .hb = c->o.hb};
    Err e = {{0}};
    if (farm_worker_run(&wo, &e) != 0) log_error("farm worker: %s", e.msg);
    _exit(1);
}

static int local_start(FarmClient *c, const char *spec, Err *e) {
    char *end;
    long n = strtol(spec, &end, 10);
    if (*end || end == spec || n < 1 || n > FARM_MAX_LOCAL)
        return err_set(e, "farm endpoint 'local:%s': expected local:N with N in 1..%d", spec, FARM_MAX_LOCAL);
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t dn = strlen(tmp) + 32;
    c->dir = xmalloc(dn);
    snprintf(c->dir, dn, "%s/reasoner-farm-XXXXXX", tmp);
    if (!mkdtemp(c->dir)) {
        free(c->dir);
        c->dir = NULL;
        return err_errno(e, "farm: temp dir in %s", tmp);
    }
    c->endpoint = xmalloc(strlen(c->dir) + 16);
    sprintf(c->endpoint, "ipc://%s/farm", c->dir);
    // A unix socket path holds at most 107 bytes; "farm.workers" is the longer.
    if (strlen(c->dir) + 13 > 107) return err_set(e, "farm: temp dir %s: path too long for ipc://", c->dir);
    if (!c->o.verifiers) c->o.verifiers = c->own_set = verifier_set_new();
    c->nlocal = (int)n;
    c->workers = xcalloc((size_t)n, sizeof *c->workers);
    if ((c->broker = spawn_broker(c)) < 0) return err_errno(e, "farm: fork");
    for (int i = 0; i < n; i++)
        if ((c->workers[i] = spawn_worker(c)) < 0) return err_errno(e, "farm: fork");
    log_debug("farm: local farm of %ld workers in %s", n, c->dir);
    return 0;
}

static void local_stop(FarmClient *c) {
    wire_kill_wait(c->broker);
    for (int i = 0; i < c->nlocal; i++) wire_kill_wait(c->workers[i]);
    if (c->dir) {
        char path[256];
        snprintf(path, sizeof path, "%s/farm", c->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/farm.workers", c->dir);
        unlink(path);
        if (rmdir(c->dir) != 0) log_warn("farm: cannot remove %s: %s", c->dir, strerror(errno));
    }
}

static int exited(pid_t pid) {
    int st;
    return pid > 0 && waitpid(pid, &st, WNOHANG) == pid;
}

// Restart what died. (The new broker's first pong makes the batch go again.)
static void local_check(FarmClient *c) {
    if (exited(c->broker)) {
        log_warn("farm: local broker died; restarting it");
        c->broker = spawn_broker(c);
        c->st.respawned++;
        snprintf(c->broker_run, sizeof c->broker_run, "dead");  // whatever answers next is new
    }
    for (int i = 0; i < c->nlocal; i++)
        if (exited(c->workers[i])) {
            log_warn("farm: local worker %d died; restarting it", i);
            c->workers[i] = spawn_worker(c);
            c->st.respawned++;
        }
}

// ---------------------------------------------------------------------------
// client

FarmClient *farm_client_new(const char *endpoint, const FarmClientOptions *o, Err *e) {
    FarmClient *c = xcalloc(1, sizeof *c);
    if (o) c->o = *o;
    c->o.hb = farm_hb_defaults(c->o.hb);
    if (c->o.retry_s <= 0) c->o.retry_s = FARM_RETRY_S;
    // Callers without key flags (eval, the RL loop) reach a CURVE farm
    // through the environment.
    if (!c->o.server_key_file && getenv("REASONER_FARM_SERVER_KEY") && *getenv("REASONER_FARM_SERVER_KEY"))
        c->o.server_key_file = getenv("REASONER_FARM_SERVER_KEY");
    if (!c->o.key_file && getenv("REASONER_FARM_KEY") && *getenv("REASONER_FARM_KEY"))
        c->o.key_file = getenv("REASONER_FARM_KEY");
    c->broker = -1;
    int rc = 0;
    if (strncmp(endpoint, "local:", 6) == 0) {
        rc = local_start(c, endpoint + 6, e);
    } else {
        char *wep = farm_worker_endpoint(endpoint, e);
        rc = wep ? 0 : -1;
        free(wep);
        c->endpoint = xstrdup(endpoint);
    }
    if (rc == 0) {
        c->ctx = zmq_ctx_new();
        if (!(c->sock = wire_socket(c->ctx, ZMQ_DEALER, e))) rc = -1;
    }
    if (rc == 0 && !c->nlocal) rc = wire_curve_client(c->sock, c->o.server_key_file, c->o.key_file, e);
    if (rc == 0 && zmq_connect(c->sock, c->endpoint) != 0)
        rc = err_set(e, "farm: connect %s: %s", c->endpoint, zmq_strerror(zmq_errno()));
    if (rc) {
        farm_client_free(c);
        return NULL;
    }
    return c;
}

void farm_client_free(FarmClient *c) {
    if (!c) return;
    if (c->sock) zmq_close(c->sock);
    if (c->ctx) zmq_ctx_term(c->ctx);
    local_stop(c);
    for (int i = 0; i < c->n; i++) {
        free(c->jobs[i].data);
        cJSON_Delete(c->jobs[i].result);
    }
    free(c->jobs);
    free(c->workers);
    free(c->dir);
    free(c->endpoint);
    verifier_set_free(c->own_set);
    free(c);
}

static int send_job(FarmClient *c, int i, Err *e) {
    char tag[24];
    snprintf(tag, sizeof tag, "%" PRIu64, c->base + (uint64_t)i);
    WirePart m[] = {WIRE_STR("JOB"), WIRE_STR(tag), {NULL, c->jobs[i].data, c->jobs[i].len}};
    // EAGAIN (no connection yet to queue on) leaves the job to retry_stale.
    if (wire_send(c->sock, m, 3) != 0 && errno != EAGAIN) return err_set(e, "farm: send: %s", zmq_strerror(errno));
    c->jobs[i].sent_at = rs_now();
    c->jobs[i].sends++;
    return 0;
}

static void resend_all(FarmClient *c) {
    for (int i = 0; i < c->n; i++)
        if (!c->jobs[i].result && send_job(c, i, NULL) == 0) c->st.resent++;
}

// Take ownership of data (malloc'd) as the next job of the batch and send it.
static int push_job(FarmClient *c, char *data, size_t len, Err *e) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->jobs = xrealloc(c->jobs, (size_t)c->cap * sizeof *c->jobs);
    }
    c->jobs[c->n] = (CJob){.data = data, .len = len};
    c->n++;
    c->st.submitted++;
    return send_job(c, c->n - 1, e);
}

int farm_submit(FarmClient *c, cJSON *const *jobs, int n, Err *e) {
    for (int i = 0; i < n; i++) {
        char *text = cJSON_PrintUnformatted(jobs[i]);
        RS_CHECK(text);
        if (push_job(c, text, strlen(text), e) != 0) return -1;
    }
    return 0;
}

int farm_submit_raw(FarmClient *c, const void *data, size_t n, Err *e) {
    char *copy = xmalloc(n + 1);
    memcpy(copy, data, n);
    copy[n] = 0;
    return push_job(c, copy, n, e);
}

int farm_pending(const FarmClient *c) { return c->n; }
FarmStats farm_client_stats(const FarmClient *c) { return c->st; }

int farm_client_pids(const FarmClient *c, pid_t *pids, int max) {
    int k = 0;
    if (c->nlocal && k < max) pids[k++] = c->broker;
    for (int i = 0; i < c->nlocal && k < max; i++) pids[k++] = c->workers[i];
    return k;
}

// One RESULT message: store it under its job, unless that job has one.
// Returns 1 when a job got its first result.
static int on_result(FarmClient *c, zmq_msg_t *f, int n) {
    if (n != 3 || !wire_is(&f[0], "RESULT")) return 0;
    char tag[24] = {0};
    memcpy(tag, zmq_msg_data(&f[1]), RS_MIN(zmq_msg_size(&f[1]), sizeof tag - 1));
    char *end;
    uint64_t t = strtoull(tag, &end, 10);
    if (*end || t < c->base || t - c->base >= (uint64_t)c->n) {
        c->st.late += t < c->base;
        return 0;
    }
    CJob *j = &c->jobs[t - c->base];
    if (j->result) {
        c->st.duplicates++;
        return 0;
    }
    j->result = cJSON_ParseWithLength(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
    if (!cJSON_IsObject(j->result)) {
        cJSON_Delete(j->result);
        j->result = farm_error_result(NULL, "farm: a worker sent an unreadable result");
    }
    c->st.results++;
    return 1;
}

// Resend what stays unanswered, backing off (retry_s, then twice that, ...)
// so that a long queue on a live broker is not sent over and over.
static void retry_stale(FarmClient *c, double now) {
    for (int i = 0; i < c->n; i++) {
        CJob *j = &c->jobs[i];
        double wait = c->o.retry_s * (double)(1 << RS_MIN(j->sends - 1, 10));
        if (!j->result && now - j->sent_at > wait && send_job(c, i, NULL) == 0) c->st.resent++;
    }
}

static void ping(FarmClient *c) {
    WirePart m[] = {WIRE_STR("PING")};
    wire_send(c->sock, m, 1);
}

static void on_pong(FarmClient *c, zmq_msg_t *f, int n) {
    if (n != 2) return;
    char id[20] = {0};
    memcpy(id, zmq_msg_data(&f[1]), RS_MIN(zmq_msg_size(&f[1]), sizeof id - 1));
    c->last_pong = rs_now();
    if (c->broker_run[0] && strcmp(id, c->broker_run) != 0) {
        log_warn("farm: the broker restarted; resending the jobs still unanswered");
        resend_all(c);
    }
    memcpy(c->broker_run, id, sizeof id);
}

static int on_message(FarmClient *c, zmq_msg_t *f, int n) {
    if (n >= 1 && wire_is(&f[0], "PONG")) {
        on_pong(c, f, n);
        return 0;
    }
    return on_result(c, f, n);
}

// What a waiting client does every TEND_S: restart dead local processes,
// ping the broker, resend stale jobs, and say once when the broker is silent.
static void tend(FarmClient *c, double now, double t0, int *warned) {
    if (c->nlocal) local_check(c);
    ping(c);
    retry_stale(c, now);
    double silent = now - RS_MAX(c->last_pong, t0);
    if (!*warned && silent > SILENT_WARN_S) {
        log_warn("farm: no answer from the broker at %s for %.0f s (is it running? are the keys right?)", c->endpoint,
                 silent);
        *warned = 1;
    }
}

// Jobs without a result by the deadline get an error result. Returns how many.
static int expire_rest(FarmClient *c, double timeout_s) {
    int expired = 0;
    for (int i = 0; i < c->n; i++) {
        CJob *j = &c->jobs[i];
        if (j->result) continue;
        cJSON *job = cJSON_ParseWithLength(j->data, j->len);
        char *id = farm_job_id(job);
        cJSON_Delete(job);
        j->result = farm_error_result(id, "farm: no result within %.0f s", timeout_s);
        free(id);
        expired++;
    }
    c->st.expired += expired;
    return expired;
}

int farm_collect(FarmClient *c, double timeout_s, cJSON **results, Err *e) {
    double t0 = rs_now(), deadline = t0 + timeout_s, next_tend = t0;
    int left = 0, rc = 0, warned = 0;
    for (int i = 0; i < c->n; i++) left += !c->jobs[i].result;
    while (left > 0) {
        double now = rs_now();
        if (now >= deadline) break;
        if (now >= next_tend) {
            tend(c, now, t0, &warned);
            next_tend = now + TEND_S;
        }
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        long wait_ms = (long)(1e3 * (RS_MIN(deadline, next_tend) - now)) + 1;
        if (zmq_poll(&item, 1, wait_ms) < 0 && zmq_errno() != EINTR) {
            rc = err_set(e, "farm: poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        zmq_msg_t f[4];
        int n;
        while (left > 0 && (n = wire_recv(c->sock, f, 4, ZMQ_DONTWAIT)) > 0) {
            left -= on_message(c, f, n);
            wire_close(f, RS_MIN(n, 4));
        }
    }
    int expired = rc == 0 ? expire_rest(c, timeout_s) : 0;
    for (int i = 0; i < c->n; i++) {
        if (rc == 0) results[i] = c->jobs[i].result;
        else cJSON_Delete(c->jobs[i].result);
        free(c->jobs[i].data);
    }
    c->base += (uint64_t)c->n;
    c->n = 0;
    return rc ? -1 : expired;
}
