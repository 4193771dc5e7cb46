// test_ops.c: every CPU op against an independent double-precision
// reference, and every backward against central finite differences.
//
// Why this is sound: finite differences of a float op are useless (float
// rounding / h swamps the derivative), so each op gets a short reference
// forward written here in double, in the most literal form. The test checks
// (1) float forward == double reference (so the reference is the same
// function), and (2) float backward == central differences of the double
// reference of L = sum(dout * forward(x)), h = 1e-6, whose error (~1e-10) is
// far below float rounding. A wrong backward therefore shows up as an error
// of order 1, not lost in noise. Coordinates are sampled for the big inputs.
#include <omp.h>
#include <string.h>

#include "common/rng.h"
#include "model/ops.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

// ---------------------------------------------------------------------------
// double references

typedef struct Case Case;
struct Case {
    double *in[4];    // inputs (double copies); FD perturbs one of them
    size_t n[4];
    double *out, *dout;  // reference output and the upstream gradient
    size_t nout;
    int d[8];            // op dimensions
    const int32_t *idx;  // ids, positions or targets
    double scal;         // eps or inv_temp
    void (*fwd)(Case *);
};

static double loss_of(Case *c) {
    c->fwd(c);
    double s = 0;
    for (size_t i = 0; i < c->nout; i++) s += c->dout[i] * c->out[i];
    return s;
}

static void ref_matmul(Case *c) {  // in: inp (N, IC), w (OC, IC), bias (OC)
    int N = c->d[0], IC = c->d[1], OC = c->d[2];
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = c->in[2] ? c->in[2][o] : 0;
            for (int k = 0; k < IC; k++) s += c->in[0][(size_t)i * IC + k] * c->in[1][(size_t)o * IC + k];
            c->out[(size_t)i * OC + o] = s;
        }
}

static void ref_rmsnorm(Case *c) {  // in: x (N, C), w (C)
    int N = c->d[0], C = c->d[1];
    for (int i = 0; i < N; i++) {
        const double *x = c->in[0] + (size_t)i * C;
        double ss = 0;
        for (int k = 0; k < C; k++) ss += x[k] * x[k];
        double r = 1.0 / sqrt(ss / C + c->scal);
        for (int k = 0; k < C; k++) c->out[(size_t)i * C + k] = x[k] * r * c->in[1][k];
    }
}

static void ref_embedding(Case *c) {  // in: wte (V, C)
    int N = c->d[0], C = c->d[1];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < C; k++) c->out[(size_t)i * C + k] = c->in[0][(size_t)c->idx[i] * C + k];
}

static void ref_rope(Case *c) {  // in: qkv (N, W); d: N, NH, NKV, hd; theta in scal
    int N = c->d[0], NH = c->d[1], NKV = c->d[2], hd = c->d[3], W = (NH + 2 * NKV) * hd, half = hd / 2;
    memcpy(c->out, c->in[0], (size_t)N * W * sizeof(double));
    for (int i = 0; i < N; i++)
        for (int h = 0; h < NH + NKV; h++)
            for (int j = 0; j < half; j++) {
                double a = c->idx[i] * pow(c->scal, -2.0 * j / hd);
                const double *x = c->in[0] + (size_t)i * W + h * hd;
                double *y = c->out + (size_t)i * W + h * hd;
                y[j] = x[j] * cos(a) - x[j + half] * sin(a);
                y[j + half] = x[j + half] * cos(a) + x[j] * sin(a);
            }
}

