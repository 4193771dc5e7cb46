// test_report.c: the HTML report is one self-contained document (no scripts,
// nothing fetched), escapes every text, and draws the data it is given: the
// polyline points follow the data, bars have heights in proportion, a
// histogram counts its bins.
#include <math.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/report.h"
#include "tests/test.h"

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

// The points of the i-th polyline as (x, y) pairs; returns how many.
static int polyline_points(const char *html, int which, double *x, double *y, int max) {
    const char *p = html;
    for (int i = 0; i <= which; i++) {
        p = strstr(p, "<polyline");
        if (!p) return -1;
        p++;
    }
    p = strstr(p, "points=\"");
    if (!p) return -1;
    p += 8;
    int n = 0;
    while (*p != '"' && n < max) {
        char *end;
        x[n] = strtod(p, &end);
        if (*end != ',') return -1;
        y[n] = strtod(end + 1, &end);
        n++;
        p = end;
        while (*p == ' ') p++;
    }
    return n;
}

static void check_self_contained(const char *html) {
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK_CONTAINS(html, "<meta charset=\"utf-8\">");
    CHECK_CONTAINS(html, "</html>\n");
    CHECK(!strstr(html, "<script"));
    CHECK(!strstr(html, "http:"));
    CHECK(!strstr(html, "https:"));
    CHECK(!strstr(html, "src="));
    CHECK(!strstr(html, "url("));
    CHECK(!strstr(html, "@import"));
    CHECK(!strstr(html, "<link"));
}

TEST(line_chart_draws_the_data) {
    Report *r = report_new("run <1> & \"friends\"");
    double x[] = {0, 1, 2}, y[] = {0, 1, 4}, y2[] = {4, 1, 0};
    ReportSeries s[] = {{"alpha<script>", x, y, 3}, {"beta", x, y2, 3}};
    report_line_chart(r, "loss 'train'", "step", "loss", s, 2);
    char *html = report_html(r);
    check_self_contained(html);
    CHECK_CONTAINS(html, "<title>run &lt;1&gt; &amp; &quot;friends&quot;</title>");
    CHECK_CONTAINS(html, "alpha&lt;script&gt;");
    CHECK_CONTAINS(html, "loss &#39;train&#39;");
    CHECK(!strstr(html, "alpha<script>"));
    CHECK_EQ(count_of(html, "<polyline"), 2);
    CHECK_CONTAINS(html, "<svg viewBox=");
    double px[8], py[8];
    REQUIRE(polyline_points(html, 0, px, py, 8) == 3);
    CHECK_NEAR(px[1] - px[0], px[2] - px[1], 0.11);  // equal steps in x
    CHECK(px[1] > px[0]);
    CHECK(py[0] > py[1] && py[1] > py[2]);           // up is smaller y in SVG
    CHECK_NEAR((py[0] - py[1]) / (py[0] - py[2]), 0.25, 0.01);
    double qx[8], qy[8];
    REQUIRE(polyline_points(html, 1, qx, qy, 8) == 3);
    CHECK_NEAR(qy[0], py[2], 0.01);  // one scale for both runs
    CHECK_NEAR(qy[2], py[0], 0.01);
    // Each series its own colour.
    const char *p1 = strstr(html, "<polyline"), *p2 = strstr(p1 + 1, "<polyline");
    CHECK(strncmp(strstr(p1, "stroke="), strstr(p2, "stroke="), 16) != 0);
    free(html);
    report_free(r);
}

TEST(gaps_and_lone_points) {
    Report *r = report_new("t");
    double x[] = {0, 1, 2, 3, 4}, y[] = {1, NAN, 3, 4, 5};
    ReportSeries s = {"a", x, y, 5};
    report_line_chart(r, "gappy", "step", "v", &s, 1);
    char *html = report_html(r);
    CHECK_EQ(count_of(html, "<polyline"), 1);  // 2..4 joined; 0 alone
    double px[8], py[8];
    CHECK_EQ(polyline_points(html, 0, px, py, 8), 3);
    CHECK(count_of(html, "<circle") >= 1);
    free(html);
    report_free(r);
    r = report_new("t");
    report_line_chart(r, "empty", "step", "v", &s, 0);
    html = report_html(r);
    CHECK_CONTAINS(html, "no data");
    free(html);
    report_free(r);
}

