// farm.h: the verifier farm over ZeroMQ: a broker, workers, and the client
// library the RL loop and `reasoner verify` use to grade batches of jobs.
//
//   client DEALER ──► broker ROUTER (clients) │ ROUTER (workers) ◄── worker DEALER ─► slot processes
//
// Messages are JSON in ZeroMQ frames (ARCHITECTURE.md, "Farm messages"): a job {"id", "verifier",
// "response", "problem", "limits"?} and a result {"id", "score", "status",
// "detail", "elapsed_ms", ...}. Around them, each hop adds routing frames:
//   client → broker   JOB tag job | PING      broker → client   RESULT tag result | PONG instance
//   broker → worker   JOB wtag job            worker → broker   RESULT wtag result
//   worker → broker   READY slots prefetch | HB | BYE    broker → worker   HB | RESET
// wtag is 16 random bytes (getrandom) the broker draws each time it hands a
// job to a worker: it accepts a RESULT only from that worker, for that
// wtag, once; anything else (a guessed tag, another worker's job, a late
// answer after a requeue, a second answer) is dropped and counted.
// The broker keys every job by (client, tag): it hands jobs to workers with
// free slots, least recently used first (then up to each worker's prefetch,
// so no slot waits a round trip for its next job); keeps each job until its result comes
// back; requeues the jobs of a worker that disconnects or misses heartbeats;
// and forwards only the first result for a key, so each job gets exactly one
// result even when a worker presumed dead wakes up and answers late. A
// client pings the broker while it waits; the answer names the broker's run,
// so a restarted broker (which forgot every job) gets the batch again at once.
//
// A worker grades in N pre-forked slot processes, one job each at a time: a
// verifier that crashes or hangs past the job timeout takes down its slot
// (which is restarted, and the job answered with status "error" saying what
// happened), never the worker.
//
// Endpoints: one farm endpoint names the broker. The broker binds it for
// clients and a derived endpoint for workers (tcp port + 1, or the ipc/inproc
// name + ".workers"); workers are given the farm endpoint and derive the same.
// Over tcp:// the default bind is loopback; CURVE keys (farm_keygen) encrypt
// and authenticate, and are required: a broker needs its keypair and the
// list of authorized public keys, a worker the broker's public key and its
// own keypair (on that list), unless `insecure` says plaintext on purpose.
// "local:N" makes the client spawn a broker and N one-slot
// workers over ipc:// in a private temp dir (forked from the calling process,
// so they grade with its VerifierSet) and tear them down in farm_client_free;
// they also die with the thread that created the client (PR_SET_PDEATHSIG).
// Create a local farm before allocating much memory (a model): every fork
// copies the caller's page tables.
//
// Broker and worker run loops own their process; a FarmClient is used by one
// thread at a time.
#pragma once
#include <cjson/cJSON.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "verifier/verifier.h"

// Heartbeats (seconds) shared by broker and workers; 0 picks the default.
typedef struct FarmHeartbeat {
    double interval_s;  // default 1
    double timeout_s;   // a peer silent this long is dead (default 5)
} FarmHeartbeat;

typedef struct FarmBrokerOptions {
    const char *bind;             // farm endpoint, e.g. "tcp://127.0.0.1:5555"
    const char *key_file;         // CURVE keypair of the broker (farm_keygen), or NULL for plaintext
    const char *authorized_keys;  // file of allowed client (and worker) public keys, one a line
    const char *authorized_workers;  // file of the workers' keys; NULL: authorized_keys serves both
    int insecure;                 // 1: no CURVE, any peer (ipc:// in a private dir, tests); else both
                                  // key_file and authorized_keys are required
    FarmHeartbeat hb;
    const volatile sig_atomic_t *stop;  // the loop returns when *stop becomes nonzero
} FarmBrokerOptions;

// Bind and serve until *o->stop. Returns 0 after a stop, -1 (e filled) when
// it cannot start (bad endpoint, address in use, bad key file).
int farm_broker_run(const FarmBrokerOptions *o, Err *e);

typedef struct FarmWorkerOptions {
    const char *connect;          // farm endpoint
    int slots;                    // concurrent jobs (default 1)
    int prefetch;                 // jobs held queued beyond the slots (default: one per slot; <0: none)
    const VerifierSet *verifiers;
    const char *server_key_file;  // the broker's public key file, for CURVE
    const char *key_file;         // this worker's keypair (on the broker's list)
    int insecure;                 // 1: plaintext allowed; else server_key_file and key_file are required
    double job_timeout_s;         // a slot grading longer is killed (default 300)
    FarmHeartbeat hb;
    const volatile sig_atomic_t *stop;
} FarmWorkerOptions;

