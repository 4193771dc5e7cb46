// test_loaders.c: the problem format and the loaders of the published
// formats, on small fixture lines written here in each format, the bad
// inputs they must name (file:line:field), --skip-bad counting, boxed-answer
// extraction and prompt templates.
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/json.h"
#include "problems/problems.h"
#include "tests/test.h"

// Write text to a fresh file in the temp dir; returns its path (malloc'd).
static char *fixture(const char *name, const char *text) {
    char *p = strdup(test_path(name));
    test_write_file(p, text);
    return p;
}

static ProblemSet *load_ok(const char *name, const char *text) {
    char *p = fixture(name, text);
    Err e = {0};
    ProblemSet *s = problems_load(p, 0, &e);
    if (!s) fprintf(stderr, "    load %s: %s\n", name, e.msg);
    free(p);
    return s;
}

// The error message of loading text as file name (empty when it loads).
static char *load_err(const char *name, const char *text, int skip_bad) {
    char *p = fixture(name, text);
    Err e = {0};
    ProblemSet *s = problems_load(p, skip_bad, &e);
    free(p);
    problems_free(s);
    return strdup(s ? "" : e.msg);
}

TEST(gsm8k_answer_after_hashes_without_commas) {
    ProblemSet *s = load_ok("gsm.jsonl",
                            "{\"question\": \"How many?\", \"answer\": \"3 * 400 = <<3*400=1200>>1200\\n#### 1,234\"}\n"
                            "\n"
                            "{\"question\": \"And now?\", \"answer\": \"It is 4 #### 5 then\\n####  -7 \"}\n");
    REQUIRE(s);
    CHECK_EQ(s->format, PF_GSM8K);
    REQUIRE(s->n == 2);
    CHECK_STR_EQ(s->items[0].answer, "1234");
    CHECK_STR_EQ(s->items[0].prompt, "How many?");
    CHECK_STR_EQ(s->items[0].id, "gsm/0");
    CHECK_STR_EQ(s->items[0].source, "gsm");
    CHECK_STR_EQ(s->items[0].verifier, "math");
    CHECK_EQ(s->items[0].kind, PROBLEM_MATH);
    CHECK_EQ(s->items[0].line, 1);
    CHECK_CONTAINS(json_opt_str(s->items[0].json, "solution", ""), "<<3*400=1200>>");
    CHECK_STR_EQ(s->items[1].answer, "-7");  // the last ####
    CHECK_STR_EQ(s->items[1].id, "gsm/1");   // ids count records, not lines
    CHECK_EQ(s->items[1].line, 3);
    problems_free(s);
}

TEST(math_answer_is_last_boxed_or_the_answer_field) {
    ProblemSet *s = load_ok("MATH_test.jsonl",
                            "{\"problem\": \"p1\", \"solution\": \"first \\\\boxed{2} then $\\\\boxed{\\\\frac{1}{\\\\sqrt{2}}}$.\", "
                            "\"level\": \"Level 5\", \"type\": \"Algebra\"}\n"
                            "{\"problem\": \"p2\", \"solution\": \"so \\\\boxed{7}\", \"answer\": \"\\\\frac{14}{2}\", "
                            "\"unique_id\": \"test/algebra/1.json\"}\n"
                            "{\"problem\": \"p3\", \"solution\": \"hence \\\\boxed 5$ done\"}\n");
    REQUIRE(s);
    CHECK_EQ(s->format, PF_MATH);
    REQUIRE(s->n == 3);
    CHECK_STR_EQ(s->items[0].answer, "\\frac{1}{\\sqrt{2}}");
    CHECK_STR_EQ(json_opt_str(s->items[0].json, "level", ""), "Level 5");  // extra fields ride along
    CHECK_STR_EQ(json_opt_str(s->items[0].json, "type", ""), "Algebra");
    CHECK_STR_EQ(s->items[1].answer, "\\frac{14}{2}");
    CHECK_STR_EQ(s->items[1].id, "test/algebra/1.json");  // already qualified
    CHECK(!cJSON_GetObjectItemCaseSensitive(s->items[1].json, "unique_id"));
    CHECK_STR_EQ(s->items[2].answer, "5");
    problems_free(s);
    char *m = load_err("nobox.jsonl", "{\"problem\": \"p\", \"solution\": \"no box here\"}\n", 0);
    CHECK_CONTAINS(m, "nobox.jsonl:1: field 'solution': no \\boxed{} answer");
    free(m);
}

