// test_chat_hf.c: Hub tokenizer folders (tests/fixtures/hf/<family>, written
// by scripts/hf_parity.py with `tokenizers` and transformers) — the chat
// template's family and default system message recognised from
// tokenizer_config.json, chats rendered byte for byte (and id for id) as
// transformers' apply_chat_template(..., add_generation_prompt=True), the
// BOS rule, stop ids from generation_config.json, and the errors.
#include <string.h>

#include "common/fsutil.h"
#include "common/json.h"
#include "tests/test.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat.h"

static const char *fixture(const char *family) {
    static char p[1024];
    const char *root = getenv("REASONER_ROOT");
    snprintf(p, sizeof p, "%s/tests/fixtures/hf/%s", root ? root : ".", family);
    return p;
}

static int ids_equal(const BpeIds *a, const cJSON *arr) {
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != a->len) return 0;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) if ((int32_t)v->valuedouble != a->data[i++]) return 0;
    return 1;
}

// Every conversation of expected.json rendered as transformers does.
static void check_family(const char *family, ChatFormat want, const char *want_system) {
    Err e = {{0}};
    const char *dir = fixture(family);
    Bpe *tok = bpe_load(dir, &e);
    REQUIRE(tok);
    char *path = fs_join(dir, "expected.json");
    cJSON *exp = json_read_file(path, &e);
    free(path);
    REQUIRE(exp);
    ChatTemplate t;
    REQUIRE(chat_template_of(tok, CHAT_AUTO, &t, &e) == 0);
    CHECK_EQ(t.format, want);
    CHECK_STR_EQ(t.default_system, want_system);
    snprintf(t.date, sizeof t.date, "%s", json_opt_str(exp, "llama_date", ""));
    int n_chat = 0;
    const cJSON *chat, *enc;
    cJSON_ArrayForEach(chat, cJSON_GetObjectItem(exp, "chats")) {
        const cJSON *ms = cJSON_GetObjectItem(chat, "messages"), *m;
        ChatMsg msgs[8];
        int n = 0, typed_special = 0;
        cJSON_ArrayForEach(m, ms) {
            msgs[n].role = json_opt_str(m, "role", ""), msgs[n].content = json_opt_str(m, "content", "");
            typed_special |= strstr(msgs[n].content, "<|") != NULL;
            n++;
        }
        BpeIds ids = {0}, mask = {0};
        CHECK(chat_render_template(tok, &t, msgs, n, 1, &ids, &mask, &e) == 0);
        Buf text = {0};
        bpe_decode(tok, ids.data, ids.len, &text, &e);
        CHECK_STR_EQ(text.data, json_opt_str(chat, "text", "?"));
        // A special token typed in content stays text here (it cannot end a
        // turn); transformers would split it out as a special: ids differ there.
        if (!typed_special) CHECK_MSG(ids_equal(&ids, cJSON_GetObjectItem(chat, "ids")), "%s chat %d: ids differ", family, n_chat);
        CHECK_EQ(ids.len, mask.len);
        buf_free(&text), bpe_ids_free(&ids), bpe_ids_free(&mask);
        n_chat++;
    }
    CHECK_EQ(n_chat, 3);
    // Plain encodings, and the BOS rule against add_special_tokens=True.
    cJSON_ArrayForEach(enc, cJSON_GetObjectItem(exp, "encodings")) {
        const char *s = json_opt_str(enc, "text", "");
        BpeIds a = {0}, b = {0};
        bpe_encode(tok, s, strlen(s), BPE_SPECIAL_NONE, &a);
        CHECK_MSG(ids_equal(&a, cJSON_GetObjectItem(enc, "ids")), "%s: '%s' encodes differently", family, s);
        if (bpe_bos_id(tok) >= 0) bpe_ids_push(&b, bpe_bos_id(tok));
        bpe_encode(tok, s, strlen(s), BPE_SPECIAL_NONE, &b);
        CHECK_MSG(ids_equal(&b, cJSON_GetObjectItem(enc, "ids_special")), "%s: BOS rule differs on '%s'", family, s);
        bpe_ids_free(&a), bpe_ids_free(&b);
    }
    // Stop ids: the turn end, then generation_config.json's eos ids.
    int32_t stop[8];
    int ns = chat_stop_ids(tok, CHAT_AUTO, stop, 8);
    const cJSON *eos = cJSON_GetObjectItem(exp, "eos_token_ids"), *v;
    CHECK_EQ(stop[0], bpe_special_id(tok, want == CHAT_LLAMA3 ? "<|eot_id|>" : "<|im_end|>"));
    int n_eos = 0;
    if (cJSON_IsNumber(eos)) {
        n_eos = 1;
        int found = 0;
        for (int i = 0; i < ns; i++) found |= stop[i] == (int32_t)eos->valuedouble;
        CHECK(found);
    }
    const cJSON *eos_list = cJSON_IsArray(eos) ? eos : NULL;
    cJSON_ArrayForEach(v, eos_list) {
        int found = 0;
        for (int i = 0; i < ns; i++) found |= stop[i] == (int32_t)v->valuedouble;
        CHECK_MSG(found, "%s: eos %d not among the stop ids", family, (int)v->valuedouble);
        n_eos++;
    }
    CHECK(ns >= n_eos && ns <= n_eos + 1);
    printf("    %s: %s, default system \"%.30s\", %d chats identical, BOS %d, %d stop ids\n", family,
           chat_format_name(t.format), t.default_system, n_chat, bpe_bos_id(tok), ns);
    cJSON_Delete(exp);
    bpe_free(tok);
}

