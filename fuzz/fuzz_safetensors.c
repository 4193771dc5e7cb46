// fuzz_safetensors.c: libFuzzer target for the safetensors header parser and
// reader. Every tensor the parser accepts is read back (as float32, at its
// own shape), so a header that passes the checks but points outside the
// buffer is caught by ASan.
//   make build/fuzz/fuzz_safetensors && build/fuzz/fuzz_safetensors -max_total_time=60 fuzz/seeds/fuzz_safetensors
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // A private copy, exactly size bytes: reads past the end trap.
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    StFile f;
    Err e;
    if (st_parse(&f, buf, size, "fuzz", &e) == 0) {
        for (int i = 0; i < f.ntensors; i++) {
            const StTensor *t = &f.tensors[i];
            size_t n = 1;
            for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
            if (n > (1u << 20)) continue;
            float *out = malloc((n ? n : 1) * sizeof(float));
            st_read_f32(&f, t->name, out, t->ndim, t->shape, &e);
            free(out);
        }
        st_meta(&f, "format");
        st_clear(&f);
    }
    free(buf);
    return 0;
}
