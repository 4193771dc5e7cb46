// data_filters.c: the document filters of FineWeb's recipe, rule for rule
// as datatrove implements them (LanguageFilter, GopherRepetitionFilter,
// GopherQualityFilter, C4QualityFilter, FineWebQualityFilter), so that the
// thresholds mean what they mean there. Lengths are in code points (Python's
// len), words come from data_words, lines from '\n'. A threshold of 0 (or -1
// for counts, as datatrove) turns its rule off.
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "common/base.h"
#include "data/pipeline.h"

// ---------------------------------------------------------------------------
// shared pieces

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Split [text, text+n) at '\n' into s->lines. keep_last_empty=0 drops the
// empty piece after a final '\n' (Python's splitlines); 1 keeps it (split).
static size_t split_lines(DataScratch *s, const char *text, size_t n, int keep_last_empty) {
    size_t nl = 0, a = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && text[i] != '\n') continue;
        if (i == n && a == n && !keep_last_empty && n > 0) break;
        s->lines = data_grow(s->lines, &s->cap_lines, nl + 1, sizeof *s->lines);
        s->lines[nl++] = (DataSpan){(uint32_t)a, (uint32_t)(i - a)};
        a = i + 1;
    }
    return nl;
}

// datatrove's find_duplicates: elements seen before, and their characters.
static void find_duplicates(DataScratch *s, const char *text, const DataSpan *el, size_t n, size_t *dups,
                            size_t *dup_chars) {
    data_hmap_reset(&s->map, n);
    *dups = *dup_chars = 0;
    for (size_t i = 0; i < n; i++) {
        int is_new;
        data_hmap_get(&s->map, XXH3_64bits(text + el[i].off, el[i].len), (uint32_t)i, &is_new);
        if (is_new) continue;
        (*dups)++;
        *dup_chars += data_u8len(text + el[i].off, el[i].len);
    }
}

static int ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static int over(double value, double thr) { return thr > 0 && value > thr; }

// ---------------------------------------------------------------------------
// language

DataRule data_lang_filter(const DataConfig *c, const char *text, size_t n, double *score) {
    DataLangGuess g;
    int k = data_langid(text, n, &g), found = 0;
    double best = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < c->lang.languages.n; j++)
            if (!strcmp(g.code[i], c->lang.languages.items[j])) {
                found = 1;
                if (g.share[i] > best) best = g.share[i];
            }
    if (score) *score = best;
    if (!found) return DATA_R_LANG_OTHER;
    return best < c->lang.min_score ? DATA_R_LANG_LOW_SCORE : DATA_R_NONE;
}

// ---------------------------------------------------------------------------
// Gopher repetition

// Paragraphs: re.split(r"\n{2,}", text.strip()).
static size_t split_paragraphs(DataScratch *s, const char *text, size_t n) {
    size_t a = 0, b = n, np = 0;
    while (a < b && is_ws(text[a])) a++;
    while (b > a && is_ws(text[b - 1])) b--;
    size_t start = a;
    for (size_t i = a; i <= b; i++) {
        int at_break = i + 1 < b && text[i] == '\n' && text[i + 1] == '\n';
        if (i < b && !at_break) continue;
        s->lines = data_grow(s->lines, &s->cap_lines, np + 1, sizeof *s->lines);
        s->lines[np++] = (DataSpan){(uint32_t)start, (uint32_t)(i - start)};
        if (i == b) break;
        while (i < b && text[i] == '\n') i++;
        start = i--;
    }
    return np;
}

// Lines: re.split(r"\n+", text) (empty first/last pieces kept, as Python does).
static size_t split_line_runs(DataScratch *s, const char *text, size_t n) {
    size_t nl = 0, a = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && text[i] != '\n') continue;
        s->lines = data_grow(s->lines, &s->cap_lines, nl + 1, sizeof *s->lines);
        s->lines[nl++] = (DataSpan){(uint32_t)a, (uint32_t)(i - a)};
        while (i + 1 < n && text[i + 1] == '\n') i++;
        a = i + 1;
    }
    return nl;
}

