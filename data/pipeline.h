// pipeline.h: the web-data pipeline, FineWeb's 2024 recipe in C.
//
//   reasoner data run --input CC-MAIN-*.warc.gz --out data/ [--config configs/data-default.json]
//   reasoner data stats data/
//
// Inputs are WARC files (gzip'd or not, one gzip member per record as Common
// Crawl publishes them), folders of HTML files, JSONL with "text" (and
// optional "id", "url"), and plain text. Each document goes through, in order:
//   input checks   size, binary junk, charset → UTF-8, invalid UTF-8
//   url            domain/URL blocklists; hard, soft and sub-word bans (Aho-Corasick)
//   extract        main text from HTML with Gumbo (boilerplate and link blocks dropped)
//   language       CLD2; keep a listed language with score ≥ 0.65
//   gopher_rep     duplicate lines/paragraphs, top and duplicated n-grams
//   gopher_qual    word counts and lengths, symbols, bullets, ellipses, stop words
//   c4             line filters and lorem ipsum / "{" / sentence count (no terminal-punct rule)
//   fineweb        terminal punctuation, short lines, duplicated line chars, newline ratio
//   minhash        5-gram MinHash, 14 bands × 8 rows, LSH + connected components
//   pii            e-mail and public IPv4 addresses → placeholders
// Every stage can be turned off and every threshold set in one JSON config;
// the built-in defaults equal configs/data-default.json. Comparisons follow
// datatrove's code (the implementation that built FineWeb): a document is
// removed when its measure is strictly beyond the threshold.
//
// Ownership: x_new/x_free pairs; x_free accepts NULL. The stage functions are
// pure and thread-safe given one DataScratch per thread; DataPipe, DataUrlFilter,
// DataAC and DataMinHash are read-only after construction and shared.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/err.h"

// ---------------------------------------------------------------------------
// Stages and the rules that remove documents (one table; names go to stats.json)

#define DATA_STAGES(X)                                                                        \
    X(INPUT, "input") X(URL, "url") X(EXTRACT, "extract") X(LANG, "language")                 \
    X(GOPHER_REP, "gopher_rep") X(GOPHER_QUAL, "gopher_qual") X(C4, "c4") X(FINEWEB, "fineweb") \
    X(MINHASH, "minhash") X(PII, "pii")

typedef enum DataStage {
#define X(id, name) DATA_ST_##id,
    DATA_STAGES(X)
#undef X
    DATA_NSTAGES
} DataStage;

