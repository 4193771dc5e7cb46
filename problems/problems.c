// problems.c: the problem-set format, loaders for the published formats, and
// prompt templates (problems.h has the formats and their mappings).
//   reasoner problems convert math500.jsonl -o math500.problems.jsonl
#include "problems.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/gzsrc.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"

// ---- names ------------------------------------------------------------------------

static const char *kind_names[PROBLEM_NKINDS] = {"math", "code", "open"};
static const char *default_verifiers[PROBLEM_NKINDS] = {"math", "code", "rm"};

const char *problems_kind_name(ProblemKind k) {
    RS_CHECK(k >= 0 && k < PROBLEM_NKINDS);
    return kind_names[k];
}

int problems_kind_parse(const char *name) {
    for (int k = 0; k < PROBLEM_NKINDS; k++)
        if (strcmp(name, kind_names[k]) == 0) return k;
    return -1;
}

const char *problems_format_name(ProblemFormat f) {
    switch (f) {
    case PF_NATIVE: return "native";
    case PF_GSM8K: return "gsm8k";
    case PF_MATH: return "math";
    case PF_AIME: return "aime";
    case PF_HUMANEVAL: return "humaneval";
    case PF_MBPP: return "mbpp";
    case PF_UNKNOWN: break;
    }
    return "unknown";
}

const char *problems_format_fields(ProblemFormat f) {
    switch (f) {
    case PF_NATIVE: return "id, kind, prompt";
    case PF_GSM8K: return "question, answer";
    case PF_MATH: return "problem, solution";
    case PF_AIME: return "problem, answer";
    case PF_HUMANEVAL: return "task_id, prompt, test, entry_point";
    case PF_MBPP: return "text, test_list, test_setup_code";
    case PF_UNKNOWN: break;
    }
    return "";
}

static int has(const cJSON *rec, const char *key) { return cJSON_GetObjectItemCaseSensitive(rec, key) != NULL; }

// Native records name their kind; the published ones are told apart by the
// fields only they have. HumanEval before MBPP (sanitized MBPP also has a
// task_id and a prompt), GSM8K only without a "problem" (AIME copies repeat
// the problem as "question").
ProblemFormat problems_detect(const cJSON *rec) {
    if (!cJSON_IsObject(rec)) return PF_UNKNOWN;
    if (has(rec, "kind") && has(rec, "prompt")) return PF_NATIVE;
    if (has(rec, "task_id") && has(rec, "prompt") && has(rec, "test") && has(rec, "entry_point")) return PF_HUMANEVAL;
    if (has(rec, "test_list") && (has(rec, "text") || has(rec, "prompt"))) return PF_MBPP;
    if (has(rec, "problem") && has(rec, "solution")) return PF_MATH;
    if (has(rec, "problem") && has(rec, "answer")) return PF_AIME;
    if (has(rec, "question") && has(rec, "answer")) return PF_GSM8K;
    return PF_UNKNOWN;
}

// ---- answers ----------------------------------------------------------------------

char *problems_number_text(double v) {
    char s[64];
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(s, sizeof s, "%.0f", v == 0 ? 0.0 : v);
        return xstrdup(s);
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    return xstrdup(s);
}

// The group that starts at s[i] == '{': the index just past its closing
// brace, or 0 when it never closes. Escaped braces (\{ \}) are text, not
// grouping.
static size_t group_end(const char *s, size_t i) {
    int depth = 0;
    for (; s[i]; i++) {
        if (s[i] == '\\' && (s[i + 1] == '{' || s[i + 1] == '}')) {
            i++;
            continue;
        }
        if (s[i] == '{') depth++;
        else if (s[i] == '}' && --depth == 0) return i + 1;
    }
    return 0;
}

// The argument of the box command ending at s[i]: braced, or a bare token
// after a space ("\boxed 5"). NULL when there is none.
static char *box_argument(const char *s, size_t i) {
    size_t j = i;
    while (s[j] == ' ') j++;
    if (s[j] == '{') {
        size_t end = group_end(s, j);
        return end ? xstrndup(s + j + 1, end - j - 2) : NULL;
    }
    if (j == i) return NULL;  // "\boxedfoo" is another command
    size_t k = j;
    while (s[k] && !isspace((unsigned char)s[k]) && s[k] != '$') k++;
    return k > j ? xstrndup(s + j, k - j) : NULL;
}

