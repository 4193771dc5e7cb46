// rl.c: the RL trainer on the shared loop (see rl.h): sample with grading
// overlapped, rewards, groups, advantages, GRPO or RFT updates, metrics.
#include "rl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "model/model.h"
#include "policy/eval.h"
#include "policy/grpo.h"
#include "reward/grade.h"
#include "reward/reward.h"
#include "tokenizer/chat.h"
#include "train/loop.h"

RlConfig rl_defaults(void) {
    return (RlConfig){.farm = "local:2", .algo = "grpo", .group_size = 8, .prompts_per_step = 16, .mu = 1,
                      .minibatch = 0, .beta = 0.0, .eps_low = 0.2, .eps_high = 0.2, .loss_agg = "token",
                      .scale_rewards = "group", .max_refill = 3, .rft_keep = 2, .temperature = 1.0f,
                      .top_p = 1.0f, .max_tokens = 256, .batch = 64, .steps = 100, .lr = 1e-5, .min_lr = 1e-6,
                      .weight_decay = 0.0, .clip = 1.0, .warmup = 0, .schedule = "constant", .eval_every = 0,
                      .eval_k = 4, .eval_max_tokens = 0, .eval_temperature = 1.0f, .seed = 4321, .progress = 1};
}

// One graded completion of the step's batch.
typedef struct Sample {
    int32_t *ids;        // prompt then response (plen + n)
    int plen, n;
    float *samp_logp;    // (n) recorded by the sampler
    double *old_logp;    // (n) training kernels, before the step's first update
    double reward, adv;
    int correct, truncated, prompt;  // prompt: index of its group in the batch
    int live;            // 1: in the loss (--mask-truncated drops truncated ones)
} Sample;

typedef struct Batch {
    Sample *s;
    int n, cap, groups;
    // Step statistics.
    int groups_sampled, groups_equal, groups_failed, rounds;
    double reward_sum, reward_sq, correct, len_sum, len_max, truncated, sampled_tokens, prompt_tokens;
    double sample_s, grade_wait_s, grade_work_s;
} Batch;

typedef struct Rl {
    RlConfig c;
    Grader *grader;
    Bpe *tok;
    Model *ref;                  // frozen reference (beta > 0), NULL otherwise
    ProblemSet **sets, **evals;
    const Problem **train;       // every training problem
    int ntrain, *order, next;
    int64_t epoch;
    ProblemTemplates tmpl;
    int32_t stops[4];
    int nstops;
    GrpoLossOpts lo;
    GrpoScale scale;
    RewardOpts ro;
    int rft, micro;
    double fwd_flops_per_token, head_fwd_flops, params;
    // Run statistics.
    double first_reward, first_acc, eval_first, eval_last, sample_s, wait_s, update_s;
    double last_rewards[5], last_accs[5];
    int64_t samples, nsteps;
} Rl;

// ---------------------------------------------------------------------------
// Problems and prompts

static void shuffle_order(Rl *rl) {
    Rng r;
    rng_seed(&r, rl->c.seed ^ (0xa24baed4963ee407ULL * (uint64_t)(rl->epoch + 1)));
    for (int i = 0; i < rl->ntrain; i++) rl->order[i] = i;
    for (int i = rl->ntrain - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = rl->order[i];
        rl->order[i] = rl->order[j], rl->order[j] = t;
    }
    rl->next = 0;
}

static const Problem *next_problem(Rl *rl) {
    if (rl->next == rl->ntrain) rl->epoch++, shuffle_order(rl);
    return rl->train[rl->order[rl->next++]];
}

// The chat prompt of p (the template eval uses, in the ChatML template).
static int build_prompt(Rl *rl, const Problem *p, BpeIds *ids, Err *e) {
    char *body = problems_render_prompt(rl->tmpl.text[p->kind], p);
    ChatMsg msgs[2] = {{"system", rl->c.system}, {"user", body}};
    int rc = rl->c.system ? chat_render(rl->tok, CHAT_AUTO, msgs, 2, 1, ids, NULL, e)
                          : chat_render(rl->tok, CHAT_AUTO, msgs + 1, 1, 1, ids, NULL, e);
    free(body);
    return rc;
}

// ---------------------------------------------------------------------------
// Sampling and grading

// Grade again the samples whose grading failed (a farm that went away and came
// back); after three rounds what is still missing stays "error".
static void regrade_failures(Rl *rl, const Problem *const *probs, int G, GradedRollout *gr) {
    for (int round = 0; round < 3; round++) {
        int *idx = xmalloc(sizeof(int) * (size_t)gr->r.n), k = 0;
        for (int i = 0; i < gr->r.n; i++)
            if (!grade_is_verdict(&gr->grades[i])) idx[k++] = i;
        Err e = {0};
        int rc = 0;
        for (int j = 0; j < k && rc == 0; j++) rc = grader_submit(rl->grader, probs[idx[j] / G], gr->r.samples[idx[j]].text, &e);
        VerifyResult *res = xcalloc((size_t)(k ? k : 1), sizeof *res);
        int got = k && rc == 0 ? grader_collect(rl->grader, res, &e) : -1;
        if (k && got >= 0) {
            for (int j = 0; j < k; j++) {
                verify_result_free(&gr->grades[idx[j]]);
                gr->grades[idx[j]] = res[j];
            }
            log_warn("rl: graded again %d samples whose grading failed (try %d of 3)", k, round + 1);
        } else if (k) {
            log_warn("rl: regrading %d samples failed: %s", k, e.msg);
        }
        free(res), free(idx);
        if (!k) break;
    }
}