// Document-level rules: X(id, stage, name). DATA_R_NONE (0) means "kept".
#define DATA_RULES(X)                                   \
    X(IN_TOO_LARGE, INPUT, "too_large")                 \
    X(IN_EMPTY, INPUT, "empty")                         \
    X(IN_BINARY, INPUT, "binary")                       \
    X(IN_INVALID_UTF8, INPUT, "invalid_utf8")           \
    X(IN_CHARSET, INPUT, "unsupported_charset")         \
    X(IN_WARC_HEADER, INPUT, "warc_bad_header")         \
    X(IN_WARC_TRUNCATED, INPUT, "warc_truncated")       \
    X(IN_BAD_HTTP, INPUT, "bad_http")                   \
    X(IN_GZIP_CORRUPT, INPUT, "gzip_corrupt")           \
    X(IN_GZIP_TRUNCATED, INPUT, "gzip_truncated")       \
    X(IN_BAD_JSONL, INPUT, "bad_jsonl")                 \
    X(IN_UNREADABLE, INPUT, "unreadable")               \
    X(URL_DOMAIN, URL, "domain")                        \
    X(URL_URL, URL, "url")                              \
    X(URL_HARD_WORD, URL, "hard_word")                  \
    X(URL_SOFT_WORDS, URL, "soft_words")                \
    X(URL_SUBWORD, URL, "subword")                      \
    X(EX_TOO_COMPLEX, EXTRACT, "too_complex")           \
    X(EX_EMPTY, EXTRACT, "empty")                       \
    X(LANG_OTHER, LANG, "other_language")               \
    X(LANG_LOW_SCORE, LANG, "low_score")                \
    X(GR_DUP_PARA_FRAC, GOPHER_REP, "dup_para_frac")    \
    X(GR_DUP_PARA_CHAR, GOPHER_REP, "dup_para_char_frac") \
    X(GR_DUP_LINE_FRAC, GOPHER_REP, "dup_line_frac")    \
    X(GR_DUP_LINE_CHAR, GOPHER_REP, "dup_line_char_frac") \
    X(GR_TOP_2GRAM, GOPHER_REP, "top_2_gram")           \
    X(GR_TOP_3GRAM, GOPHER_REP, "top_3_gram")           \
    X(GR_TOP_4GRAM, GOPHER_REP, "top_4_gram")           \
    X(GR_DUP_5GRAM, GOPHER_REP, "dup_5_gram")           \
    X(GR_DUP_6GRAM, GOPHER_REP, "dup_6_gram")           \
    X(GR_DUP_7GRAM, GOPHER_REP, "dup_7_gram")           \
    X(GR_DUP_8GRAM, GOPHER_REP, "dup_8_gram")           \
    X(GR_DUP_9GRAM, GOPHER_REP, "dup_9_gram")           \
    X(GR_DUP_10GRAM, GOPHER_REP, "dup_10_gram")         \
    X(GQ_SHORT_DOC, GOPHER_QUAL, "short_doc")           \
    X(GQ_LONG_DOC, GOPHER_QUAL, "long_doc")             \
    X(GQ_AVG_WORD_SHORT, GOPHER_QUAL, "avg_word_short") \
    X(GQ_AVG_WORD_LONG, GOPHER_QUAL, "avg_word_long")   \
    X(GQ_HASHES, GOPHER_QUAL, "hash_ratio")             \
    X(GQ_ELLIPSES, GOPHER_QUAL, "ellipsis_ratio")       \
    X(GQ_BULLET_LINES, GOPHER_QUAL, "bullet_lines")     \
    X(GQ_ELLIPSIS_LINES, GOPHER_QUAL, "ellipsis_lines") \
    X(GQ_ALPHA_WORDS, GOPHER_QUAL, "alpha_words")       \
    X(GQ_STOP_WORDS, GOPHER_QUAL, "stop_words")         \
    X(C4_LOREM_IPSUM, C4, "lorem_ipsum")                \
    X(C4_CURLY_BRACKET, C4, "curly_bracket")            \
    X(C4_FEW_SENTENCES, C4, "too_few_sentences")        \
    X(FW_EMPTY, FINEWEB, "empty")                       \
    X(FW_LINE_PUNCT, FINEWEB, "line_punct_ratio")       \
    X(FW_SHORT_LINES, FINEWEB, "short_line_ratio")      \
    X(FW_CHAR_DUP, FINEWEB, "char_dup_ratio")           \
    X(FW_NEWLINES, FINEWEB, "list_ratio")               \
    X(MH_DUPLICATE, MINHASH, "duplicate")

typedef enum DataRule {
    DATA_R_NONE = 0,
#define X(id, stage, name) DATA_R_##id,
    DATA_RULES(X)
#undef X
    DATA_NRULES
} DataRule;

// Line-level rules (C4 drops lines, not documents): counted per line.
#define DATA_LINE_RULES(X)                                                                  \
    X(LONG_WORD, "line_long_word") X(FEW_WORDS, "line_few_words") X(JAVASCRIPT, "line_javascript") \
    X(POLICY, "line_policy") X(NO_TERMINAL_PUNCT, "line_no_terminal_punct")

typedef enum DataLineRule {
#define X(id, name) DATA_LR_##id,
    DATA_LINE_RULES(X)
#undef X
    DATA_NLINE_RULES
} DataLineRule;

// Counters that are neither documents nor removals.
#define DATA_COUNTERS(X)                                                                   \
    X(FILES, "input_files") X(WARC_NOT_DOC, "warc_records_not_html") X(PII_EMAILS, "pii_emails_replaced")          \
    X(PII_IPS, "pii_ipv4_replaced") X(C4_CITATIONS, "c4_citations_removed") X(MH_CLUSTERS, "minhash_clusters")

typedef enum DataCounter {
#define X(id, name) DATA_C_##id,
    DATA_COUNTERS(X)
#undef X
    DATA_NCOUNTERS
} DataCounter;

const char *data_stage_name(DataStage s);
DataStage data_rule_stage(DataRule r);
const char *data_rule_name(DataRule r);  // "name" alone; stats use "stage/name"
const char *data_line_rule_name(DataLineRule r);
const char *data_counter_name(DataCounter c);

