// test_eval.c: eval_run end to end on a tiny random model: prompts, sampling,
// grading (in process and through a local farm), metrics and the files it
// writes. A test verifier marks a response correct when it equals the
// problem's answer, so the expected accuracy is known exactly.
#include <math.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "policy/eval.h"
#include "tests/test.h"
#include "tests/tiny.h"

static Bpe *g_tok;
static Model *g_model;

static int exact_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const char *want = json_opt_str(job->problem, "answer", "");
    int ok = strcmp(job->response, want) == 0;
    verify_result_set(out, ok ? "correct" : "wrong", ok, "exact match");
    // The vote key: a hash of the response, never empty (a random model's
    // responses may be only whitespace, which answer normalisation drops).
    char key[32];
    unsigned h = 2166136261u;
    for (const char *c = job->response; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
    snprintf(key, sizeof key, "r%08x", h);
    out->extracted = xstrdup(key);
    return 0;
}

static void setup(void) {
    if (g_model) return;
    g_tok = tiny_tokenizer("What is 2 + 3? The answer is 5. What is 7 - 4? The answer is 3.\n", 30, 300, NULL, 0);
    g_model = tiny_model(g_tok, 128, 11, 0);
}

static ProblemSet *make_set(int n, const char *const *answers) {
    ProblemSet *s = problems_set_new("mem");
    for (int i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        char id[32], q[64];
        snprintf(id, sizeof id, "p%d", i);
        snprintf(q, sizeof q, "What is %d + %d?", i, i + 1);
        cJSON_AddStringToObject(p, "id", id);
        cJSON_AddStringToObject(p, "kind", "math");
        cJSON_AddStringToObject(p, "prompt", q);
        cJSON_AddStringToObject(p, "answer", answers ? answers[i] : "no such answer");
        cJSON_AddStringToObject(p, "verifier", "exact");
        Err e = {0};
        RS_CHECK(problems_add(s, p, i + 1, "mem", &e) == 0);
    }
    return s;
}

// Graders opened by the tests, closed at teardown.
static Grader *g_graders[16];
static int g_ngraders;

static Grader *open_grader(const VerifierSet *vs, const char *farm) {
    Err e = {0};
    Grader *g = grader_open(&(GraderOpts){.farm = farm, .verifiers = vs}, &e);
    RS_CHECK(g && g_ngraders < 16);
    return g_graders[g_ngraders++] = g;
}

static EvalOpts opts(VerifierSet *vs, const char *farm) {
    EvalOpts o = eval_defaults();
    o.chat = 0;
    o.ro.temperature = 0;  // greedy: the responses are known after one run
    o.ro.max_new_tokens = 6;
    // A random model soon writes a blank line, plain mode's default stop;
    // stop on something it never writes so responses are 6 tokens of text.
    static const char *const never[] = {"@@@@"};
    o.ro.stop_strs = never;
    o.ro.n_stop_strs = 1;
    o.k = 2;
    o.grader = open_grader(vs, farm);
    return o;
}

static VerifierSet *test_verifiers(void) {
    VerifierSet *vs = verifier_set_new();
    Verifier v = {.name = "exact", .grade = exact_grade};
    Err e = {0};
    RS_CHECK(verifier_set_add(vs, &v, &e) == 0);
    return vs;
}

// Responses of samples.jsonl in order.
static int read_responses(const char *dir, char **out, int max) {
    char *path = fs_join(dir, "samples.jsonl");
    Err e = {0};
    JsonlReader *r = jsonl_open(path, &e);
    free(path);
    if (!r) return -1;
    cJSON *j;
    int n = 0;
    while (jsonl_next(r, &j, &e) == 1) {
        if (n < max) out[n++] = xstrdup(json_opt_str(j, "response", ""));
        cJSON_Delete(j);
    }
    jsonl_close(r);
    return n;
}

