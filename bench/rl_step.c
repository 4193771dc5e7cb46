// bench/rl_step.c: one RL step on the demo's model shape (the `tiny` preset,
// vocabulary 4096, random weights; --preset small for a bigger one), G = 8
// samples of 16 prompts of the demo's two-step sums, 48 new tokens, graded by a local farm of 2 workers: wall time split into sampling,
// grading (the part not hidden behind sampling) and update, tokens/s of
// each, and model FLOPs (sampling + update) over the sgemm peak of the best
// kernels this CPU supports. Then, when a Python with TRL is found
// ($TRL_PYTHON, default python3), TRL's GRPOTrainer on the same HF folder,
// prompts and shapes on CPU in the same run, and the ratio.
//   make build/bench/rl_step && build/bench/rl_step
//   python3 -m venv /tmp/trl && /tmp/trl/bin/pip install trl && TRL_PYTHON=/tmp/trl/bin/python build/bench/rl_step
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "model/blas.h"
#include "model/model.h"
#include "policy/rl.h"
#include "problems/gen.h"
#include "problems/problems.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat.h"

enum { G = 8, P = 16, MAX_TOKENS = 48, STEPS = 3 };

static Bpe *tokenizer(void) {
    Err e = {0};
    BpeTrainOpts o = {.vocab_size = 4096};  // the default specials include the chat tokens
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    GenOptions go;
    problems_gen_defaults(&go);
    go.n = 3000, go.seed = 5, go.digits = 1, go.steps = 3, go.ops = "+-";
    ProblemSet *s = problems_gen("arith", &go, &e);
    RS_CHECK(s);
    for (int rep = 0; rep < 4; rep++)
        for (int i = 0; i < s->n; i++) {
            const char *sol = json_opt_str(s->items[i].json, "solution", "");
            bpe_trainer_add(t, s->items[i].prompt, strlen(s->items[i].prompt));
            bpe_trainer_add(t, sol, strlen(sol));
        }
    Bpe *b = bpe_trainer_finish(t, &e);
    RS_CHECK(b);
    bpe_trainer_free(t);
    problems_free(s);
    return b;
}

// The HF folder of a random model of the preset, the problems and their rendered prompts.
static void setup(const char *dir, Bpe *tok, const char *preset) {
    Err e = {0};
    ModelConfig c;
    if (model_config_preset(preset, &c, &e) != 0) RS_ABORT("%s", e.msg);
    c.vocab_size = bpe_vocab_size(tok);
    c.bos_token_id = c.eos_token_id = bpe_special_id(tok, "<|endoftext|>");
    Model *m = model_new(&c, 0, &e);
    RS_CHECK(m);
    model_init_random(m, 3);
    char *mdir = fs_join(dir, "model"), *tp = fs_join(mdir, "tokenizer.json");
    RS_CHECK(fs_mkdir_p(mdir, &e) == 0 && model_save(m, mdir, &e) == 0 && bpe_save(tok, tp, &e) == 0);
    GenOptions go;
    problems_gen_defaults(&go);
    go.n = 256, go.seed = 9, go.digits = 1, go.steps = 2, go.ops = "+-";
    ProblemSet *s = problems_gen("arith", &go, &e);
    RS_CHECK(s);
    char *pp = fs_join(dir, "problems.jsonl"), *tp2 = fs_join(dir, "prompts.jsonl");
    FILE *fp = fopen(pp, "w"), *ft = fopen(tp2, "w");
    RS_CHECK(fp && ft);
    ProblemTemplates tm;
    char *tdir = problems_templates_dir();
    RS_CHECK(problems_templates_load(&tm, tdir, &e) == 0);
    for (int i = 0; i < s->n; i++) {
        json_write_line(fp, s->items[i].json);
        char *body = problems_render_prompt(tm.text[s->items[i].kind], &s->items[i]);
        ChatMsg u = {"user", body};
        BpeIds ids = {0};
        RS_CHECK(chat_render(tok, CHAT_CHATML, &u, 1, 1, &ids, NULL, &e) == 0);
        Buf text = {0};
        RS_CHECK(bpe_decode(tok, ids.data, ids.len, &text, &e) == 0);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "text", text.data);
        cJSON_AddStringToObject(row, "answer", s->items[i].answer);
        json_write_line(ft, row);
        cJSON_Delete(row), buf_free(&text), bpe_ids_free(&ids), free(body);
    }
    fclose(fp), fclose(ft);
    problems_templates_free(&tm);
    free(tdir), free(pp), free(tp2), free(mdir), free(tp);
    problems_free(s);
    model_free(m);
}

typedef struct {
    double wall, sample, wait, update, sample_tps, update_tps, mfu;
} Step;

