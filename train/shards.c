// shards.c: token shard files, the split reader, the window loader and the
// shard writer. See shards.h for the format.
//   reasoner tokenize --tokenizer tok/tokenizer.json --input docs.jsonl --out data/
#include "shards.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/rng.h"
#include "tokenizer/bpe.h"

// ---------------------------------------------------------------------------
// Little-endian fields

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static int width_for_vocab(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

// ---------------------------------------------------------------------------
// Parsing one shard

static int check_ids(const ShardInfo *s, const char *path, Err *e) {
    for (int64_t i = 0; i < s->n_tokens; i++) {
        uint32_t id = shard_token(s, i);
        if (id >= s->vocab_size)
            return err_set(e, "%s: token %" PRId64 ": id %u is not below vocab_size %u", path, i, id, s->vocab_size);
    }
    return 0;
}

int shard_parse(const void *data, size_t n, const char *path, ShardInfo *out, Err *e) {
    const uint8_t *h = data;
    if (n < SHARD_HEADER_BYTES)
        return err_set(e, "%s: header: file is %zu bytes, shorter than the %d-byte header", path, n, SHARD_HEADER_BYTES);
    if (memcmp(h, SHARD_MAGIC, 8) != 0) return err_set(e, "%s: magic: not a reasoner token shard", path);
    uint32_t version = get_u32(h + 8);
    if (version != SHARD_VERSION)
        return err_set(e, "%s: version: %u is not supported (expected %d)", path, version, SHARD_VERSION);
    ShardInfo s = {0};
    s.token_width = (int)get_u32(h + 12);
    if (s.token_width != 2 && s.token_width != 4)
        return err_set(e, "%s: token_width: %d (expected 2 or 4)", path, s.token_width);
    uint64_t ntok = get_u64(h + 16);
    s.vocab_size = get_u32(h + 24);
    s.eot_id = get_u32(h + 28);
    s.checksum = get_u64(h + 32);
    if (s.vocab_size == 0) return err_set(e, "%s: vocab_size: 0", path);
    if (s.token_width == 2 && s.vocab_size > 65536)
        return err_set(e, "%s: vocab_size: %u does not fit token_width 2", path, s.vocab_size);
    if (s.eot_id >= s.vocab_size)
        return err_set(e, "%s: eot_id: %u is not below vocab_size %u", path, s.eot_id, s.vocab_size);
    for (int i = 40; i < SHARD_HEADER_BYTES; i++)
        if (h[i]) return err_set(e, "%s: header: reserved byte %d is not zero", path, i);
    size_t body = n - SHARD_HEADER_BYTES;
    if (ntok > body / (uint64_t)s.token_width || ntok * (uint64_t)s.token_width != body)
        return err_set(e, "%s: n_tokens: header says %" PRIu64 " tokens but the file holds %zu bytes of ids", path,
                       ntok, body);
    s.n_tokens = (int64_t)ntok;
    s.ids = h + SHARD_HEADER_BYTES;
    if (XXH64(s.ids, body, 0) != s.checksum)
        return err_set(e, "%s: checksum: the ids do not match the header's xxh64 (file corrupt)", path);
    if (check_ids(&s, path, e) != 0) return -1;
    *out = s;
    return 0;
}

// ---------------------------------------------------------------------------
// Writing one shard: stream ids into a temp file, then fill in the header.

typedef struct ShardFile {
    AtomicFile *af;
    char *path;
    XXH64_state_t *hash;
    int width;
    int64_t n;
    uint32_t vocab_size, eot_id;
} ShardFile;

static int shard_file_open(ShardFile *f, const char *path, uint32_t vocab_size, uint32_t eot_id, Err *e) {
    memset(f, 0, sizeof *f);
    f->af = afile_open(path, e);
    if (!f->af) return -1;
    f->path = xstrdup(path);
    f->hash = XXH64_createState();
    RS_CHECK(f->hash != NULL);
    XXH64_reset(f->hash, 0);
    f->width = width_for_vocab(vocab_size);
    f->vocab_size = vocab_size;
    f->eot_id = eot_id;
    uint8_t zero[SHARD_HEADER_BYTES] = {0};
    if (fwrite(zero, 1, sizeof zero, afile_fp(f->af)) != sizeof zero) return err_errno(e, "%s: write failed", path);
    return 0;
}

static int shard_file_put(ShardFile *f, const int32_t *ids, int64_t n, Err *e) {
    uint8_t buf[8192];
    int64_t per = (int64_t)sizeof buf / f->width;
    for (int64_t at = 0; at < n; at += per) {
        int64_t k = RS_MIN(per, n - at);
        for (int64_t i = 0; i < k; i++) {
            uint32_t id = (uint32_t)ids[at + i];
            RS_CHECK(ids[at + i] >= 0 && id < f->vocab_size);
            for (int b = 0; b < f->width; b++) buf[i * f->width + b] = (uint8_t)(id >> (8 * b));
        }
        size_t bytes = (size_t)(k * f->width);
        XXH64_update(f->hash, buf, bytes);
        if (fwrite(buf, 1, bytes, afile_fp(f->af)) != bytes) return err_errno(e, "%s: write failed", f->path);
    }
    f->n += n;
    return 0;
}

static void shard_file_close(ShardFile *f) {
    afile_abort(f->af);
    if (f->hash) XXH64_freeState(f->hash);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static int shard_file_commit(ShardFile *f, Err *e) {
    uint8_t h[SHARD_HEADER_BYTES] = {0};
    memcpy(h, SHARD_MAGIC, 8);
    put_u32(h + 8, SHARD_VERSION);
    put_u32(h + 12, (uint32_t)f->width);
    put_u64(h + 16, (uint64_t)f->n);
    put_u32(h + 24, f->vocab_size);
    put_u32(h + 28, f->eot_id);
    put_u64(h + 32, XXH64_digest(f->hash));
    FILE *fp = afile_fp(f->af);
    int rc = 0;
    if (fseek(fp, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, fp) != sizeof h)
        rc = err_errno(e, "%s: write failed", f->path);
    else rc = afile_commit(f->af, e);
    f->af = NULL;  // commit frees it, on failure too
    shard_file_close(f);
    return rc;
}

int shard_write(const char *path, const int32_t *ids, int64_t n, uint32_t vocab_size, uint32_t eot_id, Err *e) {
    RS_CHECK(eot_id < vocab_size);
    ShardFile f;
    if (shard_file_open(&f, path, vocab_size, eot_id, e) != 0 || shard_file_put(&f, ids, n, e) != 0) {
        shard_file_close(&f);
        return -1;
    }
    return shard_file_commit(&f, e);
}

// ---------------------------------------------------------------------------
// The writer of one split

struct ShardWriter {
    char *dir, *split;
    int64_t shard_tokens;
    uint32_t vocab_size, eot_id;
    ShardFile cur;  // cur.af == NULL: no shard open
    int64_t tokens, documents;
    cJSON *shards;  // [{"file", "tokens"}] of committed shards
};

ShardWriter *shard_writer_new(const char *dir, const char *split, int64_t shard_tokens, uint32_t vocab_size,
                              uint32_t eot_id) {
    RS_CHECK(shard_tokens > 0 && eot_id < vocab_size);
    ShardWriter *w = xcalloc(1, sizeof *w);
    w->dir = xstrdup(dir);
    w->split = xstrdup(split);
    w->shard_tokens = shard_tokens;
    w->vocab_size = vocab_size;
    w->eot_id = eot_id;
    w->shards = cJSON_CreateArray();
    return w;
}

static int writer_commit_current(ShardWriter *w, Err *e) {
    int64_t n = w->cur.n;
    if (shard_file_commit(&w->cur, e) != 0) return -1;
    char name[64];
    snprintf(name, sizeof name, "%s_%06d.bin", w->split, cJSON_GetArraySize(w->shards));
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "file", name);
    cJSON_AddNumberToObject(s, "tokens", (double)n);
    cJSON_AddItemToArray(w->shards, s);
    return 0;
}

// Append ids to the stream, opening and committing shard files as they fill.
static int writer_put(ShardWriter *w, const int32_t *ids, int64_t n, Err *e) {
    while (n > 0) {
        if (!w->cur.af) {
            char name[64];
            snprintf(name, sizeof name, "%s_%06d.bin", w->split, cJSON_GetArraySize(w->shards));
            char *path = fs_join(w->dir, name);
            int rc = shard_file_open(&w->cur, path, w->vocab_size, w->eot_id, e);
            free(path);
            if (rc != 0) return -1;
        }
        int64_t k = RS_MIN(n, w->shard_tokens - w->cur.n);
        if (shard_file_put(&w->cur, ids, k, e) != 0) return -1;
        ids += k, n -= k, w->tokens += k;
        if (w->cur.n == w->shard_tokens && writer_commit_current(w, e) != 0) return -1;
    }
    return 0;
}

int shard_writer_add(ShardWriter *w, const int32_t *ids, int64_t n, Err *e) {
    int32_t eot = (int32_t)w->eot_id;
    if (writer_put(w, &eot, 1, e) != 0 || writer_put(w, ids, n, e) != 0) return -1;
    w->documents++;
    return 0;
}

int shard_writer_finish(ShardWriter *w, Err *e) {
    if (w->cur.af && w->cur.n > 0) return writer_commit_current(w, e);
    return 0;
}

cJSON *shard_writer_summary(const ShardWriter *w) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "documents", (double)w->documents);
    cJSON_AddNumberToObject(j, "tokens", (double)w->tokens);
    cJSON_AddItemToObject(j, "shards", cJSON_Duplicate(w->shards, 1));
    return j;
}

