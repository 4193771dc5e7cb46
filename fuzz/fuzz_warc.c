// fuzz_warc.c: the WARC reader (and the gzip member reader under it) on
// arbitrary bytes, plain or gzip'd. Invariants: no crash, no hang; every
// record is either a document with a body or has a reason; a document's
// length fits in its input; reading ends.
//   make build/fuzz/fuzz_warc && build/fuzz/fuzz_warc -max_total_time=20 fuzz/seeds/fuzz_warc
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "data/pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    DataWarc *w = data_warc_new(data_src_mem(data, size), "fuzz.warc", 1 << 16);
    DataRecord r = {0};
    int64_t not_docs = 0;
    Err e;
    int rc, n = 0;
    // Each record, good or bad, consumes input (a gzip'd input can expand,
    // hence the generous bound): the loop must end.
    while ((rc = data_warc_next(w, &r, &not_docs, &e)) == 1) {
        RS_CHECK(++n <= 1000000);
        if (!r.reason) {
            RS_CHECK(r.body != NULL && r.id != NULL);
            RS_CHECK(r.len <= (size_t)(1 << 16) + 65536);
            RS_CHECK(r.body[r.len] == 0);
        }
    }
    RS_CHECK(rc == 0);  // memory never fails with an I/O error
    data_record_clear(&r);
    data_warc_free(w);
    return 0;
}
