// cmd_verify.c: `reasoner verify`: grade jobs, one JSON object a line, and
// write one result a line in input order. In-process by default; with --farm,
// through a farm (an endpoint, or local:N to start one). A bad line gets an
// "error" result naming file:line on stderr, and grading goes on.
//   reasoner verify jobs.jsonl --jsonl > results.jsonl
//   reasoner verify --farm local:8 --jsonl < jobs.jsonl
//   reasoner verify --farm tcp://10.0.0.5:5555 --server-key broker.key.pub --jsonl jobs.jsonl
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "verifier/farm/farm.h"
#include "verifier/sandbox/sandbox.h"

#define CHUNK 1024       // jobs in flight per farm batch
#define MAX_WARNINGS 20  // error results echoed to stderr

typedef struct VerifyRun {
    int jsonl;
    FILE *out;
    FarmClient *farm;  // NULL: grade in-process
    const VerifierSet *vs;
    double timeout_s;
    // the current chunk: where each line came from
    char **where;
    int n;
    // totals
    long jobs, correct, errors, expired, warned;
    double score_sum;
} VerifyRun;

static void write_result(VerifyRun *v, const char *where, cJSON *r) {
    const char *status = json_opt_str(r, "status", "");
    double score = json_opt_num(r, "score", 0);
    v->jobs++;
    v->score_sum += score;
    v->correct += strcmp(status, "correct") == 0;
    if (strcmp(status, "error") == 0) {
        v->errors++;
        if (v->warned++ < MAX_WARNINGS) log_warn("%s: %s", where, json_opt_str(r, "detail", ""));
    }
    if (v->jsonl) {
        json_write_line(v->out, r);
        return;
    }
    const char *id = json_opt_str(r, "id", "-"), *detail = json_opt_str(r, "detail", "");
    int dn = (int)strcspn(detail, "\n");
    fprintf(v->out, "%-24s %-14s %.3f  %.*s%s\n", id, status, score, RS_MIN(dn, 100), detail, dn > 100 ? "..." : "");
}

static int flush_chunk(VerifyRun *v, Err *e) {
    if (!v->farm || v->n == 0) return 0;
    cJSON **res = xcalloc((size_t)v->n, sizeof *res);
    int expired = farm_collect(v->farm, v->timeout_s, res, e);
    if (expired >= 0) {
        v->expired += expired;
        for (int i = 0; i < v->n; i++) {
            write_result(v, v->where[i], res[i]);
            cJSON_Delete(res[i]);
        }
    }
    for (int i = 0; i < v->n; i++) free(v->where[i]);
    free(res);
    v->n = 0;
    return expired < 0 ? -1 : 0;
}

static int grade_line(VerifyRun *v, const char *path, long lineno, const char *text, size_t len, Err *e) {
    char where[600];
    snprintf(where, sizeof where, "%s:%ld", path, lineno);
    if (!v->farm) {
        cJSON *r = farm_grade_text(v->vs, text, len);
        write_result(v, where, r);
        cJSON_Delete(r);
        return 0;
    }
    if (farm_submit_raw(v->farm, text, len, e) != 0) return -1;
    v->where[v->n++] = xstrdup(where);
    return v->n == CHUNK ? flush_chunk(v, e) : 0;
}

static int verify_file(VerifyRun *v, const char *path, Err *e) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) return err_errno(e, "%s", path);
    const char *name = is_stdin ? "<stdin>" : path;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if ((size_t)len == strspn(line, " \t")) continue;  // blank
        rc = grade_line(v, name, lineno, line, (size_t)len, e);
    }
    if (rc == 0 && ferror(fp)) rc = err_errno(e, "%s: read failed", name);
    free(line);
    if (!is_stdin) fclose(fp);
    return rc;
}

