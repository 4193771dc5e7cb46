// test_code.c: the code verifier (program extraction, the three test forms,
// Python and C, every status) and the plugin runner with plugins/countdown.
// All of it runs in the real sandbox, under whatever layers this machine
// allows (printed first).
//   make build/tests/verifier/test_code && build/tests/verifier/test_code
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "tests/test.h"
#include "verifier/code/code.h"
#include "verifier/plugin.h"

static const Sandbox *box(void) {
    static Sandbox *s;
    if (!s) {
        Err e = {{0}};
        chmod(test_tmpdir(), 0711);
        SbxConfig cfg = {.namespaces = SBX_NS_ALL, .tmp_dir = test_tmpdir()};
        s = sbx_new(&cfg, &e);
        if (!s) {
            fprintf(stderr, "sbx_new: %s\n", e.msg);
            exit(1);
        }
        Buf b = {0};
        sbx_describe(s, &b);
        printf("  layers: %s\n", b.data);
        buf_free(&b);
    }
    return s;
}

typedef struct Graded {
    int rc;
    VerifyResult r;
    Err e;
} Graded;

static Graded grade(const char *response, const char *problem_json, double time_s) {
    Graded g = {0};
    cJSON *pb = cJSON_Parse(problem_json);
    if (!pb) {
        fprintf(stderr, "bad test JSON: %s\n", problem_json);
        exit(1);
    }
    VerifyJob job = {.id = "t", .verifier = "code", .response = (char *)response, .problem = pb,
                     .limits = {.time_s = time_s, .memory_mb = 256, .return_output = 1}};
    g.rc = vcode_grade_with(box(), &job, &g.r, &g.e);
    cJSON_Delete(pb);
    return g;
}

static void done(Graded *g) {
    free(g->r.detail), free(g->r.extracted), free(g->r.out_stdout), free(g->r.out_stderr);
}

#define EXPECT(g, want_status, want_score)                                                              \
    do {                                                                                                \
        CHECK_MSG((g).rc == 0, "grade failed: %s", (g).e.msg);                                          \
        CHECK_MSG(strcmp((g).r.status, want_status) == 0, "status %s, want %s (%s)", (g).r.status,      \
                  want_status, (g).r.detail ? (g).r.detail : "");                                       \
        CHECK_NEAR((g).r.score, want_score, 1e-9);                                                      \
        CHECK_EQ((g).r.all_passed, strcmp(want_status, "correct") == 0);                                \
    } while (0)

// ---------------------------------------------------------------------------
// extraction

TEST(the_last_fenced_block_is_the_program) {
    char lang[32];
    char *p = vcode_extract("Try this:\n```python\nprint(1)\n```\nor better:\n```py\nprint(2)\n```\nDone.", lang,
                            sizeof lang);
    CHECK_STR_EQ(p, "print(2)\n");
    CHECK_STR_EQ(lang, "py");
    free(p);
    p = vcode_extract("no fences at all\nprint(3)", lang, sizeof lang);
    CHECK_STR_EQ(p, "no fences at all\nprint(3)");
    CHECK_STR_EQ(lang, "");
    free(p);
    // A block cut off by the length limit still counts; tags are lower-cased.
    p = vcode_extract("```C\nint main(){\n", lang, sizeof lang);
    CHECK_STR_EQ(p, "int main(){\n");
    CHECK_STR_EQ(lang, "c");
    free(p);
    // Code in the thinking is not the answer.
    p = vcode_extract("<think>```python\nprint('draft')\n```</think>\nFinal:\n```python\nprint('final')\n```", lang,
                      sizeof lang);
    CHECK_STR_EQ(p, "print('final')\n");
    free(p);
    p = vcode_extract("~~~\nnot a fence\n~~~", lang, sizeof lang);
    CHECK_STR_EQ(p, "~~~\nnot a fence\n~~~");
    free(p);
}

