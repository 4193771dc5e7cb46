// grpo.c: GRPO advantages and the clipped-ratio loss with its gradient (see grpo.h).
#include "grpo.h"

#include <math.h>
#include <string.h>

int grpo_agg_parse(const char *s, GrpoAgg *out, Err *e) {
    if (strcmp(s, "token") == 0) *out = GRPO_AGG_TOKEN;
    else if (strcmp(s, "sequence") == 0) *out = GRPO_AGG_SEQUENCE;
    else if (strcmp(s, "dr-grpo") == 0) *out = GRPO_AGG_DR;
    else return err_set(e, "--loss-agg: expected token, sequence or dr-grpo, got '%s'", s);
    return 0;
}

int grpo_scale_parse(const char *s, GrpoScale *out, Err *e) {
    if (strcmp(s, "group") == 0) *out = GRPO_SCALE_GROUP;
    else if (strcmp(s, "batch") == 0) *out = GRPO_SCALE_BATCH;
    else if (strcmp(s, "none") == 0) *out = GRPO_SCALE_NONE;
    else return err_set(e, "--scale-rewards: expected group, batch or none, got '%s'", s);
    return 0;
}

const char *grpo_agg_name(GrpoAgg a) { return a == GRPO_AGG_TOKEN ? "token" : a == GRPO_AGG_SEQUENCE ? "sequence" : "dr-grpo"; }

static void mean_std(const double *x, int n, double *mean, double *std) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = sqrt(v / n);
}

void grpo_advantages(const double *rewards, int ngroups, int G, GrpoScale scale, double *adv) {
    double bmean, bstd;
    mean_std(rewards, ngroups * G, &bmean, &bstd);
    for (int g = 0; g < ngroups; g++) {
        const double *r = rewards + (size_t)g * G;
        double m, sd;
        mean_std(r, G, &m, &sd);
        int equal = 1;
        for (int j = 1; j < G; j++) equal &= r[j] == r[0];
        for (int j = 0; j < G; j++) {
            double a = equal ? 0.0 : r[j] - m;
            if (scale == GRPO_SCALE_GROUP) a /= sd + 1e-4;
            else if (scale == GRPO_SCALE_BATCH) a /= bstd + 1e-4;
            adv[(size_t)g * G + j] = a;
        }
    }
}

// The normaliser of sequence i's token terms under o->agg.
static double weight_of(const GrpoLossOpts *o, const GrpoSeq *seqs, int n, int i, int64_t live_all) {
    if (o->norm_tokens > 0) live_all = o->norm_tokens;
    if (o->norm_seqs > 0) n = o->norm_seqs;
    if (o->agg == GRPO_AGG_TOKEN) return live_all ? 1.0 / (double)live_all : 0;
    if (o->agg == GRPO_AGG_DR) return 1.0 / ((double)n * (o->max_tokens > 0 ? o->max_tokens : 1));
    int64_t live = 0;
    for (int t = 0; t < seqs[i].n; t++) live += !seqs[i].mask || seqs[i].mask[t];
    return live ? 1.0 / ((double)n * (double)live) : 0;
}

double grpo_loss(const GrpoLossOpts *o, const GrpoSeq *seqs, int n, double *const *dlogp, GrpoStats *st) {
    int64_t live_all = 0, clipped = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < seqs[i].n; t++) live_all += !seqs[i].mask || seqs[i].mask[t];
    double loss = 0, kl_sum = 0, r_sum = 0, r_dev = 0;
    for (int i = 0; i < n; i++) {
        const GrpoSeq *s = &seqs[i];
        double w = weight_of(o, seqs, n, i, live_all), A = s->adv;
        for (int t = 0; t < s->n; t++) {
            dlogp[i][t] = 0;
            if (s->mask && !s->mask[t]) continue;
            double r = exp(s->logp[t] - s->old_logp[t]);
            double rc = fmin(fmax(r, 1 - o->eps_low), 1 + o->eps_high);
            // min(r A, clip(r) A): the clipped side is a constant in logp.
            int use_clip = rc * A < r * A;
            double obj = use_clip ? rc * A : r * A, dobj = use_clip ? 0 : r * A;
            clipped += use_clip;
            double l = -obj, dl = -dobj;
            if (s->ref_logp) {
                double d = s->ref_logp[t] - s->logp[t], k3 = exp(d) - d - 1;
                kl_sum += k3;
                if (o->beta != 0) l += o->beta * k3, dl += o->beta * (1 - exp(d));
            }
            loss += w * l;
            dlogp[i][t] = w * dl;
            r_sum += r;
            r_dev = fmax(r_dev, fabs(r - 1));
        }
    }
    if (st) {
        st->loss = loss;
        st->tokens = live_all;
        st->clip_frac = live_all ? (double)clipped / (double)live_all : 0;
        st->kl = live_all ? kl_sum / (double)live_all : 0;
        st->ratio_mean = live_all ? r_sum / (double)live_all : 0;
        st->ratio_max_dev = r_dev;
    }
    return loss;
}
