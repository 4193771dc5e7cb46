// code.c: the code verifier (code.h). One job is: extract the program, pick
// the test form, then either one harness run (HumanEval, MBPP: Python
// function tests) or one run per stdin/stdout test (Python, or C compiled
// first by cc inside the sandbox), and fold the runs into a verdict.
//   reasoner verify < jobs.jsonl      (jobs with "verifier": "code")
#include "verifier/code/code.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

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

// Function tests run in two sandboxed interpreters that share nothing but
// two pipes (verifier/README.md has the why):
//   the solution's process (server_py) loads the program (and MBPP's setup
//   code), announces the names it defined, then answers calls: it reads
//   {"q", "f" name, "a" args, "k" kwargs} lines on fd 4 and writes
//   {"q", "r" value} or {"q", "x" exception name} lines on fd 5;
//   the tests' process (tests_py) runs the asserts with each solution
//   function replaced by a proxy that makes such a call, and writes one line
//   per verdict on fd 3 (to us alone): "NONCE test I ok|fail|error [why]",
//   then "NONCE done".
// Values cross as JSON with tagged containers ({"t": [...]} a tuple, {"d":
// [[k, v], ...]} a dict, ...), decoded on the tests' side into plain builtin
// values only, so every comparison is made by the builtin types' __eq__ in
// the tests' process. Anything else the solution returns becomes an opaque
// handle that can be passed back to it and does nothing else. What the
// solution's process writes can only claim return values, which it could
// return anyway; it never sees the tests, the expected values or the nonce.
static const char server_py[] =
    "import os, sys, json\n"
    "def _serve():\n"
    "    sys.set_int_max_str_digits(0)\n"
    "    # Started without site (-I -S, for speed): the system's packages by hand.\n"
    "    v = 'python%d.%d' % sys.version_info[:2]\n"
    "    sys.path += ['/usr/local/lib/%s/dist-packages' % v, '/usr/lib/python3/dist-packages', '/usr/lib/%s/dist-packages' % v]\n"
    "    job = json.loads(sys.stdin.buffer.read())\n"
    "    fd = os.open(os.devnull, os.O_RDONLY); os.dup2(fd, 0); os.close(fd)\n"
    "    rd = os.fdopen(4, 'rb'); wfd = 5\n"
    "    def send(obj):\n"
    "        data = (json.dumps(obj, separators=(',', ':')) + '\\n').encode('utf-8', 'surrogatepass')\n"
    "        while data:\n"
    "            data = data[os.write(wfd, data):]\n"
    "    def why(e):\n"
    "        try: msg = str(e)\n"
    "        except BaseException: msg = ''\n"
    "        return type(e).__name__ + ': ' + msg[:300]\n"
    "    import types, collections, fractions, decimal, math\n"
    "    handles = []\n"
    "    plain = (type(None), bool, int, str)\n"
    "    iters = (types.GeneratorType, map, filter, zip, reversed, enumerate, type(iter([])), type(iter(())),\n"
    "             type(iter('')), type({}.keys()), type({}.values()), type({}.items()), type(iter({})), type(iter(set())))\n"
    "    def enc(v):\n"
    "        t = type(v)\n"
    "        if t in plain: return v\n"
    "        if t is float: return v if math.isfinite(v) else {'F': repr(v)}\n"
    "        if t is list: return [enc(x) for x in v]\n"
    "        if t is tuple or (isinstance(v, tuple) and hasattr(t, '_fields')): return {'t': [enc(x) for x in v]}\n"
    "        if t is dict or t is collections.defaultdict: return {'d': [[enc(k), enc(x)] for k, x in v.items()]}\n"
    "        if t is collections.OrderedDict: return {'od': [[enc(k), enc(x)] for k, x in v.items()]}\n"
    "        if t is collections.Counter: return {'ctr': [[enc(k), enc(x)] for k, x in v.items()]}\n"
    "        if t is set: return {'s': [enc(x) for x in v]}\n"
    "        if t is frozenset: return {'fs': [enc(x) for x in v]}\n"
    "        if t is collections.deque: return {'dq': [enc(x) for x in v]}\n"
    "        if t is bytes: return {'b': v.hex()}\n"
    "        if t is complex: return {'c': [enc(v.real), enc(v.imag)]}\n"
    "        if t is range: return {'rg': [v.start, v.stop, v.step]}\n"
    "        if t is fractions.Fraction: return {'fr': [v.numerator, v.denominator]}\n"
    "        if t is decimal.Decimal: return {'dec': str(v)}\n"
    "        if t in iters:\n"
    "            out = []\n"
    "            for x in v:\n"
    "                out.append(enc(x))\n"
    "                if len(out) > 10000000: raise MemoryError('iterator too long')\n"
    "            return {'i': out}\n"
    "        handles.append(v)\n"
    "        return {'h': len(handles) - 1}\n"
    "    def dec(v):\n"
    "        if type(v) is list: return [dec(x) for x in v]\n"
    "        if type(v) is not dict: return v\n"
    "        (k, x), = v.items()\n"
    "        if k == 't': return tuple(dec(y) for y in x)\n"
    "        if k == 'd': return {dec(a): dec(b) for a, b in x}\n"
    "        if k == 's': return {dec(y) for y in x}\n"
    "        if k == 'fs': return frozenset(dec(y) for y in x)\n"
    "        if k == 'b': return bytes.fromhex(x)\n"
    "        if k == 'F': return float(x)\n"
    "        if k == 'h': return handles[x]\n"
    "        if k == 'c': return complex(x[0], x[1])\n"
    "        if k == 'ty':\n"
    "            import builtins\n"
    "            t = getattr(builtins, x)\n"
    "            if type(t) is type: return t\n"
    "        raise TypeError('cannot pass ' + k)\n"
    "    try:\n"
    "        code = compile(job['program'], 'solution.py', 'exec')\n"
    "    except BaseException as e:\n"
    "        send({'compile': why(e)}); return\n"
    "    g = {'__name__': '__main__', '__builtins__': __builtins__}\n"
    "    hello = {}\n"
    "    try: exec(code, g)\n"
    "    except BaseException as e: hello['load'] = why(e)\n"
    "    if job.get('setup'):\n"
    "        try: exec(compile(job['setup'], 'setup.py', 'exec'), g)\n"
    "        except BaseException as e: hello['setup'] = why(e)\n"
    "    names = {}\n"
    "    for k, v in list(g.items()):\n"
    "        if k.startswith('__'): continue\n"
    "        try:\n"
    "            if isinstance(v, types.ModuleType): names[k] = ['m', v.__name__]\n"
    "            elif callable(v): names[k] = ['f']\n"
    "            else: names[k] = ['v', enc(v)]\n"
    "        except BaseException: pass\n"
    "    hello['names'] = names\n"
    "    send(hello)\n"
    "    mutable = (list, dict, set)\n"
    "    while True:\n"
    "        line = rd.readline()\n"
    "        if not line: return\n"
    "        req = json.loads(line)\n"
    "        try:\n"
    "            f = g[req['f']] if 'f' in req else handles[req['h']]\n"
    "            args = [dec(a) for a in req['a']]\n"
    "            kw = {k: dec(x) for k, x in req['k']}\n"
    "            r = f(*args, **kw)\n"
    "            back = [[i, enc(a)] for i, a in enumerate(args) if type(a) in mutable]\n"
    "            send({'q': req['q'], 'r': enc(r), 'm': back})\n"
    "        except BaseException as e:\n"
    "            try: send({'q': req['q'], 'x': type(e).__name__, 'w': why(e)})\n"
    "            except BaseException: send({'q': req['q'], 'x': 'Exception', 'w': '?'})\n"
    "_serve()\n"
    "try: sys.stdout.flush(); sys.stderr.flush()\n"
    "except BaseException: pass\n"
    "os._exit(0)\n";

