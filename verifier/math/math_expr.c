// math_expr.c: the parser of math answers. A small recursive-descent parser
// reads LaTeX-ish and plain math (\frac \sqrt ^ \pi e i, implicit
// multiplication, mixed numbers, %, functions, |x|, \binom, !, \pm, sets,
// tuples, intervals and unions, matrices, "x = ...", inequalities, trailing
// units) into expression nodes and a tree of values (math_expr.h). Nesting,
// node counts and container sizes are capped, so garbage fails fast and the
// caller compares it as text.
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "verifier/math/math_expr.h"

// ---------------------------------------------------------------------------
// lexer: tokens are read on demand at the parser's position

typedef enum { T_END, T_NUM, T_LET, T_WORD, T_CMD, T_SYM, T_TEXT, T_BEGIN, T_ENDENV, T_NWORD } TokKind;

// Symbols beyond single ASCII characters (those keep their own code).
enum { S_LE = 256, S_GE, S_NE, S_PM, S_MP, S_CUP, S_IN, S_SETL, S_SETR, S_LANGLE, S_RANGLE, S_ROW, S_EMPTY, S_BAD };

typedef struct Tok {
    TokKind k;
    int sym;        // T_SYM
    size_t a, b;    // the token's span
    size_t ia, ib;  // inner span: command or environment name, \text content
    int value;      // T_NWORD: the number a word names ("five")
} Tok;

typedef struct Parser {
    VmathAnswer *A;
    const char *s;
    size_t pos, end;
    int depth;
    int brackets;  // open ( [ \{ \langle: inside them "12,102" is two numbers
} Parser;

static const struct {
    const char *name;
    int sym;
} k_sym_cmds[] = {
    {"le", S_LE}, {"leq", S_LE}, {"leqslant", S_LE}, {"ge", S_GE}, {"geq", S_GE}, {"geqslant", S_GE},
    {"ne", S_NE}, {"neq", S_NE}, {"lt", '<'}, {"gt", '>'}, {"cdot", '*'}, {"times", '*'}, {"ast", '*'},
    {"div", '/'}, {"pm", S_PM}, {"mp", S_MP}, {"cup", S_CUP}, {"in", S_IN}, {"langle", S_LANGLE},
    {"rangle", S_RANGLE}, {"lvert", '|'}, {"rvert", '|'}, {"vert", '|'}, {"lbrace", S_SETL}, {"rbrace", S_SETR},
    {"approx", '='}, {"simeq", '='}, {"emptyset", S_EMPTY}, {"varnothing", S_EMPTY}, {"lbrack", '['}, {"rbrack", ']'},
};

// Named things written with or without a backslash ("sqrt(2)", "pi").
static const char *const k_plain_cmds[] = {"sqrt", "pi", "inf", "infty", "infinity"};
// Short letter runs that are words (units, connectives), not products of variables.
static const char *const k_words[] = {
    "and", "or", "the", "yes", "no", "not", "odd", "all", "any", "is", "of", "per", "to", "in", "cm", "mm", "km",
    "ft", "yd", "mi", "kg", "mg", "lb", "lbs", "oz", "sec", "min", "hr", "hrs", "mph", "kph", "ml", "sq", "deg",
    "rad", "day", "yr", "yrs", "ton", "pts", "pt", "am", "pm", "cc", "usd",
};

// Number words: "five" is 5. Compounds ("twenty-one") are not read.
static const char *const k_number_words[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
};
static const struct {
    const char *word;
    int value;
} k_tens[] = {{"thirty", 30}, {"forty", 40}, {"fifty", 50}, {"sixty", 60}, {"seventy", 70},
              {"eighty", 80}, {"ninety", 90}, {"hundred", 100}, {"thousand", 1000}, {"million", 1000000}};

// Words that take back or hedge the number before them: "3 \text{ is not
// the answer}", "3, or maybe 4". An answer holding one is not math.
static const char *const k_hedges[] = {
    "not", "no", "maybe", "perhaps", "possibly", "probably", "likely", "unlikely", "might", "could", "either",
    "unless", "except", "but", "wrong", "incorrect", "guess", "unsure", "isn't", "isnt", "or", "nor", "never",
};

// s[a, b) is word (no strlen: these run for every table entry of every token).
static int span_is(const char *s, size_t a, size_t b, const char *word) {
    size_t n = b - a;
    return word[0] == s[a] && strncmp(s + a, word, n) == 0 && word[n] == 0;
}

static int span_is_ci(const char *s, size_t a, size_t b, const char *word) {
    size_t n = b - a;
    return tolower((unsigned char)word[0]) == tolower((unsigned char)s[a]) && strncasecmp(s + a, word, n) == 0 &&
           word[n] == 0;
}

// The number a word names, or -1.
static int number_word(const char *s, size_t a, size_t b) {
    for (size_t k = 0; k < RS_ARRAY_LEN(k_number_words); k++)
        if (span_is_ci(s, a, b, k_number_words[k])) return (int)k;
    for (size_t k = 0; k < RS_ARRAY_LEN(k_tens); k++)
        if (span_is_ci(s, a, b, k_tens[k].word)) return k_tens[k].value;
    return -1;
}

// "percent", "pct", "percentage": the % sign spelled out.
static int is_percent_word(const char *s, size_t a, size_t b) {
    while (a < b && s[a] == ' ') a++;
    while (b > a && s[b - 1] == ' ') b--;
    return span_is_ci(s, a, b, "percent") || span_is_ci(s, a, b, "pct") || span_is_ci(s, a, b, "percentage") ||
           span_is_ci(s, a, b, "per cent");
}

// Whether s[a, b) holds a hedging word (k_hedges).
static int has_hedge(const char *s, size_t a, size_t b) {
    for (size_t i = a; i < b;) {
        while (i < b && !isalpha((unsigned char)s[i])) i++;
        size_t j = i;
        while (j < b && (isalpha((unsigned char)s[j]) || s[j] == '\'')) j++;
        for (size_t k = 0; k < RS_ARRAY_LEN(k_hedges) && j > i; k++)
            if (span_is_ci(s, i, j, k_hedges[k])) return 1;
        i = j;
    }
    return 0;
}

static int func_id(const char *s, size_t a, size_t b) {
    for (size_t k = 0; k < F_COUNT; k++)
        if (span_is(s, a, b, vm_func_names[k])) return (int)k;
    return -1;
}