TEST(aime_answers_string_int_float) {
    ProblemSet *s = load_ok("aime.jsonl",
                            "{\"id\": 60, \"problem\": \"A\", \"answer\": 70, \"question\": \"A\", \"url\": \"u\"}\n"
                            "{\"id\": \"7\", \"problem\": \"B\", \"answer\": 27.0}\n"
                            "{\"problem\": \"C\", \"answer\": 2.5}\n"
                            "{\"problem\": \"D\", \"answer\": \" 025 \"}\n");
    REQUIRE(s);
    CHECK_EQ(s->format, PF_AIME);
    REQUIRE(s->n == 4);
    CHECK_STR_EQ(s->items[0].answer, "70");
    CHECK_STR_EQ(s->items[0].id, "aime/60");
    CHECK(!cJSON_GetObjectItemCaseSensitive(s->items[0].json, "question"));  // the copy of the problem is dropped
    CHECK_STR_EQ(json_opt_str(s->items[0].json, "url", ""), "u");
    CHECK_STR_EQ(s->items[1].answer, "27");
    CHECK_STR_EQ(s->items[1].id, "aime/7");
    CHECK_STR_EQ(s->items[2].answer, "2.5");
    CHECK_STR_EQ(s->items[2].id, "aime/2");
    CHECK_STR_EQ(s->items[3].answer, "025");  // kept as published (trimmed); equivalence is the verifier's
    problems_free(s);
}

TEST(humaneval_keeps_prompt_test_entry_point) {
    ProblemSet *s = load_ok("HumanEval.jsonl",
                            "{\"task_id\": \"HumanEval/0\", \"prompt\": \"def f(x):\\n    \\\"\\\"\\\"doc\\\"\\\"\\\"\\n\", "
                            "\"entry_point\": \"f\", \"canonical_solution\": \"    return x\\n\", "
                            "\"test\": \"def check(candidate):\\n    assert candidate(1) == 1\\n\"}\n");
    REQUIRE(s);
    CHECK_EQ(s->format, PF_HUMANEVAL);
    REQUIRE(s->n == 1);
    const Problem *p = &s->items[0];
    CHECK_EQ(p->kind, PROBLEM_CODE);
    CHECK_STR_EQ(p->id, "HumanEval/0");
    CHECK_STR_EQ(p->verifier, "code");
    CHECK(p->answer == NULL);
    CHECK_STR_EQ(p->prompt, "def f(x):\n    \"\"\"doc\"\"\"\n");
    CHECK_STR_EQ(json_opt_str(p->json, "entry_point", ""), "f");
    CHECK_CONTAINS(json_opt_str(p->json, "test", ""), "def check(candidate)");
    CHECK_STR_EQ(json_opt_str(p->json, "language", ""), "python");
    problems_free(s);
}

TEST(mbpp_prompt_gets_first_test_as_hint) {
    ProblemSet *s = load_ok("mbpp.jsonl",
                            "{\"text\": \"Write a function to add.\", \"code\": \"def add(a, b): return a + b\", "
                            "\"task_id\": 11, \"test_setup_code\": \"import math\", "
                            "\"test_list\": [\"assert add(1, 2) == 3\", \"assert add(2, 2) == 4\"], "
                            "\"challenge_test_list\": []}\n");
    REQUIRE(s);
    CHECK_EQ(s->format, PF_MBPP);
    const Problem *p = &s->items[0];
    CHECK_STR_EQ(p->id, "mbpp/11");
    CHECK_STR_EQ(p->prompt, "Write a function to add.\nYour code should pass this test:\nassert add(1, 2) == 3");
    CHECK_STR_EQ(json_opt_str(p->json, "test_setup_code", ""), "import math");
    CHECK_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p->json, "test_list")), 2);
    CHECK(!cJSON_GetObjectItemCaseSensitive(p->json, "text"));
    problems_free(s);
}

