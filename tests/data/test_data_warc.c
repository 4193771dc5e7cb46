// test_data_warc.c: the WARC reader on fixtures this test writes: a
// multi-member gzip WARC as Common Crawl publishes it, the same plain, and
// damaged ones: a truncated gzip member, a corrupt member in the middle, a
// malformed header, a truncated body, a 50 MB record, binary junk. Damage
// comes back as records with a reason and reading goes on.
#include <string.h>
#include <zlib.h>

#include "common/base.h"
#include "common/buf.h"
#include "data/pipeline.h"
#include "tests/test.h"

// One WARC record (header + body + the two CRLFs after it).
static void warc_record(Buf *b, const char *type, const char *uri, const char *id, const char *extra, const char *body) {
    buf_printf(b, "WARC/1.0\r\nWARC-Type: %s\r\nWARC-Record-ID: <urn:uuid:%s>\r\n", type, id);
    if (uri) buf_printf(b, "WARC-Target-URI: %s\r\n", uri);
    if (extra) buf_puts(b, extra);
    buf_printf(b, "Content-Length: %zu\r\n\r\n%s\r\n\r\n", strlen(body), body);
}

static void http_record(Buf *b, const char *uri, const char *id, const char *ctype, const char *payload) {
    Buf http = {0};
    buf_printf(&http, "HTTP/1.1 200 OK\r\nServer: test\r\nContent-Type: %s\r\n\r\n%s", ctype, payload);
    warc_record(b, "response", uri, id, "Content-Type: application/http; msgtype=response\r\n", http.data);
    buf_free(&http);
}

// The records of the fixture, each a separate string (one gzip member each).
static int fixture_records(Buf *rec) {
    int n = 0;
    warc_record(&rec[n++], "warcinfo", NULL, "0000", "Content-Type: application/warc-fields\r\n", "software: test\r\n");
    warc_record(&rec[n++], "request", "http://a.example/", "0001", NULL, "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    http_record(&rec[n++], "http://a.example/", "0002", "text/html; charset=UTF-8",
                "<html><body><p>First page text.</p></body></html>");
    http_record(&rec[n++], "http://a.example/logo.png", "0003", "image/png", "\x89PNG....");
    warc_record(&rec[n++], "metadata", "http://a.example/", "0004", NULL, "fetchTimeMs: 12\r\n");
    http_record(&rec[n++], "http://b.example/latin", "0005", "text/html; charset=ISO-8859-1",
                "<p>Second page, caf\xe9.</p>");
    warc_record(&rec[n++], "resource", "file:///c.html", "0006", "Content-Type: text/html\r\n", "<p>Third: a resource.</p>");
    warc_record(&rec[n++], "conversion", "http://d.example/", "0007", "Content-Type: text/plain\r\n", "Fourth, from a WET file.");
    return n;
}

static void gzip_member(Buf *out, const char *data, size_t n) {
    z_stream z = {0};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    buf_reserve(out, deflateBound(&z, n) + 16);
    z.next_in = (unsigned char *)data, z.avail_in = (uInt)n;
    z.next_out = (unsigned char *)out->data + out->len, z.avail_out = (uInt)(out->cap - out->len - 1);
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out->len += z.total_out;
    deflateEnd(&z);
}

typedef struct Got {
    char ids[16][64];
    DataRule reason[16];
    char body[16][256];
    int n;
    int64_t not_docs;
} Got;

static void read_all(DataSrc *src, Got *g, int64_t max_doc) {
    memset(g, 0, sizeof *g);
    DataWarc *w = data_warc_new(src, "fixture.warc", max_doc);
    DataRecord r = {0};
    Err e;
    int rc;
    while ((rc = data_warc_next(w, &r, &g->not_docs, &e)) == 1 && g->n < 16) {
        snprintf(g->ids[g->n], sizeof g->ids[0], "%s", r.id ? r.id : "");
        g->reason[g->n] = r.reason;
        snprintf(g->body[g->n], sizeof g->body[0], "%.*s", (int)RS_MIN(r.len, (size_t)255), r.body ? r.body : "");
        g->n++;
    }
    CHECK_EQ(rc, 0);
    data_record_clear(&r);
    data_warc_free(w);
}

