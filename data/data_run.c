// data_run.c: the whole run, streaming, parallel and resumable.
//   reasoner data run --input crawl/*.warc.gz --out data/ --threads 16
//
// Pass 1 (per document, all cores): a reader thread decodes the input files
// in order into batches of records (bounded in count and bytes); the batch
// is processed in parallel (OpenMP, one DataScratch per thread) and written
// in input order by the main thread. Files are grouped into parts of about
// output.part_bytes of input; a part's kept documents (JSONL, part-K.docs),
// band hashes (part-K.sig) and removed samples (JSONL, part-K.removed) are
// committed atomically under work/, and then the done list (work/done.json)
// names the part and its files with their size and mtime. A rerun skips
// every part whose files are unchanged, so a killed run loses at most the
// part in progress. A changed config (or list file) starts over.
//
// Dedup: every part's band hashes go through DataDedup (bounded memory,
// spilling to work/dedup/). Pass 2 reads the parts in order, drops
// duplicates, removes PII (in parallel batches) and writes the shards.
// Outputs: shard-NNNNN.jsonl[.gz], stats.json, timing.json,
// removed/<stage>.<rule>.jsonl (samples). The output is byte-identical for
// any thread count: records keep input order, and the dedup keeps the
// lowest-numbered document of each cluster.
//
// Memory, whatever the input size: in pass 1 up to 4 batches of
// max(32 MB, threads × 8 MB) of records (a record is at most
// input.max_doc_bytes) plus one parse tree per thread; in the dedup
// minhash.memory_mb plus 4 bytes per kept document; in pass 2 one batch of
// threads × 256 documents (at most 64 MB).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/pipeline.h"

#define SIG_MAGIC "RSDSIG01"

typedef struct Part {
    char key[24];
    int *files, nfiles, cap;  // indices into the run's inputs, in order
    int64_t docs, input_bytes;
    DataStats stats;
} Part;

typedef struct Run {
    const DataRunOpts *o;
    const DataConfig *c;
    DataInputFile *in;
    int nin, threads;
    char *out, *work, *removed;
    char hash[24];
    Part *parts;
    int nparts, cap_parts;
    int *done;  // per input: covered by a valid part
    DataPipe *pipe;
    Progress *prog;
    double t_pass1, t_dedup, t_pass2;
    int64_t bytes_this_run;
    DataStats this_run;  // stats of the work done now (timing)
} Run;

// ---------------------------------------------------------------------------
// parts and the done list

static char *work_path(const Run *r, const char *key, const char *ext) {
    char name[64];
    snprintf(name, sizeof name, "part-%s%s", key, ext);
    return fs_join(r->work, name);
}

static void part_free(Part *p) {
    free(p->files);
    memset(p, 0, sizeof *p);
}

static void part_add_file(Part *p, int f) {
    if (p->nfiles == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->files = xrealloc(p->files, (size_t)p->cap * sizeof *p->files);
    }
    p->files[p->nfiles++] = f;
}

static void remove_part_files(const Run *r, const char *key) {
    static const char *const EXT[] = {".docs", ".sig", ".removed"};
    for (size_t i = 0; i < RS_ARRAY_LEN(EXT); i++) {
        char *p = work_path(r, key, EXT[i]);
        unlink(p);
        free(p);
    }
}

static cJSON *part_to_json(const Run *r, const Part *p) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "key", p->key);
    cJSON_AddNumberToObject(j, "docs", (double)p->docs);
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    for (int i = 0; i < p->nfiles; i++) {
        const DataInputFile *f = &r->in[p->files[i]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", f->path);
        cJSON_AddNumberToObject(o, "size", (double)f->size);
        cJSON_AddNumberToObject(o, "mtime", (double)f->mtime);
        cJSON_AddItemToArray(files, o);
    }
    cJSON_AddItemToObject(j, "stats", data_stats_to_json(&p->stats));
    return j;
}

static int write_done(const Run *r, Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "config_hash", r->hash);
    cJSON *parts = cJSON_AddArrayToObject(j, "parts");
    for (int i = 0; i < r->nparts; i++) cJSON_AddItemToArray(parts, part_to_json(r, &r->parts[i]));
    char *path = fs_join(r->work, "done.json");
    int rc = json_write_file(path, j, e);
    free(path);
    cJSON_Delete(j);
    return rc;
}

static void push_part(Run *r, Part *p) {
    if (r->nparts == r->cap_parts) {
        r->cap_parts = r->cap_parts ? r->cap_parts * 2 : 16;
        r->parts = xrealloc(r->parts, (size_t)r->cap_parts * sizeof *r->parts);
    }
    r->parts[r->nparts++] = *p;
    memset(p, 0, sizeof *p);
}

// Index of an input path, or -1.
static int find_input(const Run *r, const DataHMap *index, const char *path) {
    const DataHEntry *h = data_hmap_find(index, XXH3_64bits(path, strlen(path)));
    return h && !strcmp(r->in[h->first].path, path) ? (int)h->first : -1;
}

