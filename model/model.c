// model.c: the parameter table, model lifetime and initialisation, and the
// training forward/backward (the log-prob op pair) of the decoder.
//
//   Model *m = model_new(&cfg, MODEL_GRADS, &err);
//   model_forward(m, ids, targets, B, T, logp, NULL, &err);   // logp (B, T)
//   model_backward(m, dlogp, NULL);                           // grads +=
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "model/device.h"
#include "model/model_impl.h"

// ---------------------------------------------------------------------------
// The parameter table: one list of {name, shape}, in buffer order, that also
// gives the checkpoint names. Everything that walks parameters walks this.

static int add_tensor(Model *m, int cap, const char *name, int ndim, int64_t d0, int64_t d1,
                      int decay) {
    RS_CHECK(m->ntensors < cap);
    ModelTensor *t = &m->tensors[m->ntensors];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 1;
    t->numel = (size_t)d0 * (size_t)t->shape[1];
    t->offset = m->nparams;
    t->decay = decay;
    m->nparams += t->numel;
    return m->ntensors++;
}

static void build_table(Model *m) {
    const ModelConfig *c = &m->cfg;
    int64_t C = c->hidden_size, F = c->intermediate_size, q = (int64_t)c->num_attention_heads * c->head_dim;
    int64_t kv = (int64_t)c->num_key_value_heads * c->head_dim;
    int cap = 4 + 12 * c->num_hidden_layers;
    m->tensors = xcalloc((size_t)cap, sizeof *m->tensors);
    m->layer = xcalloc((size_t)c->num_hidden_layers, sizeof *m->layer);
    char n[64];
    m->embed = add_tensor(m, cap, "model.embed_tokens.weight", 2, c->vocab_size, C, 0);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        LayerIdx *L = &m->layer[l];
#define T_(field, suffix, nd, d0, d1, decay)                                        \
    snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix);                        \
    L->field = add_tensor(m, cap, n, nd, d0, d1, decay)
        T_(ln1, "input_layernorm.weight", 1, C, 0, 0);
        T_(q_w, "self_attn.q_proj.weight", 2, q, C, 1);  // q, k, v adjacent: one fused matmul
        T_(k_w, "self_attn.k_proj.weight", 2, kv, C, 1);
        T_(v_w, "self_attn.v_proj.weight", 2, kv, C, 1);
        L->q_b = L->k_b = L->v_b = -1;
        if (c->attention_bias) {
            T_(q_b, "self_attn.q_proj.bias", 1, q, 0, 0);
            T_(k_b, "self_attn.k_proj.bias", 1, kv, 0, 0);
            T_(v_b, "self_attn.v_proj.bias", 1, kv, 0, 0);
        }
        T_(o_w, "self_attn.o_proj.weight", 2, C, q, 1);
        T_(ln2, "post_attention_layernorm.weight", 1, C, 0, 0);
        T_(gate_w, "mlp.gate_proj.weight", 2, F, C, 1);  // gate, up adjacent: one fused matmul
        T_(up_w, "mlp.up_proj.weight", 2, F, C, 1);
        T_(down_w, "mlp.down_proj.weight", 2, C, F, 1);
#undef T_
    }
    m->norm = add_tensor(m, cap, "model.norm.weight", 1, C, 0, 0);
    m->lm_head = c->tie_word_embeddings ? m->embed
                                        : add_tensor(m, cap, "lm_head.weight", 2, c->vocab_size, C, 1);
}

static void carve(Model *m) {
    m->params = m->ops->alloc(m->cx, m->nparams * sizeof(float));
    if (m->flags & MODEL_GRADS) m->grads = m->ops->alloc(m->cx, m->nparams * sizeof(float));
    for (int i = 0; i < m->ntensors; i++) {
        m->tensors[i].param = m->params + m->tensors[i].offset;
        m->tensors[i].grad = m->grads ? m->grads + m->tensors[i].offset : NULL;
    }
}

