// data_output.c: the pipeline's output shards. Documents go, in order, into
// shard-00000.jsonl, shard-00001.jsonl, ... (".jsonl.gz" when gzip is asked
// for), each cut at a size or a document count and written atomically: a
// reader (or a crash) never sees half a shard. Shards left from an earlier
// run beyond the new last one are removed when the writer closes.
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "data/pipeline.h"

struct DataShards {
    char *dir;
    int gzip, index;
    int64_t max_bytes, max_docs, bytes, docs;
    AtomicFile *af;
    z_stream z;
    unsigned char zbuf[1 << 16];
};

void data_shard_name(int i, int gzip, char *out) { snprintf(out, 32, "shard-%05d.jsonl%s", i, gzip ? ".gz" : ""); }

DataShards *data_shards_new(const char *dir, int gzip, int64_t max_bytes, int64_t max_docs) {
    DataShards *w = xcalloc(1, sizeof *w);
    w->dir = xstrdup(dir);
    w->gzip = gzip, w->max_bytes = max_bytes, w->max_docs = max_docs;
    return w;
}

static int open_shard(DataShards *w, Err *e) {
    char name[32];
    data_shard_name(w->index, w->gzip, name);
    char *path = fs_join(w->dir, name);
    w->af = afile_open(path, e);
    free(path);
    if (!w->af) return -1;
    if (w->gzip) {
        memset(&w->z, 0, sizeof w->z);
        RS_CHECK(deflateInit2(&w->z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    }
    w->bytes = w->docs = 0;
    return 0;
}

// Push data (or, with flush = Z_FINISH, the end) through deflate to the file.
static int deflate_out(DataShards *w, const char *data, size_t n, int flush, Err *e) {
    w->z.next_in = (unsigned char *)data;
    w->z.avail_in = (uInt)n;
    do {
        w->z.next_out = w->zbuf;
        w->z.avail_out = sizeof w->zbuf;
        int rc = deflate(&w->z, flush);
        RS_CHECK(rc != Z_STREAM_ERROR);
        size_t k = sizeof w->zbuf - w->z.avail_out;
        if (k && fwrite(w->zbuf, 1, k, afile_fp(w->af)) != k) return err_errno(e, "%s: write failed", w->dir);
    } while (w->z.avail_out == 0 || (flush == Z_FINISH && w->z.avail_in > 0));
    return 0;
}

static int commit_shard(DataShards *w, Err *e) {
    if (w->gzip) {
        int rc = deflate_out(w, "", 0, Z_FINISH, e);
        deflateEnd(&w->z);
        if (rc) return -1;
    }
    AtomicFile *af = w->af;
    w->af = NULL;
    w->index++;
    return afile_commit(af, e);
}

int data_shards_write(DataShards *w, const char *line, size_t n, Err *e) {
    if (!w->af && open_shard(w, e)) return -1;
    if (w->gzip) {
        if (deflate_out(w, line, n, Z_NO_FLUSH, e)) return -1;
    } else if (fwrite(line, 1, n, afile_fp(w->af)) != n) {
        return err_errno(e, "%s: write failed", w->dir);
    }
    w->bytes += (int64_t)n, w->docs++;
    if ((w->max_bytes > 0 && w->bytes >= w->max_bytes) || (w->max_docs > 0 && w->docs >= w->max_docs))
        return commit_shard(w, e);
    return 0;
}

// Remove shards numbered from `from` on, of either compression.
static void remove_stale(const char *dir, int from) {
    for (int i = from;; i++) {
        int found = 0;
        for (int gz = 0; gz < 2; gz++) {
            char name[32];
            data_shard_name(i, gz, name);
            char *path = fs_join(dir, name);
            found |= unlink(path) == 0;
            free(path);
        }
        if (!found) break;
    }
}

int data_shards_close(DataShards *w, int *count, Err *e) {
    int rc = 0;
    if (w->af) rc = commit_shard(w, e);
    if (rc == 0) {
        remove_stale(w->dir, w->index);
        // A run that wrote nothing leaves no shard of the other compression either.
        for (int i = 0; i < w->index; i++) {
            char name[32];
            data_shard_name(i, !w->gzip, name);
            char *path = fs_join(w->dir, name);
            unlink(path);
            free(path);
        }
    }
    if (count) *count = w->index;
    free(w->dir);
    free(w);
    return rc;
}

void data_shards_abort(DataShards *w) {
    if (!w) return;
    if (w->af) {
        if (w->gzip) deflateEnd(&w->z);
        afile_abort(w->af);
    }
    free(w->dir);
    free(w);
}