char *problems_last_boxed(const char *text) {
    static const char *cmds[] = {"\\boxed", "\\fbox"};
    for (size_t at = strlen(text); at-- > 0;) {
        if (text[at] != '\\') continue;
        for (size_t c = 0; c < RS_ARRAY_LEN(cmds); c++) {
            size_t n = strlen(cmds[c]);
            if (strncmp(text + at, cmds[c], n) != 0) continue;
            char *arg = box_argument(text, at + n);
            if (arg) return arg;
        }
    }
    return NULL;
}

static char *trimmed(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return xstrndup(s, n);
}

// An answer given as a string or a number. Malloc'd, or NULL with e set.
static char *answer_text(const cJSON *v, const char *key, const char *ctx, Err *e) {
    if (cJSON_IsNumber(v)) return problems_number_text(v->valuedouble);
    if (!cJSON_IsString(v)) {
        err_set(e, "%s: field '%s': expected a string or a number", ctx, key);
        return NULL;
    }
    char *s = trimmed(v->valuestring);
    if (*s) return s;
    free(s);
    err_set(e, "%s: field '%s': empty", ctx, key);
    return NULL;
}

// GSM8K: the text after the last "####", commas removed ("1,234" -> "1234").
static char *gsm8k_answer(const char *solution, const char *ctx, Err *e) {
    const char *mark = NULL;
    for (const char *p = strstr(solution, "####"); p; p = strstr(p + 4, "####")) mark = p;
    if (!mark) {
        err_set(e, "%s: field 'answer': no '#### ' final answer", ctx);
        return NULL;
    }
    char *t = trimmed(mark + 4);
    size_t k = 0;
    for (size_t i = 0; t[i]; i++)
        if (t[i] != ',') t[k++] = t[i];
    t[k] = 0;
    if (!k) {
        free(t);
        err_set(e, "%s: field 'answer': nothing after '####'", ctx);
        return NULL;
    }
    return t;
}

// ---- mapping published records --------------------------------------------------

// "<source>/<id>" unless the id is a string that is already qualified.
static char *make_id(const cJSON *v, const char *source, long index) {
    Buf b = {0};
    if (cJSON_IsString(v) && v->valuestring[0] && strchr(v->valuestring, '/')) return xstrdup(v->valuestring);
    if (cJSON_IsString(v) && v->valuestring[0]) buf_printf(&b, "%s/%s", source, v->valuestring);
    else if (cJSON_IsNumber(v)) {
        char *n = problems_number_text(v->valuedouble);
        buf_printf(&b, "%s/%s", source, n);
        free(n);
    } else buf_printf(&b, "%s/%ld", source, index);
    return buf_take(&b);
}

static const char *str_field(const cJSON *rec, const char *key, const char *ctx, Err *e) {
    const char *s = NULL;
    return json_get_str(rec, key, &s, ctx, e) == 0 ? s : NULL;
}

static void add_string_owned(cJSON *obj, const char *key, char *s) {
    cJSON_AddStringToObject(obj, key, s);
    free(s);
}

// MBPP's test_setup_code, or sanitized MBPP's test_imports joined by lines.
static char *mbpp_setup(const cJSON *rec, const char *ctx, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "test_setup_code");
    if (v) {
        if (cJSON_IsString(v)) return xstrdup(v->valuestring);
        err_set(e, "%s: field 'test_setup_code': expected a string", ctx);
        return NULL;
    }
    v = cJSON_GetObjectItemCaseSensitive(rec, "test_imports");
    Buf b = {0};
    buf_puts(&b, "");
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it)) {
            buf_free(&b);
            err_set(e, "%s: field 'test_imports': expected strings", ctx);
            return NULL;
        }
        buf_printf(&b, "%s%s", b.len ? "\n" : "", it->valuestring);
    }
    return buf_take(&b);
}

static int same_text(const cJSON *rec, const char *key, const char *text) {
    const char *s = json_opt_str(rec, key, NULL);
    return s && strcmp(s, text) == 0;
}