// cos/sin of pos * inv_freq[j] (model_config_rope_inv_freq: theta^(-2j/hd),
// or Llama 3's rescaling), computed as transformers does (float32 inverse
// frequencies and products), so long positions agree with HF.
static void build_rope(Model *m) {
    int half = m->cfg.head_dim / 2, P = m->cfg.max_position_embeddings;
    size_t n = (size_t)P * half;
    float *c = xmalloc(n * sizeof(float)), *s = xmalloc(n * sizeof(float));
    float *invs = xmalloc((size_t)half * sizeof(float));
    model_config_rope_inv_freq(&m->cfg, invs);
    for (int j = 0; j < half; j++) {
        float inv = invs[j];
        for (int p = 0; p < P; p++) {
            float a = (float)p * inv;
            c[(size_t)p * half + j] = (float)cos((double)a);
            s[(size_t)p * half + j] = (float)sin((double)a);
        }
    }
    m->rope_cos = m->ops->alloc(m->cx, n * sizeof(float));
    m->rope_sin = m->ops->alloc(m->cx, n * sizeof(float));
    m->ops->upload(m->cx, m->rope_cos, c, n * sizeof(float));
    m->ops->upload(m->cx, m->rope_sin, s, n * sizeof(float));
    free(c), free(s), free(invs);
}

int model_logits_chunk(const ModelConfig *cfg) { return RS_MAX(1, (1 << 24) / cfg->vocab_size); }

Model *model_new_on(const ModelConfig *cfg, const ModelOps *ops, int flags, Err *e) {
    if (model_config_validate(cfg, "model config", e) != 0) return NULL;
    Model *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->ops = ops;
    m->cx = ops->ctx_new();
    m->flags = flags;
    m->inv_temp = 1.0f;
    m->qkv_w = (cfg->num_attention_heads + 2 * cfg->num_key_value_heads) * cfg->head_dim;
    m->chunk = model_logits_chunk(cfg);
    build_table(m);
    // On a device, say so before allocating when the model cannot fit.
    int train = (flags & MODEL_GRADS) != 0;
    if (model_device_check_memory(ops, m->nparams * sizeof(float) * (train ? 4 : 1),
                                  train ? "weights, gradients and AdamW moments in fp32" : "fp32 weights", e) != 0)
        return model_free(m), NULL;
    carve(m);
    for (int i = 0; i < m->ntensors; i++)  // norms start at 1, as in HF
        if (strstr(m->tensors[i].name, "norm.weight")) {
            float *one = xmalloc(m->tensors[i].numel * sizeof(float));
            for (size_t k = 0; k < m->tensors[i].numel; k++) one[k] = 1.0f;
            ops->upload(m->cx, m->tensors[i].param, one, m->tensors[i].numel * sizeof(float));
            free(one);
        }
    build_rope(m);
    return m;
}

Model *model_new(const ModelConfig *cfg, int flags, Err *e) {
    return model_new_on(cfg, model_ops_default(), flags, e);
}

int model_check(const Model *m, Err *e) {
    const char *why = m->ops->error ? m->ops->error(m->cx) : NULL;
    return why ? err_set(e, "%s", why) : 0;
}

static void free_acts(Model *m) {
    m->ops->free(m->cx, m->act_mem);
    free(m->acts);
    m->act_mem = NULL, m->acts = NULL, m->cap_tokens = 0;
}

void model_free(Model *m) {
    if (!m) return;
    free_acts(m);
    free(m->hrow_host);
    model_kv_free(m->kv_keep);
    for (int i = 0; m->wpack && i < 4 * m->cfg.num_hidden_layers + 1; i++) m->ops->free(m->cx, m->wpack[i]);
    free(m->wpack);
    for (int i = 0; i < m->n_cx_share; i++) m->ops->ctx_free(m->cx_share[i]);
    free(m->cx_share);
    m->ops->free(m->cx, m->inf_mem);
    m->ops->free(m->cx, m->inf_i32);
    m->ops->free(m->cx, m->params);
    m->ops->free(m->cx, m->grads);
    m->ops->free(m->cx, m->rope_cos);
    m->ops->free(m->cx, m->rope_sin);
    m->ops->ctx_free(m->cx);
    free(m->tensors);
    free(m->layer);
    free(m);
}