// Words joined two ways, for n-gram hashing over contiguous bytes:
// b1 = words joined by ' ', b2 = words concatenated; u32 holds, per word,
// [0,nw] its offset in b1, [nw+1, 2nw+1] its offset in b2 (nw+1 entries),
// and [2nw+2, 3nw+2] the running code-point count (nw+1 entries).
static void join_words(DataScratch *s, const char *text, const DataSpan *w, size_t nw) {
    buf_clear(&s->b1), buf_clear(&s->b2);
    s->u32 = data_grow(s->u32, &s->cap_u32, 3 * nw + 3, sizeof *s->u32);
    uint32_t *j1 = s->u32, *j2 = s->u32 + nw + 1, *cp = s->u32 + 2 * nw + 2;
    cp[0] = 0;
    for (size_t i = 0; i < nw; i++) {
        if (i) buf_putc(&s->b1, ' ');
        j1[i] = (uint32_t)s->b1.len;
        j2[i] = (uint32_t)s->b2.len;
        buf_append(&s->b1, text + w[i].off, w[i].len);
        buf_append(&s->b2, text + w[i].off, w[i].len);
        cp[i + 1] = cp[i] + (uint32_t)data_u8len(text + w[i].off, w[i].len);
    }
    j1[nw] = (uint32_t)s->b1.len;
    j2[nw] = (uint32_t)s->b2.len;
}

// find_top_duplicate: characters of the most frequent n-gram (joined by
// spaces) times its count; ties go to the n-gram seen first.
static size_t top_ngram_chars(DataScratch *s, const DataSpan *w, size_t nw, size_t n) {
    const uint32_t *j1 = s->u32, *cp = s->u32 + 2 * nw + 2;
    data_hmap_reset(&s->map, nw);
    for (size_t i = 0; i + n <= nw; i++) {
        size_t a = j1[i], b = j1[i + n - 1] + w[i + n - 1].len;
        int is_new;
        data_hmap_get(&s->map, XXH3_64bits(s->b1.data + a, b - a), (uint32_t)i, &is_new)->count++;
    }
    const DataHEntry *best = NULL;
    for (size_t k = 0; k < s->map.cap; k++) {
        const DataHEntry *e = &s->map.e[k];
        if (e->key && (!best || e->count > best->count || (e->count == best->count && e->first < best->first))) best = e;
    }
    if (!best) return 0;
    size_t i = best->first;
    return (size_t)(cp[i + n] - cp[i] + (n - 1)) * best->count;
}

// find_all_duplicate: characters of n-grams (concatenated) seen before,
// skipping past each repeat so that overlapping repeats count once.
static size_t dup_ngram_chars(DataScratch *s, size_t nw, size_t n) {
    const uint32_t *j2 = s->u32 + nw + 1, *cp = s->u32 + 2 * nw + 2;
    data_hmap_reset(&s->map, nw);
    size_t repeated = 0;
    for (size_t i = 0; i + n <= nw;) {
        int is_new;
        data_hmap_get(&s->map, XXH3_64bits(s->b2.data + j2[i], j2[i + n] - j2[i]), (uint32_t)i, &is_new);
        if (is_new) {
            i++;
        } else {
            repeated += cp[i + n] - cp[i];
            i += n;
        }
    }
    return repeated;
}

DataRule data_gopher_repetition(const DataConfig *c, const char *text, size_t n, DataScratch *s) {
    const double chars = (double)data_u8len(text, n);
    if (chars == 0) return DATA_R_NONE;
    size_t dups, dup_chars;
    size_t np = split_paragraphs(s, text, n);
    find_duplicates(s, text, s->lines, np, &dups, &dup_chars);
    if (np && over((double)dups / (double)np, c->gopher_rep.dup_para_frac)) return DATA_R_GR_DUP_PARA_FRAC;
    if (over((double)dup_chars / chars, c->gopher_rep.dup_para_char_frac)) return DATA_R_GR_DUP_PARA_CHAR;
    size_t nl = split_line_runs(s, text, n);
    find_duplicates(s, text, s->lines, nl, &dups, &dup_chars);
    if (nl && over((double)dups / (double)nl, c->gopher_rep.dup_line_frac)) return DATA_R_GR_DUP_LINE_FRAC;
    if (over((double)dup_chars / chars, c->gopher_rep.dup_line_char_frac)) return DATA_R_GR_DUP_LINE_CHAR;

    const DataSpan *w;
    size_t nw = data_words(s, text, n, &w);
    join_words(s, text, w, nw);
    static const DataRule top_rules[3] = {DATA_R_GR_TOP_2GRAM, DATA_R_GR_TOP_3GRAM, DATA_R_GR_TOP_4GRAM};
    for (int k = 0; k < 3; k++) {
        size_t g = (size_t)k + 2;
        if (c->gopher_rep.top_ngram_frac[k] <= 0 || nw < g) continue;
        if (over((double)top_ngram_chars(s, w, nw, g) / chars, c->gopher_rep.top_ngram_frac[k])) return top_rules[k];
    }
    static const DataRule dup_rules[6] = {DATA_R_GR_DUP_5GRAM, DATA_R_GR_DUP_6GRAM, DATA_R_GR_DUP_7GRAM,
                                          DATA_R_GR_DUP_8GRAM, DATA_R_GR_DUP_9GRAM, DATA_R_GR_DUP_10GRAM};
    for (int k = 0; k < 6; k++) {
        if (c->gopher_rep.dup_ngram_frac[k] <= 0) continue;
        if (over((double)dup_ngram_chars(s, nw, (size_t)k + 5) / chars, c->gopher_rep.dup_ngram_frac[k]))
            return dup_rules[k];
    }
    return DATA_R_NONE;
}

