// cmd_problems.c: `reasoner problems convert|stats|gen`: problem sets in the
// project's JSONL format, from the published files or from the generators.
//   reasoner problems convert gsm8k_test.jsonl math500.jsonl -o eval.jsonl
//   reasoner problems stats HumanEval.jsonl.gz mbpp.jsonl
//   reasoner problems gen arith --n 5000 --seed 1 --digits 3 --steps 2 --split train -o arith.jsonl
//   reasoner problems gen countdown --n 2000 --seed 1 --text -o countdown.txt.jsonl
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "problems/gen.h"
#include "problems/problems.h"

// ---- output: a file written atomically, or stdout ------------------------------------------

typedef struct Out {
    AtomicFile *af;
    FILE *fp;
} Out;

static int out_open(Out *o, const char *path, Err *e) {
    o->af = NULL, o->fp = stdout;
    if (!path || strcmp(path, "-") == 0) return 0;
    if (!(o->af = afile_open(path, e))) return -1;
    o->fp = afile_fp(o->af);
    return 0;
}

static int out_close(Out *o, int ok, Err *e) {
    if (!o->af) return fflush(stdout) == 0 || !ok ? 0 : err_errno(e, "stdout");
    if (!ok) {
        afile_abort(o->af);
        return 0;
    }
    return afile_commit(o->af, e);
}

// Load one file; report skipped records on stderr. NULL after printing the error.
static ProblemSet *load_reporting(const char *cmd, const char *path, int skip_bad) {
    Err e = {0};
    ProblemSet *s = problems_load(path, skip_bad, &e);
    if (!s) {
        fprintf(stderr, "reasoner problems %s: %s\n", cmd, e.msg);
        return NULL;
    }
    if (s->n_bad)
        fprintf(stderr, "reasoner problems %s: %s: skipped %d bad record%s; the first: %s\n", cmd, path, s->n_bad,
                s->n_bad == 1 ? "" : "s", s->first_bad);
    return s;
}

// ---- convert -----------------------------------------------------------------------------------

static int cmd_convert(int argc, char **argv) {
    const char *out_path = NULL;
    int skip_bad = 0;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"out", 'o', ARG_STR, &out_path, "FILE", "write here (atomically) instead of stdout"},
        {"skip-bad", 0, ARG_FLAG, &skip_bad, NULL, "skip bad records, counting them, instead of failing"},
    };
    ArgCmd cmd = {.name = "reasoner problems convert",
                  .summary = "Convert problem files (GSM8K, MATH, AIME/AMC, HumanEval, MBPP or the project's format, "
                             "detected per file; JSONL, JSON or .gz) into the project's JSONL format.",
                  .usage_args = "[flags] FILE...",
                  .epilog = "example:\n  reasoner problems convert gsm8k_test.jsonl HumanEval.jsonl.gz -o eval.jsonl",
                  .specs = specs,
                  .nspecs = RS_ARRAY_LEN(specs),
                  .positional = &files,
                  .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&files);
        return ARGS_EXIT_CODE(rc);
    }
    Err e = {0};
    Out out;
    ProblemSet *all = problems_set_new(out_path ? out_path : "-");
    int ok = 1;
    for (int f = 0; f < files.n && ok; f++) {
        ProblemSet *s = load_reporting("convert", files.items[f], skip_bad);
        if (!s) {
            ok = 0;
            break;
        }
        // Into one set, so that an id repeated across files is caught too.
        for (int i = 0; i < s->n && ok; i++) {
            char ctx[600];
            snprintf(ctx, sizeof ctx, "%s:%ld", files.items[f], s->items[i].line);
            if (problems_add(all, cJSON_Duplicate(s->items[i].json, 1), s->items[i].line, ctx, &e) != 0) {
                fprintf(stderr, "reasoner problems convert: %s\n", e.msg);
                ok = 0;
            }
        }
        if (ok) log_info("%s: %d problems (%s format)", files.items[f], s->n, problems_format_name(s->format));
        problems_free(s);
    }
    if (ok && out_open(&out, out_path, &e) != 0) {
        fprintf(stderr, "reasoner problems convert: %s\n", e.msg);
        ok = 0;
    } else if (ok) {
        if (problems_write(out.fp, all) != 0) ok = 0, err_errno(&e, "%s: write failed", out_path ? out_path : "stdout");
        if (out_close(&out, ok, &e) != 0) ok = 0;
        if (!ok) fprintf(stderr, "reasoner problems convert: %s\n", e.msg);
    }
    if (ok) log_info("wrote %d problems to %s", all->n, out_path ? out_path : "stdout");
    problems_free(all);
    args_list_free(&files);
    return ok ? 0 : 1;
}

