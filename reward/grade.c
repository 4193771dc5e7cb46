// grade.c: grading in process or through a farm (see grade.h).
#include "grade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base.h"
#include "common/json.h"

struct Grader {
    GraderOpts o;
    char name[200];
    VerifierSet *own;
    const VerifierSet *vs;
    FarmClient *farm;       // NULL: grade in this process
    VerifyResult *done;     // in-process results, in submission order
    int n, cap;             // jobs submitted since the last collect
    double last_wait;
};

static double resident_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

Grader *grader_open(const GraderOpts *o, Err *e) {
    Grader *g = xcalloc(1, sizeof *g);
    g->o = *o;
    if (!g->o.farm) g->o.farm = "none";
    if (g->o.timeout_s <= 0) g->o.timeout_s = 600;
    snprintf(g->name, sizeof g->name, "%s", g->o.farm);
    g->vs = o->verifiers;
    if (!g->vs) g->vs = g->own = verifier_set_new();
    if (strcmp(g->o.farm, "none") == 0) return g;
    double rss = resident_mb();
    if (strncmp(g->o.farm, "local:", 6) == 0 && rss > GRADER_MAX_FORK_RSS_MB) {
        err_set(e, "grader: a local farm forks this process, which already holds %.0f MB: open the grader before "
                   "loading a model (ARCHITECTURE.md, \"Grading\")", rss);
        grader_close(g);
        return NULL;
    }
    FarmClientOptions fo = {.verifiers = g->vs, .server_key_file = o->server_key_file};
    if (!(g->farm = farm_client_new(g->o.farm, &fo, e))) {
        err_wrap(e, "--farm %s", g->o.farm);
        grader_close(g);
        return NULL;
    }
    return g;
}

void grader_close(Grader *g) {
    if (!g) return;
    farm_client_free(g->farm);
    grade_results_free(g->done, g->n);
    free(g->done);
    verifier_set_free(g->own);
    free(g);
}

const char *grader_name(const Grader *g) { return g->name; }
int grader_pending(const Grader *g) { return g->n; }
double grader_last_wait(const Grader *g) { return g->last_wait; }

static cJSON *job_json(const Grader *g, const Problem *p, const char *response) {
    char id[32];
    snprintf(id, sizeof id, "%d", g->n);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "verifier", p->verifier);
    cJSON_AddStringToObject(j, "response", response);
    cJSON_AddItemReferenceToObject(j, "problem", p->json);  // serialised at once; not copied
    const VerifyLimits *l = &g->o.limits;
    if (l->time_s > 0 || l->memory_mb > 0) {
        cJSON *lim = cJSON_AddObjectToObject(j, "limits");
        if (l->time_s > 0) cJSON_AddNumberToObject(lim, "time_s", l->time_s);
        if (l->memory_mb > 0) cJSON_AddNumberToObject(lim, "memory_mb", l->memory_mb);
    }
    return j;
}

int grader_submit(Grader *g, const Problem *p, const char *response, Err *e) {
    if (g->farm) {
        cJSON *j = job_json(g, p, response);
        int rc = farm_submit(g->farm, &j, 1, e);
        cJSON_Delete(j);
        if (rc == 0) g->n++;
        return rc;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->done = xrealloc(g->done, (size_t)g->cap * sizeof *g->done);
    }
    // In process: the job points at the caller's strings; nothing is serialised.
    VerifyJob job = {.id = "", .verifier = (char *)p->verifier, .response = (char *)response,
                     .problem = p->json, .limits = g->o.limits};
    VerifyResult *r = &g->done[g->n++];
    memset(r, 0, sizeof *r);
    verifier_grade(g->vs, &job, r);
    return 0;
}

