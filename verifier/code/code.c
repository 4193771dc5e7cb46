// code.c: the code verifier (code.h). One job is: extract the program, pick
// the test form, then either one harness run (HumanEval, MBPP: Python
// function tests) or one run per stdin/stdout test (Python, or C compiled
// first by cc inside the sandbox), and fold the runs into a verdict.
//   reasoner verify < jobs.jsonl      (jobs with "verifier": "code")
#include "verifier/code/code.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/json.h"

// The interpreter and compiler, found on the sandbox's PATH
// (/usr/local/bin:/usr/bin:/bin inside the private root).
#define PYTHON "python3"
#define CC "cc"
#define MAX_TESTS 1000

// ---------------------------------------------------------------------------
// the program in a response

static int is_fence(const char *line, size_t n, size_t *ticks) {
    size_t i = 0;
    while (i < n && i < 4 && (line[i] == ' ' || line[i] == '\t')) i++;
    size_t k = 0;
    while (i + k < n && line[i + k] == '`') k++;
    if (k < 3) return 0;
    *ticks = i + k;
    return 1;
}

char *vcode_extract(const char *response, char *lang, size_t cap) {
    if (cap) lang[0] = '\0';
    // Reasoning models think first; the answer follows the last </think>.
    const char *text = response;
    for (const char *p = strstr(response, "</think>"); p; p = strstr(p + 8, "</think>")) text = p + 8;
    const char *block = NULL, *block_end = NULL, *open_tag = NULL;
    size_t tag_len = 0;
    const char *cur = NULL, *cur_tag = NULL;
    size_t cur_tag_len = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *next = nl ? nl + 1 : line + n;
        size_t ticks;
        if (is_fence(line, n, &ticks)) {
            const char *info = line + ticks;
            size_t info_len = n - ticks;
            while (info_len && isspace((unsigned char)info[0])) info++, info_len--;
            while (info_len && isspace((unsigned char)info[info_len - 1])) info_len--;
            if (!cur) {
                cur = next, cur_tag = info, cur_tag_len = info_len;
            } else if (info_len == 0) {  // a closing fence
                block = cur, block_end = line, open_tag = cur_tag, tag_len = cur_tag_len;
                cur = NULL;
            }
        }
        line = next;
    }
    if (cur) block = cur, block_end = cur + strlen(cur), open_tag = cur_tag, tag_len = cur_tag_len;  // cut off mid-block
    if (!block) return xstrdup(text);
    size_t k = 0;
    for (size_t i = 0; i < tag_len && k + 1 < cap && !isspace((unsigned char)open_tag[i]) && open_tag[i] != '{'; i++)
        lang[k++] = (char)tolower((unsigned char)open_tag[i]);
    if (cap) lang[k] = '\0';
    return xstrndup(block, (size_t)(block_end - block));
}

static int is_ident(char c) { return isalnum((unsigned char)c) || c == '_'; }

int vcode_defines(const char *src, const char *name) {
    size_t n = strlen(name);
    for (const char *line = src; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        if (strncmp(p, "async ", 6) == 0) p += 6;
        if (strncmp(p, "def ", 4) == 0) p += 4;
        else if (strncmp(p, "class ", 6) == 0) p += 6;
        while (*p == ' ') p++;
        if (strncmp(p, name, n) != 0 || is_ident(p[n])) continue;
        p += n;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '(' || *p == ':' || (*p == '=' && p[1] != '=')) return 1;
    }
    return 0;
}

// Drop \r before \n, trailing blanks of each line, and trailing blank lines.
static char *normalize_output(const char *s) {
    Buf b = {0};
    buf_puts(&b, "");
    for (const char *line = s; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        size_t m = n;
        while (m && isspace((unsigned char)line[m - 1])) m--;
        buf_append(&b, line, m);
        buf_putc(&b, '\n');
        line += nl ? n + 1 : n;
    }
    while (b.len && b.data[b.len - 1] == '\n') b.data[--b.len] = '\0';
    return buf_take(&b);
}

int vcode_output_matches(const char *got, const char *want) {
    char *a = normalize_output(got), *b = normalize_output(want);
    int same = strcmp(a, b) == 0;
    free(a), free(b);
    return same;
}

// ---------------------------------------------------------------------------
// results

