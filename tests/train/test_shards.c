// test_shards.c: the token shard format, the writer, the split reader, the
// window loader (order, epochs, resume) and `reasoner tokenize`'s driver
// (determinism across thread counts, the val split, bad input).
//   make build/tests/pretrain/test_shards && build/tests/pretrain/test_shards
#include <sys/stat.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/rng.h"
#include "train/shards.h"
#include "tests/test.h"
#include "tokenizer/bpe.h"

static char *read_file(const char *path, size_t *n) {
    char *d = NULL;
    Err e;
    if (fs_read_all(path, &d, n, &e) != 0) return NULL;
    return d;
}

static void write_bytes(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

// Parse a file; returns the rc and leaves the message in e.
static int parse_file(const char *path, ShardInfo *info, Err *e) {
    size_t n;
    char *d = read_file(path, &n);
    if (!d) return err_set(e, "cannot read %s", path);
    int rc = shard_parse(d, n, path, info, e);
    free(d);
    return rc;
}

// ---------------------------------------------------------------------------
// One shard file

TEST(shard_roundtrip_width2_and_width4) {
    int32_t ids[] = {0, 1, 999, 500, 7, 65535 % 1000};
    Err e = {{0}};
    char p2[512], p4[512];
    snprintf(p2, sizeof p2, "%s", test_path("w2.bin"));
    snprintf(p4, sizeof p4, "%s", test_path("w4.bin"));
    REQUIRE(shard_write(p2, ids, 6, 1000, 999, &e) == 0);
    int32_t big[] = {70000, 0, 65536, 12};
    REQUIRE(shard_write(p4, big, 4, 70001, 70000, &e) == 0);

    ShardInfo s;
    size_t n;
    char *d = read_file(p2, &n);
    REQUIRE(d);
    CHECK_EQ(n, SHARD_HEADER_BYTES + 6 * 2);
    CHECK(memcmp(d, "RSTOKENS", 8) == 0);
    REQUIRE(shard_parse(d, n, p2, &s, &e) == 0);
    CHECK_EQ(s.token_width, 2);
    CHECK_EQ(s.n_tokens, 6);
    CHECK_EQ(s.vocab_size, 1000);
    CHECK_EQ(s.eot_id, 999);
    for (int i = 0; i < 6; i++) CHECK_EQ(shard_token(&s, i), ids[i]);
    // Little-endian on disk: id 999 = 0x03e7 at byte 64 + 2*2.
    CHECK_EQ((unsigned char)d[SHARD_HEADER_BYTES + 4], 0xe7);
    CHECK_EQ((unsigned char)d[SHARD_HEADER_BYTES + 5], 0x03);
    free(d);

    d = read_file(p4, &n);
    REQUIRE(d);
    CHECK_EQ(n, SHARD_HEADER_BYTES + 4 * 4);
    REQUIRE(shard_parse(d, n, p4, &s, &e) == 0);
    CHECK_EQ(s.token_width, 4);
    for (int i = 0; i < 4; i++) CHECK_EQ(shard_token(&s, i), big[i]);
    free(d);
}

// Write a valid 5-token shard, let `mutate` damage its bytes, and return the
// error message of parsing it (static buffer).
static const char *parse_damaged(void (*mutate)(unsigned char *d, size_t *n)) {
    static Err e;
    int32_t ids[] = {1, 2, 3, 4, 5};
    char path[512];
    snprintf(path, sizeof path, "%s", test_path("bad.bin"));
    if (shard_write(path, ids, 5, 100, 0, &e) != 0) return "write failed";
    size_t n;
    unsigned char *d = (unsigned char *)read_file(path, &n);
    mutate(d, &n);
    ShardInfo s;
    memset(&e, 0, sizeof e);
    int rc = shard_parse(d, n, "bad.bin", &s, &e);
    free(d);
    return rc == 0 ? "parsed" : e.msg;
}

static void cut_header(unsigned char *d, size_t *n) { *n = 30; }
static void bad_magic(unsigned char *d, size_t *n) { d[0] = 'X'; }
static void bad_version(unsigned char *d, size_t *n) { d[8] = 9; }
static void bad_width(unsigned char *d, size_t *n) { d[12] = 3; }
static void truncated_ids(unsigned char *d, size_t *n) { *n -= 2; }
static void extra_bytes(unsigned char *d, size_t *n) { d[16] = 4; }  // n_tokens 4, 5 on disk
static void flipped_id(unsigned char *d, size_t *n) { d[SHARD_HEADER_BYTES + 2] ^= 1; }
static void small_vocab(unsigned char *d, size_t *n) { d[24] = 4; }  // id 4 and 5 now out of range
static void reserved(unsigned char *d, size_t *n) { d[50] = 1; }
static void huge_count(unsigned char *d, size_t *n) { memset(d + 16, 0xff, 8); }
static void eot_out_of_range(unsigned char *d, size_t *n) { d[28] = 200; }
static void untouched(unsigned char *d, size_t *n) {}

TEST(shard_bad_headers_name_the_field) {
    CHECK_STR_EQ(parse_damaged(untouched), "parsed");
    CHECK_CONTAINS(parse_damaged(cut_header), "bad.bin: header:");
    CHECK_CONTAINS(parse_damaged(bad_magic), "bad.bin: magic:");
    CHECK_CONTAINS(parse_damaged(bad_version), "bad.bin: version: 9");
    CHECK_CONTAINS(parse_damaged(bad_width), "bad.bin: token_width: 3");
    CHECK_CONTAINS(parse_damaged(truncated_ids), "bad.bin: n_tokens:");
    CHECK_CONTAINS(parse_damaged(extra_bytes), "bad.bin: n_tokens: header says 4");
    CHECK_CONTAINS(parse_damaged(huge_count), "bad.bin: n_tokens:");
    CHECK_CONTAINS(parse_damaged(flipped_id), "bad.bin: checksum:");
    CHECK_CONTAINS(parse_damaged(small_vocab), "bad.bin: token 3: id 4 is not below vocab_size 4");
    CHECK_CONTAINS(parse_damaged(reserved), "bad.bin: header: reserved byte 50");
    CHECK_CONTAINS(parse_damaged(eot_out_of_range), "bad.bin: eot_id: 200");
}

// ---------------------------------------------------------------------------
// The writer and a split

// Documents 0..n_docs-1; document d has d+1 ids (d*7 + j) % 90 + 1.
static int64_t write_docs(const char *dir, int n_docs, int64_t shard_tokens, int32_t *stream) {
    Err e;
    ShardWriter *w = shard_writer_new(dir, "train", shard_tokens, 100, 0);
    int64_t at = 0;
    for (int d = 0; d < n_docs; d++) {
        int32_t ids[64];
        for (int j = 0; j <= d; j++) ids[j] = (d * 7 + j) % 90 + 1;
        RS_CHECK(shard_writer_add(w, ids, d + 1, &e) == 0);
        stream[at++] = 0;
        for (int j = 0; j <= d; j++) stream[at++] = ids[j];
    }
    RS_CHECK(shard_writer_finish(w, &e) == 0);
    RS_CHECK(shard_writer_tokens(w) == at && shard_writer_documents(w) == n_docs);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "vocab_size", 100);
    cJSON_AddNumberToObject(m, "eot_id", 0);
    cJSON_AddItemToObject(m, "train", shard_writer_summary(w));
    char *path = fs_join(dir, SHARD_MANIFEST);
    RS_CHECK(json_write_file(path, m, &e) == 0);
    free(path);
    cJSON_Delete(m);
    shard_writer_free(w);
    return at;
}

