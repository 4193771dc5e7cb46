// log.h: leveled logging to stderr, so stdout stays clean for pipes.
// The threshold is process-wide (set once by cli/ from --verbose/--quiet or
// REASONER_LOG=debug|info|warn|error); it is the one piece of global state
// outside cli/, an atomic int, safe from any thread.
#pragma once

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 } LogLevel;

void log_set_level(LogLevel level);
LogLevel log_get_level(void);
// Parse "debug", "info", "warn", "error", "off"; returns -1 if unknown.
int log_level_parse(const char *name);
void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
