// plugin.c: external verifiers (plugin.h): the job as JSON on the plugin's
// stdin, its result JSON from stdout, the plugin itself in the sandbox.
//   reasoner verify --plugin countdown=plugins/countdown < jobs.jsonl
#include "verifier/plugin.h"

#include <ctype.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"

#define PLUGIN_MAX_BYTES (64u << 20)
#define PLUGIN_OUTPUT_KB 1024

static char *job_json(const VerifyJob *job) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", job->id ? job->id : "");
    cJSON_AddStringToObject(j, "verifier", job->verifier ? job->verifier : "");
    cJSON_AddStringToObject(j, "response", job->response ? job->response : "");
    cJSON_AddItemToObject(j, "problem", job->problem ? cJSON_Duplicate(job->problem, 1) : cJSON_CreateObject());
    cJSON *l = cJSON_AddObjectToObject(j, "limits");
    if (job->limits.time_s > 0) cJSON_AddNumberToObject(l, "time_s", job->limits.time_s);
    if (job->limits.memory_mb > 0) cJSON_AddNumberToObject(l, "memory_mb", job->limits.memory_mb);
    if (job->limits.output_kb > 0) cJSON_AddNumberToObject(l, "output_kb", job->limits.output_kb);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static int valid_status(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((VerifyResult *)0)->status)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

// The plugin's stdout into out. -1 + e when it is not a valid result.
static int read_result(const char *name, const char *text, VerifyResult *out, Err *e) {
    Err pe;
    cJSON *j = json_parse(text, strlen(text), "stdout", 1, &pe);
    if (!j) return err_set(e, "plugin %s: %s", name, pe.msg);
    int rc = 0;
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(j, "score");
    const char *status = json_opt_str(j, "status", NULL);
    if (!cJSON_IsObject(j)) rc = err_set(e, "plugin %s: stdout: expected a JSON object", name);
    else if (!cJSON_IsNumber(score) || !(score->valuedouble >= 0 && score->valuedouble <= 1))
        rc = err_set(e, "plugin %s: stdout: field 'score': expected a number in [0, 1]", name);
    else if (status && !valid_status(status))
        rc = err_set(e, "plugin %s: stdout: field 'status': expected a short lower-case word", name);
    if (rc == 0) {
        out->score = score->valuedouble;
        out->all_passed = json_opt_bool(j, "all_passed", out->score >= 1.0);
        snprintf(out->status, sizeof out->status, "%s", status ? status : out->score >= 1.0 ? "correct" : "wrong");
        const char *detail = json_opt_str(j, "detail", NULL), *extracted = json_opt_str(j, "extracted", NULL);
        free(out->detail), free(out->extracted);
        out->detail = detail ? xstrdup(detail) : NULL;
        out->extracted = extracted ? xstrdup(extracted) : NULL;
    }
    cJSON_Delete(j);
    return rc;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int vplugin_grade_with(const Sandbox *s, const char *path, const VerifyJob *job, VerifyResult *out, Err *e) {
    const char *name = base_name(path);
    char *exe = NULL;
    size_t exe_len = 0;
    if (fs_read_all(path, &exe, &exe_len, e) != 0) return err_wrap(e, "plugin %s", name);
    if (exe_len > PLUGIN_MAX_BYTES) {
        free(exe);
        return err_set(e, "plugin %s: %s is over %u MB", name, path, PLUGIN_MAX_BYTES >> 20);
    }
    char *in = job_json(job);
    SbxFile file = {.name = "plugin", .data = exe, .len = exe_len, .executable = 1};
    const char *argv[] = {"./plugin", NULL};
    SbxRun run = {.argv = argv, .stdin_data = in, .stdin_len = strlen(in), .files = &file, .nfiles = 1,
                  .limits = {.time_s = job->limits.time_s, .memory_mb = job->limits.memory_mb,
                             .output_kb = PLUGIN_OUTPUT_KB}};
    SbxResult r;
    int rc = sbx_run(s, &run, &r, e);
    free(in), free(exe);
    if (rc != 0) return err_wrap(e, "plugin %s", name);
    if (r.status != SBX_OK) {
        Buf why = {0};
        const char *end = r.err + r.err_len;
        while (end > r.err && isspace((unsigned char)end[-1])) end--;
        const char *start = end;
        while (start > r.err && start[-1] != '\n') start--;
        buf_append(&why, start, (size_t)(end - start));
        rc = err_set(e, "plugin %s: %s (%s)%s%s", name, sbx_status_name(r.status), r.detail, why.len ? ": " : "",
                     why.len ? why.data : "");
        buf_free(&why);
    } else {
        rc = read_result(name, r.out, out, e);
    }
    if (rc == 0) snprintf(out->isolation, sizeof out->isolation, "%s", sbx_isolation(s));
    if (rc == 0 && job->limits.return_output) {
        out->out_stdout = xstrdup(r.out);
        out->out_stderr = xstrdup(r.err);
    }
    sbx_result_free(&r);
    return rc;
}

int vplugin_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    if (!self->plugin_path) return err_set(e, "verifier %s: no plugin path", self->name ? self->name : "?");
    const Sandbox *s = sbx_shared(e);
    if (!s) return -1;
    return vplugin_grade_with(s, self->plugin_path, job, out, e);
}
