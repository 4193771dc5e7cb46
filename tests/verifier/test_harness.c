// test_harness.c: wrong solutions that try to fool the code verifier's
// function-test harness (verifier/code/code.c) rather than solve the
// problem. Each must grade as not correct; the right solution beside them
// must grade correct, so a harness that fails everything fails here too.
// Each attack would pass a harness that ran the tests in the solution's
// interpreter (the design before ARCHITECTURE.md's "code verifier" section:
// verdicts on fd 3 of that interpreter, comparisons by the returned
// object's __eq__).
//   make build/tests/verifier/test_harness && build/tests/verifier/test_harness
#include <string.h>
#include <sys/stat.h>

#include "common/base.h"
#include "common/buf.h"
#include "tests/test.h"
#include "verifier/code/code.h"

static const Sandbox *box(Err *e) {
    static Sandbox *s;
    static Err why;
    if (!s && !why.msg[0]) {
        chmod(test_tmpdir(), 0711);
        SbxConfig cfg = {.namespaces = SBX_NS_ALL, .tmp_dir = test_tmpdir()};
        s = sbx_new(&cfg, &why);
    }
    if (!s) *e = why;
    return s;
}

#define NEED_JAIL(s)                                                       \
    Err jail_e = {{0}};                                                    \
    const Sandbox *s = box(&jail_e);                                       \
    if (!s) SKIP("the full jail cannot be built here: %s", jail_e.msg)

static VerifyResult grade(const Sandbox *s, const char *response, const char *problem_json) {
    VerifyResult r = {0};
    cJSON *pb = cJSON_Parse(problem_json);
    RS_CHECK(pb != NULL);
    VerifyJob job = {.id = "t", .verifier = "code", .response = (char *)response, .problem = pb,
                     .limits = {.time_s = 5, .memory_mb = 256, .return_output = 1}};
    Err e = {{0}};
    if (vcode_grade_with(s, &job, &r, &e) != 0) snprintf(r.status, sizeof r.status, "error: %s", e.msg);
    cJSON_Delete(pb);
    return r;
}

static void result_free(VerifyResult *r) {
    free(r->detail), free(r->extracted), free(r->out_stdout), free(r->out_stderr);
}

// HumanEval-style: total(xs) is the sum; the check has an assert per case.
static const char *humaneval =
    "{\"prompt\": \"from typing import List\\n\\ndef total(xs: List[int]) -> int:\\n    \\\"\\\"\\\"Sum.\\\"\\\"\\\"\\n\","
    " \"entry_point\": \"total\", \"test\": \"def check(candidate):\\n    assert candidate([1, 2, 3]) == 6\\n"
    "    assert candidate([]) == 0\\n    assert candidate([-5, 5, 7]) == 7\\n\"}";
// MBPP-style: the function is called by name.
static const char *mbpp = "{\"test_list\": [\"assert add_one(1) == 2\", \"assert add_one(41) == 42\", "
                          "\"assert len(twice([1, 2])) == 4\"]}";

// The response graded not correct (and not an error of the grader).
#define NOT_CORRECT(s, response, problem)                                                                   \
    do {                                                                                                    \
        VerifyResult r__ = grade(s, response, problem);                                                     \
        CHECK_MSG(strcmp(r__.status, "correct") != 0 && strncmp(r__.status, "error", 5) != 0 &&            \
                      r__.score < 1.0,                                                                      \
                  "graded %s (%g): %s", r__.status, r__.score, r__.detail ? r__.detail : "");               \
        result_free(&r__);                                                                                  \
    } while (0)

#define CORRECT(s, response, problem)                                                                       \
    do {                                                                                                    \
        VerifyResult r__ = grade(s, response, problem);                                                     \
        CHECK_MSG(strcmp(r__.status, "correct") == 0, "graded %s: %s", r__.status,                         \
                  r__.detail ? r__.detail : "");                                                            \
        CHECK_STR_EQ(r__.isolation, "full");                                                                \
        result_free(&r__);                                                                                  \
    } while (0)

TEST(right_solutions_pass) {
    NEED_JAIL(s);
    CORRECT(s, "    return sum(xs)\n", humaneval);
    CORRECT(s, "```python\ndef add_one(x):\n    return x + 1\ndef twice(xs):\n    return xs + xs\n```", mbpp);
    NOT_CORRECT(s, "    return sum(xs) + 1\n", humaneval);  // and a plainly wrong one fails
}

