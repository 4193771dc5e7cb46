// math_extract.c: finding the final answer in a model's response (the rule
// order is documented in math.h). Every scan is linear in the response and
// each candidate is capped at VMATH_MAX_ANSWER bytes, so a 10 MB response or
// one made of a million unclosed "\boxed{" costs a few passes over memory.
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/base.h"
#include "common/buf.h"
#include "verifier/math/math.h"

#define MAX_BOX_TRIES 16   // unclosed/empty \boxed{} candidates tried from the end
#define MAX_BOXES 16       // different boxed answers listed; more equal nothing
#define MAX_BOLD 200       // longest **bold** span taken as an answer
#define MAX_NUMBER 64      // longest "last number"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

// Last occurrence of pat in s[0, end), or -1. Case-insensitive when icase.
static long find_last(const char *s, size_t end, const char *pat, int icase) {
    size_t m = strlen(pat);
    if (m > end) return -1;
    for (size_t i = end - m + 1; i-- > 0;) {
        size_t k = 0;
        if (icase)
            while (k < m && tolower((unsigned char)s[i + k]) == pat[k]) k++;
        else
            while (k < m && s[i + k] == pat[k]) k++;
        if (k == m) return (long)i;
    }
    return -1;
}

// A trimmed copy of s[a, b) without surrounding $ and markdown ** and a
// trailing period or comma, or NULL when nothing is left or it is too long.
static char *clean_span(const char *s, size_t a, size_t b) {
    for (;;) {
        while (a < b && is_space(s[a])) a++;
        while (b > a && is_space(s[b - 1])) b--;
        if (b > a && (s[b - 1] == '.' || s[b - 1] == ',') && !(b >= 2 + a && s[b - 2] == '\\')) { b--; continue; }
        if (b > a && s[a] == '$') { a++; continue; }
        if (b > a && s[b - 1] == '$') { b--; continue; }
        if (b >= a + 2 && s[a] == '*' && s[a + 1] == '*') { a += 2; continue; }
        if (b >= a + 2 && s[b - 1] == '*' && s[b - 2] == '*') { b -= 2; continue; }
        if (b >= a + 2 && s[a] == '\\' && (s[a + 1] == '(' || s[a + 1] == '[')) { a += 2; continue; }
        if (b >= a + 2 && s[b - 2] == '\\' && (s[b - 1] == ')' || s[b - 1] == ']')) { b -= 2; continue; }
        break;
    }
    if (b <= a || b - a > VMATH_MAX_ANSWER) return NULL;
    return xstrndup(s + a, b - a);
}

// ---------------------------------------------------------------------------
// 1. \boxed{...} / \fbox{...}

// The end of the brace group opening at s[open] (index of its '}'), or -1
// when it does not close within VMATH_MAX_ANSWER bytes. \{ and \} are
// literal braces and do not count.
static long match_brace(const char *s, size_t n, size_t open) {
    int depth = 0;
    size_t limit = RS_MIN(n, open + VMATH_MAX_ANSWER + 2);
    for (size_t i = open; i < limit; i++) {
        if (s[i] == '\\' && i + 1 < limit) { i++; continue; }
        if (s[i] == '{') depth++;
        else if (s[i] == '}' && --depth == 0) return (long)i;
    }
    return -1;
}

// Last "\boxed" or "\fbox" starting before end: its index (and the
// command's length in *len), or -1.
static long find_last_box(const char *s, size_t end, size_t *len) {
    for (size_t i = end; i-- > 0;) {
        if (s[i] != '\\') continue;
        if (strncmp(s + i + 1, "boxed", 5) == 0) return *len = 6, (long)i;
        if (strncmp(s + i + 1, "fbox", 4) == 0) return *len = 5, (long)i;
    }
    return -1;
}

// The content [*a, *b) of the box whose command ends just before s[at]:
// "{...}" or, for "\boxed 5", the next word. 0 when there is none.
static int box_content(const char *s, size_t n, size_t at, size_t *a, size_t *b) {
    size_t i = at;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i < n && s[i] == '{') {
        long close = match_brace(s, n, i);
        if (close < 0) return 0;
        *a = i + 1, *b = (size_t)close;
        return 1;
    }
    if (i == at) return 0;  // "\boxedx": not the command
    size_t j = i;
    while (j < n && !is_space(s[j]) && s[j] != '$' && j - i < VMATH_MAX_ANSWER) j++;
    *a = i, *b = j;
    return j > i;
}