static int sample_round(Rl *rl, TrainLoop *L, const Problem *const *probs, int np, GradedRollout *gr, BpeIds *ids,
                        Err *e) {
    RolloutPrompt *pr = xcalloc((size_t)np, sizeof *pr);
    int rc = 0;
    for (int i = 0; i < np && rc == 0; i++) {
        if (build_prompt(rl, probs[i], &ids[i], e) != 0) rc = -1;
        pr[i] = (RolloutPrompt){ids[i].data, (int)ids[i].len, rl->c.group_size, rng_u64(train_loop_rng(L))};
    }
    RolloutOpts o = rollout_defaults();
    o.temperature = rl->c.temperature, o.top_k = rl->c.top_k, o.top_p = rl->c.top_p;
    o.max_new_tokens = rl->c.max_tokens, o.batch = rl->c.batch;
    o.stop_ids = rl->stops, o.n_stop_ids = rl->nstops;
    // o.kv_bf16 stays 0: samples come from the policy being trained, not a
    // bf16-rounded neighbour of it (ARCHITECTURE.md, "Decoding on the CPU").
    if (rc == 0) rc = grade_rollout(rl->grader, train_loop_model(L), rl->tok, &o, pr, probs, np, NULL, gr, e);
    if (rc == 0) regrade_failures(rl, probs, rl->c.group_size, gr);
    free(pr);
    return rc;
}

static void push_sample(Batch *b, const Sample *s) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->s = xrealloc(b->s, (size_t)b->cap * sizeof *b->s);
    }
    b->s[b->n++] = *s;
}

// Rewards of one round's groups; keep the groups worth training on.
static void take_groups(Rl *rl, const GradedRollout *gr, const BpeIds *ids, int np, Batch *b) {
    int G = rl->c.group_size;
    double *rw = xmalloc(sizeof(double) * (size_t)G);
    for (int p = 0; p < np; p++) {
        int failed = 0, equal = 1;
        for (int j = 0; j < G; j++) {
            const RolloutSample *rs = &gr->r.samples[p * G + j];
            const VerifyResult *g = &gr->grades[p * G + j];
            failed += !grade_is_verdict(g);
            rw[j] = reward_compose(&rl->ro, g, rs->n).total;
            equal &= rw[j] == rw[0];
            b->reward_sum += rw[j], b->reward_sq += rw[j] * rw[j];
            b->correct += strcmp(g->status, "correct") == 0;
            b->len_sum += rs->n, b->len_max = fmax(b->len_max, rs->n);
            b->truncated += rs->finish == ROLLOUT_LENGTH;
            b->sampled_tokens += rs->n;
            b->grade_work_s += g->elapsed_ms / 1000.0;
        }
        b->prompt_tokens += (double)ids[p].len;
        b->groups_sampled++;
        b->groups_equal += equal;
        if (failed) {  // never train on partial grades
            b->groups_failed++;
            continue;
        }
        if (equal && rl->c.dynamic_sampling) continue;
        if (b->groups == rl->c.prompts_per_step) continue;  // a refill round drew more than needed
        for (int j = 0; j < G; j++) {
            const RolloutSample *rs = &gr->r.samples[p * G + j];
            Sample s = {.plen = (int)ids[p].len, .n = rs->n, .reward = rw[j], .prompt = b->groups,
                        .correct = strcmp(gr->grades[p * G + j].status, "correct") == 0,
                        .truncated = rs->finish == ROLLOUT_LENGTH};
            s.live = !(rl->c.mask_truncated && s.truncated);
            s.ids = xmalloc(sizeof(int32_t) * (size_t)(s.plen + s.n));
            memcpy(s.ids, ids[p].data, sizeof(int32_t) * (size_t)s.plen);
            memcpy(s.ids + s.plen, rs->ids, sizeof(int32_t) * (size_t)s.n);
            s.samp_logp = xmalloc(sizeof(float) * (size_t)s.n);
            memcpy(s.samp_logp, rs->logp, sizeof(float) * (size_t)s.n);
            push_sample(b, &s);
        }
        b->groups++;
    }
    free(rw);
}

// Sample until prompts_per_step groups are kept (dynamic sampling refills
// from new prompts, at most max_refill more rounds).
static int sample_batch(Rl *rl, TrainLoop *L, Batch *b, Err *e) {
    int P = rl->c.prompts_per_step, rounds = rl->c.dynamic_sampling ? 1 + rl->c.max_refill : 1, rc = 0;
    for (int r = 0; r < rounds && b->groups < P && rc == 0; r++) {
        int np = P - b->groups;
        const Problem **probs = xmalloc(sizeof *probs * (size_t)np);
        for (int i = 0; i < np; i++) probs[i] = next_problem(rl);
        BpeIds *ids = xcalloc((size_t)np, sizeof *ids);
        GradedRollout gr;
        rc = sample_round(rl, L, probs, np, &gr, ids, e);
        if (rc == 0) {
            b->sample_s += gr.sample_s, b->grade_wait_s += gr.grade_wait_s;
            take_groups(rl, &gr, ids, np, b);
            graded_rollout_free(&gr);
        }
        for (int i = 0; i < np; i++) bpe_ids_free(&ids[i]);
        free(ids), free(probs);
        b->rounds++;
    }
    return rc;
}

