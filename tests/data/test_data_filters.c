// test_data_filters.c: every document rule of the pipeline on hand-built
// documents just inside and just outside its threshold (FineWeb defaults),
// with the arithmetic that puts them there in the comments. Each test turns
// off the other rules of the same stage so that only the rule under test
// can decide.
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/json.h"
#include "data/pipeline.h"
#include "tests/test.h"

static DataScratch *S;

static DataScratch *scratch(void) {
    if (!S) S = data_scratch_new();
    return S;
}

// A word made of letters only, length len, unique per index (base 26 from
// the end; the first letter is `lead`).
static void word(Buf *b, char lead, int idx, int len) {
    char w[64];
    w[0] = lead;
    for (int i = len - 1; i >= 1; i--, idx /= 26) w[i] = (char)('a' + idx % 26);
    buf_append(b, w, (size_t)len);
}

static DataConfig cfg(void) {
    DataConfig c;
    data_config_default(&c);
    return c;
}

// ---------------------------------------------------------------------------
// Gopher repetition

// Turn off every Gopher repetition rule; the test turns its own back on.
static void rep_only(DataConfig *c) {
    c->gopher_rep.dup_line_frac = c->gopher_rep.dup_para_frac = 0;
    c->gopher_rep.dup_line_char_frac = c->gopher_rep.dup_para_char_frac = 0;
    for (int i = 0; i < 3; i++) c->gopher_rep.top_ngram_frac[i] = 0;
    for (int i = 0; i < 6; i++) c->gopher_rep.dup_ngram_frac[i] = 0;
}

// 100 lines (or paragraphs) of 9 characters; `dups` of them repeat line 0.
static void lines_doc(Buf *b, int dups, const char *sep) {
    buf_clear(b);
    for (int i = 0; i < 100; i++) {
        if (i) buf_puts(b, sep);
        word(b, 'l', i < 100 - dups ? i : 0, 9);
    }
}

static DataRule rep(const DataConfig *c, const Buf *b) { return data_gopher_repetition(c, b->data, b->len, scratch()); }

TEST(gopher_dup_line_frac) {
    DataConfig c = cfg();
    CHECK_NEAR(c.gopher_rep.dup_line_frac, 0.3, 1e-12);
    rep_only(&c);
    c.gopher_rep.dup_line_frac = 0.3;
    Buf b = {0};
    lines_doc(&b, 30, "\n");  // 30 of 100 lines are repeats: 0.30, not > 0.3
    CHECK_EQ(rep(&c, &b), DATA_R_NONE);
    lines_doc(&b, 31, "\n");  // 0.31
    CHECK_EQ(rep(&c, &b), DATA_R_GR_DUP_LINE_FRAC);
    buf_free(&b);
    data_config_free(&c);
}

TEST(gopher_dup_para_frac) {
    DataConfig c = cfg();
    rep_only(&c);
    c.gopher_rep.dup_para_frac = 0.3;
    Buf b = {0};
    lines_doc(&b, 30, "\n\n");
    CHECK_EQ(rep(&c, &b), DATA_R_NONE);
    lines_doc(&b, 31, "\n\n");
    CHECK_EQ(rep(&c, &b), DATA_R_GR_DUP_PARA_FRAC);
    lines_doc(&b, 31, "\n");  // single newlines: one paragraph, nothing repeats
    CHECK_EQ(rep(&c, &b), DATA_R_NONE);
    buf_free(&b);
    data_config_free(&c);
}

TEST(gopher_dup_line_char_frac) {
    DataConfig c = cfg();
    rep_only(&c);
    c.gopher_rep.dup_line_char_frac = 0.2;
    Buf b = {0};
    lines_doc(&b, 22, "\n");  // 22·9 = 198 of 100·9 + 99 = 999 chars: 0.198
    CHECK_EQ(rep(&c, &b), DATA_R_NONE);
    lines_doc(&b, 23, "\n");  // 207/999 = 0.207
    CHECK_EQ(rep(&c, &b), DATA_R_GR_DUP_LINE_CHAR);
    buf_free(&b);
    data_config_free(&c);
}

TEST(gopher_dup_para_char_frac) {
    DataConfig c = cfg();
    rep_only(&c);
    c.gopher_rep.dup_para_char_frac = 0.2;
    Buf b = {0};
    lines_doc(&b, 24, "\n\n");  // 216 of 900 + 99·2 = 1098 chars: 0.1967
    CHECK_EQ(rep(&c, &b), DATA_R_NONE);
    lines_doc(&b, 25, "\n\n");  // 225/1098 = 0.2049
    CHECK_EQ(rep(&c, &b), DATA_R_GR_DUP_PARA_CHAR);
    buf_free(&b);
    data_config_free(&c);
}

