// test_sft.c: SFT end to end on a tiny model — conversations rendered with
// the loss on assistant tokens only, packing, a loss that falls, bit-identical
// resume, chat tokens added to a base tokenizer, and bad conversations named
// by file, line and field.
//   make build/tests/sft/test_sft && build/tests/sft/test_sft
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "sft/sft.h"
#include "tests/test.h"
#include "tests/tiny.h"

// A base checkpoint: a tokenizer trained on arithmetic (with or without the
// chat tokens) and a random `test` model, saved under dir.
static void make_base(const char *dir, int chat_tokens) {
    const char *const plain[] = {"<|endoftext|>"};
    Bpe *tok = tiny_tokenizer("What is 12 + 7? 12 + 7 = 19. The answer is \\boxed{19}. user assistant system\n", 40, 300,
                              chat_tokens ? NULL : plain, chat_tokens ? 0 : 1);
    Model *m = tiny_model(tok, 96, 7, 0);
    tiny_save(m, tok, dir);
    model_free(m);
    bpe_free(tok);
}

// n arithmetic conversations, one a line.
static void make_chats(const char *path, int n) {
    FILE *f = fopen(path, "w");
    RS_CHECK(f);
    for (int i = 0; i < n; i++) {
        int a = i % 17, b = (i * 7) % 13;
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"What is %d + %d?\"},"
                "{\"role\":\"assistant\",\"content\":\"%d + %d = %d. The answer is \\\\boxed{%d}.\"}]}\n",
                a, b, a, b, a + b, a + b);
    }
    fclose(f);
}

static SftConfig tiny(const char *base, const char *const *data, const char *out) {
    SftConfig c = sft_defaults();
    c.model_dir = base, c.data = data, c.n_data = 1, c.out_dir = out;
    c.batch_size = 2, c.seq_len = 96, c.steps = 30, c.lr = 3e-3, c.min_lr = 3e-4, c.warmup = 3;
    c.eval_every = 10, c.val_fraction = 0.1, c.progress = 0, c.peak_flops = 1e10;
    return c;
}

TEST(mask_and_packing) {
    char *base = xstrdup(test_path("base_pack")), *chats = xstrdup(test_path("pack.jsonl"));
    make_base(base, 1);
    make_chats(chats, 5);
    Err e = {0};
    Bpe *tok = bpe_load(base, &e);
    REQUIRE(tok);
    SftData d;
    const char *files[] = {chats};
    REQUIRE(sft_data_load(files, 1, tok, CHAT_CHATML, 96, 0, &d, &e) == 0);
    CHECK_EQ(d.n, 5);
    int order[5] = {0, 1, 2, 3, 4};
    int32_t *ids, *tgt, *seg;
    int T = 64, rows = sft_pack(&d, order, 5, T, &ids, &tgt, &seg);
    int total = 0;
    for (int i = 0; i < 5; i++) total += d.ex[i].len;
    CHECK(rows >= (total + T - 1) / T && rows <= 5);
    // Every target is an assistant token of the same conversation: decoding
    // the targets gives the answers and their end tokens, nothing of the user.
    BpeIds got = {0};
    for (int i = 0; i < rows * T; i++)
        if (tgt[i] >= 0) bpe_ids_push(&got, tgt[i]);
    Buf text = {0};
    REQUIRE(bpe_decode(tok, got.data, got.len, &text, &e) == 0);
    CHECK_CONTAINS(text.data, "0 + 0 = 0. The answer is \\boxed{0}.<|im_end|>");
    CHECK(strstr(text.data, "What is") == NULL);
    CHECK(strstr(text.data, "<|im_start|>") == NULL);
    int64_t trained = 0;
    for (int i = 0; i < 5; i++) trained += d.ex[i].trained;
    CHECK_EQ((int64_t)got.len, trained);
    // Each conversation is one segment starting where it starts.
    CHECK_EQ(seg[0], 0);
    CHECK_EQ(seg[d.ex[0].len - 1], 0);
    if (d.ex[0].len + d.ex[1].len <= T) CHECK_EQ(seg[d.ex[0].len], d.ex[0].len);
    free(ids), free(tgt), free(seg);
    buf_free(&text);
    bpe_ids_free(&got);
    sft_data_free(&d);
    bpe_free(tok);
    free(base), free(chats);
}