// One document of n-1 distinct ids (1, 2, ...), so that every window of
// the stream is unique. Returns the stream (eot first), malloc'd.
static int32_t *write_unique(const char *dir, int n) {
    int32_t *stream = xmalloc((size_t)n * sizeof *stream);
    stream[0] = 0;
    for (int i = 1; i < n; i++) stream[i] = i;
    Err e;
    ShardWriter *w = shard_writer_new(dir, "train", 300, (uint32_t)n, 0);
    RS_CHECK(shard_writer_add(w, stream + 1, n - 1, &e) == 0 && shard_writer_finish(w, &e) == 0);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "vocab_size", n);
    cJSON_AddNumberToObject(m, "eot_id", 0);
    cJSON_AddItemToObject(m, "train", shard_writer_summary(w));
    char *path = fs_join(dir, SHARD_MANIFEST);
    RS_CHECK(json_write_file(path, m, &e) == 0);
    free(path);
    cJSON_Delete(m);
    shard_writer_free(w);
    return stream;
}

static char *fresh_dir(const char *name) {
    char *d = xstrdup(test_path(name));
    Err e;
    RS_CHECK(fs_mkdir_p(d, &e) == 0);
    return d;
}

TEST(writer_cuts_shards_and_set_reads_across_them) {
    char *dir = fresh_dir("split");
    int32_t stream[2000];
    int64_t total = write_docs(dir, 20, 37, stream);  // 20 docs: 20 + 210 = 230 tokens
    CHECK_EQ(total, 230);
    Err e = {{0}};
    ShardSet *s = shard_set_open(dir, "train", &e);
    REQUIRE(s);
    CHECK_EQ(shard_set_count(s), 7);  // 6 x 37 + 8
    CHECK_EQ(shard_set_tokens(s), 230);
    CHECK_EQ(shard_set_vocab_size(s), 100);
    CHECK_EQ(shard_set_eot_id(s), 0);
    char *last = fs_join(dir, "train_000006.bin");
    ShardInfo info;
    CHECK(parse_file(last, &info, &e) == 0);
    CHECK_EQ(info.n_tokens, 230 - 6 * 37);
    free(last);
    int32_t got[230];
    shard_set_read(s, 0, 230, got);
    int same = 1;
    for (int i = 0; i < 230; i++) same &= got[i] == stream[i];
    CHECK(same);
    shard_set_read(s, 35, 5, got);  // straddles shards 0 and 1
    CHECK(memcmp(got, stream + 35, 5 * sizeof *got) == 0);
    shard_set_free(s);
    free(dir);
}