// The end of a number starting at s[i]: digits with thousands groups
// ("1,234,567" when the first group has 1-3 digits and groups are allowed),
// a fraction, an exponent.
static size_t lex_number(const char *s, size_t i, size_t end, int groups) {
    size_t j = i;
    while (j < end && isdigit((unsigned char)s[j])) j++;
    if (groups && j - i >= 1 && j - i <= 3)
        while (j + 3 < end && s[j] == ',' && isdigit((unsigned char)s[j + 1]) && isdigit((unsigned char)s[j + 2]) &&
               isdigit((unsigned char)s[j + 3]) && !(j + 4 < end && isdigit((unsigned char)s[j + 4])))
            j += 4;
    if (j + 1 < end && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
        j++;
        while (j < end && isdigit((unsigned char)s[j])) j++;
    }
    if (j < end && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < end && (s[k] == '+' || s[k] == '-')) k++;
        if (k < end && isdigit((unsigned char)s[k])) {
            while (k < end && isdigit((unsigned char)s[k])) k++;
            j = k;
        }
    }
    return j;
}

// A "{...}" group opening at s[i]: the index of its '}', or 0 when it does
// not close before end.
static size_t group_end(const char *s, size_t i, size_t end) {
    int depth = 0;
    for (size_t j = i; j < end; j++) {
        if (s[j] == '\\' && j + 1 < end) { j++; continue; }
        if (s[j] == '{') depth++;
        else if (s[j] == '}' && --depth == 0) return j;
    }
    return 0;
}

// \text content: 0 blank, 1 words (units, text answers), 2 math to parse.
static int text_class(const char *s, size_t a, size_t b) {
    int letters = 0, other = 0;
    for (size_t i = a; i < b; i++) {
        char c = s[i];
        if (isalpha((unsigned char)c)) letters++;
        else if (c != ' ' && c != '.' && c != '\'' && c != '-') other++;
    }
    if (!letters && !other) return 0;
    return letters >= 2 && !other ? 1 : 2;
}

static void lex_command(const Parser *p, size_t i, Tok *t) {
    const char *s = p->s;
    size_t j = i + 1;
    while (j < p->end && isalpha((unsigned char)s[j])) j++;
    t->ia = i + 1, t->ib = j, t->b = j, t->k = T_SYM, t->sym = S_BAD;
    if (j == i + 1) {  // \{ \} \\ \|
        if (j >= p->end) return;
        char c = s[j];
        t->b = j + 1;
        t->sym = c == '{' ? S_SETL : c == '}' ? S_SETR : c == '\\' ? S_ROW : c == '|' ? '|' : S_BAD;
        return;
    }
    size_t k = j;
    while (k < p->end && s[k] == ' ') k++;
    int is_text = span_is(s, i + 1, j, "text"), is_env = span_is(s, i + 1, j, "begin") || span_is(s, i + 1, j, "end");
    if ((is_text || is_env) && k < p->end && s[k] == '{') {
        size_t close = group_end(s, k, p->end);
        if (!close) return;
        t->ia = k + 1, t->ib = close, t->b = close + 1;
        if (is_env) t->k = span_is(s, i + 1, j, "begin") ? T_BEGIN : T_ENDENV;
        else if (is_percent_word(s, k + 1, close)) t->k = T_SYM, t->sym = '%';
        else t->k = text_class(s, k + 1, close) == 1 ? T_WORD : T_TEXT;
        return;
    }
    for (size_t n = 0; n < RS_ARRAY_LEN(k_sym_cmds); n++)
        if (span_is(s, i + 1, j, k_sym_cmds[n].name)) {
            t->sym = k_sym_cmds[n].sym;
            return;
        }
    t->k = T_CMD;
}

static void lex_letters(const Parser *p, size_t i, Tok *t) {
    const char *s = p->s;
    size_t j = i;
    while (j < p->end && isalpha((unsigned char)s[j])) j++;
    t->ia = i, t->ib = j, t->b = j, t->k = T_CMD;
    for (size_t n = 0; n < RS_ARRAY_LEN(k_plain_cmds); n++)
        if (span_is_ci(s, i, j, k_plain_cmds[n])) return;
    if (func_id(s, i, j) >= 0) return;
    for (size_t n = 0; n < F_COUNT; n++) {  // "sinx", "lnx": a function and its variable
        size_t m = strlen(vm_func_names[n]);
        if (j - i == m + 1 && strncmp(s + i, vm_func_names[n], m) == 0) {
            t->ib = t->b = i + m;
            return;
        }
    }
    t->k = T_WORD;
    int nw = number_word(s, i, j);
    if (nw >= 0) {
        t->k = T_NWORD, t->value = nw;
        return;
    }
    if (is_percent_word(s, i, j)) {
        t->k = T_SYM, t->sym = '%';
        return;
    }
    if (j - i >= 4) return;
    for (size_t n = 0; n < RS_ARRAY_LEN(k_words); n++)
        if (span_is_ci(s, i, j, k_words[n])) return;
    t->k = T_LET, t->b = t->ib = i + 1;  // "xy" is x times y
}

static Tok lex(const Parser *p) {
    const char *s = p->s;
    Tok t = {0};
    size_t i = p->pos;
    for (;;) {
        while (i < p->end && s[i] == ' ') i++;
        if (i < p->end && s[i] == '\\') {  // a blank \text{ } is space
            Tok u = {0};
            lex_command(p, i, &u);
            if ((u.k == T_TEXT || u.k == T_WORD) && text_class(s, u.ia, u.ib) == 0) {
                i = u.b;
                continue;
            }
        }
        break;
    }
    t.a = t.b = i;
    if (i >= p->end) return t;
    char c = s[i];
    if (isdigit((unsigned char)c) || (c == '.' && i + 1 < p->end && isdigit((unsigned char)s[i + 1]))) {
        t.k = T_NUM, t.b = lex_number(s, i, p->end, p->brackets == 0);
        if (t.b - i > 300) t.k = T_SYM, t.sym = S_BAD;
    } else if (isalpha((unsigned char)c)) {
        lex_letters(p, i, &t);
    } else if (c == '\\') {
        lex_command(p, i, &t);
    } else {
        t.k = T_SYM, t.b = i + 1, t.sym = (unsigned char)c >= 0x80 ? S_BAD : c;
        char d = i + 1 < p->end ? s[i + 1] : 0;
        if (d == '=' && (c == '<' || c == '>' || c == '!')) t.b = i + 2, t.sym = c == '<' ? S_LE : c == '>' ? S_GE : S_NE;
        if (c == '*' && d == '*') t.b = i + 2, t.sym = '^';  // Python's x**2
    }
    return t;
}

static int is_sym(const Tok *t, int sym) { return t->k == T_SYM && t->sym == sym; }
static int is_cmd(const Parser *p, const Tok *t, const char *name) {
    return t->k == T_CMD && span_is_ci(p->s, t->ia, t->ib, name);
}
static void take(Parser *p, const Tok *t) { p->pos = t->b; }

static int expect(Parser *p, int sym) {
    Tok t = lex(p);
    if (!is_sym(&t, sym)) return -1;
    take(p, &t);
    return 0;
}