TEST(json_array_sanitized_mbpp_with_line_numbers) {
    const char *text = "\n[\n"
                       "  {\"task_id\": 2, \"prompt\": \"Find shared elements.\", \"code\": \"x\",\n"
                       "   \"test_imports\": [\"import math\", \"import re\"],\n"
                       "   \"test_list\": [\"assert f() == 1\"]},\n"
                       "  {\"task_id\": 3, \"prompt\": \"No tests.\", \"test_list\": []}\n"
                       "]\n";
    char *p = fixture("sanitized-mbpp.json", text);
    Err e = {0};
    ProblemSet *s = problems_load(p, 0, &e);
    CHECK(s == NULL);
    CHECK_CONTAINS(e.msg, "sanitized-mbpp.json:6: field 'test_list': empty");
    s = problems_load(p, 1, &e);
    REQUIRE(s);
    CHECK_EQ(s->n, 1);
    CHECK_EQ(s->n_bad, 1);
    CHECK_STR_EQ(s->items[0].id, "sanitized-mbpp/2");
    CHECK_EQ(s->items[0].line, 3);
    CHECK_STR_EQ(json_opt_str(s->items[0].json, "test_setup_code", ""), "import math\nimport re");
    problems_free(s);
    free(p);
    char *m = load_err("open.json", "[{\"problem\": \"a\", \"answer\": 1},\n {\"problem\": \"b\"", 0);
    CHECK_CONTAINS(m, "open.json:2: JSON array never closes");
    free(m);
}

TEST(single_pretty_object_file) {
    ProblemSet *s = load_ok("1.json", "{\n  \"problem\": \"What is $1+1$?\",\n  \"level\": \"Level 1\",\n"
                                      "  \"type\": \"Prealgebra\",\n  \"solution\": \"It is $\\\\boxed{2}$.\"\n}\n");
    REQUIRE(s);
    CHECK_EQ(s->n, 1);
    CHECK_STR_EQ(s->items[0].answer, "2");
    CHECK_STR_EQ(s->items[0].id, "1/0");
    problems_free(s);
}

TEST(gzip_file_as_published) {
    char path[512];
    snprintf(path, sizeof path, "%s", test_path("HumanEval.jsonl.gz"));
    gzFile gz = gzopen(path, "wb");
    REQUIRE(gz);
    const char *line = "{\"task_id\": \"HumanEval/1\", \"prompt\": \"def g():\\n\", \"entry_point\": \"g\", "
                       "\"canonical_solution\": \"    pass\\n\", \"test\": \"def check(c):\\n    pass\\n\"}\n";
    gzwrite(gz, line, (unsigned)strlen(line));
    gzclose(gz);
    Err e = {0};
    ProblemSet *s = problems_load(path, 0, &e);
    REQUIRE(s);
    CHECK_EQ(s->format, PF_HUMANEVAL);
    CHECK_STR_EQ(s->items[0].id, "HumanEval/1");
    CHECK_STR_EQ(s->items[0].source, "HumanEval");
    problems_free(s);
}