TEST(set_open_errors) {
    Err e = {{0}};
    char *dir = fresh_dir("nomanifest");
    CHECK(shard_set_open(dir, "train", &e) == NULL);
    CHECK_CONTAINS(e.msg, "shards.json: missing");
    free(dir);

    dir = fresh_dir("damaged");
    int32_t stream[2000];
    write_docs(dir, 10, 20, stream);
    char *shard = fs_join(dir, "train_000001.bin");
    size_t n;
    char *d = read_file(shard, &n);
    d[SHARD_HEADER_BYTES] ^= 0x40;
    write_bytes(shard, d, n);
    free(d);
    CHECK(shard_set_open(dir, "train", &e) == NULL);
    CHECK_CONTAINS(e.msg, "train_000001.bin: checksum:");
    CHECK(shard_set_open(dir, "val", &e) == NULL);
    CHECK_CONTAINS(e.msg, "field 'val.shards'");
    free(shard);

    // A manifest whose count disagrees with the shard.
    char *mp = fs_join(dir, SHARD_MANIFEST);
    test_write_file(mp, "{\"vocab_size\": 100, \"eot_id\": 0, \"train\": {\"shards\": [{\"file\": \"train_000000.bin\", "
                        "\"tokens\": 3}]}}");
    CHECK(shard_set_open(dir, "train", &e) == NULL);
    CHECK_CONTAINS(e.msg, "n_tokens: 20 but");
    test_write_file(mp, "{\"vocab_size\": 100, \"eot_id\": 0, \"train\": {\"shards\": [{\"file\": \"../x.bin\", "
                        "\"tokens\": 3}]}}");
    CHECK(shard_set_open(dir, "train", &e) == NULL);
    CHECK_CONTAINS(e.msg, "must be a plain file name");
    test_write_file(mp, "{\"vocab_size\": 100, \"eot_id\": 0, \"train\": {\"shards\": [{\"file\": \"train_000000.bin\"}]}}");
    CHECK(shard_set_open(dir, "train", &e) == NULL);
    CHECK_CONTAINS(e.msg, "train.shards[0]: field 'tokens'");
    free(mp);
    free(dir);
}

// ---------------------------------------------------------------------------
// The loader