// ---- stats -------------------------------------------------------------------------------------

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static cJSON *set_stats(const ProblemSet *s) {
    cJSON *j = cJSON_CreateObject();
    int kinds[PROBLEM_NKINDS] = {0}, with_answer = 0, tests = 0, test_problems = 0, test_split = 0;
    int *len = xcalloc((size_t)RS_MAX(s->n, 1), sizeof *len);
    double len_sum = 0;
    for (int i = 0; i < s->n; i++) {
        const Problem *p = &s->items[i];
        kinds[p->kind]++;
        with_answer += p->answer != NULL;
        len[i] = (int)strlen(p->prompt), len_sum += len[i];
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(p->json, "test_list");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(p->json, "tests");
        int nt = cJSON_IsArray(tl) ? cJSON_GetArraySize(tl) : cJSON_IsArray(ts) ? cJSON_GetArraySize(ts) : 0;
        if (!nt && cJSON_GetObjectItemCaseSensitive(p->json, "test")) nt = 1;  // HumanEval: one check() function
        tests += nt, test_problems += nt > 0;
        const char *split = json_opt_str(p->json, "split", NULL);
        test_split += split && strcmp(split, "test") == 0;
    }
    qsort(len, (size_t)s->n, sizeof *len, cmp_int);
    cJSON_AddStringToObject(j, "file", s->path);
    cJSON_AddStringToObject(j, "format", problems_format_name(s->format));
    cJSON_AddNumberToObject(j, "problems", s->n);
    cJSON_AddNumberToObject(j, "skipped", s->n_bad);
    for (int k = 0; k < PROBLEM_NKINDS; k++) cJSON_AddNumberToObject(j, problems_kind_name(k), kinds[k]);
    cJSON_AddNumberToObject(j, "with_answer", with_answer);
    cJSON_AddNumberToObject(j, "with_tests", test_problems);
    cJSON_AddNumberToObject(j, "tests_per_code_problem", test_problems ? (double)tests / test_problems : 0);
    cJSON_AddNumberToObject(j, "prompt_chars_mean", s->n ? round(len_sum / s->n) : 0);
    cJSON_AddNumberToObject(j, "prompt_chars_median", s->n ? len[s->n / 2] : 0);
    cJSON_AddNumberToObject(j, "prompt_chars_max", s->n ? len[s->n - 1] : 0);
    cJSON_AddNumberToObject(j, "split_test", test_split);
    free(len);
    return j;
}

static void print_stats(const cJSON *j) {
    printf("%s\n", json_opt_str(j, "file", ""));
    printf("  format        %s\n", json_opt_str(j, "format", ""));
    printf("  problems      %lld (math %lld, code %lld, open %lld); skipped %lld\n", (long long)json_opt_int(j, "problems", 0),
           (long long)json_opt_int(j, "math", 0), (long long)json_opt_int(j, "code", 0), (long long)json_opt_int(j, "open", 0),
           (long long)json_opt_int(j, "skipped", 0));
    printf("  with answer   %lld\n", (long long)json_opt_int(j, "with_answer", 0));
    if (json_opt_int(j, "with_tests", 0))
        printf("  with tests    %lld (%.2f tests each)\n", (long long)json_opt_int(j, "with_tests", 0),
               json_opt_num(j, "tests_per_code_problem", 0));
    printf("  prompt chars  mean %lld, median %lld, max %lld\n", (long long)json_opt_int(j, "prompt_chars_mean", 0),
           (long long)json_opt_int(j, "prompt_chars_median", 0), (long long)json_opt_int(j, "prompt_chars_max", 0));
    if (json_opt_int(j, "split_test", 0)) printf("  test split    %lld\n", (long long)json_opt_int(j, "split_test", 0));
}

