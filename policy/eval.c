// eval.c: sample K answers per problem, grade them, count, report.
#include "eval.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "tokenizer/chat.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/report.h"
#include "verifier/farm/farm.h"

EvalOpts eval_defaults(void) {
    EvalOpts o = {.k = 1, .ro = rollout_defaults(), .seed = 0, .chat = 1};
    o.ro.max_new_tokens = 512;
    return o;
}

// ---------------------------------------------------------------------------
// Prompts.

typedef struct {
    char *tmpl[PROBLEM_NKINDS];  // per kind
} Templates;

static int load_templates(const EvalOpts *o, Templates *t, Err *e) {
    memset(t, 0, sizeof *t);
    if (!o->chat && !o->templates_dir) {
        for (int k = 0; k < PROBLEM_NKINDS; k++) t->tmpl[k] = xstrdup("{problem}");
        return 0;
    }
    char *dir = o->templates_dir ? xstrdup(o->templates_dir) : problems_templates_dir();
    ProblemTemplates pt;
    int rc = problems_templates_load(&pt, dir, e);
    free(dir);
    if (rc != 0) return -1;
    for (int k = 0; k < PROBLEM_NKINDS; k++) t->tmpl[k] = pt.text[k], pt.text[k] = NULL;
    return 0;
}

static void free_templates(Templates *t) {
    for (int k = 0; k < PROBLEM_NKINDS; k++) free(t->tmpl[k]);
}

// What a few-shot example's answer reads like: its worked solution when it
// has one, else its final answer in the form the math verifier extracts.
static void shot_completion(const Problem *p, Buf *b) {
    const char *sol = json_opt_str(p->json, "solution", NULL);
    if (sol) buf_puts(b, sol);
    else if (p->answer) buf_printf(b, "The answer is \\boxed{%s}.", p->answer);
}

static int build_prompt(const Bpe *tok, const EvalOpts *o, const Templates *t, const Problem *p, BpeIds *ids,
                        Err *e) {
    char *body = problems_render_prompt(t->tmpl[p->kind], p);
    int rc = 0;
    if (o->chat) {
        ChatMsg msgs[2] = {{"system", o->system}, {"user", body}};
        // CHAT_AUTO: the model's own template (tokenizer_config.json, or --chat-format).
        rc = o->system ? chat_render(tok, CHAT_AUTO, msgs, 2, 1, ids, NULL, e)
                       : chat_render(tok, CHAT_AUTO, msgs + 1, 1, 1, ids, NULL, e);
    } else {
        // Start as the model's tokenizer does (bpe.h, the BOS rule): our base
        // models saw every document after <|endoftext|>; Llama 3 after
        // <|begin_of_text|>; Qwen2 after nothing.
        int32_t bos = bpe_bos_id(tok);
        if (bos >= 0) bpe_ids_push(ids, bos);
        Buf b = {0};
        // Never show a problem its own answer: skip shots with its id or text
        // (lm-eval-harness excludes the document itself the same way).
        for (int i = 0, used = 0; o->shots && used < o->n_shots && i < o->shots->n; i++) {
            const Problem *s = &o->shots->items[i];
            if (strcmp(s->id, p->id) == 0 || strcmp(s->prompt, p->prompt) == 0) continue;
            used++;
            char *q = problems_render_prompt(t->tmpl[s->kind], s);
            buf_printf(&b, "%s\n", q);
            shot_completion(s, &b);
            buf_puts(&b, "\n\n");
            free(q);
        }
        buf_printf(&b, "%s\n", body);
        bpe_encode(tok, b.data, b.len, BPE_SPECIAL_NONE, ids);
        buf_free(&b);
    }
    free(body);
    return rc;
}

// ---------------------------------------------------------------------------
// Grading.

// ---------------------------------------------------------------------------
// Outputs.

typedef struct {
    int set, problem;  // which problem a prompt is
} PromptRef;

