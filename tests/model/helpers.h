// helpers.h: small helpers shared by the model tests.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/model.h"

// A committed fixture under tests/fixtures/model (found from $REASONER_ROOT
// when the test runner sets it, else from the current directory).
__attribute__((unused)) static const char *fixture_path(const char *name) {
    static char p[1024];
    const char *root = getenv("REASONER_ROOT");
    snprintf(p, sizeof p, "%s/tests/fixtures/model/%s", root ? root : ".", name);
    return p;
}

// max|a - b| / max|b|: the relative error of a tensor a against reference b.
__attribute__((unused)) static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return den > 0 ? num / den : num;
}

// log softmax(row)[t] in double.
__attribute__((unused)) static double log_softmax_at(const float *row, int V, int t) {
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < V; j++) mx = fmax(mx, row[j]);
    for (int j = 0; j < V; j++) s += exp(row[j] - mx);
    return row[t] - mx - log(s);
}

// Random weights of a visible size (the 0.02 init would make every
// derivative tiny): normal(0, scale), norms around 1, biases included.
__attribute__((unused)) static void randomize(Model *m, uint64_t seed, float scale) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < model_num_tensors(m); i++) {
        ModelTensor *t = model_tensor(m, i);
        int norm = strstr(t->name, "norm") != NULL;
        for (size_t k = 0; k < t->numel; k++)
            t->param[k] = norm ? 1.0f + scale * (float)rng_normal(&r) : scale * (float)rng_normal(&r);
    }
}