static int check_test_list(const cJSON *rec, const char *ctx, Err *e) {
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(rec, "test_list");
    if (!cJSON_IsArray(tl)) return err_set(e, "%s: field 'test_list': expected an array of strings", ctx);
    if (cJSON_GetArraySize(tl) == 0) return err_set(e, "%s: field 'test_list': empty", ctx);
    const cJSON *it;
    cJSON_ArrayForEach(it, tl) if (!cJSON_IsString(it)) return err_set(e, "%s: field 'test_list': expected strings", ctx);
    return 0;
}

// Fill out (a fresh object) from a published record, keys in the project's
// order; the keys it consumed go into used[] so that the rest can ride along.
// Returns 0 or -1.
static int map_published(const cJSON *rec, ProblemFormat f, const char *source, long index, const char *ctx,
                         cJSON *out, const char **used, int *nused, Err *e) {
    const char *prompt = NULL, *idkey = "id", *worked = NULL;
    char *answer = NULL, *setup = NULL;
    ProblemKind kind = PROBLEM_MATH;
    int n = 0;
    switch (f) {
    case PF_GSM8K: {
        const char *sol = str_field(rec, "answer", ctx, e);
        if (!(prompt = str_field(rec, "question", ctx, e)) || !sol || !(answer = gsm8k_answer(sol, ctx, e))) return -1;
        used[n++] = "question", used[n++] = "answer";
        worked = sol;  // GSM8K's "answer" is the worked solution
        break;
    }
    case PF_MATH: {
        const char *sol = str_field(rec, "solution", ctx, e);
        if (!(prompt = str_field(rec, "problem", ctx, e)) || !sol) return -1;
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "answer");
        if (a && !(answer = answer_text(a, "answer", ctx, e))) return -1;
        if (!a && !(answer = problems_last_boxed(sol)))
            return err_set(e, "%s: field 'solution': no \\boxed{} answer (and no 'answer' field)", ctx);
        if (has(rec, "unique_id")) idkey = "unique_id";
        used[n++] = "problem", used[n++] = "answer", used[n++] = idkey;
        if (same_text(rec, "question", prompt)) used[n++] = "question";  // AIME copies repeat the problem
        break;
    }
    case PF_AIME: {
        if (!(prompt = str_field(rec, "problem", ctx, e))) return -1;
        if (!(answer = answer_text(cJSON_GetObjectItemCaseSensitive(rec, "answer"), "answer", ctx, e))) return -1;
        used[n++] = "problem", used[n++] = "answer", used[n++] = "id";
        if (same_text(rec, "question", prompt)) used[n++] = "question";
        break;
    }
    case PF_HUMANEVAL:
        kind = PROBLEM_CODE, idkey = "task_id";
        if (!(prompt = str_field(rec, "prompt", ctx, e)) || !str_field(rec, "test", ctx, e) ||
            !str_field(rec, "entry_point", ctx, e) || !str_field(rec, "task_id", ctx, e))
            return -1;
        used[n++] = "prompt", used[n++] = "task_id";
        break;
    case PF_MBPP: {
        kind = PROBLEM_CODE, idkey = "task_id";
        const char *textkey = has(rec, "text") ? "text" : "prompt";
        if (!(prompt = str_field(rec, textkey, ctx, e)) || check_test_list(rec, ctx, e)) return -1;
        if (!(setup = mbpp_setup(rec, ctx, e))) return -1;
        used[n++] = textkey, used[n++] = "task_id", used[n++] = "test_setup_code", used[n++] = "test_imports";
        break;
    }
    case PF_NATIVE:
    case PF_UNKNOWN: RS_ABORT("map_published on format %d", (int)f);
    }
    *nused = n;
    add_string_owned(out, "id", make_id(cJSON_GetObjectItemCaseSensitive(rec, idkey), source, index));
    cJSON_AddStringToObject(out, "kind", kind_names[kind]);
    if (f == PF_MBPP) {
        Buf b = {0};
        buf_printf(&b, "%s\nYour code should pass this test:\n%s", prompt,
                   cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rec, "test_list"), 0)->valuestring);
        add_string_owned(out, "prompt", buf_take(&b));
    } else {
        cJSON_AddStringToObject(out, "prompt", prompt);
    }
    if (answer) add_string_owned(out, "answer", answer);
    if (worked) cJSON_AddStringToObject(out, "solution", worked);
    if (setup) add_string_owned(out, "test_setup_code", setup);
    if (kind == PROBLEM_CODE) cJSON_AddStringToObject(out, "language", "python");
    return 0;
}