static void check_good(const Got *g, int first) {
    CHECK_STR_EQ(g->ids[first], "<urn:uuid:0002>");
    CHECK_STR_EQ(g->body[first], "<html><body><p>First page text.</p></body></html>");
    CHECK_STR_EQ(g->ids[first + 1], "<urn:uuid:0005>");
    CHECK_STR_EQ(g->ids[first + 2], "<urn:uuid:0006>");
    CHECK_STR_EQ(g->body[first + 2], "<p>Third: a resource.</p>");
    CHECK_STR_EQ(g->ids[first + 3], "<urn:uuid:0007>");
    CHECK_STR_EQ(g->body[first + 3], "Fourth, from a WET file.");
}

TEST(gzip_multi_member_warc) {
    Buf rec[16] = {{0}}, gz = {0};
    int n = fixture_records(rec);
    for (int i = 0; i < n; i++) gzip_member(&gz, rec[i].data, rec[i].len);
    const char *path = test_path("fixture.warc.gz");
    FILE *f = fopen(path, "wb");
    fwrite(gz.data, 1, gz.len, f);
    fclose(f);
    Err e;
    DataSrc *src = data_src_open(path, &e);
    REQUIRE(src != NULL);
    Got g;
    read_all(src, &g, 1 << 20);
    CHECK_EQ(g.n, 4);
    CHECK_EQ(g.not_docs, 4);  // warcinfo, request, the PNG, metadata
    for (int i = 0; i < g.n; i++) CHECK_EQ(g.reason[i], DATA_R_NONE);
    check_good(&g, 0);
    // the same records through the file reader, with the HTTP charset
    DataReader *rd = data_reader_open(path, 1 << 20, &e);
    REQUIRE(rd != NULL);
    DataRecord r = {0};
    int64_t nd = 0;
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 1);
    CHECK_STR_EQ(r.url, "http://a.example/");
    CHECK_EQ(r.kind, DATA_KIND_HTML);
    CHECK_STR_EQ(r.charset, "utf-8");
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 1);
    CHECK_STR_EQ(r.charset, "iso-8859-1");
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 1);
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 1);
    CHECK_EQ(r.kind, DATA_KIND_TEXT);
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 0);
    CHECK_EQ(data_reader_consumed(rd), (int64_t)gz.len);
    data_record_clear(&r);
    data_reader_close(rd);
    for (int i = 0; i < n; i++) buf_free(&rec[i]);
    buf_free(&gz);
}

TEST(plain_warc_with_junk_and_a_malformed_header) {
    Buf rec[16] = {{0}}, all = {0};
    int n = fixture_records(rec);
    for (int i = 0; i < n; i++) {
        if (i == 3) buf_puts(&all, "garbage between records\r\nmore garbage\r\n");
        if (i == 5)  // a record whose Content-Length is not a number
            buf_puts(&all, "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:bad>\r\n"
                           "Content-Length: lots\r\n\r\nHTTP/1.1 200 OK\r\n\r\n<p>lost</p>\r\n\r\n");
        buf_append(&all, rec[i].data, rec[i].len);
    }
    Got g;
    read_all(data_src_mem(all.data, all.len), &g, 1 << 20);
    REQUIRE(g.n == 6);
    CHECK_STR_EQ(g.ids[0], "<urn:uuid:0002>");
    CHECK_EQ(g.reason[1], DATA_R_IN_WARC_HEADER);  // the garbage
    CHECK_EQ(g.reason[2], DATA_R_IN_WARC_HEADER);  // the bad length
    CHECK_STR_EQ(g.ids[2], "<urn:uuid:bad>");
    CHECK_STR_EQ(g.ids[3], "<urn:uuid:0005>");
    CHECK_STR_EQ(g.ids[4], "<urn:uuid:0006>");
    CHECK_STR_EQ(g.ids[5], "<urn:uuid:0007>");
    CHECK_STR_EQ(g.body[5], "Fourth, from a WET file.");
    for (int i = 0; i < n; i++) buf_free(&rec[i]);
    buf_free(&all);
}

