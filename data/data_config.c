// data_config.c: the pipeline's configuration as one table of fields. The
// table gives the defaults (FineWeb's 2024 recipe, equal to
// configs/data-default.json), the JSON loader with its error messages, the
// canonical JSON written into stats.json, and the hash that tells a resumed
// run whether its earlier work is still valid.
//   reasoner data run --config configs/data-default.json --input x.warc.gz --out out/
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "data/pipeline.h"

typedef enum { CF_BOOL, CF_INT, CF_NUM, CF_STRS } CfKind;

typedef struct CfField {
    const char *section, *key;
    CfKind kind;
    size_t off;
    double dflt;                 // bool, int, num
    const char *const *strs;     // CF_STRS default, NULL-terminated (NULL: empty)
} CfField;

// Word lists of our own, small on purpose: big third-party lists go in files.
static const char *const BANNED_WORDS[] = {"porn", "porno", "xxx", "hentai", "nsfw", "milf", "bdsm",
                                           "camgirl", "camgirls", "sexcam", "sexcams", NULL};
static const char *const SOFT_WORDS[] = {"sex",   "sexy",    "nude",   "nudes",   "naked",  "adult",  "erotic",
                                         "escort", "escorts", "strip", "stripper", "webcam", "cams",  "babes",
                                         "hookup", "fetish",  "lingerie", "dating", NULL};
static const char *const BANNED_SUBWORDS[] = {"porn", "hentai", "xxxvideo", "sexcam", "camgirl", NULL};
static const char *const LANGUAGES[] = {"en", NULL};
static const char *const STOP_WORDS[] = {"the", "be", "to", "of", "and", "that", "have", "with", NULL};

#define F(sec, key, kind, member, d) {sec, key, kind, offsetof(DataConfig, member), d, NULL}
#define L(sec, key, member, list) {sec, key, CF_STRS, offsetof(DataConfig, member), 0, list}