// k copies of an n-gram of two-letter words, each followed by a 4-letter
// filler, then more fillers: F fillers in all. Chars: 3nk + 5F − 1; the
// top n-gram holds (3n − 1)·k of them.
static void top_doc(Buf *b, int n, int k, int fillers) {
    buf_clear(b);
    int f = 0;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < n; j++) {
            if (b->len) buf_putc(b, ' ');
            buf_putc(b, 'x'), buf_putc(b, (char)('a' + j));
        }
        buf_putc(b, ' ');
        word(b, 'f', f++, 4);
    }
    for (; f < fillers; f++) {
        buf_putc(b, ' ');
        word(b, 'f', f, 4);
    }
}

TEST(gopher_top_ngrams) {
    static const DataRule rules[3] = {DATA_R_GR_TOP_2GRAM, DATA_R_GR_TOP_3GRAM, DATA_R_GR_TOP_4GRAM};
    static const double thr[3] = {0.20, 0.18, 0.16};
    Buf b = {0};
    for (int k3 = 0; k3 < 3; k3++) {
        int n = k3 + 2, k = 20;
        DataConfig c = cfg();
        CHECK_NEAR(c.gopher_rep.top_ngram_frac[k3], thr[k3], 1e-12);
        rep_only(&c);
        c.gopher_rep.top_ngram_frac[k3] = thr[k3];
        // The fewest fillers with (3n−1)k / (3nk + 5F − 1) ≤ thr keep the document.
        int F = 0;
        while ((double)((3 * n - 1) * k) / (double)(3 * n * k + 5 * F - 1) > thr[k3]) F++;
        top_doc(&b, n, k, F);
        CHECK_EQ(data_u8len(b.data, b.len), (size_t)(3 * n * k + 5 * F - 1));
        CHECK_MSG(rep(&c, &b) == DATA_R_NONE, "top %d-gram with %d fillers should be kept", n, F);
        top_doc(&b, n, k, F - 1);
        CHECK_MSG(rep(&c, &b) == rules[k3], "top %d-gram with %d fillers should be removed", n, F - 1);
        data_config_free(&c);
    }
    buf_free(&b);
}

// A block of m unique 4-letter words, fillers, the block again, fillers:
// W = 2m + F words, 5W − 1 chars. With m a multiple of n the whole second
// block (4m chars) is duplicated n-grams.
static void dup_doc(Buf *b, int m, int fillers) {
    buf_clear(b);
    for (int rep2 = 0; rep2 < 2; rep2++) {
        for (int i = 0; i < m; i++) {
            if (b->len) buf_putc(b, ' ');
            word(b, 'b', i, 4);
        }
        for (int f = rep2 * (fillers / 2); f < (rep2 ? fillers : fillers / 2); f++) {
            buf_putc(b, ' ');
            word(b, 'f', f, 4);
        }
    }
}

TEST(gopher_duplicated_ngrams) {
    static const double thr[6] = {0.15, 0.14, 0.13, 0.12, 0.11, 0.10};
    Buf b = {0};
    for (int k6 = 0; k6 < 6; k6++) {
        int n = k6 + 5, m = 4 * n;
        DataConfig c = cfg();
        CHECK_NEAR(c.gopher_rep.dup_ngram_frac[k6], thr[k6], 1e-12);
        rep_only(&c);
        c.gopher_rep.dup_ngram_frac[k6] = thr[k6];
        int F = 0;
        while ((double)(4 * m) / (double)(5 * (2 * m + F) - 1) > thr[k6]) F++;
        dup_doc(&b, m, F);
        CHECK_MSG(rep(&c, &b) == DATA_R_NONE, "duplicated %d-grams with %d fillers should be kept", n, F);
        dup_doc(&b, m, F - 1);
        CHECK_MSG(rep(&c, &b) == (DataRule)(DATA_R_GR_DUP_5GRAM + k6), "duplicated %d-grams with %d fillers should go", n,
                  F - 1);
        data_config_free(&c);
    }
    buf_free(&b);
}

// ---------------------------------------------------------------------------
// Gopher quality (all rules on: the documents pass the others)

static DataRule qual(const Buf *b) {
    DataConfig c = cfg();
    DataRule r = data_gopher_quality(&c, b->data, b->len, scratch());
    data_config_free(&c);
    return r;
}