// Fuzz regression (fuzz_warc, UBSan): a document record with an empty body
// as the first record left the body buffer unallocated, and the reader
// memcpy'd zero bytes from NULL. It must come back as an empty document.
// Under SAN=1 (-fno-sanitize-recover) the old code aborts here.
TEST(empty_first_record_body) {
    static const char *const types[] = {"conversion", "resource"};
    for (int t = 0; t < 2; t++) {
        Buf all = {0};
        buf_printf(&all, "WARC/1.0\r\nWARC-Type: %s\r\nWARC-Record-ID: <urn:uuid:empty>\r\n"
                         "Content-Type: text/html\r\nContent-Length: 0\r\n\r\n\r\n\r\n", types[t]);
        warc_record(&all, "conversion", NULL, "next", NULL, "after the empty one");
        Got g;
        read_all(data_src_mem(all.data, all.len), &g, 1 << 20);
        CHECK_EQ(g.n, 2);
        CHECK_STR_EQ(g.ids[0], "<urn:uuid:empty>");
        CHECK_EQ(g.reason[0], DATA_R_NONE);
        CHECK_STR_EQ(g.body[0], "");
        CHECK_STR_EQ(g.body[1], "after the empty one");
        buf_free(&all);
    }
}

TEST(truncated_and_corrupt_gzip_members) {
    Buf rec[16] = {{0}}, gz = {0};
    int n = fixture_records(rec);
    size_t start[16];
    for (int i = 0; i < n; i++) {
        start[i] = gz.len;
        gzip_member(&gz, rec[i].data, rec[i].len);
    }
    // corrupt the deflate data of member 5 (the Latin-1 page), keep its header
    Buf bad = {0};
    buf_append(&bad, gz.data, gz.len);
    for (size_t k = start[5] + 12; k < start[5] + 40; k++) bad.data[k] ^= 0x5A;
    Got g;
    read_all(data_src_mem(bad.data, bad.len), &g, 1 << 20);
    REQUIRE(g.n == 4);
    CHECK_STR_EQ(g.ids[0], "<urn:uuid:0002>");
    CHECK_EQ(g.reason[1], DATA_R_IN_GZIP_CORRUPT);
    CHECK_STR_EQ(g.ids[2], "<urn:uuid:0006>");  // reading went on with the next member
    CHECK_STR_EQ(g.ids[3], "<urn:uuid:0007>");
    // cut the file in the middle of the last member
    size_t cut = start[n - 1] + (gz.len - start[n - 1]) / 2;
    read_all(data_src_mem(gz.data, cut), &g, 1 << 20);
    REQUIRE(g.n == 4);
    CHECK_STR_EQ(g.ids[0], "<urn:uuid:0002>");
    CHECK_STR_EQ(g.ids[1], "<urn:uuid:0005>");
    CHECK_STR_EQ(g.ids[2], "<urn:uuid:0006>");
    CHECK_EQ(g.reason[3], DATA_R_IN_GZIP_TRUNCATED);
    // cut a plain WARC inside a body
    Buf plain = {0};
    for (int i = 0; i < n; i++) buf_append(&plain, rec[i].data, rec[i].len);
    read_all(data_src_mem(plain.data, plain.len - 10), &g, 1 << 20);
    REQUIRE(g.n == 4);
    CHECK_EQ(g.reason[3], DATA_R_IN_WARC_TRUNCATED);
    for (int i = 0; i < n; i++) buf_free(&rec[i]);
    buf_free(&gz), buf_free(&bad), buf_free(&plain);
}