static cJSON *sample_record(const EvalSet *s, const Problem *p, int prompt_tokens, const RolloutSample *rs,
                            const VerifyResult *res) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "set", s->name);
    cJSON_AddStringToObject(o, "problem_id", p->id);
    cJSON_AddNumberToObject(o, "sample", rs->index);
    cJSON_AddStringToObject(o, "response", rs->text);
    cJSON_AddNumberToObject(o, "prompt_tokens", prompt_tokens);
    cJSON_AddNumberToObject(o, "tokens", rs->n);
    cJSON_AddStringToObject(o, "finish", rollout_finish_name(rs->finish));
    cJSON_AddStringToObject(o, "status", res->status);
    cJSON_AddNumberToObject(o, "score", res->score);
    cJSON_AddBoolToObject(o, "correct", strcmp(res->status, "correct") == 0);
    if (res->extracted) cJSON_AddStringToObject(o, "extracted", res->extracted);
    if (res->detail) cJSON_AddStringToObject(o, "detail", res->detail);
    if (p->answer) cJSON_AddStringToObject(o, "answer", p->answer);
    return o;
}

static void add_report(Report *r, const EvalSet *sets, int nsets, const double *lengths, int nlen) {
    const char *hdr[] = {"set", "problems", "samples", "avg@K", "pass@K", "maj@K", "mean tokens", "truncated"};
    char **cells = xcalloc((size_t)nsets * 8, sizeof(char *));
    const char **groups = xmalloc(sizeof(char *) * (size_t)nsets);
    double *bars = xmalloc(sizeof(double) * (size_t)nsets * 3);
    for (int i = 0; i < nsets; i++) {
        const EvalMetrics *m = &sets[i].metrics;
        int last = m->n_ks - 1;
        double vals[] = {m->avg_at_k, last >= 0 ? m->pass_at[last] : NAN, last >= 0 ? m->maj_at[last] : NAN};
        char buf[8][64];
        snprintf(buf[0], 64, "%s", sets[i].name);
        snprintf(buf[1], 64, "%d", m->n_problems);
        snprintf(buf[2], 64, "%ld", m->n_samples);
        snprintf(buf[3], 64, "%.3f ± %.3f", m->avg_at_k, m->avg_stderr);
        snprintf(buf[4], 64, "%.3f", vals[1]);
        snprintf(buf[5], 64, "%.3f", vals[2]);
        snprintf(buf[6], 64, "%.1f", m->mean_length);
        snprintf(buf[7], 64, "%.1f%%", 100 * m->truncated_share);
        for (int c = 0; c < 8; c++) cells[i * 8 + c] = xstrdup(buf[c]);
        groups[i] = sets[i].name;
        memcpy(bars + i * 3, vals, sizeof vals);
    }
    report_heading(r, "Accuracy per problem set");
    report_table(r, hdr, 8, (const char *const *)cells, nsets);
    const char *series[] = {"avg@K", "pass@K", "maj@K"};
    report_bar_chart(r, "Accuracy per problem set", "accuracy", groups, nsets, series, 3, bars);
    // pass@k and maj@k against k, one line per set.
    ReportSeries *ls = xcalloc((size_t)nsets * 2, sizeof *ls);
    double *xs = xmalloc(sizeof(double) * (size_t)nsets * PROBLEMS_MAX_KS);
    char **names = xcalloc((size_t)nsets * 2, sizeof(char *));
    for (int i = 0; i < nsets; i++) {
        const EvalMetrics *m = &sets[i].metrics;
        for (int j = 0; j < m->n_ks; j++) xs[i * PROBLEMS_MAX_KS + j] = m->ks[j];
        for (int w = 0; w < 2; w++) {
            Buf nb = {0};
            buf_printf(&nb, "%s %s", sets[i].name, w ? "maj@k" : "pass@k");
            names[i * 2 + w] = buf_take(&nb);
            ls[i * 2 + w] = (ReportSeries){names[i * 2 + w], xs + i * PROBLEMS_MAX_KS, w ? m->maj_at : m->pass_at, m->n_ks};
        }
    }
    report_line_chart(r, "pass@k and maj@k", "k", "accuracy", ls, nsets * 2);
    report_histogram(r, "Response length", "tokens", lengths, nlen, 0);
    for (int i = 0; i < nsets * 8; i++) free(cells[i]);
    for (int i = 0; i < nsets * 2; i++) free(names[i]);
    free(cells), free(groups), free(bars), free(ls), free(xs), free(names);
}