int64_t shard_writer_tokens(const ShardWriter *w) { return w->tokens; }
int64_t shard_writer_documents(const ShardWriter *w) { return w->documents; }

void shard_writer_free(ShardWriter *w) {
    if (!w) return;
    shard_file_close(&w->cur);
    cJSON_Delete(w->shards);
    free(w->dir);
    free(w->split);
    free(w);
}

// ---------------------------------------------------------------------------
// A split: every shard mapped, one global token stream

typedef struct MappedShard {
    void *map;
    size_t len;
    ShardInfo info;
    int64_t start;  // position of its first token in the split's stream
} MappedShard;

struct ShardSet {
    MappedShard *shards;
    int n;
    int64_t tokens;
    uint32_t vocab_size, eot_id;
};

static int map_shard(const char *path, MappedShard *m, Err *e) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_errno(e, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return err_errno(e, "%s: stat", path);
    }
    m->len = (size_t)st.st_size;
    m->map = m->len ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (m->len && m->map == MAP_FAILED) {
        m->map = NULL;
        return err_errno(e, "%s: mmap", path);
    }
    return shard_parse(m->map ? m->map : "", m->len, path, &m->info, e);
}

// Check one manifest entry and map its file.
static int open_listed_shard(ShardSet *s, const char *dir, const cJSON *entry, const char *ctx, Err *e) {
    const char *file;
    int64_t tokens;
    if (json_get_str(entry, "file", &file, ctx, e) != 0 || json_get_int(entry, "tokens", &tokens, ctx, e) != 0)
        return -1;
    if (strchr(file, '/')) return err_set(e, "%s: field 'file': '%s' must be a plain file name", ctx, file);
    char *path = fs_join(dir, file);
    MappedShard *m = &s->shards[s->n++];
    int rc = map_shard(path, m, e);
    if (rc == 0 && m->info.n_tokens != tokens)
        rc = err_set(e, "%s: n_tokens: %" PRId64 " but %s lists %" PRId64, path, m->info.n_tokens, ctx, tokens);
    else if (rc == 0 && (m->info.vocab_size != s->vocab_size || m->info.eot_id != s->eot_id))
        rc = err_set(e, "%s: vocab_size/eot_id: %u/%u but %s says %u/%u", path, m->info.vocab_size, m->info.eot_id,
                     ctx, s->vocab_size, s->eot_id);
    free(path);
    m->start = s->tokens;
    s->tokens += m->info.n_tokens;
    return rc;
}