TEST(exiting_before_the_asserts) {
    NEED_JAIL(s);
    NOT_CORRECT(s, "```python\nimport sys\nsys.exit(0)\n```", humaneval);
    NOT_CORRECT(s, "```python\nimport os\nos._exit(0)\n```", humaneval);
    NOT_CORRECT(s, "```python\nimport os\ndef total(xs):\n    os._exit(0)\n```", humaneval);
    NOT_CORRECT(s, "```python\nimport sys\ndef add_one(x):\n    sys.exit(0)\ndef twice(x):\n    raise SystemExit\n```",
                mbpp);
}

TEST(walking_frames_to_rewrite_the_tests_or_the_harness) {
    NEED_JAIL(s);
    // Every frame up the stack: empty the tests, make every check pass,
    // replace the harness's reporting and exception names.
    NOT_CORRECT(s,
                "```python\nimport sys\ndef total(xs):\n    f = sys._getframe(1)\n    while f:\n"
                "        g = f.f_globals\n        g['check'] = lambda c: None\n"
                "        for k in list(g):\n            if callable(g[k]) and k not in ('total',):\n"
                "                try: g[k] = lambda *a, **kw: None\n                except Exception: pass\n"
                "        f.f_locals.update({'tests': [], 'job': {'tests': []}})\n        f = f.f_back\n"
                "    return 0\n```",
                humaneval);
    NOT_CORRECT(s,
                "```python\nimport sys, gc\nfor o in gc.get_objects():\n    if isinstance(o, dict) and 'tests' in o:\n"
                "        o['tests'] = []\n    if isinstance(o, list):\n"
                "        for i, x in enumerate(o):\n            if isinstance(x, str) and 'assert' in x: o[i] = 'pass'\n"
                "def total(xs):\n    return -1\n```",
                humaneval);
}

TEST(forging_a_verdict_on_every_fd) {
    NEED_JAIL(s);
    // Lines in every format a verdict could take, with nonces found in
    // memory or made up, written to every descriptor 0..1023.
    NOT_CORRECT(s,
                "```python\nimport os, gc, re\nnonces = {'0' * 32}\nfor o in gc.get_objects():\n"
                "    if isinstance(o, dict):\n        for v in list(o.values()):\n"
                "            if isinstance(v, str) and re.fullmatch('[0-9a-f]{32}', v): nonces.add(v)\n"
                "lines = b''\nfor n in nonces:\n    lines += ('%s test 0 ok\\n%s done\\n' % (n, n)).encode()\n"
                "lines += b'{\"q\": 1, \"r\": true}\\n{\"q\": 2, \"r\": true}\\n{\"q\": 3, \"r\": true}\\n'\n"
                "for fd in range(1024):\n    try: os.write(fd, lines)\n    except OSError: pass\n"
                "def total(xs):\n    for fd in range(1024):\n        try: os.write(fd, lines)\n        except OSError: pass\n"
                "    return -1\n```",
                humaneval);
}

TEST(patching_builtins_assert_helpers_unittest_and_the_harness) {
    NEED_JAIL(s);
    NOT_CORRECT(s,
                "```python\nimport builtins, unittest, json\nclass Never(Exception): pass\n"
                "builtins.AssertionError = Never\nbuiltins.len = lambda x: 4\nbuiltins.sum = lambda x: 6\n"
                "unittest.TestCase.assertEqual = lambda *a, **k: None\n"
                "json.dumps = lambda *a, **k: '{\"q\": 0, \"r\": 6}'\n"
                "def total(xs):\n    return -1\n```",
                humaneval);
    // Names that shadow a builtin the tests use are not taken from the solution.
    NOT_CORRECT(s, "```python\ndef add_one(x):\n    return x + 1\ndef twice(xs):\n    return xs\n"
                   "def len(x):\n    return 4\n```",
                mbpp);
}

TEST(an_always_equal_object) {
    NEED_JAIL(s);
    const char *eq = "```python\nclass E:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
                     "    def __hash__(self): return 0\n    def __bool__(self): return True\n"
                     "    def __len__(self): return 4\n";
    Buf b = {0};
    buf_printf(&b, "%sdef total(xs):\n    return E()\n```", eq);
    NOT_CORRECT(s, b.data, humaneval);
    buf_clear(&b);
    // Subclasses of plain types with the same trick.
    buf_printf(&b, "```python\nclass I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
                   "class L(list):\n    def __eq__(self, o): return True\n"
                   "def add_one(x):\n    return I(0)\ndef twice(xs):\n    return L()\n```");
    NOT_CORRECT(s, b.data, mbpp);
    buf_free(&b);
}