TEST(loader_in_order_windows_overlap_by_one) {
    char *dir = fresh_dir("order");
    int32_t stream[2000];
    write_docs(dir, 20, 37, stream);
    Err e = {{0}};
    ShardSet *s = shard_set_open(dir, "train", &e);
    REQUIRE(s);
    int T = 16;
    ShardLoader *l = shard_loader_new(s, T, 1, 0, &e);
    REQUIRE(l);
    CHECK_EQ(shard_loader_windows(l), (230 - 1) / T);  // 14
    int32_t batch[3 * 17];
    int ok = 1;
    for (int b = 0; b < 5; b++) {  // 15 windows: wraps once
        shard_loader_next(l, 3, batch);
        for (int r = 0; r < 3; r++) {
            int w = (b * 3 + r) % 14;
            ok &= memcmp(batch + r * 17, stream + w * T, 17 * sizeof(int32_t)) == 0;
        }
    }
    CHECK(ok);
    ShardLoaderPos p = shard_loader_pos(l);
    CHECK_EQ(p.epoch, 1);
    CHECK_EQ(p.index, 1);
    shard_loader_reset(l);
    shard_loader_next(l, 1, batch);
    CHECK(memcmp(batch, stream, 17 * sizeof(int32_t)) == 0);
    shard_loader_free(l);

    CHECK(shard_loader_new(s, 230, 1, 0, &e) == NULL);
    CHECK_CONTAINS(e.msg, "too few for one window");
    shard_set_free(s);
    free(dir);
}

// Which window (its start / T) a row holds, by matching the stream.
static int window_of(const int32_t *row, const int32_t *stream, int nw, int T) {
    for (int w = 0; w < nw; w++)
        if (memcmp(row, stream + w * T, (size_t)(T + 1) * sizeof *row) == 0) return w;
    return -1;
}

TEST(loader_shuffles_each_epoch_as_a_permutation) {
    char *dir = fresh_dir("shuffle");
    int32_t *stream = write_unique(dir, 860);
    Err e = {{0}};
    ShardSet *s = shard_set_open(dir, "train", &e);
    REQUIRE(s);
    int T = 8, nw = (860 - 1) / 8;  // 107 windows
    ShardLoader *a = shard_loader_new(s, T, 42, 1, &e), *b = shard_loader_new(s, T, 42, 1, &e),
                *c = shard_loader_new(s, T, 43, 1, &e);
    REQUIRE(a && b && c);
    int order[2][107], seen_ok = 1, same_ab = 1, same_ac = 1, in_order = 1;
    int32_t ra[9], rb[9], rc[9];
    for (int ep = 0; ep < 2; ep++) {
        int seen[107] = {0};
        for (int i = 0; i < nw; i++) {
            shard_loader_next(a, 1, ra);
            shard_loader_next(b, 1, rb);
            shard_loader_next(c, 1, rc);
            int w = window_of(ra, stream, nw, T);
            order[ep][i] = w;
            seen_ok &= w >= 0 && !seen[w];
            if (w >= 0) seen[w] = 1;
            in_order &= w == i;
            same_ab &= memcmp(ra, rb, sizeof ra) == 0;
            same_ac &= memcmp(ra, rc, sizeof ra) == 0;
        }
    }
    CHECK_MSG(seen_ok, "every window exactly once per epoch");
    CHECK(!in_order);
    CHECK(same_ab);
    CHECK(!same_ac);
    CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0);  // a new order each epoch
    shard_loader_free(a);
    shard_loader_free(b);
    shard_loader_free(c);
    shard_set_free(s);
    free(stream);
    free(dir);
}

