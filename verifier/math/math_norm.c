// math_norm.c: the clean-up an answer string gets before it is parsed:
// LaTeX that changes how an answer looks but not what it is (\left, \!, $,
// \dfrac, ^\circ, \mbox, {,} ...) is removed or mapped to one spelling, and
// common Unicode math symbols become their LaTeX. The degree sign in all its
// spellings (^\circ, ^{\circ}, \degree, °) becomes '@'. One pass, linear.
#include <ctype.h>
#include <string.h>

#include "common/base.h"
#include "verifier/math/math_expr.h"

// Commands rewritten to another spelling ("" drops the command).
static const struct {
    const char *from, *to;
} k_commands[] = {
    {"left", ""}, {"right", ""}, {"big", ""}, {"Big", ""}, {"bigg", ""}, {"Bigg", ""},
    {"bigl", ""}, {"bigr", ""}, {"Bigl", ""}, {"Bigr", ""}, {"biggl", ""}, {"biggr", ""},
    {"displaystyle", ""}, {"textstyle", ""}, {"limits", ""}, {"nolimits", ""},
    {"quad", " "}, {"qquad", " "}, {"circ", "@"}, {"degree", "@"},
    {"dfrac", "\\frac"}, {"tfrac", "\\frac"}, {"cfrac", "\\frac"},
    {"dbinom", "\\binom"}, {"tbinom", "\\binom"},
    {"mbox", "\\text"}, {"textrm", "\\text"}, {"textbf", "\\text"}, {"textit", "\\text"},
    {"textnormal", "\\text"}, {"textsf", "\\text"}, {"texttt", "\\text"}, {"mathrm", "\\text"},
    {"mathbf", "\\text"}, {"mathit", "\\text"}, {"mathsf", "\\text"}, {"operatorname", "\\text"},
    {"bf", ""}, {"rm", ""}, {"it", ""},
    {"euro", " "}, {"texteuro", " "}, {"pounds", " "}, {"textsterling", " "}, {"yen", " "}, {"textyen", " "},
    {"textdollar", " "}, {"dollar", " "},
};

