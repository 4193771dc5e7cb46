// test_data_run.c: whole runs of the pipeline on a corpus this test writes
// (a gzip'd WARC with a truncated last member, a folder of HTML files with
// bad ones among them, JSONL, text): the output is identical whatever the
// thread count and however the input is cut into parts, a rerun skips what
// is done and gives the same output, bad input is counted and skipped,
// duplicates keep their first copy, PII is gone, samples are capped.
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/rng.h"
#include "data/pipeline.h"
#include "tests/test.h"

// ---------------------------------------------------------------------------
// the corpus

static const char *NOUNS[] = {"river", "garden", "teacher", "market", "window", "village", "engine", "harbor", "letter",
                              "mountain", "library", "kitchen", "farmer", "student", "bridge", "forest", "doctor",
                              "painter", "station", "island", "museum", "factory", "journey", "question", "morning",
                              "summer", "winter", "shadow", "silence", "country", "language", "picture", "pocket",
                              "blanket", "captain", "neighbor", "holiday", "castle", "orchard", "meadow"};
static const char *VERBS[] = {"watched", "painted", "carried", "followed", "visited", "described", "repaired", "found",
                              "opened", "remembered", "discovered", "built", "cleaned", "answered", "explained",
                              "admired", "measured", "crossed", "noticed", "borrowed"};
static const char *ADJS[] = {"quiet", "old", "bright", "narrow", "heavy", "gentle", "distant", "careful", "wooden",
                             "early", "patient", "famous", "simple", "crowded", "golden", "busy", "strange", "tired"};
#define PICK(r, a) a[rng_below(r, RS_ARRAY_LEN(a))]

// A paragraph of ordinary English sentences (passes every FineWeb filter).
static void paragraph(Rng *r, Buf *b, int sentences) {
    for (int i = 0; i < sentences; i++) {
        if (i) buf_putc(b, ' ');
        const char *n1 = PICK(r, NOUNS), *n2 = PICK(r, NOUNS), *n3 = PICK(r, NOUNS);
        char cap[32];
        snprintf(cap, sizeof cap, "%s", PICK(r, ADJS));
        cap[0] = (char)(cap[0] - 32);
        switch (rng_below(r, 3)) {
        case 0: buf_printf(b, "The %s %s %s the %s %s near the %s.", PICK(r, ADJS), n1, PICK(r, VERBS), PICK(r, ADJS), n2, n3); break;
        case 1: buf_printf(b, "%s %ss have %s a %s and the %s of the %s.", cap, n1, PICK(r, VERBS), n2, n3, PICK(r, NOUNS)); break;
        default: buf_printf(b, "In the %s, that %s %s with the %s %s.", n1, n2, PICK(r, VERBS), PICK(r, ADJS), n3);
        }
    }
}

static void article(Rng *r, Buf *b, const char *extra) {
    buf_puts(b, "<html><head><title>t</title></head><body><nav><a href=/>Home</a> <a href=/x>More</a></nav><article>");
    buf_printf(b, "<h1>The %s %s</h1>", PICK(r, ADJS), PICK(r, NOUNS));
    for (int p = 0; p < 4; p++) {
        buf_puts(b, "<p>");
        paragraph(r, b, 5);
        buf_puts(b, "</p>");
    }
    if (extra) buf_puts(b, extra);
    buf_puts(b, "</article><footer>Contact us</footer></body></html>");
}

static void warc_response(Buf *w, const char *uri, int id, const char *html) {
    Buf http = {0};
    buf_printf(&http, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s", html);
    buf_printf(w, "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%04d>\r\nWARC-Target-URI: %s\r\n"
                  "Content-Type: application/http; msgtype=response\r\nContent-Length: %zu\r\n\r\n%s\r\n\r\n",
               id, uri, http.len, http.data);
    buf_free(&http);
}

static void gzip_member(FILE *f, const Buf *data) {
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, data->len);
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)data->data, z.avail_in = (uInt)data->len;
    z.next_out = out, z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    fwrite(out, 1, z.total_out, f);
    deflateEnd(&z);
    free(out);
}

static const char *DE_TEXT =
    "<p>Der Ausschuss traf sich am Dienstag, um den neuen Haushalt der Stadtbibliothek zu besprechen. Die Mitglieder "
    "waren sich einig, dass die Lesesäle eine bessere Beleuchtung brauchen. Die Öffnungszeiten sollen in der "
    "Prüfungszeit verlängert werden. Viele Studenten arbeiten dort bis spät in die Nacht. Der Bürgermeister "
    "versprach, das Geld noch in diesem Jahr bereitzustellen. Alle waren mit dem Ergebnis zufrieden.</p>";