TEST(definitions_and_output_comparison) {
    CHECK(vcode_defines("import math\ndef add(a, b):\n    return a + b\n", "add"));
    CHECK(vcode_defines("async def add (x):\n  pass", "add"));
    CHECK(vcode_defines("add = lambda a, b: a + b", "add"));
    CHECK(vcode_defines("class add:\n    pass", "add"));
    CHECK(!vcode_defines("    return a + b\n", "add"));
    CHECK(!vcode_defines("def adder(a):\n    pass\n", "add"));
    CHECK(!vcode_defines("    def add(a):\n        pass\n", "add"));  // nested, not top level
    CHECK(!vcode_defines("add == 3", "add"));
    CHECK(vcode_output_matches("1 2 \r\n3\n\n\n", "1 2\n3"));
    CHECK(!vcode_output_matches("1  2\n", "1 2\n"));
    CHECK(!vcode_output_matches("12\n", "1\n2\n"));
    CHECK(vcode_output_matches("", "\n"));
}

// ---------------------------------------------------------------------------
// stdin/stdout tests

static const char *double_tests = "{\"tests\":[{\"stdin\":\"21\\n\",\"stdout\":\"42\\n\"},"
                                  "{\"stdin\":\"0\\n\",\"stdout\":\"0\"},{\"stdin\":\"-4\\n\",\"stdout\":\"-8\\n\"}]}";

TEST(python_stdio_correct_wrong_partial) {
    Graded g = grade("```python\nprint(int(input()) * 2)\n```", double_tests, 5);
    EXPECT(g, "correct", 1.0);
    CHECK_STR_EQ(g.r.out_stdout, "-8\n");  // the last run's output when all pass
    done(&g);
    g = grade("```python\nx = int(input())\nprint(x * 2 if x > 0 else x)\n```", double_tests, 5);
    EXPECT(g, "wrong", 2.0 / 3.0);
    CHECK_CONTAINS(g.r.detail, "test 3: expected '-8\\n', got '-4\\n'");
    CHECK_STR_EQ(g.r.out_stdout, "-4\n");  // the first failing run's output
    done(&g);
}

TEST(python_stdio_statuses) {
    Graded g = grade("```python\nprint(int(input() * 2)\n```", double_tests, 5);
    EXPECT(g, "compile_error", 0.0);
    CHECK_CONTAINS(g.r.detail, "SyntaxError");
    CHECK_CONTAINS(g.r.detail, "later tests not run");
    done(&g);
    g = grade("```python\nx = int(input())\nprint(2 * x // x)\n```", double_tests, 5);
    EXPECT(g, "wrong", 0.0);  // the first failing test names the status: 21 -> 2 is wrong
    CHECK_CONTAINS(g.r.detail, "test 1: expected");
    done(&g);
    g = grade("```python\nprint(int(input()) // 0)\n```", double_tests, 5);
    EXPECT(g, "runtime_error", 0.0);
    done(&g);
    g = grade("```python\nx = int(input())\nif x == 0:\n    1 / 0\nprint(2 * x)\n```", double_tests, 5);
    EXPECT(g, "runtime_error", 2.0 / 3.0);
    CHECK_CONTAINS(g.r.detail, "ZeroDivisionError");
    done(&g);
    g = grade("```python\nwhile True: pass\n```", double_tests, 0.5);
    EXPECT(g, "timeout", 0.0);
    CHECK_CONTAINS(g.r.detail, "2 later tests not run");
    done(&g);
    g = grade("```python\nx = bytearray(10 ** 10)\n```", double_tests, 5);
    EXPECT(g, "memory", 0.0);
    done(&g);
    g = grade("```python\nwhile True: print('spam' * 100)\n```", double_tests, 5);
    EXPECT(g, "output_limit", 0.0);
    done(&g);
    g = grade("```python\nimport socket\nsocket.socket()\nprint(int(input()) * 2)\n```", double_tests, 5);
    EXPECT(g, "denied", 0.0);
    done(&g);
}

static const char *sum_tests = "{\"language\":\"c\",\"tests\":[{\"stdin\":\"1 2\\n\",\"stdout\":\"3\\n\"},"
                               "{\"stdin\":\"40 2\",\"stdout\":\"42\"}]}";

