// test_bpe.c: the tokenizer core on tokenizers built at test time (no
// outside files): round trips on arbitrary bytes, special tokens, streaming
// decode, batch encode, bad ids, the tiktoken rank-file loader and its
// errors, NFC.
//
//   make build/tests/tokenizer/test_bpe && build/tests/tokenizer/test_bpe
#include "common/utf8.h"
#include "tests/test.h"

#include "common/base.h"
#include "common/rng.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_impl.h"

// A corpus with prose, code, numbers, CJK and emoji, deterministic.
static char *make_corpus(size_t n_words, uint64_t seed) {
    static const char *words[] = {"the", "model", " reasons", "about", "numbers", "42", "1234567", "it's", "they'll",
                                  "中文", "文本", "日本語", "😀", "👨‍👩‍👧", "café", "e\xcc\x81", "x = f(y);", "\n",
                                  "\r\n", "  ", "\t", "return", "<|endoftext|>", "def", "(", ")", "."};
    Rng r;
    rng_seed(&r, seed);
    Buf b = {0};
    for (size_t i = 0; i < n_words; i++) {
        buf_puts(&b, words[rng_below(&r, RS_ARRAY_LEN(words))]);
        if (rng_below(&r, 3)) buf_putc(&b, ' ');
    }
    return buf_take(&b);
}

static Bpe *train_small(int vocab, Err *e) {
    char *text = make_corpus(20000, 1);
    BpeTrainOpts o = {.vocab_size = vocab};
    BpeTrainer *t = bpe_trainer_new(&o, e);
    if (!t) return NULL;
    bpe_trainer_add(t, text, strlen(text));
    free(text);
    Bpe *b = bpe_trainer_finish(t, e);
    bpe_trainer_free(t);
    return b;
}

static Bpe *tok(void) {
    static Bpe *b;
    if (!b) {
        Err e;
        b = train_small(600, &e);
        if (!b) fprintf(stderr, "    train: %s\n", e.msg);
    }
    return b;
}

static int roundtrip(const Bpe *b, const char *s, size_t n, BpeSpecialMode mode) {
    BpeIds ids = {0};
    bpe_encode(b, s, n, mode, &ids);
    Buf out = {0};
    Err e;
    int ok = bpe_decode(b, ids.data, ids.len, &out, &e) == 0 && out.len == n && (n == 0 || memcmp(out.data, s, n) == 0);
    buf_free(&out);
    bpe_ids_free(&ids);
    return ok;
}

TEST(trained_vocab_has_bytes_merges_and_specials) {
    Bpe *b = tok();
    REQUIRE(b);
    CHECK_EQ(bpe_vocab_size(b), 600);
    CHECK_EQ(bpe_n_special(b), 5);
    CHECK_EQ(bpe_special_id(b, "<|endoftext|>"), 595);
    CHECK_EQ(bpe_special_id(b, "<|im_start|>"), 596);
    CHECK_EQ(bpe_special_id(b, "<|im_end|>"), 597);
    CHECK_EQ(bpe_special_id(b, "<tool_call>"), 598);
    CHECK_EQ(bpe_special_id(b, "</tool_call>"), 599);
    CHECK_EQ(bpe_special_id(b, "<|nope|>"), -1);
    CHECK(bpe_is_special(b, 597) && !bpe_is_special(b, 300));
    size_t len;
    const char *p = bpe_token_bytes(b, 'A', &len);
    CHECK(p && len == 1 && p[0] == 'A');
    CHECK(bpe_token_bytes(b, 600, &len) == NULL);
    CHECK(bpe_token_bytes(b, -1, &len) == NULL);
}

TEST(common_words_become_single_tokens) {
    Bpe *b = tok();
    REQUIRE(b);
    BpeIds ids = {0};
    bpe_encode(b, " model", 6, BPE_SPECIAL_NONE, &ids);
    CHECK_EQ(ids.len, 1);
    ids.len = 0;
    bpe_encode(b, "the model", 9, BPE_SPECIAL_NONE, &ids);
    CHECK_EQ(ids.len, 2);
    bpe_ids_free(&ids);
}

