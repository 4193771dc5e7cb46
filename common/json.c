// json.c: typed, context-carrying access to cJSON values.
#include "json.h"

#include <math.h>
#include <string.h>

#include "base.h"
#include "fsutil.h"

cJSON *json_parse(const char *text, size_t n, const char *ctx, long first_line, Err *e) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (j) {
        // cJSON accepts trailing text; we do not, except whitespace.
        size_t at = (size_t)(end - text);
        while (at < n && (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n')) at++;
        if (at == n) return j;
        cJSON_Delete(j);
        end = text + at;
    }
    size_t off = end && end >= text && (size_t)(end - text) <= n ? (size_t)(end - text) : 0;
    long line = first_line, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') line++, col = 1;
        else col++;
    }
    char near[24];
    size_t k = 0;
    for (size_t i = off; i < n && k < 16 && text[i] != '\n'; i++)
        near[k++] = (text[i] >= 32 && text[i] < 127) ? text[i] : '?';
    near[k] = 0;
    if (n == 0 || off >= n) err_set(e, "%s:%ld:%ld: invalid JSON: unexpected end of input", ctx, line, col);
    else err_set(e, "%s:%ld:%ld: invalid JSON near '%s'", ctx, line, col, near);
    return NULL;
}

cJSON *json_read_file(const char *path, Err *e) {
    char *text;
    size_t n;
    if (fs_read_all(path, &text, &n, e) != 0) return NULL;
    cJSON *j = json_parse(text, n, path, 1, e);
    free(text);
    return j;
}

int json_write_file(const char *path, const cJSON *j, Err *e) {
    char *s = cJSON_Print(j);
    RS_CHECK(s != NULL);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n', s[n + 1] = 0;
    int rc = fs_write_atomic(path, s, n + 1, e);
    free(s);
    return rc;
}

char *json_compact(const cJSON *j) {
    char *s = cJSON_PrintUnformatted(j);
    RS_CHECK(s != NULL);
    return s;
}

int json_write_line(FILE *fp, const cJSON *j) {
    char *s = json_compact(j);
    int rc = fputs(s, fp) < 0 || fputc('\n', fp) == EOF ? -1 : 0;
    free(s);
    return rc;
}

static const cJSON *field(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

int json_get_str(const cJSON *obj, const char *key, const char **out, const char *ctx, Err *e) {
    const cJSON *v = field(obj, key);
    if (!v) return err_set(e, "%s: field '%s': missing", ctx, key);
    if (!cJSON_IsString(v)) return err_set(e, "%s: field '%s': expected a string", ctx, key);
    *out = v->valuestring;
    return 0;
}

int json_get_num(const cJSON *obj, const char *key, double *out, const char *ctx, Err *e) {
    const cJSON *v = field(obj, key);
    if (!v) return err_set(e, "%s: field '%s': missing", ctx, key);
    if (!cJSON_IsNumber(v)) return err_set(e, "%s: field '%s': expected a number", ctx, key);
    *out = v->valuedouble;
    return 0;
}

int json_get_int(const cJSON *obj, const char *key, int64_t *out, const char *ctx, Err *e) {
    double d;
    if (json_get_num(obj, key, &d, ctx, e) != 0) return -1;
    if (d != floor(d) || fabs(d) > 9007199254740992.0)
        return err_set(e, "%s: field '%s': expected an integer, got %g", ctx, key, d);
    *out = (int64_t)d;
    return 0;
}

const char *json_opt_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = field(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

int64_t json_opt_int(const cJSON *obj, const char *key, int64_t dflt) {
    const cJSON *v = field(obj, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

double json_opt_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = field(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int json_opt_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = field(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}
