// data_extract.c: the main text of an HTML page, the way trafilatura
// extracts it for FineWeb, on the Gumbo HTML5 parser. The page's content
// root is <main> (or role="main"), else its single <article>, else <body>.
// Dropped: script, style, nav, footer, aside, forms, media, page headers,
// hidden elements, elements whose class/id/role says navigation, menu,
// sidebar, cookie banner, ads, sharing or comments, and every block whose
// link text is more than max_link_density of its text (menus, link lists,
// tag clouds, index pages). Kept: one line per paragraph, heading, list item
// ("- item"), definition and table row ("cell | cell"); <br> breaks lines;
// <pre> keeps its lines; other whitespace collapses; entities are decoded.
//
// Gumbo's tree builder is quadratic in nesting depth (100k nested <div>s
// take minutes), so data_html_cost estimates that work first and refuses
// pages over max_cost (DATA_R_EX_TOO_COMPLEX).
#include <ctype.h>
#include <gumbo.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"
#include "data/pipeline.h"

#define MAX_WALK_DEPTH 512  // deeper subtrees are ignored: no page with text needs more

// ---------------------------------------------------------------------------
// the cost guard

static int name_is(const char *s, size_t n, const char *const *names) {
    for (; *names; names++)
        if (strlen(*names) == n && !strncasecmp(s, *names, n)) return 1;
    return 0;
}

static const char *const VOID_OR_IMPLIED[] = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
    "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "tbody", "thead", "tfoot", "colgroup",
    "rb", "rt", "rp", NULL};
static const char *const RAW_TEXT[] = {"script", "style", "textarea", "title", "xmp", "noembed", NULL};

int64_t data_html_cost(const char *h, size_t n, int64_t *max_depth) {
    int64_t depth = 0, maxd = 0, cost = 0;
    size_t i = 0;
    while (i < n) {
        const char *lt = memchr(h + i, '<', n - i);
        if (!lt) break;
        i = (size_t)(lt - h) + 1;
        if (i + 2 < n && h[i] == '!' && h[i + 1] == '-' && h[i + 2] == '-') {
            const char *end = memmem(h + i, n - i, "-->", 3);
            i = end ? (size_t)(end - h) + 3 : n;
            continue;
        }
        int closing = i < n && h[i] == '/';
        if (closing) i++;
        size_t a = i;
        while (i < n && (isalnum((unsigned char)h[i]) || h[i] == '-')) i++;
        if (i == a || !isalpha((unsigned char)h[a])) continue;
        size_t len = i - a;
        const char *gt = memchr(h + i, '>', n - i);
        size_t close_at = gt ? (size_t)(gt - h) : n;
        int self_closing = close_at > i && h[close_at - 1] == '/';
        i = close_at < n ? close_at + 1 : n;
        if (closing) {
            if (!name_is(h + a, len, VOID_OR_IMPLIED) && depth > 0) depth--;
            cost += depth;
            continue;
        }
        cost += depth;
        if (name_is(h + a, len, RAW_TEXT)) {  // its text is not markup: skip to the end tag
            char end_tag[16] = "</";
            memcpy(end_tag + 2, h + a, RS_MIN(len, (size_t)12));
            size_t m = 2 + RS_MIN(len, (size_t)12);
            while (i + m <= n && strncasecmp(h + i, end_tag, m) != 0) i++;
            continue;
        }
        if (self_closing || name_is(h + a, len, VOID_OR_IMPLIED)) continue;
        if (++depth > maxd) maxd = depth;
    }
    if (max_depth) *max_depth = maxd;
    return cost;
}

// ---------------------------------------------------------------------------
// what to drop

static int tag_dropped(GumboTag t, int keep_header) {
    switch (t) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_HEAD: case GUMBO_TAG_TITLE: case GUMBO_TAG_NAV: case GUMBO_TAG_FOOTER: case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_FORM: case GUMBO_TAG_BUTTON: case GUMBO_TAG_SELECT: case GUMBO_TAG_OPTION:
    case GUMBO_TAG_TEXTAREA: case GUMBO_TAG_INPUT: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED: case GUMBO_TAG_SVG: case GUMBO_TAG_MATH: case GUMBO_TAG_CANVAS: case GUMBO_TAG_MAP:
    case GUMBO_TAG_AUDIO: case GUMBO_TAG_VIDEO: case GUMBO_TAG_MENU:
    case GUMBO_TAG_FRAMESET: case GUMBO_TAG_FRAME: case GUMBO_TAG_APPLET:
        return 1;
    case GUMBO_TAG_HEADER:
        return !keep_header;
    default:
        return 0;
    }
}

// class/id tokens that mark boilerplate (compared whole, lowercase).
static const char *const BOILER_TOKENS[] = {
    "nav", "navbar", "navigation", "menu", "menubar", "sidebar", "sphinxsidebar", "footer", "breadcrumb",
    "breadcrumbs", "cookie", "cookies", "banner", "ad", "ads", "advert", "advertisement", "share", "sharing",
    "social", "related", "popup", "modal", "newsletter", "subscribe", "comments", "headerlink", "skip",
    "pagination", "pager", "masthead", "toolbar", NULL};