// A part from done.json, valid when its files are inputs now, unchanged,
// not claimed by another part, and its work files exist.
static int load_part(Run *r, const cJSON *pj, const DataHMap *index, Part *p) {
    memset(p, 0, sizeof *p);
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(pj, "key"), *files = cJSON_GetObjectItemCaseSensitive(pj, "files");
    Err e;
    if (!cJSON_IsString(key) || strlen(key->valuestring) >= sizeof p->key || !cJSON_IsArray(files)) return 0;
    snprintf(p->key, sizeof p->key, "%s", key->valuestring);
    p->docs = json_opt_int(pj, "docs", -1);
    int ok = p->docs >= 0 && data_stats_from_json(&p->stats, cJSON_GetObjectItemCaseSensitive(pj, "stats"), "done.json", &e) == 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        int i = find_input(r, index, json_opt_str(f, "path", ""));
        if (i < 0 || r->done[i] || r->in[i].size != json_opt_int(f, "size", -1) || r->in[i].mtime != json_opt_int(f, "mtime", -1))
            ok = 0;
        if (i >= 0 && ok) part_add_file(p, i);
    }
    char *docs = work_path(r, p->key, ".docs");
    if (p->docs > 0 && !fs_exists(docs)) ok = 0;
    free(docs);
    if (!ok || !p->nfiles) {
        remove_part_files(r, p->key);
        part_free(p);
        return 0;
    }
    for (int k = 0; k < p->nfiles; k++) r->done[p->files[k]] = 1;
    return 1;
}

// Remove work files of parts that are not in the list (a crash mid-part).
static void remove_stray_parts(const Run *r) {
    DIR *d = opendir(r->work);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        const char *n = de->d_name;
        int stray = strstr(n, ".tmp.") != NULL;
        if (!stray && !strncmp(n, "part-", 5)) {
            stray = 1;
            for (int i = 0; i < r->nparts && stray; i++)
                stray = strncmp(n + 5, r->parts[i].key, strlen(r->parts[i].key)) || n[5 + strlen(r->parts[i].key)] != '.';
        }
        if (stray) {
            char *p = fs_join(r->work, n);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
}

static void load_done(Run *r) {
    char *path = fs_join(r->work, "done.json");
    Err e;
    cJSON *j = fs_exists(path) ? json_read_file(path, &e) : NULL;
    free(path);
    const char *hash = json_opt_str(j, "config_hash", "");
    if (j && strcmp(hash, r->hash) != 0) log_info("data: the config changed since the last run: starting over");
    if (j && !strcmp(hash, r->hash)) {
        DataHMap index = {0};
        data_hmap_reset(&index, (size_t)r->nin);
        for (int i = 0; i < r->nin; i++) {
            int is_new;
            data_hmap_get(&index, XXH3_64bits(r->in[i].path, strlen(r->in[i].path)), (uint32_t)i, &is_new);
        }
        const cJSON *pj;
        cJSON_ArrayForEach(pj, cJSON_GetObjectItemCaseSensitive(j, "parts")) {
            Part p;
            if (load_part(r, pj, &index, &p)) push_part(r, &p);
        }
        data_hmap_free(&index);
    }
    cJSON_Delete(j);
    remove_stray_parts(r);
}

// ---------------------------------------------------------------------------
// pass 1: the reader thread

typedef struct Item {
    int file, eof;        // eof: a marker, file ends here
    int64_t consumed;     // input bytes read since the previous item
    int64_t not_docs;
    DataRecord rec;
    DataDocResult res;
    Buf line;             // a kept document's first-pass JSONL line
} Item;

typedef struct Batch {
    Item *items;
    size_t n, cap, bytes;
    struct Batch *next;
} Batch;

typedef struct Queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    Batch *head, *tail;
    int n, done, stop;
    Run *run;
    size_t max_items, max_bytes;
} Queue;

static void batch_free(Batch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        data_record_clear(&b->items[i].rec);
        data_doc_result_free(&b->items[i].res);
        buf_free(&b->items[i].line);
    }
    free(b->items);
    free(b);
}

static Item *batch_add(Batch *b) {
    b->items = data_grow(b->items, &b->cap, b->n + 1, sizeof *b->items);
    Item *it = &b->items[b->n++];
    memset(it, 0, sizeof *it);
    return it;
}