static const CfField FIELDS[] = {
    F("input", "max_doc_bytes", CF_INT, input.max_doc_bytes, 10000000),
    F("input", "max_html_cost", CF_INT, input.max_html_cost, 200000000),

    F("url_filter", "enabled", CF_BOOL, url.enabled, 1),
    L("url_filter", "domain_files", url.domain_files, NULL),
    L("url_filter", "url_files", url.url_files, NULL),
    L("url_filter", "domains", url.domains, NULL),
    L("url_filter", "urls", url.urls, NULL),
    L("url_filter", "banned_words", url.banned_words, BANNED_WORDS),
    L("url_filter", "soft_banned_words", url.soft_banned_words, SOFT_WORDS),
    L("url_filter", "banned_subwords", url.banned_subwords, BANNED_SUBWORDS),
    F("url_filter", "soft_word_threshold", CF_INT, url.soft_word_threshold, 2),

    F("extract", "enabled", CF_BOOL, extract.enabled, 1),
    F("extract", "max_link_density", CF_NUM, extract.max_link_density, 0.5),

    F("language", "enabled", CF_BOOL, lang.enabled, 1),
    L("language", "languages", lang.languages, LANGUAGES),
    F("language", "min_score", CF_NUM, lang.min_score, 0.65),

    F("gopher_repetition", "enabled", CF_BOOL, gopher_rep.enabled, 1),
    F("gopher_repetition", "dup_line_frac", CF_NUM, gopher_rep.dup_line_frac, 0.3),
    F("gopher_repetition", "dup_para_frac", CF_NUM, gopher_rep.dup_para_frac, 0.3),
    F("gopher_repetition", "dup_line_char_frac", CF_NUM, gopher_rep.dup_line_char_frac, 0.2),
    F("gopher_repetition", "dup_para_char_frac", CF_NUM, gopher_rep.dup_para_char_frac, 0.2),
    F("gopher_repetition", "top_2_gram_frac", CF_NUM, gopher_rep.top_ngram_frac[0], 0.20),
    F("gopher_repetition", "top_3_gram_frac", CF_NUM, gopher_rep.top_ngram_frac[1], 0.18),
    F("gopher_repetition", "top_4_gram_frac", CF_NUM, gopher_rep.top_ngram_frac[2], 0.16),
    F("gopher_repetition", "dup_5_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[0], 0.15),
    F("gopher_repetition", "dup_6_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[1], 0.14),
    F("gopher_repetition", "dup_7_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[2], 0.13),
    F("gopher_repetition", "dup_8_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[3], 0.12),
    F("gopher_repetition", "dup_9_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[4], 0.11),
    F("gopher_repetition", "dup_10_gram_frac", CF_NUM, gopher_rep.dup_ngram_frac[5], 0.10),

    F("gopher_quality", "enabled", CF_BOOL, gopher_qual.enabled, 1),
    F("gopher_quality", "min_words", CF_INT, gopher_qual.min_words, 50),
    F("gopher_quality", "max_words", CF_INT, gopher_qual.max_words, 100000),
    F("gopher_quality", "min_avg_word_len", CF_NUM, gopher_qual.min_avg_word_len, 3),
    F("gopher_quality", "max_avg_word_len", CF_NUM, gopher_qual.max_avg_word_len, 10),
    F("gopher_quality", "max_symbol_word_ratio", CF_NUM, gopher_qual.max_symbol_word_ratio, 0.1),
    F("gopher_quality", "max_bullet_lines_ratio", CF_NUM, gopher_qual.max_bullet_lines_ratio, 0.9),
    F("gopher_quality", "max_ellipsis_lines_ratio", CF_NUM, gopher_qual.max_ellipsis_lines_ratio, 0.3),
    F("gopher_quality", "min_alpha_words_ratio", CF_NUM, gopher_qual.min_alpha_words_ratio, 0.8),
    F("gopher_quality", "min_stop_words", CF_INT, gopher_qual.min_stop_words, 2),
    L("gopher_quality", "stop_words", gopher_qual.stop_words, STOP_WORDS),

    F("c4", "enabled", CF_BOOL, c4.enabled, 1),
    F("c4", "max_word_len", CF_INT, c4.max_word_len, 1000),
    F("c4", "min_words_per_line", CF_INT, c4.min_words_per_line, 3),
    F("c4", "min_sentences", CF_INT, c4.min_sentences, 5),
    F("c4", "remove_citations", CF_BOOL, c4.remove_citations, 1),
    F("c4", "filter_no_terminal_punct", CF_BOOL, c4.filter_no_terminal_punct, 0),
    F("c4", "filter_lorem_ipsum", CF_BOOL, c4.filter_lorem_ipsum, 1),
    F("c4", "filter_javascript", CF_BOOL, c4.filter_javascript, 1),
    F("c4", "filter_curly_bracket", CF_BOOL, c4.filter_curly_bracket, 1),
    F("c4", "filter_policy", CF_BOOL, c4.filter_policy, 1),

    F("fineweb", "enabled", CF_BOOL, fineweb.enabled, 1),
    F("fineweb", "min_line_punct_ratio", CF_NUM, fineweb.min_line_punct_ratio, 0.12),
    F("fineweb", "line_punct_exclude_zero", CF_BOOL, fineweb.line_punct_exclude_zero, 0),
    F("fineweb", "max_short_line_ratio", CF_NUM, fineweb.max_short_line_ratio, 0.67),
    F("fineweb", "short_line_chars", CF_INT, fineweb.short_line_chars, 30),
    F("fineweb", "max_char_dup_ratio", CF_NUM, fineweb.max_char_dup_ratio, 0.1),
    F("fineweb", "max_newline_ratio", CF_NUM, fineweb.max_newline_ratio, 0.3),

    F("minhash", "enabled", CF_BOOL, minhash.enabled, 1),
    F("minhash", "ngram", CF_INT, minhash.ngram, 5),
    F("minhash", "bands", CF_INT, minhash.bands, 14),
    F("minhash", "rows", CF_INT, minhash.rows, 8),
    F("minhash", "seed", CF_INT, minhash.seed, 1),
    F("minhash", "memory_mb", CF_INT, minhash.memory_mb, 1024),

    F("pii", "enabled", CF_BOOL, pii.enabled, 1),
    F("pii", "emails", CF_BOOL, pii.emails, 1),
    F("pii", "ipv4", CF_BOOL, pii.ipv4, 1),

    F("output", "shard_bytes", CF_INT, output.shard_bytes, 256000000),
    F("output", "shard_docs", CF_INT, output.shard_docs, 0),
    F("output", "gzip", CF_BOOL, output.gzip, 0),
    F("output", "samples_per_rule", CF_INT, output.samples_per_rule, 20),
    F("output", "sample_chars", CF_INT, output.sample_chars, 4000),
    F("output", "part_bytes", CF_INT, output.part_bytes, 256000000),
};
#undef F
#undef L

static void *at(DataConfig *c, const CfField *f) { return (char *)c + f->off; }
static const void *cat_(const DataConfig *c, const CfField *f) { return (const char *)c + f->off; }

static void strs_free(DataStrList *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL, l->n = 0;
}

static void strs_push(DataStrList *l, const char *s) {
    l->items = xrealloc(l->items, (size_t)(l->n + 1) * sizeof *l->items);
    l->items[l->n++] = xstrdup(s);
}

void data_config_default(DataConfig *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < RS_ARRAY_LEN(FIELDS); i++) {
        const CfField *f = &FIELDS[i];
        switch (f->kind) {
        case CF_BOOL: *(int *)at(c, f) = f->dflt != 0; break;
        case CF_INT: *(int64_t *)at(c, f) = (int64_t)f->dflt; break;
        case CF_NUM: *(double *)at(c, f) = f->dflt; break;
        case CF_STRS:
            for (const char *const *s = f->strs; s && *s; s++) strs_push(at(c, f), *s);
            break;
        }
    }
}

void data_config_free(DataConfig *c) {
    if (!c) return;
    for (size_t i = 0; i < RS_ARRAY_LEN(FIELDS); i++)
        if (FIELDS[i].kind == CF_STRS) strs_free(at(c, &FIELDS[i]));
    free(c->base_dir);
    c->base_dir = NULL;
}

// The one field under section.key; NULL if unknown.
static const CfField *find_field(const char *section, const char *key) {
    for (size_t i = 0; i < RS_ARRAY_LEN(FIELDS); i++)
        if (!strcmp(FIELDS[i].section, section) && !strcmp(FIELDS[i].key, key)) return &FIELDS[i];
    return NULL;
}

static int section_known(const char *section) {
    for (size_t i = 0; i < RS_ARRAY_LEN(FIELDS); i++)
        if (!strcmp(FIELDS[i].section, section)) return 1;
    return 0;
}

static int set_field(DataConfig *c, const CfField *f, const cJSON *v, const char *ctx, Err *e) {
    const char *sec = f->section, *key = f->key;
    switch (f->kind) {
    case CF_BOOL:
        if (!cJSON_IsBool(v)) return err_set(e, "%s: key '%s.%s': expected true or false", ctx, sec, key);
        *(int *)at(c, f) = cJSON_IsTrue(v);
        return 0;
    case CF_INT:
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9e15)
            return err_set(e, "%s: key '%s.%s': expected an integer", ctx, sec, key);
        *(int64_t *)at(c, f) = (int64_t)v->valuedouble;
        return 0;
    case CF_NUM:
        if (!cJSON_IsNumber(v)) return err_set(e, "%s: key '%s.%s': expected a number", ctx, sec, key);
        *(double *)at(c, f) = v->valuedouble;
        return 0;
    case CF_STRS: {
        if (!cJSON_IsArray(v)) return err_set(e, "%s: key '%s.%s': expected an array of strings", ctx, sec, key);
        DataStrList l = {0};
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            if (!cJSON_IsString(it)) {
                strs_free(&l);
                return err_set(e, "%s: key '%s.%s': expected an array of strings", ctx, sec, key);
            }
            strs_push(&l, it->valuestring);
        }
        strs_free(at(c, f));
        *(DataStrList *)at(c, f) = l;
        return 0;
    }
    }
    return 0;
}

int data_config_apply(DataConfig *c, const cJSON *j, const char *ctx, Err *e) {
    if (!cJSON_IsObject(j)) return err_set(e, "%s: expected a JSON object", ctx);
    const cJSON *sec;
    cJSON_ArrayForEach(sec, j) {
        if (sec->string[0] == '_') continue;  // "_comment" and friends
        if (!section_known(sec->string)) return err_set(e, "%s: unknown section '%s'", ctx, sec->string);
        if (!cJSON_IsObject(sec)) return err_set(e, "%s: section '%s': expected an object", ctx, sec->string);
        const cJSON *v;
        cJSON_ArrayForEach(v, sec) {
            if (v->string[0] == '_') continue;
            const CfField *f = find_field(sec->string, v->string);
            if (!f) return err_set(e, "%s: unknown key '%s.%s'", ctx, sec->string, v->string);
            if (set_field(c, f, v, ctx, e)) return -1;
        }
    }
    return data_config_validate(c, e) ? err_wrap(e, "%s", ctx) : 0;
}

int data_config_load(DataConfig *c, const char *path, Err *e) {
    data_config_default(c);
    cJSON *j = json_read_file(path, e);
    if (!j) return -1;
    int rc = data_config_apply(c, j, path, e);
    cJSON_Delete(j);
    if (rc == 0) {
        char *copy = xstrdup(path);
        c->base_dir = xstrdup(dirname(copy));
        free(copy);
    }
    return rc;
}

int data_config_validate(const DataConfig *c, Err *e) {
    if (c->input.max_doc_bytes < 1) return err_set(e, "key 'input.max_doc_bytes': must be positive");
    if (c->minhash.ngram < 1 || c->minhash.ngram > 64) return err_set(e, "key 'minhash.ngram': must be in 1..64");
    if (c->minhash.bands < 1 || c->minhash.bands > DATA_MAX_BANDS)
        return err_set(e, "key 'minhash.bands': must be in 1..%d", DATA_MAX_BANDS);
    if (c->minhash.rows < 1 || c->minhash.rows > DATA_MAX_ROWS)
        return err_set(e, "key 'minhash.rows': must be in 1..%d", DATA_MAX_ROWS);
    if (c->minhash.memory_mb < 1) return err_set(e, "key 'minhash.memory_mb': must be positive");
    if (c->output.samples_per_rule < 0) return err_set(e, "key 'output.samples_per_rule': must be ≥ 0");
    if (c->output.part_bytes < 1) return err_set(e, "key 'output.part_bytes': must be positive");
    if (c->lang.enabled && c->lang.languages.n == 0) return err_set(e, "key 'language.languages': empty");
    return 0;
}

cJSON *data_config_to_json(const DataConfig *c) {
    cJSON *root = cJSON_CreateObject();
    for (size_t i = 0; i < RS_ARRAY_LEN(FIELDS); i++) {
        const CfField *f = &FIELDS[i];
        cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, f->section);
        if (!sec) sec = cJSON_AddObjectToObject(root, f->section);
        const void *p = cat_(c, f);
        switch (f->kind) {
        case CF_BOOL: cJSON_AddBoolToObject(sec, f->key, *(const int *)p); break;
        case CF_INT: cJSON_AddNumberToObject(sec, f->key, (double)*(const int64_t *)p); break;
        case CF_NUM: cJSON_AddNumberToObject(sec, f->key, *(const double *)p); break;
        case CF_STRS: {
            const DataStrList *l = p;
            cJSON *a = cJSON_AddArrayToObject(sec, f->key);
            for (int k = 0; k < l->n; k++) cJSON_AddItemToArray(a, cJSON_CreateString(l->items[k]));
            break;
        }
        }
    }
    return root;
}

char *data_config_path(const DataConfig *c, const char *rel) {
    if (rel[0] == '/' || !c->base_dir) return xstrdup(rel);
    return fs_join(c->base_dir, rel);
}

// Of the canonical JSON and of the list files' contents: changing a
// blocklist invalidates earlier work as changing a threshold does.
uint64_t data_config_hash(const DataConfig *c) {
    cJSON *j = data_config_to_json(c);
    char *s = json_compact(j);
    uint64_t h = XXH3_64bits(s, strlen(s));
    free(s);
    cJSON_Delete(j);
    const DataStrList *lists[] = {&c->url.domain_files, &c->url.url_files};
    for (size_t k = 0; k < RS_ARRAY_LEN(lists); k++)
        for (int i = 0; i < lists[k]->n; i++) {
            char *path = data_config_path(c, lists[k]->items[i]), *text = NULL;
            size_t n = 0;
            Err e;
            if (fs_read_all(path, &text, &n, &e) == 0) h = XXH3_64bits_withSeed(text, n, h);
            free(text);
            free(path);
        }
    return h;
}