TEST(huge_record_is_skipped_unread) {
    // a 50 MB HTML response between two small ones, max_doc_bytes 10 MB
    Buf all = {0}, big = {0};
    http_record(&all, "http://a.example/", "0001", "text/html", "<p>before</p>");
    buf_reserve(&big, 50u << 20);
    buf_puts(&big, "<html><body>");
    while (big.len < (50u << 20)) buf_puts(&big, "<p>filler filler filler filler filler filler</p>");
    http_record(&all, "http://big.example/", "0002", "text/html", big.data);
    buf_free(&big);
    http_record(&all, "http://a.example/after", "0003", "text/html", "<p>after</p>");
    Got g;
    read_all(data_src_mem(all.data, all.len), &g, 10000000);
    REQUIRE(g.n == 3);
    CHECK_EQ(g.reason[0], DATA_R_NONE);
    CHECK_EQ(g.reason[1], DATA_R_IN_TOO_LARGE);
    CHECK_STR_EQ(g.ids[1], "<urn:uuid:0002>");
    CHECK_STR_EQ(g.body[1], "");  // never read into memory
    CHECK_STR_EQ(g.body[2], "<p>after</p>");
    buf_free(&all);
}

TEST(binary_junk_never_crashes) {
    unsigned char junk[1 << 16];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) x = x * 1103515245 + 12345, junk[i] = (unsigned char)(x >> 16);
    Got g;
    read_all(data_src_mem(junk, sizeof junk), &g, 1 << 20);
    CHECK(g.n >= 1);
    for (int i = 0; i < g.n; i++) CHECK(g.reason[i] != DATA_R_NONE);
    // junk that starts like gzip
    junk[0] = 0x1f, junk[1] = 0x8b, junk[2] = 8, junk[3] = 0;
    read_all(data_src_mem(junk, sizeof junk), &g, 1 << 20);
    for (int i = 0; i < g.n; i++) CHECK(g.reason[i] != DATA_R_NONE);
    // an empty file has no records
    read_all(data_src_mem("", 0), &g, 1 << 20);
    CHECK_EQ(g.n, 0);
}

TEST(jsonl_and_text_inputs) {
    const char *jl = test_path("docs.jsonl");
    test_write_file(jl, "{\"id\": \"a1\", \"url\": \"http://x.example/\", \"text\": \"Hello\"}\n"
                        "\n"
                        "{\"text\": \"no id\"}\n"
                        "not json at all\n"
                        "{\"id\": 7, \"body\": \"no text field\"}\n");
    Err e;
    DataReader *rd = data_reader_open(jl, 1 << 20, &e);
    REQUIRE(rd != NULL);
    DataRecord r = {0};
    int64_t nd = 0;
    REQUIRE(data_reader_next(rd, &r, &nd, &e) == 1);
    CHECK_STR_EQ(r.id, "a1");
    CHECK_STR_EQ(r.url, "http://x.example/");
    CHECK_STR_EQ(r.body, "Hello");
    REQUIRE(data_reader_next(rd, &r, &nd, &e) == 1);
    CHECK_CONTAINS(r.id, "docs.jsonl:3");
    REQUIRE(data_reader_next(rd, &r, &nd, &e) == 1);
    CHECK_EQ(r.reason, DATA_R_IN_BAD_JSONL);
    REQUIRE(data_reader_next(rd, &r, &nd, &e) == 1);
    CHECK_EQ(r.reason, DATA_R_IN_BAD_JSONL);
    CHECK_STR_EQ(r.id, "7");
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 0);
    data_reader_close(rd);
    const char *txt = test_path("note.txt");
    test_write_file(txt, "Plain text document.\n");
    rd = data_reader_open(txt, 1 << 20, &e);
    REQUIRE(rd != NULL);
    REQUIRE(data_reader_next(rd, &r, &nd, &e) == 1);
    CHECK_EQ(r.kind, DATA_KIND_TEXT);
    CHECK_STR_EQ(r.body, "Plain text document.\n");
    CHECK_EQ(data_reader_next(rd, &r, &nd, &e), 0);
    data_reader_close(rd);
    data_record_clear(&r);
    CHECK(data_reader_open(test_path("x.pdf"), 1 << 20, &e) == NULL);
    CHECK_CONTAINS(e.msg, "unknown input type");
}