static int cmd_stats(int argc, char **argv) {
    int skip_bad = 0, as_json = 0;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"skip-bad", 0, ARG_FLAG, &skip_bad, NULL, "skip bad records, counting them, instead of failing"},
        {"json", 0, ARG_FLAG, &as_json, NULL, "one JSON object per file (JSONL) instead of text"},
    };
    ArgCmd cmd = {.name = "reasoner problems stats",
                  .summary = "Describe problem files: detected format, counts per kind, answers, tests, prompt lengths.",
                  .usage_args = "[flags] FILE...",
                  .specs = specs,
                  .nspecs = RS_ARRAY_LEN(specs),
                  .positional = &files,
                  .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&files);
        return ARGS_EXIT_CODE(rc);
    }
    int failed = 0;
    for (int f = 0; f < files.n; f++) {
        ProblemSet *s = load_reporting("stats", files.items[f], skip_bad);
        if (!s) {
            failed = 1;
            continue;
        }
        cJSON *j = set_stats(s);
        if (as_json) json_write_line(stdout, j);
        else print_stats(j);
        cJSON_Delete(j);
        problems_free(s);
    }
    args_list_free(&files);
    return failed;
}

// ---- gen ---------------------------------------------------------------------------------------

static int write_generated(FILE *fp, const ProblemSet *s, int text) {
    for (int i = 0; i < s->n; i++) {
        if (!text) {
            if (json_write_line(fp, s->items[i].json) != 0) return -1;
            continue;
        }
        char *t = problems_gen_text(&s->items[i]);
        RS_CHECK(t != NULL);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", t);
        int rc = json_write_line(fp, j);
        cJSON_Delete(j);
        free(t);
        if (rc != 0) return -1;
    }
    return 0;
}