static void batch_free(Batch *b) {
    for (int i = 0; i < b->n; i++) free(b->s[i].ids), free(b->s[i].samp_logp), free(b->s[i].old_logp);
    free(b->s);
}

// ---------------------------------------------------------------------------
// Forward passes over samples

// A micro-batch laid out for the training forward. The samples of one prompt
// share a row (model_forward_shared): its prefix is the prompt but its last
// token, then per sample that last token and the sample's tokens but its
// last, so each position predicts the sample's next token. The prompt is
// forwarded and backpropagated once for its G samples instead of G times.
// Sample i's token j is the target at row[i] * T + at[i] + j.
typedef struct Layout {
    int32_t *ids, *tgt, *seg, *pre;  // (B, T), (B)
    int B, T;
    int *row, *at;                   // (n)
    double work, head;               // positions that hold tokens (not padding); of them, targets
} Layout;

static int same_prompt(const Sample *a, const Sample *b) {
    return a->prompt == b->prompt && a->plen == b->plen && !memcmp(a->ids, b->ids, sizeof(int32_t) * (size_t)a->plen);
}

static Layout layout_samples(Sample *const *ss, int n) {
    Layout L = {.row = xmalloc(sizeof(int) * (size_t)n), .at = xmalloc(sizeof(int) * (size_t)n)};
    int *first = xmalloc(sizeof(int) * (size_t)n), *len = xmalloc(sizeof(int) * (size_t)n);  // per row
    for (int i = 0; i < n; i++) {
        int r = 0;
        while (r < L.B && !same_prompt(ss[first[r]], ss[i])) r++;
        if (r == L.B) first[L.B] = i, len[L.B++] = ss[i]->plen - 1;
        L.row[i] = r, L.at[i] = len[r], len[r] += ss[i]->n, L.head += ss[i]->n;
    }
    for (int r = 0; r < L.B; r++) L.T = RS_MAX(L.T, len[r]), L.work += len[r];
    L.T = RS_MAX(L.T, 1);
    size_t N = (size_t)L.B * L.T;
    L.ids = xcalloc(N, sizeof *L.ids), L.tgt = xmalloc(N * sizeof *L.tgt), L.seg = xmalloc(N * sizeof *L.seg);
    L.pre = xmalloc(sizeof *L.pre * (size_t)L.B);
    for (size_t k = 0; k < N; k++) L.tgt[k] = -1, L.seg[k] = 0;
    for (int r = 0; r < L.B; r++) {
        const Sample *p = ss[first[r]];
        int32_t *ids = L.ids + (size_t)r * L.T, *seg = L.seg + (size_t)r * L.T;
        L.pre[r] = p->plen - 1;
        memcpy(ids, p->ids, sizeof(int32_t) * (size_t)L.pre[r]);
        // Padding: a one-position sequence each (a run as long as the row's
        // gap could reach positions past the model's).
        for (int t = len[r]; t < L.T; t++) seg[t] = t;
    }
    for (int i = 0; i < n; i++) {
        const Sample *s = ss[i];
        size_t o = (size_t)L.row[i] * L.T + L.at[i];
        for (int j = 0; j < s->n; j++) {
            L.ids[o + j] = s->ids[s->plen - 1 + j], L.tgt[o + j] = s->ids[s->plen + j];
            L.seg[o + j] = L.at[i];
        }
    }
    free(first), free(len);
    return L;
}

static void layout_free(Layout *L) {
    free(L->ids), free(L->tgt), free(L->seg), free(L->pre), free(L->row), free(L->at);
}

// Response log-probs of ss under m (at the sampling temperature): out[i] gets
// ss[i]->n doubles (malloc'd). entropy_sum (may be NULL) adds the entropies.
// Leaves m ready for model_backward (in the layout L returns) when m has
// gradients.
static int forward_samples(Rl *rl, Model *m, Sample *const *ss, int n, double **out, double *entropy_sum, Layout *L,
                           Err *e) {
    *L = layout_samples(ss, n);
    size_t N = (size_t)L->B * L->T;
    float *lp = xmalloc(sizeof(float) * N), *ent = entropy_sum ? xmalloc(sizeof(float) * N) : NULL;
    model_set_temperature(m, rl->c.temperature > 0 ? rl->c.temperature : 1.0f);
    int rc = model_forward_shared(m, L->ids, L->seg, L->pre, L->tgt, L->B, L->T, lp, ent, e);
    for (int i = 0; rc == 0 && i < n; i++) {
        out[i] = xmalloc(sizeof(double) * (size_t)(ss[i]->n ? ss[i]->n : 1));
        for (int j = 0; j < ss[i]->n; j++) {
            size_t at = (size_t)L->row[i] * L->T + L->at[i] + j;
            out[i][j] = lp[at];
            if (ent) *entropy_sum += ent[at];
        }
    }
    free(lp), free(ent);
    return rc;
}

