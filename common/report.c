// report.c: HTML + inline SVG charts (report.h). Charts are drawn in a fixed
// viewBox and scale with the page; axes get "nice" ticks (1, 2, 5 x 10^k).
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "fsutil.h"

struct Report {
    char *title;
    Buf body;
};

// Chart geometry (SVG user units).
enum { W = 720, H = 360, ML = 70, MR = 20, MT = 34, MB = 50 };
#define THIN_ABOVE 2000
#define THIN_BUCKETS 1000

// The matplotlib/tab10 palette: distinct, and readable by most colour-blind readers.
static const char *palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *color(int i) { return palette[i % (int)RS_ARRAY_LEN(palette)]; }

void report_escape(Buf *b, const char *text) {
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        switch (*p) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default:
            if (*p >= 0x20 || *p == '\n' || *p == '\t') buf_putc(b, (char)*p);
        }
    }
}

Report *report_new(const char *title) {
    Report *r = xcalloc(1, sizeof *r);
    r->title = xstrdup(title ? title : "report");
    buf_puts(&r->body, "");
    return r;
}

void report_free(Report *r) {
    if (!r) return;
    free(r->title);
    buf_free(&r->body);
    free(r);
}

void report_heading(Report *r, const char *text) {
    buf_puts(&r->body, "<h2>");
    report_escape(&r->body, text);
    buf_puts(&r->body, "</h2>\n");
}

void report_text(Report *r, const char *text) {
    buf_puts(&r->body, "<p>");
    report_escape(&r->body, text);
    buf_puts(&r->body, "</p>\n");
}

void report_table(Report *r, const char *const *header, int ncols, const char *const *cells, int nrows) {
    Buf *b = &r->body;
    buf_puts(b, "<table>\n<tr>");
    for (int c = 0; c < ncols; c++) {
        buf_puts(b, "<th>");
        report_escape(b, header[c]);
        buf_puts(b, "</th>");
    }
    buf_puts(b, "</tr>\n");
    for (int i = 0; i < nrows; i++) {
        buf_puts(b, "<tr>");
        for (int c = 0; c < ncols; c++) {
            buf_puts(b, "<td>");
            report_escape(b, cells[(size_t)i * ncols + c]);
            buf_puts(b, "</td>");
        }
        buf_puts(b, "</tr>\n");
    }
    buf_puts(b, "</table>\n");
}

// ---- axes --------------------------------------------------------------------------------

typedef struct Axis {
    double lo, hi, step;  // data range, widened to whole ticks
} Axis;

typedef struct Frame {
    Axis x, y;
} Frame;

// A range narrower than a float's resolution at its values (a constant
// series after smoothing differs only in the last bits) counts as flat: a
// tick step below that resolution would never advance.
static Axis nice_axis(double lo, double hi) {
    Axis a;
    if (!(hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)))) {
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    a.step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

static int ticks(const Axis *a) { return (int)fmin(50, floor((a->hi - a->lo) / a->step + 1e-6)); }

static double px(const Frame *f, double x) { return ML + (x - f->x.lo) / (f->x.hi - f->x.lo) * (W - ML - MR); }
static double py(const Frame *f, double y) { return H - MB - (y - f->y.lo) / (f->y.hi - f->y.lo) * (H - MT - MB); }

static void tick_label(char *out, size_t n, double v, double step) {
    double a = fmax(fabs(v), step);
    if (fabs(v) < step * 1e-6) snprintf(out, n, "0");
    else if (a >= 1e6) snprintf(out, n, "%gM", v / 1e6);
    else if (a >= 1e4) snprintf(out, n, "%gk", v / 1e3);
    else snprintf(out, n, "%.*f", step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9), v);
}

static void svg_open(Buf *b, const char *title) {
    buf_printf(b, "<figure>\n<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"", W, H, W, H);
    report_escape(b, title);
    buf_puts(b, "\">\n<text class=\"title\" x=\"10\" y=\"20\">");
    report_escape(b, title);
    buf_puts(b, "</text>\n");
}

// Grid lines with tick labels on both axes (x ticks only when numeric), and the axis labels.
static void svg_axes(Buf *b, const Frame *f, int x_ticks, const char *xlabel, const char *ylabel) {
    char s[64];
    for (int i = 0, n = ticks(&f->y); i <= n; i++) {
        double v = f->y.lo + i * f->y.step;
        tick_label(s, sizeof s, v, f->y.step);
        buf_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", ML, py(f, v), W - MR, py(f, v));
        buf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6, py(f, v) + 4, s);
    }
    for (int i = 0, n = x_ticks ? ticks(&f->x) : -1; i <= n; i++) {
        double v = f->x.lo + i * f->x.step;
        tick_label(s, sizeof s, v, f->x.step);
        buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px(f, v), MT, px(f, v), H - MB);
        buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px(f, v), H - MB + 16, s);
    }
    buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", ML, H - MB, W - MR, H - MB);
    buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT, ML, H - MB);
    buf_printf(b, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 10);
    report_escape(b, xlabel);
    buf_printf(b, "</text>\n<text class=\"label\" transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">",
               (MT + H - MB) / 2);
    report_escape(b, ylabel);
    buf_puts(b, "</text>\n");
}

