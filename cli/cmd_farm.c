// cmd_farm.c: `reasoner farm broker|worker|keygen`, the verifier farm's
// processes for running it across machines (verifier/farm/farm.h). On one machine
// `reasoner verify --farm local:N` starts its own farm instead.
//   reasoner farm keygen --out broker.key
//   reasoner farm keygen --out worker.key --authorize farm.members
//   reasoner farm broker --bind tcp://127.0.0.1:5555 --key broker.key --authorized-keys farm.members
//   reasoner farm worker --connect tcp://127.0.0.1:5555 --server-key broker.key.pub --key worker.key --slots 8
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/args.h"
#include "common/log.h"
#include "verifier/farm/farm.h"
#include "verifier/sandbox/sandbox.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) { stop_requested = 1; }

// SIGINT/SIGTERM end the run loop cleanly (no SA_RESTART: poll wakes up).
static void catch_stop_signals(void) {
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int is_loopback(const char *ep) {
    return strncmp(ep, "tcp://", 6) != 0 || strncmp(ep + 6, "127.", 4) == 0 || strncmp(ep + 6, "localhost:", 10) == 0 ||
           strncmp(ep + 6, "[::1]:", 6) == 0;
}

static int farm_broker(int argc, char **argv) {
    FarmBrokerOptions o = {.bind = "tcp://127.0.0.1:5555", .hb = {1.0, 5.0}};
    ArgSpec specs[] = {
        {"bind", 0, ARG_STR, &o.bind, "ENDPOINT", "clients connect here; workers on the next port (ipc: NAME.workers)"},
        {"key", 0, ARG_STR, &o.key_file, "FILE", "CURVE keypair of the broker (farm keygen): encrypt and authenticate"},
        {"authorized-keys", 0, ARG_STR, &o.authorized_keys, "FILE",
         "only clients (and workers) whose public key is listed here (one a line) may connect"},
        {"authorized-workers", 0, ARG_STR, &o.authorized_workers, "FILE",
         "a separate list for workers (default: --authorized-keys serves both)"},
        {"insecure", 0, ARG_FLAG, &o.insecure, NULL,
         "plaintext, any peer (RISK: anyone who reaches the port submits jobs, joins as a worker, forges results)"},
        {"heartbeat", 0, ARG_FLOAT, &o.hb.interval_s, "S", "seconds between heartbeats to workers"},
        {"heartbeat-timeout", 0, ARG_FLOAT, &o.hb.timeout_s, "S", "a worker silent this long is dead; its jobs are requeued"},
    };
    ArgCmd cmd = {.name = "reasoner farm broker",
                  .summary = "Run the farm's broker: queue jobs from clients, hand them to workers, requeue on failure.",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0]),
                  .epilog = "example:\n  reasoner farm broker --bind tcp://0.0.0.0:5555 --key broker.key "
                            "--authorized-keys farm.members"};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    if (o.insecure && !is_loopback(o.bind))
        log_warn("farm broker: --insecure on %s: anyone who reaches it can submit jobs and join as a worker", o.bind);
    catch_stop_signals();
    o.stop = &stop_requested;
    Err e;
    if (farm_broker_run(&o, &e) != 0) {
        fprintf(stderr, "reasoner farm broker: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int farm_worker(int argc, char **argv) {
    FarmWorkerOptions o = {.connect = "tcp://127.0.0.1:5555", .job_timeout_s = 300, .hb = {1.0, 5.0}};
    o.slots = (int)sysconf(_SC_NPROCESSORS_ONLN);
    ArgList plugins = {0};
    const char *plugins_dir = NULL;
    int weak = 0;
    ArgSpec specs[] = {
        {"connect", 0, ARG_STR, &o.connect, "ENDPOINT", "the farm endpoint the broker was given with --bind"},
        {"slots", 0, ARG_INT, &o.slots, "N", "jobs graded at once, each in its own process"},
        {"plugin", 0, ARG_LIST, &plugins, "NAME=PATH", "an external verifier: PATH reads a job on stdin, writes a result"},
        {"plugins", 0, ARG_STR, &plugins_dir, "DIR", "every executable in DIR is a plugin named after its file"},
        {"server-key", 0, ARG_STR, &o.server_key_file, "FILE", "the broker's public key (FILE.pub from farm keygen)"},
        {"key", 0, ARG_STR, &o.key_file, "FILE", "this worker's keypair, whose public key is on the broker's list"},
        {"insecure", 0, ARG_FLAG, &o.insecure, NULL, "plaintext, no keys (RISK: anyone on the path reads and forges jobs)"},
        {"allow-weak-sandbox", 0, ARG_FLAG, &weak, NULL,
         "grade code even where the full jail cannot be built (RISK: a program may reach this machine; "
         "results say \"isolation\")"},
        {"prefetch", 0, ARG_INT, &o.prefetch, "N", "jobs held queued beyond the slots, so none idles between jobs (0: one per slot, -1: none)"},
        {"job-timeout", 0, ARG_FLOAT, &o.job_timeout_s, "S", "a job graded longer is killed with its slot"},
        {"heartbeat", 0, ARG_FLOAT, &o.hb.interval_s, "S", "seconds between heartbeats to the broker"},
        {"heartbeat-timeout", 0, ARG_FLOAT, &o.hb.timeout_s, "S", "reconnect when the broker is silent this long"},
    };
    ArgCmd cmd = {.name = "reasoner farm worker",
                  .summary = "Run a farm worker: grade jobs from the broker in N sandboxed slots.",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0]),
                  .epilog = "example:\n  reasoner farm worker --connect tcp://10.0.0.5:5555 --slots 16 "
                            "--server-key broker.key.pub --key worker.key --plugins plugins/"};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&plugins);
        return ARGS_EXIT_CODE(rc);
    }
    if (weak) setenv(SBX_ALLOW_WEAK_ENV, "1", 1);  // read by sbx_shared() in the slots
    Err e;
    VerifierSet *vs = farm_verifiers_new(plugins.items, plugins.n, plugins_dir, &e);
    args_list_free(&plugins);
    if (!vs) {
        fprintf(stderr, "reasoner farm worker: %s\n", e.msg);
        return 1;
    }
    catch_stop_signals();
    o.stop = &stop_requested;
    o.verifiers = vs;
    rc = farm_worker_run(&o, &e);
    if (rc) fprintf(stderr, "reasoner farm worker: %s\n", e.msg);
    verifier_set_free(vs);
    return rc ? 1 : 0;
}