// ---------------------------------------------------------------------------
// Updates

typedef struct UpdateStats {
    double loss, clip_frac, kl, ratio_mean, ratio_dev, entropy, mismatch, trained_tokens, fwd_tokens, head_tokens;
    int64_t live_tokens;
    int updates;
} UpdateStats;

// Model work of `passes` forward-equivalents over a layout: the trunk on its
// tokens (not padding), the head on its targets.
static void add_work(UpdateStats *us, const Layout *L, double passes) {
    us->fwd_tokens += passes * L->work, us->head_tokens += passes * L->head;
}

// The old-policy log-probs of every sample, by the training kernels, before
// any update (only needed when the step makes more than one update).
static int old_logprobs(Rl *rl, Model *m, Batch *b, UpdateStats *us, Err *e) {
    for (int i0 = 0; i0 < b->n; i0 += rl->micro) {
        int k = RS_MIN(rl->micro, b->n - i0);
        Sample **ss = xmalloc(sizeof *ss * (size_t)k);
        double **lp = xcalloc((size_t)k, sizeof *lp);
        for (int i = 0; i < k; i++) ss[i] = &b->s[i0 + i];
        Layout L;
        int rc = forward_samples(rl, m, ss, k, lp, NULL, &L, e);
        for (int i = 0; i < k; i++) ss[i]->old_logp = lp[i];
        add_work(us, &L, 1);
        layout_free(&L);
        free(ss), free(lp);
        if (rc != 0) return -1;
    }
    return 0;
}

// Forward, loss and backward of one micro-batch; gradients accumulate.
static int micro_step(Rl *rl, Model *m, Sample *const *ss, int k, int64_t norm_tokens, int norm_seqs, int first,
                      UpdateStats *us, Err *e) {
    double **lp = xcalloc((size_t)k, sizeof *lp), **ref = NULL, **dl = xcalloc((size_t)k, sizeof *dl);
    Layout L, Lr;
    int rc = forward_samples(rl, m, ss, k, lp, &us->entropy, &L, e);
    for (int i = 0; rc == 0 && i < k; i++) {
        if (first && !ss[i]->old_logp) {  // one update per step: this forward is the old policy
            ss[i]->old_logp = xmalloc(sizeof(double) * (size_t)ss[i]->n);
            memcpy(ss[i]->old_logp, lp[i], sizeof(double) * (size_t)ss[i]->n);
        }
        for (int j = 0; first && j < ss[i]->n; j++)
            us->mismatch = fmax(us->mismatch, fabs((double)ss[i]->samp_logp[j] - ss[i]->old_logp[j]));
    }
    if (rc == 0 && rl->ref) {  // the reference's log-probs (its forward leaves m's activations alone)
        ref = xcalloc((size_t)k, sizeof *ref);
        rc = forward_samples(rl, rl->ref, ss, k, ref, NULL, &Lr, e);
        add_work(us, &Lr, 1);
        layout_free(&Lr);
    }
    if (rc == 0) {
        GrpoSeq *gs = xcalloc((size_t)k, sizeof *gs);
        int maxn = 1;
        for (int i = 0; i < k; i++) maxn = RS_MAX(maxn, ss[i]->n);
        uint8_t *dead = xcalloc((size_t)maxn, 1);  // the mask of a sample out of the loss: all zero
        for (int i = 0; i < k; i++) {
            dl[i] = xmalloc(sizeof(double) * (size_t)ss[i]->n);
            gs[i] = (GrpoSeq){ss[i]->n, lp[i], ss[i]->old_logp, ref ? ref[i] : NULL, ss[i]->live ? NULL : dead,
                              ss[i]->adv};
        }
        GrpoLossOpts lo = rl->lo;
        lo.norm_tokens = norm_tokens, lo.norm_seqs = norm_seqs;
        GrpoStats st;
        us->loss += grpo_loss(&lo, gs, k, dl, &st);
        us->clip_frac += st.clip_frac * (double)st.tokens, us->kl += st.kl * (double)st.tokens;
        us->ratio_mean += st.ratio_mean * (double)st.tokens, us->ratio_dev = fmax(us->ratio_dev, st.ratio_max_dev);
        us->live_tokens += st.tokens;
        float *dlogp = xcalloc((size_t)L.B * L.T, sizeof *dlogp);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < ss[i]->n; j++) dlogp[(size_t)L.row[i] * L.T + L.at[i] + j] = (float)dl[i][j];
        model_backward(m, dlogp, NULL);
        add_work(us, &L, 3);  // forward + backward (2x)
        free(dlogp), free(gs), free(dead);
    }
    layout_free(&L);
    for (int i = 0; i < k; i++) free(lp[i]), free(dl[i]), free(ref ? ref[i] : NULL);
    free(lp), free(dl), free(ref);
    return rc;
}

