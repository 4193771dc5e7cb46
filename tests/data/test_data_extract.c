// test_data_extract.c: HTML → main text on fixtures written here: nested
// boilerplate, entities, <br>, lists, tables, <pre>, link-heavy blocks,
// hidden elements, broken markup, pathological nesting, and the whole
// document path (charset → UTF-8, binary, invalid UTF-8).
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "data/pipeline.h"
#include "tests/test.h"

// Extract with the defaults; the result is a static buffer.
static const char *ex(const char *html) {
    static Buf out;
    DataRule r = data_extract_html(html, strlen(html), 0.5, 200000000, &out);
    return r ? "<removed>" : out.data ? out.data : "";
}

TEST(nested_boilerplate_is_dropped) {
    const char *html =
        "<!DOCTYPE html><html><head><title>Site</title><style>p{color:red}</style>"
        "<script>var tracking = 1;</script></head><body>"
        "<header><div class=\"logo\">ACME</div><nav><ul><li><a href=/>Home</a></li><li><a href=/b>Blog</a></li></ul></nav></header>"
        "<div class=\"page\"><div id=\"left-sidebar\"><h3>Archive</h3><p>Older posts live here.</p></div>"
        "<div class=\"content\"><h1>Baking bread at home</h1>"
        "<p>Good bread needs <b>time</b>, not effort.</p>"
        "<div class=\"cookie-banner\"><p>We use cookies to improve your experience.</p></div>"
        "<p>Mix flour and water, wait an hour, then add salt.</p>"
        "<form><label>Email</label><input name=e><button>Subscribe</button></form>"
        "<aside><p>Related: cakes</p></aside></div></div>"
        "<footer><p>Copyright 2024 ACME</p></footer><script>track()</script></body></html>";
    CHECK_STR_EQ(ex(html), "Baking bread at home\nGood bread needs time, not effort.\n"
                           "Mix flour and water, wait an hour, then add salt.");
}

TEST(main_and_article_are_the_content_root) {
    CHECK_STR_EQ(ex("<body><div>Menu text outside</div><main><h2>Inside main</h2><p>Body text.</p></main>"
                    "<div>Trailer outside</div></body>"),
                 "Inside main\nBody text.");
    CHECK_STR_EQ(ex("<body><p>Teaser</p><div role=\"main\"><p>The real content.</p></div></body>"), "The real content.");
    CHECK_STR_EQ(ex("<body><p>Chrome</p><article><header><h1>Title kept</h1></header><p>Story.</p></article></body>"),
                 "Title kept\nStory.");
    // two articles: a listing page, so the whole body counts
    CHECK_STR_EQ(ex("<body><article><p>One.</p></article><article><p>Two.</p></article></body>"), "One.\nTwo.");
}

TEST(entities_and_whitespace) {
    CHECK_STR_EQ(ex("<p>Fish &amp; chips &lt;3 &quot;yum&quot; caf&eacute; caf&#233; a&nbsp;b</p>"),
                 "Fish & chips <3 \"yum\" café café a b");
    CHECK_STR_EQ(ex("<p>  lots   of\n\n\t space   </p>"), "lots of space");
    CHECK_STR_EQ(ex("<p>UTF-8 stays: naïve 日本語 ✓</p>"), "UTF-8 stays: naïve 日本語 ✓");
}

TEST(br_and_block_lines) {
    CHECK_STR_EQ(ex("<p>first line<br>second line<br/>third</p>"), "first line\nsecond line\nthird");
    CHECK_STR_EQ(ex("<h1>Head</h1><h2>Sub</h2><p>Para <i>one</i>.</p><div>Div text</div><blockquote>Quote</blockquote>"),
                 "Head\nSub\nPara one.\nDiv text\nQuote");
    CHECK_STR_EQ(ex("<span>inline</span> <em>runs</em> join"), "inline runs join");
}

TEST(lists) {
    CHECK_STR_EQ(ex("<p>Steps:</p><ul><li>Mix the flour</li><li>Knead the dough <b>well</b></li></ul>"
                    "<ol><li>First</li><li>Second<ul><li>nested</li></ul></li></ol>"),
                 "Steps:\n- Mix the flour\n- Knead the dough well\n- First\n- Second\n- nested");
    CHECK_STR_EQ(ex("<dl><dt>Term</dt><dd>Its definition.</dd></dl>"), "Term\nIts definition.");
    CHECK_STR_EQ(ex("<ul><li></li><li>only one</li></ul>"), "- only one");
}