static const char tests_py[] =
    "import os, sys, json, builtins\n"
    "def _run():\n"
    "    sys.set_int_max_str_digits(0)\n"
    "    job = json.loads(sys.stdin.buffer.read())\n"
    "    fd = os.open(os.devnull, os.O_RDONLY); os.dup2(fd, 0); os.close(fd)\n"
    "    nonce = job['nonce']\n"
    "    rd = os.fdopen(4, 'rb'); wfd = 5\n"
    "    def say(*parts):\n"
    "        line = ' '.join([nonce] + [str(p) for p in parts]).replace('\\n', ' ').replace('\\r', ' ')\n"
    "        os.write(3, (line[:1000] + '\\n').encode('utf-8', 'replace'))\n"
    "    def why(e):\n"
    "        try: msg = str(e)\n"
    "        except BaseException: msg = ''\n"
    "        return type(e).__name__ + ': ' + msg[:300]\n"
    "    def recv():\n"
    "        line = rd.readline(64 << 20)\n"
    "        if not line: raise EOFError('the solution process ended')\n"
    "        if not line.endswith(b'\\n'): raise MemoryError('a value over 64 MB')\n"
    "        return json.loads(line)\n"
    "    class Remote:\n"
    "        # A value the solution's process holds that is not plain data: it\n"
    "        # may be passed back to the solution, never compared or inspected.\n"
    "        __slots__ = ('h',)\n"
    "        def __init__(self, h): self.h = h\n"
    "        def _no(self, *a, **k): raise TypeError('the solution returned a value that is not plain data')\n"
    "        __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __len__ = __iter__ = _no\n"
    "        __contains__ = __getitem__ = __add__ = __radd__ = __sub__ = __mul__ = __float__ = __int__ = __index__ = _no\n"
    "        def __repr__(self): return '<not plain data>'\n"
    "    def dec(v):\n"
    "        t = type(v)\n"
    "        if t is list: return [dec(x) for x in v]\n"
    "        if t is not dict: return v\n"
    "        if len(v) != 1: raise TypeError('bad value from the solution')\n"
    "        (k, x), = v.items()\n"
    "        if k == 't': return tuple(dec(y) for y in x)\n"
    "        if k == 'd': return {dec(a): dec(b) for a, b in x}\n"
    "        if k == 'od': return collections.OrderedDict((dec(a), dec(b)) for a, b in x)\n"
    "        if k == 'ctr': return collections.Counter({dec(a): dec(b) for a, b in x})\n"
    "        if k == 's': return {dec(y) for y in x}\n"
    "        if k == 'fs': return frozenset(dec(y) for y in x)\n"
    "        if k == 'dq': return collections.deque(dec(y) for y in x)\n"
    "        if k == 'i': return iter([dec(y) for y in x])\n"
    "        if k == 'b': return bytes.fromhex(x)\n"
    "        if k == 'F': return float(x)\n"
    "        if k == 'c': return complex(float(x[0]), float(x[1]))\n"
    "        if k == 'rg': return range(int(x[0]), int(x[1]), int(x[2]))\n"
    "        if k == 'fr': return fractions.Fraction(int(x[0]), int(x[1]))\n"
    "        if k == 'dec': return decimal.Decimal(str(x))\n"
    "        if k == 'h': return Remote(int(x))\n"
    "        raise TypeError('bad value from the solution')\n"
    "    def enc(v):\n"
    "        t = type(v)\n"
    "        if v is None or t is bool or t is int or t is str: return v\n"
    "        if t is float: return v if v == v and v not in (float('inf'), float('-inf')) else {'F': repr(v)}\n"
    "        if t is list: return [enc(x) for x in v]\n"
    "        if t is tuple: return {'t': [enc(x) for x in v]}\n"
    "        if t is dict: return {'d': [[enc(k), enc(x)] for k, x in v.items()]}\n"
    "        if t is set: return {'s': [enc(x) for x in v]}\n"
    "        if t is frozenset: return {'fs': [enc(x) for x in v]}\n"
    "        if t is bytes: return {'b': v.hex()}\n"
    "        if t is complex: return {'c': [enc(v.real), enc(v.imag)]}\n"
    "        if t is Remote: return {'h': v.h}\n"
    "        if t is type and getattr(builtins, v.__name__, None) is v: return {'ty': v.__name__}\n"
    "        raise TypeError('a test passes a %s, which cannot be sent to the solution' % t.__name__)\n"
    "    seq = [0]\n"
    "    def call(target, args, kw):\n"
    "        seq[0] += 1\n"
    "        req = dict(target, q=seq[0], a=[enc(a) for a in args], k=[[k, enc(x)] for k, x in kw.items()])\n"
    "        data = (json.dumps(req, separators=(',', ':')) + '\\n').encode('utf-8', 'surrogatepass')\n"
    "        while data:\n"
    "            data = data[os.write(wfd, data):]\n"
    "        rep = recv()\n"
    "        if type(rep) is not dict or rep.get('q') != seq[0]: raise RuntimeError('the solution process broke the protocol')\n"
    "        if 'x' in rep:\n"
    "            exc = getattr(builtins, str(rep['x']), None)\n"
    "            if not (isinstance(exc, type) and issubclass(exc, Exception)): exc = RuntimeError\n"
    "            raise exc(str(rep.get('w', '')))\n"
    "        for i, v in rep.get('m', []):\n"
    "            a = args[i] if type(i) is int and 0 <= i < len(args) else None\n"
    "            v = dec(v)\n"
    "            if type(a) is list and type(v) is list: a[:] = v\n"
    "            elif type(a) in (dict, set) and type(v) is type(a): a.clear(); a.update(v)\n"
    "        return dec(rep['r'])\n"
    "    def proxy(name):\n"
    "        def f(*args, **kw): return call({'f': name}, args, kw)\n"
    "        f.__name__ = f.__qualname__ = name\n"
    "        return f\n"
    "    import collections, fractions, decimal, importlib\n"
    "    try: hello = recv()\n"
    "    except BaseException as e:\n"
    "        for i in range(len(job['tests'])): say('test', i, 'error', \"the solution's process ended: \" + why(e))\n"
    "        say('done'); return\n"
    "    if 'compile' in hello: say('compile', hello['compile']); return\n"
    "    if 'load' in hello: say('load', hello['load'])\n"
    "    if 'setup' in hello: say('setup', hello['setup'])\n"
    "    names = hello.get('names', {})\n"
    "    g = {'__name__': '__main__', '__builtins__': builtins}\n"
    "    if job.get('prompt') is not None:\n"
    "        # HumanEval: the prompt's own code (helpers the tests use) runs here;\n"
    "        # only the entry point comes from the solution.\n"
    "        try: exec(compile(job['prompt'], 'prompt.py', 'exec'), g)\n"
    "        except BaseException as e: say('setup', why(e))\n"
    "        g[job['entry']] = proxy(job['entry'])\n"
    "    else:\n"
    "        # MBPP: the names the solution (and the setup code) defined. A name\n"
    "        # that shadows a builtin is taken only when it is the function under\n"
    "        # test: the problem's entry_point, or (without one) called in every\n"
    "        # test while no other name of the solution is; otherwise the tests\n"
    "        # keep the builtin (a solution's own len or set cannot judge it).\n"
    "        import re\n"
    "        tests = job['tests']\n"
    "        def called(k, t): return re.search(r'(?<![\\w.])' + re.escape(k) + r'\\s*\\(', t) is not None\n"
    "        def mentioned(k, t): return re.search(r'(?<![\\w.])' + re.escape(k) + r'(?!\\w)', t) is not None\n"
    "        own = [k for k in names if not hasattr(builtins, k)]\n"
    "        def under_test(k):\n"
    "            if job.get('entry') is not None: return k == job['entry']\n"
    "            return all(called(k, t) and not any(mentioned(o, t) for o in own) for t in tests)\n"
    "        for k, v in names.items():\n"
    "            if k in g or (hasattr(builtins, k) and not under_test(k)): continue\n"
    "            try:\n"
    "                if v[0] == 'f': g[k] = proxy(k)\n"
    "                elif v[0] == 'v': g[k] = dec(v[1])\n"
    "                elif v[0] == 'm' and str(v[1]).split('.')[0] in sys.stdlib_module_names: g[k] = importlib.import_module(str(v[1]))\n"
    "            except BaseException: pass\n"
    "    for i, t in enumerate(job['tests']):\n"
    "        try:\n"
    "            exec(compile(t, 'test_%d.py' % i, 'exec'), g)\n"
    "            say('test', i, 'ok')\n"
    "        except AssertionError as e: say('test', i, 'fail', why(e))\n"
    "        except BaseException as e: say('test', i, 'error', why(e))\n"
    "    say('done')\n"
    "_run()\n"
    "os._exit(0)\n";

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