// "the and" then n words of 4 letters.
static void plain_doc(Buf *b, int n) {
    buf_clear(b);
    buf_puts(b, "the and");
    for (int i = 0; i < n; i++) buf_putc(b, ' '), word(b, 'w', i, 4);
}

TEST(gopher_word_counts) {
    Buf b = {0};
    plain_doc(&b, 48);  // 50 words
    CHECK_EQ(qual(&b), DATA_R_NONE);
    plain_doc(&b, 47);  // 49
    CHECK_EQ(qual(&b), DATA_R_GQ_SHORT_DOC);
    plain_doc(&b, 47);
    buf_puts(&b, " ## -- ...");  // symbols are not words
    CHECK_EQ(qual(&b), DATA_R_GQ_SHORT_DOC);
    plain_doc(&b, 99998);  // 100,000 words
    CHECK_EQ(qual(&b), DATA_R_NONE);
    plain_doc(&b, 99999);
    CHECK_EQ(qual(&b), DATA_R_GQ_LONG_DOC);
    buf_free(&b);
}

// "the and" (3 letters each) plus a words of length la and b of length lb.
static void lengths_doc(Buf *b, int a, int la, int nb, int lb) {
    buf_clear(b);
    buf_puts(b, "the and");
    for (int i = 0; i < a; i++) buf_putc(b, ' '), word(b, 'p', i, la);
    for (int i = 0; i < nb; i++) buf_putc(b, ' '), word(b, 'q', i, lb);
}

TEST(gopher_mean_word_length) {
    Buf b = {0};
    lengths_doc(&b, 40, 2, 40, 4);  // (6 + 80 + 160) / 82 = 3.0 exactly
    CHECK_EQ(qual(&b), DATA_R_NONE);
    lengths_doc(&b, 42, 2, 40, 4);  // (6 + 84 + 160) / 84 = 2.976
    CHECK_EQ(qual(&b), DATA_R_GQ_AVG_WORD_SHORT);
    lengths_doc(&b, 44, 11, 30, 9);  // (6 + 484 + 270) / 76 = 10.0 exactly
    CHECK_EQ(qual(&b), DATA_R_NONE);
    lengths_doc(&b, 45, 11, 30, 9);  // 771 / 77 = 10.01
    CHECK_EQ(qual(&b), DATA_R_GQ_AVG_WORD_LONG);
    buf_free(&b);
}

// 100 tokens: "the and", then 98 words, `k` of which carry `mark` inside.
static void marked_doc(Buf *b, int k, const char *mark) {
    buf_clear(b);
    buf_puts(b, "the and");
    for (int i = 0; i < 98; i++) {
        buf_putc(b, ' ');
        word(b, 'w', i, 3);
        if (i < k) buf_puts(b, mark), word(b, 'z', i, 2);
    }
}

TEST(gopher_symbol_ratios) {
    Buf b = {0};
    marked_doc(&b, 10, "#");  // 10 '#' per 100 words: 0.10
    CHECK_EQ(qual(&b), DATA_R_NONE);
    marked_doc(&b, 11, "#");
    CHECK_EQ(qual(&b), DATA_R_GQ_HASHES);
    marked_doc(&b, 10, "...");
    CHECK_EQ(qual(&b), DATA_R_NONE);
    marked_doc(&b, 11, "…");  // the Unicode ellipsis counts too
    CHECK_EQ(qual(&b), DATA_R_GQ_ELLIPSES);
    buf_free(&b);
}

// 100 lines of 6 words; `k` start with `head` or end with `tail`.
static void lines_marked(Buf *b, int k, const char *head, const char *tail) {
    buf_clear(b);
    for (int i = 0; i < 100; i++) {
        if (i) buf_putc(b, '\n');
        if (i < k && head) buf_puts(b, head);
        buf_puts(b, "the and");
        for (int j = 0; j < 4; j++) buf_putc(b, ' '), word(b, 'w', i * 4 + j, 5);
        if (i < k && tail) buf_puts(b, tail);
    }
}

TEST(gopher_bullet_and_ellipsis_lines) {
    Buf b = {0};
    lines_marked(&b, 90, "- ", NULL);  // 90% bullets: not > 0.9
    CHECK_EQ(qual(&b), DATA_R_NONE);
    lines_marked(&b, 91, "  • ", NULL);
    CHECK_EQ(qual(&b), DATA_R_GQ_BULLET_LINES);
    lines_marked(&b, 30, NULL, "...");  // 30% end with an ellipsis
    CHECK_EQ(qual(&b), DATA_R_NONE);
    lines_marked(&b, 31, NULL, "…  ");
    CHECK_EQ(qual(&b), DATA_R_GQ_ELLIPSIS_LINES);
    buf_free(&b);
}