// Writes the corpus under dir; returns the input paths (static).
static const char **make_corpus(const char *dir, int *n) {
    static char paths[4][512];
    static const char *list[4];
    char sub[512];
    Rng r;
    rng_seed(&r, 2024);
    mkdir(dir, 0755);
    // 1. a gzip'd WARC: 30 articles, near-copies of three of them, PII,
    //    lorem ipsum, German pages, a banned URL, and a truncated last member.
    snprintf(paths[0], sizeof paths[0], "%s/crawl.warc.gz", dir);
    FILE *f = fopen(paths[0], "wb");
    Buf keep[3] = {{0}}, page = {0}, w = {0};
    int id = 0;
    for (int i = 0; i < 30; i++) {
        buf_clear(&page);
        article(&r, &page, i == 4 ? "<p>Mail jane.roe@corp-mail.com or ping 8.8.4.4, not 192.168.0.7, for the report "
                                    "on the garden. The station answered the letter of the captain.</p>"
                                  : NULL);
        if (i < 3) buf_append(&keep[i], page.data, page.len);
        char uri[64];
        snprintf(uri, sizeof uri, "http://site.example/article/%d", i);
        buf_clear(&w);
        warc_response(&w, uri, id++, page.data);
        gzip_member(f, &w);
    }
    for (int i = 0; i < 3; i++) {  // the near-copies: a different site, one word changed
        char *at = strstr(keep[i].data, "Home");
        memcpy(at, "Main", 4);
        char uri[64];
        snprintf(uri, sizeof uri, "http://mirror.example/copy/%d", i);
        buf_clear(&w);
        warc_response(&w, uri, id++, keep[i].data);
        gzip_member(f, &w);
    }
    for (int i = 0; i < 25; i++) {  // more German pages than samples are kept for
        buf_clear(&w);
        char uri[64];
        snprintf(uri, sizeof uri, "http://de.example/%d", i);
        buf_clear(&page);
        buf_printf(&page, "<html><body><h1>Nummer %d</h1>%s</body></html>", i, DE_TEXT);
        warc_response(&w, uri, id++, page.data);
        gzip_member(f, &w);
    }
    buf_clear(&page);
    article(&r, &page, "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>");
    buf_clear(&w);
    warc_response(&w, "http://site.example/lorem", id++, page.data);
    gzip_member(f, &w);
    buf_clear(&page);
    article(&r, &page, NULL);
    buf_clear(&w);
    warc_response(&w, "http://xxx.example/porn/video", id++, page.data);
    gzip_member(f, &w);
    buf_clear(&w);
    warc_response(&w, "http://site.example/cut", id++, page.data);
    gzip_member(f, &w);
    long end = ftell(f);
    fclose(f);
    CHECK(truncate(paths[0], end - 200) == 0);  // the last member loses its end
    // 2. a folder of HTML files, with binary junk, invalid UTF-8 and a 50 MB page
    snprintf(paths[1], sizeof paths[1], "%s/site", dir);
    mkdir(paths[1], 0755);
    for (int i = 0; i < 8; i++) {
        buf_clear(&page);
        article(&r, &page, NULL);
        snprintf(sub, sizeof sub, "%s/page%02d.html", paths[1], i);
        test_write_file(sub, page.data);
    }
    snprintf(sub, sizeof sub, "%s/junk.html", paths[1]);
    f = fopen(sub, "wb");
    for (int i = 0; i < 5000; i++) fputc((int)(rng_u64(&r) & 255), f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/latin.html", paths[1]);
    test_write_file(sub, "<p>caf\xe9 without a charset \xff\xfe</p>");
    snprintf(sub, sizeof sub, "%s/huge.html", paths[1]);
    f = fopen(sub, "wb");
    for (int i = 0; i < 50 * 1024; i++) fputs("<p>", f), fseek(f, 1021, SEEK_CUR);  // sparse, 50 MB
    fputs("</p>", f);
    fclose(f);
    // 3. JSONL with a bad line, 4. a text file
    snprintf(paths[2], sizeof paths[2], "%s/docs.jsonl", dir);
    f = fopen(paths[2], "wb");
    for (int i = 0; i < 6; i++) {
        buf_clear(&page);
        paragraph(&r, &page, 6);
        buf_puts(&page, "\n");
        paragraph(&r, &page, 6);
        Buf line = {0};
        buf_printf(&line, "{\"id\": \"j%d\", \"url\": \"http://json.example/%d\", \"text\": ", i, i);
        data_json_str(&line, page.data, page.len);
        buf_puts(&line, "}\n");
        fputs(line.data, f);
        buf_free(&line);
        if (i == 2) fputs("{\"id\": \"broken\", \"text\": \n", f);
    }
    fclose(f);
    snprintf(paths[3], sizeof paths[3], "%s/note.txt", dir);
    buf_clear(&page);
    paragraph(&r, &page, 8);
    test_write_file(paths[3], page.data);
    for (int i = 0; i < 3; i++) buf_free(&keep[i]);
    buf_free(&page), buf_free(&w);
    for (int i = 0; i < 4; i++) list[i] = paths[i];
    *n = 4;
    return list;
}

// ---------------------------------------------------------------------------
// helpers

static int run(const char *const *inputs, int n, const char *out, int threads, DataConfig *c) {
    DataConfig dflt;
    if (!c) data_config_default(&dflt);
    DataRunOpts o = {.cfg = c ? c : &dflt, .inputs = inputs, .ninputs = n, .out_dir = out, .threads = threads};
    Err e;
    DataStats st;
    int rc = data_run(&o, &st, &e);
    if (rc) fprintf(stderr, "    data_run: %s\n", e.msg);
    if (!c) data_config_free(&dflt);
    return rc;
}

static char *slurp(const char *dir, const char *name) {
    char *p = fs_join(dir, name), *text = NULL;
    size_t n;
    Err e;
    if (fs_read_all(p, &text, &n, &e)) text = NULL;
    free(p);
    return text;
}

// Every file of the output that must be deterministic, concatenated.
static char *outputs(const char *dir) {
    Buf b = {0};
    const char *names[] = {"shard-00000.jsonl", "shard-00001.jsonl", "stats.json"};
    for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
        char *t = slurp(dir, names[i]);
        buf_printf(&b, "== %s\n%s", names[i], t ? t : "(none)\n");
        free(t);
    }
    char *rm = fs_join(dir, "removed");
    DIR *d = opendir(rm);
    char *names2[64];
    int k = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        if (de->d_name[0] != '.' && k < 64) names2[k++] = strdup(de->d_name);
    if (d) closedir(d);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (strcmp(names2[i], names2[j]) > 0) { char *t = names2[i]; names2[i] = names2[j]; names2[j] = t; }
    for (int i = 0; i < k; i++) {
        char *t = slurp(rm, names2[i]);
        buf_printf(&b, "== removed/%s\n%s", names2[i], t ? t : "");
        free(t), free(names2[i]);
    }
    free(rm);
    return buf_take(&b);
}

