// farm_broker.c: the farm's broker. Clients and workers each talk to their
// own ROUTER; every job is held, keyed by (client, tag), from submission until
// its first result is forwarded, so a worker's death only sends its jobs back
// to the front of the queue. Workers announce their slots and how many jobs
// they will hold queued beyond them (prefetch, so that a slot never idles for
// a broker round trip); a job goes to the least recently used worker with a
// free slot, else to the one with the shortest queue. Heartbeats run both ways: a
// worker that goes silent for hb.timeout_s, or whose connection is gone (an
// unroutable heartbeat), is dropped and its jobs requeued.
//   reasoner farm broker --bind tcp://127.0.0.1:5555
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/log.h"
#include "verifier/farm/farm_wire.h"

typedef struct BWorker {
    zmq_msg_t id;  // routing id on the worker ROUTER
    char name[64];  // printable, for logs
    int slots, prefetch, inflight;
    double last_seen, last_dispatch;
} BWorker;

#define WTAG_LEN 16

typedef struct BJob {
    char *key;  // [len(client)] client tag: unique per job
    size_t keylen;
    zmq_msg_t client, tag, payload;
    BWorker *worker;  // NULL while queued
    uint8_t wtag[WTAG_LEN];  // while with a worker: the random tag of this hand-out
    struct BJob *hnext;  // hash chain
    struct BJob *wnext;  // chain in the wtag table while with a worker
    struct BJob *qprev, *qnext;  // queue links while queued
} BJob;

typedef struct Broker {
    FarmHeartbeat hb;
    char instance[20];  // random per run: clients see a restart and resend
    void *ctx, *front, *back, *zap;
    BJob **buckets;
    size_t nbuckets, njobs;
    BJob **wbuckets;  // jobs with a worker, by wtag (WTAG_BUCKETS chains)
    uint8_t pool[4096];  // random bytes for wtags, refilled by getrandom
    size_t pool_used;
    BJob *qhead, *qtail;
    BWorker **w;
    int nw, capw;
    uint8_t (*keys)[32];  // authorized public keys of clients (binary), when a list is given
    int nkeys;
    uint8_t (*wkeys)[32];  // of workers: its own list, or the same as keys
    int nwkeys;
    long requeued, dropped, forged;
} Broker;

#define WTAG_BUCKETS 4096

// ---------------------------------------------------------------------------
// job table and queue

static size_t bucket_of(const Broker *b, const char *key, size_t n) {
    return (size_t)(XXH64(key, n, 0) & (b->nbuckets - 1));
}

static BJob **job_slot(Broker *b, const char *key, size_t n) {
    BJob **p = &b->buckets[bucket_of(b, key, n)];
    while (*p && !((*p)->keylen == n && memcmp((*p)->key, key, n) == 0)) p = &(*p)->hnext;
    return p;
}

static void table_grow(Broker *b) {
    size_t old = b->nbuckets;
    BJob **ob = b->buckets;
    b->nbuckets = old ? 2 * old : 1024;
    b->buckets = xcalloc(b->nbuckets, sizeof *b->buckets);
    for (size_t i = 0; i < old; i++)
        for (BJob *j = ob[i], *next; j; j = next) {
            next = j->hnext;
            size_t h = bucket_of(b, j->key, j->keylen);
            j->hnext = b->buckets[h];
            b->buckets[h] = j;
        }
    free(ob);
}

static char *make_key(zmq_msg_t *client, zmq_msg_t *tag, size_t *n) {
    size_t cn = zmq_msg_size(client), tn = zmq_msg_size(tag);
    char *k = xmalloc(1 + cn + tn);
    k[0] = (char)cn;
    memcpy(k + 1, zmq_msg_data(client), cn);
    memcpy(k + 1 + cn, zmq_msg_data(tag), tn);
    *n = 1 + cn + tn;
    return k;
}

static void queue_unlink(Broker *b, BJob *j) {
    if (j->qprev) j->qprev->qnext = j->qnext;
    else b->qhead = j->qnext;
    if (j->qnext) j->qnext->qprev = j->qprev;
    else b->qtail = j->qprev;
    j->qprev = j->qnext = NULL;
}

static void queue_push(Broker *b, BJob *j, int front) {
    j->worker = NULL;
    if (front) {
        j->qnext = b->qhead;
        if (b->qhead) b->qhead->qprev = j;
        else b->qtail = j;
        b->qhead = j;
    } else {
        j->qprev = b->qtail;
        if (b->qtail) b->qtail->qnext = j;
        else b->qhead = j;
        b->qtail = j;
    }
}