ShardSet *shard_set_open(const char *dir, const char *split, Err *e) {
    char *mpath = fs_join(dir, SHARD_MANIFEST);
    ShardSet *s = NULL;
    cJSON *man = NULL;
    if (!fs_exists(mpath)) {
        err_set(e, "%s: missing (not a data folder, or `reasoner tokenize` did not finish)", mpath);
        goto done;
    }
    if (!(man = json_read_file(mpath, e))) goto done;
    int64_t vocab, eot;
    if (json_get_int(man, "vocab_size", &vocab, mpath, e) != 0 || json_get_int(man, "eot_id", &eot, mpath, e) != 0)
        goto done;
    if (vocab <= 0 || vocab > UINT32_MAX || eot < 0 || eot >= vocab) {
        err_set(e, "%s: vocab_size/eot_id: %" PRId64 "/%" PRId64 " out of range", mpath, vocab, eot);
        goto done;
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(man, split);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(sp, "shards");
    if (!cJSON_IsArray(list)) {
        err_set(e, "%s: field '%s.shards': missing or not an array", mpath, split);
        goto done;
    }
    s = xcalloc(1, sizeof *s);
    s->vocab_size = (uint32_t)vocab;
    s->eot_id = (uint32_t)eot;
    s->shards = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *s->shards);
    char ctx[600];
    int i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        snprintf(ctx, sizeof ctx, "%s: %s.shards[%d]", mpath, split, i);
        if (open_listed_shard(s, dir, it, ctx, e) != 0) {
            shard_set_free(s);
            s = NULL;
            goto done;
        }
    }