void model_init_random(Model *m, uint64_t seed) {
    Rng root;
    rng_seed(&root, seed);
    float resid = 0.02f / sqrtf(2.0f * m->cfg.num_hidden_layers);
    for (int i = 0; i < m->ntensors; i++) {
        ModelTensor *t = &m->tensors[i];
        if (t->ndim == 1) continue;  // norms keep 1, biases 0
        int is_resid = strstr(t->name, "o_proj") || strstr(t->name, "down_proj");
        float std = is_resid ? resid : 0.02f;
        Rng r = rng_split(&root, (uint64_t)i);
        float *host = xmalloc(t->numel * sizeof(float));
        for (size_t k = 0; k < t->numel; k++) host[k] = std * (float)rng_normal(&r);
        m->ops->upload(m->cx, t->param, host, t->numel * sizeof(float));
        free(host);
    }
}

void model_copy_params(Model *dst, const Model *src) {
    RS_CHECK(dst->nparams == src->nparams && dst->ops == src->ops);
    dst->ops->copy(dst->cx, dst->params, src->params, src->nparams * sizeof(float));
}

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
const ModelOps *model_ops(const Model *m) { return m->ops; }
OpCtx *model_opctx(const Model *m) { return m->cx; }
int model_num_tensors(const Model *m) { return m->ntensors; }
ModelTensor *model_tensor(Model *m, int i) {
    RS_CHECK(i >= 0 && i < m->ntensors);
    return &m->tensors[i];
}
ModelTensor *model_find_tensor(Model *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}
size_t model_num_params(const Model *m) { return m->nparams; }
float *model_params(Model *m) { return m->params; }
float *model_grads(Model *m) { return m->grads; }
void model_set_temperature(Model *m, float t) {
    RS_CHECK(t > 0);
    m->inv_temp = 1.0f / t;
}

void model_zero_grad(Model *m) {
    RS_CHECK(m->grads);
    m->ops->zero(m->cx, m->grads, m->nparams * sizeof(float));
}

// ---------------------------------------------------------------------------
// Activations: one allocation for N = B*T rows. A model without gradients
// keeps one layer's worth and lets every layer reuse it.

// Staging buffers for per-token host arrays, after the logits chunk.
static float *stage(Model *m, int k) {
    return m->logits + (size_t)RS_MIN(m->cap_tokens, (size_t)m->chunk) * m->cfg.vocab_size +
           (size_t)k * m->cap_tokens;
}

static void ensure_acts(Model *m, size_t N) {
    if (N <= m->cap_tokens) return;
    free_acts(m);
    const ModelConfig *c = &m->cfg;
    size_t C = c->hidden_size, F = c->intermediate_size, A = (size_t)c->num_attention_heads * c->head_dim;
    size_t NH = c->num_attention_heads, L = c->num_hidden_layers;
    size_t sets = (m->flags & MODEL_GRADS) ? L : 1;
    size_t per_layer = N * (4 * C + 2 + m->qkv_w + A + NH + 3 * F);
    size_t maxA = RS_MAX(RS_MAX(F, A), C), maxB = RS_MAX(2 * F, (size_t)m->qkv_w);
    size_t chunk = RS_MIN(N, (size_t)m->chunk);
    size_t total = sets * per_layer + N * (2 * C + 2) + N * (C + maxA + maxB) +
                   chunk * c->vocab_size + 4 * N;
    float *p = m->act_mem = m->ops->alloc(m->cx, total * sizeof(float) + 5 * N * sizeof(int32_t));
    m->acts = xcalloc(L, sizeof *m->acts);
    for (size_t l = 0; l < L; l++) {
        LayerActs *a = &m->acts[l];
        if (l >= sets) {
            *a = m->acts[0];
            continue;
        }
        a->x_in = p, p += N * C;
        a->ln1 = p, p += N * C;
        a->rstd1 = p, p += N;
        a->qkv = p, p += N * m->qkv_w;
        a->att = p, p += N * A;
        a->lse = p, p += N * NH;
        a->x_mid = p, p += N * C;
        a->ln2 = p, p += N * C;
        a->rstd2 = p, p += N;
        a->gu = p, p += N * 2 * F;
        a->h = p, p += N * F;
    }
    m->x_out = p, p += N * C;
    m->lnf = p, p += N * C;
    m->rstdf = p, p += N;
    m->head_lse = p, p += N;
    m->dres = p, p += N * C;
    m->da = p, p += N * maxA;
    m->db = p, p += N * maxB;
    m->logits = p, p += chunk * c->vocab_size;
    p += 4 * N;  // logp, entropy, dlogp staging (see head_*)
    m->ids = (int32_t *)p;
    m->targets = m->ids + N;
    m->pos = m->targets + N;
    m->seg = m->pos + N;
    m->pre = m->seg + N;  // (B) <= N
    m->cap_tokens = N;
    m->hrow = (int32_t *)stage(m, 3);
}