// ---------------------------------------------------------------------------
// Configuration: one JSON file, one object per stage. data_config_default
// gives FineWeb's recipe; data_config_load starts there and overrides what the
// file sets (an unknown key is an error naming it, so typos never pass silently).

typedef struct DataStrList {
    char **items;
    int n;
} DataStrList;

typedef struct DataConfig {
    struct {
        int64_t max_doc_bytes;  // bigger records are skipped (too_large) without being read into memory
        int64_t max_html_cost;  // nesting work estimate above which HTML is not parsed (Gumbo is quadratic in depth)
    } input;
    struct {
        int enabled;
        DataStrList domain_files, url_files;  // one domain / URL a line ('#' comments); paths relative to the config
        DataStrList domains, urls;            // inline additions
        DataStrList banned_words;             // a URL token equal to one of these removes the document
        DataStrList soft_banned_words;        // soft_word_threshold distinct ones remove it
        DataStrList banned_subwords;          // anywhere in the URL with non-alphanumerics removed
        int soft_word_threshold;
    } url;
    struct {
        int enabled;
        double max_link_density;  // a block whose link text is a larger share of its text is dropped
    } extract;
    struct {
        int enabled;
        DataStrList languages;  // ISO 639-1 codes as CLD2 names them ("en", "de", "zh", ...)
        double min_score;
    } lang;
    struct {
        int enabled;
        double dup_line_frac, dup_para_frac, dup_line_char_frac, dup_para_char_frac;
        double top_ngram_frac[3];  // n = 2, 3, 4
        double dup_ngram_frac[6];  // n = 5 .. 10
    } gopher_rep;
    struct {
        int enabled;
        int64_t min_words, max_words;
        double min_avg_word_len, max_avg_word_len, max_symbol_word_ratio;
        double max_bullet_lines_ratio, max_ellipsis_lines_ratio, min_alpha_words_ratio;
        int64_t min_stop_words;
        DataStrList stop_words;
    } gopher_qual;
    struct {
        int enabled;
        int64_t max_word_len, min_words_per_line, min_sentences;
        int remove_citations, filter_no_terminal_punct, filter_lorem_ipsum, filter_javascript;
        int filter_curly_bracket, filter_policy;
    } c4;
    struct {
        int enabled;
        double min_line_punct_ratio;
        int line_punct_exclude_zero;
        double max_short_line_ratio;
        int64_t short_line_chars;
        double max_char_dup_ratio, max_newline_ratio;
    } fineweb;
    struct {
        int enabled;
        int64_t ngram, bands, rows, seed;
        int64_t memory_mb;  // dedup working memory: band records beyond this spill into partitions on disk
    } minhash;
    struct {
        int enabled, emails, ipv4;
    } pii;
    struct {
        int64_t shard_bytes, shard_docs;  // 0: no limit
        int gzip;
        int64_t samples_per_rule, sample_chars;
        int64_t part_bytes;  // input bytes per resumable unit of work
    } output;
    char *base_dir;  // where relative list-file paths resolve; NULL: the working directory
} DataConfig;

#define DATA_MAX_BANDS 64
#define DATA_MAX_ROWS 32

void data_config_default(DataConfig *c);
// Defaults, then the file's values. 0, or -1 with "path: key 'c4.x': ..." in e.
int data_config_load(DataConfig *c, const char *path, Err *e);
// Apply a parsed config object (ctx names it in errors).
int data_config_apply(DataConfig *c, const cJSON *j, const char *ctx, Err *e);
// Range checks (bands × rows ≤ limits, fractions in [0, 1], ...).
int data_config_validate(const DataConfig *c, Err *e);
cJSON *data_config_to_json(const DataConfig *c);
uint64_t data_config_hash(const DataConfig *c);  // of the canonical JSON and the list files
// A list-file path from the config resolved against base_dir; malloc'd.
char *data_config_path(const DataConfig *c, const char *rel);
void data_config_free(DataConfig *c);

// ---------------------------------------------------------------------------
// Text helpers shared by the stages (data_text.c)

typedef struct DataSpan {
    uint32_t off, len;
} DataSpan;