done:
    cJSON_Delete(man);
    free(mpath);
    return s;
}

void shard_set_free(ShardSet *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        if (s->shards[i].map) munmap(s->shards[i].map, s->shards[i].len);
    free(s->shards);
    free(s);
}

int64_t shard_set_tokens(const ShardSet *s) { return s->tokens; }
int shard_set_count(const ShardSet *s) { return s->n; }
uint32_t shard_set_vocab_size(const ShardSet *s) { return s->vocab_size; }
uint32_t shard_set_eot_id(const ShardSet *s) { return s->eot_id; }

void shard_set_read(const ShardSet *s, int64_t pos, int64_t n, int32_t *out) {
    RS_CHECK(pos >= 0 && n >= 0 && pos + n <= s->tokens);
    // The last shard whose start is <= pos (empty shards are skipped over).
    int lo = 0, hi = s->n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->shards[mid].start <= pos) lo = mid;
        else hi = mid - 1;
    }
    for (int i = lo; n > 0; i++) {
        RS_CHECK(i < s->n);
        const MappedShard *m = &s->shards[i];
        int64_t off = pos - m->start;
        int64_t k = RS_MIN(n, m->info.n_tokens - off);
        for (int64_t j = 0; j < k; j++) *out++ = (int32_t)shard_token(&m->info, off + j);
        pos += k, n -= k;
    }
}

// ---------------------------------------------------------------------------
// The loader

struct ShardLoader {
    const ShardSet *set;
    int T;
    int shuffle;
    Rng base;         // seeded once; epoch e's order comes from rng_split(base, e)
    int64_t n_windows;
    int64_t *order;   // permutation of [0, n_windows) for the current epoch; NULL unshuffled
    ShardLoaderPos pos;
};