static void set_verdict(VerifyResult *out, const char *status, double score, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_verdict(VerifyResult *out, const char *status, double score, const char *fmt, ...) {
    snprintf(out->status, sizeof out->status, "%s", status);
    out->score = score;
    out->all_passed = strcmp(status, "correct") == 0;
    va_list ap;
    va_start(ap, fmt);
    Buf b = {0};
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(out->detail);
    out->detail = buf_take(&b);
}

static void keep_output(VerifyResult *out, const VerifyJob *job, const SbxResult *r) {
    if (!job->limits.return_output) return;
    free(out->out_stdout), free(out->out_stderr);
    out->out_stdout = xstrdup(r->out);
    out->out_stderr = xstrdup(r->err);
}

// A short, single-line, quoted excerpt for details.
static void quote(Buf *b, const char *s, size_t max) {
    buf_putc(b, '\'');
    size_t i = 0;
    for (; s[i] && i < max; i++) {
        if (s[i] == '\n') buf_puts(b, "\\n");
        else if ((unsigned char)s[i] < 0x20) buf_putc(b, ' ');
        else buf_putc(b, s[i]);
    }
    if (s[i]) buf_puts(b, "...");
    buf_putc(b, '\'');
}

// The last line of stderr that says something (the exception, the error).
static void last_line(Buf *b, const char *err) {
    const char *end = err + strlen(err);
    while (end > err && isspace((unsigned char)end[-1])) end--;
    const char *start = end;
    while (start > err && start[-1] != '\n') start--;
    char *line = xstrndup(start, (size_t)(end - start));
    quote(b, line, 200);
    free(line);
}

// How a run ended in verifier terms, or NULL when it exited 0.
static const char *run_status(const SbxResult *r) {
    switch (r->status) {
    case SBX_OK: return NULL;
    case SBX_EXIT:
    case SBX_SIGNAL: return "runtime_error";
    case SBX_TIMEOUT: return "timeout";
    case SBX_MEMORY: return "memory";
    case SBX_OUTPUT_LIMIT: return "output_limit";
    case SBX_DENIED: return "denied";
    }
    return "runtime_error";
}

static int python_syntax_error(const SbxResult *r) {
    if (r->status != SBX_EXIT) return 0;
    static const char *const marks[] = {"\nSyntaxError:", "\nIndentationError:", "\nTabError:"};
    for (size_t i = 0; i < RS_ARRAY_LEN(marks); i++)
        if (strstr(r->err, marks[i])) return 1;
    return 0;
}

static SbxLimits job_limits(const VerifyJob *job) {
    SbxLimits l;
    sbx_limits_default(&l);
    if (job->limits.time_s > 0) l.time_s = job->limits.time_s;
    if (job->limits.memory_mb > 0) l.memory_mb = job->limits.memory_mb;
    if (job->limits.output_kb > 0) l.output_kb = job->limits.output_kb;
    return l;
}

// ---------------------------------------------------------------------------
// function tests (HumanEval, MBPP): one harness run

// Runs in the program's interpreter. It reads {nonce, program, setup,
// tests} from stdin, puts /dev/null in its place, execs the program in a
// fresh namespace, then each test on its own, and writes one line per
// verdict on fd 3: "NONCE test I ok|fail|error [why]", then "NONCE done".
// The tests never touch the work dir, so the program cannot read them there.
static const char harness_py[] =
    "import os, sys, json\n"
    "_w, _exit = os.write, os._exit\n"
    "def _harness():\n"
    "    job = json.loads(sys.stdin.buffer.read())\n"
    "    fd = os.open(os.devnull, os.O_RDONLY); os.dup2(fd, 0); os.close(fd)\n"
    "    nonce = job['nonce']\n"
    "    def say(*parts):\n"
    "        line = ' '.join([nonce] + [str(p) for p in parts]).replace('\\n', ' ').replace('\\r', ' ')\n"
    "        try: _w(3, (line[:1000] + '\\n').encode('utf-8', 'replace'))\n"
    "        except BaseException: pass\n"
    "    def why(e):\n"
    "        try: msg = str(e)\n"
    "        except BaseException: msg = ''\n"
    "        return type(e).__name__ + ': ' + msg[:300]\n"
    "    try:\n"
    "        code = compile(job['program'], 'solution.py', 'exec')\n"
    "    except BaseException as e:\n"
    "        say('compile', why(e)); return\n"
    "    g = {'__name__': '__solution__', '__builtins__': __builtins__}\n"
    "    try: exec(code, g)\n"
    "    except BaseException as e: say('load', why(e))\n"
    "    if job.get('setup'):\n"
    "        try: exec(compile(job['setup'], 'setup.py', 'exec'), g)\n"
    "        except BaseException as e: say('setup', why(e))\n"
    "    for i, t in enumerate(job['tests']):\n"
    "        try:\n"
    "            exec(compile(t, 'test_%d.py' % i, 'exec'), g)\n"
    "            say('test', i, 'ok')\n"
    "        except AssertionError as e: say('test', i, 'fail', why(e))\n"
    "        except BaseException as e: say('test', i, 'error', why(e))\n"
    "    say('done')\n"
    "_harness()\n"
    "try: sys.stdout.flush(); sys.stderr.flush()\n"
    "except BaseException: pass\n"
    "_exit(0)\n";

enum { T_UNKNOWN, T_OK, T_FAIL, T_ERROR };

typedef struct Report {
    int ntests;
    int *verdict;       // T_* per test
    char **why;         // per test, for fail/error
    char *compile_err;  // SyntaxError text, or NULL
    char *load_err;     // the program's top level raised
    int done;
} Report;

static void report_free(Report *r) {
    for (int i = 0; i < r->ntests; i++) free(r->why[i]);
    free(r->why), free(r->verdict), free(r->compile_err), free(r->load_err);
}

// Parse fd 3: only lines that start with this run's nonce count.
static void report_parse(Report *r, const char *text, const char *nonce) {
    size_t nn = strlen(nonce);
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *l = xstrndup(line, n);
        line += nl ? n + 1 : n;
        if (strncmp(l, nonce, nn) != 0 || l[nn] != ' ') {
            free(l);
            continue;
        }
        const char *p = l + nn + 1;
        if (strcmp(p, "done") == 0) r->done = 1;
        else if (strncmp(p, "compile ", 8) == 0 && !r->compile_err) r->compile_err = xstrdup(p + 8);
        else if (strncmp(p, "load ", 5) == 0 && !r->load_err) r->load_err = xstrdup(p + 5);
        else if (strncmp(p, "setup ", 6) == 0 && !r->load_err) r->load_err = xstrdup(p + 6);
        else if (strncmp(p, "test ", 5) == 0) {
            char *end;
            long i = strtol(p + 5, &end, 10);
            if (end != p + 5 && i >= 0 && i < r->ntests && *end == ' ') {
                end++;
                int v = strncmp(end, "ok", 2) == 0 ? T_OK : strncmp(end, "fail", 4) == 0 ? T_FAIL : T_ERROR;
                r->verdict[i] = v;
                const char *sp = strchr(end, ' ');
                if (v != T_OK && sp && !r->why[i]) r->why[i] = xstrdup(sp + 1);
            }
        }
        free(l);
    }
}

