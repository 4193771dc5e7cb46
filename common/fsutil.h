// fsutil.h: files that are never half-written, and small path helpers.
// An AtomicFile writes to a temp file beside its target (same directory, so
// rename is atomic), and commit does fsync, rename over the target, fsync of
// the directory. A crash or kill -9 at any moment leaves either the old file
// or the new one, never a mix. Not thread-safe per object.
#pragma once
#include <stdio.h>

#include "err.h"

typedef struct AtomicFile AtomicFile;

// Open a temp file beside path for writing. NULL and e filled on failure.
AtomicFile *afile_open(const char *path, Err *e);
FILE *afile_fp(AtomicFile *f);
// Flush, fsync, rename over the target, fsync the directory. Frees f, even on
// failure (the temp file is then removed). Returns 0 or -1.
int afile_commit(AtomicFile *f, Err *e);
// Drop the temp file and free f; NULL is fine.
void afile_abort(AtomicFile *f);

// Write a whole buffer atomically. Returns 0 or -1.
int fs_write_atomic(const char *path, const void *data, size_t n, Err *e);
// Read a whole file (or stdin for "-"), NUL-terminated; *out is the caller's.
int fs_read_all(const char *path, char **out, size_t *n, Err *e);
// mkdir -p. Returns 0 or -1.
int fs_mkdir_p(const char *path, Err *e);
int fs_exists(const char *path);
int fs_is_dir(const char *path);
// "a/b", malloc'd; the caller frees.
char *fs_join(const char *a, const char *b);