// ---------------------------------------------------------------------------
// Gopher quality

static size_t count_substr(const char *text, size_t n, const char *pat) {
    size_t k = strlen(pat), count = 0;
    for (const char *p = text, *end = text + n; (p = memmem(p, (size_t)(end - p), pat, k)); p += k) count++;
    return count;
}

static int is_stop_word(const DataConfig *c, const char *w, size_t n) {
    for (int i = 0; i < c->gopher_qual.stop_words.n; i++) {
        const char *sw = c->gopher_qual.stop_words.items[i];
        if (strlen(sw) == n && !memcmp(sw, w, n)) return 1;
    }
    return 0;
}

// Lines (splitlines) starting with a bullet and ending with an ellipsis.
static void bullet_ellipsis_lines(DataScratch *s, const char *text, size_t n, size_t *nl, size_t *bullets,
                                  size_t *ellipses) {
    *nl = split_lines(s, text, n, 0);
    *bullets = *ellipses = 0;
    for (size_t i = 0; i < *nl; i++) {
        const char *l = text + s->lines[i].off;
        size_t a = 0, b = s->lines[i].len;
        while (a < b && is_ws(l[a])) a++;
        while (b > a && is_ws(l[b - 1])) b--;
        if (a < b && (l[a] == '-' || (b - a >= 3 && !memcmp(l + a, "•", 3)))) (*bullets)++;
        if (ends_with(l + a, b - a, "...") || ends_with(l + a, b - a, "…")) (*ellipses)++;
    }
}

DataRule data_gopher_quality(const DataConfig *c, const char *text, size_t n, DataScratch *s) {
    const DataSpan *w;
    size_t nw = data_words(s, text, n, &w);
    size_t non_symbol = 0, non_symbol_chars = 0, alpha = 0, stops = 0;
    for (size_t i = 0; i < nw; i++) {
        const char *t = text + w[i].off;
        if (!data_is_symbol_token(t, w[i].len)) {
            non_symbol++;
            non_symbol_chars += data_u8len(t, w[i].len);
        }
        alpha += data_has_letter(t, w[i].len);
        stops += is_stop_word(c, t, w[i].len);
    }
    const __typeof__(c->gopher_qual) *q = &c->gopher_qual;
    if (q->min_words > 0 && (int64_t)non_symbol < q->min_words) return DATA_R_GQ_SHORT_DOC;
    if (q->max_words > 0 && (int64_t)non_symbol > q->max_words) return DATA_R_GQ_LONG_DOC;
    if (non_symbol) {
        double avg = (double)non_symbol_chars / (double)non_symbol;
        if (q->min_avg_word_len > 0 && avg < q->min_avg_word_len) return DATA_R_GQ_AVG_WORD_SHORT;
        if (q->max_avg_word_len > 0 && avg > q->max_avg_word_len) return DATA_R_GQ_AVG_WORD_LONG;
    }
    if (!nw) return DATA_R_GQ_SHORT_DOC;
    if (over((double)count_substr(text, n, "#") / (double)nw, q->max_symbol_word_ratio)) return DATA_R_GQ_HASHES;
    double ell = (double)(count_substr(text, n, "...") + count_substr(text, n, "…"));
    if (over(ell / (double)nw, q->max_symbol_word_ratio)) return DATA_R_GQ_ELLIPSES;
    size_t nl, bullets, ellipses;
    bullet_ellipsis_lines(s, text, n, &nl, &bullets, &ellipses);
    if (nl && over((double)bullets / (double)nl, q->max_bullet_lines_ratio)) return DATA_R_GQ_BULLET_LINES;
    if (nl && over((double)ellipses / (double)nl, q->max_ellipsis_lines_ratio)) return DATA_R_GQ_ELLIPSIS_LINES;
    if (q->min_alpha_words_ratio > 0 && (double)alpha / (double)nw < q->min_alpha_words_ratio) return DATA_R_GQ_ALPHA_WORDS;
    if (q->min_stop_words > 0 && (int64_t)stops < q->min_stop_words) return DATA_R_GQ_STOP_WORDS;
    return DATA_R_NONE;
}