static void ref_attention(Case *c) {  // in: qkv (B, T, W); d: B, T, NH, NKV, hd; idx: seg or NULL
    int B = c->d[0], T = c->d[1], NH = c->d[2], NKV = c->d[3], hd = c->d[4];
    int W = (NH + 2 * NKV) * hd, G = NH / NKV;
    double *p = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = c->in[0] + ((size_t)b * T + t) * W + h * hd;
                double mx = -INFINITY, sum = 0;
                int s0 = c->idx ? c->idx[(size_t)b * T + t] : 0;
                for (int s = s0; s <= t; s++) {
                    const double *k = c->in[0] + ((size_t)b * T + s) * W + (NH + h / G) * hd;
                    double d = 0;
                    for (int j = 0; j < hd; j++) d += q[j] * k[j];
                    p[s] = d / sqrt((double)hd);
                    mx = fmax(mx, p[s]);
                }
                for (int s = s0; s <= t; s++) sum += (p[s] = exp(p[s] - mx));
                double *o = c->out + ((size_t)b * T + t) * NH * hd + h * hd;
                for (int j = 0; j < hd; j++) {
                    double acc = 0;
                    for (int s = s0; s <= t; s++)
                        acc += p[s] / sum * c->in[0][((size_t)b * T + s) * W + (NH + NKV + h / G) * hd + j];
                    o[j] = acc;
                }
            }
    free(p);
}

static void ref_swiglu(Case *c) {  // in: gu (N, 2F)
    int N = c->d[0], F = c->d[1];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < F; j++) {
            double g = c->in[0][(size_t)i * 2 * F + j], u = c->in[0][(size_t)i * 2 * F + F + j];
            c->out[(size_t)i * F + j] = g / (1 + exp(-g)) * u;
        }
}

static void ref_logprob(Case *c) {  // in: logits (n, V); idx targets; scal inv_temp
    int n = c->d[0], V = c->d[1];
    for (int i = 0; i < n; i++) {
        const double *z = c->in[0] + (size_t)i * V;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, z[j] * c->scal);
        for (int j = 0; j < V; j++) s += exp(z[j] * c->scal - mx);
        c->out[i] = c->idx[i] < 0 ? 0 : z[c->idx[i]] * c->scal - mx - log(s);
    }
}

// ---------------------------------------------------------------------------
// harness

static float *randf(Rng *r, size_t n, float scale) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)rng_normal(r);
    return x;
}