// An open-addressing map from 64-bit hashes to a count and the index where
// the key was first seen (for first-seen tie breaks, as Python's Counter).
typedef struct DataHEntry {
    uint64_t key;  // 0 = empty slot (a key of 0 is stored as 1)
    uint32_t count, first;
} DataHEntry;
typedef struct DataHMap {
    DataHEntry *e;
    size_t cap, n;
} DataHMap;
void data_hmap_reset(DataHMap *m, size_t expected);  // empty, sized for expected keys
// The entry for key, created with count 0 and first = idx when new (*is_new set).
DataHEntry *data_hmap_get(DataHMap *m, uint64_t key, uint32_t idx, int *is_new);
const DataHEntry *data_hmap_find(const DataHMap *m, uint64_t key);  // NULL if absent
void data_hmap_free(DataHMap *m);

// Per-thread working memory for the stages; grows, never shrinks. Its parts
// are free for any stage function to use between calls.
typedef struct DataScratch {
    DataSpan *words, *lines;
    size_t cap_words, cap_lines;
    uint32_t *u32;
    size_t cap_u32;
    uint64_t *u64;
    size_t cap_u64;
    Buf b1, b2, b3;
    DataHMap map;
} DataScratch;
DataScratch *data_scratch_new(void);
void data_scratch_free(DataScratch *s);
void *data_grow(void *p, size_t *cap, size_t need, size_t elem);  // realloc to ≥ need elements

// Word tokens: whitespace-separated chunks with leading and trailing
// punctuation split off as tokens of their own ("(hello)," → "(", "hello", "),"),
// like NLTK's word_tokenize that datatrove uses, without its corner cases.
// Tokenize text into s's word array; returns the count and sets *words.
size_t data_words(DataScratch *s, const char *text, size_t n, const DataSpan **words);
// 1 if every character of the token is punctuation or a symbol.
int data_is_symbol_token(const char *w, size_t n);
// 1 if the token holds a letter (ASCII, or a non-ASCII letter).
int data_has_letter(const char *w, size_t n);
// Decode the code point at s[i] (i < n) and set *len ≥ 1; invalid bytes
// decode as U+FFFD of length 1, so a loop always advances.
uint32_t data_u8decode(const char *s, size_t n, size_t i, size_t *len);
int data_is_space_cp(uint32_t c);
int data_is_punct_cp(uint32_t c);  // punctuation or symbol
// Code points in a UTF-8 string (lengths in thresholds are Python's len()).
size_t data_u8len(const char *s, size_t n);
// 1 if the bytes look like binary data rather than text (NULs, control bytes).
int data_looks_binary(const char *s, size_t n);
// Convert from a named charset to UTF-8 (iconv). 0, or -1 when unknown or the
// bytes are not valid in it. out is cleared first.
int data_to_utf8(const char *charset, const char *s, size_t n, Buf *out);
// The charset named in an HTML <meta> (first 4 KB) into out (lowercase); 0 if none.
int data_html_meta_charset(const char *html, size_t n, char *out, size_t cap);

// ---------------------------------------------------------------------------
// Aho-Corasick (data_urlfilter.c): many patterns, one pass over the text.

typedef struct DataAC DataAC;
DataAC *data_ac_new(void);
// Add a pattern (bytes, matched exactly) with a tag returned on a match.
void data_ac_add(DataAC *a, const char *pat, size_t n, int tag);
void data_ac_build(DataAC *a);  // after the last add, before the first scan
// Calls on_match(ctx, tag, end, len) for every occurrence (end is one past the
// match); a non-zero return stops the scan and is returned.
int data_ac_scan(const DataAC *a, const char *text, size_t n,
                 int (*on_match)(void *ctx, int tag, size_t end, size_t len), void *ctx);
void data_ac_free(DataAC *a);

// URL filter: built from the config (list files are read here).
typedef struct DataUrlFilter DataUrlFilter;
DataUrlFilter *data_urlfilter_new(const DataConfig *c, Err *e);
// DATA_R_NONE, or the rule that removes the URL.
DataRule data_urlfilter_check(const DataUrlFilter *f, const char *url, size_t n);
void data_urlfilter_free(DataUrlFilter *f);

// ---------------------------------------------------------------------------
// Extraction (data_extract.c): HTML → main text, one line per paragraph,
// heading, list item ("- item") or table row ("a | b"). Returns DATA_R_NONE
// (out holds the text, possibly empty) or DATA_R_EX_TOO_COMPLEX.
DataRule data_extract_html(const char *html, size_t n, double max_link_density, int64_t max_cost, Buf *out);
// The nesting-work estimate that guards Gumbo (sum of open-element depths).
int64_t data_html_cost(const char *html, size_t n, int64_t *max_depth);