TEST(native_round_trip) {
    ProblemSet *s = load_ok("mix.jsonl",
                            "{\"question\": \"q1\", \"answer\": \"#### 12\"}\n{\"question\": \"q2\", \"answer\": \"#### 7\"}\n");
    REQUIRE(s);
    char *out = strdup(test_path("mix.native.jsonl"));
    FILE *f = fopen(out, "wb");
    REQUIRE(f);
    CHECK_EQ(problems_write(f, s), 0);
    fclose(f);
    Err e = {0};
    ProblemSet *t = problems_load(out, 0, &e);
    REQUIRE(t);
    CHECK_EQ(t->format, PF_NATIVE);
    REQUIRE(t->n == 2);
    for (int i = 0; i < 2; i++) {
        CHECK_STR_EQ(t->items[i].id, s->items[i].id);
        CHECK_STR_EQ(t->items[i].answer, s->items[i].answer);
        CHECK_STR_EQ(t->items[i].source, "mix");  // the original set, not the new file's name
        CHECK(cJSON_Compare(t->items[i].json, s->items[i].json, 1));
    }
    problems_free(s), free(out);
    // Truncating keeps the first problems and forgets the ids of the rest.
    problems_truncate(t, 1);
    CHECK_EQ(t->n, 1);
    Err e2 = {0};
    cJSON *again = cJSON_Duplicate(t->items[0].json, 1);
    CHECK(problems_add(t, again, 9, "x", &e2) != 0);  // still a duplicate
    again = cJSON_Parse("{\"id\": \"mix/1\", \"kind\": \"math\", \"prompt\": \"q2\", \"answer\": \"7\"}");
    CHECK(problems_add(t, again, 9, "x", &e2) == 0);  // gone, so free to come back
    CHECK_EQ(t->n, 2);
    problems_free(t);
}

TEST(native_fields_checked) {
    ProblemSet *s = load_ok("native.jsonl",
                            "{\"id\": 5, \"kind\": \"math\", \"prompt\": \"p\", \"answer\": 3}\n"
                            "{\"id\": \"c1\", \"kind\": \"code\", \"prompt\": \"p\", \"language\": \"c\", "
                            "\"tests\": [{\"stdin\": \"1\\n\", \"stdout\": \"2\\n\"}]}\n"
                            "{\"id\": \"o1\", \"kind\": \"open\", \"prompt\": \"write a poem\", \"source\": \"mine\"}\n"
                            "{\"id\": \"cd\", \"kind\": \"math\", \"prompt\": \"p\", \"verifier\": \"countdown\"}\n");
    REQUIRE(s);
    REQUIRE(s->n == 4);
    CHECK_STR_EQ(s->items[0].id, "5");
    CHECK_STR_EQ(s->items[0].answer, "3");
    CHECK_STR_EQ(s->items[0].source, "native");
    CHECK_EQ(s->items[1].kind, PROBLEM_CODE);
    CHECK_STR_EQ(s->items[2].verifier, "rm");
    CHECK_STR_EQ(s->items[2].source, "mine");
    CHECK_STR_EQ(s->items[3].verifier, "countdown");
    problems_free(s);
    struct {
        const char *line, *want;
    } bad[] = {
        {"{\"id\": \"a\", \"kind\": \"poem\", \"prompt\": \"p\"}", "n.jsonl:2: field 'kind': 'poem' is not math, code or open"},
        {"{\"id\": \"a\", \"kind\": \"math\", \"answer\": \"1\"}", "n.jsonl:2: field 'prompt': missing"},
        {"{\"id\": \"a\", \"kind\": \"math\", \"prompt\": \"p\"}", "n.jsonl:2: field 'answer': missing"},
        {"{\"id\": \"a\", \"kind\": \"math\", \"prompt\": \"p\", \"answer\": [1]}", "n.jsonl:2: field 'answer': expected a string"},
        {"{\"id\": \"a\", \"kind\": \"code\", \"prompt\": \"p\"}", "n.jsonl:2: field 'tests': missing"},
        {"{\"id\": \"a\", \"kind\": \"code\", \"prompt\": \"p\", \"test\": \"t\"}", "n.jsonl:2: field 'entry_point': missing"},
        {"{\"id\": \"a\", \"kind\": \"code\", \"prompt\": \"p\", \"tests\": [{\"stdin\": 1}]}", "n.jsonl:2: field 'tests': item 0"},
        {"{\"id\": \"ok\", \"kind\": \"math\", \"prompt\": \"p\", \"answer\": \"1\"}", "n.jsonl:2: field 'id': 'ok' repeats the problem of line 1"},
        {"{\"kind\": \"math\", \"prompt\": \"p\", \"answer\": \"1\"}", "n.jsonl:2: field 'id': missing"},
        {"{\"id\": \"a\", \"kind\": \"math\", \"prompt\": \"\", \"answer\": \"1\"}", "n.jsonl:2: field 'prompt': empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"id\": \"ok\", \"kind\": \"math\", \"prompt\": \"p\", \"answer\": \"1\"}\n%s\n", bad[i].line);
        char *m = load_err("n.jsonl", text, 0);
        CHECK_CONTAINS(m, bad[i].want);
        free(m);
    }
}

