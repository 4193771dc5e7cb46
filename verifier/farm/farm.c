// farm.c: what the broker, worker and client share: grading one job
// message, endpoints, CURVE keys, multipart frames, forked helpers.
// The run loops live in farm_broker.c, farm_worker.c and farm_client.c.
//   reasoner farm keygen --out farm.key
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "verifier/farm/farm_wire.h"

FarmHeartbeat farm_hb_defaults(FarmHeartbeat hb) {
    if (hb.interval_s <= 0) hb.interval_s = FARM_HB_INTERVAL_S;
    if (hb.timeout_s <= 0) hb.timeout_s = RS_MAX(FARM_HB_TIMEOUT_S, 3 * hb.interval_s);
    return hb;
}

// ---------------------------------------------------------------------------
// grading one message

cJSON *farm_error_result(const char *id, const char *fmt, ...) {
    VerifyResult r = {0};
    Buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    verify_result_set(&r, "error", 0, "%s", b.data ? b.data : "");
    buf_free(&b);
    cJSON *j = verify_result_to_json(id, &r);
    verify_result_free(&r);
    return j;
}

char *farm_job_id(const cJSON *job) {
    const cJSON *v = cJSON_IsObject(job) ? cJSON_GetObjectItemCaseSensitive(job, "id") : NULL;
    if (cJSON_IsString(v)) return xstrdup(v->valuestring);
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9007199254740992.0) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%.0f", v->valuedouble);
        return xstrdup(tmp);
    }
    return NULL;
}

cJSON *farm_grade_json(const VerifierSet *s, const cJSON *j) {
    VerifyJob job;
    Err e = {{0}};
    if (verify_job_from_json(j, &job, &e) != 0) {
        char *id = farm_job_id(j);
        cJSON *r = farm_error_result(id, "%s", e.msg);
        free(id);
        return r;
    }
    VerifyResult r;
    verifier_grade(s, &job, &r);
    cJSON *out = verify_result_to_json(job.id, &r);
    verify_result_free(&r);
    verify_job_free(&job);
    return out;
}

cJSON *farm_grade_text(const VerifierSet *s, const void *data, size_t n) {
    if (n > FARM_MAX_JOB) return farm_error_result(NULL, "job: %zu bytes, over the limit of %d", n, FARM_MAX_JOB);
    size_t bad = utf8_bad_offset(data, n, 0);  // results echo ids as JSON strings
    if (bad < n) return farm_error_result(NULL, "job: byte %zu: not UTF-8 text", bad);
    Err e = {{0}};
    cJSON *j = json_parse(data, n, "job", 1, &e);
    if (!j) return farm_error_result(NULL, "%s", e.msg);
    cJSON *r = farm_grade_json(s, j);
    cJSON_Delete(j);
    return r;
}

// ---------------------------------------------------------------------------
// endpoints

char *farm_worker_endpoint(const char *ep, Err *e) {
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) {
        Buf b = {0};
        buf_printf(&b, "%s.workers", ep);
        return buf_take(&b);
    }
    const char *colon = strrchr(ep, ':');
    if (strncmp(ep, "tcp://", 6) == 0 && colon && colon > ep + 6) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end == 0 && end != colon + 1 && port > 0 && port < 65535) {
            Buf b = {0};
            buf_printf(&b, "%.*s:%ld", (int)(colon - ep), ep, port + 1);
            return buf_take(&b);
        }
    }
    err_set(e, "farm endpoint '%s': expected tcp://HOST:PORT (PORT below 65535), ipc://PATH or local:N", ep);
    return NULL;
}

// ---------------------------------------------------------------------------
// keys

int farm_key_read(const char *path, char pub[41], char secret[41], Err *e) {
    cJSON *j = json_read_file(path, e);
    if (!j) return -1;
    const char *p = NULL, *s = NULL;
    int rc = json_get_str(j, "public", &p, path, e);
    if (rc == 0 && secret) rc = json_get_str(j, "secret", &s, path, e);
    if (rc == 0 && (strlen(p) != 40 || (s && strlen(s) != 40)))
        rc = err_set(e, "%s: field '%s': expected a 40-character Z85 key", path, strlen(p) != 40 ? "public" : "secret");
    if (rc == 0) {
        memcpy(pub, p, 41);
        if (secret) memcpy(secret, s, 41);
    }
    cJSON_Delete(j);
    return rc;
}

static int write_key(const char *path, const char *pub, const char *secret, int force, Err *e) {
    if (!force && fs_exists(path)) return err_set(e, "%s: exists (use --force to overwrite)", path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "public", pub);
    if (secret) cJSON_AddStringToObject(j, "secret", secret);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    Buf b = {0};
    buf_printf(&b, "%s\n", text);
    free(text);
    // Create the secret file private before any byte of the key is in it.
    int rc = fs_write_atomic(path, b.data, b.len, e);
    if (rc == 0 && chmod(path, secret ? 0600 : 0644) != 0) rc = err_errno(e, "%s: chmod", path);
    buf_free(&b);
    return rc;
}