// Connect and grade until *o->stop (then say BYE so the broker requeues
// at once). Returns 0 after a stop, -1 when it cannot start.
int farm_worker_run(const FarmWorkerOptions *o, Err *e);

typedef struct FarmClientOptions {
    const VerifierSet *verifiers;  // local mode: what the workers grade with (NULL: the built-ins)
    const char *server_key_file;   // tcp with CURVE: the broker's public key file (NULL: $REASONER_FARM_SERVER_KEY)
    const char *key_file;          // this client's keypair (NULL: $REASONER_FARM_KEY, else a fresh one)
    double retry_s;                // resend a job still unanswered after this long (default 60)
    double job_timeout_s;          // local mode: the workers' job timeout
    FarmHeartbeat hb;              // local mode: broker and worker heartbeats
} FarmClientOptions;

typedef struct FarmClient FarmClient;

typedef struct FarmStats {
    long submitted;   // jobs sent (first sends)
    long resent;      // jobs sent again after retry_s or a broker restart
    long results;     // results accepted
    long duplicates;  // results dropped because their job already had one
    long late;        // results for a batch already collected (past its deadline)
    long expired;     // jobs given an error result at a collect deadline
    long respawned;   // local mode: broker or workers restarted after dying
} FarmStats;

// Connect to endpoint, or spawn a local farm for "local:N". o may be NULL.
// NULL and e filled on failure (bad endpoint, no temp dir, fork failed).
FarmClient *farm_client_new(const char *endpoint, const FarmClientOptions *o, Err *e);
// Close the connection; in local mode kill and reap the broker and workers
// and remove the temp dir. NULL is fine.
void farm_client_free(FarmClient *c);

// Add n jobs to the current batch (each serialised as sent). Returns 0 or -1.
int farm_submit(FarmClient *c, cJSON *const *jobs, int n, Err *e);
// Add one job given as raw bytes (need not be JSON: the farm answers garbage
// with an "error" result). Returns 0 or -1.
int farm_submit_raw(FarmClient *c, const void *data, size_t n, Err *e);
// Jobs in the current batch.
int farm_pending(const FarmClient *c);
// Wait until every job of the batch has its result or timeout_s has passed,
// resending jobs unanswered for retry_s. results[i] (the caller's array of
// farm_pending() entries) receives the result of the i-th job submitted, a
// cJSON object the caller deletes; a job with no result by the deadline gets
// an "error" result. Then the batch is empty again. Returns how many jobs
// expired (0 when all were answered), or -1 on a transport failure (e filled;
// results then hold nothing).
int farm_collect(FarmClient *c, double timeout_s, cJSON **results, Err *e);
FarmStats farm_client_stats(const FarmClient *c);
// Local mode: pids of the broker and the workers, broker first (for fault
// tests and monitoring). Returns how many were written (at most max).
int farm_client_pids(const FarmClient *c, pid_t *pids, int max);

// The worker endpoint the broker binds for a farm endpoint (malloc'd), or
// NULL and e filled when endpoint is not tcp://HOST:PORT, ipc:// or inproc://.
char *farm_worker_endpoint(const char *endpoint, Err *e);

// Write a CURVE keypair: path holds both keys (mode 0600), path.pub the
// public one. z85_public (41 bytes) receives the public key when non-NULL.
int farm_keygen(const char *path, int force, char *z85_public, Err *e);

// Grade one job message: parse, validate, run the verifier. Always returns a
// result object (bad input becomes status "error" naming the field), never
// fails. What each slot does per job, and what the fuzz target drives.
cJSON *farm_grade_text(const VerifierSet *s, const void *data, size_t n);
cJSON *farm_grade_json(const VerifierSet *s, const cJSON *job);
// An "error" result for id (NULL gives "id": null).
cJSON *farm_error_result(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// The verifiers a worker or `reasoner verify` grades with: the built-ins,
// plugins given as "NAME=PATH", and every executable in plugins_dir (NULL
// for none). NULL and e filled on a bad spec or path.
VerifierSet *farm_verifiers_new(const char *const *plugin_specs, int n, const char *plugins_dir, Err *e);