// ---------------------------------------------------------------------------
// C4

static const char *const ABBREVIATIONS[] = {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "jr",
                                            "sr", "inc", "ltd", "co", "fig", "no", "vol", "approx", "dept", "est",
                                            "cf", "al", NULL};

// Is the '.' at line[i] the end of an abbreviation or an initial?
static int is_abbreviation(const char *line, size_t i) {
    size_t a = i;
    while (a > 0 && !is_ws(line[a - 1]) && line[a - 1] != '(' && line[a - 1] != '"') a--;
    size_t len = i - a;
    if (len == 1 && ((line[a] >= 'A' && line[a] <= 'Z') || (line[a] >= 'a' && line[a] <= 'z'))) return 1;
    for (const char *const *ab = ABBREVIATIONS; *ab; ab++)
        if (strlen(*ab) == len && !strncasecmp(line + a, *ab, len)) return 1;
    return 0;
}

int data_count_sentences(const char *line, size_t n) {
    int count = 0, open = 0;  // open: text since the last sentence end
    for (size_t i = 0; i < n; i++) {
        char ch = line[i];
        if (ch != '.' && ch != '!' && ch != '?') {
            if (!is_ws(ch)) open = 1;
            continue;
        }
        size_t j = i;
        while (j + 1 < n && (line[j + 1] == '.' || line[j + 1] == '!' || line[j + 1] == '?')) j++;
        size_t k = j + 1;
        while (k < n && (line[k] == '"' || line[k] == '\'' || line[k] == ')' || line[k] == ']')) k++;
        int boundary = (k == n || is_ws(line[k])) && open && !(ch == '.' && j == i && is_abbreviation(line, i));
        if (boundary) count++, open = 0;
        i = k - 1;
        if (!boundary && k > i + 1) open = 1;
    }
    return count + open;
}

// Remove "[12]", "[]", "[edit]" and "[citation needed]" from line into out.
static size_t remove_citations(const char *l, size_t n, Buf *out) {
    size_t removed = 0;
    buf_clear(out);
    for (size_t i = 0; i < n; i++) {
        if (l[i] == '[') {
            size_t j = i + 1;
            while (j < n && l[j] >= '0' && l[j] <= '9') j++;
            size_t len = j < n && l[j] == ']' ? j + 1 - i : 0;
            if (!len && n - i >= 6 && !memcmp(l + i, "[edit]", 6)) len = 6;
            if (!len && n - i >= 18 && !memcmp(l + i, "[citation needed]", 17)) len = 17;
            if (len) {
                i += len - 1;
                removed++;
                continue;
            }
        }
        buf_putc(out, l[i]);
    }
    return removed;
}

static int count_words_max(const char *l, size_t n, int64_t max_len, int *too_long) {
    int words = 0;
    *too_long = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_ws(l[i])) i++;
        size_t a = i;
        while (i < n && !is_ws(l[i])) i++;
        if (i == a) continue;
        words++;
        if (max_len >= 0 && (int64_t)data_u8len(l + a, i - a) > max_len) *too_long = 1;
    }
    return words;
}

static const char *const POLICY[] = {"terms of use", "privacy policy", "cookie policy", "uses cookies",
                                     "use of cookies", "use cookies", NULL};

// One line through C4's checks: -1 drop the document (*rule set), 0 drop
// the line (*line_rule set), 1 keep it.
static int c4_line(const DataConfig *c, const char *l, size_t n, int words, Buf *low, DataRule *rule,
                   DataLineRule *line_rule) {
    const __typeof__(c->c4) *q = &c->c4;
    if (q->filter_no_terminal_punct) {
        char last = n ? l[n - 1] : 0;
        int term = last == '.' || last == '?' || last == '!' || last == '"' || last == '\'';
        if (!term || ends_with(l, n, "...")) return *line_rule = DATA_LR_NO_TERMINAL_PUNCT, 0;
    }
    if (q->min_words_per_line >= 0 && words < q->min_words_per_line) return *line_rule = DATA_LR_FEW_WORDS, 0;
    buf_clear(low);
    buf_reserve(low, n);
    for (size_t i = 0; i < n; i++) low->data[i] = (char)(l[i] >= 'A' && l[i] <= 'Z' ? l[i] + 32 : l[i]);
    low->len = n;
    if (q->filter_lorem_ipsum && memmem(low->data, n, "lorem ipsum", 11)) return *rule = DATA_R_C4_LOREM_IPSUM, -1;
    if (q->filter_javascript && memmem(low->data, n, "javascript", 10)) return *line_rule = DATA_LR_JAVASCRIPT, 0;
    if (q->filter_curly_bracket && memchr(l, '{', n)) return *rule = DATA_R_C4_CURLY_BRACKET, -1;
    if (q->filter_policy)
        for (const char *const *p = POLICY; *p; p++)
            if (memmem(low->data, n, *p, strlen(*p))) return *line_rule = DATA_LR_POLICY, 0;
    return 1;
}