TEST(missing_fields_name_file_line_field) {
    char *m = load_err("g.jsonl",
                       "{\"question\": \"q\", \"answer\": \"#### 1\"}\n"
                       "{\"question\": \"q\", \"answer\": \"#### 2\"}\n"
                       "{\"question\": \"q\"}\n", 0);
    CHECK_CONTAINS(m, "g.jsonl:3: field 'answer': missing");
    CHECK_CONTAINS(m, "the file is gsm8k");
    CHECK_CONTAINS(m, "detected from line 1");
    free(m);
    m = load_err("g2.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\", \"answer\": 5}\n", 0);
    CHECK_CONTAINS(m, "g2.jsonl:2: field 'answer': expected a string");
    free(m);
    m = load_err("g3.jsonl", "{\"question\": \"q\", \"answer\": \"no final\"}\n", 0);
    CHECK_CONTAINS(m, "g3.jsonl:1: field 'answer': no '#### ' final answer");
    free(m);
    m = load_err("h.jsonl", "{\"task_id\": \"H/0\", \"prompt\": \"p\", \"test\": \"t\", \"entry_point\": \"f\"}\n"
                            "{\"task_id\": \"H/1\", \"prompt\": \"p\", \"test\": \"t\"}\n", 0);
    CHECK_CONTAINS(m, "h.jsonl:2: field 'entry_point': missing");
    free(m);
}

TEST(unknown_format_and_bad_json) {
    char *m = load_err("weird.jsonl", "{\"foo\": 1, \"bar\": 2}\n", 0);
    CHECK_CONTAINS(m, "weird.jsonl:1: unknown problem format (fields: foo, bar)");
    free(m);
    m = load_err("broken.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\",\n", 0);
    CHECK_CONTAINS(m, "broken.jsonl:2");
    CHECK_CONTAINS(m, "invalid JSON");
    free(m);
    m = load_err("notobj.jsonl", "[1, 2]\n", 0);
    CHECK_CONTAINS(m, "notobj.jsonl:1: expected a JSON object");
    free(m);
    m = load_err("empty.jsonl", "\n\n", 0);
    CHECK_CONTAINS(m, "empty.jsonl: no problems");
    free(m);
    Err e = {0};
    CHECK(problems_load(test_path("does-not-exist.jsonl"), 0, &e) == NULL);
    CHECK_CONTAINS(e.msg, "does-not-exist.jsonl: cannot open");
}

