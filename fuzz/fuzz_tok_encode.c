// fuzz_tok_encode.c: libFuzzer target for encoding arbitrary bytes. With a
// tokenizer trained once at start-up: decode(encode(x)) == x for any x
// (invalid UTF-8 included) with and without specials, the streaming decoder
// gives the same bytes, and with NFC on, decode(encode(x)) == NFC(x).
//   make build/fuzz/fuzz_tok_encode && build/fuzz/fuzz_tok_encode -max_total_time=60 fuzz/seeds/fuzz_tok_encode
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_impl.h"

static Bpe *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char corpus[] =
        "The quick brown fox jumps over the lazy dog. It's 12345 o'clock; caf\xc3\xa9 na\xc3\xafve "
        "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac \xf0\x9f\x98\x80 def f(x):\n    return x ** 2\r\n\t\t";
    Err e;
    BpeTrainOpts o = {.vocab_size = 400, .threads = 1};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    for (int i = 0; i < 50; i++) bpe_trainer_add(t, corpus, sizeof corpus - 1);
    tok = bpe_trainer_finish(t, &e);
    RS_CHECK(tok);
    bpe_trainer_free(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int mode = data[0];  // bit 0: specials allowed; bit 1: NFC
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    tok->nfc = (mode >> 1) & 1;  // single-threaded fuzzer: flipping the flag between runs is safe
    BpeIds ids = {0};
    bpe_encode(tok, text, n, (mode & 1) ? BPE_SPECIAL_ALL : BPE_SPECIAL_NONE, &ids);
    Buf out = {0}, want = {0}, streamed = {0};
    Err e;
    RS_CHECK(bpe_decode(tok, ids.data, ids.len, &out, &e) == 0);
    if (tok->nfc) {
        // Specials are matched before normalising, so compare piece by piece only without them.
        if (!(mode & 1)) {
            bpe_nfc(text, n, &want);
            RS_CHECK(out.len == want.len && (out.len == 0 || memcmp(out.data, want.data, out.len) == 0));
        }
    } else {
        RS_CHECK(out.len == n && (n == 0 || memcmp(out.data, text, n) == 0));
    }
    BpeStream st;
    bpe_stream_init(&st, tok);
    for (size_t i = 0; i < ids.len; i++) RS_CHECK(bpe_stream_feed(&st, ids.data[i], &streamed, &e) >= 0);
    bpe_stream_finish(&st, &streamed);
    RS_CHECK(streamed.len == out.len && (out.len == 0 || memcmp(streamed.data, out.data, out.len) == 0));
    buf_free(&out), buf_free(&want), buf_free(&streamed);
    bpe_ids_free(&ids);
    return 0;
}
