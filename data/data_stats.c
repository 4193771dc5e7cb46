// data_stats.c: names of stages and rules, and the statistics of a run:
// documents and bytes in and out per stage, documents removed per rule,
// lines dropped per line rule, and counters. Sums are exact integers, so a
// run's stats.json is the same whatever the thread count.
//   reasoner data stats out/
#include <string.h>

#include "common/base.h"
#include "common/json.h"
#include "data/pipeline.h"

static const char *const STAGE_NAMES[] = {
#define X(id, name) name,
    DATA_STAGES(X)
#undef X
};
static const DataStage RULE_STAGE[] = {
    DATA_ST_INPUT,
#define X(id, stage, name) DATA_ST_##stage,
    DATA_RULES(X)
#undef X
};
static const char *const RULE_NAMES[] = {
    "kept",
#define X(id, stage, name) name,
    DATA_RULES(X)
#undef X
};
static const char *const LINE_RULE_NAMES[] = {
#define X(id, name) name,
    DATA_LINE_RULES(X)
#undef X
};
static const char *const COUNTER_NAMES[] = {
#define X(id, name) name,
    DATA_COUNTERS(X)
#undef X
};

const char *data_stage_name(DataStage s) { return (unsigned)s < DATA_NSTAGES ? STAGE_NAMES[s] : "?"; }
DataStage data_rule_stage(DataRule r) { return (unsigned)r < DATA_NRULES ? RULE_STAGE[r] : DATA_ST_INPUT; }
const char *data_rule_name(DataRule r) { return (unsigned)r < DATA_NRULES ? RULE_NAMES[r] : "?"; }
const char *data_line_rule_name(DataLineRule r) { return (unsigned)r < DATA_NLINE_RULES ? LINE_RULE_NAMES[r] : "?"; }
const char *data_counter_name(DataCounter c) { return (unsigned)c < DATA_NCOUNTERS ? COUNTER_NAMES[c] : "?"; }

void data_stats_add(DataStats *into, const DataStats *s) {
    for (int i = 0; i < DATA_NSTAGES; i++) {
        into->stage[i].docs_in += s->stage[i].docs_in;
        into->stage[i].docs_out += s->stage[i].docs_out;
        into->stage[i].bytes_in += s->stage[i].bytes_in;
        into->stage[i].bytes_out += s->stage[i].bytes_out;
        into->secs[i] += s->secs[i];
    }
    for (int i = 0; i < DATA_NRULES; i++) into->rule[i] += s->rule[i];
    for (int i = 0; i < DATA_NLINE_RULES; i++) into->line_rule[i] += s->line_rule[i];
    for (int i = 0; i < DATA_NCOUNTERS; i++) into->counter[i] += s->counter[i];
}

static void rule_key(DataRule r, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", data_stage_name(data_rule_stage(r)), data_rule_name(r));
}

static void line_rule_key(DataLineRule r, char *out, size_t cap) {
    snprintf(out, cap, "c4/%s", data_line_rule_name(r));
}

cJSON *data_stats_to_json(const DataStats *s) {
    cJSON *j = cJSON_CreateObject(), *st = cJSON_AddObjectToObject(j, "stages");
    for (int i = 0; i < DATA_NSTAGES; i++) {
        cJSON *o = cJSON_AddObjectToObject(st, data_stage_name(i));
        cJSON_AddNumberToObject(o, "docs_in", (double)s->stage[i].docs_in);
        cJSON_AddNumberToObject(o, "docs_out", (double)s->stage[i].docs_out);
        cJSON_AddNumberToObject(o, "bytes_in", (double)s->stage[i].bytes_in);
        cJSON_AddNumberToObject(o, "bytes_out", (double)s->stage[i].bytes_out);
    }
    char key[96];
    cJSON *rm = cJSON_AddObjectToObject(j, "removed");
    for (int r = 1; r < DATA_NRULES; r++) {
        rule_key(r, key, sizeof key);
        cJSON_AddNumberToObject(rm, key, (double)s->rule[r]);
    }
    cJSON *lr = cJSON_AddObjectToObject(j, "lines_removed");
    for (int r = 0; r < DATA_NLINE_RULES; r++) {
        line_rule_key(r, key, sizeof key);
        cJSON_AddNumberToObject(lr, key, (double)s->line_rule[r]);
    }
    cJSON *c = cJSON_AddObjectToObject(j, "counters");
    for (int i = 0; i < DATA_NCOUNTERS; i++) cJSON_AddNumberToObject(c, data_counter_name(i), (double)s->counter[i]);
    return j;
}