// RFT: the correct samples, shortest first, at most rft_keep per prompt, get
// advantage 1 and the rest 0 with no loss; the token-mean of -logp is then
// GRPO's loss at ratio 1 with no clipping.
static void rft_select(Rl *rl, Batch *b) {
    for (int g = 0; g < b->groups; g++) {
        for (int kept = 0; kept < rl->c.rft_keep; kept++) {
            Sample *best = NULL;
            for (int i = 0; i < b->n; i++)
                if (b->s[i].prompt == g && b->s[i].correct && b->s[i].adv == 0 && (!best || b->s[i].n < best->n)) best = &b->s[i];
            if (!best) break;
            best->adv = 1;
        }
    }
    for (int i = 0; i < b->n; i++) b->s[i].live = b->s[i].adv > 0;
}

static void shuffle_ptrs(Sample **p, int n, Rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        Sample *t = p[i];
        p[i] = p[j], p[j] = t;
    }
}

static int update(Rl *rl, TrainLoop *L, Batch *b, UpdateStats *us, Err *e) {
    Model *m = train_loop_model(L);
    int per_update = rl->c.minibatch > 0 ? RS_MIN(rl->c.minibatch, b->n) : b->n;
    int n_updates = (b->n + per_update - 1) / per_update, mu = rl->rft ? 1 : rl->c.mu;
    if (mu * n_updates > 1 && old_logprobs(rl, m, b, us, e) != 0) return -1;
    Sample **order = xmalloc(sizeof *order * (size_t)b->n);
    for (int i = 0; i < b->n; i++) order[i] = &b->s[i];
    int rc = 0, first = 1;
    for (int pass = 0; pass < mu && rc == 0; pass++) {
        if (n_updates > 1) shuffle_ptrs(order, b->n, train_loop_rng(L));
        for (int u0 = 0; u0 < b->n && rc == 0; u0 += per_update) {
            int nu = RS_MIN(per_update, b->n - u0);
            int64_t live = 0;
            for (int i = 0; i < nu; i++) live += order[u0 + i]->live ? order[u0 + i]->n : 0;
            for (int i0 = 0; i0 < nu && rc == 0; i0 += rl->micro)
                rc = micro_step(rl, m, order + u0 + i0, RS_MIN(rl->micro, nu - i0), live, nu, first, us, e);
            if (rc == 0) train_loop_update(L), us->updates++;
            us->trained_tokens += (double)live;
        }
        first = 0;
    }
    free(order);
    return rc;
}

// ---------------------------------------------------------------------------
// The stage

static void add_step_metrics(Rl *rl, const Batch *b, const UpdateStats *us, double update_s, cJSON *row) {
    int ns = b->groups_sampled * rl->c.group_size;
    double mean = ns ? b->reward_sum / ns : 0, var = ns ? b->reward_sq / ns - mean * mean : 0;
    double grade_total = b->grade_work_s;
    struct {
        const char *k;
        double v;
    } f[] = {
        {"reward", mean}, {"reward_std", sqrt(fmax(var, 0))}, {"accuracy", ns ? b->correct / ns : 0},
        {"groups_all_equal", b->groups_sampled ? (double)b->groups_equal / b->groups_sampled : 0},
        {"groups_sampled", b->groups_sampled}, {"groups_failed", b->groups_failed}, {"groups_trained", b->groups},
        {"sampling_rounds", b->rounds},
        {"response_len", ns ? b->len_sum / ns : 0}, {"response_len_max", b->len_max},
        {"truncated", ns ? b->truncated / ns : 0},
        {"clip_frac", us->live_tokens ? us->clip_frac / us->live_tokens : 0},
        {"kl", us->live_tokens ? us->kl / us->live_tokens : 0},
        {"entropy", us->live_tokens ? us->entropy / us->live_tokens : 0},
        {"ratio_mean", us->live_tokens ? us->ratio_mean / us->live_tokens : 0}, {"ratio_max_dev", us->ratio_dev},
        {"logp_mismatch", us->mismatch}, {"pg_loss", us->loss}, {"updates", us->updates},
        {"time_sample", b->sample_s}, {"time_grade_wait", b->grade_wait_s}, {"time_update", update_s},
        {"sample_tok_s", b->sample_s > 0 ? b->sampled_tokens / b->sample_s : 0},
        {"update_tok_s", update_s > 0 ? us->trained_tokens / update_s : 0},
        {"grade_jobs_s", b->sample_s + b->grade_wait_s > 0 ? ns / (b->sample_s + b->grade_wait_s) : 0},
        {"grade_overlap", grade_total > 0 ? fmax(0, 1 - b->grade_wait_s / grade_total) : 1},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(f); i++) cJSON_AddNumberToObject(row, f[i].k, f[i].v);
}

static void track(Rl *rl, const Batch *b) {
    int ns = b->groups_sampled * rl->c.group_size;
    double mean = ns ? b->reward_sum / ns : 0, acc = ns ? b->correct / ns : 0;
    if (rl->nsteps == 0) rl->first_reward = mean, rl->first_acc = acc;
    rl->last_rewards[rl->nsteps % 5] = mean, rl->last_accs[rl->nsteps % 5] = acc;
    rl->nsteps++;
    rl->samples += ns;
    rl->sample_s += b->sample_s, rl->wait_s += b->grade_wait_s;
}