// ---------------------------------------------------------------------------
// wtags: which worker holds a job, under which random tag

static BJob **wtag_slot(Broker *b, const uint8_t *tag) {
    uint64_t h;
    memcpy(&h, tag, sizeof h);  // random already
    BJob **p = &b->wbuckets[h & (WTAG_BUCKETS - 1)];
    while (*p && memcmp((*p)->wtag, tag, WTAG_LEN) != 0) p = &(*p)->wnext;
    return p;
}

static void wtag_remove(Broker *b, BJob *j) {
    BJob **p = wtag_slot(b, j->wtag);
    if (*p == j) *p = j->wnext;
    j->wnext = NULL;
}

// A fresh tag for a hand-out. -1 when the kernel gives no randomness.
static int wtag_draw(Broker *b, uint8_t *tag) {
    if (b->pool_used + WTAG_LEN > sizeof b->pool) {
        if (getrandom(b->pool, sizeof b->pool, 0) != (ssize_t)sizeof b->pool) return -1;
        b->pool_used = 0;
    }
    memcpy(tag, b->pool + b->pool_used, WTAG_LEN);
    memset(b->pool + b->pool_used, 0, WTAG_LEN);
    b->pool_used += WTAG_LEN;
    return 0;
}

static void job_free(BJob *j) {
    zmq_msg_close(&j->client);
    zmq_msg_close(&j->tag);
    zmq_msg_close(&j->payload);
    free(j->key);
    free(j);
}

// ---------------------------------------------------------------------------
// workers

static BWorker *worker_find(Broker *b, zmq_msg_t *id) {
    for (int i = 0; i < b->nw; i++)
        if (zmq_msg_size(&b->w[i]->id) == zmq_msg_size(id) &&
            memcmp(zmq_msg_data(&b->w[i]->id), zmq_msg_data(id), zmq_msg_size(id)) == 0)
            return b->w[i];
    return NULL;
}

