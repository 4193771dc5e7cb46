// log.c: leveled logging to stderr with a time stamp since process start.
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

static _Atomic int g_level = LOG_INFO;
static _Atomic double g_t0 = 0;  // set on first message

void log_set_level(LogLevel level) { atomic_store(&g_level, (int)level); }
LogLevel log_get_level(void) { return (LogLevel)atomic_load(&g_level); }

int log_level_parse(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < (int)RS_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void log_msg(LogLevel level, const char *fmt, ...) {
    if ((int)level < atomic_load(&g_level)) return;
    static const char *tags[] = {"debug", "info", "warn", "error", ""};
    double now = rs_now(), t0 = atomic_load(&g_t0);
    if (t0 == 0) { atomic_store(&g_t0, now); t0 = now; }
    char line[4096];
    int n = snprintf(line, sizeof line, "[%7.2fs %s] ", now - t0, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);  // one write per line: lines from threads do not interleave
}