static double *to_d(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static void case_init(Case *c, void (*fwd)(Case *), size_t nout, Rng *r) {
    c->fwd = fwd;
    c->nout = nout;
    c->out = calloc(nout, sizeof(double));
    float *g = randf(r, nout, 1.0f);
    c->dout = to_d(g, nout);
    free(g);
}

static void case_free(Case *c) {
    for (int k = 0; k < 4; k++) free(c->in[k]);
    free(c->out), free(c->dout);
}

static float *dout_f(const Case *c) {
    float *g = malloc(c->nout * sizeof(float));
    for (size_t i = 0; i < c->nout; i++) g[i] = (float)c->dout[i];
    return g;
}

// Relative error of the float forward output against the reference.
static double fwd_err(Case *c, const float *out) {
    c->fwd(c);
    float *ref = malloc(c->nout * sizeof(float));
    for (size_t i = 0; i < c->nout; i++) ref[i] = (float)c->out[i];
    double e = rel_err(out, ref, c->nout);
    free(ref);
    return e;
}

// Central differences of L on input k at up to `samples` random coordinates,
// against the analytic gradient; returns max|a - fd| / max|fd|.
static double fd_err(Case *c, int k, const float *analytic, int samples, Rng *r) {
    const double h = 1e-6;
    size_t n = c->n[k], m = n < (size_t)samples ? n : (size_t)samples;
    double num = 0, den = 0;
    for (size_t s = 0; s < m; s++) {
        size_t i = n <= (size_t)samples ? s : rng_below(r, n);
        double x = c->in[k][i];
        c->in[k][i] = x + h;
        double lp = loss_of(c);
        c->in[k][i] = x - h;
        double lm = loss_of(c);
        c->in[k][i] = x;
        double fd = (lp - lm) / (2 * h);
        num = fmax(num, fabs(fd - analytic[i]));
        den = fmax(den, fabs(fd));
    }
    return den > 0 ? num / den : num;
}

#define TOL_FWD 2e-6
#define TOL_BWD 1e-4

static const ModelOps *O;
static OpCtx *CX;

// Sizes below are chosen above the ops' parallel thresholds (PAR_MIN*), and
// three threads make the row/column splits uneven, so the partitioned code
// paths are the ones under test.
static void setup(void) { omp_set_num_threads(3); }

// Every test runs once per registered op table (model_ops_tables).
static const ModelOps *g_tables[4];
static int ntables(void) { return model_ops_tables(g_tables, 4); }
static void use_table(int i) {
    if (CX) O->ctx_free(CX);
    O = g_tables[i], CX = O->ctx_new();
}
static const char *table_name(int i) { return g_tables[i]->name; }
TEST_PASSES(ntables, use_table, table_name)

// ---------------------------------------------------------------------------

TEST(matmul_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 1);
    // Serial; split by rows; a decode-sized product split by output columns.
    int sizes[3][3] = {{70, 24, 40}, {200, 64, 96}, {3, 512, 700}};
    for (int si = 0; si < 3; si++) {
        int n = sizes[si][0], IC = sizes[si][1], OC = sizes[si][2];
        Case c = {0};
        float *inp = randf(&r, (size_t)n * IC, 1), *w = randf(&r, (size_t)OC * IC, 0.5f), *b = randf(&r, OC, 1);
        c.in[0] = to_d(inp, c.n[0] = (size_t)n * IC), c.in[1] = to_d(w, c.n[1] = (size_t)OC * IC);
        c.in[2] = to_d(b, c.n[2] = OC);
        c.d[0] = n, c.d[1] = IC, c.d[2] = OC;
        case_init(&c, ref_matmul, (size_t)n * OC, &r);
        float *out = malloc(c.nout * sizeof(float)), *g = dout_f(&c);
        O->matmul_forward(CX, out, inp, w, b, n, IC, OC);
        CHECK_MSG(fwd_err(&c, out) < TOL_FWD, "forward %g", fwd_err(&c, out));
        float *dinp = randf(&r, c.n[0], 1), *dw = calloc(c.n[1], 4), *db = calloc(OC, 4);
        float *dw0 = randf(&r, c.n[1], 1), *db0 = randf(&r, OC, 1);  // accumulate onto these
        memcpy(dw, dw0, c.n[1] * 4), memcpy(db, db0, OC * 4);
        O->matmul_backward(CX, dinp, dw, db, g, inp, w, n, IC, OC);
        for (size_t i = 0; i < c.n[1]; i++) dw[i] -= dw0[i];
        for (int i = 0; i < OC; i++) db[i] -= db0[i];
        CHECK_MSG(fd_err(&c, 0, dinp, 40, &r) < TOL_BWD, "dinp");
        CHECK_MSG(fd_err(&c, 1, dw, 40, &r) < TOL_BWD, "dw");
        CHECK_MSG(fd_err(&c, 2, db, 40, &r) < TOL_BWD, "dbias");
        free(inp), free(w), free(b), free(out), free(g), free(dinp), free(dw), free(db), free(dw0), free(db0);
        case_free(&c);
    }
}

TEST(rmsnorm_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 2);
    int N = 70, C = 520;
    Case c = {0};
    float *x = randf(&r, (size_t)N * C, 2), *w = randf(&r, C, 1);
    c.in[0] = to_d(x, c.n[0] = (size_t)N * C), c.in[1] = to_d(w, c.n[1] = C);
    c.d[0] = N, c.d[1] = C, c.scal = 1e-5f;
    case_init(&c, ref_rmsnorm, (size_t)N * C, &r);
    float *out = malloc(c.nout * 4), *rstd = malloc(N * 4), *g = dout_f(&c);
    O->rmsnorm_forward(CX, out, rstd, x, w, N, C, (float)c.scal);
    CHECK(fwd_err(&c, out) < TOL_FWD);
    float *dx0 = randf(&r, c.n[0], 1), *dx = malloc(c.n[0] * 4), *dw = calloc(C, 4);
    memcpy(dx, dx0, c.n[0] * 4);  // dx accumulates (residual stream)
    O->rmsnorm_backward(CX, dx, dw, g, x, w, rstd, N, C);
    for (size_t i = 0; i < c.n[0]; i++) dx[i] -= dx0[i];
    CHECK(fd_err(&c, 0, dx, 1000, &r) < TOL_BWD);
    CHECK(fd_err(&c, 1, dw, 1000, &r) < TOL_BWD);
    free(x), free(w), free(out), free(rstd), free(g), free(dx0), free(dx), free(dw);
    case_free(&c);
}