// Hand a full batch to the workers; waits while two are queued. 0, or -1 if stopped.
static int enqueue(Queue *q, Batch *b) {
    pthread_mutex_lock(&q->mu);
    while (q->n >= 2 && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    int stop = q->stop;
    if (!stop) {
        if (q->tail) q->tail->next = b;
        else q->head = b;
        q->tail = b;
        q->n++;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (stop) batch_free(b);
    return stop ? -1 : 0;
}

static Batch *dequeue(Queue *q) {
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->done) pthread_cond_wait(&q->cv, &q->mu);
    Batch *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head) q->tail = NULL;
        q->n--;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

// Read one file's records into batches, ending with its end marker.
// Returns -1 if the run stopped.
static int read_file(Queue *q, int f, Batch **b) {
    Run *r = q->run;
    Err e;
    int64_t seen = 0;
    DataReader *rd = data_reader_open(r->in[f].path, r->c->input.max_doc_bytes, &e);
    for (;;) {
        Item *it = batch_add(*b);
        it->file = f;
        int rc = rd ? data_reader_next(rd, &it->rec, &it->not_docs, &e) : -1;
        if (rc < 0) {  // unreadable from here on: counted, and the run goes on
            log_warn("data: %s", e.msg);
            data_record_clear(&it->rec);
            it->rec.reason = DATA_R_IN_UNREADABLE;
            it->rec.id = xstrdup(r->in[f].path);
        }
        if (rd) {
            int64_t now = data_reader_consumed(rd);
            it->consumed = now - seen, seen = now;
        }
        if (rc == 0) {  // the end marker carries the last read's counts
            it->eof = 1;
            break;
        }
        (*b)->bytes += it->rec.len;
        if (rc < 0) {
            batch_add(*b)->file = f;
            (*b)->items[(*b)->n - 1].eof = 1;
            break;
        }
        if ((*b)->n >= q->max_items || (*b)->bytes >= q->max_bytes) {
            int stopped = enqueue(q, *b);
            *b = stopped ? NULL : xcalloc(1, sizeof **b);
            if (stopped) {
                data_reader_close(rd);
                return -1;
            }
        }
    }
    data_reader_close(rd);
    return 0;
}

static void *reader_main(void *arg) {
    Queue *q = arg;
    Batch *b = xcalloc(1, sizeof *b);
    for (int f = 0; f < q->run->nin && b; f++)
        if (!q->run->done[f] && read_file(q, f, &b)) break;
    if (b && b->n) enqueue(q, b);
    else batch_free(b);
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

// ---------------------------------------------------------------------------
// pass 1: writing parts

typedef struct PartWriter {
    Part part;
    AtomicFile *docs, *sig, *rm;
    int64_t samples[DATA_NRULES];
    Buf line;
} PartWriter;

static int part_open(Run *r, PartWriter *w, int first_file, Err *e) {
    memset(&w->part, 0, sizeof w->part);
    memset(w->samples, 0, sizeof w->samples);
    const char *path = r->in[first_file].path;
    snprintf(w->part.key, sizeof w->part.key, "%016llx", (unsigned long long)XXH3_64bits(path, strlen(path)));
    char *pd = work_path(r, w->part.key, ".docs"), *ps = work_path(r, w->part.key, ".sig"),
         *pr = work_path(r, w->part.key, ".removed");
    w->docs = afile_open(pd, e);
    w->sig = w->docs ? afile_open(ps, e) : NULL;
    w->rm = w->sig ? afile_open(pr, e) : NULL;
    free(pd), free(ps), free(pr);
    if (!w->rm) return -1;
    uint32_t hdr[2] = {(uint32_t)r->c->minhash.bands, 0};
    if (fwrite(SIG_MAGIC, 1, 8, afile_fp(w->sig)) != 8 || fwrite(hdr, sizeof hdr, 1, afile_fp(w->sig)) != 1)
        return err_errno(e, "%s: write failed", r->work);
    return 0;
}

static void part_abort(PartWriter *w) {
    afile_abort(w->docs), afile_abort(w->sig), afile_abort(w->rm);
    w->docs = w->sig = w->rm = NULL;
    part_free(&w->part);
}

static int part_commit(Run *r, PartWriter *w, Err *e) {
    AtomicFile *d = w->docs, *s = w->sig, *m = w->rm;
    w->docs = w->sig = w->rm = NULL;
    int rc = afile_commit(d, e);
    if (rc) afile_abort(s), afile_abort(m);
    else if ((rc = afile_commit(s, e))) afile_abort(m);
    else rc = afile_commit(m, e);
    if (rc) {
        part_free(&w->part);
        return -1;
    }
    push_part(r, &w->part);
    return write_done(r, e);
}

// One processed record into the open part.
static int part_write(Run *r, PartWriter *w, Item *it, Err *e) {
    DataDocResult *res = &it->res;
    data_stats_add(&w->part.stats, &res->stats);
    data_stats_add(&r->this_run, &res->stats);
    if (!res->removed) {
        if (fwrite(it->line.data, 1, it->line.len, afile_fp(w->docs)) != it->line.len)
            return err_errno(e, "%s: write failed", r->work);
        if (r->c->minhash.enabled &&
            fwrite(res->bands, sizeof *res->bands, (size_t)r->c->minhash.bands, afile_fp(w->sig)) != (size_t)r->c->minhash.bands)
            return err_errno(e, "%s: write failed", r->work);
        w->part.docs++;
    } else if (w->samples[res->removed]++ < r->c->output.samples_per_rule) {
        buf_clear(&w->line);
        data_doc_sample(r->c, &it->rec, res, &w->line);
        if (fwrite(w->line.data, 1, w->line.len, afile_fp(w->rm)) != w->line.len)
            return err_errno(e, "%s: write failed", r->work);
    }
    return 0;
}

// The batch's items, in order, into parts. Returns 0 or -1.
static int write_batch(Run *r, PartWriter *w, Batch *b, int64_t *docs, int64_t *bytes, Err *e) {
    for (size_t i = 0; i < b->n; i++) {
        Item *it = &b->items[i];
        *bytes += it->consumed;
        if (!w->docs && part_open(r, w, it->file, e)) return -1;
        w->part.stats.counter[DATA_C_WARC_NOT_DOC] += it->not_docs;
        if (!it->eof) {
            (*docs)++;
            if (part_write(r, w, it, e)) return -1;
            continue;
        }
        part_add_file(&w->part, it->file);
        w->part.stats.counter[DATA_C_FILES]++;
        w->part.input_bytes += r->in[it->file].size;
        r->done[it->file] = 1;
        if (w->part.input_bytes >= r->c->output.part_bytes && part_commit(r, w, e)) return -1;
    }
    if (r->prog) {
        progress_set(r->prog, (double)*bytes / 1e6, NULL);
        progress_set_aux(r->prog, (double)*docs, "docs", 1.0);
    }
    return 0;
}

static void process_batch(Run *r, Batch *b, DataScratch **scratch) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(r->threads)
    for (size_t i = 0; i < b->n; i++) {
        Item *it = &b->items[i];
        if (it->eof) continue;
        data_pipe_process(r->pipe, &it->rec, &it->res, scratch[omp_get_thread_num()]);
        if (!it->res.removed) data_doc_line(r->c, &it->rec, &it->res, &it->line);
    }
}

static int pass1(Run *r, Err *e) {
    int64_t pending_bytes = 0;
    for (int i = 0; i < r->nin; i++)
        if (!r->done[i]) pending_bytes += r->in[i].size;
    if (!pending_bytes && r->nparts) return 0;
    Queue q = {.run = r, .max_items = (size_t)r->threads * 64};
    q.max_bytes = RS_MAX((size_t)32 << 20, (size_t)r->threads * (8u << 20));
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);
    DataScratch **scratch = xcalloc((size_t)r->threads, sizeof *scratch);
    for (int t = 0; t < r->threads; t++) scratch[t] = data_scratch_new();
    r->prog = r->o->progress ? progress_new("data pass 1", (double)pending_bytes / 1e6, "MB") : NULL;
    pthread_t th;
    RS_CHECK(pthread_create(&th, NULL, reader_main, &q) == 0);
    PartWriter w = {0};
    int64_t docs = 0, bytes = 0;
    int rc = 0;
    for (Batch *b; (b = dequeue(&q));) {
        if (rc == 0) {
            process_batch(r, b, scratch);
            rc = write_batch(r, &w, b, &docs, &bytes, e);
        }
        batch_free(b);
        if (rc) {  // stop the reader; keep draining so it can finish
            pthread_mutex_lock(&q.mu);
            q.stop = 1;
            pthread_cond_broadcast(&q.cv);
            pthread_mutex_unlock(&q.mu);
        }
    }
    pthread_join(th, NULL);
    if (rc == 0 && w.docs) rc = part_commit(r, &w, e);
    if (rc) part_abort(&w);
    buf_free(&w.line);
    progress_finish(r->prog);
    r->prog = NULL;
    r->bytes_this_run = bytes;
    for (int t = 0; t < r->threads; t++) data_scratch_free(scratch[t]);
    free(scratch);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.cv);
    return rc;
}

