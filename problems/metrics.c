// metrics.c: avg@k, unbiased pass@k, maj@k, lengths and truncation over K
// samples per problem (metrics.h says what each one means).
#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"

double problems_pass_at_k(int n, int c, int k) {
    RS_CHECK(n >= 0 && c >= 0 && c <= n && k >= 1);
    if (c == 0) return 0.0;
    if (n - c < k) return 1.0;  // every k-subset holds a correct sample (also k > n)
    double none = 1.0;          // C(n-c, k) / C(n, k), a product of terms in (0, 1)
    for (int i = n - c + 1; i <= n; i++) none *= 1.0 - (double)k / i;
    return 1.0 - none;
}

int problems_ks(int K, int *ks, int max) {
    int n = 0;
    for (long k = 1; k <= K && n < max; k *= 2) ks[n++] = (int)k;
    if (n < max && K >= 1 && ks[n - 1] != K) ks[n++] = K;
    return n;
}

// ---- normalising answers for the vote --------------------------------------------

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// Past the brace group opening at s[0] == '{'; NULL when it never closes.
static const char *group_close(const char *s) {
    int depth = 0;
    for (; *s; s++) {
        if (*s == '{') depth++;
        else if (*s == '}' && --depth == 0) return s;
    }
    return NULL;
}

// s without its wrappers: surrounding whitespace, $...$, \boxed{...}.
static char *unwrap(const char *s) {
    size_t n = strlen(s);
    for (;;) {
        while (n && isspace((unsigned char)*s)) s++, n--;
        while (n && isspace((unsigned char)s[n - 1])) n--;
        if (n >= 2 && s[0] == '$' && s[n - 1] == '$') {
            s++, n -= 2;
            continue;
        }
        if (starts(s, "\\boxed{") && s[n - 1] == '}') {
            const char *close = group_close(s + 6);
            if (close == s + n - 1) {
                s += 7, n -= 8;
                continue;
            }
        }
        return xstrndup(s, n);
    }
}

// A plain decimal ("+1,234.50") in canonical form ("1234.5"); 0 if s is not one.
static int canonical_number(const char *s, Buf *out) {
    const char *p = s;
    int neg = *p == '-';
    if (*p == '+' || *p == '-') p++;
    Buf ip = {0}, fp = {0};
    buf_puts(&ip, ""), buf_puts(&fp, "");
    int group = 0, commas = 0, ok = 1;
    for (; isdigit((unsigned char)*p) || *p == ','; p++) {
        if (*p == ',') {
            ok &= (commas ? group == 3 : group >= 1 && group <= 3);
            commas = 1, group = 0;
        } else {
            buf_putc(&ip, *p), group++;
        }
    }
    ok &= !commas || group == 3;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) buf_putc(&fp, *p);
    ok &= *p == 0 && ip.len + fp.len > 0;
    if (ok) {
        const char *i = ip.data;
        while (*i == '0' && i[1]) i++;
        while (fp.len && fp.data[fp.len - 1] == '0') fp.data[--fp.len] = 0;
        int zero = strcmp(i, "0") == 0 && fp.len == 0;
        buf_printf(out, "%s%s%s%s", neg && !zero ? "-" : "", *i ? i : "0", fp.len ? "." : "", fp.data);
    }
    buf_free(&ip), buf_free(&fp);
    return ok;
}

char *problems_normalize_answer(const char *s) {
    static const char *dropped[] = {"\\left", "\\right", "\\,", "\\!", "\\;", "\\:", "\\ ", "^\\circ", "^{\\circ}",
                                    "\\circ", "\\displaystyle"};
    static const char *text_cmds[] = {"\\text{", "\\textbf{", "\\mathrm{", "\\mbox{"};
    char *t = unwrap(s);
    Buf b = {0};
    buf_puts(&b, "");
    for (const char *p = t; *p;) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        int done = 0;
        for (size_t i = 0; i < RS_ARRAY_LEN(dropped) && !done; i++)
            if (starts(p, dropped[i]) && !(isalpha((unsigned char)dropped[i][strlen(dropped[i]) - 1]) &&
                                            isalpha((unsigned char)p[strlen(dropped[i])])))
                p += strlen(dropped[i]), done = 1;
        // \text{cm} -> cm: the braces go, the content stays (spaces dropped on the way).
        for (size_t i = 0; i < RS_ARRAY_LEN(text_cmds) && !done; i++) {
            size_t n = strlen(text_cmds[i]);
            if (starts(p, text_cmds[i]) && group_close(p + n - 1)) {
                const char *close = group_close(p + n - 1);
                for (const char *q = p + n; q < close; q++)
                    if (!isspace((unsigned char)*q)) buf_putc(&b, *q);
                p = close + 1, done = 1;
            }
        }
        if (!done && (starts(p, "\\dfrac") || starts(p, "\\tfrac"))) buf_puts(&b, "\\frac"), p += 6, done = 1;
        if (!done) buf_putc(&b, *p++);
    }
    free(t);
    while (b.len && b.data[b.len - 1] == '.') b.data[--b.len] = 0;
    Buf num = {0};
    if (canonical_number(b.data, &num)) {
        buf_free(&b);
        return buf_take(&num);
    }
    buf_free(&num);
    return buf_take(&b);
}