int cmd_verify(int argc, char **argv) {
    const char *farm = NULL, *out_path = NULL, *plugins_dir = NULL;
    FarmClientOptions fo = {.job_timeout_s = 300};
    int insecure = 0, weak = 0;
    VerifyRun v = {.timeout_s = 3600};
    ArgList plugins = {0}, inputs = {0};
    ArgSpec specs[] = {
        {"farm", 0, ARG_STR, &farm, "ENDPOINT", "grade through a farm: tcp://HOST:PORT, ipc://PATH, or local:N to start N workers"},
        {"jsonl", 0, ARG_FLAG, &v.jsonl, NULL, "write results as JSONL (default: a table)"},
        {"out", 'o', ARG_STR, &out_path, "FILE", "write results to FILE (atomically) instead of stdout"},
        {"plugin", 0, ARG_LIST, &plugins, "NAME=PATH", "an external verifier: PATH reads a job on stdin, writes a result"},
        {"plugins", 0, ARG_STR, &plugins_dir, "DIR", "every executable in DIR is a plugin named after its file"},
        {"server-key", 0, ARG_STR, &fo.server_key_file, "FILE", "the broker's public key, for a CURVE farm"},
        {"key", 0, ARG_STR, &fo.key_file, "FILE", "this client's keypair (default: a fresh one)"},
        {"timeout", 0, ARG_FLOAT, &v.timeout_s, "S", "give up on a batch of 1024 jobs after S seconds (error results)"},
        {"job-timeout", 0, ARG_FLOAT, &fo.job_timeout_s, "S", "local farm: a job graded longer is killed"},
        {"insecure", 0, ARG_FLAG, &insecure, NULL, "a tcp:// or ipc:// farm without CURVE keys (RISK: anyone on the "
                                                   "path reads and forges jobs and results)"},
        {"allow-weak-sandbox", 0, ARG_FLAG, &weak, NULL, "grade code even where the full jail cannot be built (RISK: "
                                                         "a program may reach this machine; results say \"isolation\")"},
    };
    ArgCmd cmd = {.name = "reasoner verify",
                  .summary = "Grade jobs {\"id\", \"verifier\", \"response\", \"problem\", \"limits\"?}, one a line; "
                             "results in input order.",
                  .usage_args = "[flags] [FILE...]  (stdin when none)",
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0]),
                  .positional = &inputs,
                  .epilog = "examples:\n"
                            "  reasoner verify --jsonl jobs.jsonl\n"
                            "  reasoner verify --farm local:8 --plugin countdown=plugins/countdown.py --jsonl < jobs.jsonl\n"
                            "  reasoner verify --farm tcp://10.0.0.5:5555 --server-key broker.key.pub --key client.key "
                            "jobs.jsonl"};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&plugins);
        args_list_free(&inputs);
        return ARGS_EXIT_CODE(rc);
    }
    Err e;
    AtomicFile *af = NULL;
    if (weak) setenv(SBX_ALLOW_WEAK_ENV, "1", 1);  // read by sbx_shared(), here and in forked workers
    VerifierSet *vs = farm_verifiers_new(plugins.items, plugins.n, plugins_dir, &e);
    rc = vs ? 0 : -1;
    if (getenv("REASONER_FARM_SERVER_KEY") && !fo.server_key_file) fo.server_key_file = getenv("REASONER_FARM_SERVER_KEY");
    if (rc == 0 && farm && strncmp(farm, "local:", 6) != 0 && !insecure && !fo.server_key_file)
        rc = err_set(&e, "--farm %s: CURVE is required: give the broker's public key (--server-key FILE.pub) and "
                         "this client's keypair on the broker's list (--key FILE), or --insecure for a plaintext farm",
                     farm);
    v.vs = vs;
    fo.verifiers = vs;
    if (rc == 0 && farm && !(v.farm = farm_client_new(farm, &fo, &e))) rc = -1;
    if (rc == 0 && out_path && !(af = afile_open(out_path, &e))) rc = -1;
    v.out = af ? afile_fp(af) : stdout;
    v.where = xcalloc(CHUNK, sizeof *v.where);
    double t0 = rs_now();
    for (int i = 0; rc == 0 && i < RS_MAX(inputs.n, 1); i++) rc = verify_file(&v, inputs.n ? inputs.items[i] : "-", &e);
    if (rc == 0) rc = flush_chunk(&v, &e);
    if (rc == 0 && af) rc = afile_commit(af, &e);
    else if (af) afile_abort(af);
    if (rc == 0 && !af && fflush(stdout) != 0) rc = err_errno(&e, "stdout");
    if (rc != 0) fprintf(stderr, "reasoner verify: %s\n", e.msg);
    double dt = rs_now() - t0;
    if (v.jobs)
        log_info("verify: %ld jobs, %ld correct, %ld errors, mean score %.4f, %.1f s (%.1f jobs/s)%s", v.jobs, v.correct,
                 v.errors, v.score_sum / (double)v.jobs, dt, dt > 0 ? (double)v.jobs / dt : 0.0,
                 v.expired ? " - some jobs got no result from the farm" : "");
    for (int i = 0; i < v.n; i++) free(v.where[i]);
    free(v.where);
    farm_client_free(v.farm);
    verifier_set_free(vs);
    args_list_free(&plugins);
    args_list_free(&inputs);
    return rc != 0 || v.expired ? 1 : 0;
}
