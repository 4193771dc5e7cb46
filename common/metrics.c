// metrics.c: the JSONL metrics writer.
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>

#include "base.h"
#include "json.h"

struct Metrics {
    FILE *fp;
    char *path;
};

Metrics *metrics_open(const char *path, int append, Err *e) {
    FILE *fp = fopen(path, append ? "ab" : "wb");
    if (!fp) {
        err_errno(e, "%s: cannot open metrics file", path);
        return NULL;
    }
    Metrics *m = xcalloc(1, sizeof *m);
    m->fp = fp;
    m->path = xstrdup(path);
    return m;
}

int metrics_write(Metrics *m, const cJSON *obj, Err *e) {
    if (json_write_line(m->fp, obj) != 0 || fflush(m->fp) != 0)
        return err_errno(e, "%s: write failed", m->path);
    return 0;
}

int metrics_log(Metrics *m, Err *e, ...) {
    cJSON *obj = cJSON_CreateObject();
    va_list ap;
    va_start(ap, e);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) cJSON_AddNumberToObject(obj, name, va_arg(ap, double));
    va_end(ap);
    int rc = metrics_write(m, obj, e);
    cJSON_Delete(obj);
    return rc;
}

void metrics_close(Metrics *m) {
    if (!m) return;
    fclose(m->fp);
    free(m->path);
    free(m);
}