static int step(void *ud, TrainLoop *L, TrainStepInfo *in, cJSON *row, Err *e) {
    Rl *rl = ud;
    Batch b = {0};
    UpdateStats us = {0};
    int rc = sample_batch(rl, L, &b, e);
    double t0 = rs_now();
    if (rc == 0 && b.n) {
        double *rw = xmalloc(sizeof(double) * (size_t)b.n), *adv = xmalloc(sizeof(double) * (size_t)b.n);
        for (int i = 0; i < b.n; i++) rw[i] = b.s[i].reward;
        grpo_advantages(rw, b.groups, rl->c.group_size, rl->scale, adv);
        for (int i = 0; i < b.n; i++) b.s[i].adv = rl->rft ? 0 : adv[i];
        free(rw), free(adv);
        if (rl->rft) rft_select(rl, &b);
        rc = update(rl, L, &b, &us, e);
    }
    double update_s = rs_now() - t0;
    rl->update_s += update_s;
    if (rc == 0) {
        add_step_metrics(rl, &b, &us, update_s, row);
        track(rl, &b);
        in->loss = us.loss;
        in->tokens = b.sampled_tokens + us.trained_tokens;
        // Model FLOPs: each prompt prefilled once (its G samples share it), each
        // sampled token decoded once, and the update's forward/backward
        // passes; the head only where logits are computed (a sampled token's,
        // a response token's in the update).
        double trunk = rl->fwd_flops_per_token - rl->head_fwd_flops;
        in->flops = trunk * (b.prompt_tokens + b.sampled_tokens + us.fwd_tokens) +
                    rl->head_fwd_flops * (b.sampled_tokens + us.head_tokens);
    }
    batch_free(&b);
    return rc;
}

// Held-out evaluation through the same grader; avg@k, pass@k, maj@k per set.
static int eval(void *ud, TrainLoop *L, cJSON *row, Err *e) {
    Rl *rl = ud;
    if (!rl->c.n_eval) return 0;
    EvalSet *sets = xcalloc((size_t)rl->c.n_eval, sizeof *sets);
    for (int i = 0; i < rl->c.n_eval; i++) sets[i] = (EvalSet){.name = rl->evals[i]->stem, .problems = rl->evals[i]};
    EvalOpts o = eval_defaults();
    o.k = rl->c.eval_k;
    o.ro.temperature = rl->c.eval_temperature, o.ro.top_p = rl->c.top_p, o.ro.top_k = rl->c.top_k;
    o.ro.max_new_tokens = rl->c.eval_max_tokens > 0 ? rl->c.eval_max_tokens : rl->c.max_tokens;
    o.ro.batch = rl->c.batch;
    o.seed = rl->c.seed;
    o.system = rl->c.system, o.templates_dir = rl->c.templates_dir, o.grader = rl->grader;
    char name[64];
    snprintf(name, sizeof name, "eval/step_%06lld", (long long)train_loop_step(L));
    char *dir = fs_join(rl->c.out_dir, name);
    int rc = eval_run(train_loop_model(L), rl->tok, sets, rl->c.n_eval, &o, dir, e);
    for (int i = 0; rc == 0 && i < rl->c.n_eval; i++) {
        char key[160];
        const EvalMetrics *m = &sets[i].metrics;
        snprintf(key, sizeof key, "eval/%s/avg@%d", sets[i].name, o.k);
        cJSON_AddNumberToObject(row, key, m->avg_at_k);
        snprintf(key, sizeof key, "eval/%s/pass@%d", sets[i].name, o.k);
        cJSON_AddNumberToObject(row, key, m->n_ks ? m->pass_at[m->n_ks - 1] : NAN);
        snprintf(key, sizeof key, "eval/%s/maj@%d", sets[i].name, o.k);
        cJSON_AddNumberToObject(row, key, m->n_ks ? m->maj_at[m->n_ks - 1] : NAN);
        if (i == 0) {
            if (isnan(rl->eval_first)) rl->eval_first = m->avg_at_k;
            rl->eval_last = m->avg_at_k;
        }
    }
    if (rc == 0 && rl->c.progress) log_info("rl: step %lld: held-out avg@%d %.3f (%s)", (long long)train_loop_step(L),
                                            o.k, rl->eval_last, dir);
    free(dir), free(sets);
    return rc;
}

static cJSON *save_state(void *ud) {
    Rl *rl = ud;
    cJSON *j = cJSON_CreateObject();
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)rl->c.seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "epoch", (double)rl->epoch);
    cJSON_AddNumberToObject(j, "next", rl->next);
    cJSON_AddNumberToObject(j, "problems", rl->ntrain);
    if (!isnan(rl->eval_first)) cJSON_AddNumberToObject(j, "eval_first", rl->eval_first);
    return j;
}

