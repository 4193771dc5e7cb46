// test_bpe_train.c: BPE training. The incremental trainer (pair index,
// lazy heap, local updates) must pick exactly the merges of a naive trainer
// that recounts every pair before each merge, with the same tie-break; it
// must not depend on the thread count; and it reads text and JSONL files.
//
//   make build/tests/tokenizer/test_bpe_train && build/tests/tokenizer/test_bpe_train
#include "tests/test.h"

#include "common/base.h"
#include "common/rng.h"
#include "tokenizer/bpe.h"

// Words over a skewed alphabet, so pair counts tie often and merges chain.
static char *make_text(size_t n_words, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    Buf b = {0};
    static const char *sep[] = {" ", " ", " ", ", ", ".\n", "  ", "!"};
    for (size_t i = 0; i < n_words; i++) {
        int len = 1 + (int)rng_below(&r, 7);
        for (int k = 0; k < len; k++) {
            uint64_t x = rng_below(&r, 100);
            buf_putc(&b, (char)('a' + (x < 40 ? x % 3 : x < 70 ? 3 + x % 4 : x < 90 ? 7 + x % 5 : 12 + x % 14)));
        }
        buf_puts(&b, sep[rng_below(&r, RS_ARRAY_LEN(sep))]);
    }
    return buf_take(&b);
}

// --- the naive reference trainer ---------------------------------------------------
// Chunks: maximal runs of [a-z], every other byte alone (the pattern below).
#define PATTERN "[a-z]+|[^a-z]"

typedef struct RefWord {
    int32_t sym[64];
    int n;
    long count;
} RefWord;

typedef struct RefTok {
    char bytes[256];
    int len;
} RefTok;

static int ref_words(const char *t, RefWord **out) {
    int n = 0, cap = 1024;
    RefWord *w = xcalloc((size_t)cap, sizeof(RefWord));
    for (size_t i = 0; t[i];) {
        size_t j = i + 1;
        if (t[i] >= 'a' && t[i] <= 'z')
            while (t[j] >= 'a' && t[j] <= 'z') j++;
        RefWord cur = {.n = (int)(j - i), .count = 1};
        for (size_t k = i; k < j; k++) cur.sym[k - i] = (uint8_t)t[k];
        int found = -1;
        for (int k = 0; k < n && found < 0; k++)
            if (w[k].n == cur.n && memcmp(w[k].sym, cur.sym, (size_t)cur.n * 4) == 0) found = k;
        if (found >= 0) w[found].count++;
        else {
            if (n == cap) cap *= 2, w = xrealloc(w, (size_t)cap * sizeof(RefWord));
            w[n++] = cur;
        }
        i = j;
    }
    *out = w;
    return n;
}

// Merges by full recount; ties to the smallest (left, right). Fills toks
// (ids 256..) and returns the number of ids.
static int ref_train(const char *text, int target, RefTok *toks) {
    RefWord *w;
    int nw = ref_words(text, &w), nid = 256;
    for (int i = 0; i < 256; i++) toks[i].bytes[0] = (char)i, toks[i].len = 1;
    long *count = xmalloc((size_t)target * (size_t)target * sizeof(long));  // [left][right], recounted per merge
    while (nid < target) {
        memset(count, 0, (size_t)target * (size_t)target * sizeof(long));
        for (int a = 0; a < nw; a++)
            for (int i = 0; i + 1 < w[a].n; i++) count[w[a].sym[i] * target + w[a].sym[i + 1]] += w[a].count;
        long best = 0;
        int bl = -1, br = -1;
        for (int l = 0; l < nid; l++)  // ascending (l, r): the first maximum is the tie-break winner
            for (int r = 0; r < nid; r++)
                if (count[l * target + r] > best) best = count[l * target + r], bl = l, br = r;
        if (best == 0) break;
        RefTok m = {.len = toks[bl].len + toks[br].len};
        memcpy(m.bytes, toks[bl].bytes, (size_t)toks[bl].len);
        memcpy(m.bytes + toks[bl].len, toks[br].bytes, (size_t)toks[br].len);
        int z = -1;
        for (int i = 0; i < nid && z < 0; i++)
            if (toks[i].len == m.len && memcmp(toks[i].bytes, m.bytes, (size_t)m.len) == 0) z = i;
        if (z < 0) toks[z = nid++] = m;
        for (int a = 0; a < nw; a++) {
            int k = 0;
            for (int i = 0; i < w[a].n;) {
                if (i + 1 < w[a].n && w[a].sym[i] == bl && w[a].sym[i + 1] == br) w[a].sym[k++] = z, i += 2;
                else w[a].sym[k++] = w[a].sym[i++];
            }
            w[a].n = k;
        }
    }
    free(count);
    free(w);
    return nid;
}

