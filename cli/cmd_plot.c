// cmd_plot.c: `reasoner plot`: metrics JSONL files (one object per step, as
// every stage writes them) into one self-contained HTML report: a line chart
// per metric with the runs overlaid, bar charts of the last eval accuracy per
// problem set (keys "eval/<set>/<metric>", e.g. "eval/aime24/avg@16"), and
// response-length histograms from per-sample files.
//   reasoner plot runs/a/metrics.jsonl runs/b/metrics.jsonl -o report.html --metrics loss,reward
//   reasoner plot runs/a/metrics.jsonl --samples eval/samples.jsonl -o report.html
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/report.h"

typedef struct Col {
    char *name;
    double *x, *y;
    int n, cap;
} Col;

typedef struct Run {
    char *label;
    const char *path;
    Col *cols;
    int ncols, nrec;
    double last_x;
} Run;

static Col *run_col(Run *r, const char *name) {
    for (int i = 0; i < r->ncols; i++)
        if (strcmp(r->cols[i].name, name) == 0) return &r->cols[i];
    r->cols = xrealloc(r->cols, sizeof(Col) * (size_t)(r->ncols + 1));
    Col *c = &r->cols[r->ncols++];
    *c = (Col){.name = xstrdup(name)};
    return c;
}

static void col_push(Col *c, double x, double y) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->x = xrealloc(c->x, sizeof(double) * (size_t)c->cap);
        c->y = xrealloc(c->y, sizeof(double) * (size_t)c->cap);
    }
    c->x[c->n] = x, c->y[c->n++] = y;
}

