// verifier.c: the verifier registry (built-ins from builtins.def, C test
// doubles, external plugins), the job/result JSON of the farm messages, and
// verifier_grade, which turns every failure into a result with status "error"
// and times the grading.
//   echo '{"id":"1","verifier":"math","response":"\\boxed{4}","problem":{"answer":"4"}}' | reasoner verify
#include "verifier/verifier.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "verifier/plugin.h"

#define BUILTIN(name, fn) int fn(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e);
#include "verifier/builtins.def"
#undef BUILTIN

// Model responses are at most tens of thousands of tokens; anything this big
// is an attack or a bug, and grading it would stall a slot.
#define VERIFY_MAX_RESPONSE (1 << 20)
#define VERIFY_MAX_NAME 64

// Defaults for the limits a job may leave out.
#define LIMIT_TIME_S 10.0
#define LIMIT_MEMORY_MB 1024
#define LIMIT_OUTPUT_KB 64

struct VerifierSet {
    Verifier *v;  // names and plugin paths owned by the set
    int n, cap;
};

// ---------------------------------------------------------------------------
// registry

static int name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > VERIFY_MAX_NAME) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

static int set_push(VerifierSet *s, const char *name, Verifier v, Err *e) {
    if (!name || !name_ok(name))
        return err_set(e, "verifier '%s': a name is 1-%d characters of [A-Za-z0-9_.-]", name ? name : "",
                       VERIFY_MAX_NAME);
    if (verifier_set_find(s, name)) return err_set(e, "verifier '%s': name already registered", name);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xrealloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    v.name = xstrdup(name);
    v.plugin_path = v.plugin_path ? xstrdup(v.plugin_path) : NULL;
    s->v[s->n++] = v;
    return 0;
}

VerifierSet *verifier_set_new(void) {
    VerifierSet *s = xcalloc(1, sizeof *s);
#define BUILTIN(name, fn) RS_CHECK(set_push(s, #name, (Verifier){.grade = fn}, NULL) == 0);
#include "verifier/builtins.def"
#undef BUILTIN
    return s;
}

void verifier_set_free(VerifierSet *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        free((char *)s->v[i].name);
        free((char *)s->v[i].plugin_path);
    }
    free(s->v);
    free(s);
}

int verifier_set_add(VerifierSet *s, const Verifier *v, Err *e) {
    RS_CHECK(v->grade);
    return set_push(s, v->name, *v, e);
}

int verifier_set_add_plugin(VerifierSet *s, const char *name, const char *path, Err *e) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(path, real) || stat(real, &st) != 0) return err_errno(e, "plugin '%s': %s", name, path);
    if (!S_ISREG(st.st_mode) || access(real, X_OK) != 0)
        return err_set(e, "plugin '%s': %s: not an executable file", name, path);
    return set_push(s, name, (Verifier){.grade = vplugin_grade, .plugin_path = real}, e);
}

// Files whose names start with '.' are skipped, so editors' and tools' litter
// (".countdown.py.swp") never becomes a verifier.
static int plugin_entry(const struct dirent *d) { return d->d_name[0] != '.'; }

int verifier_set_add_plugin_dir(VerifierSet *s, const char *dir, Err *e) {
    struct dirent **ents;
    int n = scandir(dir, &ents, plugin_entry, alphasort);
    if (n < 0) return err_errno(e, "plugins dir %s", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *path = fs_join(dir, ents[i]->d_name);
        struct stat st;
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
            char *name = xstrdup(ents[i]->d_name);
            char *dot = strrchr(name, '.');
            if (dot && dot != name) *dot = 0;
            rc = verifier_set_add_plugin(s, name, path, e);
            if (rc) err_wrap(e, "plugins dir %s", dir);
            free(name);
        }
        free(path);
        free(ents[i]);
    }
    free(ents);
    return rc;
}

const Verifier *verifier_set_find(const VerifierSet *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
    return NULL;
}

// ---------------------------------------------------------------------------
// grading

static VerifyLimits limits_with_defaults(VerifyLimits l) {
    if (l.time_s <= 0) l.time_s = LIMIT_TIME_S;
    if (l.memory_mb <= 0) l.memory_mb = LIMIT_MEMORY_MB;
    if (l.output_kb <= 0) l.output_kb = LIMIT_OUTPUT_KB;
    return l;
}

static void names_of(const VerifierSet *s, Buf *b) {
    for (int i = 0; i < s->n; i++) buf_printf(b, "%s%s", i ? ", " : "", s->v[i].name);
    if (s->n == 0) buf_puts(b, "none");
}