static int is_used(const char *key, const char **used, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(key, used[i]) == 0) return 1;
    return 0;
}

cJSON *problems_to_native(const cJSON *rec, ProblemFormat f, const char *source, long index, const char *ctx,
                          Err *e) {
    if (!cJSON_IsObject(rec)) {
        err_set(e, "%s: expected a JSON object", ctx);
        return NULL;
    }
    if (f == PF_NATIVE) return cJSON_Duplicate(rec, 1);
    if (f == PF_UNKNOWN) {
        err_set(e, "%s: unknown problem format", ctx);
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    const char *used[8];
    int nused = 0;
    if (map_published(rec, f, source, index, ctx, out, used, &nused, e) != 0) {
        cJSON_Delete(out);
        return NULL;
    }
    cJSON_AddStringToObject(out, "source", source);
    const cJSON *it;
    cJSON_ArrayForEach(it, rec) {
        if (!it->string || is_used(it->string, used, nused) || has(out, it->string)) continue;
        cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, 1));
    }
    return out;
}

// ---- validating native records ----------------------------------------------------

// Make obj[key] a string when it is a number (ids and answers may be given
// as numbers). Returns the string, NULL when absent, or sets e on another type.
static const char *string_or_number(cJSON *obj, const char *key, const char *ctx, int *bad, Err *e) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return NULL;
    if (cJSON_IsNumber(v)) {
        char *s = problems_number_text(v->valuedouble);
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(s));
        free(s);
        v = cJSON_GetObjectItemCaseSensitive(obj, key);
    }
    if (!cJSON_IsString(v)) {
        *bad = 1;
        err_set(e, "%s: field '%s': expected a string", ctx, key);
        return NULL;
    }
    return v->valuestring;
}

static int check_code_tests(const cJSON *rec, const char *ctx, Err *e) {
    const cJSON *v;
    if (has(rec, "test") || has(rec, "entry_point")) {
        if (!str_field(rec, "test", ctx, e) || !str_field(rec, "entry_point", ctx, e)) return -1;
        return 0;
    }
    if (has(rec, "test_list")) {
        if (check_test_list(rec, ctx, e)) return -1;
        v = cJSON_GetObjectItemCaseSensitive(rec, "test_setup_code");
        if (v && !cJSON_IsString(v)) return err_set(e, "%s: field 'test_setup_code': expected a string", ctx);
        return 0;
    }
    v = cJSON_GetObjectItemCaseSensitive(rec, "tests");
    if (!v)
        return err_set(e, "%s: field 'tests': missing (a code problem needs 'test' + 'entry_point', "
                          "'test_list', or 'tests')", ctx);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return err_set(e, "%s: field 'tests': expected a non-empty array of {\"stdin\", \"stdout\"}", ctx);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, v) {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "stdin")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "stdout")))
            return err_set(e, "%s: field 'tests': item %d: expected {\"stdin\": string, \"stdout\": string}", ctx, i);
        i++;
    }
    return 0;
}