static void make_nonce(char *out) {  // 32 hex digits
    unsigned char raw[16] = {0};
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        uint64_t t = (uint64_t)(rs_now() * 1e9);
        memcpy(raw, &t, sizeof t);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

// Fold the harness run into a verdict.
static void judge_functions(VerifyResult *out, const SbxResult *r, Report *rep, const char **tests) {
    int passed = 0, first = -1;
    for (int i = 0; i < rep->ntests; i++) {
        if (rep->verdict[i] == T_OK) passed++;
        else if (first < 0) first = i;
    }
    double score = rep->ntests ? (double)passed / rep->ntests : 0;
    const char *st = run_status(r);
    Buf d = {0};
    buf_printf(&d, "%d/%d tests passed", passed, rep->ntests);
    if (rep->compile_err) {
        buf_free(&d);
        set_verdict(out, "compile_error", 0, "the program does not compile: %s", rep->compile_err);
        return;
    }
    if (st && strcmp(st, "runtime_error") != 0) {  // a limit or the filter ended it
        buf_printf(&d, "; %s", r->detail);
        set_verdict(out, st, strcmp(st, "denied") == 0 ? 0 : score, "%s", d.data);
    } else if (!rep->done) {
        buf_puts(&d, "; the program ended the harness early");
        if (r->status != SBX_OK) buf_printf(&d, " (%s), stderr ", r->detail), last_line(&d, r->err);
        set_verdict(out, "runtime_error", score, "%s", d.data);
    } else if (first < 0) {
        set_verdict(out, "correct", 1.0, "%s", d.data);
    } else {
        const char *why = rep->why[first] ? rep->why[first] : "no verdict";
        const char *status = rep->verdict[first] == T_FAIL ? "wrong"
                             : strncmp(why, "MemoryError", 11) == 0 ? "memory" : "runtime_error";
        buf_printf(&d, "; test %d: ", first + 1);
        quote(&d, tests[first], 120);
        buf_printf(&d, " -> %s", why);
        if (rep->load_err) buf_printf(&d, "; the program's top level raised %s", rep->load_err);
        set_verdict(out, status, score, "%s", d.data);
    }
    buf_free(&d);
}

static int run_functions(const Sandbox *s, const VerifyJob *job, const char *program, const char *setup,
                         const char **tests, int ntests, VerifyResult *out, Err *e) {
    char nonce[33];
    make_nonce(nonce);
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "nonce", nonce);
    cJSON_AddStringToObject(in, "program", program);
    if (setup) cJSON_AddStringToObject(in, "setup", setup);
    cJSON *arr = cJSON_AddArrayToObject(in, "tests");
    for (int i = 0; i < ntests; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(tests[i]));
    char *stdin_text = cJSON_PrintUnformatted(in);
    cJSON_Delete(in);
    const char *argv[] = {PYTHON, "-s", "-B", "-c", harness_py, NULL};
    SbxRun run = {.argv = argv, .stdin_data = stdin_text, .stdin_len = strlen(stdin_text), .report_fd = 1,
                  .limits = job_limits(job)};
    SbxResult r;
    int rc = sbx_run(s, &run, &r, e);
    free(stdin_text);
    if (rc != 0) return -1;
    Report rep = {.ntests = ntests, .verdict = xcalloc((size_t)ntests + 1, sizeof(int)),
                  .why = xcalloc((size_t)ntests + 1, sizeof(char *))};
    report_parse(&rep, r.report, nonce);
    judge_functions(out, &r, &rep, tests);
    keep_output(out, job, &r);
    report_free(&rep);
    sbx_result_free(&r);
    return 0;
}

