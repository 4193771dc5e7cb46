// data_input.c: where documents come from. A byte source that reads plain
// or gzip'd files (multi-member gzip as Common Crawl writes it, surviving a
// damaged member), a buffered line/record reader on top, one reader per
// input kind (WARC, JSONL, HTML file, text file), and the expansion of
// --input paths into a sorted list of files.
//   reasoner data run --input crawl/ docs.jsonl.gz page.html --out out/
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/gzsrc.h"
#include "common/jsonl.h"
#include "data/pipeline.h"

// ---------------------------------------------------------------------------
// the byte source: common/gzsrc.h, its breaks as the pipeline's rules

DataSrc *data_src_open(const char *path, Err *e) { return gzsrc_open(path, e); }
DataSrc *data_src_mem(const void *data, size_t n) { return gzsrc_mem(data, n); }
long data_src_read(DataSrc *s, void *buf, size_t n, Err *e) { return gzsrc_read(s, buf, n, e); }
int64_t data_src_consumed(const DataSrc *s) { return gzsrc_consumed(s); }
void data_src_close(DataSrc *s) { gzsrc_close(s); }

DataRule data_src_take_error(DataSrc *s) {
    GzBreak b = gzsrc_take_break(s);
    return b == GZ_CORRUPT ? DATA_R_IN_GZIP_CORRUPT : b == GZ_TRUNCATED ? DATA_R_IN_GZIP_TRUNCATED : DATA_R_NONE;
}

// ---------------------------------------------------------------------------
// the buffered reader

void data_in_init(DataIn *in, DataSrc *src) {
    memset(in, 0, sizeof *in);
    in->src = src;
    in->cap = 1 << 16;
    in->buf = xmalloc(in->cap);
}

void data_in_free(DataIn *in) {
    data_src_close(in->src);
    free(in->buf);
    memset(in, 0, sizeof *in);
}

// Read more after what is buffered. >0 bytes added, 0 end or break, -1 error.
static long in_fill(DataIn *in, Err *e) {
    if (in->pos > 0) {
        memmove(in->buf, in->buf + in->pos, in->len - in->pos);
        in->len -= in->pos, in->pos = 0;
    }
    if (in->len == in->cap) {
        in->cap *= 2;
        in->buf = xrealloc(in->buf, in->cap);
    }
    long got = data_src_read(in->src, in->buf + in->len, in->cap - in->len, e);
    if (got > 0) in->len += (size_t)got;
    if (got == 0) {
        in->brk = data_src_take_error(in->src);
        if (in->brk) in->pos = in->len;  // what was buffered belongs to the damaged record
    }
    return got;
}

int data_in_line(DataIn *in, size_t max, const char **line, size_t *n, int *too_long, Err *e) {
    *too_long = 0;
    size_t scanned = 0;
    for (;;) {
        char *nl = memchr(in->buf + in->pos + scanned, '\n', in->len - in->pos - scanned);
        if (nl) {
            size_t len = (size_t)(nl - (in->buf + in->pos));
            *line = in->buf + in->pos;
            in->pos += len + 1;
            if (len && (*line)[len - 1] == '\r') len--;
            *n = len;
            if (*too_long) *n = 0;
            return 1;
        }
        scanned = in->len - in->pos;
        if (scanned > max) {  // drop what we have of the long line, keep looking for its end
            *too_long = 1;
            in->pos = in->len;
            scanned = 0;
        }
        long got = in_fill(in, e);
        if (got < 0) return -1;
        if (got == 0) {
            if (in->brk || in->len == in->pos) return 0;
            *line = in->buf + in->pos, *n = in->len - in->pos;  // a last line without '\n'
            in->pos = in->len;
            if (*too_long) *n = 0;
            return 1;
        }
    }
}

int data_in_read(DataIn *in, size_t n, Buf *out, Err *e) {
    while (n > 0) {
        if (in->pos == in->len) {
            long got = in_fill(in, e);
            if (got < 0) return -1;
            if (got == 0) return 0;
        }
        size_t k = RS_MIN(n, in->len - in->pos);
        if (out) buf_append(out, in->buf + in->pos, k);
        in->pos += k, n -= k;
    }
    return 1;
}

// ---------------------------------------------------------------------------
// records and readers