TEST(loader_resumes_from_a_saved_position) {
    char *dir = fresh_dir("resume");
    int32_t stream[2000];
    write_docs(dir, 40, 100, stream);
    Err e = {{0}};
    ShardSet *s = shard_set_open(dir, "train", &e);
    REQUIRE(s);
    int T = 8, B = 5;
    ShardLoader *l = shard_loader_new(s, T, 7, 1, &e);
    int32_t straight[40][5 * 9], resumed[5 * 9];
    for (int i = 0; i < 40; i++) shard_loader_next(l, B, straight[i]);  // 200 windows: crosses an epoch
    shard_loader_free(l);

    for (int cut = 0; cut < 40; cut += 7) {
        l = shard_loader_new(s, T, 7, 1, &e);
        for (int i = 0; i < cut; i++) shard_loader_next(l, B, resumed);
        cJSON *j = shard_loader_pos_to_json(shard_loader_pos(l));
        char *text = json_compact(j);
        cJSON_Delete(j);
        shard_loader_free(l);

        j = json_parse(text, strlen(text), "state", 1, &e);
        free(text);
        ShardLoaderPos p;
        REQUIRE(shard_loader_pos_from_json(j, "state", &p, &e) == 0);
        cJSON_Delete(j);
        l = shard_loader_new(s, T, 7, 1, &e);
        REQUIRE(shard_loader_seek(l, p, &e) == 0);
        int same = 1;
        for (int i = cut; i < 40; i++) {
            shard_loader_next(l, B, resumed);
            same &= memcmp(resumed, straight[i], sizeof resumed) == 0;
        }
        CHECK_MSG(same, "resume at batch %d", cut);
        shard_loader_free(l);
    }

    l = shard_loader_new(s, T, 7, 1, &e);
    ShardLoaderPos p = {.epoch = 0, .index = 3, .n_windows = 999};
    CHECK(shard_loader_seek(l, p, &e) != 0);
    CHECK_CONTAINS(e.msg, "different data or seq_len");
    p.n_windows = shard_loader_windows(l);
    p.index = p.n_windows + 1;
    CHECK(shard_loader_seek(l, p, &e) != 0);
    CHECK_CONTAINS(e.msg, "out of range");
    cJSON *j = cJSON_Parse("{\"epoch\": 1, \"index\": \"x\", \"n_windows\": 3}");
    CHECK(shard_loader_pos_from_json(j, "trainer_state.json", &p, &e) != 0);
    CHECK_CONTAINS(e.msg, "trainer_state.json: field 'index'");
    cJSON_Delete(j);
    shard_loader_free(l);
    shard_set_free(s);
    free(dir);
}

// ---------------------------------------------------------------------------
// Tokenizing text into a data folder

static const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "with",
                              "one", "two", "three", "plus", "equals", "four", "five"};

// Document d of the test corpus: a few pseudo-random sentences.
static char *make_doc(int d) {
    Buf b = {0};
    Rng r;
    rng_seed(&r, (uint64_t)d + 1);
    int n = 5 + (int)rng_below(&r, 30);
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", words[rng_below(&r, RS_ARRAY_LEN(words))]);
    buf_printf(&b, " (doc %d).", d);
    return buf_take(&b);
}

// A tokenizer trained on the corpus (vocab 320), saved to tok.json once.
static const char *test_tokenizer(void) {
    static char path[512];
    if (path[0]) return path;
    snprintf(path, sizeof path, "%s", test_path("tok.json"));
    BpeTrainOpts o = {.vocab_size = 320, .threads = 1};
    Err e;
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    for (int d = 0; d < 50; d++) {
        char *doc = make_doc(d);
        bpe_trainer_add(t, doc, strlen(doc));
        free(doc);
    }
    Bpe *b = bpe_trainer_finish(t, &e);
    RS_CHECK(b && bpe_save(b, path, &e) == 0);
    bpe_free(b);
    bpe_trainer_free(t);
    return path;
}

// Inputs: docs.jsonl with documents 0..59 (document 3 holds a literal
// <|endoftext|>, document 4 is empty), and docs.txt with 60..79 separated by
// <|endoftext|> lines (document 65 holds one inside a line: not a separator).
#define INLINE_EOT "inline <|endoftext|> is text\n<|endoftext|>x"

static void write_corpus(char *jsonl, char *txt) {
    snprintf(jsonl, 512, "%s", test_path("docs.jsonl"));
    snprintf(txt, 512, "%s", test_path("docs.txt"));
    FILE *f = fopen(jsonl, "wb");
    for (int d = 0; d < 60; d++) {
        char *doc = make_doc(d);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", "x");
        cJSON_AddStringToObject(j, "text", d == 3 ? "fake <|endoftext|> separator" : d == 4 ? "" : doc);
        json_write_line(f, j);
        cJSON_Delete(j);
        free(doc);
    }
    fclose(f);
    f = fopen(txt, "wb");
    for (int d = 60; d < 80; d++) {
        char *doc = d == 65 ? xstrdup(INLINE_EOT) : make_doc(d);
        fprintf(f, "%s%s\n", d > 60 ? "<|endoftext|>\n" : "", doc);
        free(doc);
    }
    fclose(f);
}

