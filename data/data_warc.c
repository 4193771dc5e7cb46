// data_warc.c: WARC 1.0/1.1 records as documents, the way datatrove's
// WarcReader takes them from Common Crawl: "response" records whose HTTP
// payload is HTML (by WARC-Identified-Payload-Type, else by the HTTP
// Content-Type), "resource" records with an HTML Content-Type, and
// "conversion" records (WET) as plain text. Request, metadata, warcinfo and
// revisit records, and non-HTML payloads, are counted and skipped.
//
// Damage never stops a file: a record whose header is malformed, whose body
// is cut short, or whose gzip member is corrupt comes back with a reason
// (counted by the caller), and reading resumes at the next line that starts
// with "WARC/" (for gzip'd files, at the next member).
//   reasoner data run --input CC-MAIN-20240101-00000.warc.gz --out out/
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"
#include "data/pipeline.h"

#define MAX_HEADER_LINE 65536
#define MAX_HEADER_BYTES (1 << 20)
#define HTTP_SLACK 65536  // HTTP headers on top of the document's bytes

struct DataWarc {
    DataIn in;
    char *name;
    int64_t max;
    int have_version;  // the "WARC/x" line of the next record was already read (resync)
    Buf body;
};

DataWarc *data_warc_new(DataSrc *src, const char *name, int64_t max_doc_bytes) {
    DataWarc *w = xcalloc(1, sizeof *w);
    data_in_init(&w->in, src);
    w->name = xstrdup(name);
    w->max = max_doc_bytes;
    return w;
}

int64_t data_warc_consumed(const DataWarc *w) { return data_src_consumed(w->in.src); }

void data_warc_free(DataWarc *w) {
    if (!w) return;
    data_in_free(&w->in);
    buf_free(&w->body);
    free(w->name);
    free(w);
}

typedef struct Header {
    char type[32], target[2048], rec_id[256], payload_type[128], content_type[256];
    int64_t length;  // -1 missing or malformed
} Header;

static int is_version_line(const char *l, size_t n) { return n >= 6 && !memcmp(l, "WARC/", 5) && isdigit((unsigned char)l[5]); }

