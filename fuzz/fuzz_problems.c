// fuzz_problems.c: libFuzzer target for the problem loaders: the input is a
// problem file in any format (JSONL, a JSON array, one object; skipped and
// strict), every loaded problem is rendered into a template and written back
// out, which must load again; the answer helpers run on the raw bytes too.
//   make build/fuzz/fuzz_problems && build/fuzz/fuzz_problems -max_total_time=60 fuzz/seeds/fuzz_problems
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "problems/metrics.h"
#include "problems/problems.h"

static void exercise_text(const uint8_t *data, size_t size) {
    char *s = strndup((const char *)data, size);
    char *boxed = problems_last_boxed(s);
    char *norm = problems_normalize_answer(s);
    const char *answers[3] = {s, boxed, norm};
    int win = problems_majority(answers, 3);
    if (win < -1 || win > 2) __builtin_trap();
    free(boxed), free(norm), free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    exercise_text(data, size);
    char path[64], back[64];
    snprintf(path, sizeof path, "/tmp/fuzz_problems.%d.jsonl", (int)getpid());
    snprintf(back, sizeof back, "/tmp/fuzz_problems.%d.back.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    Err e = {0};
    ProblemSet *strict = problems_load(path, 0, &e);
    ProblemSet *s = problems_load(path, 1, &e);
    if (strict && (!s || s->n != strict->n || s->n_bad)) __builtin_trap();  // skipping changes nothing on good files
    if (s && s->n) {
        for (int i = 0; i < s->n; i++) {
            char *r = problems_render_prompt("Q: {problem}\n\\boxed{}", &s->items[i]);
            free(r);
        }
        FILE *o = fopen(back, "wb");
        if (o) {
            problems_write(o, s);
            fclose(o);
            // What we write is the project's format and must load as it is.
            ProblemSet *again = problems_load(back, 0, &e);
            if (!again || again->n != s->n || again->format != PF_NATIVE) __builtin_trap();
            problems_free(again);
        }
        unlink(back);
    }
    problems_free(strict);
    problems_free(s);
    unlink(path);
    return 0;
}