TEST(c_is_compiled_in_the_sandbox_and_run_per_test) {
    Graded g = grade("```c\n#include <stdio.h>\nint main(void) { int a, b; scanf(\"%d %d\", &a, &b);"
                     " printf(\"%d\\n\", a + b); return 0; }\n```",
                     sum_tests, 5);
    EXPECT(g, "correct", 1.0);
    done(&g);
    g = grade("#include <stdio.h>\nint main(void) { int a, b; scanf(\"%d %d\", &a, &b); printf(\"%d\\n\", a - b); }",
              sum_tests, 5);
    EXPECT(g, "wrong", 0.0);
    done(&g);
    g = grade("```c\nint main(void) { return 0 }\n```", sum_tests, 5);
    EXPECT(g, "compile_error", 0.0);
    CHECK_CONTAINS(g.r.detail, "error");
    done(&g);
    g = grade("```c\nint main(void) { volatile int *p = 0; return *p; }\n```", sum_tests, 5);
    EXPECT(g, "runtime_error", 0.0);
    done(&g);
    g = grade("```c\nint main(void) { for (;;); }\n```", sum_tests, 0.5);
    EXPECT(g, "timeout", 0.0);
    done(&g);
    // A language given by the fence when the problem names none.
    g = grade("```c\n#include <stdio.h>\nint main(void) { puts(\"3\"); }\n```",
              "{\"tests\":[{\"stdin\":\"\",\"stdout\":\"3\\n\"}]}", 5);
    EXPECT(g, "correct", 1.0);
    done(&g);
}

// ---------------------------------------------------------------------------
// MBPP and HumanEval

static const char *mbpp = "{\"test_setup_code\":\"import math\",\"test_list\":["
                          "\"assert add(1, 2) == 3\",\"assert add(2, 2) == 5\",\"assert add(0, 0) == 0\","
                          "\"assert math.isclose(add(0.5, 0.25), 0.75)\"]}";

TEST(mbpp_asserts_are_scored_one_by_one) {
    Graded g = grade("```python\ndef add(a, b):\n    return a + b\n```", mbpp, 5);
    EXPECT(g, "wrong", 0.75);  // the second assert is false for everyone: the others still count
    CHECK_CONTAINS(g.r.detail, "3/4 tests passed; test 2: 'assert add(2, 2) == 5' -> AssertionError");
    done(&g);
    g = grade("```python\ndef plus(a, b):\n    return a + b\n```", mbpp, 5);
    EXPECT(g, "runtime_error", 0.0);
    CHECK_CONTAINS(g.r.detail, "NameError");
    done(&g);
    g = grade("```python\ndef add(a, b):\n    return a + b\nprint(add(input(), 1))\n```", mbpp, 5);
    EXPECT(g, "wrong", 0.75);  // the top level raised (no stdin) but the function works
    CHECK_CONTAINS(g.r.detail, "top level raised EOFError");
    done(&g);
    g = grade("```python\ndef add(a, b)\n    return a + b\n```", mbpp, 5);
    EXPECT(g, "compile_error", 0.0);
    done(&g);
    g = grade("```python\ndef add(a, b):\n    if a == 2: bytearray(10 ** 10)\n    return a + b\n```", mbpp, 5);
    EXPECT(g, "memory", 0.75);  // MemoryError in test 2 only
    done(&g);
    g = grade("```python\ndef add(a, b):\n    while a == 2: pass\n    return a + b\n```", mbpp, 1);
    EXPECT(g, "timeout", 0.25);  // partial credit for what passed before the clock ran out
    done(&g);
}

// A HumanEval-shaped problem (the published fields).
static const char *humaneval =
    "{\"prompt\":\"from typing import List\\n\\n\\ndef total(xs: List[int]) -> int:\\n"
    "    \\\"\\\"\\\" Sum of xs.\\n    >>> total([1, 2])\\n    3\\n    \\\"\\\"\\\"\\n\","
    "\"test\":\"\\n\\ndef check(candidate):\\n    assert candidate([1, 2]) == 3\\n"
    "    assert candidate([]) == 0\\n    assert candidate([-1, 1, 5]) == 5\\n\","
    "\"entry_point\":\"total\"}";

