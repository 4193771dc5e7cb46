// report.h: one self-contained HTML file with inline SVG charts: no scripts,
// no fonts or styles fetched from anywhere, readable offline in any browser
// and in a mail attachment. Line charts (a metric against step, several runs
// overlaid), grouped bar charts (accuracy per problem set), histograms
// (response lengths), tables and text. Every piece of text is HTML-escaped.
// Used by `reasoner plot` and by `reasoner eval` for its report.html.
//
//   Report *r = report_new("GRPO run 3");
//   report_line_chart(r, "reward", "step", "mean reward", series, nseries);
//   report_write(r, "out/report.html", &err);
//   report_free(r);
//
// Not thread-safe per report.
#pragma once
#include "buf.h"
#include "err.h"

typedef struct Report Report;

// One line of a line chart: n points (x[i], y[i]). Non-finite y values break
// the line. Series longer than 2000 points are thinned to the min and max of
// 1000 buckets, which keeps spikes visible.
typedef struct ReportSeries {
    const char *name;
    const double *x, *y;
    int n;
} ReportSeries;

// title is copied. Never fails.
Report *report_new(const char *title);
void report_free(Report *r);  // NULL is fine

void report_heading(Report *r, const char *text);  // a section heading
void report_text(Report *r, const char *text);     // a paragraph
// A table: header has ncols cells, cells has nrows * ncols (row-major); NULL
// cells are empty.
void report_table(Report *r, const char *const *header, int ncols, const char *const *cells, int nrows);
void report_line_chart(Report *r, const char *title, const char *xlabel, const char *ylabel, const ReportSeries *series,
                       int nseries);
// Bars per group (e.g. problem set), one bar per series (e.g. run or metric).
// values[g * nseries + s]; NaN leaves a gap.
void report_bar_chart(Report *r, const char *title, const char *ylabel, const char *const *groups, int ngroups,
                      const char *const *series, int nseries, const double *values);
// Counts of values in nbins equal bins over their range (nbins <= 0: 30),
// with n, mean, median and max under the chart.
void report_histogram(Report *r, const char *title, const char *xlabel, const double *values, int n, int nbins);

// The whole document. Malloc'd.
char *report_html(const Report *r);
// Write the document atomically. Returns 0 or -1.
int report_write(const Report *r, const char *path, Err *e);

// Append text to b with & < > " ' escaped and control bytes other than
// newline and tab dropped (safe in element content and quoted attributes).
void report_escape(Buf *b, const char *text);
