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
    const int32_t *pre;  // attention: the shared prefix per row, or NULL
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

// Key s is seen by query t iff s <= t and (s >= seg[t] or s < pre[b]).
static void ref_attention(Case *c) {  // in: qkv (B, T, W); d: B, T, NH, NKV, hd; idx: seg or NULL; pre
    int B = c->d[0], T = c->d[1], NH = c->d[2], NKV = c->d[3], hd = c->d[4];
    int W = (NH + 2 * NKV) * hd, G = NH / NKV;
    double *p = malloc((size_t)T * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = c->in[0] + ((size_t)b * T + t) * W + h * hd;
                double mx = -INFINITY, sum = 0;
                int s0 = c->idx ? c->idx[(size_t)b * T + t] : 0, P = c->pre ? c->pre[b] : 0;
                for (int s = 0; s <= t; s++) {
                    p[s] = -INFINITY;
                    if (s < s0 && s >= P) continue;
                    const double *k = c->in[0] + ((size_t)b * T + s) * W + (NH + h / G) * hd;
                    double d = 0;
                    for (int j = 0; j < hd; j++) d += q[j] * k[j];
                    p[s] = d / sqrt((double)hd);
                    mx = fmax(mx, p[s]);
                }
                for (int s = 0; s <= t; s++) sum += (p[s] = exp(p[s] - mx));
                double *o = c->out + ((size_t)b * T + t) * NH * hd + h * hd;
                for (int j = 0; j < hd; j++) {
                    double acc = 0;
                    for (int s = 0; s <= t; s++)
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

// Tolerances per table. CPU: fp32 against the double reference, so rounding
// alone: 2e-6 relative forward, 1e-4 for the finite-difference checks (float
// rounding of the analytic gradient, ~1e-6, far below it).
// CUDA (ARCHITECTURE.md, "CUDA backend"):
//   - matmul: operands rounded to bf16 (8-bit mantissa, unit roundoff
//     2^-9 = 2e-3 each), fp32 accumulation. An output is a K-term dot
//     product whose rounding errors add with random signs, so its error is
//     about 2 * 2e-3 of the typical term size times sqrt(K), the same
//     scale as the output itself: ~4e-3 relative, and the maximum over a
//     few thousand outputs stays under ~1.5e-2. Forward 2e-2, backward 3e-2
//     (dw sums over N rows of rounded products; FD error adds nothing).
//   - every other op runs in fp32 with the CPU's formulas, only the order of
//     the sums differs (tree reductions, online softmax): a few ulp, so
//     1e-5 forward and the CPU's 1e-4 backward. Elementwise ops and copies
//     must be exact.
// With RS_CUDA_FP32=1 the matmuls run in fp32 and the fp32 bounds hold for
// them too (scripts/gpu-check.sh runs both).
typedef struct {
    double fwd, bwd, mm_fwd, mm_bwd, decode;
} Tol;
static const Tol TOL_CPU = {2e-6, 1e-4, 2e-6, 1e-4, 1e-6};
static const Tol TOL_CUDA = {1e-5, 1e-4, 2e-2, 3e-2, 1e-5};
static Tol TOL;
#define TOL_FWD (TOL.fwd)
#define TOL_BWD (TOL.bwd)

static const ModelOps *O;
static OpCtx *CX;

// Ops take backend memory: inputs go in through alloc + upload, results
// come back through download (for the CPU table these are plain copies).
// Buffers live until the next test starts.
static void *g_dev[256];
static int g_ndev;
static void dev_free_all(void) {
    for (int i = 0; i < g_ndev; i++) O->free(CX, g_dev[i]);
    g_ndev = 0;
}
static void *dev_put(const void *host, size_t bytes) {
    if (g_ndev == (int)(sizeof g_dev / sizeof g_dev[0])) abort();
    void *d = g_dev[g_ndev++] = O->alloc(CX, bytes ? bytes : 4);
    if (host && bytes) O->upload(CX, d, host, bytes);
    return d;
}
static float *dev_f(const float *host, size_t n) { return dev_put(host, n * sizeof(float)); }
static int32_t *dev_i(const int32_t *host, size_t n) { return dev_put(host, n * sizeof(int32_t)); }
static float *dev_zeros(size_t n) { return dev_put(NULL, n * sizeof(float)); }
static void fetch(float *host, const float *d, size_t n) { O->download(CX, host, d, n * sizeof(float)); }

// The backend's sticky error (ops.h, error) must stay clear through a test.
static void check_backend(void) {
    const char *why = O->error ? O->error(CX) : NULL;
    CHECK_MSG(why == NULL, "backend error: %s", why ? why : "");
}

// Sizes below are chosen above the ops' parallel thresholds (PAR_MIN*), and
// three threads make the row/column splits uneven, so the partitioned code
// paths are the ones under test.
static void setup(void) {
    omp_set_num_threads(3);
    dev_free_all();
}

// Every test runs once per registered op table (model_ops_tables): the CPU
// table everywhere, the CUDA one too on a machine with a usable GPU.
static const ModelOps *g_tables[4];
static int ntables(void) { return model_ops_tables(g_tables, 4); }
static void at_exit(void) {
    if (!CX) return;
    dev_free_all();
    O->ctx_free(CX);
    CX = NULL;
}
static void use_table(int i) {
    if (CX) dev_free_all(), O->ctx_free(CX);
    else atexit(at_exit);
    O = g_tables[i], CX = O->ctx_new();
    TOL = strcmp(O->name, "cpu") == 0 ? TOL_CPU : TOL_CUDA;
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
        float *d_inp = dev_f(inp, c.n[0]), *d_w = dev_f(w, c.n[1]), *d_b = dev_f(b, OC), *d_out = dev_zeros(c.nout);
        O->matmul_forward(CX, d_out, d_inp, d_w, d_b, n, IC, OC);
        fetch(out, d_out, c.nout);
        CHECK_MSG(fwd_err(&c, out) < TOL.mm_fwd, "forward %g", fwd_err(&c, out));
        float *dinp = randf(&r, c.n[0], 1), *dw = malloc(c.n[1] * 4), *db = malloc(OC * 4);
        float *dw0 = randf(&r, c.n[1], 1), *db0 = randf(&r, OC, 1);  // accumulate onto these
        float *d_dinp = dev_f(dinp, c.n[0]), *d_dw = dev_f(dw0, c.n[1]), *d_db = dev_f(db0, OC), *d_g = dev_f(g, c.nout);
        O->matmul_backward(CX, d_dinp, d_dw, d_db, d_g, d_inp, d_w, n, IC, OC);
        fetch(dinp, d_dinp, c.n[0]), fetch(dw, d_dw, c.n[1]), fetch(db, d_db, OC);
        for (size_t i = 0; i < c.n[1]; i++) dw[i] -= dw0[i];
        for (int i = 0; i < OC; i++) db[i] -= db0[i];
        CHECK_MSG(fd_err(&c, 0, dinp, 40, &r) < TOL.mm_bwd, "dinp");
        CHECK_MSG(fd_err(&c, 1, dw, 40, &r) < TOL.mm_bwd, "dw");
        CHECK_MSG(fd_err(&c, 2, db, 40, &r) < TOL_BWD, "dbias");  // a column sum: no bf16 rounding
        check_backend();
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
    float *out = malloc(c.nout * 4), *g = dout_f(&c);
    float *d_x = dev_f(x, c.n[0]), *d_w = dev_f(w, C), *d_out = dev_zeros(c.nout), *d_rstd = dev_zeros(N);
    O->rmsnorm_forward(CX, d_out, d_rstd, d_x, d_w, N, C, (float)c.scal);
    fetch(out, d_out, c.nout);
    CHECK(fwd_err(&c, out) < TOL_FWD);
    float *dx0 = randf(&r, c.n[0], 1), *dx = malloc(c.n[0] * 4), *dw = malloc(C * 4);
    float *d_dx = dev_f(dx0, c.n[0]), *d_dw = dev_zeros(C), *d_g = dev_f(g, c.nout);  // dx accumulates (residual stream)
    O->rmsnorm_backward(CX, d_dx, d_dw, d_g, d_x, d_w, d_rstd, N, C);
    fetch(dx, d_dx, c.n[0]), fetch(dw, d_dw, C);
    for (size_t i = 0; i < c.n[0]; i++) dx[i] -= dx0[i];
    CHECK(fd_err(&c, 0, dx, 1000, &r) < TOL_BWD);
    CHECK(fd_err(&c, 1, dw, 1000, &r) < TOL_BWD);
    check_backend();
    free(x), free(w), free(out), free(g), free(dx0), free(dx), free(dw);
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
    float *out = malloc(c.nout * 4), *g = dout_f(&c), *dwte = malloc(c.n[0] * 4);
    int32_t *d_ids = dev_i(ids, N);
    float *d_wte = dev_f(wte, c.n[0]), *d_out = dev_zeros(c.nout), *d_dwte = dev_zeros(c.n[0]), *d_g = dev_f(g, c.nout);
    O->embedding_forward(CX, d_out, d_ids, d_wte, N, C);
    fetch(out, d_out, c.nout);
    CHECK(fwd_err(&c, out) == 0);
    O->embedding_backward(CX, d_dwte, d_g, d_ids, N, C, V);
    fetch(dwte, d_dwte, c.n[0]);
    CHECK(fd_err(&c, 0, dwte, 1000, &r) < TOL_BWD);
    check_backend();
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
    int32_t *d_pos = dev_i(pos, N);
    float *d_cs = dev_f(cs, (size_t)P * half), *d_sn = dev_f(sn, (size_t)P * half);
    float *d_y = dev_f(x, c.nout), *d_g = dev_f(g, c.nout);
    O->rope_forward(CX, d_y, d_pos, d_cs, d_sn, N, NH, NKV, hd);
    fetch(y, d_y, c.nout);
    CHECK(fwd_err(&c, y) < TOL_FWD);
    O->rope_backward(CX, d_g, d_pos, d_cs, d_sn, N, NH, NKV, hd);
    fetch(g, d_g, c.nout);
    CHECK(fd_err(&c, 0, g, 200, &r) < TOL_BWD);
    check_backend();
    free(cs), free(sn), free(x), free(y), free(g);
    case_free(&c);
}

// Forward and backward of the training attention on one Case; seg NULL or
// packed rows. Returns the forward output (host, caller frees).
static float *attention_case(Case *c, const float *qkv, const int32_t *seg, int B, int T, int NH, int NKV, int hd,
                             Rng *r) {
    int32_t *d_pre = c->pre ? dev_i(c->pre, (size_t)B) : NULL;
    float *out = malloc(c->nout * 4), *g = dout_f(c), *dqkv = randf(r, c->n[0], 1);  // dqkv: overwritten
    int32_t *d_seg = seg ? dev_i(seg, (size_t)B * T) : NULL;
    float *d_qkv = dev_f(qkv, c->n[0]), *d_out = dev_zeros(c->nout), *d_lse = dev_zeros((size_t)B * NH * T);
    float *d_g = dev_f(g, c->nout), *d_dqkv = dev_f(dqkv, c->n[0]);
    O->attention_forward(CX, d_out, d_lse, d_qkv, d_seg, d_pre, B, T, NH, NKV, hd);
    fetch(out, d_out, c->nout);
    CHECK_MSG(fwd_err(c, out) < TOL_FWD, "forward %g", fwd_err(c, out));
    O->attention_backward(CX, d_dqkv, d_g, d_qkv, d_out, d_lse, d_seg, d_pre, B, T, NH, NKV, hd);
    fetch(dqkv, d_dqkv, c->n[0]);
    double e = fd_err(c, 0, dqkv, 100, r);
    CHECK_MSG(e < TOL_BWD, "dqkv %g", e);
    check_backend();
    free(g), free(dqkv);
    return out;
}

// One attention case of shape (B, T, NH, NKV, hd) with inputs of size scale.
static void attention_shape(Rng *r, int B, int T, int NH, int NKV, int hd, float scale) {
    int W = (NH + 2 * NKV) * hd;
    Case c = {0};
    float *qkv = randf(r, (size_t)B * T * W, scale);
    c.in[0] = to_d(qkv, c.n[0] = (size_t)B * T * W);
    c.d[0] = B, c.d[1] = T, c.d[2] = NH, c.d[3] = NKV, c.d[4] = hd;
    case_init(&c, ref_attention, (size_t)B * T * NH * hd, r);
    free(attention_case(&c, qkv, NULL, B, T, NH, NKV, hd, r));
    free(qkv);
    case_free(&c);
}

TEST(attention_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 5);
    attention_shape(&r, 2, 130, 4, 2, 16, 1);  // T: three 64-row blocks
}

// Head sizes the CUDA kernels build separately (columns per lane 2 and 4),
// with GQA groups of 4.
TEST(attention_head_sizes) {
    setup();
    Rng r;
    rng_seed(&r, 15);
    int hds[2] = {64, 128};
    for (int k = 0; k < 2; k++) attention_shape(&r, 1, 70, 4, 1, hds[k], 0.5f);
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
    float *out = attention_case(&c, qkv, seg, B, T, NH, NKV, hd, &r);
    // The mask matters: without it the output differs.
    float *plain = malloc(c.nout * 4), *d_plain = dev_zeros(c.nout), *d_lse = dev_zeros((size_t)B * NH * T);
    O->attention_forward(CX, d_plain, d_lse, dev_f(qkv, c.n[0]), NULL, NULL, B, T, NH, NKV, hd);
    fetch(plain, d_plain, c.nout);
    CHECK(fabs(plain[(size_t)60 * NH * hd] - out[(size_t)60 * NH * hd]) > 1e-4);
    free(qkv), free(out), free(seg), free(plain);
    case_free(&c);
}

// A shared prefix per row (RL: a prompt, then its samples): row 0 holds a
// 37-position prefix inside a first sequence of 45, then sequences at 45,
// 80 and 100; row 1 a prefix that is its whole first sequence (70), then
// sequences of 1 and 58 positions. The boundaries fall inside and across the
// CUDA kernels' 32-key tiles and the CPU's 64-row blocks.
TEST(attention_shared_prefix_forward_backward) {
    setup();
    Rng r;
    rng_seed(&r, 8);
    int B = 2, T = 130, NH = 4, NKV = 2, hd = 8, W = (NH + 2 * NKV) * hd;
    int32_t *seg = malloc((size_t)B * T * sizeof *seg), pre[2] = {37, 70};
    for (int t = 0; t < T; t++) {
        seg[t] = t < 45 ? 0 : t < 80 ? 45 : t < 100 ? 80 : 100;
        seg[T + t] = t < 70 ? 0 : t < 71 ? 70 : 71;
    }
    Case c = {0};
    float *qkv = randf(&r, (size_t)B * T * W, 1);
    c.in[0] = to_d(qkv, c.n[0] = (size_t)B * T * W);
    c.d[0] = B, c.d[1] = T, c.d[2] = NH, c.d[3] = NKV, c.d[4] = hd;
    c.idx = seg, c.pre = pre;
    case_init(&c, ref_attention, (size_t)B * T * NH * hd, &r);
    float *out = attention_case(&c, qkv, seg, B, T, NH, NKV, hd, &r);
    // The prefix matters: without it a later sequence's output differs.
    float *plain = malloc(c.nout * 4), *d_plain = dev_zeros(c.nout), *d_lse = dev_zeros((size_t)B * NH * T);
    O->attention_forward(CX, d_plain, d_lse, dev_f(qkv, c.n[0]), dev_i(seg, (size_t)B * T), NULL, B, T, NH, NKV, hd);
    fetch(plain, d_plain, c.nout);
    CHECK(fabs(plain[(size_t)90 * NH * hd] - out[(size_t)90 * NH * hd]) > 1e-4);
    free(qkv), free(out), free(seg), free(plain);
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
static void decode_case(int bf16, int hd) {
    setup();
    Rng r;
    rng_seed(&r, 6);
    int T = 130, NH = 8, NKV = 2, W = (NH + 2 * NKV) * hd, S = 3, L = 140;
    float *qkv = randf(&r, (size_t)2 * T * W, 1);  // (2, T, W)
    float *ref = malloc((size_t)2 * T * NH * hd * 4), *refr = malloc((size_t)2 * T * NH * hd * 4);
    float *qkvr = malloc((size_t)2 * T * W * 4);
    for (size_t i = 0; i < (size_t)2 * T * W; i++) qkvr[i] = (int)(i % W) >= NH * hd ? round_bf16(qkv[i]) : qkv[i];
    float *d_ref = dev_zeros((size_t)2 * T * NH * hd), *d_lse = dev_zeros((size_t)2 * NH * T);
    O->attention_forward(CX, d_ref, d_lse, dev_f(qkv, (size_t)2 * T * W), NULL, NULL, 2, T, NH, NKV, hd);
    fetch(ref, d_ref, (size_t)2 * T * NH * hd);
    O->attention_forward(CX, d_ref, d_lse, dev_f(qkvr, (size_t)2 * T * W), NULL, NULL, 2, T, NH, NKV, hd);
    fetch(refr, d_ref, (size_t)2 * T * NH * hd);
    // A pool of R rows in scrambled order; slot 1 shares slot 2's first 40
    // positions (a fork) and owns the rest. (float-sized elements: room for either type)
    int R = 400;
    void *kc = dev_zeros((size_t)R * NKV * hd), *vc = dev_zeros((size_t)R * NKV * hd);
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
    O->kv_write(CX, kc, vc, dev_f(rows, (size_t)n * W), dev_i(prow, n), n, NH, NKV, hd, bf16);
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
    float *d_rows = dev_f(rows, (size_t)n * W);
    O->kv_write(CX, kc, vc, d_rows, dev_i(prow, n), n, NH, NKV, hd, bf16);
    int32_t seg_slot[3] = {2, 0, 1}, seg_pos[3] = {60, 129, 40}, seg_row[3] = {0, 70, 71}, seg_len[3] = {70, 1, 2};
    float *out = malloc((size_t)n * NH * hd * 4), *d_out = dev_zeros((size_t)n * NH * hd);
    O->attention_decode(CX, d_out, d_rows, kc, vc, dev_i(table, (size_t)S * L), dev_i(seg_slot, 3), dev_i(seg_pos, 3),
                        dev_i(seg_row, 3), dev_i(seg_len, 3), 3, NH, NKV, hd, L, bf16);
    fetch(out, d_out, (size_t)n * NH * hd);
    float *want = malloc((size_t)n * NH * hd * 4), *wantr = malloc((size_t)n * NH * hd * 4);
    for (int i = 0; i < n; i++) {
        int b = slot[i] == 0 ? 1 : 0;
        memcpy(want + (size_t)i * NH * hd, ref + ((size_t)b * T + pos[i]) * NH * hd, NH * hd * 4);
        memcpy(wantr + (size_t)i * NH * hd, refr + ((size_t)b * T + pos[i]) * NH * hd, NH * hd * 4);
    }
    double e = rel_err(out, want, (size_t)n * NH * hd), er = rel_err(out, wantr, (size_t)n * NH * hd);
    if (!bf16) CHECK_MSG(e < TOL.decode, "float32 pool: %g", e);
    else {
        CHECK_MSG(er < TOL.decode, "bf16 pool against bf16-rounded K/V: %g", er);
        CHECK_MSG(e < 1e-2 && e > 1e-5, "bf16 pool against float32 K/V: %g (rounding must show, and stay small)", e);
        printf("    bf16 pool: relative error %.2e against float32 K/V, %.2e against bf16-rounded K/V\n", e, er);
    }
    check_backend();
    free(qkv), free(ref), free(rows), free(out), free(want), free(table);
    free(refr), free(qkvr), free(wantr);
}

// Head dimension 32 (narrower than the CPU's 64-column register sums) and 96
// (one such pass and a remainder).
TEST(attention_decode_matches_training_attention) { decode_case(0, 32), decode_case(0, 96); }
TEST(attention_decode_bf16_pool) { decode_case(1, 32), decode_case(1, 96); }

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
    float *d_gu = dev_f(gu, c.n[0]), *d_out = dev_zeros(c.nout), *d_g = dev_f(g, c.nout), *d_dgu = dev_zeros(c.n[0]);
    O->swiglu_forward(CX, d_out, d_gu, N, F);
    fetch(out, d_out, c.nout);
    CHECK(fwd_err(&c, out) < TOL_FWD);
    O->swiglu_backward(CX, d_dgu, d_g, d_gu, N, F);
    fetch(dgu, d_dgu, c.n[0]);
    CHECK(fd_err(&c, 0, dgu, 200, &r) < TOL_BWD);
    check_backend();
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
    int32_t *d_tg = dev_i(tg, n);
    for (int ti = 0; ti < 2; ti++) {
        float inv_temp = ti ? 1.0f / 0.7f : 1.0f;
        Case c = {0};
        float *z = randf(&r, (size_t)n * V, 3);
        c.in[0] = to_d(z, c.n[0] = (size_t)n * V);
        c.d[0] = n, c.d[1] = V, c.idx = tg, c.scal = inv_temp;
        case_init(&c, ref_logprob, n, &r);
        float *logp = malloc(n * 4), *ent = malloc(n * 4), *g = dout_f(&c);
        float *d_z = dev_f(z, c.n[0]), *d_logp = dev_zeros(n), *d_lse = dev_zeros(n), *d_ent = dev_zeros(n);
        O->logprob_forward(CX, d_logp, d_lse, d_ent, d_z, d_tg, n, V, inv_temp);
        fetch(logp, d_logp, n), fetch(ent, d_ent, n);
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
        O->logprob_backward(CX, d_z, d_lse, d_tg, dev_f(g, n), n, V, inv_temp);  // z becomes dlogits
        fetch(z, d_z, c.n[0]);
        CHECK(fd_err(&c, 0, z, 200, &r) < TOL_BWD);
        check_backend();
        free(z), free(logp), free(ent), free(g);
        case_free(&c);
    }
}

TEST(sumsq_and_elementwise) {
    setup();
    Rng r;
    rng_seed(&r, 9);
    size_t n = 200003;
    float *a = randf(&r, n, 1), *b = randf(&r, n, 1), *o = malloc(n * 4);
    float *d_a = dev_f(a, n), *d_b = dev_f(b, n), *d_o = dev_zeros(n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    CHECK_NEAR(O->sumsq(CX, d_a, n) / s, 1.0, 1e-12);
    O->add(CX, d_o, d_a, d_b, n);
    fetch(o, d_o, n);
    CHECK(o[n - 1] == a[n - 1] + b[n - 1]);
    O->accumulate(CX, d_o, d_a, n);
    fetch(o, d_o, n);
    CHECK(o[7] == (a[7] + b[7]) + a[7]);
    O->scale(CX, d_o, 0.5f, n);
    fetch(o, d_o, n);
    CHECK(o[7] == ((a[7] + b[7]) + a[7]) * 0.5f);
    check_backend();
    free(a), free(b), free(o);
}

// AdamW on the flat buffer against torch's formula in double (one step from
// given moments, decay on, gradient scaled as clipping does).
TEST(adamw_update_matches_formula) {
    setup();
    Rng r;
    rng_seed(&r, 10);
    size_t n = 100003;
    float *p = randf(&r, n, 1), *g = randf(&r, n, 1), *m = randf(&r, n, 0.1f), *v = randf(&r, n, 0.1f);
    for (size_t i = 0; i < n; i++) v[i] = v[i] * v[i];
    float *d_p = dev_f(p, n), *d_g = dev_f(g, n), *d_m = dev_f(m, n), *d_v = dev_f(v, n);
    float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
    int64_t t = 3;
    O->adamw_update(CX, d_p, d_g, d_m, d_v, n, lr, b1, b2, eps, wd, gs, t);
    float *p1 = malloc(n * 4), *m1 = malloc(n * 4), *v1 = malloc(n * 4);
    fetch(p1, d_p, n), fetch(m1, d_m, n), fetch(v1, d_v, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double gi = (double)g[i] * gs, mi = b1 * (double)m[i] + (1 - b1) * gi, vi = b2 * (double)v[i] + (1 - b2) * gi * gi;
        double pi = p[i] * (1 - (double)lr * wd);
        pi -= lr * (mi / (1 - pow(b1, t))) / (sqrt(vi / (1 - pow(b2, t))) + eps);
        worst = fmax(worst, fabs(pi - p1[i]) / lr);  // error relative to the step size
        worst = fmax(worst, fabs(mi - m1[i]) / (fabs(mi) + 1e-3));
    }
    CHECK_MSG(worst < 1e-3, "adamw %g", worst);
    check_backend();
    free(p), free(g), free(m), free(v), free(p1), free(m1), free(v1);
}