// ---------------------------------------------------------------------------
// dedup

static int add_part_bands(const Run *r, const Part *p, uint64_t base, DataDedup *d, Err *e) {
    char *path = work_path(r, p->key, ".sig");
    FILE *f = fopen(path, "rb");
    int rc = 0, nb = (int)r->c->minhash.bands;
    char magic[8];
    uint32_t hdr[2];
    if (!f) rc = err_errno(e, "%s: cannot open", path);
    else if (fread(magic, 1, 8, f) != 8 || memcmp(magic, SIG_MAGIC, 8) || fread(hdr, sizeof hdr, 1, f) != 1 ||
             hdr[0] != (uint32_t)nb)
        rc = err_set(e, "%s: not a band file of this config (delete %s to start over)", path, r->work);
    uint64_t bands[DATA_MAX_BANDS];
    for (int64_t i = 0; rc == 0 && i < p->docs; i++) {
        if (fread(bands, sizeof *bands, (size_t)nb, f) != (size_t)nb) rc = err_set(e, "%s: truncated", path);
        else rc = data_dedup_add(d, base + (uint64_t)i, bands, e);
    }
    if (f) fclose(f);
    free(path);
    return rc;
}

static DataDedup *dedup(Run *r, uint64_t ndocs, Err *e) {
    char *dir = fs_join(r->work, "dedup");
    DataDedup *d = data_dedup_new(dir, (int)r->c->minhash.bands, ndocs, (size_t)r->c->minhash.memory_mb << 20, e);
    free(dir);
    if (!d) return NULL;
    uint64_t base = 0;
    for (int i = 0; i < r->nparts; i++) {
        if (add_part_bands(r, &r->parts[i], base, d, e)) {
            data_dedup_free(d);
            return NULL;
        }
        base += (uint64_t)r->parts[i].docs;
    }
    if (data_dedup_run(d, e)) {
        data_dedup_free(d);
        return NULL;
    }
    log_info("data: minhash: %llu of %llu documents are near-duplicates (%d partition%s)",
             (unsigned long long)data_dedup_removed(d), (unsigned long long)ndocs, data_dedup_partitions(d),
             data_dedup_partitions(d) == 1 ? "" : "s");
    return d;
}