TEST(roundtrip_random_bytes_including_invalid_utf8) {
    Bpe *b = tok();
    REQUIRE(b);
    Rng r;
    rng_seed(&r, 7);
    char buf[600];
    int bad = 0;
    for (int i = 0; i < 1500; i++) {
        size_t n = rng_below(&r, sizeof buf);
        int kind = i % 3;  // raw bytes; bytes from a small alphabet (long runs); mostly-valid text
        for (size_t k = 0; k < n; k++) {
            if (kind == 0) buf[k] = (char)rng_below(&r, 256);
            else if (kind == 1) buf[k] = " \n\t9a\xe4\xb8\xad\x80\xff"[rng_below(&r, 11)];
            else buf[k] = rng_below(&r, 20) ? "ab cd\n'sx1"[rng_below(&r, 10)] : (char)(0x80 + rng_below(&r, 128));
        }
        bad += !roundtrip(b, buf, n, i % 2 ? BPE_SPECIAL_ALL : BPE_SPECIAL_NONE);
    }
    CHECK_EQ(bad, 0);
    CHECK(roundtrip(b, "", 0, BPE_SPECIAL_NONE));
    CHECK(roundtrip(b, "a\0b\0\0c", 6, BPE_SPECIAL_NONE));
}

TEST(long_runs_take_the_heap_path_and_roundtrip) {
    Bpe *b = tok();
    REQUIRE(b);
    size_t n = 20000;
    char *s = xmalloc(n);
    const char *fill = "  \n9\xff";
    for (int f = 0; fill[f]; f++) {
        memset(s, fill[f], n);
        CHECK_MSG(roundtrip(b, s, n, BPE_SPECIAL_NONE), "run of 0x%02x", (uint8_t)fill[f]);
    }
    // A run of spaces encodes to the same ids in one call as the merge
    // table says for shorter runs: the longest space token repeated.
    BpeIds ids = {0};
    memset(s, ' ', n);
    bpe_encode(b, s, 200, BPE_SPECIAL_NONE, &ids);
    CHECK(ids.len < 200);
    bpe_ids_free(&ids);
    free(s);
}

TEST(specials_only_when_allowed) {
    Bpe *b = tok();
    REQUIRE(b);
    const char *s = "hi<|im_start|>user<|endoftext|>";
    BpeIds none = {0}, all = {0}, some = {0};
    bpe_encode(b, s, strlen(s), BPE_SPECIAL_NONE, &none);
    bpe_encode(b, s, strlen(s), BPE_SPECIAL_ALL, &all);
    const char *allowed[] = {"<|endoftext|>"};
    bpe_encode_allowed(b, s, strlen(s), allowed, 1, &some);
    int has_none = 0, has_all_start = 0, has_all_end = 0, some_start = 0, some_end = 0;
    for (size_t i = 0; i < none.len; i++) has_none |= bpe_is_special(b, none.data[i]);
    for (size_t i = 0; i < all.len; i++) has_all_start |= all.data[i] == 596, has_all_end |= all.data[i] == 595;
    for (size_t i = 0; i < some.len; i++) some_start |= some.data[i] == 596, some_end |= some.data[i] == 595;
    CHECK(!has_none);
    CHECK(has_all_start && has_all_end);
    CHECK(!some_start && some_end);
    CHECK_EQ(all.data[all.len - 1], 595);
    CHECK(roundtrip(b, s, strlen(s), BPE_SPECIAL_ALL));
    CHECK(roundtrip(b, s, strlen(s), BPE_SPECIAL_NONE));
    bpe_ids_free(&none), bpe_ids_free(&all), bpe_ids_free(&some);
}