// A grader's result must make sense to everyone downstream (rewards, maj@k).
static void check_result(const Verifier *v, VerifyResult *out) {
    if (!out->status[0]) verify_result_set(out, "error", 0, "verifier '%s' set no status", v->name);
    else if (!isfinite(out->score) || out->score < 0 || out->score > 1)
        verify_result_set(out, "error", 0, "verifier '%s' returned score %g, outside [0, 1]", v->name, out->score);
}

void verifier_grade(const VerifierSet *s, const VerifyJob *job, VerifyResult *out) {
    double t0 = rs_now();
    memset(out, 0, sizeof *out);
    const Verifier *v = job->verifier ? verifier_set_find(s, job->verifier) : NULL;
    if (!v) {
        Buf known = {0};
        names_of(s, &known);
        verify_result_set(out, "error", 0, "unknown verifier '%s' (known: %s)", job->verifier ? job->verifier : "",
                          known.data);
        buf_free(&known);
    } else {
        VerifyJob j = *job;
        j.limits = limits_with_defaults(job->limits);
        Err e = {{0}};
        if (v->grade(v, &j, out, &e) != 0) {
            verify_result_free(out);
            verify_result_set(out, "error", 0, "verifier '%s': %s", v->name, e.msg[0] ? e.msg : "failed");
        } else {
            check_result(v, out);
        }
    }
    out->elapsed_ms = 1e3 * (rs_now() - t0);
}

// ---------------------------------------------------------------------------
// results

void verify_result_set(VerifyResult *r, const char *status, double score, const char *fmt, ...) {
    snprintf(r->status, sizeof r->status, "%s", status);
    r->score = score;
    r->all_passed = score >= 1.0;
    free(r->detail);
    r->detail = NULL;
    if (!fmt) return;
    Buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    r->detail = buf_take(&b);
}

void verify_result_free(VerifyResult *r) {
    if (!r) return;
    free(r->detail);
    free(r->extracted);
    free(r->out_stdout);
    free(r->out_stderr);
    r->detail = r->extracted = r->out_stdout = r->out_stderr = NULL;
}

cJSON *verify_result_to_json(const char *id, const VerifyResult *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "id", id ? cJSON_CreateString(id) : cJSON_CreateNull());
    cJSON_AddNumberToObject(j, "score", r->score);
    cJSON_AddStringToObject(j, "status", r->status);
    cJSON_AddStringToObject(j, "detail", r->detail ? r->detail : "");
    cJSON_AddNumberToObject(j, "elapsed_ms", round(r->elapsed_ms * 1000) / 1000);
    cJSON_AddBoolToObject(j, "all_passed", r->all_passed);
    if (r->extracted) cJSON_AddStringToObject(j, "extracted", r->extracted);
    if (r->out_stdout) cJSON_AddStringToObject(j, "stdout", r->out_stdout);
    if (r->out_stderr) cJSON_AddStringToObject(j, "stderr", r->out_stderr);
    if (r->isolation[0]) cJSON_AddStringToObject(j, "isolation", r->isolation);
    return j;
}

static char *opt_strdup(const cJSON *j, const char *key) {
    const char *s = json_opt_str(j, key, NULL);
    return s ? xstrdup(s) : NULL;
}

int verify_result_from_json(const cJSON *j, VerifyResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(j)) return err_set(e, "result: expected a JSON object");
    const char *status;
    if (json_get_num(j, "score", &r->score, "result", e) || json_get_str(j, "status", &status, "result", e)) return -1;
    if (!isfinite(r->score) || r->score < 0 || r->score > 1)
        return err_set(e, "result: field 'score': %g is outside [0, 1]", r->score);
    if (!status[0] || strlen(status) >= sizeof r->status)
        return err_set(e, "result: field 'status': expected 1-%zu characters", sizeof r->status - 1);
    snprintf(r->status, sizeof r->status, "%s", status);
    r->all_passed = json_opt_bool(j, "all_passed", r->score >= 1.0);
    r->elapsed_ms = json_opt_num(j, "elapsed_ms", 0);
    r->detail = opt_strdup(j, "detail");
    r->extracted = opt_strdup(j, "extracted");
    r->out_stdout = opt_strdup(j, "stdout");
    r->out_stderr = opt_strdup(j, "stderr");
    snprintf(r->isolation, sizeof r->isolation, "%s", json_opt_str(j, "isolation", ""));
    return 0;
}

// ---------------------------------------------------------------------------
// jobs

