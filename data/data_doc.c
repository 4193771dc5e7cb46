// data_doc.c: one document through the first pass of the pipeline: input
// checks (size, binary, charset → UTF-8, valid UTF-8), URL filter, HTML
// extraction, language, Gopher repetition and quality, C4, FineWeb, and its
// MinHash band hashes for the dedup that follows. Pure: the same record and
// config give the same result on any thread. Each stage's documents and
// bytes in and out, the rule that removed it, and the CPU time spent are
// recorded in the result's DataStats.
#include <string.h>
#include <time.h>

#include "common/base.h"
#include "data/pipeline.h"

struct DataPipe {
    const DataConfig *cfg;
    DataUrlFilter *url;
    DataMinHash *mh;
};

DataPipe *data_pipe_new(const DataConfig *c, Err *e) {
    if (data_config_validate(c, e)) return NULL;
    DataPipe *p = xcalloc(1, sizeof *p);
    p->cfg = c;
    if (c->url.enabled && !(p->url = data_urlfilter_new(c, e))) {
        free(p);
        return NULL;
    }
    p->mh = data_minhash_new((int)c->minhash.ngram, (int)c->minhash.bands, (int)c->minhash.rows,
                             (uint64_t)c->minhash.seed);
    return p;
}

void data_pipe_free(DataPipe *p) {
    if (!p) return;
    data_urlfilter_free(p->url);
    data_minhash_free(p->mh);
    free(p);
}

const DataMinHash *data_pipe_minhash(const DataPipe *p) { return p->mh; }

void data_doc_result_free(DataDocResult *r) { buf_free(&r->text); }

// ---------------------------------------------------------------------------
// JSON text

void data_json_str(Buf *out, const char *s, size_t n) {
    static const char HEX[] = "0123456789abcdef";
    buf_reserve(out, n + 2);
    buf_putc(out, '"');
    size_t run = 0;  // bytes copied as they are, flushed in one append
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = 1;
        int plain = c >= 0x20 && c != '"' && c != '\\' && c < 0x80;
        if (c >= 0x80) {
            uint32_t cp = data_u8decode(s, n, i, &len);
            plain = !(cp == 0xFFFD && len == 1);  // an invalid byte becomes U+FFFD below
        }
        if (plain) {
            run += len, i += len;
            continue;
        }
        buf_append(out, s + i - run, run);
        run = 0;
        char esc[8] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c >= 0x80) memcpy(esc, "\\ufffd", 7);
            else esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = HEX[c >> 4], esc[5] = HEX[c & 15];
        }
        buf_puts(out, esc);
        i++;
    }
    buf_append(out, s + n - run, run);
    buf_putc(out, '"');
}

// The first-pass stages a kept document of this kind passed, in order, as
// a JSON array (pass 2 appends "minhash" and "pii").
static void stages_json(const DataConfig *c, int html, Buf *out) {
    const struct {
        int on;
        DataStage st;
    } list[] = {
        {c->url.enabled, DATA_ST_URL},           {html && c->extract.enabled, DATA_ST_EXTRACT},
        {c->lang.enabled, DATA_ST_LANG},         {c->gopher_rep.enabled, DATA_ST_GOPHER_REP},
        {c->gopher_qual.enabled, DATA_ST_GOPHER_QUAL}, {c->c4.enabled, DATA_ST_C4},
        {c->fineweb.enabled, DATA_ST_FINEWEB},
    };
    buf_putc(out, '[');
    int k = 0;
    for (size_t i = 0; i < RS_ARRAY_LEN(list); i++) {
        if (!list[i].on) continue;
        if (k++) buf_putc(out, ',');
        buf_printf(out, "\"%s\"", data_stage_name(list[i].st));
    }
    buf_putc(out, ']');
}

// ---------------------------------------------------------------------------
// the stages

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Tracker {
    DataDocResult *r;
    double t;
} Tracker;

static void enter(Tracker *u, DataStage st, size_t bytes) {
    u->r->stats.stage[st].docs_in = 1;
    u->r->stats.stage[st].bytes_in = (int64_t)bytes;
}