// A word that separates list items: "1 and 2", "x = 1 \text{ or } x = 2".
static int is_separator_word(const Parser *p, const Tok *t) {
    if (t->k != T_WORD) return 0;
    size_t a = t->ia, b = t->ib;
    while (a < b && p->s[a] == ' ') a++;
    while (b > a && p->s[b - 1] == ' ') b--;
    return span_is_ci(p->s, a, b, "and") || span_is_ci(p->s, a, b, "or");
}

// ---------------------------------------------------------------------------
// nodes and values

static int node(Parser *p, VmOp op, int a, int b) {
    VmathAnswer *A = p->A;
    if (a < -1 || b < -1 || A->nn >= VM_MAX_NODES) return -2;
    if (A->nn == A->ncap) {
        A->ncap = A->ncap ? 2 * A->ncap : 32;
        A->nodes = xrealloc(A->nodes, (size_t)A->ncap * sizeof *A->nodes);
    }
    A->nodes[A->nn] = (VmNode){.op = (uint8_t)op, .a = a, .b = b};
    return A->nn++;
}

// A number: v as a double, exactly mantissa * 10^exp10 (mantissa a digit
// string of length m).
static int num_node(Parser *p, double v, const char *mantissa, size_t m, int exp10, int int_lit) {
    int n = node(p, N_NUM, -1, -1);
    if (n < 0) return n;
    VmNode *nd = &p->A->nodes[n];
    nd->num = v, nd->exp10 = exp10, nd->int_lit = (uint8_t)int_lit;
    nd->name = (int)p->A->names.len;
    buf_append(&p->A->names, mantissa, m);
    buf_putc(&p->A->names, 0);
    return n;
}

static int small_num_node(Parser *p, int v) {
    char d[16];
    int m = snprintf(d, sizeof d, "%d", v);
    return num_node(p, v, d, (size_t)m, 0, 1);
}

static int var_node(Parser *p, const char *name) {
    int n = node(p, N_VAR, -1, -1);
    if (n < 0) return n;
    VmNode *nd = &p->A->nodes[n];
    nd->name = (int)p->A->names.len;
    nd->hash = vm_hash(name);
    buf_append(&p->A->names, name, strlen(name) + 1);
    return n;
}

static int val_new(Parser *p, VmKind kind, const int *kid, int nkid) {
    VmathAnswer *A = p->A;
    if (A->nv == A->vcap) {
        A->vcap = A->vcap ? 2 * A->vcap : 8;
        A->vals = xrealloc(A->vals, (size_t)A->vcap * sizeof *A->vals);
    }
    VmVal *v = &A->vals[A->nv];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->eq = -1;
    v->nkid = nkid;
    if (nkid > 0) {
        v->kid = xmalloc((size_t)nkid * sizeof *v->kid);
        memcpy(v->kid, kid, (size_t)nkid * sizeof *kid);
    }
    return A->nv++;
}

typedef struct Mark {
    size_t pos;
    int nn, nv, names;
} Mark;

static Mark mark(const Parser *p) { return (Mark){p->pos, p->A->nn, p->A->nv, (int)p->A->names.len}; }

static void restore(Parser *p, Mark m) {
    for (int i = m.nv; i < p->A->nv; i++) free(p->A->vals[i].kid);
    p->pos = m.pos, p->A->nn = m.nn, p->A->nv = m.nv, p->A->names.len = (size_t)m.names;
}

// A growable list of value indices.
typedef struct Items {
    int *v;
    int n, cap;
} Items;

static int items_push(Items *it, int v) {
    if (it->n >= VM_MAX_ITEMS) return -1;
    if (it->n == it->cap) {
        it->cap = it->cap ? 2 * it->cap : 8;
        it->v = xrealloc(it->v, (size_t)it->cap * sizeof *it->v);
    }
    it->v[it->n++] = v;
    return 0;
}

// ---------------------------------------------------------------------------
// scalar expressions

static int parse_expr(Parser *p);
static int parse_power(Parser *p);
static int parse_primary(Parser *p);

static int number_node(Parser *p, size_t a, size_t b) {
    char digits[320], clean[320];
    size_t nd = 0, nc = 0, frac = 0;
    int in_frac = 0, int_lit = 1;
    long exp10 = 0;
    for (size_t i = a; i < b && nc < sizeof clean - 1; i++) {
        char c = p->s[i];
        if (c == ',') continue;
        clean[nc++] = c;
        if (c == '.') {
            in_frac = 1, int_lit = 0;
        } else if (c == 'e' || c == 'E') {
            int_lit = 0;
            exp10 = RS_MAX(-100000, RS_MIN(100000, strtol(p->s + i + 1, NULL, 10)));
            for (i++; i < b && nc < sizeof clean - 1; i++) clean[nc++] = p->s[i];
            break;
        } else {
            digits[nd++] = c;
            frac += in_frac;
        }
    }
    clean[nc] = 0;
    if (nd == 0) digits[nd++] = '0';
    return num_node(p, strtod(clean, NULL), digits, nd, (int)(exp10 - (long)frac), int_lit);
}

// "_1", "_{10}", "_n" after a name: appended as "_{...}". Returns -1 on a
// malformed subscript.
static int subscript(Parser *p, Buf *name) {
    const char *s = p->s;
    size_t i = p->pos;
    while (i < p->end && s[i] == ' ') i++;
    if (i >= p->end || s[i] != '_') return 0;
    i++;
    while (i < p->end && s[i] == ' ') i++;
    size_t a = i, b;
    if (i < p->end && s[i] == '{') {
        size_t close = group_end(s, i, p->end);
        if (!close) return -1;
        a = i + 1, b = close, p->pos = close + 1;
    } else if (i < p->end && isdigit((unsigned char)s[i])) {
        for (b = i; b < p->end && isdigit((unsigned char)s[b]);) b++;
        p->pos = b;
    } else if (i < p->end && isalpha((unsigned char)s[i])) {
        b = i + 1, p->pos = b;
    } else {
        return -1;
    }
    buf_puts(name, "_{");
    for (size_t k = a; k < b; k++)
        if (s[k] != ' ') buf_putc(name, s[k]);
    buf_putc(name, '}');
    return 0;
}

// A variable named s[a, b) plus any subscript.
static int named_var(Parser *p, size_t a, size_t b) {
    Buf name = {0};
    buf_append(&name, p->s + a, b - a);
    int n = subscript(p, &name) < 0 ? -2 : var_node(p, name.data);
    buf_free(&name);
    return n;
}

static int parse_group(Parser *p, int open, int close) {
    if (expect(p, open) < 0) return -2;
    int counted = open == '(' || open == '[';
    p->brackets += counted;
    int e = parse_expr(p);
    p->brackets -= counted;
    if (e < 0 || expect(p, close) < 0) return -2;
    return e;
}

