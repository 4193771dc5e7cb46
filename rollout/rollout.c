// rollout.c: continuous-batching sampler over model_decode with prefix
// sharing (one prefill per prompt; its G decode slots share its cache rows).
#include "rollout.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fastexp.h"
#include "common/utf8.h"

RolloutOpts rollout_defaults(void) {
    return (RolloutOpts){.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .max_new_tokens = 256, .batch = 32};
}

const char *rollout_finish_name(RolloutFinish f) { return f == ROLLOUT_STOP ? "stop" : "length"; }

// ---------------------------------------------------------------------------
// Sampling one token.

typedef struct {
    float p;
    int32_t i;
} ProbIdx;

// The sampler's one order: higher probability first, then lower id. It is
// total, so the k best under it are the same set in the same order whether
// found by a full sort or by a heap.
static int ranks_before(ProbIdx x, ProbIdx y) { return x.p != y.p ? x.p > y.p : x.i < y.i; }

static int by_prob_desc(const void *a, const void *b) {
    const ProbIdx *x = a, *y = b;
    return ranks_before(*x, *y) ? -1 : ranks_before(*y, *x);
}

// Restore the heap (root: the entry ranked last) below position i.
static void sift_down(ProbIdx *h, int n, int i) {
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && ranks_before(h[c], h[c + 1])) c++;  // the child ranked later
        if (!ranks_before(h[i], h[c])) return;
        ProbIdx t = h[i];
        h[i] = h[c], h[c] = t;
        i = c;
    }
}

// Move the k best of pi (n) to its front, best first: a heap of the k best
// seen so far, O(n log k) instead of sorting all n (the vocabulary).
static void top_k_front(ProbIdx *pi, int n, int k) {
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(pi, k, i);
    for (int i = k; i < n; i++)
        if (ranks_before(pi[i], pi[0])) {
            pi[0] = pi[i];
            sift_down(pi, k, 0);
        }
    qsort(pi, (size_t)k, sizeof *pi, by_prob_desc);
}

// e[i] = exp(logits[i] * it - mx) for the V logits; returns their sum. One
// vectorised pass: glibc's exp per logit cost as much as the rest of
// sampling together.
__attribute__((target_clones("avx512f", "avx2", "default")))
static float exp_shifted(const float *logits, int V, float it, float mx, float *e) {
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < V; i++) {
        e[i] = rs_expf(logits[i] * it - mx);
        sum += e[i];
    }
    return sum;
}