static const char *const BOILER_ROLES[] = {"navigation", "banner", "contentinfo", "complementary", "search",
                                           "menu", "menubar", "dialog", "alert", NULL};

static int has_boiler_token(const char *v) {
    while (*v) {
        while (*v && !isalnum((unsigned char)*v)) v++;
        const char *a = v;
        while (isalnum((unsigned char)*v)) v++;
        if (v > a && name_is(a, (size_t)(v - a), BOILER_TOKENS)) return 1;
    }
    return 0;
}

static int attrs_dropped(const GumboElement *el) {
    const GumboVector *attrs = &el->attributes;
    for (unsigned i = 0; i < attrs->length; i++) {
        const GumboAttribute *a = attrs->data[i];
        const char *k = a->name, *v = a->value;
        if (!strcasecmp(k, "hidden")) return 1;
        if (!strcasecmp(k, "aria-hidden") && !strcasecmp(v, "true")) return 1;
        if (!strcasecmp(k, "role") && name_is(v, strlen(v), BOILER_ROLES)) return 1;
        if ((!strcasecmp(k, "class") || !strcasecmp(k, "id")) && has_boiler_token(v)) return 1;
        if (!strcasecmp(k, "style")) {
            char low[256];
            size_t m = 0;
            for (const char *s = v; *s && m + 1 < sizeof low; s++)
                if (*s != ' ') low[m++] = (char)tolower((unsigned char)*s);
            low[m] = 0;
            if (strstr(low, "display:none") || strstr(low, "visibility:hidden")) return 1;
        }
    }
    return 0;
}

static int is_block(GumboTag t) {
    switch (t) {
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_BODY:
    case GUMBO_TAG_CENTER: case GUMBO_TAG_DD: case GUMBO_TAG_DETAILS: case GUMBO_TAG_DIR: case GUMBO_TAG_DIV:
    case GUMBO_TAG_DL: case GUMBO_TAG_DT: case GUMBO_TAG_FIELDSET: case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_FIGURE: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3: case GUMBO_TAG_H4:
    case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_HEADER: case GUMBO_TAG_HGROUP: case GUMBO_TAG_HR:
    case GUMBO_TAG_HTML: case GUMBO_TAG_LEGEND: case GUMBO_TAG_LI: case GUMBO_TAG_MAIN: case GUMBO_TAG_OL:
    case GUMBO_TAG_P: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION: case GUMBO_TAG_SUMMARY: case GUMBO_TAG_TABLE:
    case GUMBO_TAG_TBODY: case GUMBO_TAG_THEAD: case GUMBO_TAG_TFOOT: case GUMBO_TAG_TR: case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_UL:
        return 1;
    default:
        return 0;
    }
}

// ---------------------------------------------------------------------------
// the walk

typedef struct Ex {
    Buf out;             // finished lines, each ending in '\n'
    Buf line;            // the line being built
    size_t prefix_len;   // bytes of "- " at the start of line (a list item)
    int pending_space;   // whitespace seen since the last text
    int pending_sep;     // a table cell began: " | " before its first text
    int pre;             // inside <pre>
    int cell;            // inside a table cell: block breaks become spaces
    int keep_header;
    double max_link_density;
} Ex;

typedef struct Counts {
    size_t text, link;
} Counts;

static void flush_line(Ex *x) {
    if (x->line.len > x->prefix_len) {
        size_t n = x->line.len;
        while (n && x->line.data[n - 1] == ' ') n--;
        if (n > x->prefix_len) {
            buf_append(&x->out, x->line.data, n);
            buf_putc(&x->out, '\n');
        }
    }
    buf_clear(&x->line);
    x->prefix_len = 0;
    x->pending_space = x->pending_sep = 0;
}

static void line_break(Ex *x) {
    if (x->cell) x->pending_space = 1;
    else flush_line(x);
}

// Append text, collapsing whitespace (outside <pre>); returns the count of
// non-space bytes added.
static size_t add_text(Ex *x, const char *s) {
    size_t added = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        int nbsp = c == 0xC2 && p[1] == 0xA0;
        if (x->pre && c == '\n') {
            flush_line(x);
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || nbsp) {
            if (nbsp) p++;
            if (x->pre) buf_putc(&x->line, ' ');
            else x->pending_space = 1;
            continue;
        }
        if (x->pending_sep && x->line.len > x->prefix_len) buf_puts(&x->line, " | ");
        else if (x->pending_space && x->line.len > x->prefix_len) buf_putc(&x->line, ' ');
        x->pending_sep = x->pending_space = 0;
        buf_putc(&x->line, (char)c);
        added++;
    }
    return added;
}

static Counts walk(Ex *x, const GumboNode *node, int in_link, int depth);

static Counts walk_children(Ex *x, const GumboVector *kids, int in_link, int depth) {
    Counts c = {0, 0};
    for (unsigned i = 0; i < kids->length; i++) {
        Counts k = walk(x, kids->data[i], in_link, depth + 1);
        c.text += k.text, c.link += k.link;
    }
    return c;
}