static cJSON *stats_of(const char *dir) {
    char *p = fs_join(dir, "stats.json");
    Err e;
    cJSON *j = json_read_file(p, &e);
    free(p);
    return j;
}

static int64_t removed(const cJSON *s, const char *rule) {
    return json_opt_int(cJSON_GetObjectItemCaseSensitive(s, "removed"), rule, -1);
}

static int64_t stage(const cJSON *s, const char *st, const char *field) {
    return json_opt_int(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "stages"), st), field, -1);
}

static int count_lines(const char *text) {
    int n = 0;
    for (const char *p = text; p && *p; p++) n += *p == '\n';
    return n;
}

static const char **IN;
static int NIN;
static char *REF;  // outputs of the reference run (1 thread)

static void ensure_reference(void) {
    if (REF) return;
    IN = make_corpus(test_path("corpus"), &NIN);
    REQUIRE(run(IN, NIN, test_path("out1"), 1, NULL) == 0);
    REF = outputs(test_path("out1"));
}

// ---------------------------------------------------------------------------
// tests

TEST(bad_input_is_counted_and_the_run_goes_on) {
    ensure_reference();
    REQUIRE(REF != NULL);
    cJSON *s = stats_of(test_path("out1"));
    REQUIRE(s != NULL);
    CHECK_EQ(removed(s, "input/gzip_truncated"), 1);
    CHECK_EQ(removed(s, "input/binary"), 1);
    CHECK_EQ(removed(s, "input/invalid_utf8"), 1);
    CHECK_EQ(removed(s, "input/too_large"), 1);
    CHECK_EQ(removed(s, "input/bad_jsonl"), 1);
    CHECK_EQ(removed(s, "url/hard_word"), 1);
    CHECK_EQ(removed(s, "c4/lorem_ipsum"), 1);
    CHECK_EQ(removed(s, "language/other_language"), 25);
    CHECK_EQ(removed(s, "minhash/duplicate"), 3);
    CHECK_EQ(json_opt_int(cJSON_GetObjectItemCaseSensitive(s, "counters"), "input_files", -1), 14);
    CHECK_EQ(json_opt_int(cJSON_GetObjectItemCaseSensitive(s, "counters"), "pii_emails_replaced", -1), 1);
    CHECK_EQ(json_opt_int(cJSON_GetObjectItemCaseSensitive(s, "counters"), "pii_ipv4_replaced", -1), 1);
    // 61 WARC records + 11 HTML files + 7 JSONL lines + 1 text
    CHECK_EQ(stage(s, "input", "docs_in"), 61 + 11 + 7 + 1);
    // every document that leaves a stage enters the next
    CHECK_EQ(stage(s, "url", "docs_in"), stage(s, "input", "docs_out"));
    CHECK_EQ(stage(s, "gopher_rep", "docs_in"), stage(s, "language", "docs_out"));
    CHECK_EQ(stage(s, "gopher_qual", "docs_in"), stage(s, "gopher_rep", "docs_out"));
    CHECK_EQ(stage(s, "c4", "docs_in"), stage(s, "gopher_qual", "docs_out"));
    CHECK_EQ(stage(s, "fineweb", "docs_in"), stage(s, "c4", "docs_out"));
    CHECK_EQ(stage(s, "minhash", "docs_in"), stage(s, "fineweb", "docs_out"));
    CHECK_EQ(stage(s, "pii", "docs_in"), stage(s, "minhash", "docs_out"));
    // the good documents all made it: 30 articles + 8 pages + 6 JSONL + 1 text
    CHECK_EQ(stage(s, "pii", "docs_out"), 45);
    CHECK_EQ(json_opt_int(s, "docs_out", -1), 45);
    char *shard = slurp(test_path("out1"), "shard-00000.jsonl");
    REQUIRE(shard != NULL);
    CHECK_EQ(count_lines(shard), 45);
    cJSON_Delete(s);
    free(shard);
}