// ---------------------------------------------------------------------------
// pass 2: dedup, PII, shards

typedef struct Doc {
    char *line;      // the first-pass line (owned)
    uint64_t g;      // global document number
    int dup;         // removed as a near-duplicate
    size_t text_in, text_out;  // text bytes before and after PII
    Buf out;         // the final line, or the sample for a duplicate
    int64_t emails, ips;
    char *id;        // for duplicate_of lookups
} Doc;

typedef struct Pass2 {
    DataShards *shards;
    const DataDedup *dd;
    uint64_t *sample_dups, *roots;  // the first duplicates (samples) and their roots
    char **root_ids;
    int nsamples;
    Buf samples;  // minhash/duplicate sample lines
    DataStats st;
} Pass2;

// Parse a first-pass line and build the final line (PII removed) or the
// duplicate's sample. Runs on any thread.
static void finish_doc(const Run *r, Doc *d, int want_sample) {
    const DataConfig *c = r->c;
    cJSON *j = cJSON_Parse(d->line);
    RS_CHECK(j != NULL);  // we wrote it
    const char *id = json_opt_str(j, "id", ""), *url = json_opt_str(j, "url", ""), *text = json_opt_str(j, "text", "");
    size_t n = strlen(text);
    d->text_in = n;
    d->id = xstrdup(id);
    buf_clear(&d->out);
    if (d->dup) {
        if (want_sample) {
            buf_puts(&d->out, "{\"rule\":\"minhash/duplicate\",\"id\":");
            data_json_str(&d->out, id, strlen(id));
            buf_puts(&d->out, ",\"url\":");
            data_json_str(&d->out, url, strlen(url));
            buf_puts(&d->out, ",\"text\":");
            data_json_str(&d->out, text, RS_MIN(n, (size_t)c->output.sample_chars));
        }
        cJSON_Delete(j);
        return;
    }
    Buf clean = {0};
    if (c->pii.enabled) data_pii_scrub(text, n, c->pii.emails, c->pii.ipv4, &clean, &d->emails, &d->ips);
    else buf_append(&clean, text, n);
    d->text_out = clean.len;
    buf_puts(&d->out, "{\"id\":");
    data_json_str(&d->out, id, strlen(id));
    buf_puts(&d->out, ",\"url\":");
    data_json_str(&d->out, url, strlen(url));
    buf_puts(&d->out, ",\"text\":");
    data_json_str(&d->out, clean.data ? clean.data : "", clean.len);
    buf_puts(&d->out, ",\"stages\":[");
    const cJSON *s;
    int k = 0;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "stages")) {
        if (k++) buf_putc(&d->out, ',');
        data_json_str(&d->out, s->valuestring, strlen(s->valuestring));
    }
    if (c->minhash.enabled) buf_puts(&d->out, k++ ? ",\"minhash\"" : "\"minhash\"");
    if (c->pii.enabled) buf_puts(&d->out, k++ ? ",\"pii\"" : "\"pii\"");
    buf_puts(&d->out, "]}\n");
    buf_free(&clean);
    cJSON_Delete(j);
}

static int sample_index(const Pass2 *p, uint64_t g) {
    for (int i = 0; i < p->nsamples; i++)
        if (p->sample_dups[i] == g) return i;
    return -1;
}