TEST(humaneval_prompt_is_prepended_only_when_needed) {
    Graded g = grade("    return sum(xs)\n", humaneval, 5);  // a completion: the body only
    EXPECT(g, "correct", 1.0);
    done(&g);
    // A full function that uses List from the prompt's imports.
    g = grade("Here you go:\n```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```", humaneval, 5);
    EXPECT(g, "correct", 1.0);
    done(&g);
    g = grade("```python\ndef total(xs: List[int]) -> int:\n    return sum(xs) + 1\n```", humaneval, 5);
    EXPECT(g, "wrong", 0.0);
    done(&g);
    g = grade("```python\ndef total(xs):\n    return xs.total()\n```", humaneval, 5);
    EXPECT(g, "runtime_error", 0.0);
    CHECK_CONTAINS(g.r.detail, "AttributeError");
    done(&g);
}

TEST(the_harness_cannot_be_fooled) {
    // Exiting early with success, printing fake verdicts (to stdout and to
    // fd 3), or reading the tests from the work dir all fail (the full
    // list of attacks is test_harness.c).
    Graded g = grade("```python\nimport os\nos._exit(0)\n```", humaneval, 5);
    EXPECT(g, "runtime_error", 0.0);
    CHECK_CONTAINS(g.r.detail, "the solution's process ended");
    done(&g);
    g = grade("```python\nimport os\nfor fd in (1, 3):\n    os.write(fd, b'0123456789abcdef0123456789abcdef test 0 ok\\n"
              "0123456789abcdef0123456789abcdef done\\n')\nos._exit(0)\n```",
              humaneval, 5);
    CHECK_MSG(strcmp(g.r.status, "correct") != 0 && g.r.score == 0, "%s: %s", g.r.status, g.r.detail);
    done(&g);
    g = grade("```python\nimport os, sys\ndef total(xs):\n    print(os.listdir('.'), sys.stdin.read(), file=sys.stderr)\n"
              "    return sum(xs)\n```",
              humaneval, 5);
    EXPECT(g, "correct", 1.0);
    CHECK_MSG(strstr(g.r.out_stderr, "check") == NULL && strstr(g.r.out_stderr, "[] \n") != NULL,
              "the program saw: %s", g.r.out_stderr);
    done(&g);
}

TEST(bad_problems_are_errors) {
    Graded g = grade("print(1)", "{\"tests\":[{\"stdin\":\"\"}]}", 5);
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "stdout");
    g = grade("print(1)", "{\"answer\":\"3\"}", 5);
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "no tests");
    g = grade("print(1)", "{\"language\":\"rust\",\"tests\":[{\"stdin\":\"\",\"stdout\":\"1\"}]}", 5);
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "rust");
    g = grade("int main(){}", "{\"language\":\"c\",\"test_list\":[\"assert f()\"]}", 5);
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "stdin/stdout");
    g = grade("print(1)", "{\"test_list\":[]}", 5);
    CHECK_EQ(g.rc, -1);
}

TEST(output_comes_back_only_when_asked) {
    cJSON *pb = cJSON_Parse("{\"tests\":[{\"stdin\":\"\",\"stdout\":\"hi\\n\"}]}");
    VerifyJob job = {.id = "t", .verifier = "code", .response = "print('hi')", .problem = pb};
    VerifyResult r = {0};
    Err e = {{0}};
    REQUIRE(vcode_grade_with(box(), &job, &r, &e) == 0);
    CHECK_STR_EQ(r.status, "correct");
    CHECK(r.out_stdout == NULL && r.out_stderr == NULL);
    free(r.detail);
    // And the Verifier entry point, on the process-wide sandbox.
    Verifier v = {.name = "code", .grade = vcode_grade};
    VerifyResult r2 = {0};
    REQUIRE(vcode_grade(&v, &job, &r2, &e) == 0);
    CHECK_STR_EQ(r2.status, "correct");
    free(r2.detail);
    cJSON_Delete(pb);
}

// ---------------------------------------------------------------------------
// plugins

static char *countdown_path(void) {
    const char *root = getenv("REASONER_ROOT");
    return fs_join(root && *root ? root : ".", "plugins/countdown");
}

static Graded plugin(const char *path, const char *response, const char *problem) {
    Graded g = {0};
    cJSON *pb = cJSON_Parse(problem);
    VerifyJob job = {.id = "c1", .verifier = "countdown", .response = (char *)response, .problem = pb,
                     .limits = {.time_s = 5}};
    g.rc = vplugin_grade_with(box(), path, &job, &g.r, &g.e);
    cJSON_Delete(pb);
    return g;
}

