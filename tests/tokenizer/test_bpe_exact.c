// test_bpe_exact.c: ids equal Python tiktoken's for cl100k_base, o200k_base
// and gpt2 on the committed golden fixture (tests/fixtures/tokenizer/
// tiktoken_golden.json, written by scripts/tokenizer_fixture.py), with
// decode and streaming decode of every case giving the text back.
//
// The rank files are large (up to 3.6 MB) and are not committed: they are
// read from $REASONER_TIKTOKEN_DIR, else ../shared/datasets/tokenizers.
// When neither has them, these checks print SKIP and pass (the rest of the
// tokenizer suite needs no outside files).
//
//   make build/tests/tokenizer/test_bpe_exact && build/tests/tokenizer/test_bpe_exact
#include "common/utf8.h"
#include "tests/test.h"

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "tokenizer/bpe.h"

#define GOLDEN_FORMAT "reasoner-tokenizer-golden"
#define GOLDEN_VERSION 1

static char *find_rank_file(const char *name) {
    const char *dirs[3] = {getenv("REASONER_TIKTOKEN_DIR"), "../shared/datasets/tokenizers", NULL};
    char root_dir[512];
    if (getenv("REASONER_ROOT")) {
        snprintf(root_dir, sizeof root_dir, "%s/../shared/datasets/tokenizers", getenv("REASONER_ROOT"));
        dirs[2] = root_dir;
    }
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s.tiktoken", dirs[i], name);
        if (fs_exists(p)) return xstrdup(p);
    }
    return NULL;
}

static cJSON *golden(void) {
    static cJSON *doc;
    if (doc) return doc;
    Err e;
    doc = json_read_file("tests/fixtures/tokenizer/tiktoken_golden.json", &e);
    if (!doc) {
        fprintf(stderr, "    %s\n", e.msg);
        return NULL;
    }
    if (strcmp(json_opt_str(doc, "format", ""), GOLDEN_FORMAT) != 0 || json_opt_int(doc, "version", 0) != GOLDEN_VERSION) {
        fprintf(stderr, "    golden fixture: wrong format/version; regenerate with python3 scripts/tokenizer_fixture.py\n");
        cJSON_Delete(doc);
        doc = NULL;
    }
    return doc;
}

static const cJSON *cases_of(const char *name) {
    cJSON *doc = golden();
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "encodings"), name);
    return cJSON_GetObjectItemCaseSensitive(enc, "cases");
}

// Compare every case; on a mismatch print the text and the first differing id.
static void check_encoding(const char *name, Bpe *b) {
    const cJSON *cases = cases_of(name);
    REQUIRE(cJSON_GetArraySize(cases) > 50);
    int i = 0, bad = 0;
    for (const cJSON *c = cases->child; c; c = c->next, i++) {
        const char *text = json_opt_str(c, "text", NULL);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        int all = strcmp(json_opt_str(c, "allowed_special", ""), "all") == 0;
        BpeIds got = {0};
        bpe_encode(b, text, strlen(text), all ? BPE_SPECIAL_ALL : BPE_SPECIAL_NONE, &got);
        int n = cJSON_GetArraySize(want), k = 0;
        while (k < n && (size_t)k < got.len && got.data[k] == (int32_t)cJSON_GetArrayItem(want, k)->valuedouble) k++;
        if (k != n || got.len != (size_t)n) {
            if (bad++ < 5)
                CHECK_MSG(0, "%s case %d: %zu ids, want %d; first difference at %d (got %d, want %d); text: %.80s", name,
                          i, got.len, n, k, (size_t)k < got.len ? got.data[k] : -1,
                          k < n ? (int)cJSON_GetArrayItem(want, k)->valuedouble : -1, text);
        }
        Buf back = {0}, piece = {0}, streamed = {0};
        Err e;
        CHECK(bpe_decode(b, got.data, got.len, &back, &e) == 0);
        CHECK_MSG(back.len == strlen(text) && memcmp(back.data ? back.data : "", text, back.len) == 0,
                  "%s case %d: decode(encode(x)) != x", name, i);
        // Streaming: every piece is whole characters (the texts are valid UTF-8).
        BpeStream st;
        bpe_stream_init(&st, b);
        for (size_t k = 0; k < got.len; k++) {
            buf_clear(&piece);
            bpe_stream_feed(&st, got.data[k], &piece, &e);
            CHECK_MSG(utf8_valid(piece.data, piece.len), "%s case %d: stream piece %zu is not whole UTF-8", name, i, k);
            buf_append(&streamed, piece.data ? piece.data : "", piece.len);
        }
        CHECK_EQ(bpe_stream_finish(&st, &streamed), 0);
        CHECK(streamed.len == back.len && memcmp(streamed.data ? streamed.data : "", back.data ? back.data : "", back.len) == 0);
        buf_free(&back), buf_free(&piece), buf_free(&streamed);
        bpe_ids_free(&got);
    }
    CHECK_EQ(bad, 0);
}

static void run_encoding(const char *name, int32_t vocab) {
    REQUIRE(golden() != NULL);
    char *path = find_rank_file(name);
    if (!path) {
        printf("SKIP %s: %s.tiktoken not found in $REASONER_TIKTOKEN_DIR or ../shared/datasets/tokenizers\n", name, name);
        return;
    }
    Err e;
    Bpe *b = bpe_load(path, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    free(path);
    if (!b) return;
    CHECK_EQ(bpe_vocab_size(b), vocab);
    check_encoding(name, b);
    bpe_free(b);
}

TEST(cl100k_matches_tiktoken) { run_encoding("cl100k_base", 100277); }
TEST(o200k_matches_tiktoken) { run_encoding("o200k_base", 200019); }
TEST(gpt2_matches_tiktoken) { run_encoding("gpt2", 50257); }

// A tiktoken vocabulary saved as tokenizer.json and loaded back encodes the
// golden texts the same way (merges derived from ranks, ignore_merges).
TEST(cl100k_survives_tokenizer_json) {
    REQUIRE(golden() != NULL);
    char *path = find_rank_file("cl100k_base");
    if (!path) {
        printf("SKIP cl100k_base.tiktoken not found\n");
        return;
    }
    Err e;
    Bpe *b = bpe_load(path, &e);
    free(path);
    REQUIRE(b != NULL);
    CHECK_MSG(bpe_save(b, test_path("cl100k.json"), &e) == 0, "%s", e.msg);
    Bpe *c = bpe_load(test_path("cl100k.json"), &e);
    CHECK_MSG(c != NULL, "%s", e.msg);
    if (c) {
        CHECK_EQ(bpe_vocab_size(c), bpe_vocab_size(b));
        CHECK_EQ(bpe_special_id(c, "<|endoftext|>"), 100257);
        check_encoding("cl100k_base", c);
    }
    bpe_free(b);
    bpe_free(c);
}