static int load_state(void *ud, const cJSON *st, const char *ctx, Err *e) {
    Rl *rl = ud;
    const char *seed;
    int64_t epoch, next, n;
    if (!st) return err_set(e, "%s: stage: missing (not an RL checkpoint)", ctx);
    if (json_get_str(st, "seed", &seed, ctx, e) || json_get_int(st, "epoch", &epoch, ctx, e) ||
        json_get_int(st, "next", &next, ctx, e) || json_get_int(st, "problems", &n, ctx, e))
        return -1;
    if (n != rl->ntrain)
        return err_set(e, "%s: the run drew from %lld problems, --problems now has %d", ctx, (long long)n, rl->ntrain);
    rl->c.seed = strtoull(seed, NULL, 10);
    rl->epoch = epoch;
    shuffle_order(rl);
    rl->next = (int)RS_MIN(next, (int64_t)rl->ntrain);
    rl->eval_first = json_opt_num(st, "eval_first", NAN);
    return 0;
}

static void progress_text(void *ud, char *buf, size_t n) {
    Rl *rl = ud;
    int k = rl->nsteps ? (int)((rl->nsteps - 1) % 5) : 0;
    snprintf(buf, n, "reward %.3f acc %.3f", rl->last_rewards[k], rl->last_accs[k]);
}

// ---------------------------------------------------------------------------
// Setup

static int load_problems(Rl *rl, Err *e) {
    rl->sets = xcalloc((size_t)rl->c.n_problems, sizeof *rl->sets);
    rl->evals = xcalloc((size_t)(rl->c.n_eval ? rl->c.n_eval : 1), sizeof *rl->evals);
    int total = 0;
    for (int i = 0; i < rl->c.n_problems; i++) {
        if (!(rl->sets[i] = problems_load(rl->c.problems[i], 0, e))) return -1;
        total += rl->sets[i]->n;
    }
    for (int i = 0; i < rl->c.n_eval; i++) {
        if (!(rl->evals[i] = problems_load(rl->c.eval_problems[i], 0, e))) return -1;
        if (rl->c.eval_limit > 0) problems_truncate(rl->evals[i], rl->c.eval_limit);
    }
    rl->train = xmalloc(sizeof *rl->train * (size_t)(total ? total : 1));
    for (int i = 0; i < rl->c.n_problems; i++)
        for (int j = 0; j < rl->sets[i]->n; j++) {
            const Problem *p = &rl->sets[i]->items[j];
            // A math problem with no reference answer cannot be graded (code and
            // plugin problems carry their own checks).
            if (p->kind == PROBLEM_MATH && !p->answer && strcmp(p->verifier, "math") == 0) continue;
            rl->train[rl->ntrain++] = p;
        }
    if (rl->ntrain == 0)
        return err_set(e, "%s: no gradeable problems (math problems need an 'answer'; code problems tests)",
                       rl->c.problems[0]);
    rl->order = xmalloc(sizeof(int) * (size_t)rl->ntrain);
    shuffle_order(rl);
    return 0;
}

static int parse_options(Rl *rl, Err *e) {
    const RlConfig *c = &rl->c;
    if (strcmp(c->algo, "grpo") != 0 && strcmp(c->algo, "rft") != 0)
        return err_set(e, "--algo: expected grpo or rft, got '%s'", c->algo);
    rl->rft = strcmp(c->algo, "rft") == 0;
    if (c->group_size < 2) return err_set(e, "--group-size must be >= 2 (advantages compare samples of a prompt)");
    if (c->prompts_per_step < 1 || c->mu < 1 || c->max_tokens < 1 || c->minibatch < 0)
        return err_set(e, "--prompts-per-step, --mu and --max-tokens must be >= 1, --minibatch >= 0");
    if (c->eps_low < 0 || c->eps_low >= 1 || c->eps_high < 0) return err_set(e, "--eps-low in [0, 1), --eps-high >= 0");
    if (c->beta < 0) return err_set(e, "--beta must be >= 0");
    rl->lo = (GrpoLossOpts){.eps_low = c->eps_low, .eps_high = c->eps_high, .beta = c->beta, .max_tokens = c->max_tokens};
    if (grpo_agg_parse(c->loss_agg, &rl->lo.agg, e) || grpo_scale_parse(c->scale_rewards, &rl->scale, e)) return -1;
    if (rl->rft) rl->lo = (GrpoLossOpts){.eps_low = 1e9, .eps_high = 1e9, .agg = GRPO_AGG_TOKEN};  // plain NLL
    rl->ro = reward_defaults();
    rl->ro.format_weight = c->format_reward;
    if (c->overlong && reward_parse_overlong(c->overlong, &rl->ro, e) != 0) return -1;
    rl->micro = 16;
    return 0;
}

// The policy (from --resume or --model) and the reference (beta > 0).
static Model *load_models(Rl *rl, Err *e) {
    const char *dir = rl->c.resume_dir ? rl->c.resume_dir : rl->c.model_dir;
    if (!(rl->tok = bpe_load(dir, e))) return NULL;
    if (chat_check(rl->tok, CHAT_AUTO, e) != 0)
        return err_wrap(e, "%s: RL samples with the chat template; fine-tune the base model with `reasoner sft` first", dir), NULL;
    Model *m = model_load(dir, MODEL_GRADS, e);
    if (!m) return NULL;
    if (bpe_vocab_size(rl->tok) > model_config(m)->vocab_size) {
        err_set(e, "%s: tokenizer has %d tokens but the model's vocab_size is %d", dir, bpe_vocab_size(rl->tok),
                model_config(m)->vocab_size);
        return model_free(m), NULL;
    }
    if (rl->c.beta > 0 && !(rl->ref = model_load(rl->c.model_dir, 0, e))) return model_free(m), NULL;
    int32_t eot = bpe_special_id(rl->tok, "<|endoftext|>");
    rl->nstops = chat_stop_ids(rl->tok, CHAT_AUTO, rl->stops, 3);
    if (eot >= 0) rl->stops[rl->nstops++] = eot;
    const ModelConfig *mc = model_config(m);
    rl->fwd_flops_per_token = model_config_train_flops_per_token(mc, rl->c.max_tokens) / 3.0;
    rl->head_fwd_flops = model_config_head_train_flops(mc) / 3.0;
    return m;
}

