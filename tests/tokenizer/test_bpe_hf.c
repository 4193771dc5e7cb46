// test_bpe_hf.c: Hugging Face tokenizer.json load and save.
// Loads three small tokenizer.json files that `tokenizers` itself wrote in
// the shapes of GPT-2, Llama 3 and Qwen2.5 (tests/fixtures/tokenizer/hf_*.json)
// and compares ids with what `tokenizers` gave (hf_golden.json; both written
// by scripts/tokenizer_fixture.py). Then: save -> load keeps every id, and
// corrupt files give one-line errors naming the field.
//
//   make build/tests/tokenizer/test_bpe_hf && build/tests/tokenizer/test_bpe_hf
#include "tests/test.h"

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "tokenizer/bpe.h"

#define FIX "tests/fixtures/tokenizer/"

static const cJSON *golden_shape(const char *shape) {
    static cJSON *doc;
    Err e;
    if (!doc && !(doc = json_read_file(FIX "hf_golden.json", &e))) {
        fprintf(stderr, "    %s\n", e.msg);
        return NULL;
    }
    if (strcmp(json_opt_str(doc, "format", ""), "reasoner-tokenizer-hf-golden") || json_opt_int(doc, "version", 0) != 1) {
        fprintf(stderr, "    hf_golden.json: wrong format/version; regenerate: python3 scripts/tokenizer_fixture.py\n");
        return NULL;
    }
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "tokenizers"), shape);
}

// Ids of every golden case under b equal the fixture's; returns mismatches.
static int compare_cases(const Bpe *b, const cJSON *shape, int check_roundtrip) {
    int bad = 0, i = 0;
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(shape, "cases")->child; c; c = c->next, i++) {
        const char *text = json_opt_str(c, "text", "");
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "ids");
        BpeIds got = {0};
        bpe_encode(b, text, strlen(text), BPE_SPECIAL_ALL, &got);
        int same = got.len == (size_t)cJSON_GetArraySize(want);
        for (size_t k = 0; same && k < got.len; k++) same = got.data[k] == (int32_t)cJSON_GetArrayItem(want, (int)k)->valuedouble;
        if (!same && bad++ < 3) CHECK_MSG(0, "case %d: ids differ from tokenizers'; text: %.60s", i, text);
        if (check_roundtrip) {
            Buf out = {0};
            Err e;
            CHECK(bpe_decode(b, got.data, got.len, &out, &e) == 0);
            CHECK_MSG(out.len == strlen(text) && memcmp(out.data ? out.data : "", text, out.len) == 0, "case %d: round trip", i);
            buf_free(&out);
        }
        bpe_ids_free(&got);
    }
    return bad;
}

static void check_shape(const char *shape_name, int roundtrip) {
    const cJSON *shape = golden_shape(shape_name);
    REQUIRE(shape);
    char path[256];
    snprintf(path, sizeof path, FIX "%s", json_opt_str(shape, "file", ""));
    Err e;
    Bpe *b = bpe_load(path, &e);
    CHECK_MSG(b != NULL, "%s", e.msg);
    if (!b) return;
    CHECK_EQ(bpe_vocab_size(b), json_opt_int(shape, "vocab_size", -1));
    CHECK_EQ(compare_cases(b, shape, roundtrip), 0);
    // Save and load back: same ids.
    char out[256];
    snprintf(out, sizeof out, "%s/%s.json", test_tmpdir(), shape_name);
    CHECK_MSG(bpe_save(b, out, &e) == 0, "%s", e.msg);
    Bpe *c = bpe_load(out, &e);
    CHECK_MSG(c != NULL, "%s", e.msg);
    if (c) {
        CHECK_EQ(bpe_vocab_size(c), bpe_vocab_size(b));
        CHECK_EQ(compare_cases(c, shape, roundtrip), 0);
    }
    bpe_free(c);
    bpe_free(b);
}

TEST(gpt2_shape_matches_tokenizers) { check_shape("gpt2_style", 1); }
TEST(llama3_shape_matches_tokenizers) { check_shape("llama3_style", 1); }
// NFC changes text, so decode(encode(x)) is NFC(x) there: no round trip check.
TEST(qwen2_shape_with_nfc_matches_tokenizers) { check_shape("qwen2_style", 0); }

TEST(qwen2_shape_has_chat_tokens) {
    Err e;
    Bpe *b = bpe_load(FIX "hf_qwen2_style.json", &e);
    REQUIRE(b);
    CHECK(bpe_special_id(b, "<|im_start|>") >= 0);
    CHECK(bpe_special_id(b, "<tool_call>") >= 0);  // a non-special added token: still matched when allowed
    BpeIds ids = {0};
    bpe_encode(b, "e\xcc\x81", 3, BPE_SPECIAL_NONE, &ids);  // NFC: same ids as the composed é
    BpeIds composed = {0};
    bpe_encode(b, "\xc3\xa9", 2, BPE_SPECIAL_NONE, &composed);
    CHECK(ids.len == composed.len && memcmp(ids.data, composed.data, ids.len * 4) == 0);
    bpe_ids_free(&ids), bpe_ids_free(&composed);
    bpe_free(b);
}