// The import lines of a HumanEval prompt: a program that defines the entry
// point itself still relies on them (List, Optional, math).
static void prompt_imports(Buf *b, const char *prompt) {
    for (const char *line = prompt; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        if (strncmp(line, "import ", 7) == 0 || strncmp(line, "from ", 5) == 0) {
            buf_append(b, line, n);
            if (!nl) buf_putc(b, '\n');
        }
        line += n;
    }
}

static int grade_humaneval(const Sandbox *s, const VerifyJob *job, const char *program, VerifyResult *out, Err *e) {
    const cJSON *pb = job->problem;
    const char *test = json_opt_str(pb, "test", NULL), *entry = json_opt_str(pb, "entry_point", NULL);
    const char *prompt = json_opt_str(pb, "prompt", "");
    if (!test || !entry || !*entry) return err_set(e, "problem: fields 'test' and 'entry_point' must be strings");
    Buf src = {0};
    buf_puts(&src, "");
    if (vcode_defines(program, entry)) {
        prompt_imports(&src, prompt);
    } else {
        buf_puts(&src, prompt);
        if (src.len && src.data[src.len - 1] != '\n') buf_putc(&src, '\n');
    }
    buf_puts(&src, program);
    Buf t = {0};
    buf_printf(&t, "%s\n\ncheck(%s)\n", test, entry);
    const char *tests[] = {t.data};
    int rc = run_functions(s, job, src.data, NULL, tests, 1, out, e);
    buf_free(&src), buf_free(&t);
    return rc;
}

static int grade_mbpp(const Sandbox *s, const VerifyJob *job, const char *program, VerifyResult *out, Err *e) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(job->problem, "test_list");
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n == 0 || n > MAX_TESTS)
        return err_set(e, "problem: field 'test_list': expected 1..%d strings", MAX_TESTS);
    const char **tests = xcalloc((size_t)n, sizeof *tests);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsString(it)) {
            free(tests);
            return err_set(e, "problem: field 'test_list': item %d is not a string", i + 1);
        }
        tests[i++] = it->valuestring;
    }
    const char *setup = json_opt_str(job->problem, "test_setup_code", NULL);
    int rc = run_functions(s, job, program, setup, tests, n, out, e);
    free(tests);
    return rc;
}