TEST(output_documents) {
    ensure_reference();
    char *shard = slurp(test_path("out1"), "shard-00000.jsonl");
    REQUIRE(shard != NULL);
    CHECK(!strstr(shard, "jane.roe") && !strstr(shard, "8.8.4.4"));
    CHECK_CONTAINS(shard, "not 192.168.0.7");
    CHECK(!strstr(shard, "mirror.example"));  // the copies went, the originals stayed
    CHECK_CONTAINS(shard, "http://site.example/article/0\"");
    CHECK(!strstr(shard, "Contact us") && !strstr(shard, "Home"));  // boilerplate
    char *line = strtok(shard, "\n");
    cJSON *j = cJSON_Parse(line);
    REQUIRE(j != NULL);
    CHECK_STR_EQ(json_opt_str(j, "id", ""), "<urn:uuid:0000>");
    CHECK_STR_EQ(json_opt_str(j, "url", ""), "http://site.example/article/0");
    CHECK(strlen(json_opt_str(j, "text", "")) > 500);
    char *stages = json_compact(cJSON_GetObjectItemCaseSensitive(j, "stages"));
    CHECK_STR_EQ(stages, "[\"url\",\"extract\",\"language\",\"gopher_rep\",\"gopher_qual\",\"c4\",\"fineweb\",\"minhash\",\"pii\"]");
    free(stages);
    cJSON_Delete(j);
    free(shard);
    // samples: at most 20 per rule, each naming its rule
    char *de = slurp(test_path("out1/removed"), "language.other_language.jsonl");
    REQUIRE(de != NULL);
    CHECK_EQ(count_lines(de), 20);
    CHECK_CONTAINS(de, "\"rule\":\"language/other_language\"");
    free(de);
    char *dup = slurp(test_path("out1/removed"), "minhash.duplicate.jsonl");
    REQUIRE(dup != NULL);
    CHECK_CONTAINS(dup, "\"duplicate_of\":\"<urn:uuid:0000>\"");
    free(dup);
}

TEST(same_output_whatever_the_thread_count) {
    ensure_reference();
    REQUIRE(run(IN, NIN, test_path("out4"), 4, NULL) == 0);
    char *four = outputs(test_path("out4"));
    CHECK(four && !strcmp(four, REF));
    free(four);
}

TEST(same_output_whatever_the_part_size) {
    ensure_reference();
    DataConfig c;
    data_config_default(&c);
    c.output.part_bytes = 1;  // every input file its own part
    REQUIRE(run(IN, NIN, test_path("outparts"), 3, &c) == 0);
    char *parts = outputs(test_path("outparts"));
    // stats.json names the config, which differs here: compare the shards and samples
    char *a = strstr(parts, "== removed/"), *b = strstr(REF, "== removed/");
    CHECK(a && b && !strcmp(a, b));
    char *sa = slurp(test_path("outparts"), "shard-00000.jsonl"), *sb = slurp(test_path("out1"), "shard-00000.jsonl");
    CHECK(sa && sb && !strcmp(sa, sb));
    free(parts), free(sa), free(sb);
    data_config_free(&c);
}