static BWorker *worker_add(Broker *b, zmq_msg_t *id, int slots, int prefetch, double now) {
    BWorker *w = xcalloc(1, sizeof *w);
    zmq_msg_init(&w->id);
    RS_CHECK(zmq_msg_copy(&w->id, id) == 0);
    size_t n = RS_MIN(zmq_msg_size(id), sizeof w->name - 1);
    const char *s = zmq_msg_data(id);
    for (size_t i = 0; i < n; i++) w->name[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
    w->slots = slots;
    w->prefetch = prefetch;
    w->last_seen = now;
    if (b->nw == b->capw) {
        b->capw = b->capw ? 2 * b->capw : 8;
        b->w = xrealloc(b->w, (size_t)b->capw * sizeof *b->w);
    }
    b->w[b->nw++] = w;
    log_info("farm broker: worker %s joined with %d slots, prefetch %d (%d workers)", w->name, slots, prefetch, b->nw);
    return w;
}

// Drop a worker and put its jobs back at the front of the queue.
static void worker_drop(Broker *b, BWorker *w, const char *why) {
    int n = 0;
    for (size_t i = 0; i < b->nbuckets; i++)
        for (BJob *j = b->buckets[i]; j; j = j->hnext)
            if (j->worker == w) {
                wtag_remove(b, j);  // its answer, should it come, is now nobody's
                queue_push(b, j, 1);
                n++;
            }
    b->requeued += n;
    log_msg(n ? LOG_WARN : LOG_INFO, "farm broker: worker %s %s; requeued %d jobs", w->name, why, n);
    for (int i = 0; i < b->nw; i++)
        if (b->w[i] == w) b->w[i] = b->w[--b->nw];
    zmq_msg_close(&w->id);
    free(w);
}

// ---------------------------------------------------------------------------
// messages

static void on_client(Broker *b, zmq_msg_t *f, int n) {
    if (n == 2 && wire_is(&f[1], "PING")) {
        WirePart pong[] = {WIRE_MSG(&f[0]), WIRE_STR("PONG"), WIRE_STR(b->instance)};
        wire_send(b->front, pong, 3);
        return;
    }
    if (n != 4 || !wire_is(&f[1], "JOB") || zmq_msg_size(&f[2]) == 0 || zmq_msg_size(&f[2]) > 64) {
        b->dropped++;
        log_debug("farm broker: dropped a malformed client message (%d frames)", n);
        return;
    }
    size_t kn;
    char *key = make_key(&f[0], &f[2], &kn);
    BJob **slot = job_slot(b, key, kn);
    if (*slot) {  // a client's retry of a job still here: it will get its result
        free(key);
        return;
    }
    BJob *j = xcalloc(1, sizeof *j);
    j->key = key;
    j->keylen = kn;
    zmq_msg_init(&j->client);
    zmq_msg_init(&j->tag);
    zmq_msg_init(&j->payload);
    zmq_msg_move(&j->client, &f[0]);
    zmq_msg_move(&j->tag, &f[2]);
    zmq_msg_move(&j->payload, &f[3]);
    *slot = j;
    b->njobs++;
    queue_push(b, j, 0);
    if (b->njobs > 2 * b->nbuckets) table_grow(b);
}

// A result goes to its client only when it comes from the worker the job
// was handed to, under that hand-out's tag, the first time; anything else
// is dropped (and counted: a worker answering for jobs it was not given is
// broken or hostile).
static void on_result(Broker *b, BWorker *w, zmq_msg_t *f) {
    BJob *j = NULL;
    if (zmq_msg_size(&f[2]) == WTAG_LEN) j = *wtag_slot(b, zmq_msg_data(&f[2]));
    if (!j || !w || j->worker != w) {
        b->forged++;
        log_warn("farm broker: dropped a result from %s for a job it does not hold (%ld so far)", w ? w->name : "an unknown worker",
                 b->forged);
        return;
    }
    WirePart out[] = {WIRE_MSG(&j->client), WIRE_STR("RESULT"), WIRE_MSG(&j->tag), WIRE_MSG(&f[3])};
    if (wire_send(b->front, out, 4) != 0)
        log_debug("farm broker: client gone, result dropped: %s", zmq_strerror(errno));
    w->inflight--;
    wtag_remove(b, j);
    BJob **slot = job_slot(b, j->key, j->keylen);
    RS_CHECK(*slot == j);
    *slot = j->hnext;
    b->njobs--;
    job_free(j);
}

static int frame_int(zmq_msg_t *f) {
    char tmp[16] = {0};
    if (zmq_msg_size(f) >= sizeof tmp) return -1;
    memcpy(tmp, zmq_msg_data(f), zmq_msg_size(f));
    char *end;
    long v = strtol(tmp, &end, 10);
    return *end || end == tmp ? -1 : (int)v;
}

static void on_worker(Broker *b, zmq_msg_t *f, int n, double now) {
    if (n < 2) return;
    BWorker *w = worker_find(b, &f[0]);
    if (w) w->last_seen = now;
    if (wire_is(&f[1], "READY") && n == 4) {
        int slots = frame_int(&f[2]), prefetch = frame_int(&f[3]);
        if (slots < 1 || slots > 4096 || prefetch < 0 || prefetch > 4096) return;
        if (!w) w = worker_add(b, &f[0], slots, prefetch, now);
        w->slots = slots;
        w->prefetch = prefetch;
        return;
    }
    if (wire_is(&f[1], "RESULT") && n == 4) on_result(b, w, f);
    else if (wire_is(&f[1], "BYE") && w) {
        worker_drop(b, w, "left");
        return;
    }
    // A worker we dropped (silent too long) is alive after all: it must
    // announce its slots again before it gets work.
    if (!w) {
        WirePart reset[] = {WIRE_MSG(&f[0]), WIRE_STR("RESET")};
        wire_send(b->back, reset, 2);
    }
}

// A free slot first (least recently used worker), else the shortest queue.
static BWorker *pick_worker(Broker *b) {
    BWorker *best = NULL;
    int best_queued = 0;
    for (int i = 0; i < b->nw; i++) {
        BWorker *w = b->w[i];
        int queued = w->inflight - w->slots;  // negative: free slots
        if (w->inflight >= w->slots + w->prefetch) continue;
        if (queued < 0) queued = -1;
        if (!best || queued < best_queued || (queued == best_queued && w->last_dispatch < best->last_dispatch)) {
            best = w;
            best_queued = queued;
        }
    }
    return best;
}

static void dispatch(Broker *b, double now) {
    BWorker *w;
    while (b->qhead && (w = pick_worker(b))) {
        BJob *j = b->qhead;
        if (wtag_draw(b, j->wtag) != 0) {
            log_error("farm broker: getrandom failed: %s; no job handed out", strerror(errno));
            return;
        }
        WirePart out[] = {WIRE_MSG(&w->id), WIRE_STR("JOB"), {NULL, j->wtag, WTAG_LEN}, WIRE_MSG(&j->payload)};
        if (wire_send(b->back, out, 4) != 0) {
            worker_drop(b, w, "disconnected");
            continue;
        }
        queue_unlink(b, j);
        BJob **ws = wtag_slot(b, j->wtag);
        RS_CHECK(*ws == NULL);  // 128 random bits do not collide
        *ws = j;
        j->worker = w;
        w->inflight++;
        w->last_dispatch = now;
    }
}

static void heartbeat(Broker *b, double now) {
    for (int i = b->nw - 1; i >= 0; i--) {
        BWorker *w = b->w[i];
        WirePart hb[] = {WIRE_MSG(&w->id), WIRE_STR("HB")};
        if (now - w->last_seen > b->hb.timeout_s) worker_drop(b, w, "missed heartbeats");
        else if (wire_send(b->back, hb, 2) != 0) worker_drop(b, w, "disconnected");
    }
}

// ---------------------------------------------------------------------------
// CURVE authorization (ZAP, RFC 27): only listed public keys may connect.

static int load_keys(uint8_t (**keys)[32], int *nkeys, const char *path, Err *e) {
    FILE *fp = fopen(path, "r");
    if (!fp) return err_errno(e, "%s", path);
    char line[256];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        // One key a line, then anything (a comment); '#' lines are comments,
        // but '#' is also a Z85 digit, so a 40-character first word is a key.
        char *s = line + strspn(line, " \t");
        s[strcspn(s, " \t\r\n")] = 0;
        if (!*s || (s[0] == '#' && strlen(s) != 40)) continue;
        *keys = xrealloc(*keys, (size_t)(*nkeys + 1) * sizeof **keys);
        if (strlen(s) != 40 || !zmq_z85_decode((*keys)[*nkeys], s))
            rc = err_set(e, "%s:%d: expected a 40-character Z85 public key", path, lineno);
        else (*nkeys)++;
    }
    fclose(fp);
    if (rc == 0 && *nkeys == 0) rc = err_set(e, "%s: no keys", path);
    return rc;
}