// ---------------------------------------------------------------------------
// Language id (data_langid.cc, CLD2): the share of the text in each of up to
// three languages. Returns how many were found; codes like "en", "un" unknown.
typedef struct DataLangGuess {
    char code[3][16];
    double share[3];  // fraction of the text, 0..1
} DataLangGuess;
int data_langid(const char *text, size_t n, DataLangGuess *g);

// ---------------------------------------------------------------------------
// Quality filters (data_filters.c). Each returns DATA_R_NONE or the rule.
DataRule data_lang_filter(const DataConfig *c, const char *text, size_t n, double *score);
DataRule data_gopher_repetition(const DataConfig *c, const char *text, size_t n, DataScratch *s);
DataRule data_gopher_quality(const DataConfig *c, const char *text, size_t n, DataScratch *s);
// C4 rewrites the text (drops lines): out gets the kept lines joined by '\n';
// line_counts[DATA_NLINE_RULES] (may be NULL) gets the lines dropped per rule,
// *citations the citation marks removed.
DataRule data_c4_filter(const DataConfig *c, const char *text, size_t n, Buf *out, int64_t *line_counts,
                        int64_t *citations, DataScratch *s);
// Sentences in a line, the way punkt would count them for ordinary prose.
int data_count_sentences(const char *line, size_t n);
DataRule data_fineweb_filter(const DataConfig *c, const char *text, size_t n, DataScratch *s);

// ---------------------------------------------------------------------------
// MinHash (data_minhash.c)

typedef struct DataMinHash DataMinHash;
DataMinHash *data_minhash_new(int ngram, int bands, int rows, uint64_t seed);
void data_minhash_free(DataMinHash *m);
int data_minhash_nhashes(const DataMinHash *m);  // bands × rows
// Normalise (lowercase, fold Latin diacritics, numbers → 0, punctuation out),
// take word n-gram shingles, and fill sig[bands × rows] with their minimum
// hashes. A text shorter than n words is one shingle.
void data_minhash_signature(const DataMinHash *m, const char *text, size_t n, uint64_t *sig, DataScratch *s);
// The same from shingle hashes directly (tests use exact Jaccard sets).
void data_minhash_from_shingles(const DataMinHash *m, const uint64_t *sh, size_t n, uint64_t *sig);
// One hash per band of the signature: bands[b] = hash(sig[b*rows .. +rows]).
void data_minhash_bands(const DataMinHash *m, const uint64_t *sig, uint64_t *bands);
// The normalised text (for tests and inspection); out is cleared first.
void data_minhash_normalize(const char *text, size_t n, Buf *out);

// LSH dedup over band hashes with bounded memory: 16-byte records (band
// hash, band, doc) go to P partition files under tmp_dir by hash, P chosen
// so that one partition fits memory_bytes; each partition is sorted in turn
// and documents with an equal (band, hash) are unioned. Memory:
// memory_bytes + 4 bytes per document (the union-find) + 64 KB per
// partition file. Documents are numbered 0..ndocs-1 in input order; each
// cluster keeps its lowest number.
typedef struct DataDedup DataDedup;
DataDedup *data_dedup_new(const char *tmp_dir, int nbands, uint64_t ndocs, size_t memory_bytes, Err *e);
// Add document doc's band hashes (docs may come in any order, each once).
int data_dedup_add(DataDedup *d, uint64_t doc, const uint64_t *bands, Err *e);
// Find the clusters. Afterwards data_dedup_root(d, doc) == doc for kept documents.
int data_dedup_run(DataDedup *d, Err *e);
uint64_t data_dedup_root(const DataDedup *d, uint64_t doc);
uint64_t data_dedup_removed(const DataDedup *d);
int data_dedup_partitions(const DataDedup *d);  // partition files (1: all fits memory_bytes)
void data_dedup_free(DataDedup *d);  // removes its temp files

// ---------------------------------------------------------------------------
// PII (data_pii.c): e-mail addresses → "email@example.com" or
// "firstname.lastname@example.org"; public IPv4 → an address from the
// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
// Which placeholder is chosen depends only on the original (deterministic).
// Private, loopback, link-local, shared, reserved and documentation ranges are kept.
void data_pii_scrub(const char *text, size_t n, int emails, int ipv4, Buf *out, int64_t *n_emails, int64_t *n_ips);
int data_ipv4_is_global(uint32_t ip);