// ---------------------------------------------------------------------------
// stdin/stdout tests: one run per test

// Compile a C program inside the sandbox; on success *binary holds the
// executable (the caller frees it). Returns 1 compiled, 0 did not (out
// has the compile_error verdict), -1 sandbox failure.
static int compile_c(const Sandbox *s, const VerifyJob *job, const char *program, SbxOutFile *binary,
                     VerifyResult *out, Err *e) {
    const char *argv[] = {CC, "-O2", "-pipe", "-o", "prog", "prog.c", "-lm", NULL};
    const char *collect[] = {"prog", NULL};
    SbxFile src = {.name = "prog.c", .data = program, .len = strlen(program)};
    SbxRun run = {.argv = argv, .files = &src, .nfiles = 1, .collect = collect,
                  .limits = {.time_s = 10, .memory_mb = 512, .output_kb = 64, .procs = 16}};
    SbxResult r;
    if (sbx_run(s, &run, &r, e) != 0) return err_wrap(e, "compiling");
    int ok = r.status == SBX_OK && r.nfiles == 1 && r.files[0].data && r.files[0].len > 0;
    if (ok) {
        *binary = r.files[0];
        r.files[0] = (SbxOutFile){0};
    } else {
        Buf d = {0};
        if (r.status == SBX_EXIT) {
            buf_puts(&d, "cc: ");
            // The first error line says the most.
            const char *err = strstr(r.err, "error");
            const char *start = err ? err : r.err;
            while (start > r.err && start[-1] != '\n') start--;
            const char *end = strchr(start, '\n');
            char *line = end ? xstrndup(start, (size_t)(end - start)) : xstrdup(start);
            quote(&d, line, 240);
            free(line);
        } else {
            buf_printf(&d, "the compiler was stopped: %s (%s)", sbx_status_name(r.status), r.detail);
        }
        set_verdict(out, "compile_error", 0, "%s", d.data);
        keep_output(out, job, &r);
        buf_free(&d);
    }
    sbx_result_free(&r);
    return ok;
}

static int check_stdio_tests(const cJSON *list, Err *e) {
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n == 0 || n > MAX_TESTS)
        return err_set(e, "problem: field 'tests': expected 1..%d {\"stdin\", \"stdout\"} objects", MAX_TESTS);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, list) {
        i++;
        if (!cJSON_IsObject(t) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "stdout")))
            return err_set(e, "problem: field 'tests': item %d needs a string 'stdout'", i);
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(t, "stdin");
        if (in && !cJSON_IsString(in) && !cJSON_IsNull(in))
            return err_set(e, "problem: field 'tests': item %d: 'stdin' must be a string", i);
    }
    return n;
}

// The verdict of one run against its expected output (NULL: passed), and
// a few words on a failure into d (when d is not NULL).
static const char *stdio_verdict(const SbxResult *r, const char *want, int is_c, int index, Buf *d) {
    const char *st = run_status(r);
    if (!is_c && python_syntax_error(r)) st = "compile_error";
    if (!st && !vcode_output_matches(r->out, want)) st = "wrong";
    if (!st || !d) return st;
    buf_printf(d, "test %d: ", index + 1);
    if (strcmp(st, "wrong") == 0) {
        buf_puts(d, "expected "), quote(d, want, 80), buf_puts(d, ", got "), quote(d, r->out, 80);
    } else if (strcmp(st, "compile_error") == 0 || strcmp(st, "runtime_error") == 0) {
        buf_printf(d, "%s, stderr ", r->detail[0] ? r->detail : "failed"), last_line(d, r->err);
    } else {
        buf_puts(d, r->detail);
    }
    return st;
}