static void rl_free(Rl *rl) {
    grader_close(rl->grader);
    bpe_free(rl->tok);
    model_free(rl->ref);
    for (int i = 0; rl->sets && i < rl->c.n_problems; i++) problems_free(rl->sets[i]);
    for (int i = 0; rl->evals && i < rl->c.n_eval; i++) problems_free(rl->evals[i]);
    free(rl->sets), free(rl->evals), free(rl->train), free(rl->order);
    problems_templates_free(&rl->tmpl);
}

static TrainLoopConfig loop_config(const RlConfig *c) {
    TrainLoopConfig lc = train_loop_defaults();
    lc.name = "rl";
    lc.out_dir = c->out_dir, lc.resume_dir = c->resume_dir, lc.steps = c->steps;
    lc.lr = c->lr, lc.min_lr = c->min_lr, lc.warmup = c->warmup, lc.schedule = c->schedule;
    lc.weight_decay = c->weight_decay, lc.clip = c->clip;
    lc.eval_every = c->n_eval ? c->eval_every : 0, lc.save_every = c->save_every;
    lc.seed = c->seed, lc.time_budget = c->time_budget, lc.peak_flops = c->peak_flops, lc.progress = c->progress;
    return lc;
}

static void fill_result(Rl *rl, TrainLoop *L, RlResult *r) {
    TrainLoopResult lr;
    train_loop_result(L, &lr);
    r->steps = lr.steps, r->updates = lr.updates, r->samples = rl->samples;
    r->first_reward = rl->first_reward, r->first_accuracy = rl->first_acc;
    int k = (int)RS_MIN(rl->nsteps, 5);
    r->last_reward = r->last_accuracy = 0;
    for (int i = 0; i < k; i++) r->last_reward += rl->last_rewards[i] / k, r->last_accuracy += rl->last_accs[i] / k;
    r->eval_before = rl->eval_first, r->eval_after = rl->eval_last;
    r->sample_s = rl->sample_s, r->grade_wait_s = rl->wait_s, r->update_s = rl->update_s;
    r->seconds = lr.seconds, r->mfu = lr.mfu;
}

int rl_run(const RlConfig *c, RlResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    r->eval_before = r->eval_after = NAN;
    Rl rl = {.c = *c, .eval_first = NAN, .eval_last = NAN};
    int rc = parse_options(&rl, e);
    if (rc == 0) rc = load_problems(&rl, e);
    char *tdir = c->templates_dir ? xstrdup(c->templates_dir) : problems_templates_dir();
    if (rc == 0) rc = problems_templates_load(&rl.tmpl, tdir, e);
    free(tdir);
    // The grader before any model: a local farm forks this process.
    GraderOpts go = {.farm = c->farm, .verifiers = c->verifiers, .server_key_file = c->server_key};
    if (rc == 0 && !(rl.grader = grader_open(&go, e))) rc = -1;
    Model *m = rc == 0 ? load_models(&rl, e) : NULL;
    if (rc == 0 && !m) rc = -1;
    TrainLoop *L = NULL;
    if (rc == 0) {
        TrainStage st = {.name = "rl", .ud = &rl, .step = step, .eval = eval, .save_state = save_state,
                         .load_state = load_state, .progress_text = progress_text};
        TrainLoopConfig lc = loop_config(c);
        if (!(L = train_loop_new(&lc, m, rl.tok, &st, e))) rc = -1, model_free(m);
    }
    if (rc == 0 && c->progress)
        log_info("rl: %s, %d problems, %d prompts x %d samples per step, mu %d, beta %g, clip [%g, %g], loss %s, "
                 "scale %s%s%s; grading with %s", c->algo, rl.ntrain, c->prompts_per_step, c->group_size, c->mu,
                 c->beta, c->eps_low, c->eps_high, c->loss_agg, c->scale_rewards,
                 c->dynamic_sampling ? ", dynamic sampling" : "", c->mask_truncated ? ", truncated masked" : "",
                 grader_name(rl.grader));
    if (rc == 0 && !c->resume_dir && c->n_eval) {  // held-out accuracy before any update
        cJSON *row = cJSON_CreateObject();
        double t = rs_now();
        rc = eval(&rl, L, row, e);
        train_loop_spent_on_eval(L, rs_now() - t);
        cJSON_Delete(row);
    }
    if (rc == 0) rc = train_loop_run(L, e);
    if (rc == 0) fill_result(&rl, L, r);
    train_loop_free(L);
    rl_free(&rl);
    return rc;
}