void data_record_clear(DataRecord *r) {
    free(r->id), free(r->url), free(r->body);
    memset(r, 0, sizeof *r);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

int data_input_kind_of(const char *path) {
    if (ends_with(path, ".warc") || ends_with(path, ".warc.gz")) return DATA_IN_WARC;
    if (ends_with(path, ".jsonl") || ends_with(path, ".jsonl.gz")) return DATA_IN_JSONL;
    if (ends_with(path, ".html") || ends_with(path, ".htm") || ends_with(path, ".xhtml")) return DATA_IN_HTML;
    if (ends_with(path, ".txt") || ends_with(path, ".txt.gz")) return DATA_IN_TEXT;
    return -1;
}

struct DataReader {
    DataInKind kind;
    char *path;
    int64_t max;
    DataWarc *warc;  // WARC
    DataIn in;       // JSONL
    long line;
    int done;        // HTML/TEXT: the one record was returned
    int64_t size;    // HTML/TEXT: the file's size
};

DataReader *data_reader_open(const char *path, int64_t max_doc_bytes, Err *e) {
    int kind = data_input_kind_of(path);
    if (kind < 0) {
        err_set(e, "%s: unknown input type (expected .warc[.gz], .jsonl[.gz], .html, .htm, .xhtml, .txt[.gz])", path);
        return NULL;
    }
    DataReader *r = xcalloc(1, sizeof *r);
    r->kind = kind, r->path = xstrdup(path), r->max = max_doc_bytes;
    if (kind == DATA_IN_WARC || kind == DATA_IN_JSONL || ends_with(path, ".gz")) {
        DataSrc *src = data_src_open(path, e);
        if (!src) {
            data_reader_close(r);
            return NULL;
        }
        if (kind == DATA_IN_WARC) r->warc = data_warc_new(src, path, max_doc_bytes);
        else data_in_init(&r->in, src);
    }
    return r;
}

// A whole small file as one record (HTML or text).
static int next_file(DataReader *r, DataRecord *out, Err *e) {
    if (r->done) return 0;
    r->done = 1;
    out->id = xstrdup(r->path);
    out->kind = r->kind == DATA_IN_HTML ? DATA_KIND_HTML : DATA_KIND_TEXT;
    if (r->in.src) {  // .txt.gz
        Buf b = {0};
        int rc = data_in_read(&r->in, (size_t)r->max + 1, &b, e);
        if (rc < 0) return buf_free(&b), -1;
        out->raw_bytes = (int64_t)b.len;
        r->size = data_src_consumed(r->in.src);
        if (r->in.brk) out->reason = r->in.brk;
        else if (b.len > (size_t)r->max) out->reason = DATA_R_IN_TOO_LARGE;
        out->len = b.len;
        out->body = buf_take(&b);
        return 1;
    }
    struct stat st;
    if (stat(r->path, &st) != 0) return err_errno(e, "%s: cannot stat", r->path);
    out->raw_bytes = r->size = st.st_size;
    out->url = xmalloc(strlen(r->path) + 8);
    sprintf(out->url, "file://%s", r->path);
    if (st.st_size > r->max) {
        out->reason = DATA_R_IN_TOO_LARGE;  // never read into memory
        return 1;
    }
    return fs_read_all(r->path, &out->body, &out->len, e) ? -1 : 1;
}

static int next_jsonl(DataReader *r, DataRecord *out, Err *e) {
    const char *line;
    size_t n;
    int too_long;
    for (;;) {
        int rc = data_in_line(&r->in, (size_t)r->max * 2 + 4096, &line, &n, &too_long, e);
        if (rc <= 0) {
            if (rc == 0 && r->in.brk) {  // a damaged gzip member in a .jsonl.gz
                out->reason = r->in.brk;
                r->in.brk = 0;
                return 1;
            }
            return rc;
        }
        r->line++;
        char ctx[64];
        snprintf(ctx, sizeof ctx, ":%ld", r->line);
        out->raw_bytes = (int64_t)n + 1;
        out->kind = DATA_KIND_TEXT;
        if (too_long) {
            out->reason = DATA_R_IN_TOO_LARGE;
            out->id = xmalloc(strlen(r->path) + 32);
            sprintf(out->id, "%s%s", r->path, ctx);
            return 1;
        }
        if (n == 0) continue;
        Err pe;
        cJSON *j = jsonl_parse_line(line, n, r->path, r->line, &pe);
        const cJSON *text = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
        const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "id") : NULL;
        const cJSON *url = j ? cJSON_GetObjectItemCaseSensitive(j, "url") : NULL;
        if (cJSON_IsString(id)) out->id = xstrdup(id->valuestring);
        else if (cJSON_IsNumber(id)) out->id = xmalloc(32), snprintf(out->id, 32, "%.17g", id->valuedouble);
        else out->id = xmalloc(strlen(r->path) + 32), sprintf(out->id, "%s%s", r->path, ctx);
        if (cJSON_IsString(url)) out->url = xstrdup(url->valuestring);
        if (cJSON_IsString(text)) {
            out->len = strlen(text->valuestring);
            out->body = xstrndup(text->valuestring, out->len);
        } else {
            out->reason = DATA_R_IN_BAD_JSONL;
        }
        cJSON_Delete(j);
        return 1;
    }
}