// ---------------------------------------------------------------------------
// Forward

static int check_ids(const Model *m, const int32_t *ids, const int32_t *targets, int B, int T,
                     Err *e) {
    int V = m->cfg.vocab_size;
    for (int i = 0; i < B * T; i++) {
        if (ids[i] < 0 || ids[i] >= V)
            return err_set(e, "ids[%d,%d]: token %d outside vocab_size %d", i / T, i % T, ids[i], V);
        if (targets && targets[i] >= V)
            return err_set(e, "targets[%d,%d]: token %d outside vocab_size %d", i / T, i % T,
                           targets[i], V);
    }
    return 0;
}

// One decoder layer on N rows; `next` receives the output residual stream.
static void layer_forward(Model *m, int l, int B, int T, float *next) {
    const ModelOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const LayerIdx *L = &m->layer[l];
    LayerActs *a = &m->acts[l];
    int N = B * T, C = c->hidden_size, F = c->intermediate_size, NH = c->num_attention_heads;
    int NKV = c->num_key_value_heads, hd = c->head_dim, A = NH * hd;
    float *tmp = m->da;  // (N, C)
    o->rmsnorm_forward(m->cx, a->ln1, a->rstd1, a->x_in, mp(m, L->ln1), N, C, c->rms_norm_eps);
    o->matmul_forward(m->cx, a->qkv, a->ln1, mp(m, L->q_w), L->q_b >= 0 ? mp(m, L->q_b) : NULL, N,
                      C, m->qkv_w);
    o->rope_forward(m->cx, a->qkv, m->pos, m->rope_cos, m->rope_sin, N, NH, NKV, hd);
    o->attention_forward(m->cx, a->att, a->lse, a->qkv, m->packed ? m->seg : NULL, m->shared ? m->pre : NULL, B, T,
                         NH, NKV, hd);
    o->matmul_forward(m->cx, tmp, a->att, mp(m, L->o_w), NULL, N, A, C);
    o->add(m->cx, a->x_mid, a->x_in, tmp, (size_t)N * C);
    o->rmsnorm_forward(m->cx, a->ln2, a->rstd2, a->x_mid, mp(m, L->ln2), N, C, c->rms_norm_eps);
    o->matmul_forward(m->cx, a->gu, a->ln2, mp(m, L->gate_w), NULL, N, C, 2 * F);
    o->swiglu_forward(m->cx, a->h, a->gu, N, F);
    o->matmul_forward(m->cx, tmp, a->h, mp(m, L->down_w), NULL, N, F, C);
    o->add(m->cx, next, a->x_mid, tmp, (size_t)N * C);
}

// The head's rows: the positions with a target. When some have none, their
// final states are gathered into db (free after the trunk) with the
// embedding op, so a prompt or a user turn costs no logits.
static const float *head_input(Model *m) {
    int C = m->cfg.hidden_size;
    if (m->nhead == m->B * m->T) return m->lnf;
    m->ops->embedding_forward(m->cx, m->db, m->hrow, m->lnf, m->nhead, C);
    return m->db;
}

// Which positions have a target: hrow, and the compacted targets uploaded.
static void head_rows(Model *m, const int32_t *targets, int N) {
    if ((size_t)N > m->cap_hrow) {
        free(m->hrow_host);
        m->hrow_host = xmalloc((size_t)N * 2 * sizeof *m->hrow_host);
        m->cap_hrow = (size_t)N;
    }
    int32_t *tg = m->hrow_host + N, n = 0;
    for (int i = 0; i < N; i++)
        if (targets[i] >= 0) m->hrow_host[n] = i, tg[n++] = targets[i];
    m->nhead = n;
    if (n == N) {
        m->ops->upload(m->cx, m->targets, targets, (size_t)N * sizeof *targets);
        return;
    }
    m->ops->upload(m->cx, m->hrow, m->hrow_host, (size_t)n * sizeof *m->hrow);
    m->ops->upload(m->cx, m->targets, tg, (size_t)n * sizeof *tg);
}