TEST(qwen25_chat_matches_transformers) {
    check_family("qwen2.5-0.5b", CHAT_CHATML, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
}
TEST(qwen25_math_chat_matches_transformers) {
    check_family("qwen2.5-math-1.5b", CHAT_CHATML,
                 "Please reason step by step, and put your final answer within \\boxed{}.");
}
TEST(llama32_chat_matches_transformers) { check_family("llama-3.2-1b", CHAT_LLAMA3, ""); }

TEST(bos_rule_per_family) {
    Err e = {{0}};
    Bpe *q = bpe_load(fixture("qwen2.5-0.5b"), &e), *l = bpe_load(fixture("llama-3.2-1b"), &e);
    REQUIRE(q && l);
    CHECK_EQ(bpe_bos_id(q), -1);  // ByteLevel post-processor: never a forced <|endoftext|>
    CHECK(bpe_special_id(q, "<|endoftext|>") >= 0);
    CHECK_EQ(bpe_bos_id(l), bpe_special_id(l, "<|begin_of_text|>"));
    // What we save says the same (TemplateProcessing for Llama, none for Qwen).
    const char *qp = test_path("q.json");
    char qpath[600];
    snprintf(qpath, sizeof qpath, "%s", qp);
    REQUIRE(bpe_save(q, qpath, &e) == 0);
    Bpe *q2 = bpe_load(qpath, &e);  // no tokenizer_config.json beside it: the file alone decides
    REQUIRE(q2);
    CHECK_EQ(bpe_bos_id(q2), -1);  // written as a ByteLevel post-processor: rule 1, none
    // A tokenizer.json without post-processor or tokenizer_config.json: ours from
    // before, which started documents with <|endoftext|> (rule 3).
    cJSON *lj = json_read_file(qpath, &e);
    REQUIRE(lj);
    cJSON_ReplaceItemInObject(lj, "post_processor", cJSON_CreateNull());
    char *legacy = cJSON_PrintUnformatted(lj);
    cJSON_Delete(lj);
    Bpe *lg = bpe_from_hf_json(legacy, strlen(legacy), "legacy", &e);
    CHECK_MSG(lg, "%s", e.msg);
    if (lg) CHECK_EQ(bpe_bos_id(lg), bpe_special_id(lg, "<|endoftext|>"));
    bpe_free(lg);
    free(legacy);
    bpe_free(q2);
    const char *lp = test_path("l.json");
    char lpath[600];
    snprintf(lpath, sizeof lpath, "%s", lp);
    REQUIRE(bpe_save(l, lpath, &e) == 0);
    Bpe *l2 = bpe_load(lpath, &e);
    REQUIRE(l2);
    CHECK_EQ(bpe_bos_id(l2), bpe_special_id(l2, "<|begin_of_text|>"));
    bpe_set_bos_id(l2, -1);
    REQUIRE(bpe_save(l2, lpath, &e) == 0);
    bpe_free(l2);
    l2 = bpe_load(lpath, &e);
    REQUIRE(l2);
    CHECK_EQ(bpe_bos_id(l2), -1);  // explicitly none survives a save
    bpe_free(l2);
    bpe_free(q), bpe_free(l);
}

TEST(unknown_template_names_family_and_override_works) {
    Err e = {{0}};
    Bpe *tok = bpe_load(fixture("qwen2.5-0.5b"), &e);
    REQUIRE(tok);
    bpe_set_chat_template(tok, "{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}");
    ChatMsg u = {"user", "hi"};
    BpeIds ids = {0};
    CHECK_EQ(chat_render(tok, CHAT_AUTO, &u, 1, 1, &ids, NULL, &e), -1);
    CHECK_CONTAINS(e.msg, "Gemma");
    CHECK_CONTAINS(e.msg, "--chat-format");
    CHECK_EQ(ids.len, 0);
    CHECK_EQ(chat_check(tok, CHAT_AUTO, &e), -1);
    bpe_set_chat_template(tok, "{{ messages }} ???");
    CHECK_EQ(chat_check(tok, CHAT_AUTO, &e), -1);
    CHECK_CONTAINS(e.msg, "unknown family");
    REQUIRE(chat_set_format(tok, "chatml", &e) == 0);
    CHECK_EQ(chat_check(tok, CHAT_AUTO, &e), 0);
    REQUIRE(chat_render(tok, CHAT_AUTO, &u, 1, 1, &ids, NULL, &e) == 0);
    Buf b = {0};
    bpe_decode(tok, ids.data, ids.len, &b, &e);
    CHECK_STR_EQ(b.data, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");  // no default system: not Qwen's template
    CHECK_EQ(chat_set_format(tok, "jinja", &e), -1);
    CHECK_EQ(chat_set_format(tok, "llama3", &e), 0);
    CHECK_EQ(chat_check(tok, CHAT_AUTO, &e), -1);  // a Qwen vocabulary has no Llama 3 header tokens
    CHECK_CONTAINS(e.msg, "<|start_header_id|>");
    buf_free(&b), bpe_ids_free(&ids);
    bpe_free(tok);
}

TEST(explicit_formats_keep_their_meaning) {
    Err e = {{0}};
    Bpe *tok = bpe_load(fixture("qwen2.5-0.5b"), &e);
    REQUIRE(tok);
    ChatMsg u = {"user", "hi"};
    BpeIds a = {0}, b = {0};
    REQUIRE(chat_render(tok, CHAT_CHATML, &u, 1, 1, &a, NULL, &e) == 0);  // plain ChatML: no default system
    REQUIRE(chat_render(tok, CHAT_AUTO, &u, 1, 1, &b, NULL, &e) == 0);    // Qwen's template: default system first
    CHECK(b.len > a.len + 10);
    int32_t stop[4];
    CHECK_EQ(chat_stop_ids(tok, CHAT_CHATML, stop, 4), 1);
    bpe_ids_free(&a), bpe_ids_free(&b);
    bpe_free(tok);
    Bpe *l = bpe_load(fixture("llama-3.2-1b"), &e);
    REQUIRE(l);
    // Llama 3.0 layout (CHAT_LLAMA3 explicitly): BOS, then trimmed turns.
    ChatMsg m[] = {{"system", " S "}, {"user", "hi"}, {"assistant", "yo"}};
    BpeIds ids = {0}, mask = {0};
    REQUIRE(chat_render(l, CHAT_LLAMA3, m, 3, 0, &ids, &mask, &e) == 0);
    Buf t = {0}, on = {0};
    bpe_decode(l, ids.data, ids.len, &t, &e);
    CHECK_STR_EQ(t.data, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                         "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                         "<|start_header_id|>assistant<|end_header_id|>\n\nyo<|eot_id|>");
    BpeIds sel = {0};
    for (size_t i = 0; i < ids.len; i++)
        if (mask.data[i]) bpe_ids_push(&sel, ids.data[i]);
    bpe_decode(l, sel.data, sel.len, &on, &e);
    CHECK_STR_EQ(on.data, "yo<|eot_id|>");
    ChatTemplate tt;
    REQUIRE(chat_template_of(l, CHAT_AUTO, &tt, &e) == 0);
    CHECK(tt.dated);
    buf_free(&t), buf_free(&on), bpe_ids_free(&ids), bpe_ids_free(&mask), bpe_ids_free(&sel);
    bpe_free(l);
}