int32_t rollout_sample_token(const float *logits, int V, float temperature, int top_k, float top_p,
                             Rng *rng, float *scratch, float *logp) {
    float t = temperature > 0 ? temperature : 1.0f, it = 1.0f / t;
    int32_t best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    float mx = logits[best] * it, *e = scratch, sum = exp_shifted(logits, V, it, mx, e);
    double lse = mx + log((double)sum);
    if (temperature <= 0) {
        *logp = (float)(logits[best] * it - lse);
        return best;
    }
    if ((top_k <= 0 || top_k >= V) && top_p >= 1.0f) {  // plain sampling: one walk over e
        double u = rng_double(rng) * sum, c = 0;
        int32_t tok = best;  // where rounding leaves u past the walk's total
        for (int i = 0; i < V; i++) {
            c += e[i];
            if (u < c) {
                tok = i;
                break;
            }
        }
        *logp = (float)(logits[tok] * it - lse);
        return tok;
    }
    // pi[i] takes floats 2i and 2i + 1 of scratch, where e lies in floats
    // 0..V-1: filled from the back, each e[j] it overwrites (j > i) is read.
    ProbIdx *pi = (ProbIdx *)scratch;
    int n = V;
    for (int i = V - 1; i >= 0; i--) {
        float p = e[i] / sum;
        pi[i] = (ProbIdx){p, i};
    }
    if ((top_k > 0 && top_k < V) || top_p < 1.0f) {
        if (top_k > 0 && top_k < V) top_k_front(pi, V, n = top_k);
        else qsort(pi, (size_t)V, sizeof *pi, by_prob_desc);  // the nucleus needs the whole order
        if (top_p < 1.0f) {
            // The nucleus is taken over the top-k renormalised (HF's warper
            // chain, vLLM): its mass counts against top_p times what top-k kept.
            double kept_k = 0, c = 0;
            for (int i = 0; i < n; i++) kept_k += pi[i].p;
            for (int i = 0; i < n; i++) {
                c += pi[i].p;
                if (c >= top_p * kept_k) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    double kept = 0;
    for (int i = 0; i < n; i++) kept += pi[i].p;
    double u = rng_double(rng) * kept, c = 0;
    int32_t tok = pi[n - 1].i;
    for (int i = 0; i < n; i++) {
        c += pi[i].p;
        if (u < c) {
            tok = pi[i].i;
            break;
        }
    }
    *logp = (float)(logits[tok] * it - lse);
    return tok;
}

// ---------------------------------------------------------------------------
// Sample text as valid UTF-8.

// A model's byte tokens need not spell UTF-8 (a young model emits stray
// bytes). The text is graded and written as JSON, so it is repaired
// (common/utf8.h); the ids keep the exact tokens.

// ---------------------------------------------------------------------------
// The engine.

typedef struct {
    int sample;      // index into out->samples; -1 when the slot is free
    int32_t pending; // sampled token not yet fed to the model
    Rng rng;
    BpeStream stream;
    Buf text;
    int cap;         // capacity of ids/logp
} Seq;

typedef struct {
    Model *m;
    const Bpe *tok;
    const RolloutOpts *o;
    const RolloutPrompt *prompts;
    int np, V, B, P, max_len, max_stop;
    KVCache *kv;          // B decode slots, then P prompt slots
    Seq *seqs;            // (B)
    int *first;           // (np) index of each prompt's first sample
    int *pslot;           // (np) prompt slot holding the prefill; -1 before, -2 after
    int *powner;          // (P) prompt owning each prompt slot, or -1
    float *plogits;       // (P, V) last-position logits of each prompt slot
    float *logits;        // (B, V) decode output
    float *scratch;       // (threads, 2V)
    RolloutResult *out;
    Progress *progress;
} Engine;

static int is_stop_id(const RolloutOpts *o, int32_t t) {
    for (int i = 0; i < o->n_stop_ids; i++)
        if (o->stop_ids[i] == t) return 1;
    return 0;
}

static void finish_seq(Engine *g, Seq *s, RolloutFinish f) {
    RolloutSample *r = &g->out->samples[s->sample];
    if (!r->text) {  // else a stop string already cut it
        size_t before = s->text.len;
        bpe_stream_finish(&s->stream, &s->text);
        if (g->o->on_text && s->text.len > before)
            g->o->on_text(s->sample, s->text.data + before, s->text.len - before, g->o->ud);
        r->text = utf8_repair(s->text.data, s->text.len);
    }
    buf_free(&s->text);
    r->finish = f;
    model_kv_reset(g->kv, (int)(s - g->seqs));
    s->sample = -1;
    if (g->o->on_sample) g->o->on_sample(r, g->o->ud);
}

// Cut the text at the first stop string that the last `added` bytes completed.
static int cut_at_stop_string(Engine *g, Seq *s, size_t added) {
    if (!g->o->n_stop_strs || !s->text.len) return 0;
    size_t from = s->text.len > added + (size_t)g->max_stop ? s->text.len - added - (size_t)g->max_stop : 0;
    const char *best = NULL;
    for (int i = 0; i < g->o->n_stop_strs; i++) {
        const char *hit = memmem(s->text.data + from, s->text.len - from, g->o->stop_strs[i], strlen(g->o->stop_strs[i]));
        if (hit && (!best || hit < best)) best = hit;
    }
    if (!best) return 0;
    g->out->samples[s->sample].text = utf8_repair(s->text.data, (size_t)(best - s->text.data));
    return 1;
}

// Record a sampled token; end the sequence when it is done.
static void accept_token(Engine *g, Seq *s, int32_t tok, float lp) {
    RolloutSample *r = &g->out->samples[s->sample];
    if (r->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        r->ids = xrealloc(r->ids, sizeof(int32_t) * (size_t)s->cap);
        r->logp = xrealloc(r->logp, sizeof(float) * (size_t)s->cap);
    }
    r->ids[r->n] = tok;
    r->logp[r->n] = lp;
    r->n++;
    if (is_stop_id(g->o, tok)) return finish_seq(g, s, ROLLOUT_STOP);
    size_t before = s->text.len;
    if (bpe_stream_feed(&s->stream, tok, &s->text, NULL) < 0) return finish_seq(g, s, ROLLOUT_STOP);
    if (g->o->on_text && s->text.len > before)
        g->o->on_text(s->sample, s->text.data + before, s->text.len - before, g->o->ud);
    if (cut_at_stop_string(g, s, s->text.len - before)) return finish_seq(g, s, ROLLOUT_STOP);
    // Prompt plus generation never exceeds the context (vLLM's max_model_len):
    // the pending token would take the cache's last free position.
    int slot = (int)(s - g->seqs);
    if (r->n >= g->o->max_new_tokens || model_kv_len(g->kv, slot) + 1 >= g->max_len)
        return finish_seq(g, s, ROLLOUT_LENGTH);
    s->pending = tok;
}

typedef struct {
    Engine *g;
    Seq **seqs;     // (n) the sequences whose rows are sampled
    int32_t *toks;  // (n) sampled tokens
    float *lps;     // (n) their log-probs
} Draw;

// Sample sequence i's token from its logits row; thread-safe across i (each
// sequence has its own RNG, each thread its own scratch).
static void draw_one(int i, const float *row, void *ud) {
    Draw *d = ud;
    const RolloutOpts *o = d->g->o;
    float *scr = d->g->scratch + (size_t)omp_get_thread_num() * 2 * (size_t)d->g->V;
    d->toks[i] = rollout_sample_token(row, d->g->V, o->temperature, o->top_k, o->top_p, &d->seqs[i]->rng, scr,
                                      &d->lps[i]);
}

// Record the drawn tokens in order (text, stop strings, callbacks: serial).
static void accept_draws(Engine *g, const Draw *d, int n) {
    for (int i = 0; i < n; i++) accept_token(g, d->seqs[i], d->toks[i], d->lps[i]);
    if (g->progress) progress_add(g->progress, n);
    g->out->tokens += n;
}

// Sample from each listed sequence's logits row, in parallel.
static void sample_rows(Engine *g, Seq **seqs, const float *const *rows, int n) {
    Draw d = {g, seqs, xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1)), xmalloc(sizeof(float) * (size_t)(n ? n : 1))};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) draw_one(i, rows[i], &d);
    accept_draws(g, &d, n);
    free(d.toks);
    free(d.lps);
}