TEST(embedding_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 3);
    int N = 70, C = 520, V = 7;
    int32_t ids[70];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)rng_below(&r, V);
    ids[3] = ids[7] = ids[9];  // repeated ids must sum
    Case c = {0};
    float *wte = randf(&r, (size_t)V * C, 1);
    c.in[0] = to_d(wte, c.n[0] = (size_t)V * C);
    c.d[0] = N, c.d[1] = C, c.idx = ids;
    case_init(&c, ref_embedding, (size_t)N * C, &r);
    float *out = malloc(c.nout * 4), *g = dout_f(&c), *dwte = calloc(c.n[0], 4);
    O->embedding_forward(CX, out, ids, wte, N, C);
    CHECK(fwd_err(&c, out) == 0);
    O->embedding_backward(CX, dwte, g, ids, N, C, V);
    CHECK(fd_err(&c, 0, dwte, 1000, &r) < TOL_BWD);
    free(wte), free(out), free(g), free(dwte);
    case_free(&c);
}

TEST(rope_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 4);
    int N = 600, NH = 4, NKV = 2, hd = 8, W = (NH + 2 * NKV) * hd, half = hd / 2, P = 1000;
    float theta = 10000.0f;
    int32_t pos[600];
    for (int i = 0; i < N; i++) pos[i] = i < 3 ? i * 499 : (int32_t)rng_below(&r, P);
    float *cs = malloc((size_t)P * half * 4), *sn = malloc((size_t)P * half * 4);
    for (int p = 0; p < P; p++)
        for (int j = 0; j < half; j++) {
            double a = p * pow(theta, -2.0 * j / hd);
            cs[p * half + j] = (float)cos(a), sn[p * half + j] = (float)sin(a);
        }
    Case c = {0};
    float *x = randf(&r, (size_t)N * W, 1);
    c.in[0] = to_d(x, c.n[0] = (size_t)N * W);
    c.d[0] = N, c.d[1] = NH, c.d[2] = NKV, c.d[3] = hd, c.idx = pos, c.scal = theta;
    case_init(&c, ref_rope, (size_t)N * W, &r);
    float *y = malloc(c.nout * 4), *g = dout_f(&c);
    memcpy(y, x, c.nout * 4);
    O->rope_forward(CX, y, pos, cs, sn, N, NH, NKV, hd);
    CHECK(fwd_err(&c, y) < TOL_FWD);
    O->rope_backward(CX, g, pos, cs, sn, N, NH, NKV, hd);
    CHECK(fd_err(&c, 0, g, 200, &r) < TOL_BWD);
    free(cs), free(sn), free(x), free(y), free(g);
    case_free(&c);
}

TEST(attention_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 5);
    int B = 2, T = 130, NH = 4, NKV = 2, hd = 16, W = (NH + 2 * NKV) * hd;  // T: three 64-row blocks
    Case c = {0};
    float *qkv = randf(&r, (size_t)B * T * W, 1);
    c.in[0] = to_d(qkv, c.n[0] = (size_t)B * T * W);
    c.d[0] = B, c.d[1] = T, c.d[2] = NH, c.d[3] = NKV, c.d[4] = hd;
    case_init(&c, ref_attention, (size_t)B * T * NH * hd, &r);
    float *out = malloc(c.nout * 4), *lse = malloc((size_t)B * NH * T * 4), *g = dout_f(&c);
    float *dqkv = randf(&r, c.n[0], 1);  // overwritten
    O->attention_forward(CX, out, lse, qkv, NULL, B, T, NH, NKV, hd);
    CHECK_MSG(fwd_err(&c, out) < TOL_FWD, "forward %g", fwd_err(&c, out));
    O->attention_backward(CX, dqkv, g, qkv, out, lse, NULL, B, T, NH, NKV, hd);
    double e = fd_err(&c, 0, dqkv, 100, &r);
    CHECK_MSG(e < TOL_BWD, "dqkv %g", e);
    free(qkv), free(out), free(lse), free(g), free(dqkv);
    case_free(&c);
}