// A series that is constant but for the last bits (a flat one after
// smoothing) draws as flat, with a handful of ticks, instead of stepping by
// less than its values' resolution forever.
TEST(nearly_constant_series_has_finite_ticks) {
    Report *r = report_new("t");
    double x[] = {0, 1, 2}, y[] = {48, 48.000000000000007, 47.999999999999993};
    ReportSeries s = {"a", x, y, 3};
    report_line_chart(r, "flat", "step", "v", &s, 1);
    char *html = report_html(r);
    int n = count_of(html, "class=\"tick\"");
    CHECK_MSG(n > 2 && n < 30, "%d ticks", n);
    CHECK_CONTAINS(html, ">48<");
    free(html);
    report_free(r);
}

TEST(long_series_thinned_spike_kept) {
    int n = 20000;
    double *x = malloc(sizeof(double) * n), *y = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) x[i] = i, y[i] = (i == 12345) ? 100 : sin(i * 0.01);
    Report *r = report_new("t");
    ReportSeries s = {"a", x, y, n};
    report_line_chart(r, "long", "step", "v", &s, 1);
    char *html = report_html(r);
    double *px = malloc(sizeof(double) * n), *py = malloc(sizeof(double) * n);
    int k = polyline_points(html, 0, px, py, n);
    CHECK(k > 500 && k <= 2000);
    double top = 1e9, second = 1e9;
    for (int i = 0; i < k; i++) {
        if (py[i] < top) second = top, top = py[i];
        else if (py[i] < second) second = py[i];
    }
    CHECK(second - top > 100);  // the spike stands far above everything else
    CHECK(strlen(html) < 200000);
    free(html), free(px), free(py), free(x), free(y);
    report_free(r);
}

TEST(bar_chart_heights_in_proportion) {
    Report *r = report_new("t");
    const char *groups[] = {"gsm8k", "aime<24>"}, *series[] = {"avg@16", "maj@16"};
    double v[] = {0.5, 0.25, 0.125, NAN};
    report_bar_chart(r, "accuracy", "accuracy", groups, 2, series, 2, v);
    char *html = report_html(r);
    check_self_contained(html);
    CHECK_EQ(count_of(html, "<rect"), 3);
    CHECK_CONTAINS(html, "aime&lt;24&gt;");
    double h[3];
    const char *p = html;
    for (int i = 0; i < 3; i++) {
        p = strstr(p, "<rect");
        REQUIRE(p);
        const char *hp = strstr(p, "height=\"");
        REQUIRE(hp);
        h[i] = strtod(hp + 8, NULL);
        p++;
    }
    CHECK_NEAR(h[0] / h[1], 2.0, 0.02);
    CHECK_NEAR(h[0] / h[2], 4.0, 0.05);
    free(html);
    report_free(r);
}

TEST(histogram_counts) {
    double v[100];
    for (int i = 0; i < 100; i++) v[i] = i;
    Report *r = report_new("t");
    report_histogram(r, "lengths", "tokens", v, 100, 10);
    char *html = report_html(r);
    CHECK_EQ(count_of(html, "<rect"), 10);
    CHECK_EQ(count_of(html, "): 10</title>"), 10);
    CHECK_CONTAINS(html, "n = 100, mean = 49.5");
    free(html);
    report_free(r);
}

TEST(table_text_and_atomic_write) {
    Report *r = report_new("t");
    report_heading(r, "Runs & <sets>");
    report_text(r, "a\x01" "b");
    const char *header[] = {"run", "acc"}, *cells[] = {"a<b", "0.5", NULL, "1"};
    report_table(r, header, 2, cells, 2);
    char *html = report_html(r);
    CHECK_CONTAINS(html, "<h2>Runs &amp; &lt;sets&gt;</h2>");
    CHECK_CONTAINS(html, "<p>ab</p>");
    CHECK_CONTAINS(html, "<td>a&lt;b</td><td>0.5</td>");
    CHECK_CONTAINS(html, "<tr><td></td><td>1</td></tr>");
    Err e = {0};
    const char *path = test_path("report.html");
    REQUIRE(report_write(r, path, &e) == 0);
    char *back;
    size_t n;
    REQUIRE(fs_read_all(path, &back, &n, &e) == 0);
    CHECK_STR_EQ(back, html);
    CHECK(report_write(r, "/nonexistent-dir/x/report.html", &e) != 0);
    free(back), free(html);
    report_free(r);
    report_free(NULL);
}