// ---------------------------------------------------------------------------
// Input (data_input.c, data_warc.c)

typedef enum { DATA_KIND_HTML, DATA_KIND_TEXT } DataKind;

// One document as read, before any stage. reason != 0: a bad record, counted
// and skipped (body may be NULL).
typedef struct DataRecord {
    char *id, *url;
    char *body;
    size_t len;
    DataKind kind;
    char charset[32];  // declared by HTTP or the input ("" unknown)
    DataRule reason;
    int64_t raw_bytes;  // bytes the record took in the input (for rates and stats)
} DataRecord;
void data_record_clear(DataRecord *r);  // frees the strings and zeroes r

// A byte stream from a file or memory, gzip or plain (sniffed). Gzip members
// are read one after another. A damaged member (bad data, or a truncated
// last one) is a break: read returns 0 as at the end, data_src_take_error
// names it, and reading then goes on from the next gzip header.
typedef struct GzSrc DataSrc;  // common/gzsrc.h
DataSrc *data_src_open(const char *path, Err *e);
DataSrc *data_src_mem(const void *data, size_t n);  // data must outlive the source
// Read up to n bytes; returns the count, 0 at the end or a break, -1 on an I/O error (e).
long data_src_read(DataSrc *s, void *buf, size_t n, Err *e);
// After a 0 from read: DATA_R_IN_GZIP_CORRUPT / _TRUNCATED for a break
// (cleared by this call), 0 for the real end.
DataRule data_src_take_error(DataSrc *s);
int64_t data_src_consumed(const DataSrc *s);  // input bytes read so far (compressed)
void data_src_close(DataSrc *s);

// A buffered reader over a DataSrc for the record parsers.
typedef struct DataIn {
    DataSrc *src;
    char *buf;
    size_t cap, pos, len;
    DataRule brk;  // after a 0 return: the break that ended the data (0: the end)
} DataIn;
void data_in_init(DataIn *in, DataSrc *src);  // takes src
void data_in_free(DataIn *in);
// The next line without its "\n" (or "\r\n"): 1 with *line/*n pointing into
// the buffer until the next call, 0 at the end or a break (in->brk), -1 on
// an I/O error. A line longer than max is skipped whole: 1 with *too_long set.
int data_in_line(DataIn *in, size_t max, const char **line, size_t *n, int *too_long, Err *e);
// Append exactly n bytes to out (or drop them when out is NULL): 1, 0 when
// the data ends first (in->brk says why), -1 on an I/O error.
int data_in_read(DataIn *in, size_t n, Buf *out, Err *e);

// WARC records as documents: response records with an HTML payload, resource
// records with an HTML Content-Type, and conversion (WET) records as text.
// Other records are counted in *not_docs and skipped. Malformed headers,
// truncated records and damaged gzip members come back as records with a
// reason, and the reader resynchronises on the next "WARC/" line.
typedef struct DataWarc DataWarc;
DataWarc *data_warc_new(DataSrc *src, const char *name, int64_t max_doc_bytes);  // takes src
// 1 a record, 0 the end, -1 an I/O error (e). out is cleared first.
int data_warc_next(DataWarc *w, DataRecord *out, int64_t *not_docs, Err *e);
int64_t data_warc_consumed(const DataWarc *w);  // input bytes read so far
void data_warc_free(DataWarc *w);

// Any input file by its name: *.warc[.gz], *.jsonl[.gz], *.htm[l], *.xhtml,
// *.txt[.gz]. Others are refused by data_input_kind_of (returns -1).
typedef enum { DATA_IN_WARC, DATA_IN_JSONL, DATA_IN_HTML, DATA_IN_TEXT } DataInKind;
int data_input_kind_of(const char *path);
typedef struct DataReader DataReader;
DataReader *data_reader_open(const char *path, int64_t max_doc_bytes, Err *e);
int data_reader_next(DataReader *r, DataRecord *out, int64_t *not_docs, Err *e);
void data_reader_close(DataReader *r);