// Packed rows: sequences of 50, 70 and 10 positions in one row, 3 and 127 in
// the other (the boundaries fall inside the 64-row blocks and across them).
TEST(attention_segmented_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 6);
    int B = 2, T = 130, NH = 4, NKV = 2, hd = 8, W = (NH + 2 * NKV) * hd;
    int32_t *seg = malloc((size_t)B * T * sizeof *seg);
    for (int t = 0; t < T; t++) {
        seg[t] = t < 50 ? 0 : t < 120 ? 50 : 120;
        seg[T + t] = t < 3 ? 0 : 3;
    }
    Case c = {0};
    float *qkv = randf(&r, (size_t)B * T * W, 1);
    c.in[0] = to_d(qkv, c.n[0] = (size_t)B * T * W);
    c.d[0] = B, c.d[1] = T, c.d[2] = NH, c.d[3] = NKV, c.d[4] = hd;
    c.idx = seg;
    case_init(&c, ref_attention, (size_t)B * T * NH * hd, &r);
    float *out = malloc(c.nout * 4), *lse = malloc((size_t)B * NH * T * 4), *g = dout_f(&c);
    float *dqkv = randf(&r, c.n[0], 1);
    O->attention_forward(CX, out, lse, qkv, seg, B, T, NH, NKV, hd);
    CHECK_MSG(fwd_err(&c, out) < TOL_FWD, "forward %g", fwd_err(&c, out));
    O->attention_backward(CX, dqkv, g, qkv, out, lse, seg, B, T, NH, NKV, hd);
    double e = fd_err(&c, 0, dqkv, 100, &r);
    CHECK_MSG(e < TOL_BWD, "dqkv %g", e);
    // The mask matters: without it the output differs.
    float *plain = malloc(c.nout * 4);
    O->attention_forward(CX, plain, lse, qkv, NULL, B, T, NH, NKV, hd);
    CHECK(fabs(plain[(size_t)60 * NH * hd] - out[(size_t)60 * NH * hd]) > 1e-4);
    free(qkv), free(out), free(lse), free(g), free(dqkv), free(seg), free(plain);
    case_free(&c);
}

// x rounded to bfloat16's 8 significant bits, nearest even (frexp and
// nearbyint: independent of the op's bit arithmetic).
static float round_bf16(float x) {
    int e;
    double m = frexp(x, &e);
    return (float)ldexp(nearbyint(ldexp(m, 8)), e - 8);
}