static Counts walk_element(Ex *x, const GumboNode *node, int in_link, int depth) {
    const GumboElement *el = &node->v.element;
    GumboTag t = el->tag;
    Counts none = {0, 0};
    if (tag_dropped(t, x->keep_header) || attrs_dropped(el)) return none;
    if (t == GUMBO_TAG_BR) {
        line_break(x);
        return none;
    }
    int block = is_block(t), is_cell = t == GUMBO_TAG_TD || t == GUMBO_TAG_TH;
    if (block) line_break(x);
    // Where this element's output starts, to take it back if it is dropped.
    size_t out0 = x->out.len, line0 = x->line.len, prefix0 = x->prefix_len;
    int space0 = x->pending_space, sep0 = x->pending_sep;
    if (t == GUMBO_TAG_LI && !x->cell) {
        buf_puts(&x->line, "- ");
        x->prefix_len = 2;
    }
    if (is_cell) {
        x->pending_sep = 1;
        x->cell++;
    }
    if (t == GUMBO_TAG_PRE) x->pre++;
    Counts c = walk_children(x, &el->children, in_link || t == GUMBO_TAG_A, depth);
    if (t == GUMBO_TAG_PRE) x->pre--;
    if (is_cell) x->cell--;
    if (block) line_break(x);
    int droppable = block || is_cell;
    if (droppable && c.text && (double)c.link > x->max_link_density * (double)c.text) {
        x->out.len = out0;  // a link block: take its lines back
        if (x->out.data) x->out.data[out0] = 0;
        x->line.len = line0;
        if (x->line.data) x->line.data[line0] = 0;
        x->prefix_len = prefix0, x->pending_space = space0, x->pending_sep = sep0;
        return none;
    }
    if (is_cell) x->pending_space = 1;
    return c;
}

static Counts walk(Ex *x, const GumboNode *node, int in_link, int depth) {
    Counts c = {0, 0};
    if (depth > MAX_WALK_DEPTH) return c;
    switch (node->type) {
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
        return walk_element(x, node, in_link, depth);
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_CDATA:
    case GUMBO_NODE_WHITESPACE:
        c.text = add_text(x, node->v.text.text);
        if (in_link) c.link = c.text;
        return c;
    default:  // documents are walked from their root element; comments are dropped
        return c;
    }
}

// ---------------------------------------------------------------------------
// the content root

static int has_role_main(const GumboElement *el) {
    const GumboAttribute *a = gumbo_get_attribute(&el->attributes, "role");
    return a && !strcasecmp(a->value, "main");
}

// Depth-first search for <main>/role="main" (first wins) and <article>s.
static void find_roots(const GumboNode *n, int depth, const GumboNode **main, const GumboNode **article,
                       int *narticles) {
    if (n->type != GUMBO_NODE_ELEMENT || depth > MAX_WALK_DEPTH || *main) return;
    const GumboElement *el = &n->v.element;
    if (el->tag == GUMBO_TAG_MAIN || has_role_main(el)) {
        *main = n;
        return;
    }
    if (el->tag == GUMBO_TAG_ARTICLE) {
        if (!(*narticles)++) *article = n;
        return;  // an article inside an article is part of it
    }
    for (unsigned i = 0; i < el->children.length; i++) find_roots(el->children.data[i], depth + 1, main, article, narticles);
}

static const GumboNode *find_body(const GumboNode *html) {
    const GumboVector *kids = &html->v.element.children;
    for (unsigned i = 0; i < kids->length; i++) {
        const GumboNode *k = kids->data[i];
        if (k->type == GUMBO_NODE_ELEMENT && k->v.element.tag == GUMBO_TAG_BODY) return k;
    }
    return html;
}

DataRule data_extract_html(const char *html, size_t n, double max_link_density, int64_t max_cost, Buf *out) {
    buf_clear(out);
    if (max_cost > 0 && data_html_cost(html, n, NULL) > max_cost) return DATA_R_EX_TOO_COMPLEX;
    GumboOptions opt = kGumboDefaultOptions;
    opt.max_errors = 0;  // recording parse errors copies the open-element stack each time
    GumboOutput *g = gumbo_parse_with_options(&opt, html, n);
    const GumboNode *main = NULL, *article = NULL;
    int narticles = 0;
    find_roots(g->root, 0, &main, &article, &narticles);
    const GumboNode *root = main ? main : narticles == 1 ? article : find_body(g->root);
    Ex x = {.max_link_density = max_link_density, .keep_header = root != find_body(g->root) && root != g->root};
    // The root itself is never dropped for link density: walk its children.
    walk_children(&x, &root->v.element.children, 0, 0);
    flush_line(&x);
    gumbo_destroy_output(&opt, g);
    if (x.out.len) x.out.data[--x.out.len] = 0;  // no newline after the last line
    utf8_repair_buf(&x.out);  // Gumbo lets a few bad bytes through (out-of-range character references)
    buf_free(out);
    *out = x.out;
    buf_free(&x.line);
    return DATA_R_NONE;
}