// The last complete, non-empty box: its content, or NULL. Unclosed or
// empty boxes fall back to the one before (MAX_BOX_TRIES of them); a box
// inside another (\boxed{\frac{1}{\boxed{2}}}) gives the outer one. *at and
// *end get the outer box's command and closing positions.
static char *last_box(const char *s, size_t n, size_t end, long *at_out, size_t *b_out) {
    size_t len, a = 0, b = 0;
    long at = -1;
    char *ans = NULL;
    for (int tries = 0; tries < MAX_BOX_TRIES && !ans; tries++) {
        if ((at = find_last_box(s, end, &len)) < 0) return NULL;
        if (box_content(s, n, (size_t)at + len, &a, &b)) ans = clean_span(s, a, b);
        end = (size_t)at;
    }
    for (long q; ans && (q = find_last_box(s, end, &len)) >= 0 && at - q <= VMATH_MAX_ANSWER; end = (size_t)q) {
        size_t qa, qb;
        char *outer = box_content(s, n, (size_t)q + len, &qa, &qb) && qb > b ? clean_span(s, qa, qb) : NULL;
        if (outer) free(ans), ans = outer, b = qb, at = q;
    }
    *at_out = at, *b_out = b;
    return ans;
}

// Every box of the response, last first. One box, or the same answer boxed
// again, is the answer; several different boxes are all of them, as a list
// ("\boxed{1}, \boxed{2}" against the gold "1, 2"), so listing candidates
// in boxes never picks out the gold. Past MAX_BOXES the list is marked
// unparseable ("...") and equals nothing.
static char *extract_boxed(const char *s, size_t n) {
    char *box[MAX_BOXES + 1], *canon[MAX_BOXES + 1];
    int nb = 0, more = 0;
    size_t end = n, b;
    long at;
    for (char *ans; (ans = last_box(s, n, end, &at, &b)) != NULL; end = (size_t)at) {
        int dup = 0;
        for (int i = 0; i < nb && !dup; i++) dup = strcmp(box[i], ans) == 0;
        char *c = NULL;
        if (!dup && nb > 0) {  // the same answer written another way is still one answer
            c = vmath_normalize(ans);
            for (int i = 0; i < nb && !dup; i++) {
                if (!canon[i]) canon[i] = vmath_normalize(box[i]);
                dup = c[0] && strcmp(canon[i], c) == 0;
            }
        }
        if (dup || nb == MAX_BOXES) {
            more |= !dup;
            free(ans), free(c);
        } else {
            box[nb] = ans, canon[nb++] = c;
        }
        if (more) break;
    }
    if (nb == 0) return NULL;
    if (nb == 1 && !more) {
        free(canon[0]);
        return box[0];
    }
    Buf out = {0};
    for (int i = nb - 1; i >= 0; i--) {  // in the order they were written
        buf_puts(&out, box[i]);
        if (i) buf_puts(&out, ", ");
        free(box[i]), free(canon[i]);
    }
    if (more) buf_puts(&out, ", ...");
    buf_putc(&out, 0);
    return buf_take(&out);
}

char *vmath_last_boxed(const char *text) {
    if (!text) return NULL;
    long at;
    size_t b;
    return last_box(text, strlen(text), strlen(text), &at, &b);
}

// Whether the sentence holding s[a, e) hedges or takes back its number:
// "it is 3, or maybe 4", "probably 12", "the answer is not 5". Then the
// last number is no answer.
static int hedged_in(const char *s, size_t lo, size_t hi) {
    static const char *const words[] = {"or", "maybe", "perhaps", "possibly", "probably", "not", "either", "no",
                                        "might", "unsure", "guess", "isn't", "nor", "wait"};
    for (size_t i = lo; i < hi;) {
        while (i < hi && !isalpha((unsigned char)s[i])) i++;
        size_t j = i;
        while (j < hi && (isalpha((unsigned char)s[j]) || s[j] == '\'')) j++;
        for (size_t k = 0; k < RS_ARRAY_LEN(words) && j > i; k++)
            if (j - i == strlen(words[k]) && strncasecmp(s + i, words[k], j - i) == 0) return 1;
        i = j;
    }
    return 0;
}

static int hedged(const char *s, size_t n, size_t a, size_t e) {
    size_t lo = a, hi = e;
    while (lo > 0 && a - lo < 400 && s[lo - 1] != '\n' && !(s[lo - 1] == '.' && (lo == a || !is_digit(s[lo])))) lo--;
    while (hi < n && hi - e < 400 && s[hi] != '\n') hi++;
    return hedged_in(s, lo, hi);
}

// ---------------------------------------------------------------------------
// 2. "#### N"

static size_t line_end(const char *s, size_t n, size_t i) {
    while (i < n && s[i] != '\n') i++;
    return i;
}

static char *extract_hashes(const char *s, size_t n) {
    long at = find_last(s, n, "####", 0);
    if (at < 0) return NULL;
    size_t a = (size_t)at + 4;
    return clean_span(s, a, line_end(s, n, a));
}

// ---------------------------------------------------------------------------
// 3. "the answer is ..." / "Final Answer: ..."