TEST(loss_falls_and_files_are_written) {
    char *base = xstrdup(test_path("base")), *chats = xstrdup(test_path("chats.jsonl")), *out = xstrdup(test_path("sft"));
    make_base(base, 1);
    make_chats(chats, 200);
    const char *files[] = {chats};
    SftConfig c = tiny(base, files, out);
    SftResult r;
    Err e = {0};
    REQUIRE(sft_run(&c, &r, &e) == 0);
    CHECK_EQ(r.steps, 30);
    CHECK(r.val_conversations > 5 && r.val_conversations < 40);
    CHECK_EQ(r.conversations + r.val_conversations, 200);
    CHECK_MSG(r.val_loss < r.first_val_loss - 1.0, "held-out loss %.3f -> %.3f", r.first_val_loss, r.val_loss);
    char path[700];
    snprintf(path, sizeof path, "%s/final/tokenizer.json", out);
    CHECK(fs_exists(path));
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    CHECK(fs_exists(path));
    free(base), free(chats), free(out);
}

TEST(resume_is_bit_identical) {
    char *base = xstrdup(test_path("base_r")), *chats = xstrdup(test_path("chats_r.jsonl"));
    char *a = xstrdup(test_path("straight")), *b = xstrdup(test_path("resumed"));
    make_base(base, 1);
    make_chats(chats, 120);
    const char *files[] = {chats};
    SftConfig c = tiny(base, files, a);
    c.steps = 24, c.save_every = 10;
    SftResult r;
    Err e = {0};
    REQUIRE(sft_run(&c, &r, &e) == 0);
    SftConfig c1 = tiny(base, files, b);
    c1.steps = 24, c1.save_every = 10;
    char resume[700];
    snprintf(resume, sizeof resume, "%s/step_000010", a);
    c1.resume_dir = resume;
    REQUIRE(sft_run(&c1, &r, &e) == 0);
    CHECK_MSG(tiny_same_final(a, b, "model.safetensors"), "final weights differ");
    CHECK_MSG(tiny_same_final(a, b, "optimizer.safetensors"), "final optimizer state differs");
    free(base), free(chats), free(a), free(b);
}

TEST(chat_tokens_are_added_to_a_base_tokenizer) {
    char *base = xstrdup(test_path("base_plain")), *chats = xstrdup(test_path("chats_p.jsonl")), *out = xstrdup(test_path("sft_p"));
    make_base(base, 0);
    make_chats(chats, 40);
    const char *files[] = {chats};
    SftConfig c = tiny(base, files, out);
    c.steps = 3;
    SftResult r;
    Err e = {0};
    REQUIRE(sft_run(&c, &r, &e) == 0);
    CHECK_EQ(r.added_chat_tokens, 1);
    char fin[700];
    snprintf(fin, sizeof fin, "%s/final", out);
    Bpe *tok = bpe_load(fin, &e);
    Model *m = model_load(fin, 0, &e);
    REQUIRE(tok && m);
    CHECK(bpe_special_id(tok, "<|im_start|>") >= 0 && bpe_special_id(tok, "<|im_end|>") >= 0);
    CHECK_EQ(model_config(m)->vocab_size, bpe_vocab_size(tok));
    model_free(m);
    bpe_free(tok);
    free(base), free(chats), free(out);
}

static void write_text(const char *path, const char *text) {
    Err e;
    RS_CHECK(fs_write_atomic(path, text, strlen(text), &e) == 0);
}

TEST(bad_conversations_are_named) {
    char *base = xstrdup(test_path("base_bad")), *bad = xstrdup(test_path("bad.jsonl"));
    make_base(base, 1);
    Err e = {0};
    Bpe *tok = bpe_load(base, &e);
    REQUIRE(tok);
    const char *files[] = {bad};
    SftData d;
    struct {
        const char *text, *want;
    } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"robot\",\"content\":\"b\"}]}\n",
         ":1: field 'messages[1].role': 'robot'"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n", ":1: field 'messages': no assistant turn"},
        {"\n{\"text\":\"x\"}\n", ":2: field 'messages': missing"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":7}]}\n", "messages[0]': content not a string"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
         "24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}\n",
         "longer than the context of 96"},
        {"{\"messages\": [broken\n", ":1:"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        write_text(bad, cases[i].text);
        CHECK_EQ(sft_data_load(files, 1, tok, CHAT_CHATML, 96, 0, &d, &e), -1);
        CHECK_CONTAINS(e.msg, cases[i].want);
        CHECK_CONTAINS(e.msg, "bad.jsonl");
    }
    // --skip-bad counts them and keeps the good ones.
    write_text(bad, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}\n"
                    "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}\n"
                    "{\"messages\": [broken\n");
    REQUIRE(sft_data_load(files, 1, tok, CHAT_CHATML, 96, 1, &d, &e) == 0);
    CHECK_EQ(d.n, 1);
    CHECK_EQ(d.n_skipped, 2);
    CHECK_CONTAINS(d.first_bad, ":1: field 'messages': no assistant turn");
    sft_data_free(&d);
    bpe_free(tok);
    free(base), free(bad);
}