// Check a native record and point p into it. May turn numeric ids and
// answers into strings and add "source". Returns 0 or -1.
static int problem_from_native(cJSON *rec, const char *default_source, Problem *p, const char *ctx, Err *e) {
    int bad = 0;
    memset(p, 0, sizeof *p);
    const char *id = string_or_number(rec, "id", ctx, &bad, e);
    if (bad) return -1;
    if (!id || !*id) return err_set(e, "%s: field 'id': %s", ctx, id ? "empty" : "missing");
    const char *kind = str_field(rec, "kind", ctx, e);
    if (!kind) return -1;
    int k = problems_kind_parse(kind);
    if (k < 0) return err_set(e, "%s: field 'kind': '%.40s' is not math, code or open", ctx, kind);
    const char *prompt = str_field(rec, "prompt", ctx, e);
    if (!prompt) return -1;
    if (!*prompt) return err_set(e, "%s: field 'prompt': empty", ctx);
    const char *answer = string_or_number(rec, "answer", ctx, &bad, e);
    if (bad) return -1;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(rec, "verifier");
    if (ver && (!cJSON_IsString(ver) || !ver->valuestring[0]))
        return err_set(e, "%s: field 'verifier': expected a verifier name", ctx);
    if (k == PROBLEM_MATH && !answer && !ver)
        return err_set(e, "%s: field 'answer': missing (a math problem needs one, or a 'verifier' that does not)", ctx);
    if (k == PROBLEM_CODE && check_code_tests(rec, ctx, e)) return -1;
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(rec, "language");
    if (lang && !cJSON_IsString(lang)) return err_set(e, "%s: field 'language': expected a string", ctx);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "source");
    if (src && !cJSON_IsString(src)) return err_set(e, "%s: field 'source': expected a string", ctx);
    if (!src) cJSON_AddStringToObject(rec, "source", default_source);
    // Re-read every pointer: the edits above may have replaced items.
    p->id = json_opt_str(rec, "id", NULL);
    p->kind = (ProblemKind)k;
    p->prompt = json_opt_str(rec, "prompt", NULL);
    p->answer = json_opt_str(rec, "answer", NULL);
    p->source = json_opt_str(rec, "source", NULL);
    p->verifier = ver ? ver->valuestring : default_verifiers[k];
    p->json = rec;
    return 0;
}

// ---- sets -------------------------------------------------------------------------

// The set's id index: open addressing over item indices (+1; 0 is empty).
struct ProblemIdIndex {
    int *slots;
    size_t cap;
};
typedef struct ProblemIdIndex IdIndex;

static uint64_t hash_str(const char *s) { return XXH3_64bits(s, strlen(s)); }

static void index_grow(ProblemSet *s, IdIndex *ix) {
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    int *slots = xcalloc(cap, sizeof *slots);
    for (int i = 0; i < s->n; i++) {
        size_t h = (size_t)hash_str(s->items[i].id) & (cap - 1);
        while (slots[h]) h = (h + 1) & (cap - 1);
        slots[h] = i + 1;
    }
    free(ix->slots);
    ix->slots = slots, ix->cap = cap;
}

// The item with this id, or -1. *slot is where a new one would go.
static int index_find(const ProblemSet *s, const IdIndex *ix, const char *id, size_t *slot) {
    size_t h = (size_t)hash_str(id) & (ix->cap - 1);
    while (ix->slots[h]) {
        int i = ix->slots[h] - 1;
        if (strcmp(s->items[i].id, id) == 0) return i;
        h = (h + 1) & (ix->cap - 1);
    }
    *slot = h;
    return -1;
}

// The file name without folders and the extensions we read.
static char *path_stem(const char *path) {
    if (strcmp(path, "-") == 0) return xstrdup("stdin");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = xstrdup(base);
    static const char *exts[] = {".gz", ".jsonl", ".json"};
    for (size_t i = 0; i < RS_ARRAY_LEN(exts); i++) {
        size_t n = strlen(s), k = strlen(exts[i]);
        if (n > k && strcmp(s + n - k, exts[i]) == 0) s[n - k] = 0;
    }
    return s;
}

ProblemSet *problems_set_new(const char *path) {
    ProblemSet *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->stem = path_stem(path);
    s->index = xcalloc(1, sizeof *s->index);
    return s;
}

int problems_add(ProblemSet *s, cJSON *native, long line, const char *ctx, Err *e) {
    IdIndex *ix = s->index;
    Problem p;
    if (problem_from_native(native, s->stem, &p, ctx, e) != 0) {
        cJSON_Delete(native);
        return -1;
    }
    p.line = line;
    if ((size_t)(s->n + 1) * 2 > ix->cap) index_grow(s, ix);
    size_t slot = 0;
    int dup = index_find(s, ix, p.id, &slot);
    if (dup >= 0) {
        err_set(e, "%s: field 'id': '%.80s' repeats the problem of line %ld", ctx, p.id, s->items[dup].line);
        cJSON_Delete(native);
        return -1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = xrealloc(s->items, (size_t)s->cap * sizeof *s->items);
    }
    s->items[s->n] = p;
    ix->slots[slot] = ++s->n;
    return 0;
}