static int limit_num(const cJSON *v, const char *key, double lo, double hi, double *out, Err *e) {
    if (!cJSON_IsNumber(v)) return err_set(e, "job: field 'limits.%s': expected a number", key);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return err_set(e, "job: field 'limits.%s': %g is outside [%g, %g]", key, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return 0;
}

static int parse_limits(const cJSON *l, VerifyLimits *out, Err *e) {
    *out = limits_with_defaults((VerifyLimits){0});
    if (!l) return 0;
    if (!cJSON_IsObject(l)) return err_set(e, "job: field 'limits': expected an object");
    for (const cJSON *v = l->child; v; v = v->next) {
        const char *k = v->string;
        double d;
        if (strcmp(k, "time_s") == 0) {
            if (limit_num(v, k, 0.001, 3600, &out->time_s, e)) return -1;
        } else if (strcmp(k, "memory_mb") == 0) {
            if (limit_num(v, k, 16, 1 << 20, &d, e)) return -1;
            out->memory_mb = (int)d;
        } else if (strcmp(k, "output_kb") == 0) {
            if (limit_num(v, k, 1, 1 << 20, &d, e)) return -1;
            out->output_kb = (int)d;
        } else if (strcmp(k, "return_output") == 0) {
            if (!cJSON_IsBool(v)) return err_set(e, "job: field 'limits.return_output': expected true or false");
            out->return_output = cJSON_IsTrue(v);
        } else {
            return err_set(e, "job: field 'limits.%.64s': unknown (expected time_s, memory_mb, output_kb, return_output)",
                           k);
        }
    }
    return 0;
}

// Ids are strings; integer ids (common in datasets) are taken as their text.
static int parse_id(const cJSON *j, char **out, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (!v) return err_set(e, "job: field 'id': missing");
    if (cJSON_IsString(v)) {
        *out = xstrdup(v->valuestring);
        return 0;
    }
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9007199254740992.0) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%.0f", v->valuedouble);
        *out = xstrdup(tmp);
        return 0;
    }
    return err_set(e, "job: field 'id': expected a string or an integer");
}

int verify_job_from_json(const cJSON *j, VerifyJob *job, Err *e) {
    memset(job, 0, sizeof *job);
    if (!cJSON_IsObject(j)) return err_set(e, "job: expected a JSON object");
    const char *verifier, *response;
    if (parse_id(j, &job->id, e)) goto fail;
    if (json_get_str(j, "verifier", &verifier, "job", e) || json_get_str(j, "response", &response, "job", e)) goto fail;
    size_t n = strlen(response);
    if (n > VERIFY_MAX_RESPONSE) {
        err_set(e, "job: field 'response': %zu bytes, over the limit of %d", n, VERIFY_MAX_RESPONSE);
        goto fail;
    }
    const cJSON *problem = cJSON_GetObjectItemCaseSensitive(j, "problem");
    if (!problem) {
        err_set(e, "job: field 'problem': missing");
        goto fail;
    }
    if (!cJSON_IsObject(problem)) {
        err_set(e, "job: field 'problem': expected an object");
        goto fail;
    }
    if (parse_limits(cJSON_GetObjectItemCaseSensitive(j, "limits"), &job->limits, e)) goto fail;
    job->verifier = xstrdup(verifier);
    job->response = xstrndup(response, n);
    job->problem = cJSON_Duplicate(problem, 1);
    RS_CHECK(job->problem);
    return 0;
fail:
    verify_job_free(job);
    return -1;
}

cJSON *verify_job_to_json(const VerifyJob *job) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", job->id ? job->id : "");
    cJSON_AddStringToObject(j, "verifier", job->verifier ? job->verifier : "");
    cJSON_AddStringToObject(j, "response", job->response ? job->response : "");
    cJSON_AddItemToObject(j, "problem", job->problem ? cJSON_Duplicate(job->problem, 1) : cJSON_CreateObject());
    const VerifyLimits *l = &job->limits;
    if (l->time_s > 0 || l->memory_mb > 0 || l->output_kb > 0 || l->return_output) {
        cJSON *lj = cJSON_AddObjectToObject(j, "limits");
        if (l->time_s > 0) cJSON_AddNumberToObject(lj, "time_s", l->time_s);
        if (l->memory_mb > 0) cJSON_AddNumberToObject(lj, "memory_mb", l->memory_mb);
        if (l->output_kb > 0) cJSON_AddNumberToObject(lj, "output_kb", l->output_kb);
        if (l->return_output) cJSON_AddBoolToObject(lj, "return_output", 1);
    }
    return j;
}

void verify_job_free(VerifyJob *job) {
    if (!job) return;
    free(job->id);
    free(job->verifier);
    free(job->response);
    cJSON_Delete(job->problem);
    memset(job, 0, sizeof *job);
}
