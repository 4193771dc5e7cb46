// fuzz_tok_json.c: libFuzzer target for the Hugging Face tokenizer.json
// loader. Any input must load or fail with a message — never crash; a file
// that loads must encode and decode back (unless it asks for NFC, which
// changes text) and survive save + load.
//   make build/fuzz/fuzz_tok_json && build/fuzz/fuzz_tok_json -max_total_time=60 fuzz/seeds/fuzz_tok_json
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/base.h"
#include "fuzz/fuzz_tok.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_impl.h"

static const char sample[] = "Hello, world! It's 2024: caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 <|endoftext|>\n\t  \xff";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err e = {{0}};
    Bpe *b = bpe_from_hf_json((const char *)data, size, "fuzz.json", &e);
    if (!b) {
        RS_CHECK(e.msg[0] != 0);
        return 0;
    }
    fuzz_tok_round_trip(b, sample, sizeof sample - 1, !b->nfc);
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_tok_json.%d.json", (int)getpid());
    if (bpe_save(b, path, &e) == 0) {
        Bpe *c = bpe_load(path, &e);
        RS_CHECK(c != NULL);
        RS_CHECK(bpe_vocab_size(c) == bpe_vocab_size(b));
        bpe_free(c);
        unlink(path);
    }
    bpe_free(b);
    return 0;
}