static void loader_build_order(ShardLoader *l) {
    if (!l->shuffle) return;
    for (int64_t i = 0; i < l->n_windows; i++) l->order[i] = i;
    Rng r = rng_split(&l->base, (uint64_t)l->pos.epoch);
    for (int64_t i = l->n_windows - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
        int64_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

ShardLoader *shard_loader_new(const ShardSet *s, int T, uint64_t seed, int shuffle, Err *e) {
    RS_CHECK(T > 0);
    int64_t nw = s->tokens > T ? (s->tokens - 1) / T : 0;
    if (nw == 0) {
        err_set(e, "split holds %" PRId64 " tokens: too few for one window of seq_len+1 = %d tokens", s->tokens, T + 1);
        return NULL;
    }
    ShardLoader *l = xcalloc(1, sizeof *l);
    l->set = s;
    l->T = T;
    l->shuffle = shuffle;
    rng_seed(&l->base, seed);
    l->n_windows = nw;
    l->pos.n_windows = nw;
    if (shuffle) l->order = xmalloc((size_t)nw * sizeof *l->order);
    loader_build_order(l);
    return l;
}

void shard_loader_free(ShardLoader *l) {
    if (!l) return;
    free(l->order);
    free(l);
}

int64_t shard_loader_windows(const ShardLoader *l) { return l->n_windows; }

void shard_loader_next(ShardLoader *l, int B, int32_t *out) {
    for (int b = 0; b < B; b++) {
        if (l->pos.index == l->n_windows) {
            l->pos.epoch++;
            l->pos.index = 0;
            loader_build_order(l);
        }
        int64_t w = l->order ? l->order[l->pos.index] : l->pos.index;
        shard_set_read(l->set, w * l->T, l->T + 1, out + (size_t)b * (size_t)(l->T + 1));
        l->pos.index++;
    }
}

void shard_loader_reset(ShardLoader *l) {
    int rebuild = l->pos.epoch != 0;
    l->pos.epoch = 0;
    l->pos.index = 0;
    if (rebuild) loader_build_order(l);
}

ShardLoaderPos shard_loader_pos(const ShardLoader *l) { return l->pos; }

int shard_loader_seek(ShardLoader *l, ShardLoaderPos pos, Err *e) {
    if (pos.n_windows != l->n_windows)
        return err_set(e, "data position: saved with %" PRId64 " windows per epoch, the data and seq_len now give %" PRId64
                          " (different data or seq_len)", pos.n_windows, l->n_windows);
    if (pos.epoch < 0 || pos.index < 0 || pos.index > l->n_windows)
        return err_set(e, "data position: epoch %" PRId64 ", index %" PRId64 " out of range", pos.epoch, pos.index);
    int rebuild = pos.epoch != l->pos.epoch;
    l->pos = pos;
    if (rebuild) loader_build_order(l);
    return 0;
}

cJSON *shard_loader_pos_to_json(ShardLoaderPos pos) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", (double)pos.epoch);
    cJSON_AddNumberToObject(j, "index", (double)pos.index);
    cJSON_AddNumberToObject(j, "n_windows", (double)pos.n_windows);
    return j;
}

int shard_loader_pos_from_json(const cJSON *j, const char *ctx, ShardLoaderPos *out, Err *e) {
    ShardLoaderPos p;
    if (json_get_int(j, "epoch", &p.epoch, ctx, e) != 0 || json_get_int(j, "index", &p.index, ctx, e) != 0 ||
        json_get_int(j, "n_windows", &p.n_windows, ctx, e) != 0)
        return -1;
    *out = p;
    return 0;
}

// ---------------------------------------------------------------------------
// Tokenizing inputs into a data folder

#define EOT_TEXT "<|endoftext|>"
#define BATCH_DOCS 4096
#define BATCH_BYTES (8 << 20)

// Documents of the inputs, one at a time, in order.
typedef struct DocReader {
    const ShardTokenizeOpts *o;
    int file;            // index of the open input; o->n_inputs when done
    JsonlReader *jr;     // a .jsonl input
    char *text;          // a plain-text input, whole
    size_t text_len, text_at;
    double bytes_before; // bytes of the inputs already finished
} DocReader;

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static void reader_close_file(DocReader *r) {
    if (r->jr) r->bytes_before += (double)jsonl_offset(r->jr);
    if (r->text) r->bytes_before += (double)r->text_len;
    jsonl_close(r->jr);
    r->jr = NULL;
    free(r->text);
    r->text = NULL;
    r->file++;
}

static int reader_open_file(DocReader *r, Err *e) {
    const char *path = r->o->inputs[r->file];
    if (has_suffix(path, ".jsonl")) {
        r->jr = jsonl_open(path, e);
        return r->jr ? 0 : -1;
    }
    r->text_at = 0;
    return fs_read_all(path, &r->text, &r->text_len, e);
}

// The next document of a plain-text input: up to a line that is exactly
// "<|endoftext|>" (the newline before it is not part of the document).
static void next_text_doc(DocReader *r, char **doc, size_t *n) {
    const char *s = r->text + r->text_at, *end = r->text + r->text_len;
    const size_t k = strlen(EOT_TEXT);
    for (const char *p = s; (p = memmem(p, (size_t)(end - p), EOT_TEXT, k)) != NULL; p++) {
        int line_start = p == r->text || p[-1] == '\n';
        int line_end = p + k == end || p[k] == '\n' || (p[k] == '\r' && (p + k + 1 == end || p[k + 1] == '\n'));
        if (!line_start || !line_end) continue;
        const char *stop = p > s && p[-1] == '\n' ? p - 1 : p;
        *doc = xstrndup(s, (size_t)(stop - s));
        *n = (size_t)(stop - s);
        const char *next = p + k;
        while (next < end && (*next == '\r' || *next == '\n') && next < p + k + 2) next++;
        r->text_at = (size_t)(next - r->text);
        return;
    }
    *n = (size_t)(end - s);
    *doc = xstrndup(s, *n);
    r->text_at = r->text_len;
}

// 1 and a malloc'd document, 0 at the end of the inputs, -1 on bad input.
static int reader_next(DocReader *r, char **doc, size_t *n, Err *e) {
    while (r->file < r->o->n_inputs) {
        if (!r->jr && !r->text && reader_open_file(r, e) != 0) return -1;
        if (r->text) {
            if (r->text_at < r->text_len) {
                next_text_doc(r, doc, n);
                return 1;
            }
        } else {
            cJSON *rec;
            int rc = jsonl_next(r->jr, &rec, e);
            if (rc < 0) return -1;
            if (rc > 0) {
                char ctx[600];
                snprintf(ctx, sizeof ctx, "%s:%ld", jsonl_path(r->jr), jsonl_line(r->jr));
                const char *text;
                rc = json_get_str(rec, "text", &text, ctx, e);
                if (rc == 0) {
                    *n = strlen(text);
                    *doc = xstrndup(text, *n);
                }
                cJSON_Delete(rec);
                return rc == 0 ? 1 : -1;
            }
        }
        reader_close_file(r);
    }
    return 0;
}

static double reader_bytes(const DocReader *r) {
    return r->bytes_before + (r->jr ? (double)jsonl_offset(r->jr) : (double)r->text_at);
}

static int is_val_doc(const char *text, size_t n, double val_fraction) {
    return (double)(XXH64(text, n, 0) >> 11) * 0x1.0p-53 < val_fraction;
}

static double inputs_total_bytes(const ShardTokenizeOpts *o) {
    double total = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        struct stat st;
        if (stat(o->inputs[i], &st) == 0) total += (double)st.st_size;
    }
    return total;
}