TEST(decode_rejects_bad_ids) {
    Bpe *b = tok();
    REQUIRE(b);
    int32_t ids[] = {'a', 'b', 600, 'c'};
    Buf out = {0};
    Err e;
    CHECK_EQ(bpe_decode(b, ids, 4, &out, &e), -1);
    CHECK_CONTAINS(e.msg, "600 out of range");
    CHECK_EQ(out.len, 2);
    int32_t neg = -5;
    CHECK_EQ(bpe_decode(b, &neg, 1, &out, &e), -1);
    BpeStream st;
    bpe_stream_init(&st, b);
    CHECK_EQ(bpe_stream_feed(&st, 1 << 30, &out, &e), -1);
    buf_free(&out);
}

TEST(stream_decode_yields_whole_characters) {
    Bpe *b = tok();
    REQUIRE(b);
    // Byte-level tokens split multi-byte characters: CJK and emoji with ZWJ.
    const char *texts[] = {"中文文本 😀 👨‍👩‍👧 café e\xcc\x81 日本語 🎉 ж ק ℵ 漢字", "plain ascii", "\xe4\xb8", "a\xff\xfe b \xe4\xb8\xad"};
    for (size_t t = 0; t < RS_ARRAY_LEN(texts); t++) {
        const char *s = texts[t];
        BpeIds ids = {0};
        bpe_encode(b, s, strlen(s), BPE_SPECIAL_NONE, &ids);
        BpeStream st;
        bpe_stream_init(&st, b);
        Buf all = {0}, piece = {0};
        Err e;
        int split_chars = 0;
        for (size_t i = 0; i < ids.len; i++) {
            buf_clear(&piece);
            size_t len;
            bpe_token_bytes(b, ids.data[i], &len);
            CHECK(bpe_stream_feed(&st, ids.data[i], &piece, &e) >= 0);
            if (t < 2) CHECK_MSG(utf8_valid(piece.data, piece.len), "text %zu id %zu: partial character", t, i);
            split_chars += (int)piece.len != (int)len;
            buf_append(&all, piece.data ? piece.data : "", piece.len);
        }
        bpe_stream_finish(&st, &all);
        CHECK_EQ(all.len, strlen(s));
        CHECK(all.len == 0 || memcmp(all.data, s, all.len) == 0);
        if (t == 0) CHECK(split_chars > 0);  // the stream did hold bytes back
        buf_free(&all), buf_free(&piece);
        bpe_ids_free(&ids);
    }
}

TEST(batch_encode_equals_one_by_one) {
    Bpe *b = tok();
    REQUIRE(b);
    enum { N = 64 };
    char *docs[N];
    size_t lens[N];
    BpeIds outs[N] = {{0}};
    for (int i = 0; i < N; i++) docs[i] = make_corpus(50 + (size_t)i * 7, (uint64_t)i + 100), lens[i] = strlen(docs[i]);
    bpe_encode_batch(b, (const char *const *)docs, lens, N, BPE_SPECIAL_ALL, 2, outs);
    BpeEncoder *en = bpe_encoder_new(b);
    int same = 0;
    for (int i = 0; i < N; i++) {
        BpeIds one = {0}, cached = {0};
        bpe_encode(b, docs[i], lens[i], BPE_SPECIAL_ALL, &one);
        bpe_encoder_encode(en, docs[i], lens[i], BPE_SPECIAL_ALL, &cached);
        same += one.len == outs[i].len && memcmp(one.data, outs[i].data, one.len * 4) == 0 && one.len == cached.len &&
                memcmp(one.data, cached.data, one.len * 4) == 0;
        bpe_ids_free(&one), bpe_ids_free(&cached), bpe_ids_free(&outs[i]);
        free(docs[i]);
    }
    bpe_encoder_free(en);
    CHECK_EQ(same, N);
}

TEST(add_special_appends_an_id) {
    Err e;
    Bpe *b = train_small(400, &e);
    REQUIRE(b);
    CHECK_EQ(bpe_add_special(b, "<|im_end|>"), 397);  // already there
    CHECK_EQ(bpe_add_special(b, "<think>"), 400);
    CHECK_EQ(bpe_vocab_size(b), 401);
    BpeIds ids = {0};
    bpe_encode(b, "a<think>b", 9, BPE_SPECIAL_ALL, &ids);
    CHECK_EQ(ids.len, 3);
    CHECK_EQ(ids.data[1], 400);
    bpe_ids_free(&ids);
    bpe_free(b);
}