int data_reader_next(DataReader *r, DataRecord *out, int64_t *not_docs, Err *e) {
    data_record_clear(out);
    switch (r->kind) {
    case DATA_IN_WARC: return data_warc_next(r->warc, out, not_docs, e);
    case DATA_IN_JSONL: return next_jsonl(r, out, e);
    default: return next_file(r, out, e);
    }
}

int64_t data_reader_consumed(const DataReader *r) {
    if (r->warc) return data_warc_consumed(r->warc);
    if (r->in.src) return data_src_consumed(r->in.src);
    return r->done ? r->size : 0;
}

void data_reader_close(DataReader *r) {
    if (!r) return;
    data_warc_free(r->warc);
    if (r->in.buf) data_in_free(&r->in);
    free(r->path);
    free(r);
}

// ---------------------------------------------------------------------------
// --input expansion

typedef struct FileList {
    DataInputFile *f;
    int n, cap;
} FileList;

static void list_push(FileList *l, const char *path, const struct stat *st) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->f = xrealloc(l->f, (size_t)l->cap * sizeof *l->f);
    }
    l->f[l->n++] = (DataInputFile){xstrdup(path), st->st_size, (int64_t)st->st_mtime};
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int walk_dir(const char *dir, int depth, FileList *l, Err *e) {
    if (depth > 32) return err_set(e, "%s: folders nested deeper than 32 (a symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return err_errno(e, "%s: cannot open folder", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;  // hidden files, ".", ".."
        names = data_grow(names, &cap, n + 1, sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = fs_join(dir, names[i]);
        struct stat st;
        if (rc == 0 && stat(p, &st) == 0) {  // stat follows symlinks; dangling ones are skipped
            if (S_ISDIR(st.st_mode)) rc = walk_dir(p, depth + 1, l, e);
            else if (S_ISREG(st.st_mode) && data_input_kind_of(p) >= 0) list_push(l, p, &st);
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

int data_inputs_expand(const char *const *paths, int n, DataInputFile **out, int *nout, Err *e) {
    FileList l = {0};
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            data_inputs_free(l.f, l.n);
            return err_errno(e, "%s: cannot read input", paths[i]);
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk_dir(paths[i], 0, &l, e)) {
                data_inputs_free(l.f, l.n);
                return -1;
            }
        } else if (data_input_kind_of(paths[i]) < 0) {
            data_inputs_free(l.f, l.n);
            return err_set(e, "%s: unknown input type (expected .warc[.gz], .jsonl[.gz], .html, .htm, .xhtml, .txt[.gz])",
                           paths[i]);
        } else {
            list_push(&l, paths[i], &st);
        }
    }
    // The same file named twice (directly and inside a folder) is read once.
    DataHMap seen = {0};
    data_hmap_reset(&seen, (size_t)l.n);
    int k = 0;
    for (int i = 0; i < l.n; i++) {
        int is_new;
        DataHEntry *h = data_hmap_get(&seen, XXH3_64bits(l.f[i].path, strlen(l.f[i].path)), (uint32_t)k, &is_new);
        if (!is_new && !strcmp(l.f[h->first].path, l.f[i].path)) free(l.f[i].path);
        else l.f[k++] = l.f[i];
    }
    data_hmap_free(&seen);
    *out = l.f, *nout = k;
    return 0;
}

void data_inputs_free(DataInputFile *f, int n) {
    for (int i = 0; f && i < n; i++) free(f[i].path);
    free(f);
}