// Mean over the steps after the first (which also allocates).
static Step ours(const char *dir, double peak) {
    char *mdir = fs_join(dir, "model"), *pp = fs_join(dir, "problems.jsonl"), *out = fs_join(dir, "rl");
    const char *files[] = {pp};
    RlConfig c = rl_defaults();
    c.model_dir = mdir, c.problems = files, c.n_problems = 1, c.out_dir = out, c.farm = "local:2";
    c.group_size = G, c.prompts_per_step = P, c.max_tokens = MAX_TOKENS, c.steps = STEPS, c.progress = 0;
    c.peak_flops = peak, c.lr = 1e-5;
    RlResult r;
    Err e = {0};
    if (rl_run(&c, &r, &e) != 0) RS_ABORT("rl_step: %s", e.msg);
    char *mp = fs_join(out, "metrics.jsonl");
    JsonlReader *rd = jsonl_open(mp, &e);
    RS_CHECK(rd);
    Step s = {0};
    cJSON *j;
    int n = 0, k = 0;
    while (jsonl_next(rd, &j, &e) == 1) {
        if (n++ > 0) {
            double sa = json_opt_num(j, "time_sample", 0), w = json_opt_num(j, "time_grade_wait", 0),
                   u = json_opt_num(j, "time_update", 0);
            s.sample += sa, s.wait += w, s.update += u, s.wall += sa + w + u;
            s.sample_tps += json_opt_num(j, "sample_tok_s", 0), s.update_tps += json_opt_num(j, "update_tok_s", 0);
            s.mfu += json_opt_num(j, "mfu", 0);
            k++;
        }
        cJSON_Delete(j);
    }
    jsonl_close(rd);
    s.wall /= k, s.sample /= k, s.wait /= k, s.update /= k, s.sample_tps /= k, s.update_tps /= k, s.mfu /= k;
    free(mdir), free(pp), free(out), free(mp);
    return s;
}

// TRL's mean step time after the first, or NAN with the reason printed.
static double trl(const char *dir) {
    const char *py = getenv("TRL_PYTHON") ? getenv("TRL_PYTHON") : "python3";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import trl, torch, transformers, datasets' 2>/dev/null", py);
    if (system(cmd) != 0) {
        printf("  TRL: skipped: %s cannot import trl, torch, transformers and datasets\n"
               "       (python3 -m venv /tmp/trl && /tmp/trl/bin/pip install trl; then TRL_PYTHON=/tmp/trl/bin/python)\n",
               py);
        return NAN;
    }
    const char *root = getenv("REASONER_ROOT") ? getenv("REASONER_ROOT") : ".";
    snprintf(cmd, sizeof cmd, "%s %s/bench/trl_grpo.py %s/model %s/prompts.jsonl %d %d %d %d %d 2>%s/trl.log | tail -1", py,
             root, dir, dir, G, P, MAX_TOKENS, STEPS, omp_get_max_threads(), dir);
    FILE *f = popen(cmd, "r");
    char line[4096] = {0};
    if (!f || !fgets(line, sizeof line, f)) {
        if (f) pclose(f);
        printf("  TRL: failed (see %s/trl.log)\n", dir);
        return NAN;
    }
    pclose(f);
    Err e = {0};
    cJSON *j = json_parse(line, strlen(line), "trl", 1, &e);
    const cJSON *st = j ? cJSON_GetObjectItem(j, "step_s") : NULL;
    if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) < 2) {
        printf("  TRL: no step times in its output (see %s/trl.log)\n", dir);
        cJSON_Delete(j);
        return NAN;
    }
    double sum = 0;
    int n = cJSON_GetArraySize(st);
    for (int i = 1; i < n; i++) sum += cJSON_GetArrayItem(st, i)->valuedouble;
    printf("  TRL %s (torch %s), %d threads\n", json_opt_str(j, "trl_version", "?"), json_opt_str(j, "torch_version", "?"),
           omp_get_max_threads());
    cJSON_Delete(j);
    return sum / (n - 1);
}

int main(int argc, char **argv) {
    const char *preset = "tiny";
    if (argc == 3 && !strcmp(argv[1], "--preset")) preset = argv[2];
    else if (argc != 1) {
        fprintf(stderr, "usage: rl_step [--preset tiny|small|...]\n");
        return 2;
    }
    char tmpl[] = "/tmp/rl_step-XXXXXX";
    char *dir = mkdtemp(tmpl) ? xstrdup(tmpl) : NULL;
    RS_CHECK(dir);
    Bpe *tok = tokenizer();
    setup(dir, tok, preset);
    bpe_free(tok);
    double peak = model_cpu_best_peak_flops(1.0);
    printf("rl_step: %s preset (V 4096), G %d x %d prompts, %d new tokens, farm local:2, %d threads\n", preset, G,
           P, MAX_TOKENS, omp_get_max_threads());
    const ModelBlasInfo *bi = model_blas_info();
    printf("  sgemm peak of the best kernels (%s): %.1f GFLOP/s\n", bi->best_core[0] ? bi->best_core : bi->core,
           peak / 1e9);
    Step s = ours(dir, peak);
    printf("  reasoner: %.2f s/step = sampling %.2f + grading wait %.2f + update %.2f\n", s.wall, s.sample, s.wait,
           s.update);
    printf("            sampling %.0f tok/s, update %.0f tok/s; model FLOPs / peak %.1f%%\n", s.sample_tps, s.update_tps,
           100 * s.mfu);
    double t = trl(dir);
    if (!isnan(t)) printf("  TRL GRPOTrainer: %.2f s/step; reasoner is %.1fx faster (%.2f of TRL's time)\n", t, t / s.wall,
                          s.wall / t);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    free(dir);
    return 0;
}