static Bpe *train(const char *text, int vocab, int threads, Err *e) {
    const char *specials[] = {"<|endoftext|>"};
    BpeTrainOpts o = {.vocab_size = vocab, .pattern = PATTERN, .specials = specials, .n_specials = 1, .threads = threads};
    BpeTrainer *t = bpe_trainer_new(&o, e);
    if (!t) return NULL;
    bpe_trainer_add(t, text, strlen(text));
    Bpe *b = bpe_trainer_finish(t, e);
    bpe_trainer_free(t);
    return b;
}

TEST(incremental_trainer_matches_naive_recount) {
    char *text = make_text(1500, 3);
    Err e;
    Bpe *b = train(text, 400, 1, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    RefTok *toks = xcalloc(400, sizeof(RefTok));
    int nref = ref_train(text, 399, toks);
    if (b) {
        CHECK_EQ(bpe_vocab_size(b), nref + 1);
        int first_diff = -1;
        for (int id = 256; id < nref && first_diff < 0; id++) {
            size_t len;
            const char *p = bpe_token_bytes(b, id, &len);
            if (!p || len != (size_t)toks[id].len || memcmp(p, toks[id].bytes, len) != 0) first_diff = id;
        }
        CHECK_MSG(first_diff < 0, "token %d differs from the naive trainer's", first_diff);
        CHECK_EQ(bpe_special_id(b, "<|endoftext|>"), nref);
    }
    free(toks);
    bpe_free(b);
    free(text);
}

static int same_tokenizer(const Bpe *a, const Bpe *b) {
    if (bpe_vocab_size(a) != bpe_vocab_size(b)) return 0;
    for (int id = 0; id < bpe_vocab_size(a); id++) {
        size_t la, lb;
        const char *pa = bpe_token_bytes(a, id, &la), *pb = bpe_token_bytes(b, id, &lb);
        if (!pa || !pb || la != lb || memcmp(pa, pb, la) != 0) return 0;
    }
    return 1;
}

TEST(training_is_deterministic_across_threads) {
    // > 1 MB, so the text is cut into blocks and counted by several threads.
    char *text = make_text(400000, 5);
    REQUIRE(strlen(text) > (1u << 21));
    Err e;
    Bpe *one = train(text, 1000, 1, &e), *two = train(text, 1000, 2, &e), *again = train(text, 1000, 2, &e);
    REQUIRE(one && two && again);
    CHECK_EQ(bpe_vocab_size(one), 1000);
    CHECK(same_tokenizer(one, two));
    CHECK(same_tokenizer(two, again));
    bpe_free(one), bpe_free(two), bpe_free(again);
    free(text);
}

TEST(trained_tokenizer_survives_save_and_load) {
    char *text = make_text(5000, 9);
    Err e;
    Bpe *b = train(text, 500, 0, &e);
    REQUIRE(b);
    const char *path = test_path("trained.json");
    CHECK_MSG(bpe_save(b, path, &e) == 0, "%s", e.msg);
    Bpe *c = bpe_load(path, &e);
    CHECK_MSG(c != NULL, "%s", e.msg);
    if (c) {
        CHECK(same_tokenizer(b, c));
        BpeIds x = {0}, y = {0};
        bpe_encode(b, text, strlen(text), BPE_SPECIAL_ALL, &x);
        bpe_encode(c, text, strlen(text), BPE_SPECIAL_ALL, &y);
        CHECK(x.len == y.len && memcmp(x.data, y.data, x.len * 4) == 0);
        CHECK(x.len * 4 < strlen(text) * 3);  // it compresses
        bpe_ids_free(&x), bpe_ids_free(&y);
    }
    bpe_free(c);
    bpe_free(b);
    free(text);
}

TEST(trainer_reads_text_and_jsonl_files) {
    char *text = make_text(3000, 11);
    char txt[512], jsonl[512];
    snprintf(txt, sizeof txt, "%s/corpus.txt", test_tmpdir());
    snprintf(jsonl, sizeof jsonl, "%s/corpus.jsonl", test_tmpdir());
    test_write_file(txt, text);
    // The same text as JSONL documents, one per line of the original.
    FILE *f = fopen(jsonl, "w");
    REQUIRE(f);
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        fputs("{\"text\": \"", f);
        for (size_t i = 0; i < n; i++) p[i] == '\n' ? fputs("\\n", f) : fputc(p[i], f);
        fputs("\", \"id\": 1}\n", f);
        p += n;
    }
    fclose(f);
    Err e;
    BpeTrainOpts o = {.vocab_size = 400, .pattern = PATTERN};
    BpeTrainer *a = bpe_trainer_new(&o, &e), *b = bpe_trainer_new(&o, &e);
    REQUIRE(a && b);
    CHECK_MSG(bpe_trainer_add_file(a, txt, &e) == 0, "%s", e.msg);
    CHECK_MSG(bpe_trainer_add_file(b, jsonl, &e) == 0, "%s", e.msg);
    CHECK_EQ(bpe_trainer_bytes(a), strlen(text));
    CHECK_EQ(bpe_trainer_bytes(b), strlen(text));
    // Same chunks either way (documents split at line ends, as the pattern does).
    CHECK_EQ(bpe_trainer_unique_chunks(a), bpe_trainer_unique_chunks(b));
    Bpe *ta = bpe_trainer_finish(a, &e), *tb = bpe_trainer_finish(b, &e);
    REQUIRE(ta && tb);
    CHECK(same_tokenizer(ta, tb));
    bpe_free(ta), bpe_free(tb);
    bpe_trainer_free(a), bpe_trainer_free(b);
    free(text);
}