int farm_keygen(const char *path, int force, char *z85_public, Err *e) {
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0) return err_set(e, "zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
    char *pubpath = xmalloc(strlen(path) + 5);
    sprintf(pubpath, "%s.pub", path);
    mode_t old = umask(077);
    int rc = write_key(path, pub, sec, force, e);
    umask(old);
    if (rc == 0) rc = write_key(pubpath, pub, NULL, force, e);
    free(pubpath);
    if (rc == 0 && z85_public) memcpy(z85_public, pub, 41);
    explicit_bzero(sec, sizeof sec);
    return rc;
}

// ---------------------------------------------------------------------------
// sockets and frames

void *wire_socket(void *ctx, int type, Err *e) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        err_set(e, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    int64_t maxmsg = FARM_MAX_FRAME;
    RS_CHECK(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) == 0);
    RS_CHECK(zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) == 0);
    RS_CHECK(zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) == 0);
    RS_CHECK(zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) == 0);
    return s;
}

int wire_curve_server(void *sock, const char *key_file, Err *e) {
    if (!key_file) return 0;
    char pub[41], sec[41];
    if (farm_key_read(key_file, pub, sec, e)) return -1;
    int one = 1;
    int rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    explicit_bzero(sec, sizeof sec);
    if (rc) return err_set(e, "%s: CURVE: %s", key_file, zmq_strerror(zmq_errno()));
    return 0;
}

int wire_curve_client(void *sock, const char *server_key_file, const char *key_file, Err *e) {
    if (!server_key_file) return 0;
    char spub[41], pub[41], sec[41];
    if (farm_key_read(server_key_file, spub, NULL, e)) return -1;
    if (key_file ? farm_key_read(key_file, pub, sec, e) : zmq_curve_keypair(pub, sec)) return -1;
    int rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, spub, 40) || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) ||
             zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    explicit_bzero(sec, sizeof sec);
    if (rc) return err_set(e, "CURVE: %s", zmq_strerror(zmq_errno()));
    return 0;
}

int wire_recv(void *sock, zmq_msg_t *f, int max, int flags) {
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, n == 0 ? flags : 0) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&m);
            wire_close(f, RS_MIN(n, max));
            if (n == 0 && err == EAGAIN) return 0;
            errno = err;
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < max) f[n] = m;
        else zmq_msg_close(&m);
        n++;
    }
    return n;
}

void wire_close(zmq_msg_t *f, int n) {
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
}

int wire_send(void *sock, const WirePart *p, int n) {
    for (int i = 0; i < n; i++) {
        zmq_msg_t m;
        if (p[i].msg) {
            zmq_msg_init(&m);
            RS_CHECK(zmq_msg_copy(&m, p[i].msg) == 0);
        } else {
            RS_CHECK(zmq_msg_init_size(&m, p[i].len) == 0);
            if (p[i].len) memcpy(zmq_msg_data(&m), p[i].data, p[i].len);
        }
        // Never block: a DEALER whose connection failed (a CURVE handshake
        // refused) has nowhere to queue. Only the first part can fail; the
        // rest of a message already accepted always goes through.
        if (zmq_msg_send(&m, sock, ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&m);
            errno = err;
            return -1;
        }
    }
    return 0;
}

int wire_is(zmq_msg_t *f, const char *s) {
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

// ---------------------------------------------------------------------------
// processes

void wire_child_setup(pid_t parent, int keep) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < RS_ARRAY_LEN(sigs); i++) signal(sigs[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // The parent's sockets (its ZeroMQ context, listening ports) must not
    // stay open in a child that may outlive them.
    if (keep < 0) {
        close_range(3, ~0U, 0);
    } else {
        if (keep > 3) close_range(3, (unsigned)keep - 1, 0);
        close_range((unsigned)keep + 1, ~0U, 0);
    }
}

void wire_kill_wait(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

// ---------------------------------------------------------------------------
// verifier sets from flags

VerifierSet *farm_verifiers_new(const char *const *specs, int n, const char *plugins_dir, Err *e) {
    VerifierSet *s = verifier_set_new();
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(specs[i], '=');
        if (!eq || eq == specs[i] || !eq[1]) {
            err_set(e, "--plugin '%s': expected NAME=PATH", specs[i]);
            goto fail;
        }
        char *name = xstrndup(specs[i], (size_t)(eq - specs[i]));
        int rc = verifier_set_add_plugin(s, name, eq + 1, e);
        free(name);
        if (rc) goto fail;
    }
    if (plugins_dir && verifier_set_add_plugin_dir(s, plugins_dir, e) != 0) goto fail;
    return s;
fail:
    verifier_set_free(s);
    return NULL;
}
