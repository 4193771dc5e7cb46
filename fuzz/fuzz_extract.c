// fuzz_extract.c: HTML extraction (Gumbo) and then every text stage on what
// comes out: Gopher, C4, FineWeb, language id, MinHash and PII. Invariants:
// no crash, no hang (the nesting-cost guard refuses what Gumbo would take
// minutes over); the extracted text is valid UTF-8 whatever the input bytes;
// it has no empty lines and no line ends in a space (<pre> keeps leading ones).
//   make build/fuzz/fuzz_extract && build/fuzz/fuzz_extract -max_total_time=20 fuzz/seeds/fuzz_extract
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "data/pipeline.h"

static DataConfig cfg;
static DataMinHash *mh;
static DataScratch *scratch;

static void check_lines(const char *t, size_t n) {
    RS_CHECK(utf8_valid(t, n));
    for (size_t a = 0; a < n;) {
        const char *nl = memchr(t + a, '\n', n - a);
        size_t b = nl ? (size_t)(nl - t) : n;
        RS_CHECK(b > a);                                   // no empty line
        RS_CHECK(t[b - 1] != ' ');                         // trimmed
        a = b + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!mh) {
        data_config_default(&cfg);
        mh = data_minhash_new(5, 14, 8, 1);
        scratch = data_scratch_new();
    }
    Buf text = {0}, kept = {0}, clean = {0};
    DataRule r = data_extract_html((const char *)data, size, 0.5, 20000000, &text);
    if (r == DATA_R_NONE && text.len) {
        check_lines(text.data, text.len);
        data_gopher_repetition(&cfg, text.data, text.len, scratch);
        data_gopher_quality(&cfg, text.data, text.len, scratch);
        int64_t lines[DATA_NLINE_RULES] = {0}, cites = 0;
        data_c4_filter(&cfg, text.data, text.len, &kept, lines, &cites, scratch);
        data_fineweb_filter(&cfg, text.data, text.len, scratch);
        double score;
        data_lang_filter(&cfg, text.data, text.len, &score);
        RS_CHECK(score >= 0 && score <= 1);
        uint64_t sig[112], bands[14];
        data_minhash_signature(mh, text.data, text.len, sig, scratch);
        data_minhash_bands(mh, sig, bands);
        int64_t emails = 0, ips = 0;
        data_pii_scrub(text.data, text.len, 1, 1, &clean, &emails, &ips);
        RS_CHECK(utf8_valid(clean.data, clean.len));
    }
    buf_free(&text), buf_free(&kept), buf_free(&clean);
    return 0;
}
