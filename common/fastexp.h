// fastexp.h: e^x in plain float arithmetic, for loops the compiler turns
// into SIMD (under target_clones and `omp simd`). glibc's expf is a call per
// element and does not vectorise without -ffast-math; the sampler's softmax,
// the log-softmax over the vocabulary and SwiGLU spend their time there.
// Accuracy: within 2 ulp over [-87, 88] (8e-8 relative; expf 6e-8); 0
// below -87 (where expf gives denormals or 0; a masked -inf logit gets 0),
// e^88.3 above.
#pragma once
#include <stdint.h>

static inline float rs_expf(float x) {
    float keep = x < -87.0f ? 0.0f : 1.0f;
    x = x < -87.0f ? -87.0f : x > 88.3f ? 88.3f : x;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;       // x - n ln 2 (Cody-Waite)
    float p = 1.9875691500e-4f;                                // Cephes expf's minimax polynomial
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } two_n = {.i = ((int32_t)n + 127) << 23};
    return p * two_n.f * keep;
}