// One argument of \frac, \sqrt, \binom: a {group}, a (group), a single
// digit ("\frac 34"), a letter or a command.
static int parse_arg(Parser *p) {
    Tok t = lex(p);
    if (is_sym(&t, '{')) return parse_group(p, '{', '}');
    if (is_sym(&t, '(')) return parse_group(p, '(', ')');
    if (t.k == T_NUM && isdigit((unsigned char)p->s[t.a])) {
        p->pos = t.a + 1;
        return small_num_node(p, p->s[t.a] - '0');
    }
    if (t.k == T_LET || t.k == T_CMD || t.k == T_TEXT) return parse_primary(p);
    return -2;
}

static int parse_exp_chain(Parser *p);

// What follows '^': a group, a whole number ("x^10" reads as x^{10}), a
// letter, a command, or a signed one of those.
static int parse_exp_operand(Parser *p) {
    Tok t = lex(p);
    if (is_sym(&t, '{')) return parse_group(p, '{', '}');
    if (is_sym(&t, '(')) return parse_group(p, '(', ')');
    if (t.k == T_NUM) {
        take(p, &t);
        return number_node(p, t.a, t.b);
    }
    if (t.k == T_LET || t.k == T_CMD || t.k == T_TEXT) return parse_primary(p);
    if (is_sym(&t, '-') || is_sym(&t, '+')) {
        take(p, &t);
        if (++p->depth > VM_MAX_DEPTH) return -2;
        int o = parse_exp_operand(p);
        p->depth--;
        return t.sym == '-' ? node(p, N_NEG, o, -1) : o;
    }
    return -2;
}

// a^b^c is a^(b^c).
static int parse_exp_chain(Parser *p) {
    if (++p->depth > VM_MAX_DEPTH) return -2;
    int o = parse_exp_operand(p);
    Tok t = lex(p);
    if (o >= 0 && is_sym(&t, '^')) {
        take(p, &t);
        o = node(p, N_POW, o, parse_exp_chain(p));
    }
    p->depth--;
    return o;
}

static int starts_operand(const Tok *t) {
    return t->k == T_LET || t->k == T_CMD || t->k == T_TEXT || is_sym(t, '(') || is_sym(t, '{');
}

static int is_function_tok(const Parser *p, const Tok *t) {
    return t->k == T_CMD && func_id(p->s, t->ia, t->ib) >= 0;
}

// \sin^2 x, \log_2 8, \sin(x), \cos 2x, \sin^{-1} x (= \arcsin x).
static int parse_function(Parser *p, int fn) {
    int pw = -1, base = -1;
    for (int k = 0; k < 2; k++) {
        Tok t = lex(p);
        if (is_sym(&t, '^') && pw == -1) take(p, &t), pw = parse_exp_chain(p);
        else if (is_sym(&t, '_') && base == -1 && fn == F_LOG) take(p, &t), base = parse_arg(p);
        if (pw < -1 || base < -1) return -2;
    }
    Tok t = lex(p);
    int arg;
    if (is_sym(&t, '(') || is_sym(&t, '{')) {
        arg = parse_group(p, t.sym, t.sym == '(' ? ')' : '}');
    } else {
        arg = parse_power(p);
        for (t = lex(p); arg >= 0 && starts_operand(&t) && !is_function_tok(p, &t); t = lex(p))
            arg = node(p, N_MUL, arg, parse_power(p));
    }
    if (arg < 0) return -2;
    int f;
    if (base >= 0) {
        f = node(p, N_LOG, arg, base);
    } else {
        const VmNode *e = pw >= 0 ? &p->A->nodes[pw] : NULL;
        int inverse = e && e->op == N_NEG && p->A->nodes[e->a].op == N_NUM && p->A->nodes[e->a].num == 1 &&
                      fn <= F_TAN;
        f = node(p, N_FUNC, arg, -1);
        if (f >= 0) p->A->nodes[f].fn = (uint8_t)(inverse ? fn + F_ASIN : fn);
        if (inverse) pw = -1;
    }
    return pw >= 0 ? node(p, N_POW, f, pw) : f;
}

static int parse_command(Parser *p, const Tok *t) {
    take(p, t);
    int fn = func_id(p->s, t->ia, t->ib);
    if (fn >= 0) return parse_function(p, fn);
    if (is_cmd(p, t, "frac")) {
        int a = parse_arg(p);
        return node(p, N_DIV, a, a < 0 ? -2 : parse_arg(p));
    }
    if (is_cmd(p, t, "binom")) {
        int a = parse_arg(p);
        return node(p, N_BINOM, a, a < 0 ? -2 : parse_arg(p));
    }
    if (is_cmd(p, t, "sqrt")) {
        Tok u = lex(p);
        if (!is_sym(&u, '[')) return node(p, N_SQRT, parse_arg(p), -1);
        int idx = parse_group(p, '[', ']');
        return node(p, N_ROOT, idx, idx < 0 ? -2 : parse_arg(p));
    }
    if (is_cmd(p, t, "pi")) return node(p, N_PI, -1, -1);
    if (is_cmd(p, t, "infty") || is_cmd(p, t, "inf") || is_cmd(p, t, "infinity")) return node(p, N_INF, -1, -1);
    if (is_cmd(p, t, "boxed") || is_cmd(p, t, "fbox") || is_cmd(p, t, "overline") || is_cmd(p, t, "underline"))
        return parse_group(p, '{', '}');
    return named_var(p, t->ia - 1, t->ib);  // \alpha, \theta, ... are variables
}

// \text{...} holding math ("\text{5}", "\text{e}"): parsed in place.
static int parse_text_math(Parser *p, const Tok *t) {
    size_t end = p->end;
    p->pos = t->ia, p->end = t->ib;
    int e = parse_expr(p);
    Tok u = lex(p);
    p->end = end;
    if (e < 0 || u.k != T_END) return -2;
    p->pos = t->b;
    return e;
}

// "0.\overline{3}", "0.1\overline{6}": a repeating decimal, exactly the
// rational it is (1/3, 1/6). s[a, b) is the number before the bar. -1 when
// no bar follows.
static int repeating(Parser *p, size_t a, size_t b) {
    const char *s = p->s;
    size_t i = b, dot = 0;
    if (i < p->end && s[i] == '.') dot = 1, i++;
    if (p->end - i < 11 || strncmp(s + i, "\\overline{", 10) != 0) return -1;
    size_t da = i + 10, db = da;
    while (db < p->end && isdigit((unsigned char)s[db])) db++;
    if (db == da || db >= p->end || s[db] != '}' || db - da > 30) return -1;
    size_t frac = 0, j = a;
    while (j < b && s[j] != '.') j++;
    if (j < b) frac = b - j - 1;
    else if (!dot) return -1;  // "3\overline{3}" without a point is not a decimal
    for (size_t k = a; k < b; k++)
        if (!isdigit((unsigned char)s[k]) && s[k] != '.') return -1;
    p->pos = db + 1;
    // x = whole.frac + rep / (10^frac * (10^r - 1))
    char nines[32];
    size_t r = db - da;
    memset(nines, '9', r);
    int head = number_node(p, a, b), rep = num_node(p, strtod(s + da, NULL), s + da, r, 0, 1);
    int den = num_node(p, (pow(10, (double)r) - 1) * pow(10, (double)frac), nines, r, (int)frac, 0);
    return node(p, N_ADD, head, node(p, N_DIV, rep, den));
}