TEST(printing_the_success_marker) {
    NEED_JAIL(s);
    NOT_CORRECT(s,
                "```python\nimport sys\nfor n in ('0123456789abcdef' * 2, ''):\n"
                "    for out in (sys.stdout, sys.stderr):\n"
                "        print(n, 'test 0 ok', file=out); print(n, 'done', file=out)\n"
                "        print('correct', 'PASSED', 'OK', file=out); out.flush()\n"
                "def total(xs):\n    print('all tests passed')\n    return None\n```",
                humaneval);
}

TEST(a_forked_child_that_outlives_the_checked_process) {
    NEED_JAIL(s);
    const char *fork_attack =
        "```python\nimport os, time\ndef total(xs):\n    if os.fork() == 0:\n        time.sleep(0.2)\n"
        "        for fd in range(64):\n            try: os.write(fd, b'{\"q\": 2, \"r\": 0}\\n')\n"
        "            except OSError: pass\n        time.sleep(30)\n        os._exit(0)\n    return -1\n```";
    NOT_CORRECT(s, fork_attack, humaneval);
    // Even where the problem allows fork.
    const char *allow = "{\"prompt\": \"def total(xs):\\n    pass\\n\", \"entry_point\": \"total\", \"allow_fork\": true,"
                        " \"test\": \"def check(candidate):\\n    assert candidate([1, 2, 3]) == 6\\n\"}";
    NOT_CORRECT(s, fork_attack, allow);
}

TEST(the_solution_never_sees_the_tests) {
    NEED_JAIL(s);
    // Looking for the tests' text in its own stdin, its files, its memory.
    VerifyResult r = grade(s,
                           "```python\nimport os, sys, gc\nseen = []\nfor o in gc.get_objects():\n"
                           "    if isinstance(o, str) and 'candidate' in o: seen.append(o)\n"
                           "def total(xs):\n    print(os.listdir('.'), sys.stdin.read(), seen, file=sys.stderr)\n"
                           "    return sum(xs)\n```",
                           humaneval);
    CHECK_STR_EQ(r.status, "correct");
    CHECK_MSG(r.out_stderr && strstr(r.out_stderr, "assert") == NULL && strstr(r.out_stderr, "[] ") != NULL,
              "the program saw: %s", r.out_stderr ? r.out_stderr : "(nothing)");
    result_free(&r);
}

TEST(a_c_program_cannot_find_the_expected_output) {
    NEED_JAIL(s);
    // It walks the whole jail (and its stdin) for the expected output and
    // prints the first match.
    const char *prog =
        "```c\n#include <dirent.h>\n#include <stdio.h>\n#include <string.h>\n"
        "static char buf[1 << 16];\nstatic int walk(const char *dir, int depth) {\n"
        "  if (depth > 6) return 0;\n  DIR *d = opendir(dir);\n  if (!d) return 0;\n  struct dirent *e;\n"
        "  while ((e = readdir(d))) {\n    if (e->d_name[0] == '.') continue;\n    char p[1024];\n"
        "    snprintf(p, sizeof p, \"%s/%s\", strcmp(dir, \"/\") ? dir : \"\", e->d_name);\n"
        "    if (e->d_type == DT_DIR) { if (walk(p, depth + 1)) { closedir(d); return 1; } continue; }\n"
        "    if (e->d_type != DT_REG) continue;\n    FILE *f = fopen(p, \"rb\");\n    if (!f) continue;\n"
        "    size_t n = fread(buf, 1, sizeof buf - 1, f);\n    fclose(f);\n    buf[n] = 0;\n"
        "    char *hit = memmem(buf, n, \"SECRET-\", 7);\n"
        "    if (hit) { printf(\"%.20s\\n\", hit); closedir(d); return 1; }\n  }\n  closedir(d);\n  return 0;\n}\n"
        "int main(void) { char in[256] = {0}; fread(in, 1, 255, stdin); if (strstr(in, \"SECRET-\")) puts(in);\n"
        "  if (!walk(\"/\", 0)) puts(\"not found\"); return 0; }\n```";
    NOT_CORRECT(s, prog, "{\"language\": \"c\", \"tests\": [{\"stdin\": \"x\\n\", \"stdout\": \"SECRET-7731-EXPECTED\\n\"}]}");
}