TEST(accuracy_known_exactly_in_process_and_through_a_farm) {
    setup();
    VerifierSet *vs = test_verifiers();
    Err e = {0};
    // Run 1: wrong answers everywhere; learn the greedy responses.
    ProblemSet *wrong = make_set(4, NULL);
    EvalSet sets[1] = {{.name = "mem", .problems = wrong}};
    EvalOpts o = opts(vs, "none");
    char dir1[512];
    snprintf(dir1, sizeof dir1, "%s", test_path("run1"));
    REQUIRE(eval_run(g_model, g_tok, sets, 1, &o, dir1, &e) == 0);
    CHECK_EQ(sets[0].metrics.n_problems, 4);
    CHECK_EQ(sets[0].metrics.n_samples, 8);
    CHECK_NEAR(sets[0].metrics.avg_at_k, 0, 0);
    char *resp[8] = {0};
    REQUIRE(read_responses(dir1, resp, 8) == 8);
    // Greedy: both samples of a problem are the same, non-empty text.
    for (int i = 0; i < 4; i++) CHECK_STR_EQ(resp[2 * i], resp[2 * i + 1]);
    CHECK(strlen(resp[0]) > 0 && strlen(resp[4]) > 0);
    // Run 2: problems 0 and 2 carry their greedy response as the answer.
    const char *answers[4] = {resp[0], "nope", resp[4], "nope"};
    ProblemSet *half = make_set(4, answers);
    sets[0].problems = half;
    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s", test_path("run2"));
    REQUIRE(eval_run(g_model, g_tok, sets, 1, &o, dir2, &e) == 0);
    CHECK_NEAR(sets[0].metrics.avg_at_k, 0.5, 1e-9);
    CHECK_NEAR(sets[0].metrics.pass_at[0], 0.5, 1e-9);
    CHECK_NEAR(sets[0].metrics.maj_at[sets[0].metrics.n_ks - 1], 0.5, 1e-9);
    // The same through a local farm of two workers.
    EvalOpts of = opts(vs, "local:2");
    char dir3[512];
    snprintf(dir3, sizeof dir3, "%s", test_path("run3"));
    REQUIRE(eval_run(g_model, g_tok, sets, 1, &of, dir3, &e) == 0);
    CHECK_NEAR(sets[0].metrics.avg_at_k, 0.5, 1e-9);
    // Files: summary.json with the set's metrics, a report with SVG.
    char *sp = fs_join(dir3, "summary.json");
    cJSON *sum = json_read_file(sp, &e);
    free(sp);
    REQUIRE(sum);
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "sets"), "mem");
    CHECK(m != NULL);
    CHECK_NEAR(json_opt_num(m, "pass@1", -1), 0.5, 1e-9);
    CHECK_EQ(json_opt_int(sum, "k", 0), 2);
    cJSON_Delete(sum);
    char *rp = fs_join(dir3, "report.html"), *html;
    REQUIRE(fs_read_all(rp, &html, NULL, &e) == 0);
    CHECK_CONTAINS(html, "<svg");
    CHECK_CONTAINS(html, "Accuracy per problem set");
    free(html);
    free(rp);
    for (int i = 0; i < 8; i++) free(resp[i]);
    problems_free(wrong);
    problems_free(half);
    verifier_set_free(vs);
}

TEST(chat_mode_needs_chat_tokens) {
    setup();
    // A tokenizer without <|im_start|>: eval in chat mode is a clear error.
    Err e = {0};
    BpeTrainOpts o = {.vocab_size = 260, .threads = 1, .specials = (const char *const[]){"<|endoftext|>"}, .n_specials = 1};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    REQUIRE(t);
    bpe_trainer_add(t, "abc abd", 7);
    Bpe *plain = bpe_trainer_finish(t, &e);
    bpe_trainer_free(t);
    REQUIRE(plain);
    ProblemSet *s = make_set(1, NULL);
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    EvalOpts eo = eval_defaults();
    eo.grader = open_grader(NULL, "none");
    char out[512], tdir[512];
    snprintf(tdir, sizeof tdir, "%s", test_path("no_such_templates"));
    snprintf(out, sizeof out, "%s", test_path("chat"));
    eo.templates_dir = tdir;  // never read: the chat check comes first
    CHECK_EQ(eval_run(g_model, plain, sets, 1, &eo, out, &e), -1);
    CHECK_CONTAINS(e.msg, "no chat tokens");
    CHECK_MSG(!fs_exists(out), "a failed eval leaves no output folder behind");
    problems_free(s);
    bpe_free(plain);
}