static void svg_close(Buf *b, const char *const *names, int n) {
    buf_puts(b, "</svg>\n");
    if (names && n > 0) {
        buf_puts(b, "<figcaption>");
        for (int i = 0; i < n; i++) {
            buf_printf(b, "<span class=\"key\"><span class=\"swatch\" style=\"background:%s\"></span>", color(i));
            report_escape(b, names[i]);
            buf_puts(b, "</span> ");
        }
        buf_puts(b, "</figcaption>");
    }
    buf_puts(b, "</figure>\n");
}

static void svg_message(Buf *b, const char *msg) {
    buf_printf(b, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", W / 2, H / 2);
    report_escape(b, msg);
    buf_puts(b, "</text>\n");
}

// ---- line charts -----------------------------------------------------------------------------

// Points to draw: all of them, or per bucket its lowest and highest (in x order).
static int thin_points(const ReportSeries *s, double *ox, double *oy) {
    if (s->n <= THIN_ABOVE) {
        memcpy(ox, s->x, sizeof(double) * (size_t)s->n);
        memcpy(oy, s->y, sizeof(double) * (size_t)s->n);
        return s->n;
    }
    int k = 0;
    for (int bkt = 0; bkt < THIN_BUCKETS; bkt++) {
        int i0 = (int)((long)s->n * bkt / THIN_BUCKETS), i1 = (int)((long)s->n * (bkt + 1) / THIN_BUCKETS);
        int lo = -1, hi = -1;
        for (int i = i0; i < i1; i++) {
            if (!isfinite(s->y[i])) continue;
            if (lo < 0 || s->y[i] < s->y[lo]) lo = i;
            if (hi < 0 || s->y[i] > s->y[hi]) hi = i;
        }
        if (lo < 0) continue;
        int a = RS_MIN(lo, hi), c = RS_MAX(lo, hi);
        ox[k] = s->x[a], oy[k++] = s->y[a];
        if (c != a) ox[k] = s->x[c], oy[k++] = s->y[c];
    }
    return k;
}

// One series: polylines between gaps, a dot where a point stands alone or
// the series is short, and the values as hover titles on the dots.
static void svg_series(Buf *b, const Frame *f, const ReportSeries *s, const double *x, const double *y, int n, int ci) {
    int dots = n <= 60;
    for (int i = 0; i < n;) {
        if (!isfinite(y[i]) || !isfinite(x[i])) {
            i++;
            continue;
        }
        int j = i;
        while (j < n && isfinite(y[j]) && isfinite(x[j])) j++;
        if (j - i > 1) {
            buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", color(ci));
            for (int k = i; k < j; k++) buf_printf(b, "%s%.1f,%.1f", k > i ? " " : "", px(f, x[k]), py(f, y[k]));
            buf_puts(b, "\"/>\n");
        }
        for (int k = i; k < j && (dots || j - i == 1); k++) {
            buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", px(f, x[k]), py(f, y[k]), color(ci));
            report_escape(b, s->name);
            buf_printf(b, ": %g, %g</title></circle>\n", x[k], y[k]);
        }
        i = j;
    }
}

void report_line_chart(Report *r, const char *title, const char *xlabel, const char *ylabel, const ReportSeries *series,
                       int nseries) {
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (int s = 0; s < nseries; s++)
        for (int i = 0; i < series[s].n; i++) {
            if (!isfinite(series[s].x[i]) || !isfinite(series[s].y[i])) continue;
            xl = fmin(xl, series[s].x[i]), xh = fmax(xh, series[s].x[i]);
            yl = fmin(yl, series[s].y[i]), yh = fmax(yh, series[s].y[i]);
        }
    Buf *b = &r->body;
    svg_open(b, title);
    const char **names = xcalloc((size_t)RS_MAX(nseries, 1), sizeof *names);
    for (int s = 0; s < nseries; s++) names[s] = series[s].name;
    if (xl > xh) {
        svg_message(b, "no data");
    } else {
        Frame f = {nice_axis(xl, xh), nice_axis(yl, yh)};
        svg_axes(b, &f, 1, xlabel, ylabel);
        for (int s = 0; s < nseries; s++) {
            int cap = RS_MAX(series[s].n, 1);
            double *x = xmalloc(sizeof(double) * (size_t)cap), *y = xmalloc(sizeof(double) * (size_t)cap);
            int n = thin_points(&series[s], x, y);
            svg_series(b, &f, &series[s], x, y, n, s);
            free(x), free(y);
        }
    }
    svg_close(b, names, nseries);
    free(names);
}

// ---- bars and histograms ---------------------------------------------------------------------

static void svg_bar(Buf *b, const Frame *f, double x0, double width, double v, int ci, const char *tip) {
    double base = py(f, fmax(f->y.lo, fmin(0, f->y.hi))), top = py(f, v);
    buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x0, fmin(base, top), width,
               fabs(base - top), color(ci));
    report_escape(b, tip);
    buf_puts(b, "</title></rect>\n");
}

