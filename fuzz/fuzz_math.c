// fuzz_math.c: libFuzzer target for the math verifier (verifier/math/math.h). The
// input is a response and, after its first newline, a second answer: any
// bytes must extract, parse, compare and grade without a crash or a hang;
// an answer equals itself unless it normalises to nothing, and comparison
// is symmetric, under the pair's own seed and under a seed taken from the
// input (the grader's points are random per job). Seeds in
// fuzz/seeds/fuzz_math cover the parsing paths of issue 14: chains,
// inequalities, named tuples, set unions, matrices, repeating decimals,
// number words, percent words, decimal commas, several boxes, hedges.
//   make build/fuzz/fuzz_math && build/fuzz/fuzz_math -max_total_time=20 fuzz/seeds/fuzz_math
#include <stdint.h>
#include <string.h>

#include "common/base.h"
#include "verifier/math/math.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *whole = xstrndup((const char *)data, size);
    char *a = xstrdup(whole), *nl = strchr(a, '\n');
    const char *b = nl ? nl + 1 : "";
    if (nl) *nl = 0;

    free(vmath_extract(whole));
    char *canon = vmath_normalize(a);
    RS_CHECK(vmath_equal(a, a) || canon[0] == 0);
    RS_CHECK(vmath_equal(a, b) == vmath_equal(b, a));
    uint64_t seed = 0;
    memcpy(&seed, data, size < sizeof seed ? size : sizeof seed);
    RS_CHECK(vmath_equal_seeded(a, b, seed) == vmath_equal_seeded(b, a, seed));
    free(vmath_normalize(canon));

    cJSON *problem = cJSON_CreateObject();
    cJSON_AddStringToObject(problem, "answer", a);
    VerifyJob job = {.id = "fuzz", .verifier = "math", .response = whole, .problem = problem};
    VerifyResult r = {0};
    Err e;
    RS_CHECK(vmath_grade(NULL, &job, &r, &e) == 0);
    RS_CHECK(r.score == 0 || r.score == 1);
    free(r.detail);
    free(r.extracted);
    cJSON_Delete(problem);
    free(canon);
    free(a);
    free(whole);
    return 0;
}