TEST(few_shot_in_chat_mode_is_an_error_not_ignored) {
    setup();
    ProblemSet *s = make_set(2, NULL), *shots = make_set(2, NULL);
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    EvalOpts eo = eval_defaults();
    eo.grader = open_grader(NULL, "none");
    eo.shots = shots;
    eo.n_shots = 2;
    Err e = {0};
    CHECK_EQ(eval_run(g_model, g_tok, sets, 1, &eo, test_path("shots_chat"), &e), -1);
    CHECK_CONTAINS(e.msg, "--no-chat");
    problems_free(s);
    problems_free(shots);
}

TEST(a_prompt_that_fills_the_context_is_named) {
    setup();
    VerifierSet *vs = test_verifiers();
    ProblemSet *s = make_set(3, NULL);
    // Problem p1's prompt is longer than the model's 128 positions.
    cJSON *p = cJSON_CreateObject();
    Buf q = {0};
    for (int i = 0; i < 60; i++) buf_puts(&q, "What is 7 - 4? ");
    cJSON_AddStringToObject(p, "id", "long");
    cJSON_AddStringToObject(p, "kind", "math");
    cJSON_AddStringToObject(p, "prompt", q.data);
    cJSON_AddStringToObject(p, "answer", "3");
    Err e = {0};
    REQUIRE(problems_add(s, p, 4, "mem", &e) == 0);
    buf_free(&q);
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    EvalOpts o = opts(vs, "none");
    CHECK_EQ(eval_run(g_model, g_tok, sets, 1, &o, test_path("long"), &e), -1);
    CHECK_CONTAINS(e.msg, "mem:4: problem 'long'");
    CHECK_CONTAINS(e.msg, "context of 128");
    problems_free(s);
    verifier_set_free(vs);
}

TEST(a_bad_farm_endpoint_fails_before_sampling) {
    setup();
    // A model whose vocabulary is smaller than the tokenizer's: sampling would
    // fail on the prompt's ids, so the farm error proves the farm came first.
    Err e = {0};
    ModelConfig cfg = *model_config(g_model);
    cfg.vocab_size = 256;
    Model *small = model_new(&cfg, 0, &e);
    REQUIRE(small);
    model_init_random(small, 1);
    VerifierSet *vs = test_verifiers();
    ProblemSet *s = make_set(2, NULL);
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    EvalOpts o = opts(vs, "none");
    CHECK_EQ(eval_run(small, g_tok, sets, 1, &o, test_path("vocab"), &e), -1);
    CHECK_CONTAINS(e.msg, "outside vocab_size");  // sampling does fail
    // The grader is opened before the model: a bad endpoint fails there.
    CHECK(grader_open(&(GraderOpts){.farm = "bogus", .verifiers = vs}, &e) == NULL);
    CHECK_CONTAINS(e.msg, "farm endpoint 'bogus'");
    // Without a grader eval refuses before sampling.
    o.grader = NULL;
    CHECK_EQ(eval_run(small, g_tok, sets, 1, &o, test_path("vocab"), &e), -1);
    CHECK_CONTAINS(e.msg, "no grader");
    problems_free(s);
    verifier_set_free(vs);
    model_free(small);
}