typedef struct TokenizeRun {
    const ShardTokenizeOpts *o;
    Bpe *bpe;
    ShardWriter *w[2];  // train, val
    DocReader reader;
    char *texts[BATCH_DOCS];
    size_t lens[BATCH_DOCS];
    BpeIds ids[BATCH_DOCS];
    Progress *progress;
    ShardTokenizeStats *st;
} TokenizeRun;

// Encode a batch of documents in parallel, then write them in order.
static int flush_batch(TokenizeRun *t, int n, Err *e) {
    for (int i = 0; i < n; i++) t->ids[i].len = 0;
    bpe_encode_batch(t->bpe, (const char *const *)t->texts, t->lens, (size_t)n, BPE_SPECIAL_NONE, t->o->threads,
                     t->ids);
    for (int i = 0; i < n; i++) {
        int split = is_val_doc(t->texts[i], t->lens[i], t->o->val_fraction);
        if (shard_writer_add(t->w[split], t->ids[i].data, (int64_t)t->ids[i].len, e) != 0) return -1;
        t->st->documents[split]++;
        t->st->tokens[split] += 1 + (int64_t)t->ids[i].len;
        free(t->texts[i]);
        t->texts[i] = NULL;
    }
    if (t->progress) {
        char extra[96];
        snprintf(extra, sizeof extra, "%" PRId64 " docs", t->st->documents[0] + t->st->documents[1]);
        progress_set_aux(t->progress, (double)(t->st->tokens[0] + t->st->tokens[1]), "tok", 1);
        progress_set(t->progress, reader_bytes(&t->reader) / 1e6, extra);
    }
    return 0;
}

static int tokenize_all(TokenizeRun *t, Err *e) {
    int n = 0;
    size_t bytes = 0;
    for (;;) {
        char *doc;
        size_t len;
        int rc = reader_next(&t->reader, &doc, &len, e);
        if (rc < 0) return -1;
        if (rc > 0 && len == 0) {
            free(doc);
            t->st->skipped_empty++;
            continue;
        }
        if (rc > 0) {
            t->texts[n] = doc;
            t->lens[n++] = len;
            bytes += len;
        }
        if (n > 0 && (rc == 0 || n == BATCH_DOCS || bytes >= BATCH_BYTES)) {
            if (flush_batch(t, n, e) != 0) return -1;
            n = 0, bytes = 0;
        }
        if (rc == 0) return 0;
    }
}

static int write_manifest(TokenizeRun *t, Err *e) {
    const ShardTokenizeOpts *o = t->o;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "reasoner-token-shards");
    cJSON_AddNumberToObject(m, "version", SHARD_VERSION);
    cJSON_AddStringToObject(m, "tokenizer", "tokenizer.json");
    cJSON_AddNumberToObject(m, "vocab_size", bpe_vocab_size(t->bpe));
    cJSON_AddNumberToObject(m, "eot_id", bpe_special_id(t->bpe, EOT_TEXT));
    cJSON_AddNumberToObject(m, "token_width", width_for_vocab((uint32_t)bpe_vocab_size(t->bpe)));
    cJSON_AddNumberToObject(m, "shard_tokens", (double)o->shard_tokens);
    cJSON_AddNumberToObject(m, "val_fraction", o->val_fraction);
    cJSON_AddNumberToObject(m, "input_bytes", t->st->bytes);
    cJSON_AddNumberToObject(m, "skipped_empty", (double)t->st->skipped_empty);
    cJSON *in = cJSON_AddArrayToObject(m, "inputs");
    for (int i = 0; i < o->n_inputs; i++) cJSON_AddItemToArray(in, cJSON_CreateString(o->inputs[i]));
    cJSON_AddItemToObject(m, "train", shard_writer_summary(t->w[0]));
    cJSON_AddItemToObject(m, "val", shard_writer_summary(t->w[1]));
    char *path = fs_join(o->out_dir, SHARD_MANIFEST);
    int rc = json_write_file(path, m, e);
    free(path);
    cJSON_Delete(m);
    return rc;
}