// The cached attention equals the training attention row for row: two
// sequences in the cache at different lengths, one of them given several
// new rows (a prefill chunk), the other one (a decode step). With a bf16
// pool it equals, to float32 rounding, the training attention of keys and
// values rounded to bf16, and is within 1e-2 of the float32 one.
static void decode_case(int bf16) {
    setup();
    Rng r;
    rng_seed(&r, 6);
    int T = 130, NH = 8, NKV = 2, hd = 32, W = (NH + 2 * NKV) * hd, S = 3, L = 140;
    float *qkv = randf(&r, (size_t)2 * T * W, 1);  // (2, T, W)
    float *ref = malloc((size_t)2 * T * NH * hd * 4), *lse = malloc((size_t)2 * NH * T * 4);
    float *refr = malloc((size_t)2 * T * NH * hd * 4), *qkvr = malloc((size_t)2 * T * W * 4);
    O->attention_forward(CX, ref, lse, qkv, NULL, 2, T, NH, NKV, hd);
    for (size_t i = 0; i < (size_t)2 * T * W; i++) qkvr[i] = (int)(i % W) >= NH * hd ? round_bf16(qkv[i]) : qkv[i];
    O->attention_forward(CX, refr, lse, qkvr, NULL, 2, T, NH, NKV, hd);
    // A pool of R rows in scrambled order; slot 1 shares slot 2's first 40
    // positions (a fork) and owns the rest.
    int R = 400;
    void *kc = calloc((size_t)R * NKV * hd, 4), *vc = calloc((size_t)R * NKV * hd, 4);
    int32_t *table = malloc((size_t)S * L * 4), next = 0;
    for (int i = 0; i < S * L; i++) table[i] = -1;
    // Prefix: seq 0 rows [0, 60) into slot 2, seq 1 rows [0, 129) into slot 0.
    int32_t slot[260], pos[260], prow[260];
    int n = 0;
    for (int t = 0; t < 60; t++) slot[n] = 2, pos[n++] = t;
    for (int t = 0; t < 129; t++) slot[n] = 0, pos[n++] = t;
    float *rows = malloc((size_t)260 * W * 4);
    for (int i = 0; i < n; i++) {
        int b = slot[i] == 2 ? 0 : 1;
        memcpy(rows + (size_t)i * W, qkv + ((size_t)b * T + pos[i]) * W, W * 4);
        prow[i] = table[slot[i] * L + pos[i]] = (next++ * 7919) % R;  // distinct, scattered
    }
    O->kv_write(CX, kc, vc, rows, prow, n, NH, NKV, hd, bf16);
    for (int t = 0; t < 40; t++) table[1 * L + t] = table[2 * L + t];  // the fork: no K/V copied
    // New rows: seq 0 rows 60..129 (70, two row blocks), seq 1 row 129 (1),
    // and slot 1 (seq 0's first 40 positions, shared) rows 40..41 (2, direct path).
    n = 0;
    for (int t = 60; t < 130; t++) slot[n] = 2, pos[n++] = t;
    slot[n] = 0, pos[n++] = 129;
    for (int t = 40; t < 42; t++) slot[n] = 1, pos[n++] = t;
    for (int i = 0; i < n; i++) {
        int b = slot[i] == 0 ? 1 : 0;
        memcpy(rows + (size_t)i * W, qkv + ((size_t)b * T + pos[i]) * W, W * 4);
        prow[i] = table[slot[i] * L + pos[i]] = (next++ * 7919) % R;
    }
    O->kv_write(CX, kc, vc, rows, prow, n, NH, NKV, hd, bf16);
    int32_t seg_slot[3] = {2, 0, 1}, seg_pos[3] = {60, 129, 40}, seg_row[3] = {0, 70, 71}, seg_len[3] = {70, 1, 2};
    float *out = malloc((size_t)n * NH * hd * 4);
    O->attention_decode(CX, out, rows, kc, vc, table, seg_slot, seg_pos, seg_row, seg_len, 3, NH, NKV, hd, L, bf16);
    float *want = malloc((size_t)n * NH * hd * 4), *wantr = malloc((size_t)n * NH * hd * 4);
    for (int i = 0; i < n; i++) {
        int b = slot[i] == 0 ? 1 : 0;
        memcpy(want + (size_t)i * NH * hd, ref + ((size_t)b * T + pos[i]) * NH * hd, NH * hd * 4);
        memcpy(wantr + (size_t)i * NH * hd, refr + ((size_t)b * T + pos[i]) * NH * hd, NH * hd * 4);
    }
    double e = rel_err(out, want, (size_t)n * NH * hd), er = rel_err(out, wantr, (size_t)n * NH * hd);
    if (!bf16) CHECK_MSG(e < 1e-6, "float32 pool: %g", e);
    else {
        CHECK_MSG(er < 1e-6, "bf16 pool against bf16-rounded K/V: %g", er);
        CHECK_MSG(e < 1e-2 && e > 1e-5, "bf16 pool against float32 K/V: %g (rounding must show, and stay small)", e);
        printf("    bf16 pool: relative error %.2e against float32 K/V, %.2e against bf16-rounded K/V\n", e, er);
    }
    free(qkv), free(ref), free(lse), free(kc), free(vc), free(rows), free(out), free(want), free(table);
    free(refr), free(qkvr), free(wantr);
}