// One run per test; the first failure names the status, the score counts
// every test that ran (a program that times out, is denied or does not
// compile would do it again: the rest are not run).
static int grade_stdio(const Sandbox *s, const VerifyJob *job, const char *program, int is_c, VerifyResult *out,
                       Err *e) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(job->problem, "tests");
    int n = check_stdio_tests(list, e);
    if (n < 0) return -1;
    SbxOutFile binary = {0};
    SbxFile file = {.name = "solution.py", .data = program, .len = strlen(program)};
    const char *py_argv[] = {PYTHON, "-s", "-B", "solution.py", NULL};
    const char *c_argv[] = {"./prog", NULL};
    if (is_c) {
        int rc = compile_c(s, job, program, &binary, out, e);
        if (rc <= 0) return rc;
        file = (SbxFile){.name = "prog", .data = binary.data, .len = binary.len, .executable = 1};
    }
    int passed = 0, ran = 0, rc = 0;
    const char *first = NULL;
    Buf d = {0};
    SbxResult keep = {0};  // the first failing run, else the last
    const cJSON *t;
    cJSON_ArrayForEach(t, list) {
        const char *in = json_opt_str(t, "stdin", "");
        const char *want = cJSON_GetObjectItemCaseSensitive(t, "stdout")->valuestring;
        SbxRun run = {.argv = is_c ? c_argv : py_argv, .stdin_data = in, .stdin_len = strlen(in), .files = &file,
                      .nfiles = 1, .limits = job_limits(job)};
        SbxResult r;
        if ((rc = sbx_run(s, &run, &r, e)) != 0) break;
        ran++;
        const char *st = stdio_verdict(&r, want, is_c, ran - 1, first ? NULL : &d);
        passed += st == NULL;
        if (!first) {
            sbx_result_free(&keep);
            keep = r;
        } else {
            sbx_result_free(&r);
        }
        if (st && !first) first = st;
        if (st && (strcmp(st, "timeout") == 0 || strcmp(st, "denied") == 0 || strcmp(st, "compile_error") == 0)) break;
    }
    if (rc == 0 && !first) {
        set_verdict(out, "correct", 1.0, "%d/%d tests passed", passed, n);
    } else if (rc == 0) {
        if (ran < n) buf_printf(&d, "; %d later tests not run", n - ran);
        int zero = strcmp(first, "denied") == 0 || strcmp(first, "compile_error") == 0;
        set_verdict(out, first, zero ? 0 : (double)passed / n, "%d/%d tests passed; %s", passed, n, d.data);
    }
    if (rc == 0) keep_output(out, job, &keep);
    sbx_result_free(&keep);
    buf_free(&d);
    free(binary.data), free(binary.name);
    return rc;
}

// ---------------------------------------------------------------------------
// entry points

static int pick_language(const VerifyJob *job, const char *fence, int *is_c, Err *e) {
    const char *lang = json_opt_str(job->problem, "language", NULL);
    if (!lang || !*lang) lang = *fence ? fence : "python";
    if (strcmp(lang, "python") == 0 || strcmp(lang, "python3") == 0 || strcmp(lang, "py") == 0) *is_c = 0;
    else if (strcmp(lang, "c") == 0) *is_c = 1;
    else return err_set(e, "language '%s' is not supported (python, c)", lang);
    return 0;
}

int vcode_grade_with(const Sandbox *s, const VerifyJob *job, VerifyResult *out, Err *e) {
    if (!cJSON_IsObject(job->problem)) return err_set(e, "problem: expected an object");
    char fence[32];
    char *program = vcode_extract(job->response ? job->response : "", fence, sizeof fence);
    int is_c = 0, rc;
    const cJSON *pb = job->problem;
    if (pick_language(job, fence, &is_c, e) != 0) rc = -1;
    else if (cJSON_GetObjectItemCaseSensitive(pb, "tests")) rc = grade_stdio(s, job, program, is_c, out, e);
    else if (is_c) rc = err_set(e, "problem: C programs are graded with stdin/stdout 'tests'");
    else if (cJSON_GetObjectItemCaseSensitive(pb, "test_list")) rc = grade_mbpp(s, job, program, out, e);
    else if (cJSON_GetObjectItemCaseSensitive(pb, "test")) rc = grade_humaneval(s, job, program, out, e);
    else rc = err_set(e, "problem: no tests (expected 'tests', 'test_list', or 'test' + 'entry_point')");
    free(program);
    return rc;
}

int vcode_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const Sandbox *s = sbx_shared(e);
    if (!s) return -1;
    return vcode_grade_with(s, job, out, e);
}