TEST(directory_path_loads_its_tokenizer_json) {
    Err e;
    Bpe *b = bpe_load(FIX "hf_gpt2_style.json", &e);
    REQUIRE(b);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/ckpt", test_tmpdir());
    REQUIRE(fs_mkdir_p(dir, &e) == 0);
    CHECK_MSG(bpe_save(b, dir, &e) == 0, "%s", e.msg);  // a directory: writes dir/tokenizer.json
    Bpe *c = bpe_load(dir, &e);
    CHECK_MSG(c != NULL, "%s", e.msg);
    if (c) CHECK_EQ(bpe_vocab_size(c), bpe_vocab_size(b));
    bpe_free(c);
    bpe_free(b);
    snprintf(dir, sizeof dir, "%s/empty", test_tmpdir());
    REQUIRE(fs_mkdir_p(dir, &e) == 0);
    CHECK(bpe_load(dir, &e) == NULL);
    CHECK_CONTAINS(e.msg, "no tokenizer.json");
}

// --- corrupt files ----------------------------------------------------------------

// Take the GPT-2-shaped fixture, apply `edit` to the JSON tree, parse it.
static void expect_json_error(void (*edit)(cJSON *), const char *needle) {
    Err e;
    cJSON *j = json_read_file(FIX "hf_gpt2_style.json", &e);
    REQUIRE(j);
    edit(j);
    char *text = cJSON_PrintUnformatted(j);
    Bpe *b = bpe_from_hf_json(text, strlen(text), "bad.json", &e);
    CHECK_MSG(b == NULL, "accepted a file that should fail with '%s'", needle);
    if (!b) CHECK_CONTAINS(e.msg, needle);
    CHECK(strchr(e.msg, '\n') == NULL);
    bpe_free(b);
    free(text);
    cJSON_Delete(j);
}

static cJSON *model(cJSON *j) { return cJSON_GetObjectItemCaseSensitive(j, "model"); }
static void no_model(cJSON *j) { cJSON_DeleteItemFromObject(j, "model"); }
static void wordpiece(cJSON *j) { cJSON_ReplaceItemInObject(model(j), "type", cJSON_CreateString("WordPiece")); }
static void bad_merge(cJSON *j) {
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(model(j), "merges"), 5, cJSON_CreateString("nosuch token"));
}
static void merge_no_space(cJSON *j) {
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(model(j), "merges"), 2, cJSON_CreateString("abc"));
}
static void vocab_not_object(cJSON *j) { cJSON_ReplaceItemInObject(model(j), "vocab", cJSON_CreateArray()); }
static void vocab_negative(cJSON *j) { cJSON_AddNumberToObject(cJSON_GetObjectItem(model(j), "vocab"), "zz", -3); }
static void vocab_not_bytelevel(cJSON *j) { cJSON_AddNumberToObject(cJSON_GetObjectItem(model(j), "vocab"), "a b", 5000); }
static void prefix_space(cJSON *j) {
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "pre_tokenizer"), "add_prefix_space", cJSON_CreateTrue());
}
static void whitespace_pretok(cJSON *j) {
    cJSON *pt = cJSON_CreateObject();
    cJSON_AddStringToObject(pt, "type", "Whitespace");
    cJSON_ReplaceItemInObject(j, "pre_tokenizer", pt);
}
static void lowercase_norm(cJSON *j) {
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "type", "Lowercase");
    cJSON_ReplaceItemInObject(j, "normalizer", n);
}
static void added_no_content(cJSON *j) {
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "added_tokens"), 0), "content");
}
static void split_bad_regex(cJSON *j) {
    cJSON *seq = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(seq, "pretokenizers");
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON *sp = cJSON_CreateObject();
    cJSON_AddStringToObject(sp, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(sp, "pattern"), "Regex", "[unclosed");
    cJSON_AddStringToObject(sp, "behavior", "Isolated");
    cJSON_AddItemToArray(arr, sp);
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToArray(arr, bl);
    cJSON_ReplaceItemInObject(j, "pre_tokenizer", seq);
}

TEST(corrupt_tokenizer_json_errors_name_the_field) {
    expect_json_error(no_model, "model: missing");
    expect_json_error(wordpiece, "model.type: 'WordPiece' is not supported");
    expect_json_error(bad_merge, "model.merges[5]: 'nosuch' is not in the vocab");
    expect_json_error(merge_no_space, "model.merges[2]: expected");
    expect_json_error(vocab_not_object, "model.vocab: expected an object");
    expect_json_error(vocab_negative, "model.vocab['zz']");
    expect_json_error(vocab_not_bytelevel, "model.vocab['a b']: not a byte-level token");
    expect_json_error(prefix_space, "add_prefix_space");
    expect_json_error(whitespace_pretok, "pre_tokenizer: type 'Whitespace' is not supported");
    expect_json_error(lowercase_norm, "normalizer: type 'Lowercase'");
    expect_json_error(added_no_content, "added_tokens[0]: field 'content': missing");
    expect_json_error(split_bad_regex, "pattern: at offset");
}

TEST(truncated_tokenizer_json_names_line_and_column) {
    char *text;
    size_t n;
    Err e;
    REQUIRE(fs_read_all(FIX "hf_gpt2_style.json", &text, &n, &e) == 0);
    Bpe *b = bpe_from_hf_json(text, n / 2, "half.json", &e);
    CHECK(b == NULL);
    CHECK_CONTAINS(e.msg, "half.json:");
    CHECK_CONTAINS(e.msg, "invalid JSON");
    free(text);
    CHECK(bpe_from_hf_json("[1,2]", 5, "arr.json", &e) == NULL);
    CHECK_CONTAINS(e.msg, "expected a JSON object");
}