TEST(gopher_alpha_and_stop_words) {
    Buf b = {0};
    plain_doc(&b, 78);  // 80 words with letters ...
    for (int i = 0; i < 20; i++) buf_printf(&b, " %d", 1000 + i);  // ... and 20 numbers: 0.80
    CHECK_EQ(qual(&b), DATA_R_NONE);
    buf_printf(&b, " %d", 999);  // 80/101
    CHECK_EQ(qual(&b), DATA_R_GQ_ALPHA_WORDS);
    plain_doc(&b, 60);  // "the", "and": 2 stop words
    CHECK_EQ(qual(&b), DATA_R_NONE);
    memcpy(b.data, "The", 3);  // case matters, as in datatrove
    CHECK_EQ(qual(&b), DATA_R_GQ_STOP_WORDS);
    buf_free(&b);
}

// ---------------------------------------------------------------------------
// C4

static DataRule c4(const char *text, Buf *out, int64_t *lines) {
    DataConfig c = cfg();
    DataRule r = data_c4_filter(&c, text, strlen(text), out, lines, NULL, scratch());
    data_config_free(&c);
    return r;
}

#define FIVE "One sentence here. Two sentences here. Three now. Four now. Five now.\n"

TEST(c4_sentences) {
    Buf out = {0};
    CHECK_EQ(c4(FIVE, &out, NULL), DATA_R_NONE);
    CHECK_EQ(c4("One sentence here. Two sentences here. Three now. Four now.\n", &out, NULL), DATA_R_C4_FEW_SENTENCES);
    CHECK_EQ(data_count_sentences("Dr. Smith went home. He slept well!", 35), 2);
    CHECK_EQ(data_count_sentences("See e.g. the manual for details", 31), 1);
    CHECK_EQ(data_count_sentences("A line without an end", 21), 1);
    CHECK_EQ(data_count_sentences("What? Really?! \"Yes.\" Fine", 26), 4);
    buf_free(&out);
}

TEST(c4_doc_rules_apply_to_lines_that_survive) {
    Buf out = {0};
    int64_t lines[DATA_NLINE_RULES] = {0};
    CHECK_EQ(c4(FIVE "Lorem ipsum dolor sit amet.\n", &out, NULL), DATA_R_C4_LOREM_IPSUM);
    CHECK_EQ(c4(FIVE "Lorem ipsum\n", &out, lines), DATA_R_NONE);  // a 2-word line is dropped first
    CHECK_EQ(lines[DATA_LR_FEW_WORDS], 1);
    CHECK_EQ(c4(FIVE "int f(void) {\n", &out, NULL), DATA_R_C4_CURLY_BRACKET);
    CHECK_EQ(c4(FIVE "x = {\n", &out, NULL), DATA_R_C4_CURLY_BRACKET);  // three words: the line counts
    CHECK_EQ(c4(FIVE "x {\n", &out, NULL), DATA_R_NONE);              // two: dropped before the check
    buf_free(&out);
}

TEST(c4_line_rules) {
    Buf out = {0}, text = {0};
    int64_t lines[DATA_NLINE_RULES] = {0};
    buf_puts(&text, FIVE);
    buf_puts(&text, "Enable JavaScript to see this page.\nRead our privacy policy today.\nTwo words\nThree words here\n");
    buf_puts(&text, "long ");
    for (int i = 0; i < 1000; i++) buf_putc(&text, 'a');  // 1000 characters: kept
    buf_puts(&text, " word\nlonger ");
    for (int i = 0; i < 1001; i++) buf_putc(&text, 'b');  // 1001: the line goes
    buf_puts(&text, " word\nCited fact[12] here[edit] and there[citation needed].\n");
    CHECK_EQ(c4(text.data, &out, lines), DATA_R_NONE);
    CHECK_EQ(lines[DATA_LR_JAVASCRIPT], 1);
    CHECK_EQ(lines[DATA_LR_POLICY], 1);
    CHECK_EQ(lines[DATA_LR_FEW_WORDS], 1);
    CHECK_EQ(lines[DATA_LR_LONG_WORD], 1);
    CHECK_CONTAINS(out.data, "\nThree words here\nlong aaa");
    CHECK_CONTAINS(out.data, "\nCited fact here and there.");
    CHECK(!strstr(out.data, "bbbb"));
    CHECK(!strstr(out.data, "JavaScript"));
    buf_free(&out), buf_free(&text);
}