void report_bar_chart(Report *r, const char *title, const char *ylabel, const char *const *groups, int ngroups,
                      const char *const *series, int nseries, const double *values) {
    double lo = 0, hi = 0;
    int any = 0;
    for (int i = 0; i < ngroups * nseries; i++)
        if (isfinite(values[i])) lo = fmin(lo, values[i]), hi = fmax(hi, values[i]), any = 1;
    Buf *b = &r->body;
    svg_open(b, title);
    if (!any) {
        svg_message(b, "no data");
        svg_close(b, series, nseries);
        return;
    }
    Frame f = {{0, 1, 1}, nice_axis(lo, hi)};
    svg_axes(b, &f, 0, "", ylabel);
    double gw = (double)(W - ML - MR) / ngroups, bw = gw * 0.8 / nseries;
    for (int g = 0; g < ngroups; g++) {
        double gx = ML + g * gw;
        for (int s = 0; s < nseries; s++) {
            double v = values[g * nseries + s];
            if (!isfinite(v)) continue;
            Buf t = {0};
            buf_printf(&t, "%s / %s: %g", groups[g], series[s], v);
            double x0 = gx + gw * 0.1 + s * bw;
            svg_bar(b, &f, x0, bw - 1, v, s, t.data);
            buf_free(&t);
            if (bw >= 22)
                buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", x0 + bw / 2,
                           py(&f, v) - 4, v);
        }
        buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", gx + gw / 2, H - MB + 16);
        report_escape(b, groups[g]);
        buf_puts(b, "</text>\n");
    }
    svg_close(b, series, nseries);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void report_histogram(Report *r, const char *title, const char *xlabel, const double *values, int n, int nbins) {
    if (nbins <= 0) nbins = 30;
    double *v = xmalloc(sizeof(double) * (size_t)RS_MAX(n, 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i])) v[m++] = values[i];
    Buf *b = &r->body;
    svg_open(b, title);
    if (m == 0) {
        svg_message(b, "no data");
        svg_close(b, NULL, 0);
        free(v);
        return;
    }
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    double lo = v[0], hi = v[m - 1], sum = 0;
    if (hi == lo) hi = lo + 1;
    int *count = xcalloc((size_t)nbins, sizeof *count), top = 0;
    for (int i = 0; i < m; i++) {
        int k = (int)((v[i] - lo) / (hi - lo) * nbins);
        count[RS_MIN(k, nbins - 1)]++;
        sum += v[i];
    }
    for (int k = 0; k < nbins; k++) top = RS_MAX(top, count[k]);
    Frame f = {nice_axis(lo, hi), nice_axis(0, top)};
    svg_axes(b, &f, 1, xlabel, "count");
    double w = (hi - lo) / nbins;
    for (int k = 0; k < nbins; k++) {
        if (!count[k]) continue;
        char tip[96];
        snprintf(tip, sizeof tip, "[%g, %g): %d", lo + k * w, lo + (k + 1) * w, count[k]);
        double x0 = px(&f, lo + k * w);
        svg_bar(b, &f, x0, fmax(px(&f, lo + (k + 1) * w) - x0 - 1, 1), count[k], 0, tip);
    }
    buf_puts(b, "</svg>\n<figcaption>");
    buf_printf(b, "n = %d, mean = %.4g, median = %.4g, max = %.4g", m, sum / m, v[m / 2], v[m - 1]);
    buf_puts(b, "</figcaption></figure>\n");
    free(count), free(v);
}

// ---- the document ------------------------------------------------------------------------------

static const char *style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}"
    "figure{margin:1em 0}svg{max-width:100%;height:auto;background:#fff}"
    "svg text{font-family:inherit}.title{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#555}"
    ".label{font-size:12px;fill:#333}.grid{stroke:#eee}.axis{stroke:#888}"
    "figcaption{font-size:13px;color:#444}.key{margin-right:1.2em;white-space:nowrap}"
    ".swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
    "th{background:#f5f5f5}";

char *report_html(const Report *r) {
    Buf b = {0};
    buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    report_escape(&b, r->title);
    buf_printf(&b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    report_escape(&b, r->title);
    buf_puts(&b, "</h1>\n");
    buf_append(&b, r->body.data, r->body.len);
    buf_puts(&b, "</body>\n</html>\n");
    return buf_take(&b);
}

int report_write(const Report *r, const char *path, Err *e) {
    char *html = report_html(r);
    int rc = fs_write_atomic(path, html, strlen(html), e);
    free(html);
    return rc;
}