// Count per set and write summary.json and report.html.
static int write_summary(EvalSet *sets, int nsets, const EvalOpts *o, const RolloutResult *rr,
                         const PromptRef *refs, const VerifyResult *results, const char *out_dir, Err *e) {
    int K = o->k;
    double *lengths = xmalloc(sizeof(double) * (size_t)(rr->n ? rr->n : 1));
    for (int i = 0; i < rr->n; i++) lengths[i] = rr->samples[i].n;
    int np_all = rr->n / K;
    cJSON *summary = cJSON_CreateObject(), *jsets = cJSON_CreateObject();
    cJSON_AddNumberToObject(summary, "k", K);
    cJSON_AddNumberToObject(summary, "temperature", o->ro.temperature);
    cJSON_AddNumberToObject(summary, "top_p", o->ro.top_p);
    cJSON_AddNumberToObject(summary, "top_k", o->ro.top_k);
    cJSON_AddBoolToObject(summary, "kv_bf16", o->ro.kv_bf16);
    cJSON_AddNumberToObject(summary, "seed", (double)o->seed);
    cJSON_AddBoolToObject(summary, "chat", o->chat);
    cJSON_AddNumberToObject(summary, "max_tokens", o->ro.max_new_tokens);
    cJSON_AddNumberToObject(summary, "tokens", (double)rr->tokens);
    cJSON_AddNumberToObject(summary, "sampling_seconds", rr->seconds);
    for (int s = 0; s < nsets; s++) {
        int n = sets[s].problems->n;
        ProblemSamples *ps = xcalloc((size_t)(n ? n : 1), sizeof *ps);
        int *correct = xmalloc(sizeof(int) * (size_t)(n ? n : 1) * K), *len = xmalloc(sizeof(int) * (size_t)(n ? n : 1) * K),
            *trunc = xmalloc(sizeof(int) * (size_t)(n ? n : 1) * K);
        const char **ans = xmalloc(sizeof(char *) * (size_t)(n ? n : 1) * K);
        for (int p = 0; p < np_all; p++) {
            if (refs[p].set != s) continue;
            int q = refs[p].problem;
            for (int j = 0; j < K; j++) {
                int i = p * K + j, at = q * K + j;
                correct[at] = strcmp(results[i].status, "correct") == 0;
                ans[at] = results[i].extracted;
                len[at] = rr->samples[i].n;
                trunc[at] = rr->samples[i].finish == ROLLOUT_LENGTH;
            }
            ps[q] = (ProblemSamples){K, correct + q * K, ans + q * K, len + q * K, trunc + q * K};
        }
        problems_eval_metrics(ps, n, &sets[s].metrics);
        cJSON_AddItemToObject(jsets, sets[s].name, problems_eval_metrics_json(&sets[s].metrics));
        free(ps), free(correct), free(len), free(trunc), free(ans);
    }
    cJSON_AddItemToObject(summary, "sets", jsets);
    char *path = fs_join(out_dir, "summary.json");
    int rc = json_write_file(path, summary, e);
    free(path);
    cJSON_Delete(summary);
    if (rc == 0) {
        Report *r = report_new("reasoner eval");
        char line[256];
        snprintf(line, sizeof line, "K = %d samples per problem, temperature %.2f, top-p %.2f, at most %d new tokens.", K,
                 o->ro.temperature, o->ro.top_p, o->ro.max_new_tokens);
        report_text(r, line);
        add_report(r, sets, nsets, lengths, rr->n);
        path = fs_join(out_dir, "report.html");
        rc = report_write(r, path, e);
        free(path);
        report_free(r);
    }
    free(lengths);
    return rc;
}

static int write_samples(const EvalSet *sets, const RolloutResult *rr, const PromptRef *refs,
                         const RolloutPrompt *prompts, int K, const VerifyResult *results, const char *out_dir, Err *e) {
    char *path = fs_join(out_dir, "samples.jsonl");
    AtomicFile *f = afile_open(path, e);
    free(path);
    if (!f) return -1;
    for (int i = 0; i < rr->n; i++) {
        const PromptRef *ref = &refs[i / K];
        const EvalSet *s = &sets[ref->set];
        cJSON *rec = sample_record(s, &s->problems->items[ref->problem], prompts[i / K].len, &rr->samples[i], &results[i]);
        json_write_line(afile_fp(f), rec);
        cJSON_Delete(rec);
    }
    return afile_commit(f, e);
}

// ---------------------------------------------------------------------------

