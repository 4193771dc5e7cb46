// jsonl.c: line-numbered JSONL reading on getline.
#include "jsonl.h"

#include <stdio.h>
#include <string.h>

#include "base.h"
#include "json.h"

struct JsonlReader {
    FILE *fp;
    int owns_fp;
    char *path;
    char *line;
    size_t cap;
    long lineno;
    long long offset;
};

JsonlReader *jsonl_open(const char *path, Err *e) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        err_errno(e, "%s: cannot open", path);
        return NULL;
    }
    JsonlReader *r = xcalloc(1, sizeof *r);
    r->fp = fp;
    r->owns_fp = !is_stdin;
    r->path = xstrdup(is_stdin ? "<stdin>" : path);
    return r;
}

cJSON *jsonl_parse_line(const char *text, size_t n, const char *path, long line, Err *e) {
    cJSON *j = json_parse(text, n, path, line, e);
    if (!j) return NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        err_set(e, "%s:%ld: expected a JSON object", path, line);
        return NULL;
    }
    return j;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

int jsonl_next(JsonlReader *r, cJSON **out, Err *e) {
    *out = NULL;
    for (;;) {
        ssize_t n = getline(&r->line, &r->cap, r->fp);
        if (n < 0) {
            if (ferror(r->fp)) return err_errno(e, "%s:%ld: read failed", r->path, r->lineno + 1);
            return 0;
        }
        r->lineno++;
        r->offset += n;
        if (is_blank(r->line, (size_t)n)) continue;
        if (memchr(r->line, 0, (size_t)n))
            return err_set(e, "%s:%ld: NUL byte in line", r->path, r->lineno);
        *out = jsonl_parse_line(r->line, (size_t)n, r->path, r->lineno, e);
        return *out ? 1 : -1;
    }
}

long jsonl_line(const JsonlReader *r) { return r->lineno; }
const char *jsonl_path(const JsonlReader *r) { return r->path; }
long long jsonl_offset(const JsonlReader *r) { return r->offset; }

void jsonl_close(JsonlReader *r) {
    if (!r) return;
    if (r->owns_fp) fclose(r->fp);
    free(r->line);
    free(r->path);
    free(r);
}