// The head, chunk by chunk over its rows: logits (n, V) then log-probs;
// logits are recomputed in the backward rather than kept.
static void head_forward(Model *m, float *logp, float *entropy) {
    const ModelOps *o = m->ops;
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size, N = m->nhead;
    const float *x = head_input(m);
    for (int i0 = 0; i0 < N; i0 += m->chunk) {
        int n = RS_MIN(m->chunk, N - i0);
        o->matmul_forward(m->cx, m->logits, x + (size_t)i0 * C, mp(m, m->lm_head), NULL, n, C, V);
        o->logprob_forward(m->cx, logp + i0, m->head_lse + i0, entropy ? entropy + i0 : NULL,
                           m->logits, m->targets + i0, n, V, m->inv_temp);
    }
}

// A head result (nhead values on the backend) into out (N, host): 0 at the
// positions without a target.
static void head_download(Model *m, float *out, const float *staged, int N) {
    if (m->nhead == N) {
        m->ops->download(m->cx, out, staged, (size_t)N * sizeof *out);
        return;
    }
    float *h = xmalloc((size_t)RS_MAX(m->nhead, 1) * sizeof *h);
    m->ops->download(m->cx, h, staged, (size_t)m->nhead * sizeof *h);
    memset(out, 0, (size_t)N * sizeof *out);
    for (int i = 0; i < m->nhead; i++) out[m->hrow_host[i]] = h[i];
    free(h);
}

// seg must describe runs: each sequence starts at its own position and
// every later position of it carries the same start.
static int check_seg(const int32_t *seg, int B, int T, Err *e) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int32_t s = seg[(size_t)b * T + t];
            int ok = t == 0 ? s == 0 : s == t || s == seg[(size_t)b * T + t - 1];
            if (!ok) return err_set(e, "seg[%d,%d]: %d is neither %d (a new sequence) nor the previous start", b, t, s, t);
        }
    return 0;
}

int model_forward(Model *m, const int32_t *ids, const int32_t *targets, int B, int T, float *logp,
                  float *entropy, Err *e) {
    return model_forward_packed(m, ids, NULL, targets, B, T, logp, entropy, e);
}

// A shared prefix lies inside its row's first sequence.
static int check_pre(const int32_t *seg, const int32_t *pre, int B, int T, Err *e) {
    for (int b = 0; b < B; b++) {
        int first = 1;
        while (first < T && seg[(size_t)b * T + first] == 0) first++;
        if (pre[b] < 0 || pre[b] > first)
            return err_set(e, "pre[%d]: %d is not within the row's first sequence (%d positions)", b, pre[b], first);
    }
    return 0;
}

int model_forward_packed(Model *m, const int32_t *ids, const int32_t *seg, const int32_t *targets, int B, int T,
                         float *logp, float *entropy, Err *e) {
    return model_forward_shared(m, ids, seg, NULL, targets, B, T, logp, entropy, e);
}