static int parse_primary(Parser *p) {
    Tok t = lex(p);
    switch (t.k) {
    case T_NUM: {
        take(p, &t);
        Tok u = lex(p);
        if (is_sym(&u, '_')) return named_var(p, t.a, t.b);  // 204_5: a numeral in base 5
        int r = repeating(p, t.a, t.b);
        return r != -1 ? r : number_node(p, t.a, t.b);
    }
    case T_NWORD: take(p, &t); return small_num_node(p, t.value);
    case T_LET: {
        take(p, &t);
        char c = p->s[t.a];
        if (c == 'i' || c == 'e') {
            Tok u = lex(p);
            if (!is_sym(&u, '_')) return node(p, c == 'i' ? N_I : N_E, -1, -1);
        }
        return named_var(p, t.a, t.b);
    }
    case T_CMD: return parse_command(p, &t);
    case T_TEXT: return parse_text_math(p, &t);
    case T_SYM:
        if (t.sym == '(') return parse_group(p, '(', ')');
        if (t.sym == '[') return parse_group(p, '[', ']');
        if (t.sym == '{') return parse_group(p, '{', '}');
        if (t.sym == '|') return node(p, N_ABS, parse_group(p, '|', '|'), -1);
        return -2;
    default: return -2;
    }
}

static int parse_postfix(Parser *p) {
    int e = parse_primary(p);
    for (Tok t = lex(p); e >= 0; t = lex(p)) {
        if (is_sym(&t, '!')) take(p, &t), e = node(p, N_FACT, e, -1);
        else if (is_sym(&t, '%')) take(p, &t), e = node(p, N_PCT, e, -1);
        else if (is_sym(&t, '@')) take(p, &t), e = node(p, N_DEG, e, -1);  // math_norm.c's degree sign
        else break;
    }
    return e;
}

static int parse_power(Parser *p) {
    int b = parse_postfix(p);
    Tok t = lex(p);
    if (b >= 0 && is_sym(&t, '^')) {
        take(p, &t);
        b = node(p, N_POW, b, parse_exp_chain(p));
    }
    return b;
}

static int parse_unary(Parser *p) {
    if (++p->depth > VM_MAX_DEPTH) return -2;
    Tok t = lex(p);
    int e;
    if (is_sym(&t, '-')) take(p, &t), e = node(p, N_NEG, parse_unary(p), -1);
    else if (is_sym(&t, '+')) take(p, &t), e = parse_unary(p);
    else if (is_sym(&t, S_PM) || is_sym(&t, S_MP)) take(p, &t), e = node(p, N_UPM, parse_unary(p), -1);
    else e = parse_power(p);
    p->depth--;
    return e;
}

// An integer literal, or minus one: the whole part of a mixed number.
static int whole_part(const Parser *p, int e, int *neg) {
    const VmNode *n = &p->A->nodes[e];
    *neg = n->op == N_NEG;
    if (*neg) n = &p->A->nodes[n->a];
    return n->op == N_NUM && n->int_lit ? (int)(n - p->A->nodes) : -1;
}

static int is_int_literal(const Parser *p, int e) {
    const VmNode *n = &p->A->nodes[e];
    return n->op == N_NUM && n->int_lit;
}

// Products and quotients, with implicit multiplication ("2\pi r", "(a+5)(b+2)").
// "1\frac{4}{5}" is the mixed number 1 + 4/5.
static int parse_term(Parser *p) {
    int l = parse_unary(p), first = 1;
    for (Tok t = lex(p); l >= 0; t = lex(p), first = 0) {
        if (is_sym(&t, '*') || is_sym(&t, '/')) {
            take(p, &t);
            l = node(p, t.sym == '*' ? N_MUL : N_DIV, l, parse_unary(p));
        } else if (starts_operand(&t)) {
            int neg, whole = first && is_cmd(p, &t, "frac") ? whole_part(p, l, &neg) : -1;
            int r = parse_power(p);
            if (r >= 0 && whole >= 0 && p->A->nodes[r].op == N_DIV && is_int_literal(p, p->A->nodes[r].a) &&
                is_int_literal(p, p->A->nodes[r].b)) {
                l = node(p, N_ADD, whole, r);
                if (neg) l = node(p, N_NEG, l, -1);
            } else {
                l = node(p, N_MUL, l, r);
            }
        } else {
            break;
        }
    }
    return l;
}

static int parse_expr(Parser *p) {
    if (++p->depth > VM_MAX_DEPTH) return -2;
    int l = parse_term(p);
    for (Tok t = lex(p); l >= 0; t = lex(p)) {
        VmOp op = is_sym(&t, '+') ? N_ADD : is_sym(&t, '-') ? N_SUB : is_sym(&t, S_PM) ? N_PM : is_sym(&t, S_MP) ? N_MP : N_NUM;
        if (op == N_NUM) break;
        take(p, &t);
        l = node(p, op, l, parse_term(p));
    }
    p->depth--;
    return l;
}

// ---------------------------------------------------------------------------
// values: scalars, equations, containers

static int count_pm(const Parser *p, int first, int root) {
    int k = 0;
    for (int i = first; i <= root; i++) {
        VmOp op = p->A->nodes[i].op;
        k += op == N_PM || op == N_MP || op == N_UPM;
    }
    return k;
}

// The value of expression [first, root]: one scalar, or with k "\pm" signs
// the list of its 2^k values.
static int scalar_val(Parser *p, VmKind kind, int first, int root) {
    if (root < 0) return -2;
    int k = count_pm(p, first, root);
    if (k > VM_MAX_PM) return -2;
    int kids[1 << VM_MAX_PM];
    for (int m = 0; m < (1 << k); m++) {
        kids[m] = val_new(p, kind, NULL, 0);
        VmVal *v = &p->A->vals[kids[m]];
        v->first = first, v->root = root, v->mask = (unsigned)m;
    }
    return k == 0 ? kids[0] : val_new(p, VK_LIST, kids, 1 << k);
}

static int is_scalar(const Parser *p, int v) { return v >= 0 && p->A->vals[v].kind == VK_SCALAR; }

static int interval_val(Parser *p, int lo, int hi, int lo_closed, int hi_closed) {
    if (!is_scalar(p, lo) || !is_scalar(p, hi)) return -2;
    int v = val_new(p, VK_INTERVAL, (int[]){lo, hi}, 2);
    p->A->vals[v].lo_closed = lo_closed, p->A->vals[v].hi_closed = hi_closed;
    return v;
}