void problems_truncate(ProblemSet *s, int n) {
    if (n < 0 || n >= s->n) return;
    for (int i = n; i < s->n; i++) cJSON_Delete(s->items[i].json);
    s->n = n;
    free(s->index->slots);  // the index points at items that are gone: rebuild it
    s->index->slots = NULL, s->index->cap = 0;
    index_grow(s, s->index);
}

void problems_free(ProblemSet *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) cJSON_Delete(s->items[i].json);
    if (s->index) free(s->index->slots);
    free(s->index);
    free(s->stem);
    free(s->items);
    free(s->path);
    free(s->first_bad);
    free(s);
}

int problems_write(FILE *fp, const ProblemSet *s) {
    for (int i = 0; i < s->n; i++)
        if (json_write_line(fp, s->items[i].json) != 0) return -1;
    return 0;
}

// ---- reading files: JSONL, a JSON array, or one object; gzip or plain ---------------


typedef enum { RD_LINES, RD_ARRAY, RD_SINGLE } ReadMode;

typedef struct Records {
    const char *path;
    char *text;
    size_t n, pos;
    long line;  // line of text[pos]
    ReadMode mode;
    int done;
} Records;

static size_t skip_ws(Records *r, size_t i) {
    for (; i < r->n && isspace((unsigned char)r->text[i]); i++)
        if (r->text[i] == '\n') r->line++;
    return i;
}

// JSONL unless the text is a JSON array, or one object spread over lines.
static void records_mode(Records *r) {
    r->line = 1;
    size_t i = skip_ws(r, 0);
    if (i < r->n && r->text[i] == '[') {
        r->mode = RD_ARRAY;
        r->pos = skip_ws(r, i + 1);
        return;
    }
    r->mode = RD_LINES, r->line = 1;
    const char *nl = memchr(r->text + i, '\n', r->n - i);
    if (!nl || i >= r->n || r->text[i] != '{') return;
    size_t first_end = (size_t)(nl - r->text);
    cJSON *j = cJSON_ParseWithLength(r->text + i, first_end - i);
    if (j) {
        cJSON_Delete(j);
        return;
    }
    j = cJSON_ParseWithLength(r->text, r->n);
    if (cJSON_IsObject(j)) r->mode = RD_SINGLE;
    cJSON_Delete(j);
}