// After a phrase: a $...$ (or \(...\), \[...\]) span when the text opens
// with one, else the rest of the sentence on this line (or the next line
// when this one is empty).
static char *answer_after(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ':' || s[i] == '*')) i++;
    if (i < n && (s[i] == '\n' || s[i] == '\r')) {
        while (i < n && is_space(s[i])) i++;
    }
    size_t end = line_end(s, n, i);
    const char *close = NULL;
    size_t open = 0;
    if (i + 1 < n && s[i] == '$' && s[i + 1] == '$') close = "$$", open = 2;
    else if (i < n && s[i] == '$') close = "$", open = 1;
    else if (i + 1 < n && s[i] == '\\' && s[i + 1] == '(') close = "\\)", open = 2;
    else if (i + 1 < n && s[i] == '\\' && s[i + 1] == '[') close = "\\]", open = 2;
    if (close) {
        size_t lim = RS_MIN(n, i + open + VMATH_MAX_ANSWER);
        const char *hit = memmem(s + i + open, lim - i - open, close, strlen(close));
        if (hit) return clean_span(s, i + open, (size_t)(hit - s));
    }
    // The sentence ends at ". " (a decimal point is followed by a digit).
    for (size_t j = i; j < end; j++)
        if (s[j] == '.' && (j + 1 == end || is_space(s[j + 1]))) { end = j; break; }
    return clean_span(s, i, end);
}

static char *extract_answer_phrase(const char *s, size_t n) {
    static const char *const phrases[] = {"answer is", "answer:", "answer ="};
    long best = -1;
    size_t best_len = 0;
    for (size_t k = 0; k < RS_ARRAY_LEN(phrases); k++) {
        long at = find_last(s, n, phrases[k], 1);
        if (at > best) best = at, best_len = strlen(phrases[k]);
    }
    if (best < 0) return NULL;
    // "The answer is 20... no wait, 21": taken back on its own line
    size_t a = (size_t)best + best_len, e = a;
    while (e < n && e - a < 400 && s[e] != '\n') e++;
    if (hedged_in(s, a, e)) return NULL;
    return answer_after(s, n, a);
}

// ---------------------------------------------------------------------------
// 4. a final **bold** span: it holds a digit and no digit follows it
// ("she has **72** eggs left", but not "**Step 1** ... the sum is 9")

static char *extract_bold(const char *s, size_t n) {
    long close = find_last(s, n, "**", 0);
    if (close < 1) return NULL;
    long open = find_last(s, (size_t)close, "**", 0);
    if (open < 0 || close - open - 2 > MAX_BOLD) return NULL;
    size_t a = (size_t)open + 2, b = (size_t)close;
    int digit = 0;
    for (size_t i = a; i < b; i++) {
        if (s[i] == '\n') return NULL;
        digit |= is_digit(s[i]);
    }
    for (size_t i = b + 2; i < n && digit; i++) digit = !is_digit(s[i]);
    return digit ? clean_span(s, a, b) : NULL;
}

// ---------------------------------------------------------------------------
// 5. the last number

static int thousands_at(const char *s, size_t n, size_t i) {
    // s[i] == ',' between a digit and exactly three digits
    return i > 0 && i + 3 < n && is_digit(s[i - 1]) && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 >= n || !is_digit(s[i + 4]));
}

static char *extract_last_number(const char *s, size_t n) {
    size_t e = n;
    while (e > 0 && !is_digit(s[e - 1])) e--;
    if (e == 0) return NULL;
    size_t a = e;
    while (a > 0 && e - a < MAX_NUMBER) {
        char c = s[a - 1];
        if (is_digit(c)) a--;
        else if ((c == '.' || c == '/') && a >= 2 && is_digit(s[a - 2])) a--;
        else if (c == '.' && a < e) a--;  // ".5"
        else if (c == ',' && thousands_at(s, n, a - 1)) a--;
        else break;
    }
    if (a > 0 && s[a - 1] == '-' && (a == 1 || !isalnum((unsigned char)s[a - 2]))) a--;
    if (hedged(s, n, a, e)) return NULL;
    return clean_span(s, a, e);
}

// ---------------------------------------------------------------------------

char *vmath_extract_from(const char *response, VmathSource *src) {
    if (src) *src = VMATH_SRC_NONE;
    if (!response) return NULL;
    size_t n = strlen(response);
    char *(*const rules[])(const char *, size_t) = {extract_boxed, extract_hashes, extract_answer_phrase,
                                                     extract_bold, extract_last_number};
    const VmathSource names[] = {VMATH_SRC_BOXED, VMATH_SRC_HASHES, VMATH_SRC_ANSWER_IS, VMATH_SRC_BOLD,
                                 VMATH_SRC_LAST_NUMBER};
    for (size_t k = 0; k < RS_ARRAY_LEN(rules); k++) {
        char *ans = rules[k](response, n);
        if (ans) {
            if (src) *src = names[k];
            return ans;
        }
    }
    return NULL;
}

char *vmath_extract(const char *response) { return vmath_extract_from(response, NULL); }

const char *vmath_source_name(VmathSource src) {
    switch (src) {
    case VMATH_SRC_BOXED: return "boxed";
    case VMATH_SRC_HASHES: return "####";
    case VMATH_SRC_ANSWER_IS: return "answer is";
    case VMATH_SRC_BOLD: return "bold";
    case VMATH_SRC_LAST_NUMBER: return "last number";
    default: return "none";
    }
}