static int prompt_of(const Engine *g, int sample) {
    int lo = 0, hi = g->np - 1;  // last prompt whose first sample <= sample
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (g->first[mid] <= sample) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static void start_seq(Engine *g, int slot, int sample) {
    Seq *s = &g->seqs[slot];
    int p = prompt_of(g, sample), j = sample - g->first[p];
    RolloutSample *r = &g->out->samples[sample];
    r->prompt = p;
    r->index = j;
    Rng base;
    rng_seed(&base, g->prompts[p].seed);
    *s = (Seq){.sample = sample, .rng = rng_split(&base, (uint64_t)j)};
    bpe_stream_init(&s->stream, g->tok);
}

// Fill free decode slots with the next waiting samples: prefill their prompts
// (all in one call), fork shared prompts, and sample each one's first token.
static int refill(Engine *g, int *next, Err *e) {
    int B = g->B, total = g->out->n;
    int *new_slots = xmalloc(sizeof(int) * (size_t)B), nnew = 0;
    int *pf_slots = xmalloc(sizeof(int) * (size_t)(B + g->P)), *pf_len = xmalloc(sizeof(int) * (size_t)(B + g->P));
    int32_t *pf_tok = NULL;
    size_t pf_ntok = 0;
    int npf = 0, rc = 0;
    for (int slot = 0; slot < B && *next < total; slot++) {
        if (g->seqs[slot].sample >= 0) continue;
        int sample = *next, p = prompt_of(g, sample);
        const RolloutPrompt *pr = &g->prompts[p];
        int target = -1;
        if (pr->n_samples == 1) target = slot;
        else if (g->pslot[p] == -1) {
            int free_ps = -1;
            for (int k = 0; k < g->P && free_ps < 0; k++)
                if (g->powner[k] < 0) free_ps = k;
            if (free_ps < 0) break;  // every prompt slot is held: wait for a later round
            g->powner[free_ps] = p;
            target = g->pslot[p] = B + free_ps;
        }
        (*next)++;
        start_seq(g, slot, sample);
        new_slots[nnew++] = slot;
        if (target < 0) continue;
        pf_slots[npf] = target;
        pf_len[npf++] = pr->len;
        pf_tok = xrealloc(pf_tok, sizeof(int32_t) * (pf_ntok + (size_t)pr->len));
        memcpy(pf_tok + pf_ntok, pr->ids, sizeof(int32_t) * (size_t)pr->len);
        pf_ntok += (size_t)pr->len;
    }
    float *pf_logits = xmalloc(sizeof(float) * (size_t)(npf ? npf : 1) * (size_t)g->V);
    if (npf && model_decode(g->m, g->kv, npf, pf_slots, pf_len, pf_tok, pf_logits, 0, e) != 0) rc = -1;
    if (rc == 0) {
        // Rows of the prefill output: a prompt slot's row is kept for its later forks.
        for (int i = 0; i < npf; i++)
            if (pf_slots[i] >= B)
                memcpy(g->plogits + (size_t)(pf_slots[i] - B) * g->V, pf_logits + (size_t)i * g->V,
                       sizeof(float) * (size_t)g->V);
        Seq **seqs = xmalloc(sizeof(Seq *) * (size_t)(nnew ? nnew : 1));
        const float **rows = xmalloc(sizeof(float *) * (size_t)(nnew ? nnew : 1));
        for (int i = 0; i < nnew; i++) {
            Seq *s = &g->seqs[new_slots[i]];
            int p = g->out->samples[s->sample].prompt;
            seqs[i] = s;
            if (g->prompts[p].n_samples == 1) {
                for (int k = 0; k < npf; k++)
                    if (pf_slots[k] == new_slots[i]) rows[i] = pf_logits + (size_t)k * g->V;
            } else {
                model_kv_copy(g->kv, new_slots[i], g->pslot[p]);
                rows[i] = g->plogits + (size_t)(g->pslot[p] - B) * g->V;
            }
        }
        // Release prompt slots whose prompts have all their samples started.
        for (int i = 0; i < nnew; i++) {
            RolloutSample *r = &g->out->samples[seqs[i]->sample];
            if (r->index == g->prompts[r->prompt].n_samples - 1 && g->pslot[r->prompt] >= 0) {
                model_kv_reset(g->kv, g->pslot[r->prompt]);
                g->powner[g->pslot[r->prompt] - B] = -1;
                g->pslot[r->prompt] = -2;
            }
        }
        sample_rows(g, seqs, rows, nnew);
        free(seqs);
        free(rows);
    }
    free(new_slots), free(pf_slots), free(pf_len), free(pf_tok), free(pf_logits);
    return rc;
}

// One decode step over every live sequence; each row is sampled by the
// decode's own threads as soon as its logits exist (model_decode_each).
static int step(Engine *g, Err *e) {
    int n = 0;
    int *slots = xmalloc(sizeof(int) * (size_t)g->B), *ones = xmalloc(sizeof(int) * (size_t)g->B);
    int32_t *toks = xmalloc(sizeof(int32_t) * (size_t)g->B);
    Draw d = {g, xmalloc(sizeof(Seq *) * (size_t)g->B), xmalloc(sizeof(int32_t) * (size_t)g->B),
              xmalloc(sizeof(float) * (size_t)g->B)};
    for (int slot = 0; slot < g->B; slot++) {
        if (g->seqs[slot].sample < 0) continue;
        slots[n] = slot;
        ones[n] = 1;
        toks[n] = g->seqs[slot].pending;
        d.seqs[n++] = &g->seqs[slot];
    }
    int rc = 0;
    if (n && model_decode_each(g->m, g->kv, n, slots, ones, toks, g->logits, draw_one, &d, e) != 0) rc = -1;
    if (rc == 0 && n) accept_draws(g, &d, n);
    free(slots), free(ones), free(toks), free(d.seqs), free(d.toks), free(d.lps);
    return rc;
}

static int check_prompts(const Model *m, const RolloutOpts *o, const RolloutPrompt *p, int np, int *max_len,
                         Err *e) {
    int ctx = model_config(m)->max_position_embeddings, longest = 1;
    for (int i = 0; i < np; i++) {
        if (p[i].len < 1) return err_set(e, "prompt %d: empty", i);
        if (p[i].n_samples < 1) return err_set(e, "prompt %d: n_samples %d < 1", i, p[i].n_samples);
        if (p[i].len >= ctx)
            return err_set(e, "prompt %d: %d tokens leave no room in the model's context of %d", i, p[i].len, ctx);
        longest = RS_MAX(longest, p[i].len);
    }
    if (o->max_new_tokens < 1) return err_set(e, "max_new_tokens %d < 1", o->max_new_tokens);
    *max_len = longest + RS_MIN(o->max_new_tokens, ctx - longest);  // no int overflow for huge limits
    return 0;
}

int rollout_generate(Model *m, const Bpe *tok, const RolloutOpts *o, const RolloutPrompt *prompts, int np,
                     Progress *progress, RolloutResult *out, Err *e) {
    memset(out, 0, sizeof *out);
    Engine g = {.m = m, .tok = tok, .o = o, .prompts = prompts, .np = np, .progress = progress, .out = out};
    if (check_prompts(m, o, prompts, np, &g.max_len, e) != 0) return -1;
    g.V = model_config(m)->vocab_size;
    int total = 0, multi = 0, gmin = INT_MAX;
    g.first = xmalloc(sizeof(int) * (size_t)(np ? np : 1));
    g.pslot = xmalloc(sizeof(int) * (size_t)(np ? np : 1));
    for (int i = 0; i < np; i++) {
        g.first[i] = total;
        g.pslot[i] = -1;
        total += prompts[i].n_samples;
        if (prompts[i].n_samples > 1) multi++, gmin = RS_MIN(gmin, prompts[i].n_samples);
    }
    g.B = RS_MAX(1, RS_MIN(o->batch > 0 ? o->batch : 32, total));
    // A prompt slot is held from a prompt's first start to its last. Between
    // rounds only the prompt being started holds one; a round of at most B
    // starts takes at most (B - 1) / gmin + 1 more (every prompt it starts
    // but the last takes gmin starts or more). So refill never waits for one.
    g.P = multi ? RS_MIN(multi, g.B / gmin + 2) : 0;
    for (int i = 0; i < o->n_stop_strs; i++) g.max_stop = RS_MAX(g.max_stop, (int)strlen(o->stop_strs[i]));
    out->samples = xcalloc((size_t)(total ? total : 1), sizeof(RolloutSample));
    out->n = total;
    double t0 = rs_now();
    int rc = 0;
    g.kv = model_kv_cache(m, g.B + g.P, g.max_len, o->kv_bf16, e);  // the model's, kept across calls
    if (!g.kv) rc = -1;
    if (rc == 0) {
        g.seqs = xcalloc((size_t)g.B, sizeof(Seq));
        for (int i = 0; i < g.B; i++) g.seqs[i].sample = -1;
        g.powner = xmalloc(sizeof(int) * (size_t)(g.P ? g.P : 1));
        for (int i = 0; i < g.P; i++) g.powner[i] = -1;
        g.plogits = xmalloc(sizeof(float) * (size_t)(g.P ? g.P : 1) * (size_t)g.V);
        g.logits = xmalloc(sizeof(float) * (size_t)g.B * (size_t)g.V);
        g.scratch = xmalloc(sizeof(float) * 2 * (size_t)g.V * (size_t)omp_get_max_threads());
        int next = 0, live;
        do {
            if (next < total && refill(&g, &next, e) != 0) {
                rc = -1;
                break;
            }
            if (step(&g, e) != 0) {
                rc = -1;
                break;
            }
            live = 0;
            for (int i = 0; i < g.B; i++) live += g.seqs[i].sample >= 0;
        } while (live || next < total);
    }
    out->seconds = rs_now() - t0;
    for (int i = 0; g.seqs && i < g.B; i++) buf_free(&g.seqs[i].text);
    if (g.kv)  // release every row: the pool stays with the model for the next call
        for (int i = 0; i < g.B + g.P; i++) model_kv_reset(g.kv, i);
    free(g.seqs), free(g.first), free(g.pslot), free(g.powner), free(g.plogits), free(g.logits), free(g.scratch);
    if (rc != 0) rollout_result_free(out);
    return rc;
}

void rollout_result_free(RolloutResult *r) {
    if (!r) return;
    for (int i = 0; i < r->n && r->samples; i++) {
        free(r->samples[i].ids);
        free(r->samples[i].logp);
        free(r->samples[i].text);
    }
    free(r->samples);
    memset(r, 0, sizeof *r);
}