// Close a stage: passed (rule 0) or removed by rule. Returns 1 if removed.
static int leave(Tracker *u, DataStage st, DataRule rule, size_t bytes_out) {
    double now = cpu_now();
    u->r->stats.secs[st] += now - u->t;
    u->t = now;
    if (rule) {
        u->r->removed = rule;
        u->r->stats.rule[rule] = 1;
        return 1;
    }
    u->r->stats.stage[st].docs_out = 1;
    u->r->stats.stage[st].bytes_out = (int64_t)bytes_out;
    return 0;
}

// Input checks; on success r->text holds the document as UTF-8.
static DataRule check_input(const DataConfig *c, DataRecord *rec, Buf *text) {
    if (rec->reason) return rec->reason;
    if (rec->len > (size_t)c->input.max_doc_bytes) return DATA_R_IN_TOO_LARGE;
    const char *b = rec->body ? rec->body : "";
    size_t n = rec->len;
    if (n >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) b += 3, n -= 3;  // UTF-8 byte order mark
    if (!n) return DATA_R_IN_EMPTY;
    const char *cs = rec->charset;
    int utf16 = n >= 2 && ((b[0] == '\xFF' && b[1] == '\xFE') || (b[0] == '\xFE' && b[1] == '\xFF'));
    if (utf16) cs = "UTF-16";
    else if (data_looks_binary(b, n)) return DATA_R_IN_BINARY;
    // Valid UTF-8 is taken as UTF-8 whatever the page declares (datatrove
    // decodes UTF-8 first too); otherwise the declared charset decides.
    if (utf8_valid(b, n) && !utf16) {
        buf_clear(text);
        buf_append(text, b, n);
        return DATA_R_NONE;
    }
    char meta[32];
    if (!cs[0] && rec->kind == DATA_KIND_HTML && data_html_meta_charset(b, n, meta, sizeof meta)) cs = meta;
    if (!cs[0] || !strcmp(cs, "utf-8") || !strcmp(cs, "utf8")) return DATA_R_IN_INVALID_UTF8;
    if (data_to_utf8(cs, b, n, text) || !utf8_valid(text->data, text->len)) return DATA_R_IN_CHARSET;
    return DATA_R_NONE;
}
// The filters on text, in FineWeb's order. Returns 1 if removed.
static int text_stages(const DataPipe *p, Tracker *u, DataScratch *s) {
    const DataConfig *c = p->cfg;
    Buf *t = &u->r->text;
    if (c->lang.enabled) {
        enter(u, DATA_ST_LANG, t->len);
        if (leave(u, DATA_ST_LANG, data_lang_filter(c, t->data, t->len, NULL), t->len)) return 1;
    }
    if (c->gopher_rep.enabled) {
        enter(u, DATA_ST_GOPHER_REP, t->len);
        if (leave(u, DATA_ST_GOPHER_REP, data_gopher_repetition(c, t->data, t->len, s), t->len)) return 1;
    }
    if (c->gopher_qual.enabled) {
        enter(u, DATA_ST_GOPHER_QUAL, t->len);
        if (leave(u, DATA_ST_GOPHER_QUAL, data_gopher_quality(c, t->data, t->len, s), t->len)) return 1;
    }
    if (c->c4.enabled) {
        enter(u, DATA_ST_C4, t->len);
        Buf kept = {0};
        DataStats *st = &u->r->stats;
        DataRule rule = data_c4_filter(c, t->data, t->len, &kept, st->line_rule, &st->counter[DATA_C_C4_CITATIONS], s);
        if (!rule) {  // C4 rewrites the text; a removed document keeps its text for the sample
            buf_free(t);
            *t = kept;
            if (!t->data) buf_puts(t, "");
        } else {
            buf_free(&kept);
        }
        if (leave(u, DATA_ST_C4, rule, t->len)) return 1;
    }
    if (c->fineweb.enabled) {
        enter(u, DATA_ST_FINEWEB, t->len);
        if (leave(u, DATA_ST_FINEWEB, data_fineweb_filter(c, t->data, t->len, s), t->len)) return 1;
    }
    return 0;
}