TEST(stray_bytes_are_graded_not_rejected_by_the_farm) {
    setup();
    // At temperature 1 a random model writes byte tokens that spell no UTF-8.
    // Through the farm every response must still be graded (correct/wrong,
    // never "not UTF-8"), and samples.jsonl must be UTF-8 JSON.
    VerifierSet *vs = test_verifiers();
    ProblemSet *s = make_set(4, NULL);
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    EvalOpts o = opts(vs, "local:2");
    o.ro.temperature = 1;
    o.ro.max_new_tokens = 16;
    o.k = 4;
    Err e = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("bytes"));
    REQUIRE(eval_run(g_model, g_tok, sets, 1, &o, dir, &e) == 0);
    char *path = fs_join(dir, "samples.jsonl");
    JsonlReader *r = jsonl_open(path, &e);
    free(path);
    REQUIRE(r);
    cJSON *j;
    int n = 0, graded = 0, replaced = 0;
    while (jsonl_next(r, &j, &e) == 1) {
        n++;
        const char *st = json_opt_str(j, "status", "");
        graded += strcmp(st, "wrong") == 0 || strcmp(st, "correct") == 0;
        replaced += strstr(json_opt_str(j, "response", ""), "\xEF\xBF\xBD") != NULL;
        cJSON_Delete(j);
    }
    jsonl_close(r);
    CHECK_EQ(n, 16);
    CHECK_EQ(graded, 16);
    REQUIRE(replaced > 0);  // else nothing was tested: change the seed
    problems_free(s);
    verifier_set_free(vs);
}

TEST(few_shot_never_shows_a_problem_its_own_answer) {
    setup();
    // Two problems, one long and one short, used as their own shot pool with
    // one shot each: each prompt must hold the OTHER problem as its example,
    // so both prompts have about the same length. Were a problem its own
    // shot, the long one's prompt would be far longer than the short one's.
    ProblemSet *s = problems_set_new("mem");
    const char *texts[2] = {"What is the sum of all the numbers from one to ten, counted twice over?", "What is 1?"};
    for (int i = 0; i < 2; i++) {
        cJSON *p = cJSON_CreateObject();
        char id[8];
        snprintf(id, sizeof id, "q%d", i);
        cJSON_AddStringToObject(p, "id", id);
        cJSON_AddStringToObject(p, "kind", "math");
        cJSON_AddStringToObject(p, "prompt", texts[i]);
        cJSON_AddStringToObject(p, "answer", "7");
        cJSON_AddStringToObject(p, "verifier", "exact");
        Err e = {0};
        REQUIRE(problems_add(s, p, i + 1, "mem", &e) == 0);
    }
    VerifierSet *vs = test_verifiers();
    EvalOpts o = opts(vs, "none");
    o.k = 1;
    o.shots = s;
    o.n_shots = 1;
    EvalSet sets[1] = {{.name = "mem", .problems = s}};
    Err e = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_path("shots"));
    REQUIRE(eval_run(g_model, g_tok, sets, 1, &o, dir, &e) == 0);
    char *path = fs_join(dir, "samples.jsonl");
    JsonlReader *r = jsonl_open(path, &e);
    free(path);
    REQUIRE(r);
    cJSON *j;
    int len[2] = {0}, n = 0;
    while (n < 2 && jsonl_next(r, &j, &e) == 1) {
        len[n++] = (int)json_opt_int(j, "prompt_tokens", -1);
        cJSON_Delete(j);
    }
    jsonl_close(r);
    REQUIRE(n == 2);
    CHECK(len[0] > 20);
    CHECK_MSG(abs(len[0] - len[1]) <= 2, "prompt tokens %d vs %d: a problem was its own shot", len[0], len[1]);
    problems_free(s);
    verifier_set_free(vs);
}

TEST(teardown) {
    for (int i = 0; i < g_ngraders; i++) grader_close(g_graders[i]);
    model_free(g_model);
    bpe_free(g_tok);
    g_model = NULL;
}