int grader_collect(Grader *g, VerifyResult *out, Err *e) {
    int n = g->n, expired = 0;
    double t0 = rs_now();
    if (!g->farm) {
        memcpy(out, g->done, (size_t)n * sizeof *out);
        g->n = 0;
        g->last_wait = 0;
        return 0;
    }
    cJSON **res = xcalloc((size_t)(n ? n : 1), sizeof *res);
    expired = farm_collect(g->farm, g->o.timeout_s, res, e);
    g->last_wait = rs_now() - t0;
    g->n = 0;
    if (expired < 0) {
        free(res);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        Err re = {0};
        memset(&out[i], 0, sizeof out[i]);
        if (verify_result_from_json(res[i], &out[i], &re) != 0) verify_result_set(&out[i], "error", 0, "%s", re.msg);
        cJSON_Delete(res[i]);
    }
    free(res);
    return expired;
}

void grade_results_free(VerifyResult *r, int n) {
    for (int i = 0; r && i < n; i++) verify_result_free(&r[i]);
}

int grade_is_verdict(const VerifyResult *r) { return strcmp(r->status, "error") != 0; }

// ---------------------------------------------------------------------------
// Sampling with grading overlapped.

typedef struct {
    Grader *g;
    const Problem *const *problems;
    const int *first;   // (np) index of each prompt's first sample
    int *order;         // (n) sample index of each submission
    int nsub, failed;
    Err err;
    const RolloutOpts *user;  // the caller's callbacks, still called
} Overlap;

static void submit_finished(const RolloutSample *s, void *ud) {
    Overlap *w = ud;
    if (!w->failed) {
        if (grader_submit(w->g, w->problems[s->prompt], s->text, &w->err) == 0)
            w->order[w->nsub++] = w->first[s->prompt] + s->index;
        else w->failed = 1;
    }
    if (w->user->on_sample) w->user->on_sample(s, w->user->ud);
}

static void pass_text(int sample, const char *text, size_t n, void *ud) {
    Overlap *w = ud;
    w->user->on_text(sample, text, n, w->user->ud);
}

int grade_rollout(Grader *g, Model *m, const Bpe *tok, const RolloutOpts *o, const RolloutPrompt *prompts,
                  const Problem *const *problems, int np, Progress *progress, GradedRollout *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (grader_pending(g) != 0) return err_set(e, "grade_rollout: the grader has %d jobs pending", grader_pending(g));
    int total = 0;
    int *first = xmalloc(sizeof(int) * (size_t)(np ? np : 1));
    for (int i = 0; i < np; i++) first[i] = total, total += prompts[i].n_samples;
    Overlap w = {.g = g, .problems = problems, .first = first, .user = o};
    w.order = xmalloc(sizeof(int) * (size_t)(total ? total : 1));
    RolloutOpts ro = *o;
    ro.on_sample = submit_finished;
    ro.on_text = o->on_text ? pass_text : NULL;
    ro.ud = &w;
    double t0 = rs_now();
    int rc = rollout_generate(m, tok, &ro, prompts, np, progress, &out->r, e);
    out->sample_s = rs_now() - t0;
    if (rc == 0 && w.failed) rc = err_set(e, "%s", w.err.msg), rollout_result_free(&out->r);
    VerifyResult *sub = xcalloc((size_t)(total ? total : 1), sizeof *sub);
    int expired = grader_pending(g) ? grader_collect(g, sub, rc == 0 ? e : &w.err) : 0;  // always drain the queue
    out->grade_wait_s = grader_last_wait(g);
    if (rc == 0 && expired < 0) rc = -1, rollout_result_free(&out->r);
    if (rc == 0) {
        RS_CHECK(w.nsub == out->r.n);
        out->grades = xcalloc((size_t)(total ? total : 1), sizeof *out->grades);
        for (int k = 0; k < w.nsub; k++) out->grades[w.order[k]] = sub[k];
        out->expired = expired;
    } else if (expired >= 0) {
        grade_results_free(sub, w.nsub);
    }
    free(sub), free(first), free(w.order);
    return rc;
}

void graded_rollout_free(GradedRollout *gr) {
    if (!gr) return;
    grade_results_free(gr->grades, gr->r.n);
    free(gr->grades);
    rollout_result_free(&gr->r);
    memset(gr, 0, sizeof *gr);
}