static void on_zap(Broker *b) {
    zmq_msg_t f[8];
    int n = wire_recv(b->zap, f, 8, ZMQ_DONTWAIT);
    if (n <= 0) return;
    // The domain says which port: clients or workers, each with its list.
    int ok = 0, workers = n >= 3 && wire_is(&f[2], "workers");
    uint8_t (*keys)[32] = workers ? b->wkeys : b->keys;
    int nkeys = workers ? b->nwkeys : b->nkeys;
    if (n >= 7 && n <= 8 && wire_is(&f[5], "CURVE") && zmq_msg_size(&f[6]) == 32)
        for (int i = 0; i < nkeys && !ok; i++) ok = memcmp(keys[i], zmq_msg_data(&f[6]), 32) == 0;
    if (!ok) log_warn("farm broker: refused a %s connection with an unlisted key", workers ? "worker" : "client");
    WirePart reply[] = {WIRE_STR("1.0"), n >= 2 ? WIRE_MSG(&f[1]) : WIRE_STR(""), WIRE_STR(ok ? "200" : "400"),
                        WIRE_STR(ok ? "OK" : "key not authorized"), WIRE_STR(""), WIRE_STR("")};
    wire_send(b->zap, reply, 6);
    wire_close(f, RS_MIN(n, 8));
}

// ---------------------------------------------------------------------------
// run

static int bind_router(Broker *b, void **sock, const char *ep, const char *key_file, const char *domain, Err *e) {
    if (!(*sock = wire_socket(b->ctx, ZMQ_ROUTER, e))) return -1;
    int one = 1;
    RS_CHECK(zmq_setsockopt(*sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) == 0);
    if (wire_curve_server(*sock, key_file, e)) return -1;
    if (b->zap) RS_CHECK(zmq_setsockopt(*sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) == 0);
    if (zmq_bind(*sock, ep) != 0) return err_set(e, "farm broker: bind %s: %s", ep, zmq_strerror(zmq_errno()));
    return 0;
}