TEST(tables) {
    CHECK_STR_EQ(ex("<table><caption>Prices</caption><tr><th>Item</th><th>Cost</th></tr>"
                    "<tr><td>Bread</td><td>2 EUR</td></tr><tr><td><p>Butter</p></td><td></td><td>salted</td></tr></table>"),
                 "Prices\nItem | Cost\nBread | 2 EUR\nButter | salted");
}

TEST(pre_keeps_its_lines) {
    CHECK_STR_EQ(ex("<p>Example:</p><pre>def f(x):\n    return x + 1\n\nprint(f(2))</pre><p>Done.</p>"),
                 "Example:\ndef f(x):\n    return x + 1\nprint(f(2))\nDone.");
}

TEST(link_dense_blocks_are_dropped) {
    CHECK_STR_EQ(ex("<div><a href=1>Home</a> | <a href=2>News</a> | <a href=3>Sport</a></div>"
                    "<p>An article mentions <a href=x>one link</a> in a long sentence of ordinary prose.</p>"
                    "<ul><li><a href=a>Tag one</a></li><li><a href=b>Tag two</a></li></ul>"),
                 "An article mentions one link in a long sentence of ordinary prose.");
    // exactly half the text in links: not more than 0.5, kept
    CHECK_STR_EQ(ex("<p>abcd <a href=x>efgh</a></p>"), "abcd efgh");
    CHECK_STR_EQ(ex("<p>abc <a href=x>efgh</a></p>"), "");
}

TEST(hidden_and_classed_boilerplate) {
    CHECK_STR_EQ(ex("<p>Visible.</p><p hidden>Hidden attr.</p><p aria-hidden=\"true\">Aria.</p>"
                    "<p style=\"display: none\">Styled away.</p><div class=\"share-buttons social\">Share this</div>"
                    "<div id=\"breadcrumb\">Home &gt; Blog</div><div role=\"navigation\">Nav role</div>"
                    "<div class=\"advertisement\">Buy now</div><p>Also visible.</p>"),
                 "Visible.\nAlso visible.");
    // class tokens match whole: "navigation-free" content is not a nav
    CHECK_STR_EQ(ex("<div class=\"adventure\">Adventure story.</div>"), "Adventure story.");
}

TEST(broken_markup) {
    CHECK_STR_EQ(ex("<p>unclosed <b>bold <i>both</p><p>next paragraph"), "unclosed bold both\nnext paragraph");
    CHECK_STR_EQ(ex("<div><p>inside</div>after</p>"), "inside\nafter");
    CHECK_STR_EQ(ex("text before any tag<p>para</p></div></span>"), "text before any tag\npara");
    CHECK_STR_EQ(ex("<p>a < b and c > d &unknown; &amp</p>"), "a < b and c > d &unknown; &");
    CHECK_STR_EQ(ex("<ul><li>one<li>two</ul><table><tr><td>x<td>y</table>"), "- one\n- two\nx | y");
    CHECK_STR_EQ(ex("<!-- a comment <p>not text</p> --><p>real</p><script>document.write('<p>fake</p>')</script>"),
                 "real");
    CHECK_STR_EQ(ex(""), "");
    CHECK_STR_EQ(ex("<html><body></body></html>"), "");
}

TEST(pathological_nesting_is_refused_fast) {
    Buf b = {0};
    for (int i = 0; i < 100000; i++) buf_puts(&b, "<div>");  // Gumbo would take minutes
    buf_puts(&b, "text");
    int64_t depth;
    CHECK(data_html_cost(b.data, b.len, &depth) > 200000000);
    CHECK_EQ(depth, 100000);
    Buf out = {0};
    double t0 = rs_now();
    CHECK_EQ(data_extract_html(b.data, b.len, 0.5, 200000000, &out), DATA_R_EX_TOO_COMPLEX);
    CHECK(rs_now() - t0 < 1.0);
    // ordinary pages cost little: unclosed <p> and <li> do not nest
    const char *page = "<html><body><p>a<p>b<ul><li>x<li>y</ul><img src=a><br><script>if (a<b) {}</script></body></html>";
    CHECK(data_html_cost(page, strlen(page), &depth) < 100);
    CHECK_EQ(depth, 3);
    // a moderately deep page still extracts
    buf_clear(&b);
    for (int i = 0; i < 300; i++) buf_puts(&b, "<div>");
    buf_puts(&b, "deep text");
    CHECK_EQ(data_extract_html(b.data, b.len, 0.5, 200000000, &out), DATA_R_NONE);
    CHECK_STR_EQ(out.data, "deep text");
    buf_free(&b), buf_free(&out);
}