// A fresh unguessable nonce per job (32 hex digits). -1 when the kernel
// gives no randomness.
static int make_nonce(char *out, Err *e) {
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return err_errno(e, "getrandom");
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

// Fold the two runs into a verdict. A limit that ended the tests' process,
// or the solution's when some test did not pass, names the status.
static void judge_functions(VerifyResult *out, const SbxResult *sol, const SbxResult *tr, Report *rep,
                            const char **tests) {
    int passed = 0, first = -1;
    for (int i = 0; i < rep->ntests; i++) {
        if (rep->verdict[i] == T_OK) passed++;
        else if (first < 0) first = i;
    }
    double score = rep->ntests ? (double)passed / rep->ntests : 0;
    const char *st = run_status(tr);
    const SbxResult *by = tr;
    if ((!st || strcmp(st, "runtime_error") == 0) && (first >= 0 || !rep->done)) {
        const char *ss = run_status(sol);
        if (ss && strcmp(ss, "runtime_error") != 0) st = ss, by = sol;
    }
    Buf d = {0};
    buf_printf(&d, "%d/%d tests passed", passed, rep->ntests);
    if (rep->compile_err) {
        buf_free(&d);
        set_verdict(out, "compile_error", 0, "the program does not compile: %s", rep->compile_err);
        return;
    }
    if (st && strcmp(st, "runtime_error") != 0) {  // a limit or the filter ended it
        buf_printf(&d, "; %s%s", by == sol ? "the solution: " : "", by->detail);
        set_verdict(out, st, strcmp(st, "denied") == 0 ? 0 : score, "%s", d.data);
    } else if (!rep->done) {
        buf_puts(&d, "; the tests did not finish");
        if (tr->status != SBX_OK) buf_printf(&d, " (%s), stderr ", tr->detail), last_line(&d, tr->err);
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
        if (sol->status != SBX_OK && sol->err_len) buf_puts(&d, "; the solution's stderr "), last_line(&d, sol->err);
        set_verdict(out, status, score, "%s", d.data);
    }
    buf_free(&d);
}

// The solution's process runs on its own thread while this one runs the tests.
typedef struct SolutionRun {
    const Sandbox *s;
    SbxRun run;
    SbxResult res;
    int rc;
    Err e;
} SolutionRun;

static void *solution_thread(void *arg) {
    SolutionRun *sr = arg;
    sr->rc = sbx_run(sr->s, &sr->run, &sr->res, &sr->e);
    return NULL;
}

static char *json_text(cJSON *j) {
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    RS_CHECK(t != NULL);
    return t;
}

// prompt/entry: HumanEval (the prompt's code runs on the tests' side, the
// entry point is the solution's); setup: MBPP's setup code, run after the
// program in the solution's process; entry without a prompt: MBPP's
// function under test, when the problem names it.
static int run_functions(const Sandbox *s, const VerifyJob *job, const char *program, const char *setup,
                         const char *prompt, const char *entry, const char **tests, int ntests, VerifyResult *out,
                         Err *e) {
    char nonce[33];
    if (make_nonce(nonce, e) != 0) return -1;
    cJSON *sin = cJSON_CreateObject();
    cJSON_AddStringToObject(sin, "program", program);
    if (setup) cJSON_AddStringToObject(sin, "setup", setup);
    char *sol_stdin = json_text(sin);
    cJSON *tin = cJSON_CreateObject();
    cJSON_AddStringToObject(tin, "nonce", nonce);
    if (prompt) cJSON_AddStringToObject(tin, "prompt", prompt);
    if (entry) cJSON_AddStringToObject(tin, "entry", entry);
    cJSON *arr = cJSON_AddArrayToObject(tin, "tests");
    for (int i = 0; i < ntests; i++) cJSON_AddItemToArray(arr, cJSON_CreateString(tests[i]));
    char *tests_stdin = json_text(tin);

    // calls: tests -> solution; answers: solution -> tests. sbx_run closes
    // the ends it is given, so each side sees EOF when the other ends.
    int calls[2], answers[2];
    if (pipe2(calls, O_CLOEXEC) != 0) {
        free(sol_stdin), free(tests_stdin);
        return err_errno(e, "pipe");
    }
    if (pipe2(answers, O_CLOEXEC) != 0) {
        close(calls[0]), close(calls[1]);
        free(sol_stdin), free(tests_stdin);
        return err_errno(e, "pipe");
    }
    int sol_fds[] = {calls[0], answers[1]}, test_fds[] = {answers[0], calls[1]};
    SbxLimits lim = job_limits(job);
    static const char *const sol_argv[] = {PYTHON, "-I", "-S", "-B", "-c", server_py, NULL};
    static const char *const test_argv[] = {PYTHON, "-I", "-S", "-B", "-c", tests_py, NULL};
    SolutionRun *sr = xcalloc(1, sizeof *sr);
    sr->s = s;
    sr->run = (SbxRun){.argv = sol_argv, .stdin_data = sol_stdin, .stdin_len = strlen(sol_stdin),
                       .pass_fds = sol_fds, .npass = 2, .no_fork = !json_opt_bool(job->problem, "allow_fork", 0),
                       .limits = lim};
    pthread_t th;
    if (pthread_create(&th, NULL, solution_thread, sr) != 0) {
        for (int i = 0; i < 2; i++) close(calls[i]), close(answers[i]);
        free(sr), free(sol_stdin), free(tests_stdin);
        return err_set(e, "pthread_create failed");
    }
    SbxRun trun = {.argv = test_argv, .stdin_data = tests_stdin, .stdin_len = strlen(tests_stdin), .report_fd = 1,
                   .pass_fds = test_fds, .npass = 2, .no_fork = 1, .limits = lim};
    SbxResult tr;
    int rc = sbx_run(s, &trun, &tr, e);
    pthread_join(th, NULL);
    free(sol_stdin), free(tests_stdin);
    if (rc == 0 && sr->rc != 0) {
        err_set(e, "%s", sr->e.msg);
        sbx_result_free(&tr);
        rc = -1;
    }
    if (rc == 0) {
        Report rep = {.ntests = ntests, .verdict = xcalloc((size_t)ntests + 1, sizeof(int)),
                      .why = xcalloc((size_t)ntests + 1, sizeof(char *))};
        report_parse(&rep, tr.report, nonce);
        judge_functions(out, &sr->res, &tr, &rep, tests);
        keep_output(out, job, &sr->res);
        report_free(&rep);
        sbx_result_free(&tr);
    }
    if (sr->rc == 0) sbx_result_free(&sr->res);
    free(sr);
    return rc;
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
    int rc = run_functions(s, job, src.data, NULL, prompt, entry, tests, 1, out, e);
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
    const char *entry = json_opt_str(job->problem, "entry_point", NULL);
    int rc = run_functions(s, job, program, setup, NULL, entry && *entry ? entry : NULL, tests, n, out, e);
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
    // The compiler runs cc1, as, collect2 and ld: the one profile that may exec.
    SbxRun run = {.argv = argv, .files = &src, .nfiles = 1, .collect = collect, .allow_exec = 1,
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
                      .nfiles = 1, .no_fork = !json_opt_bool(job->problem, "allow_fork", 0), .limits = job_limits(job)};
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
    if (rc == 0) snprintf(out->isolation, sizeof out->isolation, "%s", sbx_isolation(s));
    return rc;
}

int vcode_grade(const Verifier *self, const VerifyJob *job, VerifyResult *out, Err *e) {
    const Sandbox *s = sbx_shared(e);
    if (!s) return -1;
    return vcode_grade_with(s, job, out, e);
}
