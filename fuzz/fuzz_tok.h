// fuzz_tok.h: what the tokenizer-loading fuzz targets check of any tokenizer
// they manage to load: encoding a sample and decoding it gives the sample
// back (unless the tokenizer normalises text).
#pragma once
#include <string.h>

#include "common/base.h"
#include "tokenizer/bpe.h"

// Encode then decode sample (n bytes); with exact, the bytes must come back.
static void fuzz_tok_round_trip(const Bpe *b, const char *sample, size_t n, int exact) {
    Err e = {{0}};
    BpeIds ids = {0};
    bpe_encode(b, sample, n, BPE_SPECIAL_ALL, &ids);
    Buf out = {0};
    RS_CHECK(bpe_decode(b, ids.data, ids.len, &out, &e) == 0);
    if (exact) RS_CHECK(out.len == n && memcmp(out.data, sample, n) == 0);
    buf_free(&out);
    bpe_ids_free(&ids);
}