static const char *cd_problem = "{\"numbers\":[25,3,7,50],\"target\":322}";

TEST(countdown_plugin_grades_in_the_sandbox) {
    char *p = countdown_path();
    Graded g = plugin(p, "We need 322. <answer>(50 - 3) * 7 - 25 + 18</answer>", cd_problem);
    EXPECT(g, "wrong", 0.0);  // 18 is not given
    CHECK_CONTAINS(g.r.detail, "18");
    done(&g);
    g = plugin(p, "Think... 50*7 = 350, 350-25 = 325, 325-3 = 322. So <answer>50*7-25-3</answer>", cd_problem);
    EXPECT(g, "correct", 1.0);
    CHECK_STR_EQ(g.r.extracted, "50*7-25-3");
    done(&g);
    g = plugin(p, "The answer is \\boxed{50 \\times 7 - (25 + 3)}.", cd_problem);
    EXPECT(g, "correct", 1.0);
    done(&g);
    g = plugin(p, "so 50 * 7 - 25 = 325", cd_problem);
    EXPECT(g, "wrong", 0.0);
    CHECK_CONTAINS(g.r.detail, "reaches 325, not 322");
    done(&g);
    g = plugin(p, "<answer>50*7-25-3</answer>", "{\"numbers\":[25,3,7,50],\"target\":322,\"use_all\":true}");
    EXPECT(g, "correct", 1.0);  // every number used once
    done(&g);
    g = plugin(p, "<answer>50*7-25-3</answer>", "{\"numbers\":[25,3,7,50,2],\"target\":322,\"use_all\":true}");
    EXPECT(g, "wrong", 0.0);
    CHECK_CONTAINS(g.r.detail, "2 left");
    done(&g);
    // The plugin's complaint about a bad problem becomes the grader's error.
    g = plugin(p, "<answer>1+1</answer>", "{\"target\":2}");
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "numbers");
    free(p);
}

TEST(broken_plugins_are_errors) {
    char *garbage = fs_join(test_tmpdir(), "garbage");
    test_write_file(garbage, "#!/bin/sh\necho not json\n");
    chmod(garbage, 0755);
    Graded g = plugin(garbage, "x", "{}");
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "garbage");
    char *slow = fs_join(test_tmpdir(), "slow");
    test_write_file(slow, "#!/bin/sh\nwhile :; do :; done\n");
    chmod(slow, 0755);
    cJSON *pb = cJSON_Parse("{}");
    VerifyJob job = {.id = "s", .response = "x", .problem = pb, .limits = {.time_s = 0.5}};
    VerifyResult r = {0};
    Err e = {{0}};
    CHECK_EQ(vplugin_grade_with(box(), slow, &job, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "timeout");
    char *range = fs_join(test_tmpdir(), "range");
    test_write_file(range, "#!/bin/sh\necho '{\"score\": 2}'\n");
    chmod(range, 0755);
    g = plugin(range, "x", "{}");
    CHECK_EQ(g.rc, -1);
    CHECK_CONTAINS(g.e.msg, "score");
    // A plugin runs its one program: starting another is denied.
    char *shell = fs_join(test_tmpdir(), "shell");
    test_write_file(shell, "#!/bin/sh\nif /bin/true; then echo '{\"score\": 1, \"status\": \"correct\"}'; "
                           "else echo '{\"score\": 0, \"status\": \"wrong\"}'; fi\n");
    chmod(shell, 0755);
    g = plugin(shell, "x", "{}");
    CHECK_EQ(g.rc, 0);
    CHECK_STR_EQ(g.r.status, "wrong");
    done(&g);
    free(shell);
    g = plugin("/no/such/plugin", "x", "{}");
    CHECK_EQ(g.rc, -1);
    Verifier v = {.name = "countdown", .grade = vplugin_grade};
    CHECK_EQ(vplugin_grade(&v, &job, &r, &e), -1);  // no plugin path
    cJSON_Delete(pb);
    free(garbage), free(slow), free(range);
}