int model_forward_shared(Model *m, const int32_t *ids, const int32_t *seg, const int32_t *pre, const int32_t *targets,
                         int B, int T, float *logp, float *entropy, Err *e) {
    RS_CHECK(B > 0 && T > 0 && (targets != NULL) == (logp != NULL) && (!pre || seg));
    if (check_ids(m, ids, targets, B, T, e) != 0) return -1;
    if (seg && check_seg(seg, B, T, e) != 0) return -1;
    if (pre && check_pre(seg, pre, B, T, e) != 0) return -1;
    // Positions restart at 0 with each packed sequence, or go on after the
    // shared prefix; a packed row may be longer than any of its sequences.
    int N = B * T, maxpos = 0;
    int32_t *pos = xmalloc((size_t)N * sizeof *pos);
    for (int i = 0; i < N; i++) {
        int s = seg ? seg[i] : 0;
        pos[i] = i % T - s + (pre && s > 0 ? pre[i / T] : 0);
        maxpos = RS_MAX(maxpos, pos[i]);
    }
    if (maxpos >= m->cfg.max_position_embeddings) {
        free(pos);
        return err_set(e, "sequence length %d exceeds max_position_embeddings %d", maxpos + 1,
                       m->cfg.max_position_embeddings);
    }
    const ModelOps *o = m->ops;
    int C = m->cfg.hidden_size, L = m->cfg.num_hidden_layers;
    ensure_acts(m, (size_t)N);
    m->B = B, m->T = T;
    m->has_head = targets != NULL;
    m->packed = seg != NULL, m->shared = pre != NULL;
    o->upload(m->cx, m->pos, pos, (size_t)N * sizeof *pos);
    free(pos);
    if (seg) o->upload(m->cx, m->seg, seg, (size_t)N * sizeof *seg);
    if (pre) o->upload(m->cx, m->pre, pre, (size_t)B * sizeof *pre);
    o->upload(m->cx, m->ids, ids, (size_t)N * sizeof *ids);
    o->embedding_forward(m->cx, m->acts[0].x_in, m->ids, mp(m, m->embed), N, C);
    for (int l = 0; l < L; l++) layer_forward(m, l, B, T, l + 1 < L ? m->acts[l + 1].x_in : m->x_out);
    o->rmsnorm_forward(m->cx, m->lnf, m->rstdf, m->x_out, mp(m, m->norm), N, C, m->cfg.rms_norm_eps);
    if (!targets) return model_check(m, e);
    head_rows(m, targets, N);
    float *lp = stage(m, 0), *ent = entropy ? stage(m, 1) : NULL;
    head_forward(m, lp, ent);
    head_download(m, logp, lp, N);
    if (entropy) head_download(m, entropy, ent, N);
    return model_check(m, e);
}

const float *model_hidden(const Model *m) { return m->lnf; }

// ---------------------------------------------------------------------------
// Backward

// d(loss)/d(lnf) (N, C) into dlnf (zeroed), adding the head's parameter
// gradient. With some positions out of the head, its rows' gradients go to
// dres (free until the trunk's backward) and are scattered into dlnf with
// the embedding op's backward (each row once: no sums).
static void head_backward(Model *m, const float *dlogp, float *dlnf) {
    const ModelOps *o = m->ops;
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size, N = m->nhead, all = N == m->B * m->T;
    const float *x = head_input(m);
    float *dx = all ? dlnf : m->dres;
    for (int i0 = 0; i0 < N; i0 += m->chunk) {
        int n = RS_MIN(m->chunk, N - i0);
        const float *xi = x + (size_t)i0 * C;
        o->matmul_forward(m->cx, m->logits, xi, mp(m, m->lm_head), NULL, n, C, V);
        o->logprob_backward(m->cx, m->logits, m->head_lse + i0, m->targets + i0, dlogp + i0, n, V,
                            m->inv_temp);
        o->matmul_backward(m->cx, dx + (size_t)i0 * C, mg(m, m->lm_head), NULL, m->logits, xi,
                           mp(m, m->lm_head), n, C, V);
    }
    if (!all) o->embedding_backward(m->cx, dlnf, m->dres, m->hrow, N, C, m->B * m->T);
}

