// ops.h: the op table the transformer is written against. Each backend (CPU:
// C11 + OpenMP + cblas_sgemm; CUDA, model/cuda/: cuBLASLt bf16 products and
// own kernels, ARCHITECTURE.md "CUDA backend") fills one ModelOps with the
// same signatures; the model code never
// touches a backend directly. The CPU op is the specification: a CUDA op is
// checked against it per element on random inputs.
//
// Conventions for every op:
//   - All tensors are row-major float32 on the backend's memory (for CPU,
//     host memory); shapes are in the comment on each argument.
//   - N is a number of token positions (B*T flattened); C the model width;
//     hd the head dimension; NH query heads, NKV key/value heads (GQA:
//     NH % NKV == 0, query head h reads kv head h / (NH/NKV)).
//   - The fused projection output "qkv" is (N, (NH + 2*NKV) * hd): per row,
//     the NH query heads, then NKV key heads, then NKV value heads, each hd
//     wide — exactly what one matmul with the concatenation of q_proj,
//     k_proj, v_proj weights produces (the parameter table keeps them
//     adjacent so that concatenation is free).
//   - Backward ops ACCUMULATE into parameter gradients (dw, dbias: +=) and
//     OVERWRITE activation gradients (dinp, dx, dqkv: =) unless the comment
//     says otherwise, so no activation gradient buffer needs zeroing.
//   - The first argument is the backend context (a stream and handles on
//     CUDA; thread scratch on CPU). Ops return nothing: shapes are the
//     caller's invariants (RS_CHECK), not user input. A device can still
//     fail (a CUDA fault, a lost GPU): the backend then keeps the first
//     failure in its context, and `error` returns it (ARCHITECTURE.md,
//     "CUDA backend"); the model checks it after each forward, backward and
//     decode and returns it as an Err (model_check).
// Thread-safety: one OpCtx per thread of control; ops on one ctx are serial.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct OpCtx OpCtx;