static int infinity_val(Parser *p, int negative) {
    int first = p->A->nn, n = node(p, N_INF, -1, -1);
    if (negative) n = node(p, N_NEG, n, -1);
    return scalar_val(p, VK_SCALAR, first, n);
}

static int lone_var(const Parser *p, int first, int root) {
    return root >= 0 && root == first && p->A->nodes[root].op == N_VAR;
}

static int is_less(int sym) { return sym == '<' || sym == S_LE; }
static int is_ineq(const Tok *t) {
    return t->k == T_SYM && (t->sym == '<' || t->sym == '>' || t->sym == S_LE || t->sym == S_GE);
}

static int function_head(const Parser *p, size_t a, size_t b);

// A copy of the node range [first, root] with the variable whose name
// hashes to var replaced by the integer x: the new root, or -2.
static int substitute(Parser *p, int first, int root, uint64_t var, int x) {
    int base = p->A->nn, n = root - first + 1;
    for (int i = 0; i < n; i++) {
        VmNode nd = p->A->nodes[first + i];
        int c;
        if (nd.op == N_VAR && nd.hash == var) {
            char d[4];
            int m = snprintf(d, sizeof d, "%d", x);
            c = node(p, N_NUM, -1, -1);
            if (c >= 0) {
                VmNode *q = &p->A->nodes[c];
                q->num = x, q->int_lit = 1, q->name = (int)p->A->names.len;
                buf_append(&p->A->names, d, (size_t)m + 1);
            }
        } else {
            int a = nd.a >= first ? base + (nd.a - first) : nd.a, b = nd.b >= first ? base + (nd.b - first) : nd.b;
            c = node(p, (VmOp)nd.op, a, b);
            if (c >= 0) {
                VmNode *q = &p->A->nodes[c];
                int na = q->a, nb = q->b;
                *q = nd, q->a = na, q->b = nb;
            }
        }
        if (c < 0) return -2;
    }
    return base + n - 1;
}

// "-x > -1", "2x + 1 \le 7", "3 > 1 - x": an inequality f(x) op 0 with f
// linear in its one variable, as the interval it describes. -2 otherwise.
static int linear_inequality(Parser *p, int first, int l, int r, int op) {
    int f = node(p, N_SUB, l, r);
    if (f < 0) return -2;
    uint64_t var = 0;
    int nvar = 0;
    for (int i = first; i <= f; i++) {
        const VmNode *nd = &p->A->nodes[i];
        if (nd->op != N_VAR) continue;
        if (nvar && nd->hash != var) return -2;
        var = nd->hash, nvar = 1;
    }
    double slope;
    if (!nvar || !vm_linear(p->A, first, f, var, &slope)) return -2;
    // f(x) = f(0) + (f(1) - f(0)) x: the bound is -f(0) / (f(1) - f(0))
    int bfirst = p->A->nn, f0 = substitute(p, first, f, var, 0), f1 = substitute(p, first, f, var, 1);
    if (f0 < 0 || f1 < 0) return -2;
    int bound = node(p, N_NEG, node(p, N_DIV, f0, node(p, N_SUB, f1, f0)), -1);
    int cv = scalar_val(p, VK_SCALAR, bfirst, bound);
    if (cv < 0) return -2;
    // f > 0 with a positive slope: x > bound
    int greater = (op == '>' || op == S_GE) == (slope > 0), closed = op == S_LE || op == S_GE;
    return greater ? interval_val(p, cv, infinity_val(p, 0), closed, 0) : interval_val(p, infinity_val(p, 1), cv, 0, closed);
}

// "x > 2", "x \le -1", "-x > -1", "2 < x \le 5", "0 < f(x) < 1" as
// intervals (an inequality is the set it describes).
static int parse_inequality(Parser *p, int first, int l, size_t start) {
    int e[3] = {l}, f[3] = {first}, op[2], n = 1;
    size_t mid_a = 0, mid_b = 0;  // the middle part of a chain
    (void)start;
    for (Tok t = lex(p); n < 3 && is_ineq(&t); t = lex(p), n++) {
        take(p, &t);
        op[n - 1] = t.sym;
        f[n] = p->A->nn;
        size_t s0 = p->pos;
        if ((e[n] = parse_expr(p)) < 0) return -2;
        if (n == 1) mid_a = s0, mid_b = p->pos;
    }
    if (n == 2) {
        int var_left = lone_var(p, f[0], e[0]);
        if (!var_left && !lone_var(p, f[1], e[1])) return linear_inequality(p, f[0], e[0], e[1], op[0]);
        int c = var_left ? 1 : 0, upper = is_less(op[0]) == var_left;  // the constant bounds x from above
        int closed = op[0] == S_LE || op[0] == S_GE;
        int cv = scalar_val(p, VK_SCALAR, f[c], e[c]);
        return upper ? interval_val(p, infinity_val(p, 1), cv, 0, closed)
                     : interval_val(p, cv, infinity_val(p, 0), closed, 0);
    }
    if (!(lone_var(p, f[1], e[1]) || function_head(p, mid_a, mid_b)) || is_less(op[0]) != is_less(op[1])) return -2;
    int lo = is_less(op[0]) ? 0 : 2, hi = 2 - lo;
    int lo_op = op[lo == 0 ? 0 : 1], hi_op = op[lo == 0 ? 1 : 0];
    return interval_val(p, scalar_val(p, VK_SCALAR, f[lo], e[lo]), scalar_val(p, VK_SCALAR, f[hi], e[hi]),
                        lo_op == S_LE || lo_op == S_GE, hi_op == S_LE || hi_op == S_GE);
}

static int parse_union_item(Parser *p);

// An expression, an equation, "x = <value>", "x \in <set>" or an inequality.
// "f(x)", "p(t)" in s[a, b): a function being defined, like a lone variable.
static int function_head(const Parser *p, size_t a, size_t b) {
    const char *s = p->s;
    while (a < b && s[a] == ' ') a++;
    while (b > a && s[b - 1] == ' ') b--;
    if (b - a < 4 || !isalpha((unsigned char)s[a]) || s[b - 1] != ')') return 0;
    size_t i = a + 1;
    while (i < b && s[i] == ' ') i++;
    return s[i] == '(';
}

static int has_var(const Parser *p, int first, int root) {
    for (int i = first; i <= root; i++)
        if (p->A->nodes[i].op == N_VAR) return 1;
    return 0;
}

// "x = <value>" compares by its value and, against an equation, as the
// equation x - value = 0 ("y = 2x + 3" is "2x - y + 3 = 0").
static int with_equation(Parser *p, int first, int l, int v) {
    if (v < 0 || p->A->vals[v].kind != VK_SCALAR || !lone_var(p, first, l)) return v;
    int sub = node(p, N_SUB, l, p->A->vals[v].root);
    if (sub < 0) return v;
    int eq = scalar_val(p, VK_EQ, first, sub);
    if (eq >= 0) p->A->vals[v].eq = eq;
    return v;
}