TEST(trainer_errors) {
    Err e;
    BpeTrainOpts small = {.vocab_size = 200};
    CHECK(bpe_trainer_new(&small, &e) == NULL);
    CHECK_CONTAINS(e.msg, "vocab size 200");
    BpeTrainOpts badpat = {.vocab_size = 300, .pattern = "(?<bad"};
    CHECK(bpe_trainer_new(&badpat, &e) == NULL);
    CHECK_CONTAINS(e.msg, "--pattern");
    const char *dup[] = {"<a>", "<a>"};
    BpeTrainOpts dups = {.vocab_size = 300, .specials = dup, .n_specials = 2};
    CHECK(bpe_trainer_new(&dups, &e) == NULL);
    CHECK_CONTAINS(e.msg, "listed twice");
    BpeTrainOpts ok = {.vocab_size = 300};
    BpeTrainer *t = bpe_trainer_new(&ok, &e);
    REQUIRE(t);
    CHECK(bpe_trainer_finish(t, &e) == NULL);
    CHECK_CONTAINS(e.msg, "no text");
    const char *path = test_path("bad.jsonl");
    test_write_file(path, "{\"text\": \"fine\"}\n{\"text\": 5}\n");
    CHECK_EQ(bpe_trainer_add_file(t, path, &e), -1);
    CHECK_CONTAINS(e.msg, "bad.jsonl:2: field 'text'");
    test_write_file(path, "{\"text\": \"fine\"}\n{not json\n");
    CHECK_EQ(bpe_trainer_add_file(t, path, &e), -1);
    CHECK_CONTAINS(e.msg, "bad.jsonl:2");
    CHECK_EQ(bpe_trainer_add_file(t, "/nonexistent/corpus.txt", &e), -1);
    CHECK_CONTAINS(e.msg, "/nonexistent/corpus.txt");
    bpe_trainer_free(t);
}

TEST(training_stops_when_pairs_run_out) {
    Err e;
    Bpe *b = train("ab ab ab", 1000, 1, &e);
    REQUIRE(b);
    // Only "ab" can be merged: 256 bytes + 1 merge + 1 special.
    CHECK_EQ(bpe_vocab_size(b), 258);
    bpe_free(b);
}
