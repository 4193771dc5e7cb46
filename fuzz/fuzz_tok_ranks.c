// fuzz_tok_ranks.c: libFuzzer target for the tiktoken rank-file loader
// ("base64 rank" lines). Any input must load or fail with a message naming
// the line — never crash; a file that loads must round-trip text.
//   make build/fuzz/fuzz_tok_ranks && build/fuzz/fuzz_tok_ranks -max_total_time=60 fuzz/seeds/fuzz_tok_ranks
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "fuzz/fuzz_tok.h"
#include "tokenizer/bpe.h"

static const char sample[] = "abcab aaaa 12345 \xe4\xb8\xad\xe6\x96\x87\r\n\xff\xfe<|eot|>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err e = {{0}};
    const char *sp[] = {"<|eot|>"};
    int32_t spid[] = {(int32_t)(size % 1000) + 256};  // sometimes clashes with a token: must be an error, not a crash
    Bpe *b = bpe_from_tiktoken((const char *)data, size, "fuzz.tiktoken", NULL, sp, spid, 1, &e);
    if (!b) {
        RS_CHECK(e.msg[0] != 0);
        return 0;
    }
    fuzz_tok_round_trip(b, sample, sizeof sample - 1, 1);
    bpe_free(b);
    return 0;
}