// Layer l backward. On entry m->dres holds d(loss)/d(layer output); on exit
// d(loss)/d(layer input). da, db are scratch.
static void layer_backward(Model *m, int l) {
    const ModelOps *o = m->ops;
    const ModelConfig *c = &m->cfg;
    const LayerIdx *L = &m->layer[l];
    const LayerActs *a = &m->acts[l];
    int B = m->B, T = m->T, N = B * T, C = c->hidden_size, F = c->intermediate_size;
    int NH = c->num_attention_heads, NKV = c->num_key_value_heads, hd = c->head_dim, A = NH * hd;
    float *dres = m->dres, *dA = m->da, *dB = m->db;
    // MLP: out = x_mid + down(swiglu(gate_up(rmsnorm(x_mid))))
    o->matmul_backward(m->cx, dA, mg(m, L->down_w), NULL, dres, a->h, mp(m, L->down_w), N, F, C);
    o->swiglu_backward(m->cx, dB, dA, a->gu, N, F);
    o->matmul_backward(m->cx, dA, mg(m, L->gate_w), NULL, dB, a->ln2, mp(m, L->gate_w), N, C, 2 * F);
    o->rmsnorm_backward(m->cx, dres, mg(m, L->ln2), dA, a->x_mid, mp(m, L->ln2), a->rstd2, N, C);
    // attention: x_mid = x_in + o_proj(attn(rope(qkv(rmsnorm(x_in)))))
    o->matmul_backward(m->cx, dA, mg(m, L->o_w), NULL, dres, a->att, mp(m, L->o_w), N, A, C);
    o->attention_backward(m->cx, dB, dA, a->qkv, a->att, a->lse, m->packed ? m->seg : NULL, m->shared ? m->pre : NULL,
                          B, T, NH, NKV, hd);
    o->rope_backward(m->cx, dB, m->pos, m->rope_cos, m->rope_sin, N, NH, NKV, hd);
    o->matmul_backward(m->cx, dA, mg(m, L->q_w), L->q_b >= 0 ? mg(m, L->q_b) : NULL, dB, a->ln1,
                       mp(m, L->q_w), N, C, m->qkv_w);
    o->rmsnorm_backward(m->cx, dres, mg(m, L->ln1), dA, a->x_in, mp(m, L->ln1), a->rstd1, N, C);
}

void model_backward(Model *m, const float *dlogp, const float *dhidden) {
    RS_CHECK(m->grads && m->B > 0 && (!dlogp || m->has_head));
    const ModelOps *o = m->ops;
    int N = m->B * m->T, C = m->cfg.hidden_size;
    float *dlnf = m->da;  // (N, C)
    o->zero(m->cx, dlnf, (size_t)N * C * sizeof(float));
    if (dlogp && m->nhead > 0) {
        float *dl = stage(m, 2);
        if (m->nhead == N) {
            o->upload(m->cx, dl, dlogp, (size_t)N * sizeof(float));
        } else {  // the head rows' entries
            float *h = xmalloc((size_t)m->nhead * sizeof *h);
            for (int i = 0; i < m->nhead; i++) h[i] = dlogp[m->hrow_host[i]];
            o->upload(m->cx, dl, h, (size_t)m->nhead * sizeof *h);
            free(h);
        }
        head_backward(m, dl, dlnf);
    }
    if (dhidden) o->accumulate(m->cx, dlnf, dhidden, (size_t)N * C);
    o->zero(m->cx, m->dres, (size_t)N * C * sizeof(float));
    o->rmsnorm_backward(m->cx, m->dres, mg(m, m->norm), dlnf, m->x_out, mp(m, m->norm), m->rstdf, N, C);
    for (int l = m->cfg.num_hidden_layers - 1; l >= 0; l--) layer_backward(m, l);
    o->embedding_backward(m->cx, mg(m, m->embed), m->dres, m->ids, N, C, m->cfg.vocab_size);
}

// ---------------------------------------------------------------------------
// Cross-entropy on the op pair

int model_xent(Model *m, const int32_t *ids, const int32_t *targets, const float *w, int B, int T,
               float grad_scale, double *loss, Err *e) {
    RS_CHECK(targets);
    size_t N = (size_t)B * T;
    float *logp = xmalloc(N * sizeof(float));
    if (model_forward(m, ids, targets, B, T, logp, NULL, e) != 0) return free(logp), -1;
    double wsum = 0, lsum = 0;
    for (size_t i = 0; i < N; i++) {
        double wi = targets[i] < 0 ? 0.0 : w ? w[i] : 1.0;
        wsum += wi;
        lsum -= wi * logp[i];
    }
    if (loss) *loss = wsum > 0 ? lsum / wsum : 0.0;
    if (grad_scale != 0.0f && wsum > 0) {
        for (size_t i = 0; i < N; i++) {  // reuse logp as dlogp
            double wi = targets[i] < 0 ? 0.0 : w ? w[i] : 1.0;
            logp[i] = (float)(-wi * grad_scale / wsum);
        }
        model_backward(m, logp, NULL);
    }
    free(logp);
    return 0;
}