// Sort by x and keep the last value logged for each x: a resumed run logs
// the steps after its checkpoint again, and the later values are the ones kept.
static int cmp_by_x(const void *a, const void *b, void *ctx) {
    const Col *c = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    if (c->x[i] != c->x[j]) return c->x[i] < c->x[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static void col_tidy(Col *c) {
    int *idx = xmalloc(sizeof(int) * (size_t)RS_MAX(c->n, 1));
    for (int i = 0; i < c->n; i++) idx[i] = i;
    qsort_r(idx, (size_t)c->n, sizeof *idx, cmp_by_x, c);
    double *x = xmalloc(sizeof(double) * (size_t)RS_MAX(c->n, 1)), *y = xmalloc(sizeof(double) * (size_t)RS_MAX(c->n, 1));
    int k = 0;
    for (int i = 0; i < c->n; i++) {
        if (k && x[k - 1] == c->x[idx[i]]) k--;
        x[k] = c->x[idx[i]], y[k++] = c->y[idx[i]];
    }
    free(c->x), free(c->y), free(idx);
    c->x = x, c->y = y, c->n = k, c->cap = RS_MAX(k, 1);
}

static void run_free(Run *r) {
    for (int i = 0; i < r->ncols; i++) free(r->cols[i].name), free(r->cols[i].x), free(r->cols[i].y);
    free(r->cols);
    free(r->label);
}

// "runs/grpo-1/metrics.jsonl" -> "grpo-1"; "loss.jsonl" -> "loss".
static char *run_label(const char *path) {
    const char *base = strrchr(path, '/');
    if (base && strcmp(base + 1, "metrics.jsonl") == 0 && base > path) {
        const char *dir = base - 1;
        while (dir > path && dir[-1] != '/') dir--;
        return xstrndup(dir, (size_t)(base - dir));
    }
    base = base ? base + 1 : path;
    const char *dot = strstr(base, ".jsonl");
    return dot ? xstrndup(base, (size_t)(dot - base)) : xstrdup(base);
}

// Read one metrics file. A bad last line (a run killed mid-write) is
// dropped with a warning; a bad line anywhere else is an error.
static int run_read(Run *r, const char *path, const char *xkey, Err *e) {
    JsonlReader *rd = jsonl_open(path, e);
    if (!rd) return -1;
    r->path = path;
    Err pending = {0};
    int have_pending = 0, have_x = 0, rc;
    double x = 0;
    cJSON *j;
    while ((rc = jsonl_next(rd, &j, have_pending ? &(Err){0} : &pending)) != 0) {
        if (have_pending) {
            cJSON_Delete(j);
            *e = pending;
            jsonl_close(rd);
            return -1;
        }
        if (rc < 0) {
            have_pending = 1;
            continue;
        }
        const cJSON *xv = cJSON_GetObjectItemCaseSensitive(j, xkey);
        if (cJSON_IsNumber(xv)) x = xv->valuedouble, have_x = 1;
        else if (!have_x) x = r->nrec;
        const cJSON *it;
        cJSON_ArrayForEach(it, j) {
            if (!cJSON_IsNumber(it) || strcmp(it->string, xkey) == 0) continue;
            col_push(run_col(r, it->string), x, it->valuedouble);
        }
        r->nrec++, r->last_x = x;
        cJSON_Delete(j);
    }
    jsonl_close(rd);
    if (have_pending) log_warn("%s (dropped the incomplete last line)", pending.msg);
    for (int i = 0; i < r->ncols; i++) col_tidy(&r->cols[i]);
    return 0;
}

// --metrics entries: exact names, or prefixes ending in '*'.
static int wanted(const char *name, const char *filter) {
    if (!filter) return 1;
    for (const char *p = filter; *p;) {
        size_t n = strcspn(p, ",");
        if (n && p[n - 1] == '*' ? strncmp(name, p, n - 1) == 0 : strlen(name) == n && strncmp(name, p, n) == 0) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

static void ema(const double *y, double *out, int n, double alpha) {
    double s = 0, w = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            out[i] = y[i];
            continue;
        }
        s = alpha * s + (1 - alpha) * y[i], w = alpha * w + (1 - alpha);
        out[i] = s / w;  // debiased, as TensorBoard does
    }
}

static int name_index(char **names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void add_line_charts(Report *rep, Run *runs, int nruns, const char *xkey, const char *filter, double smooth) {
    char **names = NULL;
    int nnames = 0;
    for (int r = 0; r < nruns; r++)
        for (int c = 0; c < runs[r].ncols; c++)
            if (wanted(runs[r].cols[c].name, filter) && name_index(names, nnames, runs[r].cols[c].name) < 0) {
                names = xrealloc(names, sizeof(char *) * (size_t)(nnames + 1));
                names[nnames++] = runs[r].cols[c].name;
            }
    report_heading(rep, "Metrics");
    if (smooth > 0) {
        char s[128];
        snprintf(s, sizeof s, "Lines other than eval/* are smoothed with a debiased moving average (weight %g).", smooth);
        report_text(rep, s);
    }
    if (!nnames) report_text(rep, "No metrics to plot.");
    for (int m = 0; m < nnames; m++) {
        ReportSeries *ser = xcalloc((size_t)nruns, sizeof *ser);
        double **sm = xcalloc((size_t)nruns, sizeof *sm);
        int ns = 0;
        for (int r = 0; r < nruns; r++) {
            Col *c = NULL;
            for (int k = 0; k < runs[r].ncols; k++)
                if (strcmp(runs[r].cols[k].name, names[m]) == 0) c = &runs[r].cols[k];
            if (!c) continue;
            const double *y = c->y;
            if (smooth > 0 && strncmp(names[m], "eval/", 5) != 0) {  // evals are sparse: shown as they are
                sm[ns] = xmalloc(sizeof(double) * (size_t)RS_MAX(c->n, 1));
                ema(c->y, sm[ns], c->n, smooth);
                y = sm[ns];
            }
            ser[ns++] = (ReportSeries){runs[r].label, c->x, y, c->n};
        }
        report_line_chart(rep, names[m], xkey, names[m], ser, ns);
        for (int r = 0; r < ns; r++) free(sm[r]);
        free(sm), free(ser);
    }
    free(names);
}

// "eval/<set>/<metric>": the last value of each run, one chart per metric.
static void add_eval_bars(Report *rep, Run *runs, int nruns) {
    char **metrics = NULL, **sets = NULL;
    int nm = 0, nsets = 0;
    for (int r = 0; r < nruns; r++)
        for (int c = 0; c < runs[r].ncols; c++) {
            const char *name = runs[r].cols[c].name, *slash = strrchr(name, '/');
            if (strncmp(name, "eval/", 5) != 0 || !slash || slash <= name + 5) continue;
            char *set = xstrndup(name + 5, (size_t)(slash - name - 5));
            if (name_index(sets, nsets, set) < 0) {
                sets = xrealloc(sets, sizeof(char *) * (size_t)(nsets + 1));
                sets[nsets++] = set;
            } else free(set);
            if (name_index(metrics, nm, slash + 1) < 0) {
                metrics = xrealloc(metrics, sizeof(char *) * (size_t)(nm + 1));
                metrics[nm++] = xstrdup(slash + 1);
            }
        }
    if (nm) report_heading(rep, "Accuracy per problem set (last evaluation)");
    const char **labels = xcalloc((size_t)RS_MAX(nruns, 1), sizeof *labels);
    for (int r = 0; r < nruns; r++) labels[r] = runs[r].label;
    for (int m = 0; m < nm; m++) {
        double *v = xmalloc(sizeof(double) * (size_t)(nsets * nruns));
        for (int g = 0; g < nsets; g++)
            for (int r = 0; r < nruns; r++) {
                Buf key = {0};
                buf_printf(&key, "eval/%s/%s", sets[g], metrics[m]);
                v[g * nruns + r] = NAN;
                for (int c = 0; c < runs[r].ncols; c++)
                    if (strcmp(runs[r].cols[c].name, key.data) == 0 && runs[r].cols[c].n)
                        v[g * nruns + r] = runs[r].cols[c].y[runs[r].cols[c].n - 1];
                buf_free(&key);
            }
        report_bar_chart(rep, metrics[m], metrics[m], (const char *const *)sets, nsets, labels, nruns, v);
        free(v);
    }
    for (int i = 0; i < nm; i++) free(metrics[i]);
    for (int i = 0; i < nsets; i++) free(sets[i]);
    free(metrics), free(sets), free(labels);
}

static int add_histogram(Report *rep, const char *path, const char *field, Err *e) {
    JsonlReader *rd = jsonl_open(path, e);
    if (!rd) return -1;
    double *v = NULL;
    int n = 0, cap = 0, rc;
    cJSON *j;
    while ((rc = jsonl_next(rd, &j, e)) != 0) {
        if (rc < 0) {
            jsonl_close(rd);
            free(v);
            return -1;
        }
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, field);
        if (cJSON_IsNumber(x)) {
            if (n == cap) v = xrealloc(v, sizeof(double) * (size_t)(cap = cap ? cap * 2 : 256));
            v[n++] = x->valuedouble;
        }
        cJSON_Delete(j);
    }
    jsonl_close(rd);
    if (!n) {
        free(v);
        return err_set(e, "%s: no record has a numeric '%s' field", path, field);
    }
    Buf title = {0};
    buf_printf(&title, "%s: %s", path, field);
    report_histogram(rep, title.data, field, v, n, 40);
    buf_free(&title);
    free(v);
    return 0;
}

static void add_run_table(Report *rep, Run *runs, int nruns, const char *xkey) {
    const char *header[] = {"run", "file", "records", "metrics", "last"};
    char **cells = xcalloc((size_t)nruns * 5, sizeof *cells);
    for (int r = 0; r < nruns; r++) {
        char s[64];
        cells[r * 5 + 0] = xstrdup(runs[r].label);
        cells[r * 5 + 1] = xstrdup(runs[r].path);
        snprintf(s, sizeof s, "%d", runs[r].nrec);
        cells[r * 5 + 2] = xstrdup(s);
        snprintf(s, sizeof s, "%d", runs[r].ncols);
        cells[r * 5 + 3] = xstrdup(s);
        snprintf(s, sizeof s, "%s %g", xkey, runs[r].last_x);
        cells[r * 5 + 4] = xstrdup(s);
    }
    report_table(rep, header, 5, (const char *const *)cells, nruns);
    for (int i = 0; i < nruns * 5; i++) free(cells[i]);
    free(cells);
}

// A TSV of "group<TAB>what<TAB>value" rows (the demo's summary) as a table.
static int add_tsv_table(Report *rep, const char *path, Err *e) {
    char *text;
    if (fs_read_all(path, &text, NULL, e) != 0) return -1;
    const char *header[] = {"stage", "what", "value"};
    char **cells = NULL;
    int rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[3] = {line, NULL, NULL};
        for (int k = 1; k < 3; k++) {
            char *tab = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (tab) *tab = 0, f[k] = tab + 1;
        }
        cells = xrealloc(cells, sizeof *cells * (size_t)(rows + 1) * 3);
        for (int k = 0; k < 3; k++) cells[rows * 3 + k] = xstrdup(f[k] ? f[k] : "");
        rows++;
    }
    report_table(rep, header, 3, (const char *const *)cells, rows);
    for (int i = 0; i < rows * 3; i++) free(cells[i]);
    free(cells), free(text);
    return 0;
}

// Up to n records of an eval samples.jsonl: problem, response, verdict.
static int add_examples(Report *rep, const char *path, int n, Err *e) {
    JsonlReader *rd = jsonl_open(path, e);
    if (!rd) return -1;
    const char *header[] = {"problem", "response", "answer", "verdict"};
    char **cells = xcalloc((size_t)n * 4, sizeof *cells);
    int rows = 0, rc;
    cJSON *j;
    while (rows < n && (rc = jsonl_next(rd, &j, e)) != 0) {
        if (rc < 0) break;
        if (json_opt_int(j, "sample", 0) == 0) {  // the first sample of each problem
            cells[rows * 4 + 0] = xstrdup(json_opt_str(j, "problem_id", ""));
            cells[rows * 4 + 1] = xstrdup(json_opt_str(j, "response", ""));
            cells[rows * 4 + 2] = xstrdup(json_opt_str(j, "answer", ""));
            cells[rows * 4 + 3] = xstrdup(json_opt_bool(j, "correct", 0) ? "\u2713 right" : "\u2717 wrong");
            rows++;
        }
        cJSON_Delete(j);
    }
    jsonl_close(rd);
    Buf h = {0};
    buf_printf(&h, "Sampled solutions: %s", path);
    report_heading(rep, h.data);
    report_table(rep, header, 4, (const char *const *)cells, rows);
    for (int i = 0; i < rows * 4; i++) free(cells[i]);
    free(cells);
    buf_free(&h);
    return 0;
}

int cmd_plot(int argc, char **argv) {
    const char *out_path = NULL, *filter = NULL, *xkey = "step", *title = "reasoner report", *length_field = "length";
    double smooth = 0;
    int n_examples = 6;
    const char *table = NULL;
    ArgList files = {0}, samples = {0}, examples = {0};
    ArgSpec specs[] = {
        {"out", 'o', ARG_STR, &out_path, "FILE", "write the HTML here (atomically) instead of stdout"},
        {"metrics", 0, ARG_STR, &filter, "A,B", "only these metrics (a trailing * matches a prefix: 'eval/*')"},
        {"x", 0, ARG_STR, &xkey, "KEY", "the field on the x axis (records without it keep the previous value)"},
        {"smooth", 0, ARG_FLOAT, &smooth, "W", "moving-average weight in [0, 1) for noisy curves (0.9 is strong)"},
        {"title", 0, ARG_STR, &title, "TEXT", "report title"},
        {"samples", 0, ARG_LIST, &samples, "FILE", "per-sample JSONL files for response-length histograms"},
        {"length-field", 0, ARG_STR, &length_field, "KEY", "the length field of --samples records"},
        {"table", 0, ARG_STR, &table, "FILE", "a TSV of stage<TAB>what<TAB>value rows shown first"},
        {"examples", 0, ARG_LIST, &examples, "FILE", "eval samples.jsonl files: a few solutions marked right or wrong"},
        {"n-examples", 0, ARG_INT, &n_examples, "N", "problems shown per --examples file"},
    };
    ArgCmd cmd = {.name = "reasoner plot",
                  .summary = "Turn metrics JSONL files into one self-contained HTML report with SVG charts (no "
                             "JavaScript, no network): each metric against step with the runs overlaid, accuracy per "
                             "problem set from 'eval/<set>/<metric>' keys, response-length histograms.",
                  .usage_args = "METRICS.jsonl... [-o report.html] [flags]",
                  .epilog = "examples:\n  reasoner plot runs/a/metrics.jsonl runs/b/metrics.jsonl -o report.html\n"
                            "  reasoner plot runs/a/metrics.jsonl --metrics 'loss,eval/*' --smooth 0.9 -o a.html",
                  .specs = specs,
                  .nspecs = RS_ARRAY_LEN(specs),
                  .positional = &files,
                  .min_positional = 0};
    int rc = args_parse(&cmd, argc, argv);
    if (!rc && files.n + samples.n + examples.n == 0 && !table) {
        fprintf(stderr, "reasoner plot: no metrics or --samples files\nusage: %s %s  (see --help)\n", cmd.name, cmd.usage_args);
        rc = ARGS_USAGE;
    }
    if (!rc && !(smooth >= 0 && smooth < 1)) {
        fprintf(stderr, "reasoner plot: --smooth: expected a weight in [0, 1), got %g\n", smooth);
        rc = ARGS_USAGE;
    }
    if (rc) {
        args_list_free(&files), args_list_free(&samples), args_list_free(&examples);
        return ARGS_EXIT_CODE(rc);
    }
    Err e = {0};
    Run *runs = xcalloc((size_t)RS_MAX(files.n, 1), sizeof *runs);
    int ok = 1;
    for (int i = 0; i < files.n && ok; i++) {
        runs[i].label = run_label(files.items[i]);
        for (int k = 0; k < i; k++)
            if (strcmp(runs[k].label, runs[i].label) == 0) {  // same name twice: use the paths
                free(runs[i].label);
                runs[i].label = xstrdup(files.items[i]);
            }
        ok = run_read(&runs[i], files.items[i], xkey, &e) == 0;
    }
    Report *rep = report_new(title);
    if (ok && table) ok = add_tsv_table(rep, table, &e) == 0;
    if (ok && files.n) {
        add_run_table(rep, runs, files.n, xkey);
        add_eval_bars(rep, runs, files.n);
        add_line_charts(rep, runs, files.n, xkey, filter, smooth);
    }
    if (ok && samples.n) report_heading(rep, "Response lengths");
    for (int i = 0; i < samples.n && ok; i++) ok = add_histogram(rep, samples.items[i], length_field, &e) == 0;
    for (int i = 0; i < examples.n && ok; i++) ok = add_examples(rep, examples.items[i], n_examples, &e) == 0;
    if (ok) {
        if (out_path) ok = report_write(rep, out_path, &e) == 0;
        else {
            char *html = report_html(rep);
            ok = fputs(html, stdout) >= 0 && fflush(stdout) == 0;
            if (!ok) err_errno(&e, "stdout");
            free(html);
        }
    }
    if (!ok) fprintf(stderr, "reasoner plot: %s\n", e.msg);
    else if (out_path) log_info("wrote %s (%d runs)", out_path, files.n);
    report_free(rep);
    for (int i = 0; i < files.n; i++) run_free(&runs[i]);
    free(runs);
    args_list_free(&files), args_list_free(&samples), args_list_free(&examples);
    return ok ? 0 : 1;
}