TEST(rerun_skips_what_is_done_and_gives_the_same_output) {
    ensure_reference();
    char *out = strdup(test_path("outresume"));
    REQUIRE(run(IN, 2, out, 2, NULL) == 0);  // the WARC and the HTML folder
    char *timing = slurp(out, "timing.json");
    CHECK_CONTAINS(timing, "\"input_files_already_done\":\t0");
    free(timing);
    REQUIRE(run(IN, NIN, out, 2, NULL) == 0);  // all inputs: the first 12 files are done
    timing = slurp(out, "timing.json");
    CHECK_CONTAINS(timing, "\"input_files_already_done\":\t12");
    free(timing);
    char *again = outputs(out);
    CHECK(again && !strcmp(again, REF));
    free(again);
    REQUIRE(run(IN, NIN, out, 2, NULL) == 0);  // nothing left to do
    timing = slurp(out, "timing.json");
    CHECK_CONTAINS(timing, "\"input_files_already_done\":\t14");
    free(timing);
    again = outputs(out);
    CHECK(again && !strcmp(again, REF));
    free(again);
    // a changed input file is done again
    char *note = slurp(test_path("corpus"), "note.txt");
    char *path = fs_join(test_path("corpus"), "note.txt");
    test_write_file(path, "Short now.");
    REQUIRE(run(IN, NIN, out, 2, NULL) == 0);
    timing = slurp(out, "timing.json");
    CHECK_CONTAINS(timing, "\"input_files_already_done\":\t12");  // its part (with docs.jsonl) is redone
    free(timing);
    test_write_file(path, note);  // put it back (size and mtime differ from the first run: done again)
    free(note), free(path);
    // a changed config starts over
    DataConfig c;
    data_config_default(&c);
    c.c4.min_sentences = 1000;
    REQUIRE(run(IN, NIN, out, 2, &c) == 0);
    cJSON *s = stats_of(out);
    CHECK_EQ(json_opt_int(s, "docs_out", -1), 0);
    CHECK_EQ(removed(s, "c4/too_few_sentences") + removed(s, "c4/lorem_ipsum"), stage(s, "c4", "docs_in"));
    cJSON_Delete(s);
    char *shard = slurp(out, "shard-00000.jsonl");
    CHECK(shard == NULL);  // no documents: no shard, and the old one is gone
    free(shard);
    data_config_free(&c);
    free(out);
}

static char *gunzip_file(const char *path) {
    gzFile g = gzopen(path, "rb");
    if (!g) return NULL;
    Buf b = {0};
    char chunk[65536];
    int n;
    while ((n = gzread(g, chunk, sizeof chunk)) > 0) buf_append(&b, chunk, (size_t)n);
    gzclose(g);
    return buf_take(&b);
}

TEST(gzip_shards_cut_by_count) {
    ensure_reference();
    DataConfig c;
    data_config_default(&c);
    c.output.gzip = 1;
    c.output.shard_docs = 20;
    char *out = strdup(test_path("outgz"));
    REQUIRE(run(IN, NIN, out, 2, &c) == 0);
    Buf all = {0};
    for (int i = 0; i < 3; i++) {
        char name[32];
        data_shard_name(i, 1, name);
        char *p = fs_join(out, name), *t = gunzip_file(p);
        CHECK_MSG(t != NULL, "%s missing", name);
        if (t) CHECK_EQ(count_lines(t), i < 2 ? 20 : 5);
        if (t) buf_puts(&all, t);
        free(p), free(t);
    }
    char *p3 = fs_join(out, "shard-00003.jsonl.gz");
    CHECK(!fs_exists(p3));
    free(p3);
    char *plain = slurp(test_path("out1"), "shard-00000.jsonl");
    CHECK(plain && all.data && !strcmp(plain, all.data));
    free(plain);
    buf_free(&all);
    data_config_free(&c);
    free(out);
}

TEST(missing_input_is_an_error) {
    char *missing = strdup(test_path("no-such-dir"));
    const char *in[] = {missing};
    DataConfig c;
    data_config_default(&c);
    DataRunOpts o = {.cfg = &c, .inputs = in, .ninputs = 1, .out_dir = test_path("outerr"), .threads = 1};
    Err e;
    CHECK(data_run(&o, NULL, &e) != 0);
    CHECK_CONTAINS(e.msg, "no-such-dir");
    data_config_free(&c);
    free(missing);
}