TEST(attention_decode_matches_training_attention) { decode_case(0); }
TEST(attention_decode_bf16_pool) { decode_case(1); }

TEST(swiglu_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 7);
    int N = 70, F = 520;
    Case c = {0};
    float *gu = randf(&r, (size_t)N * 2 * F, 2);
    c.in[0] = to_d(gu, c.n[0] = (size_t)N * 2 * F);
    c.d[0] = N, c.d[1] = F;
    case_init(&c, ref_swiglu, (size_t)N * F, &r);
    float *out = malloc(c.nout * 4), *g = dout_f(&c), *dgu = malloc(c.n[0] * 4);
    O->swiglu_forward(CX, out, gu, N, F);
    CHECK(fwd_err(&c, out) < TOL_FWD);
    O->swiglu_backward(CX, dgu, g, gu, N, F);
    CHECK(fd_err(&c, 0, dgu, 200, &r) < TOL_BWD);
    free(gu), free(out), free(g), free(dgu);
    case_free(&c);
}

TEST(logprob_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 8);
    int n = 70, V = 520;
    int32_t tg[70];
    for (int i = 0; i < n; i++) tg[i] = (int32_t)rng_below(&r, V);
    tg[1] = -1, tg[2] = V - 1, tg[3] = 0;
    for (int ti = 0; ti < 2; ti++) {
        float inv_temp = ti ? 1.0f / 0.7f : 1.0f;
        Case c = {0};
        float *z = randf(&r, (size_t)n * V, 3);
        c.in[0] = to_d(z, c.n[0] = (size_t)n * V);
        c.d[0] = n, c.d[1] = V, c.idx = tg, c.scal = inv_temp;
        case_init(&c, ref_logprob, n, &r);
        float *logp = malloc(n * 4), *lse = malloc(n * 4), *ent = malloc(n * 4), *g = dout_f(&c);
        O->logprob_forward(CX, logp, lse, ent, z, tg, n, V, inv_temp);
        CHECK(fwd_err(&c, logp) < TOL_FWD);
        CHECK(logp[1] == 0.0f);
        for (int i = 0; i < n; i++) {  // entropy = -sum p log p
            double H = 0, mx = -INFINITY, s = 0;
            for (int j = 0; j < V; j++) mx = fmax(mx, z[i * V + j] * inv_temp);
            for (int j = 0; j < V; j++) s += exp(z[i * V + j] * inv_temp - mx);
            for (int j = 0; j < V; j++) {
                double lp = z[i * V + j] * inv_temp - mx - log(s);
                H -= exp(lp) * lp;
            }
            CHECK_NEAR(ent[i], H, 1e-5);
        }
        O->logprob_backward(CX, z, lse, tg, g, n, V, inv_temp);  // z becomes dlogits
        CHECK(fd_err(&c, 0, z, 200, &r) < TOL_BWD);
        free(z), free(logp), free(lse), free(ent), free(g);
        case_free(&c);
    }
}

TEST(sumsq_and_elementwise) {
    setup();
    Rng r;
    rng_seed(&r, 9);
    size_t n = 200003;
    float *a = randf(&r, n, 1), *b = randf(&r, n, 1), *o = malloc(n * 4);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    CHECK_NEAR(O->sumsq(CX, a, n) / s, 1.0, 1e-12);
    O->add(CX, o, a, b, n);
    CHECK(o[n - 1] == a[n - 1] + b[n - 1]);
    O->accumulate(CX, o, a, n);
    CHECK(o[7] == (a[7] + b[7]) + a[7]);
    O->scale(CX, o, 0.5f, n);
    CHECK(o[7] == ((a[7] + b[7]) + a[7]) * 0.5f);
    free(a), free(b), free(o);
}