// An expression, an equation, "x = <value>", "x \in <set>", an inequality,
// or a chain "x = 5+5+1 = 11" whose last value counts.
static int parse_relation(Parser *p) {
    size_t start = p->pos;
    int first = p->A->nn, l = parse_expr(p);
    if (l < 0) return -2;
    Tok t = lex(p);
    int in = is_sym(&t, S_IN) || (t.k == T_WORD && span_is_ci(p->s, t.ia, t.ib, "in"));
    if (is_sym(&t, '=') || in) {
        take(p, &t);
        if (lone_var(p, first, l) || function_head(p, start, t.a))  // compare by the right side
            return with_equation(p, first, l, parse_union_item(p));
        if (in) return -2;
        int rfirst = p->A->nn, r = parse_expr(p);
        if (r < 0) return -2;
        Tok u = lex(p);
        if (is_sym(&u, '=')) {  // a chain: the last value counts
            take(p, &u);
            return parse_union_item(p);
        }
        if (!has_var(p, first, r)) return scalar_val(p, VK_SCALAR, rfirst, r);  // "5+5+1 = 11": 11
        return scalar_val(p, VK_EQ, first, node(p, N_SUB, l, r));
    }
    if (is_ineq(&t)) return parse_inequality(p, first, l, start);
    return scalar_val(p, VK_SCALAR, first, l);
}

static int is_item_end(const Parser *p, const Tok *t) {
    if (t->k == T_END || t->k == T_ENDENV) return 1;
    if (t->k == T_WORD) return is_separator_word(p, t);
    if (t->k != T_SYM) return 0;
    switch (t->sym) {
    case ',': case ';': case ')': case ']': case '}': case '&':
    case S_SETR: case S_RANGLE: case S_CUP: case S_ROW: return 1;
    default: return 0;
    }
}

// Words after a value are units or prose, dropped up to the next separator:
// "5.4 \text{ cents}", "15 cm^2", "3 km/h", "5 because we add them". The
// caller has seen a word; single letters may follow it ("sq m", "it").
// -1 when the words take the value back or hedge it ("3 \text{ is not the
// answer}"): then the answer is not math.
static int skip_units(Parser *p) {
    for (Tok t = lex(p); (t.k == T_WORD && !is_separator_word(p, &t)) || t.k == T_LET; t = lex(p)) {
        if (t.k == T_WORD && has_hedge(p->s, t.ia, t.ib)) return -1;
        take(p, &t);
        t = lex(p);
        if (is_sym(&t, '^')) {
            Mark m = mark(p);
            take(p, &t);
            if (parse_exp_operand(p) < 0) restore(p, m);
            else p->A->nn = m.nn;  // the exponent of a unit is not part of the answer
            t = lex(p);
        }
        if (is_sym(&t, '/')) {  // "km/h"
            take(p, &t);
            Tok u = lex(p);
            if (u.k != T_WORD && u.k != T_LET) p->pos = t.a;
        }
    }
    return 0;
}

static int parse_list(Parser *p, Items *it);
static int parse_item(Parser *p);

// The values of a bracket's content, flattened when lists inside it are
// unordered (sets: "\{1 \pm \sqrt 5, -2\}" has three elements).
static int container_val(Parser *p, VmKind kind, const Items *it, int flatten) {
    Items out = {0};
    int ok = 0;
    for (int i = 0; i < it->n && ok == 0; i++) {
        const VmVal *v = &p->A->vals[it->v[i]];
        if (flatten && v->kind == VK_LIST)
            for (int k = 0; k < v->nkid && ok == 0; k++) ok = items_push(&out, v->kid[k]);
        else
            ok = items_push(&out, it->v[i]);
    }
    int r = ok < 0 ? -2 : val_new(p, kind, out.v, out.n);
    free(out.v);
    return r;
}

static int is_container(const Parser *p, int v) {
    VmKind k = p->A->vals[v].kind;
    return k != VK_SCALAR && k != VK_EQ;
}

// Rows of \begin{pmatrix} a & b \\ c & d \end{pmatrix}: a tuple of rows; a
// single row or column is a flat tuple.
static int parse_matrix(Parser *p, const Tok *begin) {
    take(p, begin);
    if (span_is(p->s, begin->ia, begin->ib, "array")) {
        Tok t = lex(p);
        size_t close = is_sym(&t, '{') ? group_end(p->s, t.a, p->end) : 0;
        if (close) p->pos = close + 1;
    }
    Items rows = {0}, cells = {0};
    int r = -2, cols = 0;
    for (;;) {
        Tok t = lex(p);
        if (t.k == T_ENDENV || t.k == T_END) break;
        if (is_sym(&t, S_ROW)) {
            take(p, &t);
            continue;  // a \\ ending the last row
        }
        cells.n = 0;
        for (;;) {
            int v = parse_item(p);
            if (v < 0 || items_push(&cells, v) < 0) goto done;
            t = lex(p);
            if (!is_sym(&t, '&')) break;
            take(p, &t);
        }
        if (cols && cols != cells.n) goto done;  // ragged rows
        cols = cells.n;
        if (items_push(&rows, cells.n == 1 ? cells.v[0] : val_new(p, VK_TUPLE, cells.v, cells.n)) < 0) goto done;
        t = lex(p);
        if (is_sym(&t, S_ROW)) take(p, &t);
        else if (t.k != T_ENDENV) goto done;
    }
    Tok t = lex(p);
    if (t.k != T_ENDENV || rows.n == 0) goto done;
    take(p, &t);
    r = rows.n == 1 ? rows.v[0] : val_new(p, VK_TUPLE, rows.v, rows.n);
    if (p->A->vals[r].kind == VK_TUPLE) p->A->vals[r].rows = rows.n, p->A->vals[r].cols = cols;  // 1 x n is not n x 1
done:
    free(rows.v);
    free(cells.v);
    return r;
}

static int is_opener(const Tok *t) {
    return t->k == T_BEGIN || is_sym(t, '(') || is_sym(t, '[') || is_sym(t, '{') || is_sym(t, S_SETL) ||
           is_sym(t, S_LANGLE) || is_sym(t, S_EMPTY);
}

static int closes(int open, int close) {
    switch (open) {
    case '(': case '[': return close == ')' || close == ']';
    case '{': return close == '}';
    case S_SETL: return close == S_SETR;
    default: return close == S_RANGLE;
    }
}