int problems_majority(const char *const *answers, int n) {
    if (!answers || n <= 0) return -1;
    char **norm = xcalloc((size_t)n, sizeof *norm);
    for (int i = 0; i < n; i++)
        if (answers[i] && answers[i][0]) norm[i] = problems_normalize_answer(answers[i]);
    // O(n^2) over at most a few hundred samples: simpler than hashing.
    int best = -1, best_count = 0;
    for (int i = 0; i < n; i++) {
        if (!norm[i] || !norm[i][0]) continue;
        int first = 1, count = 0;
        for (int j = 0; j < n && first; j++)
            if (j < i && norm[j] && strcmp(norm[j], norm[i]) == 0) first = 0;
        if (!first) continue;
        for (int j = i; j < n; j++) count += norm[j] && strcmp(norm[j], norm[i]) == 0;
        if (count > best_count) best = i, best_count = count;  // strict: ties keep the earlier answer
    }
    for (int i = 0; i < n; i++) free(norm[i]);
    free(norm);
    return best;
}

// ---- over a set ----------------------------------------------------------------------------

void problems_eval_metrics(const ProblemSamples *probs, int n_problems, EvalMetrics *out) {
    memset(out, 0, sizeof *out);
    out->n_problems = n_problems;
    for (int p = 0; p < n_problems; p++) out->k = RS_MAX(out->k, probs[p].n);
    out->n_ks = out->k ? problems_ks(out->k, out->ks, PROBLEMS_MAX_KS) : 0;
    double acc_sum = 0, acc_sq = 0, len_sum = 0;
    long n_len = 0, n_trunc_flags = 0, n_trunc = 0;
    for (int p = 0; p < n_problems; p++) {
        const ProblemSamples *ps = &probs[p];
        int c = 0;
        for (int i = 0; i < ps->n; i++) {
            c += ps->correct[i] != 0;
            if (ps->lengths) len_sum += ps->lengths[i], n_len++;
            if (ps->truncated) n_trunc += ps->truncated[i] != 0, n_trunc_flags++;
        }
        out->n_samples += ps->n;
        double acc = ps->n ? (double)c / ps->n : 0.0;
        acc_sum += acc, acc_sq += acc * acc;
        for (int j = 0; j < out->n_ks; j++) {
            int k = out->ks[j];
            if (ps->n) out->pass_at[j] += problems_pass_at_k(ps->n, c, k);
            int win = problems_majority(ps->answers, RS_MIN(k, ps->n));
            out->maj_at[j] += win >= 0 && ps->correct[win];
        }
    }
    if (n_problems) {
        out->avg_at_k = acc_sum / n_problems;
        double var = n_problems > 1 ? (acc_sq - acc_sum * acc_sum / n_problems) / (n_problems - 1) : 0.0;
        out->avg_stderr = sqrt(var > 0 ? var : 0) / sqrt((double)n_problems);
        for (int j = 0; j < out->n_ks; j++) out->pass_at[j] /= n_problems, out->maj_at[j] /= n_problems;
    }
    out->mean_length = n_len ? len_sum / n_len : 0.0;
    out->truncated_share = n_trunc_flags ? (double)n_trunc / n_trunc_flags : 0.0;
}

cJSON *problems_eval_metrics_json(const EvalMetrics *m) {
    cJSON *j = cJSON_CreateObject();
    char key[32];
    cJSON_AddNumberToObject(j, "n_problems", m->n_problems);
    cJSON_AddNumberToObject(j, "n_samples", (double)m->n_samples);
    snprintf(key, sizeof key, "avg@%d", m->k);
    cJSON_AddNumberToObject(j, key, m->avg_at_k);
    cJSON_AddNumberToObject(j, "avg_stderr", m->avg_stderr);
    for (int i = 0; i < m->n_ks; i++) {
        snprintf(key, sizeof key, "pass@%d", m->ks[i]);
        cJSON_AddNumberToObject(j, key, m->pass_at[i]);
    }
    for (int i = 0; i < m->n_ks; i++) {
        snprintf(key, sizeof key, "maj@%d", m->ks[i]);
        cJSON_AddNumberToObject(j, key, m->maj_at[i]);
    }
    cJSON_AddNumberToObject(j, "mean_length", m->mean_length);
    cJSON_AddNumberToObject(j, "truncated_share", m->truncated_share);
    return j;
}