static void copy_value(char *dst, size_t cap, const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int64_t parse_length(const char *v) {
    while (*v == ' ') v++;
    if (!isdigit((unsigned char)*v)) return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    while (*end == ' ') end++;
    return errno || *end || x < 0 ? -1 : (int64_t)x;
}

static void header_field(Header *h, const char *l, size_t n) {
    const char *colon = memchr(l, ':', n);
    if (!colon) return;
    size_t k = (size_t)(colon - l), vn = n - k - 1;
    const char *v = colon + 1;
#define IS(name) (k == sizeof(name) - 1 && !strncasecmp(l, name, k))
    if (IS("WARC-Type")) copy_value(h->type, sizeof h->type, v, vn);
    else if (IS("WARC-Target-URI")) copy_value(h->target, sizeof h->target, v, vn);
    else if (IS("WARC-Record-ID")) copy_value(h->rec_id, sizeof h->rec_id, v, vn);
    else if (IS("WARC-Identified-Payload-Type")) copy_value(h->payload_type, sizeof h->payload_type, v, vn);
    else if (IS("Content-Type")) copy_value(h->content_type, sizeof h->content_type, v, vn);
    else if (IS("Content-Length")) {
        char num[32];
        copy_value(num, sizeof num, v, vn);
        h->length = vn < 30 ? parse_length(num) : -1;
    }
#undef IS
}

// Skip lines up to the next "WARC/" line (which is consumed). 1 found, 0 end, -1 error.
static int resync(DataWarc *w, Err *e) {
    const char *l;
    size_t n;
    int too_long;
    for (;;) {
        int rc = data_in_line(&w->in, MAX_HEADER_LINE, &l, &n, &too_long, e);
        if (rc < 0) return -1;
        if (rc == 0) {
            if (!w->in.brk) return 0;
            w->in.brk = 0;  // a gzip break while resyncing is part of the same damage
            continue;
        }
        if (is_version_line(l, n)) return 1;
    }
}

// Finish a damaged record: reason, where it was, and resync for the next.
static int damaged(DataWarc *w, DataRecord *out, DataRule reason, const Header *h, Err *e) {
    out->reason = reason;
    out->id = xstrdup(h && h->rec_id[0] ? h->rec_id : w->name);
    if (h && h->target[0]) out->url = xstrdup(h->target);
    int rc = resync(w, e);
    if (rc < 0) return -1;
    w->have_version = rc == 1;
    return 1;
}

// The header block: 1 read, 0 end of input, 2 damaged (out filled), -1 error.
static int read_header(DataWarc *w, Header *h, DataRecord *out, Err *e) {
    const char *l;
    size_t n, total = 0;
    int too_long, rc;
    memset(h, 0, sizeof *h);
    h->length = -1;
    while (!w->have_version) {  // blank lines between records, then the version line
        rc = data_in_line(&w->in, MAX_HEADER_LINE, &l, &n, &too_long, e);
        if (rc < 0) return -1;
        if (rc == 0 && !w->in.brk) return 0;
        if (rc == 0) {
            DataRule brk = w->in.brk;
            w->in.brk = 0;
            return damaged(w, out, brk, NULL, e) < 0 ? -1 : 2;
        }
        if (!n && !too_long) continue;
        if (!is_version_line(l, n) || too_long) return damaged(w, out, DATA_R_IN_WARC_HEADER, NULL, e) < 0 ? -1 : 2;
        w->have_version = 1;
    }
    w->have_version = 0;
    for (;;) {
        rc = data_in_line(&w->in, MAX_HEADER_LINE, &l, &n, &too_long, e);
        if (rc < 0) return -1;
        if (rc == 0) {
            DataRule brk = w->in.brk ? w->in.brk : DATA_R_IN_WARC_TRUNCATED;
            w->in.brk = 0;
            return damaged(w, out, brk, h, e) < 0 ? -1 : 2;
        }
        if (!n && !too_long) break;
        total += n;
        if (too_long || total > MAX_HEADER_BYTES) return damaged(w, out, DATA_R_IN_WARC_HEADER, h, e) < 0 ? -1 : 2;
        if (l[0] == ' ' || l[0] == '\t') continue;  // a folded continuation line
        if (is_version_line(l, n)) {  // the header never ended: the next record starts here
            out->reason = DATA_R_IN_WARC_HEADER;
            out->id = xstrdup(h->rec_id[0] ? h->rec_id : w->name);
            w->have_version = 1;
            return 2;
        }
        if (!memchr(l, ':', n)) return damaged(w, out, DATA_R_IN_WARC_HEADER, h, e) < 0 ? -1 : 2;
        header_field(h, l, n);
    }
    if (h->length < 0) return damaged(w, out, DATA_R_IN_WARC_HEADER, h, e) < 0 ? -1 : 2;
    return 1;
}

static int is_html_type(const char *t) {
    return !strncasecmp(t, "text/html", 9) || !strncasecmp(t, "application/xhtml+xml", 21);
}

// The charset parameter of a Content-Type value, lowercase, into out.
static void content_charset(const char *ct, char *out, size_t cap) {
    out[0] = 0;
    const char *p = strcasestr(ct, "charset=");
    if (!p) return;
    p += 8;
    while (*p == '"' || *p == '\'' || *p == ' ') p++;
    size_t k = 0;
    while (*p && k + 1 < cap && (isalnum((unsigned char)*p) || strchr("-_:.", *p))) out[k++] = (char)tolower((unsigned char)*p++);
    out[k] = 0;
}

// Split an HTTP response into headers and payload: the payload's offset,
// its Content-Type into ct; -1 if the block is not an HTTP response.
static long http_payload(const char *b, size_t n, char *ct, size_t cap) {
    ct[0] = 0;
    if (n < 12 || strncmp(b, "HTTP/", 5)) return -1;
    const char *end = memmem(b, n, "\r\n\r\n", 4);
    size_t skip = 4;
    if (!end) end = memmem(b, n, "\n\n", 2), skip = 2;
    if (!end) return -1;
    for (const char *l = b; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        if ((size_t)(le - l) > 13 && !strncasecmp(l, "Content-Type:", 13)) {
            size_t k = (size_t)(le - l) - 13;
            copy_value(ct, cap, l + 13, k && l[12 + k] == '\r' ? k - 1 : k);
        }
        l = nl ? nl + 1 : end;
    }
    return (long)(end - b + (long)skip);
}

// Fill out from a complete record body; 1 a document, 0 not a document.
static int make_doc(const Header *h, Buf *body, DataRecord *out) {
    char ct[256];
    size_t off = 0;
    out->kind = DATA_KIND_HTML;
    if (!strcasecmp(h->type, "response")) {
        long p = http_payload(body->data ? body->data : "", body->len, ct, sizeof ct);
        if (p < 0) {
            out->reason = DATA_R_IN_BAD_HTTP;
        } else {
            const char *type = h->payload_type[0] ? h->payload_type : ct;
            if (!is_html_type(type)) return 0;
            content_charset(ct, out->charset, sizeof out->charset);
            off = (size_t)p;
        }
    } else if (!strcasecmp(h->type, "resource")) {
        if (!is_html_type(h->content_type)) return 0;
        content_charset(h->content_type, out->charset, sizeof out->charset);
    } else if (!strcasecmp(h->type, "conversion")) {
        out->kind = DATA_KIND_TEXT;
    } else {
        return 0;
    }
    out->id = xstrdup(h->rec_id);
    if (h->target[0]) out->url = xstrdup(h->target);
    if (!out->reason) {
        out->len = body->len - off;
        out->body = xmalloc(out->len + 1);
        // An empty body ("Content-Length: 0") leaves body->data NULL, and
        // memcpy from NULL is undefined even for zero bytes.
        if (out->len) memcpy(out->body, body->data + off, out->len);
        out->body[out->len] = 0;
    }
    return 1;
}

static int is_doc_type(const char *t) {
    return !strcasecmp(t, "response") || !strcasecmp(t, "resource") || !strcasecmp(t, "conversion");
}

int data_warc_next(DataWarc *w, DataRecord *out, int64_t *not_docs, Err *e) {
    data_record_clear(out);
    for (;;) {
        Header h;
        int rc = read_header(w, &h, out, e);
        if (rc < 0 || rc == 0) return rc;
        if (rc == 2) return 1;
        out->raw_bytes = h.length;
        int doc = is_doc_type(h.type);
        int too_large = h.length > w->max + HTTP_SLACK;
        buf_clear(&w->body);
        rc = data_in_read(&w->in, (size_t)h.length, doc && !too_large ? &w->body : NULL, e);
        if (rc < 0) return -1;
        if (rc == 0) {  // cut short: a break, or the end of the file
            DataRule brk = w->in.brk ? w->in.brk : DATA_R_IN_WARC_TRUNCATED;
            w->in.brk = 0;
            return damaged(w, out, brk, &h, e);
        }
        if (!doc) {
            if (not_docs) (*not_docs)++;
            continue;
        }
        if (too_large) {
            out->reason = DATA_R_IN_TOO_LARGE;
            out->id = xstrdup(h.rec_id[0] ? h.rec_id : w->name);
            if (h.target[0]) out->url = xstrdup(h.target);
            return 1;
        }
        if (make_doc(&h, &w->body, out)) return 1;
        if (not_docs) (*not_docs)++;
        data_record_clear(out);
    }
}
