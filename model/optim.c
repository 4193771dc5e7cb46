// optim.c: AdamW with decoupled weight decay, global-norm gradient clipping,
// and the warmup + cosine/linear learning-rate schedule.
//
//   ModelAdamWConfig oc = model_adamw_defaults();
//   ModelAdamW *opt = model_adamw_new(m, &oc);
//   float gnorm; model_adamw_step(opt, model_lr_at(&sched, step), &gnorm);
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "model/model_impl.h"
#include "model/safetensors.h"

struct ModelAdamW {
    Model *m;
    ModelAdamWConfig cfg;
    float *mom;  // (2, nparams): exp_avg then exp_avg_sq, carved by the parameter table
    int64_t t;
};

ModelAdamWConfig model_adamw_defaults(void) {
    return (ModelAdamWConfig){.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                              .decay_all = 0, .grad_clip = 1.0f};
}

ModelAdamW *model_adamw_new(Model *m, const ModelAdamWConfig *cfg) {
    RS_CHECK(m->grads);
    ModelAdamW *o = xcalloc(1, sizeof *o);
    o->m = m;
    o->cfg = *cfg;
    o->mom = m->ops->alloc(m->cx, 2 * m->nparams * sizeof(float));
    return o;
}

void model_adamw_free(ModelAdamW *o) {
    if (!o) return;
    o->m->ops->free(o->m->cx, o->mom);
    free(o);
}

int64_t model_adamw_t(const ModelAdamW *o) { return o->t; }

double model_grad_norm(Model *m) {
    RS_CHECK(m->grads);
    return sqrt(m->ops->sumsq(m->cx, m->grads, m->nparams));
}

int64_t model_adamw_step(ModelAdamW *o, float lr, float *grad_norm) {
    Model *m = o->m;
    const ModelAdamWConfig *c = &o->cfg;
    double norm = model_grad_norm(m);
    if (grad_norm) *grad_norm = (float)norm;
    // Clipping folds into the update as a gradient scale (torch's
    // clip_grad_norm_ factor: max_norm / (norm + 1e-6), only when it shrinks).
    if (!isfinite(norm)) return o->t;  // a non-finite gradient must not poison weights or moments
    float scale = 1.0f;
    if (c->grad_clip > 0 && norm > c->grad_clip) scale = (float)(c->grad_clip / (norm + 1e-6));
    o->t++;
    for (int i = 0; i < m->ntensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        float wd = (t->decay || c->decay_all) ? c->weight_decay : 0.0f;
        m->ops->adamw_update(m->cx, t->param, t->grad, o->mom + t->offset,
                             o->mom + m->nparams + t->offset, t->numel, lr, c->beta1, c->beta2,
                             c->eps, wd, scale, o->t);
    }
    return o->t;
}

float model_lr_at(const ModelLrSchedule *s, int64_t step) {
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->lr * (float)(step + 1) / (float)s->warmup_steps;
    if (s->decay == MODEL_LR_CONSTANT) return s->lr;
    int64_t span = s->total_steps - s->warmup_steps;
    if (span <= 0 || step >= s->total_steps) return s->min_lr;
    double frac = (double)(step - s->warmup_steps) / (double)span;  // 0 -> 1
    double k = s->decay == MODEL_LR_COSINE ? 0.5 * (1.0 + cos(M_PI * frac)) : 1.0 - frac;
    return (float)(s->min_lr + (s->lr - s->min_lr) * k);
}

int model_lr_decay_parse(const char *s, ModelLrDecay *out, Err *e) {
    if (strcmp(s, "cosine") == 0) *out = MODEL_LR_COSINE;
    else if (strcmp(s, "linear") == 0) *out = MODEL_LR_LINEAR;
    else if (strcmp(s, "constant") == 0) *out = MODEL_LR_CONSTANT;
    else return err_set(e, "lr schedule '%s': expected cosine, linear or constant", s);
    return 0;
}

// ---------------------------------------------------------------------------
// optimizer.safetensors: "<param>.exp_avg" and "<param>.exp_avg_sq" per
// table entry, the step t in the metadata.

int model_adamw_save(const ModelAdamW *o, const char *path, Err *e) {
    const Model *m = o->m;
    size_t n = m->nparams;
    float *host = xmalloc(2 * n * sizeof(float));
    m->ops->download(m->cx, host, o->mom, 2 * n * sizeof(float));
    StWriteTensor *w = xcalloc((size_t)m->ntensors * 2, sizeof *w);
    char (*names)[80] = xcalloc((size_t)m->ntensors * 2, sizeof *names);
    for (int i = 0; i < m->ntensors; i++)
        for (int k = 0; k < 2; k++) {
            const ModelTensor *t = &m->tensors[i];
            StWriteTensor *x = &w[2 * i + k];
            snprintf(names[2 * i + k], sizeof names[0], "%s.%s", t->name, k ? "exp_avg_sq" : "exp_avg");
            x->name = names[2 * i + k];
            x->ndim = t->ndim;
            x->shape[0] = t->shape[0], x->shape[1] = t->shape[1];
            x->data = host + (size_t)k * n + t->offset;
        }
    cJSON *meta = cJSON_CreateObject();
    char buf[64];
    snprintf(buf, sizeof buf, "%lld", (long long)o->t);
    cJSON_AddStringToObject(meta, "step", buf);
    cJSON_AddStringToObject(meta, "format", "reasoner-adamw-1");
    int rc = st_write_f32(path, w, m->ntensors * 2, meta, e);
    cJSON_Delete(meta);
    free(names), free(w), free(host);
    return rc;
}

int model_adamw_load(ModelAdamW *o, const char *dir, Err *e) {
    Model *m = o->m;
    char *path = fs_join(dir, "optimizer.safetensors");
    StFile *f = st_open(path, e);
    int rc = f ? 0 : -1;
    size_t n = m->nparams;
    float *host = xmalloc(2 * n * sizeof(float));
    const char *step = f ? st_meta(f, "step") : NULL;
    char *end = NULL;
    long long t = step ? strtoll(step, &end, 10) : -1;
    if (f && (!step || *end || t < 0)) rc = err_set(e, "%s: metadata 'step': missing or not a count", path);
    for (int i = 0; rc == 0 && i < m->ntensors; i++)
        for (int k = 0; rc == 0 && k < 2; k++) {
            const ModelTensor *mt = &m->tensors[i];
            char name[80];
            snprintf(name, sizeof name, "%s.%s", mt->name, k ? "exp_avg_sq" : "exp_avg");
            rc = st_read_f32(f, name, host + (size_t)k * n + mt->offset, mt->ndim, mt->shape, e);
        }
    if (rc == 0) {
        m->ops->upload(m->cx, o->mom, host, 2 * n * sizeof(float));
        o->t = t;
    }
    free(host);
    st_close(f);
    free(path);
    return rc;
}
