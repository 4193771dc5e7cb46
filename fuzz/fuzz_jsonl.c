// fuzz_jsonl.c: libFuzzer target for the JSONL reader and JSON field access.
// The input is written to a file and read back line by line, so the whole
// reader (getline, blank lines, NUL bytes, errors and resumption) is covered.
//   make build/fuzz/fuzz_jsonl && build/fuzz/fuzz_jsonl -max_total_time=60 fuzz/seeds/fuzz_jsonl
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_jsonl.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Err e = {0};
    JsonlReader *r = jsonl_open(path, &e);
    if (!r) return 0;
    cJSON *j;
    int rc, records = 0;
    while ((rc = jsonl_next(r, &j, &e)) != 0 && records < 10000) {
        records++;
        if (rc < 0) continue;
        const char *s;
        int64_t i;
        json_get_str(j, "text", &s, "fuzz", &e);
        json_get_int(j, "id", &i, "fuzz", &e);
        char *back = json_compact(j);
        cJSON *again = json_parse(back, strlen(back), "fuzz", 1, &e);
        if (!again) __builtin_trap();  // what we print must parse back
        cJSON_Delete(again);
        cJSON_free(back);
        cJSON_Delete(j);
    }
    jsonl_close(r);
    unlink(path);
    return 0;
}
