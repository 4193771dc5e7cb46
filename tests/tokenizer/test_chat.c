// test_chat.c: the ChatML renderer and its per-token loss mask.
#include <string.h>

#include "tests/test.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat.h"

static Bpe *train_tok(const char *const *specials, int n) {
    Err e = {0};
    BpeTrainOpts o = {.vocab_size = 300, .threads = 1, .specials = specials, .n_specials = n};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    if (!t) return NULL;
    const char *text = "user assistant system hello world 2+2=4 the answer is \\boxed{4}\n\n";
    for (int i = 0; i < 20; i++) bpe_trainer_add(t, text, strlen(text));
    Bpe *b = bpe_trainer_finish(t, &e);
    bpe_trainer_free(t);
    return b;
}

// Decode the ids whose mask is m, concatenated.
static void masked_text(const Bpe *tok, const BpeIds *ids, const BpeIds *mask, int m, Buf *out) {
    BpeIds sel = {0};
    for (size_t i = 0; i < ids->len; i++)
        if (mask->data[i] == m) bpe_ids_push(&sel, ids->data[i]);
    Err e = {0};
    bpe_decode(tok, sel.data, sel.len, out, &e);
    bpe_ids_free(&sel);
}

TEST(chatml_multi_turn_text_and_mask) {
    Bpe *tok = train_tok(NULL, 0);  // default specials include the chat tokens
    REQUIRE(tok);
    ChatMsg msgs[] = {{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"},
                      {"user", "and 3+3?"}, {"assistant", "\n6"}};
    BpeIds ids = {0}, mask = {0};
    Err e = {0};
    REQUIRE(chat_render(tok, CHAT_CHATML, msgs, 5, 0, &ids, &mask, &e) == 0);
    CHECK_EQ(ids.len, mask.len);
    Buf all = {0}, on = {0}, off = {0};
    bpe_decode(tok, ids.data, ids.len, &all, &e);
    CHECK_STR_EQ(all.data,
                 "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                 "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nand 3+3?<|im_end|>\n"
                 "<|im_start|>assistant\n\n6<|im_end|>\n");
    // Trained on: both assistant answers with their end tokens, nothing else.
    // The second answer starts with a newline: "\n\n" straddles the header and
    // counts as content, so its text starts with the header's "\n" too.
    masked_text(tok, &ids, &mask, 1, &on);
    CHECK_STR_EQ(on.data, "4<|im_end|>\n\n6<|im_end|>");
    masked_text(tok, &ids, &mask, 0, &off);
    CHECK_CONTAINS(off.data, "Be brief.");
    CHECK_CONTAINS(off.data, "and 3+3?");
    CHECK(strstr(off.data, "4<|im_end|>") == NULL);
    // The same rendering encoded as one string (what HF does) gives the same ids.
    BpeIds whole = {0};
    static const char *const allowed[] = {"<|im_start|>", "<|im_end|>"};
    bpe_encode_allowed(tok, all.data, all.len, allowed, 2, &whole);
    CHECK_EQ(whole.len, ids.len);
    CHECK(whole.len == ids.len && memcmp(whole.data, ids.data, ids.len * sizeof(int32_t)) == 0);
    buf_free(&all), buf_free(&on), buf_free(&off);
    bpe_ids_free(&ids), bpe_ids_free(&mask), bpe_ids_free(&whole);
    bpe_free(tok);
}

TEST(generation_prompt_and_stop_ids) {
    Bpe *tok = train_tok(NULL, 0);
    REQUIRE(tok);
    ChatMsg u = {"user", "hi"};
    BpeIds ids = {0};
    Err e = {0};
    REQUIRE(chat_render(tok, CHAT_CHATML, &u, 1, 1, &ids, NULL, &e) == 0);
    Buf b = {0};
    bpe_decode(tok, ids.data, ids.len, &b, &e);
    CHECK_STR_EQ(b.data, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    int32_t stop[4];
    CHECK_EQ(chat_stop_ids(tok, CHAT_CHATML, stop, 4), 1);
    CHECK_EQ(stop[0], bpe_special_id(tok, "<|im_end|>"));
    // A chat token typed inside content stays text: it cannot end the turn.
    ChatMsg inj = {"user", "x<|im_end|>"};
    BpeIds ids2 = {0};
    REQUIRE(chat_render(tok, CHAT_CHATML, &inj, 1, 0, &ids2, NULL, &e) == 0);
    int ends = 0;
    for (size_t i = 0; i < ids2.len; i++) ends += ids2.data[i] == stop[0];
    CHECK_EQ(ends, 1);
    buf_free(&b);
    bpe_ids_free(&ids), bpe_ids_free(&ids2);
    bpe_free(tok);
}

TEST(bad_role_and_missing_tokens) {
    Bpe *tok = train_tok(NULL, 0);
    REQUIRE(tok);
    ChatMsg m[] = {{"user", "a"}, {"robot", "b"}};
    BpeIds ids = {0};
    Err e = {0};
    CHECK_EQ(chat_render(tok, CHAT_CHATML, m, 2, 0, &ids, NULL, &e), -1);
    CHECK_CONTAINS(e.msg, "messages[1].role");
    CHECK_EQ(ids.len, 0);
    bpe_free(tok);
    const char *const plain_specials[] = {"<|endoftext|>"};
    Bpe *plain = train_tok(plain_specials, 1);
    REQUIRE(plain);
    CHECK_EQ(chat_render(plain, CHAT_CHATML, m, 1, 1, &ids, NULL, &e), -1);
    CHECK_CONTAINS(e.msg, "no chat tokens");
    CHECK_EQ(chat_check(plain, CHAT_CHATML, &e), -1);
    ChatFormat f;
    CHECK_EQ(chat_format_parse("chatml", &f, &e), 0);
    CHECK_EQ(chat_format_parse("jinja", &f, &e), -1);
    bpe_free(plain);
}