// Remove the manifest first (a folder without one is refused by loaders,
// so a run that fails midway leaves nothing that looks finished), then the
// shards of an earlier run, which a shorter new run would not overwrite.
static int remove_old_run(const char *dir, Err *e) {
    char *mpath = fs_join(dir, SHARD_MANIFEST);
    int rc = fs_exists(mpath) && unlink(mpath) != 0 ? err_errno(e, "%s: cannot remove the old manifest", mpath) : 0;
    free(mpath);
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    for (struct dirent *ent; d && rc == 0 && (ent = readdir(d)) != NULL;) {
        char split[8];
        int idx, end = 0;
        if (sscanf(ent->d_name, "%5[a-z]_%6d.bin%n", split, &idx, &end) != 2 || ent->d_name[end] != 0 ||
            strlen(ent->d_name) != strlen(split) + 11 || (strcmp(split, "train") && strcmp(split, "val")))
            continue;
        char *path = fs_join(dir, ent->d_name);
        if (unlink(path) != 0) rc = err_errno(e, "%s: cannot remove an old shard", path);
        free(path);
    }
    if (d) closedir(d);
    return rc;
}

static int tokenize_setup(TokenizeRun *t, Err *e) {
    const ShardTokenizeOpts *o = t->o;
    if (o->shard_tokens <= 0) return err_set(e, "shard_tokens: %" PRId64 " (must be > 0)", o->shard_tokens);
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return err_set(e, "val_fraction: %g (must be in [0, 1))", o->val_fraction);
    if (o->n_inputs <= 0) return err_set(e, "inputs: none given");
    if (!(t->bpe = bpe_load(o->tokenizer, e))) return -1;
    int32_t eot = bpe_special_id(t->bpe, EOT_TEXT);
    if (eot < 0) return err_set(e, "%s: special tokens: no %s to separate documents", o->tokenizer, EOT_TEXT);
    if (fs_mkdir_p(o->out_dir, e) != 0 || remove_old_run(o->out_dir, e) != 0 || bpe_save(t->bpe, o->out_dir, e) != 0)
        return -1;
    uint32_t vocab = (uint32_t)bpe_vocab_size(t->bpe);
    t->w[0] = shard_writer_new(o->out_dir, "train", o->shard_tokens, vocab, (uint32_t)eot);
    t->w[1] = shard_writer_new(o->out_dir, "val", o->shard_tokens, vocab, (uint32_t)eot);
    t->reader.o = o;
    return 0;
}

int shard_tokenize(const ShardTokenizeOpts *o, ShardTokenizeStats *st, Err *e) {
    TokenizeRun t = {.o = o, .st = st};
    memset(st, 0, sizeof *st);
    double t0 = rs_now();
    int rc = tokenize_setup(&t, e);
    if (rc == 0 && o->progress) t.progress = progress_new("tokenize", inputs_total_bytes(o) / 1e6, "MB");
    if (rc == 0) rc = tokenize_all(&t, e);
    st->bytes = reader_bytes(&t.reader);
    if (rc == 0) rc = shard_writer_finish(t.w[0], e);
    if (rc == 0) rc = shard_writer_finish(t.w[1], e);
    if (rc == 0) rc = write_manifest(&t, e);
    progress_finish(t.progress);
    st->seconds = rs_now() - t0;
    for (int i = 0; i < BATCH_DOCS; i++) {
        free(t.texts[i]);
        bpe_ids_free(&t.ids[i]);
    }
    jsonl_close(t.reader.jr);
    free(t.reader.text);
    shard_writer_free(t.w[0]);
    shard_writer_free(t.w[1]);
    bpe_free(t.bpe);
    return rc;
}