TEST(skip_bad_counts_and_keeps_going) {
    const char *text = "{\"question\": \"q0\", \"answer\": \"#### 1\"}\n"
                       "{\"question\": \"q1\"}\n"
                       "not json\n"
                       "{\"question\": \"q3\", \"answer\": \"#### 3\"}\n"
                       "{\"question\": \"q4\", \"answer\": \"####\"}\n"
                       "{\"question\": \"q5\", \"answer\": \"#### 5\"}\n";
    char *p = fixture("skip.jsonl", text);
    Err e = {0};
    ProblemSet *s = problems_load(p, 1, &e);
    REQUIRE(s);
    CHECK_EQ(s->n, 3);
    CHECK_EQ(s->n_bad, 3);
    CHECK_CONTAINS(s->first_bad, "skip.jsonl:2: field 'answer': missing");
    REQUIRE(s->n == 3);
    CHECK_STR_EQ(s->items[1].id, "skip/3");  // ids stay those of the full file
    CHECK_STR_EQ(s->items[2].answer, "5");
    problems_free(s);
    // A first record of no known format is skipped too; detection waits for a good one.
    free(p);
    p = fixture("skip2.jsonl", "{\"x\": 1}\n{\"problem\": \"p\", \"answer\": 4}\n");
    s = problems_load(p, 1, &e);
    REQUIRE(s);
    CHECK_EQ(s->format, PF_AIME);
    CHECK_EQ(s->n, 1);
    CHECK_EQ(s->n_bad, 1);
    problems_free(s);
    free(p);
}