// Account for and write one finished document, in order.
static int emit_doc(Pass2 *p, const Run *r, Doc *d, Err *e) {
    DataStats *st = &p->st;
    if (r->c->minhash.enabled) {
        st->stage[DATA_ST_MINHASH].docs_in++;
        st->stage[DATA_ST_MINHASH].bytes_in += (int64_t)d->text_in;
    }
    if (d->dup) {
        st->rule[DATA_R_MH_DUPLICATE]++;
        int s = sample_index(p, d->g);
        if (s >= 0) {
            uint64_t root = p->roots[s];
            const char *rid = "";
            for (int i = 0; i < p->nsamples; i++)
                if (p->roots[i] == root && p->root_ids[i]) rid = p->root_ids[i];
            buf_append(&p->samples, d->out.data, d->out.len);
            buf_puts(&p->samples, ",\"duplicate_of\":");
            data_json_str(&p->samples, rid, strlen(rid));
            buf_puts(&p->samples, "}\n");
        }
        return 0;
    }
    for (int i = 0; i < p->nsamples; i++)
        if (p->roots[i] == d->g && !p->root_ids[i]) p->root_ids[i] = xstrdup(d->id);
    if (r->c->minhash.enabled) {
        st->stage[DATA_ST_MINHASH].docs_out++;
        st->stage[DATA_ST_MINHASH].bytes_out += (int64_t)d->text_in;
    }
    if (r->c->pii.enabled) {
        st->stage[DATA_ST_PII].docs_in++, st->stage[DATA_ST_PII].docs_out++;
        st->stage[DATA_ST_PII].bytes_in += (int64_t)d->text_in;
        st->stage[DATA_ST_PII].bytes_out += (int64_t)d->text_out;
        st->counter[DATA_C_PII_EMAILS] += d->emails;
        st->counter[DATA_C_PII_IPS] += d->ips;
    }
    return data_shards_write(p->shards, d->out.data, d->out.len, e);
}

// One part's documents, in order, through dedup and PII into the shards.
static int pass2_part(Run *r, Pass2 *p, const Part *part, uint64_t *g, int64_t *done, Err *e) {
    char *path = work_path(r, part->key, ".docs");
    DataSrc *src = data_src_open(path, e);
    if (!src) {
        free(path);
        return -1;
    }
    DataIn in;
    data_in_init(&in, src);
    const size_t max_line = (size_t)r->c->input.max_doc_bytes * 6 + 65536, max_docs = (size_t)r->threads * 256;
    Doc *docs = NULL;
    size_t cap = 0;
    int64_t left = part->docs;
    int rc = 0;
    while (rc == 0 && left > 0) {
        size_t n = 0, bytes = 0;
        while (rc == 0 && n < max_docs && bytes < (64u << 20) && left > 0) {
            const char *line;
            size_t len;
            int too_long;
            int got = data_in_line(&in, max_line, &line, &len, &too_long, e);
            if (got < 0) rc = -1;
            else if (got == 0 || too_long) rc = err_set(e, "%s: damaged (delete %s to start over)", path, r->work);
            if (rc) break;
            docs = data_grow(docs, &cap, n + 1, sizeof *docs);
            Doc *d = &docs[n++];
            memset(d, 0, sizeof *d);
            d->line = xstrndup(line, len);
            d->g = *g;
            d->dup = p->dd && data_dedup_root(p->dd, *g) != *g;
            (*g)++, left--, bytes += len;
        }
#pragma omp parallel for schedule(dynamic, 16) num_threads(r->threads)
        for (size_t i = 0; i < n; i++) finish_doc(r, &docs[i], docs[i].dup && sample_index(p, docs[i].g) >= 0);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0) rc = emit_doc(p, r, &docs[i], e);
            free(docs[i].line), free(docs[i].id);
            buf_free(&docs[i].out);
        }
        *done += (int64_t)n;
        if (r->prog) progress_set(r->prog, (double)*done, NULL);
    }
    free(docs);
    data_in_free(&in);
    free(path);
    return rc;
}

// The first duplicates (for samples) and the cluster count.
static void pick_dup_samples(const Run *r, Pass2 *p, uint64_t ndocs) {
    int k = (int)r->c->output.samples_per_rule;
    p->sample_dups = xcalloc((size_t)k + 1, sizeof *p->sample_dups);
    p->roots = xcalloc((size_t)k + 1, sizeof *p->roots);
    p->root_ids = xcalloc((size_t)k + 1, sizeof *p->root_ids);
    if (!p->dd) return;
    uint8_t *is_root = xcalloc(ndocs / 8 + 1, 1);
    for (uint64_t g = 0; g < ndocs; g++) {
        uint64_t root = data_dedup_root(p->dd, g);
        if (root == g) continue;
        if (!(is_root[root / 8] & (1 << (root % 8)))) p->st.counter[DATA_C_MH_CLUSTERS]++;
        is_root[root / 8] |= (uint8_t)(1 << (root % 8));
        if (p->nsamples < k) p->sample_dups[p->nsamples] = g, p->roots[p->nsamples++] = root;
    }
    free(is_root);
}

static int pass2(Run *r, const DataDedup *dd, uint64_t ndocs, Pass2 *p, int *nshards, Err *e) {
    p->dd = dd;
    pick_dup_samples(r, p, ndocs);
    p->shards = data_shards_new(r->out, r->c->output.gzip, r->c->output.shard_bytes, r->c->output.shard_docs);
    r->prog = r->o->progress ? progress_new("data pass 2", (double)ndocs, "docs") : NULL;
    uint64_t g = 0;
    int64_t done = 0;
    int rc = 0;
    for (int i = 0; i < r->nparts && rc == 0; i++) rc = pass2_part(r, p, &r->parts[i], &g, &done, e);
    progress_finish(r->prog);
    r->prog = NULL;
    if (rc) {
        data_shards_abort(p->shards);
        return -1;
    }
    return data_shards_close(p->shards, nshards, e);
}

