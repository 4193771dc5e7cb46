// progress.c: progress bar with rate and ETA, terminal or plain lines.
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

struct Progress {
    pthread_mutex_t mu;
    char label[64], unit[16], extra[128], aux_unit[16];
    double total, done, aux_done, aux_scale;
    double t0, last_draw;
    double interval;  // seconds between draws
    int tty;
};

Progress *progress_new(const char *label, double total, const char *unit) {
    Progress *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "it");
    p->total = total;
    p->t0 = rs_now();
    p->last_draw = p->t0;
    p->tty = isatty(STDERR_FILENO);
    const char *env = getenv("REASONER_PROGRESS_SECS");
    p->interval = p->tty ? 0.1 : (env ? atof(env) : 10.0);
    return p;
}

void progress_fmt_duration(double secs, char *out) {
    if (secs < 0 || secs > 1e7) {
        snprintf(out, 16, "?");
        return;
    }
    long s = (long)(secs + 0.5);
    if (s >= 3600) snprintf(out, 16, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(out, 16, "%ld:%02ld", s / 60, s % 60);
}

static void fmt_rate(double rate, char *out, size_t n) {
    if (rate >= 1e6) snprintf(out, n, "%.2fM", rate / 1e6);
    else if (rate >= 1e4) snprintf(out, n, "%.1fk", rate / 1e3);
    else snprintf(out, n, "%.1f", rate);
}

static void draw(Progress *p, int final) {
    double now = rs_now(), el = now - p->t0;
    double rate = el > 0 ? p->done / el : 0;
    char line[512], r[32], elapsed[16], eta[16];
    fmt_rate(rate, r, sizeof r);
    progress_fmt_duration(el, elapsed);
    int n = snprintf(line, sizeof line, "%s", p->label);
    if (p->total > 0) {
        double frac = RS_MIN(1.0, p->done / p->total);
        char bar[26];
        int fill = (int)(frac * 24 + 0.5);
        for (int i = 0; i < 24; i++) bar[i] = i < fill ? '#' : '-';
        bar[24] = 0;
        progress_fmt_duration(rate > 0 ? (p->total - p->done) / rate : -1, eta);
        n += snprintf(line + n, sizeof line - n, " [%s] %3.0f%% %.0f/%.0f %s", bar, 100 * frac, p->done,
                      p->total, p->unit);
        n += snprintf(line + n, sizeof line - n, " %s %s/s %s %s", r, p->unit, final ? "in" : "ETA",
                      final ? elapsed : eta);
    } else {
        n += snprintf(line + n, sizeof line - n, " %.0f %s %s %s/s %s", p->done, p->unit, r, p->unit, elapsed);
    }
    if (p->aux_unit[0] && el > 0) {
        fmt_rate(p->aux_done / el / p->aux_scale, r, sizeof r);
        n += snprintf(line + n, sizeof line - n, " %s %s/s", r, p->aux_unit);
    }
    if (p->extra[0]) snprintf(line + n, sizeof line - n, " | %s", p->extra);
    if (p->tty) fprintf(stderr, "\r\033[2K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
    p->last_draw = now;
}

static void maybe_draw(Progress *p) {
    if (rs_now() - p->last_draw >= p->interval) draw(p, 0);
}

void progress_set(Progress *p, double done, const char *extra) {
    pthread_mutex_lock(&p->mu);
    p->done = done;
    if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
    maybe_draw(p);
    pthread_mutex_unlock(&p->mu);
}

void progress_add(Progress *p, double delta) {
    pthread_mutex_lock(&p->mu);
    p->done += delta;
    maybe_draw(p);
    pthread_mutex_unlock(&p->mu);
}

void progress_set_total(Progress *p, double total) {
    pthread_mutex_lock(&p->mu);
    p->total = total;
    pthread_mutex_unlock(&p->mu);
}

void progress_set_aux(Progress *p, double aux_done, const char *aux_unit, double aux_scale) {
    pthread_mutex_lock(&p->mu);
    p->aux_done = aux_done;
    snprintf(p->aux_unit, sizeof p->aux_unit, "%s", aux_unit);
    p->aux_scale = aux_scale > 0 ? aux_scale : 1;
    pthread_mutex_unlock(&p->mu);
}

void progress_finish(Progress *p) {
    if (!p) return;
    draw(p, 1);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