static int tokenize_into(const char *out, int threads, int64_t shard_tokens, double val, ShardTokenizeStats *st,
                         Err *e) {
    static char jsonl[512], txt[512];
    write_corpus(jsonl, txt);
    const char *inputs[] = {jsonl, txt};
    ShardTokenizeOpts o = {.tokenizer = test_tokenizer(),
                           .inputs = inputs,
                           .n_inputs = 2,
                           .out_dir = out,
                           .shard_tokens = shard_tokens,
                           .val_fraction = val,
                           .threads = threads};
    return shard_tokenize(&o, st, e);
}

// Decode a split's documents: the text between <|endoftext|> ids.
static int split_docs(const char *dir, const char *split, char **docs, int max) {
    Err e;
    ShardSet *s = shard_set_open(dir, split, &e);
    if (!s) return -1;
    char *tp = fs_join(dir, "tokenizer.json");
    Bpe *b = bpe_load(tp, &e);
    free(tp);
    int64_t n = shard_set_tokens(s);
    int32_t *ids = xmalloc((size_t)(n + 1) * sizeof *ids);
    shard_set_read(s, 0, n, ids);
    int nd = 0;
    for (int64_t i = 0; i < n;) {
        RS_CHECK(ids[i] == (int32_t)shard_set_eot_id(s));
        int64_t j = i + 1;
        while (j < n && ids[j] != (int32_t)shard_set_eot_id(s)) j++;
        Buf out = {0};
        RS_CHECK(bpe_decode(b, ids + i + 1, (size_t)(j - i - 1), &out, &e) == 0);
        if (nd < max) docs[nd] = out.data ? buf_take(&out) : xstrdup("");
        nd++;
        i = j;
    }
    free(ids);
    bpe_free(b);
    shard_set_free(s);
    return nd;
}

TEST(tokenize_recovers_every_document_in_order) {
    char *out = xstrdup(test_path("tok_a"));
    ShardTokenizeStats st;
    Err e = {{0}};
    REQUIRE(tokenize_into(out, 2, 50, 0.25, &st, &e) == 0);
    CHECK_EQ(st.skipped_empty, 1);
    CHECK_EQ(st.documents[0] + st.documents[1], 79);
    CHECK(st.documents[1] >= 8 && st.documents[1] <= 35);  // ~25% of 79
    char *train[100], *val[100];
    int nt = split_docs(out, "train", train, 100), nv = split_docs(out, "val", val, 100);
    CHECK_EQ(nt, st.documents[0]);
    CHECK_EQ(nv, st.documents[1]);
    // Merge back in input order: each document is in exactly one split.
    int it = 0, iv = 0, all = 1;
    for (int d = 0; d < 80; d++) {
        if (d == 4) continue;
        char *want = d == 3 ? xstrdup("fake <|endoftext|> separator") : d == 65 ? xstrdup(INLINE_EOT) : make_doc(d);
        if (d == 79) {  // the last text document keeps the file's final newline
            size_t n = strlen(want);
            want = xrealloc(want, n + 2);
            strcpy(want + n, "\n");
        }
        if (it < nt && strcmp(train[it], want) == 0) it++;
        else if (iv < nv && strcmp(val[iv], want) == 0) iv++;
        else all = 0, fprintf(stderr, "    document %d not found next in either split\n", d);
        free(want);
    }
    CHECK(all);
    CHECK_EQ(it, nt);
    CHECK_EQ(iv, nv);
    for (int i = 0; i < nt; i++) free(train[i]);
    for (int i = 0; i < nv; i++) free(val[i]);

    char *mp = fs_join(out, SHARD_MANIFEST);
    cJSON *m = json_read_file(mp, &e);
    REQUIRE(m);
    CHECK_EQ(json_opt_int(m, "vocab_size", 0), 320);
    CHECK_EQ(json_opt_int(m, "token_width", 0), 2);
    cJSON *tr = cJSON_GetObjectItem(m, "train");
    CHECK_EQ(json_opt_int(tr, "tokens", 0), st.tokens[0]);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(tr, "shards")) > 3);
    cJSON_Delete(m);
    free(mp);
    free(out);
}