static int get_count(const cJSON *o, const char *key, int64_t *out, const char *ctx, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;  // stats written by an older version: missing counts are 0
    if (!cJSON_IsNumber(v) || v->valuedouble < 0) return err_set(e, "%s: field '%s': expected a count", ctx, key);
    *out = (int64_t)v->valuedouble;
    return 0;
}

int data_stats_from_json(DataStats *s, const cJSON *j, const char *ctx, Err *e) {
    memset(s, 0, sizeof *s);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stages");
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(j, "removed");
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(j, "lines_removed");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "counters");
    if (!cJSON_IsObject(st) || !cJSON_IsObject(rm)) return err_set(e, "%s: field 'stages'/'removed': missing", ctx);
    for (int i = 0; i < DATA_NSTAGES; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(st, data_stage_name(i));
        if (!o) continue;
        if (get_count(o, "docs_in", &s->stage[i].docs_in, ctx, e) ||
            get_count(o, "docs_out", &s->stage[i].docs_out, ctx, e) ||
            get_count(o, "bytes_in", &s->stage[i].bytes_in, ctx, e) ||
            get_count(o, "bytes_out", &s->stage[i].bytes_out, ctx, e))
            return -1;
    }
    char key[96];
    for (int r = 1; r < DATA_NRULES; r++) {
        rule_key(r, key, sizeof key);
        if (get_count(rm, key, &s->rule[r], ctx, e)) return -1;
    }
    for (int r = 0; r < DATA_NLINE_RULES && lr; r++) {
        line_rule_key(r, key, sizeof key);
        if (get_count(lr, key, &s->line_rule[r], ctx, e)) return -1;
    }
    for (int i = 0; i < DATA_NCOUNTERS && c; i++)
        if (get_count(c, data_counter_name(i), &s->counter[i], ctx, e)) return -1;
    return 0;
}

static int by_count_desc(const void *a, const void *b, void *ctx) {
    const int64_t *cnt = ctx;
    int ra = *(const int *)a, rb = *(const int *)b;
    if (cnt[ra] != cnt[rb]) return cnt[ra] < cnt[rb] ? 1 : -1;
    return ra - rb;
}

void data_stats_print(const DataStats *s, FILE *fp) {
    fprintf(fp, "%-12s %10s %10s %10s %10s %9s\n", "stage", "docs in", "docs out", "MB in", "MB out", "removed");
    for (int i = 0; i < DATA_NSTAGES; i++) {
        const DataStageStats *t = &s->stage[i];
        if (!t->docs_in) continue;
        fprintf(fp, "%-12s %10lld %10lld %10.2f %10.2f %8.1f%%\n", data_stage_name(i), (long long)t->docs_in,
                (long long)t->docs_out, t->bytes_in / 1e6, t->bytes_out / 1e6,
                100.0 * (double)(t->docs_in - t->docs_out) / (double)t->docs_in);
    }
    int order[DATA_NRULES], n = 0;
    for (int r = 1; r < DATA_NRULES; r++)
        if (s->rule[r]) order[n++] = r;
    qsort_r(order, (size_t)n, sizeof *order, by_count_desc, (void *)s->rule);
    if (n) fprintf(fp, "\ndocuments removed, by rule:\n");
    char key[96];
    for (int i = 0; i < n; i++) {
        rule_key(order[i], key, sizeof key);
        fprintf(fp, "  %-32s %10lld\n", key, (long long)s->rule[order[i]]);
    }
    int any = 0;
    for (int r = 0; r < DATA_NLINE_RULES; r++) {
        if (!s->line_rule[r]) continue;
        if (!any++) fprintf(fp, "\nlines dropped, by rule:\n");
        line_rule_key(r, key, sizeof key);
        fprintf(fp, "  %-32s %10lld\n", key, (long long)s->line_rule[r]);
    }
    fprintf(fp, "\n");
    for (int i = 0; i < DATA_NCOUNTERS; i++)
        if (s->counter[i]) fprintf(fp, "  %-32s %10lld\n", data_counter_name(i), (long long)s->counter[i]);
}