// --- tiktoken rank files ------------------------------------------------------

// The 256 single bytes plus "ab" (rank 256) and "abc" (rank 257), in base64.
static char *rank_file(const char *extra) {
    Buf b = {0};
    static const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 256; i++) {
        uint32_t v = (uint32_t)i << 16;
        buf_printf(&b, "%c%c==%s %d\n", b64[v >> 18 & 63], b64[v >> 12 & 63], "", i);
    }
    buf_puts(&b, "YWI= 256\nYWJj 257\n");
    if (extra) buf_puts(&b, extra);
    return buf_take(&b);
}

TEST(tiktoken_loader_merges_by_rank) {
    char *data = rank_file(NULL);
    Err e;
    const char *sp[] = {"<|eot|>"};
    int32_t spid[] = {300};
    Bpe *b = bpe_from_tiktoken(data, strlen(data), "mini.tiktoken", NULL, sp, spid, 1, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    free(data);
    REQUIRE(b);
    CHECK_EQ(bpe_vocab_size(b), 301);
    BpeIds ids = {0};
    bpe_encode(b, "abcab<|eot|>", 12, BPE_SPECIAL_ALL, &ids);
    REQUIRE(ids.len == 3);
    CHECK_EQ(ids.data[0], 257);
    CHECK_EQ(ids.data[1], 256);
    CHECK_EQ(ids.data[2], 300);
    Buf out = {0};
    int32_t hole = 280;
    CHECK_EQ(bpe_decode(b, &hole, 1, &out, &e), -1);
    CHECK_CONTAINS(e.msg, "not used");
    buf_free(&out);
    bpe_ids_free(&ids);
    bpe_free(b);
}

// Ties go to the leftmost pair, on the short-chunk path and on the heap
// path for long chunks alike: "aaa" is (aa)(a), never (a)(aa).
TEST(merge_ties_go_leftmost_on_both_paths) {
    char *data = rank_file("YWE= 258\n");
    Err e;
    Bpe *b = bpe_from_tiktoken(data, strlen(data), "aa.tiktoken", NULL, NULL, NULL, 0, &e);
    free(data);
    REQUIRE(b);
    for (size_t n = 3; n <= 301; n += 2) {  // odd runs; > 48 bytes takes the heap path
        char s[301];
        memset(s, 'a', n);
        BpeIds ids = {0};
        bpe_encode(b, s, n, BPE_SPECIAL_NONE, &ids);
        int ok = ids.len == n / 2 + 1 && ids.data[0] == 258 && ids.data[ids.len - 1] == 'a';
        CHECK_MSG(ok, "run of %zu: %zu ids, first %d, last %d", n, ids.len, ids.data[0], ids.data[ids.len - 1]);
        bpe_ids_free(&ids);
    }
    bpe_free(b);
}

static void expect_rank_error(const char *text, const char *needle) {
    Err e = {{0}};
    Bpe *b = bpe_from_tiktoken(text, strlen(text), "bad.tiktoken", NULL, NULL, NULL, 0, &e);
    CHECK_MSG(b == NULL, "accepted: %.40s", text);
    CHECK_CONTAINS(e.msg, needle);
    bpe_free(b);
}

TEST(tiktoken_loader_rejects_bad_files) {
    char *good = rank_file(NULL);
    expect_rank_error("", "no tokens");
    char *t = rank_file("YWJjZA== x\n");
    expect_rank_error(t, "bad.tiktoken:259: rank: expected an integer");
    free(t);
    t = rank_file("YW!= 300\n");
    expect_rank_error(t, "bad.tiktoken:259: token: invalid base64");
    free(t);
    t = rank_file("YWJjZA==\n");
    expect_rank_error(t, "bad.tiktoken:259: expected 'base64 rank'");
    free(t);
    t = rank_file("YWJjZA== 256\n");
    expect_rank_error(t, "bad.tiktoken:259: rank: 256 appears twice");
    free(t);
    t = rank_file("YWJjZA== 99999999999\n");
    expect_rank_error(t, "bad.tiktoken:259: rank:");
    free(t);
    // Without its line for byte 'A' (0x41, line 66) a file cannot encode every byte.
    char *nl = good;
    for (int i = 0; i < 65; i++) nl = strchr(nl, '\n') + 1;
    memmove(nl, strchr(nl, '\n') + 1, strlen(strchr(nl, '\n') + 1) + 1);
    expect_rank_error(good, "no token for the single byte 0x41");
    free(good);
    Err e;
    CHECK(bpe_load("/nonexistent/x.tiktoken", &e) == NULL);
    CHECK_CONTAINS(e.msg, "/nonexistent/x.tiktoken");
}

TEST(load_tiktoken_with_meta_file) {
    char *data = rank_file(NULL);
    char path[512], meta[512];
    snprintf(path, sizeof path, "%s/mini.tiktoken", test_tmpdir());
    snprintf(meta, sizeof meta, "%s/mini.meta.json", test_tmpdir());
    test_write_file(path, data);
    test_write_file(meta, "{\"pat_str\": \"[a-z]+|[^a-z]+\", \"special_tokens\": {\"<|x|>\": 258}}");
    Err e;
    Bpe *b = bpe_load(path, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    if (b) {
        CHECK_STR_EQ(bpe_pattern(b), "[a-z]+|[^a-z]+");
        CHECK_EQ(bpe_special_id(b, "<|x|>"), 258);
        bpe_free(b);
    }
    test_write_file(meta, "{\"pat_str\": \"(unclosed\"}");
    CHECK(bpe_load(path, &e) == NULL);
    CHECK_CONTAINS(e.msg, "pattern");
    test_write_file(meta, "{\"special_tokens\": {}}");
    CHECK(bpe_load(path, &e) == NULL);
    CHECK_CONTAINS(e.msg, "pat_str");
    free(data);
}

// --- NFC ------------------------------------------------------------------------

static void check_nfc(const char *in, const char *want) {
    Buf out = {0};
    bpe_nfc(in, strlen(in), &out);
    CHECK_MSG(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0, "NFC(%s) = %s, want %s", in,
              out.data ? out.data : "", want);
    buf_free(&out);
}

TEST(nfc_composes_and_orders) {
    check_nfc("e\xcc\x81", "\xc3\xa9");                                    // e + acute -> é
    check_nfc("A\xcc\x8a", "\xc3\x85");                                    // A + ring -> Å
    check_nfc("\xe2\x84\xab", "\xc3\x85");                                 // Angstrom sign -> Å
    check_nfc("\xe2\x84\xa6", "\xce\xa9");                                 // Ohm -> Omega
    check_nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81");     // Hangul L V T -> 각
    check_nfc("\xea\xb0\x80\xe1\x86\xa8", "\xea\xb0\x81");                 // LV + T
    check_nfc("a\xcc\x80\xcc\xa3", "\xe1\xba\xa1\xcc\x80");                // reordered: dot below first
    check_nfc("q\xcc\x87\xcc\xa3", "q\xcc\xa3\xcc\x87");                   // no composite: just reordered
    check_nfc("\xe1\xba\x9b\xcc\xa3", "\xe1\xba\x9b\xcc\xa3");             // long s with dot: stays
    check_nfc("e\xcc\x81\xcc\x81", "\xc3\xa9\xcc\x81");                    // second acute is blocked
    check_nfc("plain ascii", "plain ascii");
    check_nfc("bad \xff e\xcc\x81 \xe4\xb8", "bad \xff \xc3\xa9 \xe4\xb8");  // invalid bytes pass through
    CHECK(bpe_nfc_quick("plain \xe4\xb8\xad", 9));
    CHECK(!bpe_nfc_quick("e\xcc\x81", 3));
}