TEST(tokenize_is_identical_across_thread_counts) {
    char *a = xstrdup(test_path("tok_t1")), *b = xstrdup(test_path("tok_t2"));
    ShardTokenizeStats sa, sb;
    Err e = {{0}};
    REQUIRE(tokenize_into(a, 1, 64, 0.2, &sa, &e) == 0);
    REQUIRE(tokenize_into(b, 2, 64, 0.2, &sb, &e) == 0);
    const char *files[] = {"train_000000.bin", "train_000001.bin", "val_000000.bin", SHARD_MANIFEST};
    for (size_t i = 0; i < RS_ARRAY_LEN(files); i++) {
        char *pa = fs_join(a, files[i]), *pb = fs_join(b, files[i]);
        size_t na = 0, nb = 0;
        char *da = read_file(pa, &na), *db = read_file(pb, &nb);
        CHECK_MSG(da && db && na == nb && memcmp(da, db, na) == 0, "%s differs", files[i]);
        free(da), free(db), free(pa), free(pb);
    }
    free(a), free(b);
}

TEST(tokenize_bad_input) {
    char *out = xstrdup(test_path("tok_bad"));
    Err e = {{0}};
    ShardTokenizeStats st;
    REQUIRE(tokenize_into(out, 1, 1000, 0.1, &st, &e) == 0);
    char *mp = fs_join(out, SHARD_MANIFEST);
    CHECK(fs_exists(mp));

    char bad[512];
    snprintf(bad, sizeof bad, "%s", test_path("bad.jsonl"));
    test_write_file(bad, "{\"text\": \"fine\"}\n{\"txt\": \"no text field\"}\n");
    const char *inputs[] = {bad};
    ShardTokenizeOpts o = {.tokenizer = test_tokenizer(), .inputs = inputs, .n_inputs = 1, .out_dir = out,
                           .shard_tokens = 100, .val_fraction = 0.1, .threads = 1};
    CHECK(shard_tokenize(&o, &st, &e) != 0);
    CHECK_CONTAINS(e.msg, "bad.jsonl:2: field 'text': missing");
    CHECK_MSG(!fs_exists(mp), "a failed run leaves no manifest");

    test_write_file(bad, "{\"text\": \"fine\"}\n{\"text\": \"broken\n");
    CHECK(shard_tokenize(&o, &st, &e) != 0);
    CHECK_CONTAINS(e.msg, "bad.jsonl:2:");

    inputs[0] = "/nonexistent/input.txt";
    CHECK(shard_tokenize(&o, &st, &e) != 0);
    CHECK_CONTAINS(e.msg, "/nonexistent/input.txt");

    inputs[0] = bad;
    o.tokenizer = "/nonexistent/tok.json";
    CHECK(shard_tokenize(&o, &st, &e) != 0);
    CHECK_CONTAINS(e.msg, "/nonexistent/tok.json");

    o.tokenizer = test_tokenizer();
    o.val_fraction = 1.0;
    CHECK(shard_tokenize(&o, &st, &e) != 0);
    CHECK_CONTAINS(e.msg, "val_fraction");
    free(mp);
    free(out);
}

TEST(tokenize_again_replaces_the_old_run) {
    char *out = xstrdup(test_path("tok_again"));
    ShardTokenizeStats st;
    Err e = {{0}};
    REQUIRE(tokenize_into(out, 1, 40, 0.1, &st, &e) == 0);  // many small shards
    char *second = fs_join(out, "train_000001.bin"), *keep = fs_join(out, "notes.txt");
    test_write_file(keep, "mine");
    CHECK(fs_exists(second));
    REQUIRE(tokenize_into(out, 1, 1000000, 0.1, &st, &e) == 0);  // one shard per split
    CHECK_MSG(!fs_exists(second), "a shard of the earlier run is left behind");
    CHECK(fs_exists(keep));
    ShardSet *s = shard_set_open(out, "train", &e);
    REQUIRE(s);
    CHECK_EQ(shard_set_count(s), 1);
    CHECK_EQ(shard_set_tokens(s), st.tokens[0]);
    shard_set_free(s);
    free(second), free(keep), free(out);
}