// ---------------------------------------------------------------------------
// FineWeb

static DataRule fw(const Buf *b) {
    DataConfig c = cfg();
    DataRule r = data_fineweb_filter(&c, b->data, b->len, scratch());
    data_config_free(&c);
    return r;
}

// 100 distinct lines of 8 words (> 30 chars); `punct` of them end with '.',
// the first `shorts` are short ("Short line nn." style, ≤ 30 chars), and the
// last `dups` repeat line 0 (40 chars each, as every long line is).
static void fw_doc(Buf *b, int punct, int shorts, int dups) {
    buf_clear(b);
    for (int i = 0; i < 100; i++) {
        if (i) buf_putc(b, '\n');
        int id = i >= 100 - dups ? 0 : i;
        if (i < shorts) {
            buf_puts(b, "Short line ");
            word(b, 's', id, 5);
        } else {
            for (int j = 0; j < 8; j++) {
                if (j) buf_putc(b, ' ');
                word(b, 'w', id * 8 + j, 4);
            }
        }
        buf_putc(b, i < punct || id == 0 ? '.' : ',');
    }
}

TEST(fineweb_line_punctuation) {
    Buf b = {0};
    fw_doc(&b, 12, 0, 0);  // 12 of 100 lines end with '.': 0.12, not < 0.12
    CHECK_EQ(fw(&b), DATA_R_NONE);
    fw_doc(&b, 11, 0, 0);
    CHECK_EQ(fw(&b), DATA_R_FW_LINE_PUNCT);
    buf_free(&b);
}

TEST(fineweb_short_lines) {
    Buf b = {0};
    fw_doc(&b, 100, 67, 0);  // 67% of lines ≤ 30 chars
    CHECK_EQ(fw(&b), DATA_R_NONE);
    fw_doc(&b, 100, 68, 0);
    CHECK_EQ(fw(&b), DATA_R_FW_SHORT_LINES);
    buf_free(&b);
}

TEST(fineweb_duplicated_line_chars) {
    Buf b = {0};
    fw_doc(&b, 100, 0, 10);  // 10 repeats × 40 chars of 100 × 40 = 0.10
    CHECK_EQ(data_u8len(b.data, b.len), (size_t)(100 * 40 + 99));
    CHECK_EQ(fw(&b), DATA_R_NONE);
    fw_doc(&b, 100, 0, 11);
    CHECK_EQ(fw(&b), DATA_R_FW_CHAR_DUP);
    buf_free(&b);
}

// 101 lines: a of them hold 3 words + '.', the others 2 words + '.';
// tokens = 4a + 3(101 − a) = 303 + a, newlines = 100.
static void list_doc(Buf *b, int a) {
    buf_clear(b);
    for (int i = 0; i < 101; i++) {
        if (i) buf_putc(b, '\n');
        for (int j = 0; j < (i < a ? 3 : 2); j++) {
            if (j) buf_putc(b, ' ');
            word(b, 'v', i * 3 + j, 16);
        }
        buf_putc(b, '.');
    }
}

TEST(fineweb_newline_ratio) {
    Buf b = {0};
    list_doc(&b, 31);  // 100 / 334 = 0.2994
    CHECK_EQ(fw(&b), DATA_R_NONE);
    list_doc(&b, 30);  // 100 / 333 = 0.3003
    CHECK_EQ(fw(&b), DATA_R_FW_NEWLINES);
    buf_clear(&b);
    buf_puts(&b, " \n\t\n");
    CHECK_EQ(fw(&b), DATA_R_FW_EMPTY);
    buf_free(&b);
}

// ---------------------------------------------------------------------------
// language

static const char *EN =
    "The committee met on Tuesday to discuss the new budget for the city library. Members agreed that the "
    "reading rooms need better lighting and that opening hours should be extended during the exam season. ";
static const char *DE =
    "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt der Stadtbibliothek zu besprechen. Die "
    "Mitglieder waren sich einig, dass die Lesesäle eine bessere Beleuchtung brauchen und die Öffnungszeiten ";