// Unicode (UTF-8) symbols and their LaTeX.
static const struct {
    const char *utf8, *latex;
} k_unicode[] = {
    {"\xcf\x80", "\\pi "},       {"\xe2\x88\x9e", "\\infty "}, {"\xe2\x88\x9a", "\\sqrt"},
    {"\xc3\x97", "*"},           {"\xc2\xb7", "*"},            {"\xe2\x8b\x85", "*"},
    {"\xe2\x88\x99", "*"},       {"\xc3\xb7", "/"},            {"\xe2\x88\x92", "-"},
    {"\xe2\x80\x93", "-"},       {"\xe2\x89\xa4", "<="},       {"\xe2\x89\xa5", ">="},
    {"\xe2\x89\xa0", "!="},      {"\xc2\xb0", "@"},             {"\xe2\x88\xaa", "\\cup "},
    {"\xc2\xb1", "\\pm "},       {"\xe2\x88\x93", "\\mp "},    {"\xe2\x88\x88", "\\in "},
    {"\xc2\xa0", " "},           {"\xe2\x9f\xa8", "\\langle "}, {"\xe2\x9f\xa9", "\\rangle "},
    {"\xc2\xb2", "^2"},          {"\xc2\xb3", "^3"},           {"\xe2\x88\x85", "\\emptyset "},
    // currency signs are dropped like \$ ("1,000.99€"); U+2248 is \approx
    {"\xe2\x82\xac", " "},        {"\xc2\xa3", " "},           {"\xc2\xa5", " "},
    {"\xe2\x82\xb9", " "},        {"\xc2\xa2", " "},           {"\xe2\x89\x88", "="},
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int last_is_digit(const Buf *b) { return b->len > 0 && is_digit(b->data[b->len - 1]); }

// "^\circ", "^{\circ}", "^ { \circ }" starting at s[i] == '^': its length, else 0.
static size_t degree_len(const char *s, size_t i) {
    size_t j = i + 1;
    while (s[j] == ' ') j++;
    int brace = s[j] == '{';
    if (brace) j++;
    while (s[j] == ' ') j++;
    if (strncmp(s + j, "\\circ", 5) == 0 && !isalpha((unsigned char)s[j + 5])) j += 5;
    else return 0;
    while (s[j] == ' ') j++;
    if (brace) {
        if (s[j] != '}') return 0;
        j++;
    }
    return j - i;
}

// A backslash command at s[i] == '\\': write its rewrite, return its length.
static size_t rewrite_command(const char *s, size_t i, Buf *b) {
    char c = s[i + 1];
    if (isalpha((unsigned char)c)) {
        size_t j = i + 1;
        while (isalpha((unsigned char)s[j])) j++;
        size_t len = j - i - 1;
        for (size_t k = 0; k < RS_ARRAY_LEN(k_commands); k++) {
            if (strlen(k_commands[k].from) != len || strncmp(s + i + 1, k_commands[k].from, len) != 0) continue;
            buf_puts(b, k_commands[k].to);
            // \left. and \right. are invisible delimiters
            if (k < 2 && s[j] == '.') j++;
            return j - i;
        }
        buf_append(b, s + i, j - i);
        return j - i;
    }
    switch (c) {
    case '!': {  // negative thin space: only ever a thousands separator
        size_t j = i + 2;
        while (s[j] == ' ') j++;
        return j - i;
    }
    case ',':  // thin space: a thousands separator between digits, else a space
        if (!(last_is_digit(b) && is_digit(s[i + 2]))) buf_putc(b, ' ');
        return 2;
    case ';': case ':': case ' ': buf_putc(b, ' '); return 2;
    case '%': buf_putc(b, '%'); return 2;
    case '$': case '(': case ')': case '[': case ']': return 2;
    case '\0': return 1;
    default: buf_append(b, s + i, 2); return 2;
    }
}

static size_t rewrite_unicode(const char *s, size_t i, Buf *b) {
    for (size_t k = 0; k < RS_ARRAY_LEN(k_unicode); k++) {
        size_t m = strlen(k_unicode[k].utf8);
        if (strncmp(s + i, k_unicode[k].utf8, m) == 0) {
            buf_puts(b, k_unicode[k].latex);
            return m;
        }
    }
    // U+2009 thin space / U+202F narrow no-break space: thousands separators
    if (strncmp(s + i, "\xe2\x80\x89", 3) == 0 || strncmp(s + i, "\xe2\x80\xaf", 3) == 0) {
        if (!(last_is_digit(b) && is_digit(s[i + 3]))) buf_putc(b, ' ');
        return 3;
    }
    buf_putc(b, s[i]);
    return 1;
}

// Collapse runs of spaces, trim, drop trailing periods, unwrap a whole
// \text{...}, in place.
static void tidy(char *s) {
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        if (s[r] == ' ' && (w == 0 || s[w - 1] == ' ')) continue;
        s[w++] = s[r];
    }
    s[w] = 0;
    for (;;) {
        while (w > 0 && s[w - 1] == ' ') s[--w] = 0;
        if (w > 0 && s[w - 1] == '.' && !(w > 1 && s[w - 2] == '\\')) { s[--w] = 0; continue; }
        break;
    }
    if (strncmp(s, "\\text{", 6) != 0 || w < 7 || s[w - 1] != '}') return;
    int depth = 0;
    for (size_t i = 5; i < w; i++) {
        if (s[i] == '{') depth++;
        if (s[i] == '}' && --depth == 0 && i != w - 1) return;  // "\text{a} b": not one group
    }
    memmove(s, s + 6, w - 7);
    s[w - 7] = 0;
    tidy(s);
}

char *vm_normalize_text(const char *s) {
    Buf b = {0};
    buf_reserve(&b, strlen(s) + 1);
    for (size_t i = 0; s[i];) {
        char c = s[i];
        size_t d;
        if (c == '$') i++;
        else if (c == '\\') i += rewrite_command(s, i, &b);
        else if (c == '^' && (d = degree_len(s, i)) > 0) buf_putc(&b, '@'), i += d;
        else if (c == '{' && s[i + 1] == ',' && s[i + 2] == '}') buf_putc(&b, ','), i += 3;
        else if (c == '~' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') buf_putc(&b, ' '), i++;
        else if ((unsigned char)c >= 0x80) i += rewrite_unicode(s, i, &b);
        else buf_putc(&b, c), i++;
    }
    buf_putc(&b, 0);  // make data non-NULL even for ""
    tidy(b.data);
    return buf_take(&b);
}

char *vm_text_norm(const char *s) {
    size_t n = strlen(s), w = 0;
    char *t = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(s + i, "\\text", 5) == 0) { i += 4; continue; }
        char c = s[i];
        if (c == '{' || c == '}' || c == ' ' || c == '$') continue;
        t[w++] = (char)tolower((unsigned char)c);
    }
    t[w] = 0;
    while (w > 0 && t[w - 1] == '.') t[--w] = 0;
    // "(b)" -> "b": a parenthesised choice letter or word
    if (w >= 3 && t[0] == '(' && t[w - 1] == ')') {
        size_t k = 1;
        while (k < w - 1 && isalnum((unsigned char)t[k])) k++;
        if (k == w - 1) {
            memmove(t, t + 1, w - 2);
            t[w - 2] = 0;
        }
    }
    return t;
}