void data_pipe_process(const DataPipe *p, DataRecord *rec, DataDocResult *r, DataScratch *s) {
    const DataConfig *c = p->cfg;
    memset(&r->stats, 0, sizeof r->stats);
    r->removed = DATA_R_NONE;
    buf_clear(&r->text);
    Tracker u = {r, cpu_now()};
    enter(&u, DATA_ST_INPUT, (size_t)(rec->raw_bytes > 0 ? rec->raw_bytes : (int64_t)rec->len));
    DataRule rule = check_input(c, rec, &r->text);
    if (rule) {  // the sample shows the input as it came
        buf_clear(&r->text);
        if (rec->body) buf_append(&r->text, rec->body, RS_MIN(rec->len, (size_t)c->output.sample_chars));
    }
    if (leave(&u, DATA_ST_INPUT, rule, r->text.len)) return;
    free(rec->body), rec->body = NULL;  // r->text has it now
    if (c->url.enabled) {
        enter(&u, DATA_ST_URL, r->text.len);
        const char *url = rec->url ? rec->url : "";
        if (leave(&u, DATA_ST_URL, data_urlfilter_check(p->url, url, strlen(url)), r->text.len)) return;
    }
    if (rec->kind == DATA_KIND_HTML && c->extract.enabled) {
        enter(&u, DATA_ST_EXTRACT, r->text.len);
        Buf text = {0};
        rule = data_extract_html(r->text.data, r->text.len, c->extract.max_link_density, c->input.max_html_cost, &text);
        if (!rule && text.len == 0) rule = DATA_R_EX_EMPTY;
        if (!rule) {
            buf_free(&r->text);
            r->text = text;
        } else {
            buf_free(&text);
        }
        if (leave(&u, DATA_ST_EXTRACT, rule, r->text.len)) return;
    }
    if (text_stages(p, &u, s)) return;
    if (c->minhash.enabled) {
        uint64_t sig[DATA_MAX_BANDS * DATA_MAX_ROWS];
        data_minhash_signature(p->mh, r->text.data, r->text.len, sig, s);
        data_minhash_bands(p->mh, sig, r->bands);
        r->stats.secs[DATA_ST_MINHASH] += cpu_now() - u.t;
    }
}

void data_doc_line(const DataConfig *c, const DataRecord *rec, const DataDocResult *r, Buf *out) {
    buf_puts(out, "{\"id\":");
    data_json_str(out, rec->id ? rec->id : "", rec->id ? strlen(rec->id) : 0);
    buf_puts(out, ",\"url\":");
    data_json_str(out, rec->url ? rec->url : "", rec->url ? strlen(rec->url) : 0);
    buf_puts(out, ",\"text\":");
    data_json_str(out, r->text.data ? r->text.data : "", r->text.len);
    buf_puts(out, ",\"stages\":");
    stages_json(c, rec->kind == DATA_KIND_HTML, out);
    buf_puts(out, "}\n");
}

void data_doc_sample(const DataConfig *c, const DataRecord *rec, const DataDocResult *r, Buf *out) {
    char rule[96];
    snprintf(rule, sizeof rule, "%s/%s", data_stage_name(data_rule_stage(r->removed)), data_rule_name(r->removed));
    buf_puts(out, "{\"rule\":");
    data_json_str(out, rule, strlen(rule));
    buf_puts(out, ",\"id\":");
    data_json_str(out, rec->id ? rec->id : "", rec->id ? strlen(rec->id) : 0);
    buf_puts(out, ",\"url\":");
    data_json_str(out, rec->url ? rec->url : "", rec->url ? strlen(rec->url) : 0);
    size_t n = RS_MIN(r->text.len, (size_t)c->output.sample_chars);
    while (n < r->text.len && n > 0 && ((unsigned char)r->text.data[n] & 0xC0) == 0x80) n--;  // whole characters
    buf_puts(out, ",\"text\":");
    data_json_str(out, r->text.data ? r->text.data : "", n);
    buf_puts(out, "}\n");
}