static void pass2_free(Pass2 *p) {
    for (int i = 0; i < p->nsamples; i++) free(p->root_ids[i]);
    free(p->sample_dups), free(p->roots), free(p->root_ids);
    buf_free(&p->samples);
}

// ---------------------------------------------------------------------------
// samples and stats

static DataRule rule_by_key(const char *key) {
    char k[96];
    for (int r = 1; r < DATA_NRULES; r++) {
        snprintf(k, sizeof k, "%s/%s", data_stage_name(data_rule_stage(r)), data_rule_name(r));
        if (!strcmp(k, key)) return r;
    }
    return DATA_R_NONE;
}

// Gather each rule's first samples_per_rule samples, in input order, into
// removed/<stage>.<rule>.jsonl; rules without samples have no file.
static int write_samples(const Run *r, const Pass2 *p, Err *e) {
    Buf per[DATA_NRULES] = {{0}};
    int64_t count[DATA_NRULES] = {0};
    const int64_t k = r->c->output.samples_per_rule;
    for (int i = 0; i < r->nparts; i++) {
        char *path = work_path(r, r->parts[i].key, ".removed");
        JsonlReader *rd = jsonl_open(path, e);
        free(path);
        if (!rd) continue;  // a part that removed nothing may have an empty file; a missing one has no samples
        cJSON *j;
        for (int got; (got = jsonl_next(rd, &j, e)) != 0;) {
            if (got < 0) continue;
            DataRule rule = rule_by_key(json_opt_str(j, "rule", ""));
            if (rule && count[rule] < k) {
                char *line = json_compact(j);
                buf_puts(&per[rule], line);
                buf_putc(&per[rule], '\n');
                free(line);
                count[rule]++;
            }
            cJSON_Delete(j);
        }
        jsonl_close(rd);
    }
    if (p->samples.len) buf_append(&per[DATA_R_MH_DUPLICATE], p->samples.data, p->samples.len);
    int rc = 0;
    for (int rule = 1; rule < DATA_NRULES; rule++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s.jsonl", data_stage_name(data_rule_stage(rule)), data_rule_name(rule));
        char *path = fs_join(r->removed, name);
        if (per[rule].len && rc == 0) rc = fs_write_atomic(path, per[rule].data, per[rule].len, e);
        else if (!per[rule].len) unlink(path);
        free(path);
        buf_free(&per[rule]);
    }
    return rc;
}

static int write_stats(const Run *r, const DataStats *t, int nshards, Err *e) {
    cJSON *j = data_stats_to_json(t);
    int64_t docs = 0, bytes = 0;
    for (int s = DATA_NSTAGES - 1; s >= 0; s--)  // what the last stage that saw documents let through
        if (t->stage[s].docs_in) {
            docs = t->stage[s].docs_out, bytes = t->stage[s].bytes_out;
            break;
        }
    cJSON_AddNumberToObject(j, "docs_out", (double)docs);
    cJSON_AddNumberToObject(j, "bytes_out", (double)bytes);
    cJSON *sh = cJSON_AddArrayToObject(j, "shards");
    for (int i = 0; i < nshards; i++) {
        char name[32];
        data_shard_name(i, r->c->output.gzip, name);
        cJSON_AddItemToArray(sh, cJSON_CreateString(name));
    }
    cJSON_AddItemToObject(j, "config", data_config_to_json(r->c));
    char *path = fs_join(r->out, "stats.json");
    int rc = json_write_file(path, j, e);
    free(path);
    cJSON_Delete(j);
    return rc;
}

// Seconds and rates of this run (not deterministic, so not in stats.json).
static int write_timing(const Run *r, double wall, int files_done_before, Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "wall_seconds", wall);
    cJSON_AddNumberToObject(j, "threads", r->threads);
    cJSON_AddNumberToObject(j, "pass1_seconds", r->t_pass1);
    cJSON_AddNumberToObject(j, "dedup_seconds", r->t_dedup);
    cJSON_AddNumberToObject(j, "pass2_seconds", r->t_pass2);
    cJSON_AddNumberToObject(j, "input_bytes", (double)r->bytes_this_run);
    cJSON_AddNumberToObject(j, "input_files_already_done", files_done_before);
    cJSON *cpu = cJSON_AddObjectToObject(j, "cpu_seconds"), *rate = cJSON_AddObjectToObject(j, "mb_per_cpu_second");
    for (int s = 0; s < DATA_NSTAGES; s++) {
        if (!r->this_run.stage[s].docs_in || r->this_run.secs[s] <= 0) continue;
        cJSON_AddNumberToObject(cpu, data_stage_name(s), r->this_run.secs[s]);
        cJSON_AddNumberToObject(rate, data_stage_name(s), r->this_run.stage[s].bytes_in / 1e6 / r->this_run.secs[s]);
    }
    char *path = fs_join(r->out, "timing.json");
    int rc = json_write_file(path, j, e);
    free(path);
    cJSON_Delete(j);
    return rc;
}

