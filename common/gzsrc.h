// gzsrc.h: the one gzip reader — a byte source over a file, a stream or
// memory that inflates gzip transparently (sniffed from the first bytes;
// plain input passes through), multi-member as Common Crawl writes it, and
// survives damage: a corrupt member resumes at the next gzip header and the
// damage is reported as a "break" the caller takes (the data pipeline counts
// it as a removed document). gzsrc_read_all reads a whole file, failing on
// any break (problem sets, configs). Not thread-safe per source.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef enum { GZ_OK = 0, GZ_CORRUPT, GZ_TRUNCATED } GzBreak;
typedef struct GzSrc GzSrc;

GzSrc *gzsrc_open(const char *path, Err *e);      // NULL and e when it cannot be opened
GzSrc *gzsrc_stream(FILE *fp);                    // takes ownership of fp
GzSrc *gzsrc_mem(const void *data, size_t n);     // data must outlive the source
// Up to n bytes of (inflated) data; 0 at the end or at a break (take it with
// gzsrc_take_break, then read on); -1 with e on a read error.
long gzsrc_read(GzSrc *s, void *buf, size_t n, Err *e);
GzBreak gzsrc_take_break(GzSrc *s);               // the pending break (GZ_OK: none), cleared
int64_t gzsrc_consumed(const GzSrc *s);           // input bytes read so far (compressed)
void gzsrc_close(GzSrc *s);                       // NULL is fine

// The whole of path ("-": stdin), inflated when gzip, into *out (malloc'd,
// NUL-terminated) and *n. -1 with e: unreadable, damaged or cut-short gzip.
int gzsrc_read_all(const char *path, char **out, size_t *n, Err *e);