static int broker_open(Broker *b, const FarmBrokerOptions *o, Err *e) {
    char *wep = farm_worker_endpoint(o->bind, e);
    if (!wep) return -1;
    int rc = 0;
    b->ctx = zmq_ctx_new();
    if (!o->insecure && (!o->key_file || !o->authorized_keys))
        rc = err_set(e, "farm broker: CURVE is required: give the broker's keypair (--key FILE) and the public keys "
                        "allowed in (--authorized-keys FILE), both from `reasoner farm keygen`, or --insecure for a "
                        "plaintext farm anyone who reaches %s can use", o->bind);
    if (rc == 0 && (o->authorized_keys || o->authorized_workers)) {
        if (!o->key_file) rc = err_set(e, "farm broker: authorized keys need a broker key (--key)");
        if (rc == 0 && !o->authorized_keys) rc = err_set(e, "farm broker: --authorized-workers needs --authorized-keys");
        if (rc == 0) rc = load_keys(&b->keys, &b->nkeys, o->authorized_keys, e);
        const char *wl = o->authorized_workers ? o->authorized_workers : o->authorized_keys;
        if (rc == 0) rc = load_keys(&b->wkeys, &b->nwkeys, wl, e);
        if (rc == 0 && (b->zap = wire_socket(b->ctx, ZMQ_REP, e)) == NULL) rc = -1;
        if (rc == 0 && zmq_bind(b->zap, "inproc://zeromq.zap.01") != 0)
            rc = err_set(e, "farm broker: ZAP handler: %s", zmq_strerror(zmq_errno()));
    }
    if (rc == 0) rc = bind_router(b, &b->front, o->bind, o->key_file, "clients", e);
    if (rc == 0) rc = bind_router(b, &b->back, wep, o->key_file, "workers", e);
    if (rc == 0) log_info("farm broker: clients on %s, workers on %s%s", o->bind, wep, o->key_file ? " (CURVE)" : "");
    free(wep);
    table_grow(b);
    b->wbuckets = xcalloc(WTAG_BUCKETS, sizeof *b->wbuckets);
    b->pool_used = sizeof b->pool;  // empty: the first draw fills it
    return rc;
}

static void broker_close(Broker *b) {
    for (size_t i = 0; i < b->nbuckets; i++)
        for (BJob *j = b->buckets[i], *next; j; j = next) {
            next = j->hnext;
            job_free(j);
        }
    free(b->buckets);
    free(b->wbuckets);
    free(b->wkeys);
    for (int i = 0; i < b->nw; i++) {
        zmq_msg_close(&b->w[i]->id);
        free(b->w[i]);
    }
    free(b->w);
    free(b->keys);
    if (b->front) zmq_close(b->front);
    if (b->back) zmq_close(b->back);
    if (b->zap) zmq_close(b->zap);
    if (b->ctx) zmq_ctx_term(b->ctx);
}

// Take what is waiting on a socket, a bounded number of messages so that
// neither side starves the other.
static void drain(Broker *b, void *sock, double now) {
    zmq_msg_t f[FARM_MAX_FRAMES];
    for (int k = 0; k < 256; k++) {
        int n = wire_recv(sock, f, FARM_MAX_FRAMES, ZMQ_DONTWAIT);
        if (n <= 0) return;
        if (n <= FARM_MAX_FRAMES) {
            if (sock == b->front) on_client(b, f, n);
            else on_worker(b, f, n, now);
        } else {
            b->dropped++;
        }
        wire_close(f, RS_MIN(n, FARM_MAX_FRAMES));
    }
}

int farm_broker_run(const FarmBrokerOptions *o, Err *e) {
    Broker b = {.hb = farm_hb_defaults(o->hb)};
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint64_t)getpid() ^ (uint64_t)(rs_now() * 1e9);
    snprintf(b.instance, sizeof b.instance, "%016llx", (unsigned long long)r);
    if (broker_open(&b, o, e) != 0) {
        broker_close(&b);
        return -1;
    }
    double next_hb = rs_now() + b.hb.interval_s;
    while (!(o->stop && *o->stop)) {
        zmq_pollitem_t items[] = {{b.back, 0, ZMQ_POLLIN, 0}, {b.front, 0, ZMQ_POLLIN, 0}, {b.zap, 0, ZMQ_POLLIN, 0}};
        long wait_ms = (long)(1e3 * (next_hb - rs_now())) + 1;
        if (zmq_poll(items, b.zap ? 3 : 2, RS_MAX(wait_ms, 0)) < 0 && zmq_errno() != EINTR) {
            err_set(e, "farm broker: poll: %s", zmq_strerror(zmq_errno()));
            broker_close(&b);
            return -1;
        }
        double now = rs_now();
        if (items[2].revents & ZMQ_POLLIN) on_zap(&b);
        if (items[0].revents & ZMQ_POLLIN) drain(&b, b.back, now);
        if (items[1].revents & ZMQ_POLLIN) drain(&b, b.front, now);
        if (now >= next_hb) {
            heartbeat(&b, now);
            next_hb = now + b.hb.interval_s;
            log_debug("farm broker: %zu jobs held, %d workers, %ld requeued, %ld dropped, %ld results refused", b.njobs,
                      b.nw, b.requeued, b.dropped, b.forged);
        }
        dispatch(&b, now);
    }
    broker_close(&b);
    return 0;
}