// Expand --input paths: files as given, folders walked recursively (symlinks
// followed) keeping known extensions, each folder sorted by name. Duplicates
// are dropped. 0, or -1 when a path does not exist.
typedef struct DataInputFile {
    char *path;
    int64_t size, mtime;
} DataInputFile;
int data_inputs_expand(const char *const *paths, int n, DataInputFile **out, int *nout, Err *e);
void data_inputs_free(DataInputFile *f, int n);

// Input bytes a reader has consumed so far (compressed bytes for gzip).
int64_t data_reader_consumed(const DataReader *r);

// ---------------------------------------------------------------------------
// Output shards (data_output.c): shard-00000.jsonl[.gz], ... in a folder,
// each written atomically (temp file, fsync, rename), cut at max_bytes of
// JSONL or max_docs documents (0: no limit). Closing removes shards of an
// earlier run beyond the last one written.
typedef struct DataShards DataShards;
DataShards *data_shards_new(const char *dir, int gzip, int64_t max_bytes, int64_t max_docs);
int data_shards_write(DataShards *w, const char *line, size_t n, Err *e);  // one line, '\n' included
// Commit the last shard; *count gets the number of shards. Frees w, even on failure.
int data_shards_close(DataShards *w, int *count, Err *e);
void data_shards_abort(DataShards *w);  // drop the shard being written; NULL is fine
// The name of shard i ("shard-00000.jsonl" or ".jsonl.gz") into out (≥ 32 bytes).
void data_shard_name(int i, int gzip, char *out);

// ---------------------------------------------------------------------------
// Statistics

typedef struct DataStageStats {
    int64_t docs_in, docs_out, bytes_in, bytes_out;
} DataStageStats;

typedef struct DataStats {
    DataStageStats stage[DATA_NSTAGES];
    int64_t rule[DATA_NRULES];
    int64_t line_rule[DATA_NLINE_RULES];
    int64_t counter[DATA_NCOUNTERS];
    double secs[DATA_NSTAGES];  // CPU seconds per stage (timing.json, not stats.json)
} DataStats;

void data_stats_add(DataStats *into, const DataStats *s);
cJSON *data_stats_to_json(const DataStats *s);
int data_stats_from_json(DataStats *s, const cJSON *j, const char *ctx, Err *e);
// The table `reasoner data stats` prints.
void data_stats_print(const DataStats *s, FILE *fp);

// ---------------------------------------------------------------------------
// One document through the first pass (everything but minhash and pii).

typedef struct DataPipe DataPipe;
DataPipe *data_pipe_new(const DataConfig *c, Err *e);  // c must outlive the pipe
void data_pipe_free(DataPipe *p);
const DataMinHash *data_pipe_minhash(const DataPipe *p);

typedef struct DataDocResult {
    DataRule removed;  // DATA_R_NONE: kept
    Buf text;          // the final text when kept; the text at removal otherwise
    uint64_t bands[DATA_MAX_BANDS];
    DataStats stats;   // this document's contribution
} DataDocResult;
void data_doc_result_free(DataDocResult *r);
// Run rec through the stages; rec's body may be modified or freed.
void data_pipe_process(const DataPipe *p, DataRecord *rec, DataDocResult *r, DataScratch *s);
// A kept document's first-pass JSONL line {"id","url","text","stages"} (appended).
void data_doc_line(const DataConfig *c, const DataRecord *rec, const DataDocResult *r, Buf *out);
// A removed document's sample line {"rule","id","url","text"} (text cut to sample_chars bytes).
void data_doc_sample(const DataConfig *c, const DataRecord *rec, const DataDocResult *r, Buf *out);
// Append s as a JSON string literal (quotes included).
void data_json_str(Buf *out, const char *s, size_t n);

// ---------------------------------------------------------------------------
// The run (data_run.c)

typedef struct DataRunOpts {
    const DataConfig *cfg;
    const char *const *inputs;
    int ninputs;
    const char *out_dir;
    int threads;   // 0: all cores
    int progress;  // draw a progress bar on stderr
} DataRunOpts;

// Process inputs into out_dir: shard-NNNNN.jsonl[.gz], stats.json,
// timing.json, removed/<stage>.<rule>.jsonl, and work/ (parts, done list) for
// resuming. A rerun skips parts whose input files are unchanged. The output
// is the same whatever the thread count. Fills *total (may be NULL).
int data_run(const DataRunOpts *o, DataStats *total, Err *e);
// Read out_dir/stats.json. 0 or -1.
int data_stats_load(const char *out_dir, DataStats *s, Err *e);
