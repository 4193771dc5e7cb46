// fsutil.c: atomic file writes (temp, fsync, rename, fsync dir) and paths.
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "buf.h"

struct AtomicFile {
    FILE *fp;
    char *path;
    char *tmp;
};

AtomicFile *afile_open(const char *path, Err *e) {
    AtomicFile *f = xcalloc(1, sizeof *f);
    f->path = xstrdup(path);
    size_t n = strlen(path) + 32;
    f->tmp = xmalloc(n);
    snprintf(f->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        err_errno(e, "%s: cannot create temp file", path);
        free(f->tmp), f->tmp = NULL;
        afile_abort(f);
        return NULL;
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        err_errno(e, "%s: fdopen", path);
        afile_abort(f);
        return NULL;
    }
    return f;
}

FILE *afile_fp(AtomicFile *f) { return f->fp; }

static int fsync_dir_of(const char *path) {
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int afile_commit(AtomicFile *f, Err *e) {
    int rc = 0;
    if (fflush(f->fp) != 0 || ferror(f->fp)) rc = err_errno(e, "%s: write failed", f->path);
    else if (fsync(fileno(f->fp)) != 0) rc = err_errno(e, "%s: fsync failed", f->path);
    if (fclose(f->fp) != 0 && rc == 0) rc = err_errno(e, "%s: close failed", f->path);
    f->fp = NULL;
    if (rc == 0 && rename(f->tmp, f->path) != 0) rc = err_errno(e, "%s: rename failed", f->path);
    if (rc == 0) {
        fsync_dir_of(f->path);
        free(f->tmp), f->tmp = NULL;
    }
    afile_abort(f);
    return rc;
}

void afile_abort(AtomicFile *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    free(f);
}

int fs_write_atomic(const char *path, const void *data, size_t n, Err *e) {
    AtomicFile *f = afile_open(path, e);
    if (!f) return -1;
    if (n && fwrite(data, 1, n, f->fp) != n) {
        err_errno(e, "%s: write failed", path);
        afile_abort(f);
        return -1;
    }
    return afile_commit(f, e);
}

int fs_read_all(const char *path, char **out, size_t *n, Err *e) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) return err_errno(e, "%s: cannot open", path);
    Buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) buf_append(&b, chunk, got);
    int bad = ferror(fp);
    if (!is_stdin) fclose(fp);
    if (bad) {
        buf_free(&b);
        return err_errno(e, "%s: read failed", path);
    }
    if (n) *n = b.len;
    *out = buf_take(&b);
    return 0;
}

int fs_mkdir_p(const char *path, Err *e) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            err_errno(e, "%s: mkdir", p);
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST) rc = err_errno(e, "%s: mkdir", p);
    else if (!fs_is_dir(p)) rc = err_set(e, "%s: exists and is not a directory", p);
    free(p);
    return rc;
}

int fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fs_join(const char *a, const char *b) {
    size_t la = strlen(a);
    int slash = la > 0 && a[la - 1] != '/';
    size_t n = la + strlen(b) + 2;
    char *s = xmalloc(n);
    snprintf(s, n, "%s%s%s", a, slash ? "/" : "", b);
    return s;
}