static int cmd_gen(int argc, char **argv) {
    GenOptions o;
    problems_gen_defaults(&o);
    const char *out_path = NULL, *split = "all";
    int64_t seed = (int64_t)o.seed;
    int text = 0;
    ArgList kind = {0};
    ArgSpec specs[] = {
        {"n", 0, ARG_INT, &o.n, "N", "problems to make"},
        {"seed", 0, ARG_I64, &seed, "S", "random seed (same seed and knobs, same problems)"},
        {"split", 0, ARG_STR, &split, "train|test|all", "keep only problems of this split (by hash of the problem)"},
        {"test-fraction", 0, ARG_FLOAT, &o.test_fraction, "F", "share of the problem space in the test split"},
        {"text", 0, ARG_FLAG, &text, NULL, "write pretraining text {\"text\": prompt + worked answer} instead"},
        {"out", 'o', ARG_STR, &out_path, "FILE", "write here (atomically) instead of stdout"},
        {"digits", 0, ARG_INT, &o.digits, "D", "arith: most digits per operand"},
        {"min-digits", 0, ARG_INT, &o.min_digits, "D", "arith: fewest digits per operand"},
        {"steps", 0, ARG_INT, &o.steps, "K", "arith: operations per problem"},
        {"ops", 0, ARG_STR, &o.ops, "OPS", "arith: operators to draw from, of +-*/ (division is exact)"},
        {"allow-negative", 0, ARG_FLAG, &o.allow_negative, NULL, "arith: allow negative results"},
        {"count", 0, ARG_INT, &o.count, "K", "countdown: numbers per problem (2..6)"},
        {"max-number", 0, ARG_INT, &o.max_number, "M", "countdown: numbers drawn from 1..M"},
        {"min-target", 0, ARG_INT, &o.min_target, "T", "countdown: smallest target"},
        {"max-target", 0, ARG_INT, &o.max_target, "T", "countdown: largest target"},
        {"level", 0, ARG_INT, &o.level, "L", "aime: difficulty 1..3"},
        {"templates", 0, ARG_STR, &o.templates, "A,B", "aime: templates to draw from (default all)"},
    };
    Buf epilog = {0};
    buf_puts(&epilog, "kinds: arith, countdown, aime\naime templates:");
    for (int t = 0; problems_aime_templates[t]; t++) buf_printf(&epilog, " %s", problems_aime_templates[t]);
    buf_puts(&epilog, "\nexamples:\n  reasoner problems gen arith --n 1000 --seed 1 --digits 4 --steps 3 --split train\n"
                      "  reasoner problems gen countdown --n 200 --seed 2 --count 5 --split test -o cd_test.jsonl\n"
                      "  reasoner problems gen aime --n 500 --seed 3 --level 3 --text -o aime_text.jsonl");
    ArgCmd cmd = {.name = "reasoner problems gen",
                  .summary = "Generate seeded, reproducible problems with worked solutions: arith, countdown, aime.",
                  .usage_args = "KIND --n N --seed S [flags]",
                  .epilog = epilog.data,
                  .specs = specs,
                  .nspecs = RS_ARRAY_LEN(specs),
                  .positional = &kind,
                  .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (!rc && kind.n != 1) {
        fprintf(stderr, "reasoner problems gen: expected one KIND, got %d\nusage: %s %s  (see --help)\n", kind.n, cmd.name,
                cmd.usage_args);
        rc = ARGS_USAGE;
    }
    if (!rc) {
        if (strcmp(split, "train") == 0) o.split = GEN_SPLIT_TRAIN;
        else if (strcmp(split, "test") == 0) o.split = GEN_SPLIT_TEST;
        else if (strcmp(split, "all") == 0) o.split = GEN_SPLIT_ALL;
        else {
            fprintf(stderr, "reasoner problems gen: --split: expected train, test or all, got '%s'\n", split);
            rc = ARGS_USAGE;
        }
    }
    if (rc) {
        args_list_free(&kind);
        buf_free(&epilog);
        return ARGS_EXIT_CODE(rc);
    }
    o.seed = (uint64_t)seed;
    Err e = {0};
    log_info("problems gen %s: n=%d seed=%lld split=%s", kind.items[0], o.n, (long long)seed, split);
    ProblemSet *s = problems_gen(kind.items[0], &o, &e);
    int ok = s != NULL;
    Out out;
    if (ok && out_open(&out, out_path, &e) != 0) ok = 0;
    else if (ok) {
        if (write_generated(out.fp, s, text) != 0) ok = 0, err_errno(&e, "%s: write failed", out_path ? out_path : "stdout");
        if (out_close(&out, ok, &e) != 0) ok = 0;
    }
    if (!ok) fprintf(stderr, "reasoner problems gen: %s\n", e.msg);
    else log_info("wrote %d %s to %s", s->n, text ? "text lines" : "problems", out_path ? out_path : "stdout");
    problems_free(s);
    args_list_free(&kind);
    buf_free(&epilog);
    return ok ? 0 : 1;
}

// ---- to-chat -------------------------------------------------------------------------------------

static int cmd_to_chat(int argc, char **argv) {
    const char *out_path = NULL, *system = NULL, *templates = NULL;
    int skip_bad = 0;
    double answer_only = 0;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"out", 'o', ARG_STR, &out_path, "FILE", "write here (atomically) instead of stdout"},
        {"system", 0, ARG_STR, &system, "TEXT", "a system message for every conversation"},
        {"answer-only", 0, ARG_FLOAT, &answer_only, "FRAC",
         "this share of the conversations answer without working (\"The answer is \\boxed{N}.\"), "
         "chosen by a hash of the problem id"},
        {"templates", 0, ARG_STR, &templates, "DIR", "prompt templates (default: the ones eval uses)"},
        {"skip-bad", 0, ARG_FLAG, &skip_bad, NULL, "skip bad records, counting them, instead of failing"},
    };
    ArgCmd cmd = {.name = "reasoner problems to-chat",
                  .summary = "Turn problems with worked solutions (GSM8K, MATH, the generators) into SFT "
                             "conversations: the user turn is the prompt eval uses, the assistant turn the solution "
                             "ending in \\boxed{}.",
                  .usage_args = "[flags] FILE...",
                  .epilog = "Problems without a worked solution are skipped and counted. --answer-only mixes two "
                            "styles, as web data does: an SFT model then sometimes answers at once and sometimes "
                            "works it out, and RL can learn which pays (the demo's setup).\n\nexample:\n"
                            "  reasoner problems gen arith --n 5000 --steps 2 --split train -o train.jsonl\n"
                            "  reasoner problems to-chat train.jsonl -o chats.jsonl",
                  .specs = specs,
                  .nspecs = RS_ARRAY_LEN(specs),
                  .positional = &files,
                  .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&files);
        return ARGS_EXIT_CODE(rc);
    }
    if (answer_only < 0 || answer_only > 1) {
        fprintf(stderr, "reasoner problems to-chat: --answer-only: expected a share in [0, 1], got %g\n", answer_only);
        args_list_free(&files);
        return 2;
    }
    Err e = {0};
    ProblemTemplates t = {0};
    char *dir = templates ? xstrdup(templates) : problems_templates_dir();
    int ok = problems_templates_load(&t, dir, &e) == 0;
    free(dir);
    if (!ok) fprintf(stderr, "reasoner problems to-chat: %s\n", e.msg);
    Out out = {0};
    if (ok && out_open(&out, out_path, &e) != 0) ok = 0, fprintf(stderr, "reasoner problems to-chat: %s\n", e.msg);
    long made = 0, skipped = 0, answer_only_made = 0;
    for (int f = 0; f < files.n && ok; f++) {
        ProblemSet *s = load_reporting("to-chat", files.items[f], skip_bad);
        if (!s) {
            ok = 0;
            break;
        }
        for (int i = 0; i < s->n; i++) {
            const Problem *p = &s->items[i];
            int brief = problems_in_share(p->id, answer_only);
            cJSON *conv = problems_to_chat(p, t.text[p->kind], system, brief);
            if (!conv) {
                skipped++;
                continue;
            }
            json_write_line(out.fp, conv);
            cJSON_Delete(conv);
            made++;
            answer_only_made += brief;
        }
        problems_free(s);
    }
    if (out.fp && out_close(&out, ok, &e) != 0) ok = 0, fprintf(stderr, "reasoner problems to-chat: %s\n", e.msg);
    if (ok)
        log_info("wrote %ld conversations to %s (%ld answer only; %ld problems without a worked solution skipped)", made,
                 out_path ? out_path : "stdout", answer_only_made, skipped);
    problems_templates_free(&t);
    args_list_free(&files);
    return ok ? 0 : 1;
}

int cmd_problems(int argc, char **argv) {
    static const SubCmd subs[] = {
        {"convert", "convert published problem files to the project's JSONL format", cmd_convert},
        {"stats", "describe problem files", cmd_stats},
        {"gen", "generate problems: arith, countdown, aime", cmd_gen},
        {"to-chat", "problems with worked solutions into SFT conversations", cmd_to_chat},
    };
    return args_dispatch("reasoner problems", "Problem sets: convert the public ones, describe them, generate new ones.",
                         subs, RS_ARRAY_LEN(subs), argc, argv);
}