// (a, b) a tuple that is also the open interval, [a, b] (a, b] [a, b)
// intervals, (a, b, c) [a, b, c] \langle a, b \rangle tuples, \{...\} and
// {a, b} sets, \emptyset, matrices. -1 when the brackets only group one
// scalar, -2 when this is no container.
static int parse_container(Parser *p) {
    Tok t = lex(p);
    if (t.k == T_BEGIN) return parse_matrix(p, &t);
    take(p, &t);
    if (is_sym(&t, S_EMPTY)) return val_new(p, VK_SET, NULL, 0);
    if (++p->depth > VM_MAX_DEPTH) return -2;
    int open = t.sym, r = -2, counted = open != '{';
    Items it = {0};
    p->brackets += counted;
    int listed = parse_list(p, &it);
    p->brackets -= counted;
    if (listed < 0) goto done;
    Tok c = lex(p);
    if (c.k != T_SYM || !closes(open, c.sym)) goto done;
    take(p, &c);
    int close = c.sym, round = open == '(' || open == '[';
    if (it.n == 1 && open != S_SETL && open != S_LANGLE) r = is_container(p, it.v[0]) ? it.v[0] : -1;
    else if (round && it.n == 2 && !(open == '(' && close == ')')) r = interval_val(p, it.v[0], it.v[1], open == '[', close == ']');
    else if (round && it.n >= 2 && open == (close == ')' ? '(' : '[')) r = val_new(p, VK_TUPLE, it.v, it.n);
    else if (open == S_LANGLE && it.n >= 1) r = val_new(p, VK_TUPLE, it.v, it.n);
    else if (open == S_SETL || (open == '{' && it.n >= 2)) r = container_val(p, VK_SET, &it, 1);
    if (r >= 0 && p->A->vals[r].kind == VK_TUPLE && it.n == 2 && open == '(') p->A->vals[r].point = 1;
done:
    p->depth--;
    free(it.v);
    return r;
}

// A tuple of lone variables: the names of the values on the right of "=".
static int named_tuple(const Parser *p, int v) {
    const VmVal *x = &p->A->vals[v];
    if (x->kind != VK_TUPLE) return 0;
    for (int i = 0; i < x->nkid; i++) {
        const VmVal *k = &p->A->vals[x->kid[i]];
        if (k->kind != VK_SCALAR || !lone_var(p, k->first, k->root)) return 0;
    }
    return 1;
}

// One element: a container, or an expression/relation with its units.
static int parse_item(Parser *p) {
    Tok t = lex(p);
    if (is_opener(&t)) {
        Mark m = mark(p);
        int v = parse_container(p);
        Tok u = lex(p);
        if (v >= 0 && is_item_end(p, &u)) return v;
        if (v >= 0 && is_sym(&u, '=') && named_tuple(p, v)) {  // "(p, q, r) = (6, 31, -1)": the right side
            take(p, &u);
            return parse_union_item(p);
        }
        restore(p, m);
    }
    if (t.k == T_WORD) return -2;  // text, not math
    int first = p->A->nn, v = parse_relation(p);
    Tok u = lex(p);
    if (v < 0 || u.k != T_WORD || is_separator_word(p, &u)) return v;
    for (int i = first; i < p->A->nn; i++)  // units follow numbers; "New York" is text
        if (p->A->nodes[i].op == N_VAR) return -2;
    return skip_units(p) < 0 ? -2 : v;
}

// An interval, or a written (a, b) taken as the open interval.
static int interval_like(Parser *p, int v) {
    const VmVal *x = &p->A->vals[v];
    if (x->kind == VK_INTERVAL) return v;
    if (x->kind == VK_TUPLE && x->point) return interval_val(p, x->kid[0], x->kid[1], 0, 0);
    return -2;
}

// item \cup item \cup ...
static int parse_union_item(Parser *p) {
    int v = parse_item(p);
    Tok t = lex(p);
    if (v < 0 || !is_sym(&t, S_CUP)) return v;
    Items it = {0};
    int r = -2, sets = 0;
    for (;;) {
        sets += p->A->vals[v].kind == VK_SET;
        if (items_push(&it, v) < 0) goto done;
        t = lex(p);
        if (!is_sym(&t, S_CUP)) break;
        take(p, &t);
        if ((v = parse_item(p)) < 0) goto done;
    }
    if (sets == it.n) {  // \{1,3\} \cup \{2,4\} is the set \{1,2,3,4\}
        Items all = {0};
        int ok = 0;
        for (int i = 0; i < it.n && ok == 0; i++) {
            const VmVal *x = &p->A->vals[it.v[i]];
            for (int k = 0; k < x->nkid && ok == 0; k++) ok = items_push(&all, x->kid[k]);
        }
        if (ok == 0) r = val_new(p, VK_SET, all.v, all.n), p->A->vals[r].merged = 1;
        free(all.v);
        goto done;
    }
    for (int i = 0; i < it.n; i++)
        if ((it.v[i] = interval_like(p, it.v[i])) < 0) goto done;
    r = val_new(p, VK_UNION, it.v, it.n);
done:
    free(it.v);
    return r;
}

// Items separated by ",", ";", "and", "or", up to a closing bracket or the end.
static int parse_list(Parser *p, Items *it) {
    for (;;) {
        Tok t = lex(p);
        if (t.k == T_END || t.k == T_ENDENV ||
            (t.k == T_SYM && (t.sym == ')' || t.sym == ']' || t.sym == '}' || t.sym == S_SETR || t.sym == S_RANGLE)))
            return 0;
        int v = parse_union_item(p);
        if (v < 0 || items_push(it, v) < 0) return -2;
        t = lex(p);
        if (!is_sym(&t, ',') && !is_sym(&t, ';') && !is_separator_word(p, &t)) return 0;
        take(p, &t);
    }
}

// The whole answer: one item, or a bare list "1, 2" (unordered).
static int parse_top(Parser *p) {
    Items it = {0};
    int r = -2;
    if (parse_list(p, &it) == 0 && lex(p).k == T_END && it.n > 0)
        r = it.n == 1 ? it.v[0] : container_val(p, VK_LIST, &it, 1);
    free(it.v);
    return r;
}

// "1,22" alone is 1.22: a decimal comma, when the answer is one number with
// one comma and two or more than three digits after it. "1,000" stays one
// thousand, "1,2" two roots (one digit is too ambiguous to be a decimal)
// and "1, 22" (a space) a list.
static void decimal_comma(char *s) {
    size_t i = s[0] == '-' ? 1 : 0, a = i;
    while (isdigit((unsigned char)s[i])) i++;
    if (i == a || s[i] != ',') return;
    size_t c = i++, b = i;
    while (isdigit((unsigned char)s[i])) i++;
    if (s[i] || i - b < 2 || i - b == 3) return;
    s[c] = '.';
}

void vm_parse(VmathAnswer *A) {
    A->top = -1;
    size_t n = strlen(A->norm);
    if (n == 0 || n > VMATH_MAX_ANSWER) return;
    decimal_comma(A->norm);
    Parser p = {.A = A, .s = A->norm, .end = n};
    int top = parse_top(&p);
    if (top < 0) return;
    A->top = top;
}
