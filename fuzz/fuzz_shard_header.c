// fuzz_shard_header.c: libFuzzer target for the token shard parser
// (train/shards.h): any bytes must give a parsed shard or an error
// message, never a crash, and a parsed shard's ids must all be in range.
//   make build/fuzz/fuzz_shard_header && build/fuzz/fuzz_shard_header -max_total_time=20 fuzz/seeds/fuzz_shard_header
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "train/shards.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ShardInfo s;
    Err e;
    if (shard_parse(data, size, "fuzz.bin", &s, &e) != 0) {
        RS_CHECK(strncmp(e.msg, "fuzz.bin: ", 10) == 0);
        return 0;
    }
    RS_CHECK(s.token_width == 2 || s.token_width == 4);
    RS_CHECK((size_t)s.n_tokens * (size_t)s.token_width + SHARD_HEADER_BYTES == size);
    for (int64_t i = 0; i < s.n_tokens; i++) RS_CHECK(shard_token(&s, i) < s.vocab_size);
    return 0;
}