DataRule data_c4_filter(const DataConfig *c, const char *text, size_t n, Buf *out, int64_t *line_counts,
                        int64_t *citations, DataScratch *s) {
    buf_clear(out);
    size_t nl = split_lines(s, text, n, 0);
    int64_t sentences = 0;
    for (size_t i = 0; i < nl; i++) {
        const char *l = text + s->lines[i].off;
        size_t len = s->lines[i].len;
        while (len && is_ws(*l)) l++, len--;
        while (len && is_ws(l[len - 1])) len--;
        int too_long, words = count_words_max(l, len, c->c4.max_word_len, &too_long);
        if (too_long) {
            if (line_counts) line_counts[DATA_LR_LONG_WORD]++;
            continue;
        }
        if (c->c4.remove_citations) {
            size_t k = remove_citations(l, len, &s->b3);
            if (citations) *citations += (int64_t)k;
            l = s->b3.data ? s->b3.data : "", len = s->b3.len;
        }
        DataRule rule = DATA_R_NONE;
        DataLineRule lr = 0;
        int v = c4_line(c, l, len, words, &s->b2, &rule, &lr);
        if (v < 0) return rule;
        if (v == 0) {
            if (line_counts) line_counts[lr]++;
            continue;
        }
        if (c->c4.min_sentences >= 0) sentences += data_count_sentences(l, len);
        if (out->len) buf_putc(out, '\n');
        buf_append(out, l, len);
    }
    if (sentences < c->c4.min_sentences) return DATA_R_C4_FEW_SENTENCES;
    return DATA_R_NONE;
}

// ---------------------------------------------------------------------------
// FineWeb

// datatrove's TERMINAL_PUNCTUATION: sentence ends across scripts.
static const char *const TERMINAL[] = {".", "!", "?", "։", "؟", "۔", "܀", "܁", "܂", "߹", "।", "॥", "၊", "။", "።",
                                       "፧", "፨", "᙮", "᜵", "᜶", "‼", "‽", "⁇", "⁈", "⁉", "⸮", "。", "꓿", "꘎",
                                       "꘏", "꛳", "꛷", "﹒", "﹗", "！", "．", "？", "｡", NULL};

static int ends_terminal(const char *l, size_t n) {
    for (const char *const *t = TERMINAL; *t; t++)
        if (ends_with(l, n, *t)) return 1;
    return 0;
}

static int is_blank(const char *l, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_ws(l[i])) return 0;
    return 1;
}

DataRule data_fineweb_filter(const DataConfig *c, const char *text, size_t n, DataScratch *s) {
    const __typeof__(c->fineweb) *q = &c->fineweb;
    size_t nl = split_lines(s, text, n, 1), kept = 0;
    for (size_t i = 0; i < nl; i++)  // drop blank lines in place
        if (!is_blank(text + s->lines[i].off, s->lines[i].len)) s->lines[kept++] = s->lines[i];
    if (!kept) return DATA_R_FW_EMPTY;
    size_t punct = 0, short_lines = 0;
    for (size_t i = 0; i < kept; i++) {
        const char *l = text + s->lines[i].off;
        punct += ends_terminal(l, s->lines[i].len);
        short_lines += (int64_t)data_u8len(l, s->lines[i].len) <= q->short_line_chars;
    }
    double ratio = (double)punct / (double)kept;
    if (ratio < q->min_line_punct_ratio && !(ratio == 0 && q->line_punct_exclude_zero)) return DATA_R_FW_LINE_PUNCT;
    if (over((double)short_lines / (double)kept, q->max_short_line_ratio)) return DATA_R_FW_SHORT_LINES;
    size_t dups, dup_chars;
    find_duplicates(s, text, s->lines, kept, &dups, &dup_chars);
    size_t newlines = count_substr(text, n, "\n");
    double non_newline_chars = (double)(data_u8len(text, n) - newlines);
    if (over((double)dup_chars / non_newline_chars, q->max_char_dup_ratio)) return DATA_R_FW_CHAR_DUP;
    const DataSpan *w;
    size_t nw = data_words(s, text, n, &w);
    if (nw && over((double)newlines / (double)nw, q->max_newline_ratio)) return DATA_R_FW_NEWLINES;
    return DATA_R_NONE;
}
