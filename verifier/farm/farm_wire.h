// farm_wire.h: internals shared by the broker, worker and client (farm.c):
// multipart frames, socket setup (CURVE, limits), forked helper processes.
// Not a public API: only verifier/farm_*.c include it.
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include <zmq.h>

#include "common/err.h"
#include "verifier/farm/farm.h"

#define FARM_HB_INTERVAL_S 1.0
#define FARM_HB_TIMEOUT_S 5.0
// A job message larger than this is answered with an error unread; the
// broker refuses (disconnects) peers sending frames larger than FARM_MAX_FRAME.
#define FARM_MAX_JOB (16 << 20)
#define FARM_MAX_FRAME (64LL << 20)
#define FARM_MAX_FRAMES 6

FarmHeartbeat farm_hb_defaults(FarmHeartbeat hb);

// Receive every part of one message into f[0..max); parts beyond max are
// read and dropped. Returns the number of parts (possibly > max, so callers
// can reject odd shapes), 0 when nothing is waiting (flags ZMQ_DONTWAIT), or
// -1 on an error other than EAGAIN (errno set).
int wire_recv(void *sock, zmq_msg_t *f, int max, int flags);
void wire_close(zmq_msg_t *f, int n);
// Send the parts without blocking; a part is a zmq_msg_t (copied, so the
// caller keeps it) or bytes. Returns 0, or -1 with errno: EHOSTUNREACH for a
// gone ROUTER peer, EAGAIN when a DEALER has no connection to queue on.
typedef struct WirePart {
    zmq_msg_t *msg;    // when non-NULL
    const void *data;  // otherwise
    size_t len;
} WirePart;
int wire_send(void *sock, const WirePart *p, int n);
#define WIRE_STR(s) ((WirePart){NULL, (s), strlen(s)})
#define WIRE_MSG(m) ((WirePart){(m), NULL, 0})
// Frame f equals the string s.
int wire_is(zmq_msg_t *f, const char *s);

// New socket with LINGER 0 and no high-water mark (the farm bounds its queues
// itself). NULL and e filled on failure.
void *wire_socket(void *ctx, int type, Err *e);
// CURVE: a server socket with the keypair in key_file; a client socket that
// trusts server_key_file and uses key_file (or a fresh keypair). No-ops when
// the files are NULL. Returns 0 or -1.
int wire_curve_server(void *sock, const char *key_file, Err *e);
int wire_curve_client(void *sock, const char *server_key_file, const char *key_file, Err *e);
// Read a key file: the public key always, the secret when secret != NULL.
int farm_key_read(const char *path, char pub[41], char secret[41], Err *e);

// In a forked child that must not outlive its parent: die with it
// (PR_SET_PDEATHSIG), drop every inherited descriptor except keep (-1 for
// none) and reset signal dispositions. Exits at once if the parent is gone.
void wire_child_setup(pid_t parent, int keep);
// The job's id as text (a string or an integer id), or NULL.
char *farm_job_id(const cJSON *job);
// Kill a process and reap it.
void wire_kill_wait(pid_t pid);
