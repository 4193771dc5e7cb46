// gzsrc.c: a byte source over a file or memory that inflates gzip (see gzsrc.h).
#include "gzsrc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/base.h"
#include "common/buf.h"

#define SRC_CHUNK (1 << 16)

struct GzSrc {
    FILE *fp;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    int gz, in_member, at_end, zinit;
    z_stream z;
    unsigned char in[SRC_CHUNK];
    size_t in_pos, in_len;
    GzBreak brk;   // a break waiting to be taken
    int64_t consumed;
};

// Refill the compressed buffer; returns the bytes now available.
static long raw_fill(GzSrc *s, Err *e) {
    if (s->in_pos > 0) {
        memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
        s->in_len -= s->in_pos, s->in_pos = 0;
    }
    size_t room = sizeof s->in - s->in_len, got;
    if (s->fp) {
        got = fread(s->in + s->in_len, 1, room, s->fp);
        if (got == 0 && ferror(s->fp)) return err_errno(e, "read failed");
    } else {
        got = RS_MIN(room, s->mem_len - s->mem_pos);
        memcpy(s->in + s->in_len, s->mem + s->mem_pos, got);
        s->mem_pos += got;
    }
    s->in_len += got;
    s->consumed += (int64_t)got;
    return (long)(s->in_len - s->in_pos);
}

static GzSrc *src_new(FILE *fp, const void *mem, size_t n) {
    GzSrc *s = xcalloc(1, sizeof *s);
    s->fp = fp, s->mem = mem, s->mem_len = n;
    Err e;
    raw_fill(s, &e);  // sniff: gzip starts with 1f 8b
    s->gz = s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    return s;
}

GzSrc *gzsrc_open(const char *path, Err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        err_errno(e, "%s: cannot open", path);
        return NULL;
    }
    return src_new(fp, NULL, 0);
}

GzSrc *gzsrc_mem(const void *data, size_t n) { return src_new(NULL, data, n); }

GzSrc *gzsrc_stream(FILE *fp) { return src_new(fp, NULL, 0); }

int64_t gzsrc_consumed(const GzSrc *s) { return s->consumed; }

GzBreak gzsrc_take_break(GzSrc *s) {
    GzBreak r = s->brk;
    s->brk = GZ_OK;
    return r;
}

// Skip to the next gzip header (1f 8b 08). 1 found, 0 none left, -1 error.
static int seek_member(GzSrc *s, Err *e) {
    for (;;) {
        if (s->in_len - s->in_pos < 3) {
            size_t before = s->in_len - s->in_pos;
            long avail = raw_fill(s, e);
            if (avail < 0) return -1;
            if ((size_t)avail == before) return 0;
            continue;
        }
        unsigned char *p = memchr(s->in + s->in_pos, 0x1f, s->in_len - s->in_pos - 2);
        if (!p) {
            s->in_pos = s->in_len - 2;
            continue;
        }
        s->in_pos = (size_t)(p - s->in);
        if (p[1] == 0x8b && p[2] == 8) return 1;
        s->in_pos++;
    }
}

static int begin_member(GzSrc *s) {
    int rc = s->zinit ? inflateReset2(&s->z, 16 + MAX_WBITS) : inflateInit2(&s->z, 16 + MAX_WBITS);
    RS_CHECK(rc == Z_OK);
    s->zinit = 1, s->in_member = 1;
    return 0;
}

static long gz_read(GzSrc *s, unsigned char *buf, size_t n, Err *e) {
    size_t out = 0;
    while (out == 0 && !s->at_end) {
        if (s->brk) return 0;  // the break must be taken first
        if (!s->in_member) {
            int found = seek_member(s, e);
            if (found < 0) return -1;
            if (!found) {
                // Bytes after the last member that are not gzip: damage, unless there were none.
                if (s->in_len > s->in_pos) s->brk = GZ_CORRUPT;
                s->at_end = 1;
                return 0;
            }
            begin_member(s);
        }
        if (s->in_pos == s->in_len) {
            long avail = raw_fill(s, e);
            if (avail < 0) return -1;
            if (avail == 0) {  // the input ends inside a member
                s->brk = GZ_TRUNCATED;
                s->at_end = 1;
                s->in_member = 0;
                return (long)out;
            }
        }
        s->z.next_in = s->in + s->in_pos;
        s->z.avail_in = (uInt)(s->in_len - s->in_pos);
        s->z.next_out = buf + out;
        s->z.avail_out = (uInt)RS_MIN(n - out, (size_t)UINT32_MAX);
        int rc = inflate(&s->z, Z_NO_FLUSH);
        s->in_pos = s->in_len - s->z.avail_in;
        out = n - s->z.avail_out;
        if (rc == Z_STREAM_END) {
            s->in_member = 0;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {  // damaged member: resume at the next header
            s->in_member = 0;
            if (s->in_pos < s->in_len) s->in_pos++;  // not this header again
            s->brk = GZ_CORRUPT;
            return (long)out;
        }
    }
    return (long)out;
}

long gzsrc_read(GzSrc *s, void *buf, size_t n, Err *e) {
    if (s->gz) return gz_read(s, buf, n, e);
    if (s->in_pos == s->in_len) {
        long avail = raw_fill(s, e);
        if (avail <= 0) return avail;
    }
    size_t k = RS_MIN(n, s->in_len - s->in_pos);
    memcpy(buf, s->in + s->in_pos, k);
    s->in_pos += k;
    return (long)k;
}

void gzsrc_close(GzSrc *s) {
    if (!s) return;
    if (s->fp) fclose(s->fp);
    if (s->zinit) inflateEnd(&s->z);
    free(s);
}


int gzsrc_read_all(const char *path, char **out, size_t *n, Err *e) {
    GzSrc *s = strcmp(path, "-") == 0 ? gzsrc_stream(fdopen(dup(0), "rb")) : gzsrc_open(path, e);
    if (!s) return -1;
    Buf b = {0};
    char chunk[1 << 16];
    long k;
    int rc = 0;
    while ((k = gzsrc_read(s, chunk, sizeof chunk, e)) > 0) buf_append(&b, chunk, (size_t)k);
    if (k < 0) rc = err_wrap(e, "%s", path);
    GzBreak br = gzsrc_take_break(s);
    if (rc == 0 && br != GZ_OK)
        rc = err_set(e, "%s: gzip data %s", path, br == GZ_TRUNCATED ? "cut short" : "damaged");
    gzsrc_close(s);
    if (rc != 0) return buf_free(&b), -1;
    *n = b.len;
    *out = buf_take(&b);
    return 0;
}