static int farm_keygen_cmd(int argc, char **argv) {
    const char *out = "farm.key", *authorize = NULL;
    int force = 0;
    ArgSpec specs[] = {
        {"out", 'o', ARG_STR, &out, "FILE", "the keypair (mode 0600); the public key goes to FILE.pub"},
        {"authorize", 0, ARG_STR, &authorize, "LIST", "also append the public key to LIST (the broker's --authorized-keys)"},
        {"force", 0, ARG_FLAG, &force, NULL, "overwrite existing files"},
    };
    ArgCmd cmd = {.name = "reasoner farm keygen",
                  .summary = "Write a CURVE keypair for the farm (broker: --key; clients and workers: --server-key FILE.pub).",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0])};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    char pub[41];
    Err e;
    if (farm_keygen(out, force, pub, &e) != 0) {
        fprintf(stderr, "reasoner farm keygen: %s\n", e.msg);
        return 1;
    }
    if (authorize) {
        FILE *f = fopen(authorize, "a");
        if (!f || fprintf(f, "%s  %s\n", pub, out) < 0 || fclose(f) != 0) {
            fprintf(stderr, "reasoner farm keygen: %s: %s\n", authorize, strerror(errno));
            return 1;
        }
        fprintf(stderr, "added it to %s\n", authorize);
    }
    fprintf(stderr, "wrote %s (secret, keep it) and %s.pub; public key:\n", out, out);
    printf("%s\n", pub);
    return 0;
}

int cmd_farm(int argc, char **argv) {
    static const SubCmd subs[] = {
        {"broker", "queue jobs from clients and balance them over workers", farm_broker},
        {"worker", "grade jobs from a broker in sandboxed slots", farm_worker},
        {"keygen", "write a CURVE keypair for encrypted, authenticated farms", farm_keygen_cmd},
    };
    return args_dispatch("reasoner farm",
                         "The verifier farm over ZeroMQ: one broker, workers on any number of machines.\n"
                         "On one machine, `reasoner verify --farm local:N` starts a farm by itself.",
                         subs, (int)(sizeof subs / sizeof subs[0]), argc, argv);
}