// The end of the array element starting at i: the index of the ',' or ']'
// that follows it at depth 0, or n when the array never closes.
static size_t element_end(const Records *r, size_t i) {
    int depth = 0, in_str = 0;
    for (; i < r->n; i++) {
        char c = r->text[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') in_str = 1;
        else if (c == '[' || c == '{') depth++;
        else if ((c == ']' || c == '}') && depth > 0) depth--;
        else if ((c == ',' || c == ']') && depth == 0) return i;
    }
    return r->n;
}

static long count_lines(const char *s, size_t n) {
    long k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

// The next record: 1 with *out and *line, 0 at the end, -1 for a bad record
// (e names path and line; the next call goes on after it).
static int records_next(Records *r, cJSON **out, long *line, Err *e) {
    *out = NULL;
    while (!r->done && r->pos < r->n) {
        size_t start = r->pos;
        *line = r->line;
        if (r->mode == RD_SINGLE) {
            r->done = 1;
            *out = jsonl_parse_line(r->text, r->n, r->path, 1, e);
            *line = 1;
            return *out ? 1 : -1;
        }
        if (r->mode == RD_LINES) {
            const char *nl = memchr(r->text + start, '\n', r->n - start);
            size_t end = nl ? (size_t)(nl - r->text) : r->n;
            r->pos = end + 1, r->line++;
            size_t k = start;
            while (k < end && isspace((unsigned char)r->text[k])) k++;
            if (k == end) continue;
            if (memchr(r->text + start, 0, end - start)) return err_set(e, "%s:%ld: NUL byte in line", r->path, *line);
            *out = jsonl_parse_line(r->text + start, end - start, r->path, *line, e);
            return *out ? 1 : -1;
        }
        // RD_ARRAY: r->pos is at an element (whitespace skipped).
        if (r->text[start] == ']') {
            r->done = 1;
            break;
        }
        size_t end = element_end(r, start);
        r->line += count_lines(r->text + start, end - start);
        if (end >= r->n) {
            r->done = 1;
            return err_set(e, "%s:%ld: JSON array never closes", r->path, *line);
        }
        r->pos = r->text[end] == ',' ? skip_ws(r, end + 1) : end;
        *out = jsonl_parse_line(r->text + start, end - start, r->path, *line, e);
        return *out ? 1 : -1;
    }
    return 0;
}

// ---- loading ---------------------------------------------------------------------------

// Append " (file read as FORMAT, detected from line N)" to a record's error.
static void note_format(Err *e, ProblemFormat f, long line) {
    if (!e) return;
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, " (the file is %s: %s; detected from line %ld)", problems_format_name(f),
             problems_format_fields(f), line);
}

static void unknown_format(Err *e, const cJSON *rec, const char *path, long line) {
    Buf b = {0};
    const cJSON *it;
    cJSON_ArrayForEach(it, rec) buf_printf(&b, "%s%.30s", b.len ? ", " : "", it->string);
    err_set(e,
            "%s:%ld: unknown problem format (fields: %.200s); expected the project's (kind, prompt), GSM8K "
            "(question, answer), MATH (problem, solution), AIME/AMC (problem, answer), HumanEval (task_id, "
            "prompt, test, entry_point) or MBPP (text, test_list)",
            path, line, b.data ? b.data : "none");
    buf_free(&b);
}

// Turn one parsed record into a problem of s. Returns 0 or -1.
static int load_record(ProblemSet *s, cJSON *rec, long line, long index, long *detected_at, Err *e) {
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s:%ld", s->path, line);
    if (s->format == PF_UNKNOWN) {
        ProblemFormat f = problems_detect(rec);
        if (f == PF_UNKNOWN) {
            unknown_format(e, rec, s->path, line);
            return -1;
        }
        s->format = f, *detected_at = line;
    }
    cJSON *native = problems_to_native(rec, s->format, s->stem, index, ctx, e);
    if (!native || problems_add(s, native, line, ctx, e) != 0) {
        if (*detected_at != line) note_format(e, s->format, *detected_at);
        return -1;
    }
    return 0;
}

ProblemSet *problems_load(const char *path, int skip_bad, Err *e) {
    Records r = {0};
    if (gzsrc_read_all(path, &r.text, &r.n, e) != 0) return NULL;
    records_mode(&r);
    ProblemSet *s = problems_set_new(path);
    if (strcmp(path, "-") == 0) {  // messages say where the data came from
        free(s->path);
        s->path = xstrdup("<stdin>");
    }
    r.path = s->path;
    long index = 0, line = 0, detected_at = 0;
    cJSON *rec;
    int rc;
    Err err = {0};
    while ((rc = records_next(&r, &rec, &line, &err)) != 0) {
        if (rc > 0) {
            rc = load_record(s, rec, line, index, &detected_at, &err) == 0 ? 1 : -1;
            cJSON_Delete(rec);
        }
        index++;
        if (rc > 0) continue;
        if (!skip_bad) {
            if (e) *e = err;
            problems_free(s);
            free(r.text);
            return NULL;
        }
        if (!s->n_bad++) s->first_bad = xstrdup(err.msg);
    }
    free(r.text);
    if (s->n == 0 && s->n_bad == 0) {
        err_set(e, "%s: no problems in the file", s->path);
        problems_free(s);
        return NULL;
    }
    return s;
}

// ---- templates -------------------------------------------------------------------------

static const char *template_files[PROBLEM_NKINDS] = {"math.txt", "code.txt", "open.txt"};

char *problems_templates_dir(void) {
    const char *env = getenv("REASONER_TEMPLATES");
    if (env && *env) return xstrdup(env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *ups[] = {"/../templates", "/../../templates"};
        for (size_t i = 0; i < RS_ARRAY_LEN(ups); i++) {
            char *dir = xmalloc(strlen(exe) + strlen(ups[i]) + 1);
            strcpy(dir, exe);
            strcat(dir, ups[i]);
            if (fs_is_dir(dir)) return dir;
            free(dir);
        }
    }
    return xstrdup("templates");
}

char *problems_template_read(const char *path, Err *e) {
    char *text;
    size_t n;
    if (fs_read_all(path, &text, &n, e) != 0) return NULL;
    if (n && text[n - 1] == '\n') text[--n] = 0;
    if (n && text[n - 1] == '\r') text[--n] = 0;
    if (!strstr(text, "{problem}")) {
        free(text);
        err_set(e, "%s: template has no {problem} placeholder", path);
        return NULL;
    }
    return text;
}

int problems_templates_load(ProblemTemplates *t, const char *dir, Err *e) {
    memset(t, 0, sizeof *t);
    for (int k = 0; k < PROBLEM_NKINDS; k++) {
        char *path = fs_join(dir, template_files[k]);
        t->text[k] = problems_template_read(path, e);
        free(path);
        if (!t->text[k]) {
            problems_templates_free(t);
            return -1;
        }
    }
    return 0;
}

void problems_templates_free(ProblemTemplates *t) {
    if (!t) return;
    for (int k = 0; k < PROBLEM_NKINDS; k++) {
        free(t->text[k]);
        t->text[k] = NULL;
    }
}

char *problems_render_prompt(const char *tmpl, const Problem *p) {
    static const char key[] = "{problem}";
    Buf b = {0};
    buf_puts(&b, "");
    for (const char *at; (at = strstr(tmpl, key)); tmpl = at + sizeof key - 1) {
        buf_append(&b, tmpl, (size_t)(at - tmpl));
        buf_puts(&b, p->prompt);
    }
    buf_puts(&b, tmpl);
    return buf_take(&b);
}

// ---- SFT conversations from worked solutions ------------------------------------------------

// GSM8K's answer text as a solution ending in \boxed{}: annotations dropped,
// the "#### N" line replaced.
static void clean_solution(const char *sol, const char *answer, Buf *out) {
    const char *mark = NULL;
    for (const char *q = strstr(sol, "####"); q; q = strstr(q + 4, "####")) mark = q;
    size_t n = mark ? (size_t)(mark - sol) : strlen(sol);
    for (size_t i = 0; i < n; i++) {
        const char *close;
        if (sol[i] == '<' && sol[i + 1] == '<' && (close = strstr(sol + i + 2, ">>")) && close < sol + n) {
            i = (size_t)(close - sol) + 1;  // skip <<...>>
            continue;
        }
        buf_putc(out, sol[i]);
    }
    while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == ' ')) out->data[--out->len] = 0;
    if (!strstr(out->data ? out->data : "", "\\boxed{") && answer)
        buf_printf(out, "%sThe answer is \\boxed{%s}.", out->len ? "\n" : "", answer);
}

int problems_in_share(const char *id, double frac) {
    return (double)(hash_str(id) >> 11) * 0x1p-53 < frac;
}

cJSON *problems_to_chat(const Problem *p, const char *tmpl, const char *system, int answer_only) {
    const char *sol = json_opt_str(p->json, "solution", NULL);
    if (!sol) return NULL;
    Buf a = {0};
    if (answer_only && p->answer) buf_printf(&a, "The answer is \\boxed{%s}.", p->answer);
    else clean_solution(sol, p->answer, &a);
    char *user = problems_render_prompt(tmpl, p);
    cJSON *conv = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(conv, "messages");
    const char *roles[3] = {"system", "user", "assistant"}, *texts[3] = {system, user, a.data ? a.data : ""};
    for (int i = system ? 0 : 1; i < 3; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", roles[i]);
        cJSON_AddStringToObject(m, "content", texts[i]);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddStringToObject(conv, "id", p->id);
    if (p->source) cJSON_AddStringToObject(conv, "source", p->source);
    free(user);
    buf_free(&a);
    return conv;
}