int eval_run(Model *m, const Bpe *tok, EvalSet *sets, int nsets, const EvalOpts *o, const char *out_dir,
             Err *e) {
    if (o->k < 1) return err_set(e, "eval: k %d < 1", o->k);
    if (!o->grader) return err_set(e, "eval: no grader (open one with grader_open before loading the model)");
    if (o->chat && o->shots && o->n_shots > 0)
        return err_set(e, "eval: few-shot examples are for plain prompts (--no-chat); a chat model takes the problem alone");
    if (o->chat) {  // a base model's tokenizer: say so before anything else
        if (chat_check(tok, CHAT_AUTO, e) != 0) return -1;
    }
    if (fs_mkdir_p(out_dir, e) != 0) return -1;
    Templates t;
    if (load_templates(o, &t, e) != 0) return -1;
    int np = 0, ctx = model_config(m)->max_position_embeddings;
    for (int s = 0; s < nsets; s++) np += sets[s].problems->n;
    PromptRef *refs = xmalloc(sizeof *refs * (size_t)(np ? np : 1));
    RolloutPrompt *prompts = xcalloc((size_t)(np ? np : 1), sizeof *prompts);
    BpeIds *ids = xcalloc((size_t)(np ? np : 1), sizeof *ids);
    int rc = 0, i = 0;
    for (int s = 0; s < nsets && rc == 0; s++) {
        for (int q = 0; q < sets[s].problems->n && rc == 0; q++, i++) {
            const Problem *p = &sets[s].problems->items[q];
            refs[i] = (PromptRef){s, q};
            if (build_prompt(tok, o, &t, p, &ids[i], e) != 0) rc = err_wrap(e, "%s", p->id);
            else if ((int)ids[i].len >= ctx)
                rc = err_set(e, "%s:%ld: problem '%s': its prompt of %zu tokens leaves no room in the model's context of %d",
                             sets[s].problems->path, p->line, p->id, ids[i].len, ctx);
            prompts[i] = (RolloutPrompt){ids[i].data, (int)ids[i].len, o->k, o->seed ^ XXH3_64bits(p->id, strlen(p->id))};
        }
    }
    free_templates(&t);
    // Stop where an answer ends: the end-of-text and end-of-turn tokens, and
    // in plain mode the blank line that separates few-shot examples.
    RolloutOpts ro = o->ro;
    int32_t stops[2];
    int nstops = 0;
    const char *names[] = {"<|endoftext|>", "<|im_end|>"};
    for (int k = 0; k < 2; k++)
        if (bpe_special_id(tok, names[k]) >= 0) stops[nstops++] = bpe_special_id(tok, names[k]);
    static const char *const blank_line[] = {"\n\n"};
    if (!ro.n_stop_ids) ro.stop_ids = stops, ro.n_stop_ids = nstops;
    if (!o->chat && !ro.n_stop_strs) ro.stop_strs = blank_line, ro.n_stop_strs = 1;
    GradedRollout gr = {0};
    const Problem **probs = xmalloc(sizeof *probs * (size_t)(np ? np : 1));
    for (int j = 0; j < np; j++) probs[j] = &sets[refs[j].set].problems->items[refs[j].problem];
    if (rc == 0) {
        log_info("eval: %d problems in %d sets, %d samples each, %d in all; grading with %s as they finish", np, nsets,
                 o->k, np * o->k, grader_name(o->grader));
        Progress *pg = progress_new("eval sampling", 0, "tok");
        rc = grade_rollout(o->grader, m, tok, &ro, prompts, probs, np, pg, &gr, e);
        progress_finish(pg);
    }
    if (rc == 0) {
        if (gr.expired > 0) log_warn("eval: %d of %d grading jobs got no result in time", gr.expired, gr.r.n);
        log_info("eval: sampled %d responses in %.1f s; grading waited %.1f s more", gr.r.n, gr.sample_s,
                 gr.grade_wait_s);
        rc = write_samples(sets, &gr.r, refs, prompts, o->k, gr.grades, out_dir, e);
    }
    if (rc == 0) rc = write_summary(sets, nsets, o, &gr.r, refs, gr.grades, out_dir, e);
    graded_rollout_free(&gr);
    free(probs);
    for (int j = 0; j < np; j++) bpe_ids_free(&ids[j]);
    free(ids), free(prompts), free(refs);
    return rc;
}