TEST(language_threshold) {
    DataConfig c = cfg();
    Buf b = {0};
    double score;
    for (int i = 0; i < 4; i++) buf_puts(&b, EN);
    buf_puts(&b, DE);  // about 80% English
    CHECK_EQ(data_lang_filter(&c, b.data, b.len, &score), DATA_R_NONE);
    CHECK(score >= 0.65 && score < 0.95);
    buf_clear(&b);
    buf_puts(&b, EN), buf_puts(&b, DE), buf_puts(&b, DE);  // about a third English
    CHECK_EQ(data_lang_filter(&c, b.data, b.len, &score), DATA_R_LANG_LOW_SCORE);
    CHECK(score > 0.2 && score < 0.65);
    buf_clear(&b);
    buf_puts(&b, DE), buf_puts(&b, DE);
    CHECK_EQ(data_lang_filter(&c, b.data, b.len, &score), DATA_R_LANG_OTHER);
    free(c.lang.languages.items[0]);
    c.lang.languages.items[0] = strdup("de");
    CHECK_EQ(data_lang_filter(&c, b.data, b.len, &score), DATA_R_NONE);
    CHECK(score > 0.9);
    buf_free(&b);
    data_config_free(&c);
}

// ---------------------------------------------------------------------------
// tokens and config

TEST(word_tokenizer_splits_edge_punctuation) {
    const char *t = "(hello), world... \"quoted\" e-mail U.S. —dash";
    const DataSpan *w;
    size_t n = data_words(scratch(), t, strlen(t), &w);
    const char *want[] = {"(", "hello", "),", "world", "...", "\"", "quoted", "\"", "e-mail", "U.S", ".", "—", "dash"};
    REQUIRE(n == RS_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        char tok[32];
        snprintf(tok, sizeof tok, "%.*s", (int)w[i].len, t + w[i].off);
        CHECK_STR_EQ(tok, want[i]);
    }
    CHECK(data_is_symbol_token("...", 3));
    CHECK(!data_is_symbol_token("a.", 2));
    CHECK(data_has_letter("été", strlen("été")));
    CHECK(!data_has_letter("1234", 4));
}

TEST(default_config_file_equals_builtin_defaults) {
    const char *root = getenv("REASONER_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/configs/data-default.json", root ? root : ".");
    DataConfig file, dflt = cfg();
    Err e;
    int rc = data_config_load(&file, path, &e);
    CHECK_MSG(rc == 0, "%s (run from the repository root or set REASONER_ROOT)", e.msg);
    if (rc) {
        data_config_free(&file), data_config_free(&dflt);
        return;
    }
    cJSON *a = data_config_to_json(&file), *b = data_config_to_json(&dflt);
    char *sa = json_compact(a), *sb = json_compact(b);
    CHECK_STR_EQ(sa, sb);
    // and the file sets every key: the defaults do not hide in the code
    cJSON *raw = json_read_file(path, &e);
    REQUIRE(raw != NULL);
    const cJSON *sec, *key;
    int keys = 0, want = 0;
    cJSON_ArrayForEach(sec, raw) if (sec->string[0] != '_') cJSON_ArrayForEach(key, sec) keys += key->string[0] != '_';
    cJSON_ArrayForEach(sec, b) want += cJSON_GetArraySize(sec);
    CHECK_EQ(keys, want);
    free(sa), free(sb);
    cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(raw);
    data_config_free(&file), data_config_free(&dflt);
}

TEST(config_errors_name_the_key) {
    DataConfig c;
    Err e;
    const char *path = test_path("bad.json");
    test_write_file(path, "{\"c4\": {\"min_sentence\": 3}}");
    CHECK(data_config_load(&c, path, &e) != 0);
    CHECK_CONTAINS(e.msg, "unknown key 'c4.min_sentence'");
    data_config_free(&c);
    test_write_file(path, "{\"fineweb\": {\"max_short_line_ratio\": \"high\"}}");
    CHECK(data_config_load(&c, path, &e) != 0);
    CHECK_CONTAINS(e.msg, "fineweb.max_short_line_ratio': expected a number");
    data_config_free(&c);
    test_write_file(path, "{\"minhash\": {\"bands\": 99}}");
    CHECK(data_config_load(&c, path, &e) != 0);
    CHECK_CONTAINS(e.msg, "minhash.bands");
    data_config_free(&c);
    test_write_file(path, "{\"_comment\": \"ok\", \"c4\": {\"enabled\": false}}");
    CHECK(data_config_load(&c, path, &e) == 0);
    CHECK_EQ(c.c4.enabled, 0);
    CHECK_EQ(c.fineweb.enabled, 1);
    data_config_free(&c);
}