typedef struct ModelOps {
    const char *name;  // "cpu", "cuda"
    // model_decode may split a batch's sequences across host threads, each
    // running every op on its share with an OpCtx of its own (one parallel
    // region per call instead of one per op: ARCHITECTURE.md, "Decoding on
    // the CPU"). 0 for a device backend, whose ops queue on one stream.
    int split_decode;
    // Backend memory is host memory (the CPU table): results may be written
    // straight into the caller's arrays instead of through a download.
    int host_memory;

    // --- context and memory ---------------------------------------------
    OpCtx *(*ctx_new)(void);
    void (*ctx_free)(OpCtx *cx);                       // NULL is fine
    void *(*alloc)(OpCtx *cx, size_t bytes);           // zeroed; aborts on OOM
    void (*free)(OpCtx *cx, void *p);                  // NULL is fine
    void (*upload)(OpCtx *cx, void *dst, const void *src, size_t bytes);    // host -> backend
    void (*download)(OpCtx *cx, void *dst, const void *src, size_t bytes);  // backend -> host
    void (*copy)(OpCtx *cx, void *dst, const void *src, size_t bytes);      // backend -> backend
    void (*zero)(OpCtx *cx, void *p, size_t bytes);
    void (*sync)(OpCtx *cx);  // wait for queued work (no-op on CPU)
    // The first failure since ctx_new ("CUDA op attn_forward_kernel on device
    // 0 failed: an illegal memory access ..."), or NULL while there is none.
    // Sticky: the context is unusable after a failure. NULL pointer: the
    // backend cannot fail (CPU).
    const char *(*error)(OpCtx *cx);

    // --- elementwise ------------------------------------------------------
    // out = a + b (n). out may alias a or b.
    void (*add)(OpCtx *cx, float *out, const float *a, const float *b, size_t n);
    // y += x (n).
    void (*accumulate)(OpCtx *cx, float *y, const float *x, size_t n);
    // x *= s (n).
    void (*scale)(OpCtx *cx, float *x, float s, size_t n);

    // --- embedding ----------------------------------------------------------
    // out (N, C) = wte[ids[i]] (wte (V, C)). ids are validated by the caller.
    void (*embedding_forward)(OpCtx *cx, float *out, const int32_t *ids, const float *wte, int N,
                              int C);
    // dwte[ids[i]] += dout[i] (dout (N, C)); deterministic for repeated ids.
    void (*embedding_backward)(OpCtx *cx, float *dwte, const float *dout, const int32_t *ids,
                               int N, int C, int V);

    // --- RMSNorm: out = x / sqrt(mean(x^2) + eps) * w ------------------------
    // out (N, C); rstd (N) saved for backward (may be NULL at inference).
    void (*rmsnorm_forward)(OpCtx *cx, float *out, float *rstd, const float *x, const float *w,
                            int N, int C, float eps);
    // dx (N, C) += (accumulates: x is on the residual stream); dw (C) +=.
    void (*rmsnorm_backward)(OpCtx *cx, float *dx, float *dw, const float *dout, const float *x,
                             const float *w, const float *rstd, int N, int C);

    // --- linear layer: out = inp @ w^T + bias --------------------------------
    // out (N, OC), inp (N, IC), w (OC, IC) (torch nn.Linear layout), bias (OC) or NULL.
    void (*matmul_forward)(OpCtx *cx, float *out, const float *inp, const float *w,
                           const float *bias, int N, int IC, int OC);
    // dinp (N, IC) = dout @ w (skipped when NULL); dw (OC, IC) += dout^T @ inp
    // (skipped when NULL); dbias (OC) += colsum(dout) (skipped when NULL).
    void (*matmul_backward)(OpCtx *cx, float *dinp, float *dw, float *dbias, const float *dout,
                            const float *inp, const float *w, int N, int IC, int OC);

    // --- RoPE, Hugging Face rotate-half layout, in place ---------------------
    // Rotates the NH query heads and NKV key heads of qkv (N, (NH+2NKV)*hd)
    // by position pos[i]: for j < hd/2, (x_j, x_{j+hd/2}) -> (x_j c - x_{j+hd/2} s,
    // x_{j+hd/2} c + x_j s) with c = cos[pos][j], s = sin[pos][j];
    // cos, sin (max_pos, hd/2). Value heads are untouched.
    void (*rope_forward)(OpCtx *cx, float *qkv, const int32_t *pos, const float *cos,
                         const float *sin, int N, int NH, int NKV, int hd);
    // The transpose (inverse rotation) applied in place to dqkv.
    void (*rope_backward)(OpCtx *cx, float *dqkv, const int32_t *pos, const float *cos,
                          const float *sin, int N, int NH, int NKV, int hd);

    // --- causal self-attention (training) ------------------------------------
    // qkv (B, T, (NH+2NKV)*hd) after RoPE; out (B, T, NH*hd) = softmax(q k^T /
    // sqrt(hd), causal) v per head; lse (B, NH, T) the log-sum-exp of each
    // score row, saved so backward recomputes probabilities instead of
    // storing (B, NH, T, T).
    // seg (B, T) or NULL: packed rows (SFT). seg[b, t] is the position in row b
    // where the sequence holding t starts (seg[b, t] <= t; a run of equal
    // values per sequence); position t attends keys seg[b, t] .. t only, a
    // block-diagonal causal mask. NULL: every row is one sequence.
    // pre (B) or NULL (only with seg): a shared prefix per row (RL's prompt,
    // once for its G samples): every position also attends keys 0 ..
    // pre[b] - 1, which lie inside the row's first sequence. So key s is
    // seen by query t iff s <= t and (s >= seg[b, t] or s < pre[b]): a tree.
    void (*attention_forward)(OpCtx *cx, float *out, float *lse, const float *qkv, const int32_t *seg,
                              const int32_t *pre, int B, int T, int NH, int NKV, int hd);
    // dqkv (B, T, (NH+2NKV)*hd) = (overwritten) gradient wrt the post-RoPE qkv.
    void (*attention_backward)(OpCtx *cx, float *dqkv, const float *dout, const float *qkv,
                               const float *out, const float *lse, const int32_t *seg, const int32_t *pre,
                               int B, int T, int NH, int NKV, int hd);

    // --- attention against a KV cache (inference) ----------------------------
    // The cache is a pool of rows shared by all sequences (SGLang's token
    // pool; vLLM's paged blocks with a block of one position): kcache,
    // vcache are one layer's pool, (R, NKV, hd). A table (S, max_len) gives
    // each slot's pool row per position: position j of slot s is row
    // table[s * max_len + j]. Sequences that share a prefix (G samples of one
    // prompt) point at the same rows: the prompt's keys and values exist once
    // and a fork copies no K/V, only table entries.
    //
    // Pool elements are float32, or with bf16 set bfloat16 (uint16_t: the
    // float's top half, rounded to nearest even): half the memory that every
    // decode step streams, the output then within 1e-2 relative of float32
    // K/V (ARCHITECTURE.md, "Decoding on the CPU"). Scores, softmax
    // and the weighted sum stay float32 either way.
    //
    // Writes the key/value heads of qkv (N, (NH+2NKV)*hd) row i into pool row
    // rows[i] (distinct rows).
    void (*kv_write)(OpCtx *cx, void *kcache, void *vcache, const float *qkv, const int32_t *rows,
                     int N, int NH, int NKV, int hd, int bf16);
    // The N rows of qkv form nseg segments of consecutive rows; segment s is
    // rows [seg_row[s], seg_row[s] + seg_len[s]) of slot seg_slot[s], the
    // first at position seg_pos[s]. Row r of a segment attends to positions
    // 0 .. seg_pos[s] + r of its slot (its own k/v already written by
    // kv_write), read through table. out (N, NH*hd).
    void (*attention_decode)(OpCtx *cx, float *out, const float *qkv, const void *kcache,
                             const void *vcache, const int32_t *table, const int32_t *seg_slot,
                             const int32_t *seg_pos, const int32_t *seg_row,
                             const int32_t *seg_len, int nseg, int NH, int NKV, int hd,
                             int max_len, int bf16);

    // --- SwiGLU: out = silu(gate) * up ---------------------------------------
    // gu (N, 2F): per row the F gate values then the F up values (one matmul
    // with gate_proj and up_proj adjacent); out (N, F).
    void (*swiglu_forward)(OpCtx *cx, float *out, const float *gu, int N, int F);
    // dgu (N, 2F) = (overwritten).
    void (*swiglu_backward)(OpCtx *cx, float *dgu, const float *dout, const float *gu, int N,
                            int F);

    // --- log-probability of targets --------------------------------------------
    // logits (n, V) of one chunk of positions; z = logits * inv_temp;
    // lse[i] = logsumexp(z[i]); logp[i] = z[i][targets[i]] - lse[i], or 0 when
    // targets[i] < 0. entropy (n) or NULL: -sum p log p of softmax(z[i]).
    void (*logprob_forward)(OpCtx *cx, float *logp, float *lse, float *entropy,
                            const float *logits, const int32_t *targets, int n, int V,
                            float inv_temp);
    // In place: logits (n, V) becomes d(loss)/d(logits) =
    // dlogp[i] * inv_temp * (onehot(targets[i]) - softmax(z[i])); rows with
    // targets[i] < 0 become 0.
    void (*logprob_backward)(OpCtx *cx, float *logits, const float *lse, const int32_t *targets,
                             const float *dlogp, int n, int V, float inv_temp);

    // --- optimizer ---------------------------------------------------------------
    // Sum of squares of g (n), in double, for global-norm clipping.
    double (*sumsq)(OpCtx *cx, const float *g, size_t n);
    // One AdamW step on n parameters (torch.optim.AdamW semantics):
    //   g' = g * grad_scale; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
    //   p -= lr * wd * p (decoupled; wd = 0 for excluded tensors);
    //   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
    // t >= 1 is the step number after this update.
    void (*adamw_update)(OpCtx *cx, float *p, const float *g, float *m, float *v, size_t n,
                         float lr, float b1, float b2, float eps, float wd, float grad_scale,
                         int64_t t);

    // --- products with weights packed once (optional) -----------------------
    // A decode step multiplies a few rows by weights that do not change while
    // a KV cache lives; a backend whose product repacks its operand per call
    // (the CPU's BLAS) packs each weight once instead (model/gemm.h). NULL
    // in a backend without (CUDA): decode then calls matmul_forward.
    // w (OC, IC) packed into backend memory: into `old` when non-NULL (a
    // previous result for the same shape), else into a fresh allocation
    // (release it with free). Returns it.
    void *(*pack_weight)(OpCtx *cx, void *old, const float *w, int IC, int OC);
    // matmul_forward with w given packed.
    void (*matmul_packed)(OpCtx *cx, float *out, const float *inp, const void *wp, const float *bias,
                          int N, int IC, int OC);
} ModelOps;

// The CPU backend. openblas runs single-threaded and every op parallelises
// with OpenMP (matrix products split into blocks, one cblas_sgemm per
// thread), so exactly one thread pool is ever busy: no oversubscription.
const ModelOps *model_ops_cpu(void);

// Every op table this build can run here: the CPU table, then (RS_CUDA builds
// with a usable device, model/device.h) the CUDA one. tests/model/test_ops.c
// runs each test over all of them, as llama.cpp's test-backend-ops does. Writes up to max
// tables to out; returns how many there are.
int model_ops_tables(const ModelOps **out, int max);