// ---------------------------------------------------------------------------
// the run

static void remove_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strstr(de->d_name, ".tmp.")) continue;
        char *p = fs_join(dir, de->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
}

static int by_first_file(const void *a, const void *b) {
    const Part *x = a, *y = b;
    return x->files[0] - y->files[0];
}

static void run_free(Run *r) {
    for (int i = 0; i < r->nparts; i++) part_free(&r->parts[i]);
    free(r->parts);
    free(r->done);
    data_inputs_free(r->in, r->nin);
    data_pipe_free(r->pipe);
    free(r->out), free(r->work), free(r->removed);
}

// Make the folders, take the lock, list the inputs, load the done list.
static int run_setup(Run *r, int *lock_fd, Err *e) {
    if (fs_mkdir_p(r->out, e) || fs_mkdir_p(r->work, e) || fs_mkdir_p(r->removed, e)) return -1;
    char *lock = fs_join(r->work, "lock");
    *lock_fd = open(lock, O_RDWR | O_CREAT, 0644);
    free(lock);
    if (*lock_fd < 0) return err_errno(e, "%s: cannot create the lock", r->work);
    if (flock(*lock_fd, LOCK_EX | LOCK_NB) != 0) return err_set(e, "%s: another run is using this folder", r->out);
    remove_temps(r->out), remove_temps(r->removed);
    if (data_inputs_expand(r->o->inputs, r->o->ninputs, &r->in, &r->nin, e)) return -1;
    if (!r->nin) return err_set(e, "no input files (expected .warc[.gz], .jsonl[.gz], .html, .htm, .xhtml, .txt[.gz])");
    snprintf(r->hash, sizeof r->hash, "%016llx", (unsigned long long)data_config_hash(r->c));
    r->done = xcalloc((size_t)r->nin, sizeof *r->done);
    load_done(r);
    return (r->pipe = data_pipe_new(r->c, e)) ? 0 : -1;
}

int data_run(const DataRunOpts *o, DataStats *total, Err *e) {
    double t0 = rs_now();
    Run r = {.o = o, .c = o->cfg, .threads = o->threads > 0 ? o->threads : omp_get_max_threads()};
    r.out = xstrdup(o->out_dir);
    r.work = fs_join(o->out_dir, "work");
    r.removed = fs_join(o->out_dir, "removed");
    int lock_fd = -1, rc = run_setup(&r, &lock_fd, e);
    int files_before = 0;
    for (int i = 0; rc == 0 && i < r.nin; i++) files_before += r.done[i];
    if (rc == 0)
        log_info("data: %d input files (%d already done), %d threads, out %s", r.nin, files_before, r.threads, r.out);
    double t = rs_now();
    if (rc == 0) rc = pass1(&r, e);
    r.t_pass1 = rs_now() - t;
    DataDedup *dd = NULL;
    uint64_t ndocs = 0;
    if (rc == 0) {
        if (r.nparts) qsort(r.parts, (size_t)r.nparts, sizeof *r.parts, by_first_file);
        for (int i = 0; i < r.nparts; i++) ndocs += (uint64_t)r.parts[i].docs;
        t = rs_now();
        if (r.c->minhash.enabled && ndocs && !(dd = dedup(&r, ndocs, e))) rc = -1;
        r.t_dedup = rs_now() - t;
    }
    Pass2 p = {0};
    int nshards = 0;
    t = rs_now();
    if (rc == 0) rc = pass2(&r, dd, ndocs, &p, &nshards, e);
    r.t_pass2 = rs_now() - t;
    if (rc == 0) rc = write_samples(&r, &p, e);
    DataStats sum = {0};
    for (int i = 0; i < r.nparts; i++) data_stats_add(&sum, &r.parts[i].stats);
    data_stats_add(&sum, &p.st);
    if (rc == 0) rc = write_stats(&r, &sum, nshards, e);
    if (rc == 0) rc = write_timing(&r, rs_now() - t0, files_before, e);
    if (total) *total = sum;
    if (total) memcpy(total->secs, r.this_run.secs, sizeof total->secs);
    pass2_free(&p);
    data_dedup_free(dd);
    run_free(&r);
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}

int data_stats_load(const char *out_dir, DataStats *s, Err *e) {
    char *path = fs_join(out_dir, "stats.json");
    cJSON *j = json_read_file(path, e);
    int rc = j ? data_stats_from_json(s, j, path, e) : -1;
    free(path);
    cJSON_Delete(j);
    return rc;
}