// ---------------------------------------------------------------------------
// the document path through the pipe

static DataRule run_doc(const char *body, size_t n, const char *charset, DataKind kind, Buf *text) {
    DataConfig c;
    data_config_default(&c);
    c.lang.enabled = c.gopher_rep.enabled = c.gopher_qual.enabled = c.c4.enabled = c.fineweb.enabled = 0;
    Err e;
    DataPipe *p = data_pipe_new(&c, &e);
    DataScratch *s = data_scratch_new();
    DataRecord rec = {.id = strdup("doc"), .url = strdup("http://example.com/a"), .kind = kind};
    rec.body = malloc(n + 1);
    memcpy(rec.body, body, n);
    rec.len = n;
    snprintf(rec.charset, sizeof rec.charset, "%s", charset);
    DataDocResult r = {0};
    data_pipe_process(p, &rec, &r, s);
    buf_clear(text);
    buf_append(text, r.text.data ? r.text.data : "", r.text.len);
    DataRule rule = r.removed;
    CHECK_EQ(r.stats.rule[rule], rule ? 1 : 0);
    data_doc_result_free(&r);
    data_record_clear(&rec);
    data_scratch_free(s);
    data_pipe_free(p);
    data_config_free(&c);
    return rule;
}

TEST(charsets_become_utf8) {
    Buf t = {0};
    const char latin1[] = "<p>caf\xe9 na\xefve \x80</p>";  // é ï in Latin-1, € in windows-1252
    CHECK_EQ(run_doc(latin1, sizeof latin1 - 1, "iso-8859-1", DATA_KIND_HTML, &t), DATA_R_NONE);
    CHECK_STR_EQ(t.data, "café naïve €");
    const char meta[] = "<meta charset=\"windows-1252\"><p>gr\xfc\xdf</p>";  // from <meta> when HTTP says nothing
    CHECK_EQ(run_doc(meta, sizeof meta - 1, "", DATA_KIND_HTML, &t), DATA_R_NONE);
    CHECK_STR_EQ(t.data, "grüß");
    const char sjis[] = "<p>\x93\xfa\x96\x7b</p>";  // 日本 in Shift_JIS
    CHECK_EQ(run_doc(sjis, sizeof sjis - 1, "shift_jis", DATA_KIND_HTML, &t), DATA_R_NONE);
    CHECK_STR_EQ(t.data, "日本");
    const char bom[] = "\xEF\xBB\xBF<p>bom</p>";
    CHECK_EQ(run_doc(bom, sizeof bom - 1, "", DATA_KIND_HTML, &t), DATA_R_NONE);
    CHECK_STR_EQ(t.data, "bom");
    buf_free(&t);
}

TEST(bad_bytes_are_skipped_with_a_reason) {
    Buf t = {0};
    const char bad[] = "<p>broken \xc3\x28 utf8</p>";
    CHECK_EQ(run_doc(bad, sizeof bad - 1, "", DATA_KIND_HTML, &t), DATA_R_IN_INVALID_UTF8);
    CHECK_EQ(run_doc(bad, sizeof bad - 1, "utf-8", DATA_KIND_HTML, &t), DATA_R_IN_INVALID_UTF8);
    CHECK_EQ(run_doc(bad, sizeof bad - 1, "x-no-such-charset", DATA_KIND_HTML, &t), DATA_R_IN_CHARSET);
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 2654435761u >> 13);
    CHECK_EQ(run_doc((const char *)junk, sizeof junk, "", DATA_KIND_HTML, &t), DATA_R_IN_BINARY);
    CHECK_EQ(run_doc("", 0, "", DATA_KIND_TEXT, &t), DATA_R_IN_EMPTY);
    CHECK_EQ(run_doc("<div><a href=x>only links</a></div>", 35, "", DATA_KIND_HTML, &t), DATA_R_EX_EMPTY);
    buf_free(&t);
}