TEST(detect_by_fields) {
    struct {
        const char *json;
        ProblemFormat f;
    } cases[] = {
        {"{\"id\": \"1\", \"kind\": \"math\", \"prompt\": \"p\"}", PF_NATIVE},
        {"{\"question\": \"q\", \"answer\": \"#### 1\"}", PF_GSM8K},
        {"{\"problem\": \"p\", \"solution\": \"s\", \"answer\": \"1\", \"question\": \"p\"}", PF_MATH},
        {"{\"problem\": \"p\", \"answer\": 1, \"question\": \"p\"}", PF_AIME},
        {"{\"task_id\": \"t\", \"prompt\": \"p\", \"test\": \"t\", \"entry_point\": \"f\"}", PF_HUMANEVAL},
        {"{\"task_id\": 1, \"prompt\": \"p\", \"test_list\": []}", PF_MBPP},
        {"{\"text\": \"p\", \"test_list\": []}", PF_MBPP},
        {"{\"text\": \"p\"}", PF_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(cases[i].json);
        CHECK_MSG(problems_detect(j) == cases[i].f, "%s: detected %s", cases[i].json,
                  problems_format_name(problems_detect(j)));
        cJSON_Delete(j);
    }
}

TEST(last_boxed) {
    struct {
        const char *in, *want;
    } cases[] = {
        {"\\boxed{1} and \\boxed{2}", "2"},
        {"$\\boxed{\\frac{a}{b}}$", "\\frac{a}{b}"},
        {"\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"},
        {"\\boxed{\\left\\{ x \\right.}", "\\left\\{ x \\right."},
        {"\\fbox{42}", "42"},
        {"so \\boxed 17$.", "17"},
        {"\\boxed {9}", "9"},
        {"\\boxed{3} but \\boxed{4", "3"},  // the last one never closes: the one before
        {"\\boxedx{3}", NULL},
        {"no answer", NULL},
        {"\\boxed{}", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = problems_last_boxed(cases[i].in);
        if (cases[i].want) CHECK_STR_EQ(got, cases[i].want);
        else CHECK_MSG(got == NULL, "%s: got '%s'", cases[i].in, got);
        free(got);
    }
}

TEST(number_text) {
    struct {
        double v;
        const char *want;
    } cases[] = {{27.0, "27"}, {2.5, "2.5"}, {0.1, "0.1"}, {-0.0, "0"}, {-3, "-3"}, {1.0 / 3, "0.3333333333333333"}, {1e20, "1e+20"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = problems_number_text(cases[i].v);
        CHECK_STR_EQ(s, cases[i].want);
        free(s);
    }
}

TEST(templates_render_and_load) {
    Problem p = {.prompt = "What is 2+2?"};
    char *r = problems_render_prompt("Q: {problem}\nAgain: {problem} \\boxed{} {probl", &p);
    CHECK_STR_EQ(r, "Q: What is 2+2?\nAgain: What is 2+2? \\boxed{} {probl");
    free(r);
    char *path = fixture("t.txt", "no placeholder\n");
    Err e = {0};
    CHECK(problems_template_read(path, &e) == NULL);
    CHECK_CONTAINS(e.msg, "t.txt: template has no {problem} placeholder");
    free(path);
    path = fixture("t2.txt", "Solve: {problem}\n\n");
    char *t = problems_template_read(path, &e);
    CHECK_STR_EQ(t, "Solve: {problem}\n");  // one trailing newline dropped
    free(t), free(path);
    // The committed templates.
    const char *root = getenv("REASONER_ROOT") ? getenv("REASONER_ROOT") : ".";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/templates", root);
    ProblemTemplates tp;
    REQUIRE(problems_templates_load(&tp, dir, &e) == 0);
    CHECK_CONTAINS(tp.text[PROBLEM_MATH], "\\boxed{}");
    CHECK_CONTAINS(tp.text[PROBLEM_CODE], "```python");
    CHECK_CONTAINS(tp.text[PROBLEM_OPEN], "{problem}");
    p.prompt = "def f():";
    r = problems_render_prompt(tp.text[PROBLEM_CODE], &p);
    CHECK_CONTAINS(r, "def f():");
    CHECK(!strstr(r, "{problem}"));
    free(r);
    problems_templates_free(&tp);
    problems_templates_free(&tp);  // safe twice
    CHECK(problems_templates_load(&tp, test_path("nowhere"), &e) != 0);
    CHECK_CONTAINS(e.msg, "math.txt");
}

TEST(to_chat_cleans_solutions_and_answers_only_on_request) {
    ProblemSet *s = load_ok("gsmchat.jsonl",
                            "{\"question\": \"How many?\", \"answer\": \"3 * 4 = <<3*4=12>>12 apples\\n#### 12\"}\n");
    ProblemSet *bare = load_ok("bare.jsonl", "{\"id\": \"x\", \"kind\": \"math\", \"prompt\": \"2+2?\", \"answer\": \"4\"}\n");
    REQUIRE(s && s->n == 1 && bare && bare->n == 1);
    cJSON *c = problems_to_chat(&s->items[0], "Q: {problem}", "Be brief.", 0);
    REQUIRE(c);
    cJSON *m = cJSON_GetObjectItem(c, "messages");
    REQUIRE(cJSON_GetArraySize(m) == 3);
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "role")->valuestring, "system");
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 1), "content")->valuestring, "Q: How many?");
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 2), "content")->valuestring,
                 "3 * 4 = 12 apples\nThe answer is \\boxed{12}.");
    cJSON_Delete(c);
    c = problems_to_chat(&s->items[0], "Q: {problem}", NULL, 1);
    m = cJSON_GetObjectItem(c, "messages");
    REQUIRE(cJSON_GetArraySize(m) == 2);
    CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 1), "content")->valuestring, "The answer is \\boxed{12}.");
    cJSON_Delete(c);
    CHECK(problems_to_chat(&bare->items[0], "{problem}", NULL, 0) == NULL);  // no worked solution
    problems_free(s);
    problems_free(bare);
    // The share is a property of the id: stable, and close to the fraction asked for.
    int in = 0, again = 0;
    char id[32];
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof id, "arith/%d", i);
        in += problems_in_share(id, 0.3);
        again += problems_in_share(id, 0.3) && problems_in_share(id, 0.5);
        CHECK(!problems_in_share(id, 0.0) && problems_in_share(id, 1.0));
    }
    CHECK(in > 1000 && in < 1400);
    CHECK_EQ(again, in);  // a larger share keeps the smaller one's problems
}

TEST(kind_and_format_names) {
    CHECK_EQ(problems_kind_parse("code"), PROBLEM_CODE);
    CHECK_EQ(problems_kind_parse("poem"), -1);
    CHECK_STR_EQ(problems_kind_name(PROBLEM_OPEN), "open");
    CHECK_STR_EQ(problems_format_name(PF_MBPP), "mbpp");
}
