// data_pii.c: personal data out of the text, as datatrove's PIIFormatter
// does for FineWeb: e-mail addresses and public IPv4 addresses become
// placeholders. The placeholder depends only on the address it replaces,
// so the output is deterministic. Addresses that identify nobody are kept:
// private (10/8, 172.16/12, 192.168/16), loopback, link-local, shared
// (100.64/10), multicast, reserved and documentation ranges.
//   echo 'mail bob@corp.com from 8.8.8.8' → 'mail email@example.com from 203.0.113.17'
#include <ctype.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "data/pipeline.h"

int data_ipv4_is_global(uint32_t ip) {
    static const struct {
        uint32_t net;
        int bits;
    } KEEP[] = {
        {0x00000000, 8},  {0x0A000000, 8},  {0x64400000, 10}, {0x7F000000, 8},  {0xA9FE0000, 16},
        {0xAC100000, 12}, {0xC0000000, 24}, {0xC0000200, 24}, {0xC0A80000, 16}, {0xC6120000, 15},
        {0xC6336400, 24}, {0xCB007100, 24}, {0xE0000000, 4},  {0xF0000000, 4},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(KEEP); i++) {
        uint32_t mask = KEEP[i].bits ? ~0u << (32 - KEEP[i].bits) : 0;
        if ((ip & mask) == KEEP[i].net) return 0;
    }
    return 1;
}

// ---------------------------------------------------------------------------
// e-mail

static int local_char(char c) { return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+/=?^_`{|}~.-", c)); }
static int domain_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '.'; }

// An address around the '@' at t[at]: its span [*a, *b), or 0.
static int email_at(const char *t, size_t n, size_t at, size_t *a, size_t *b) {
    size_t s = at;
    while (s > 0 && local_char(t[s - 1])) s--;
    while (s < at && t[s] == '.') s++;  // no leading dot
    if (s == at || t[at - 1] == '.') return 0;
    size_t e = at + 1;
    while (e < n && domain_char(t[e])) e++;
    while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) e--;
    // labels: alphanumeric at both ends, at least two, the last alphabetic and ≥ 2 long
    size_t labels = 0, start = at + 1;
    for (size_t i = at + 1; i <= e; i++) {
        if (i < e && t[i] != '.') continue;
        if (i == start || t[start] == '-' || t[i - 1] == '-') return 0;
        labels++;
        if (i == e) {
            if (i - start < 2) return 0;
            for (size_t k = start; k < i; k++)
                if (!isalpha((unsigned char)t[k])) return 0;
        }
        start = i + 1;
    }
    if (labels < 2) return 0;
    *a = s, *b = e;
    return 1;
}

// ---------------------------------------------------------------------------
// IPv4

// One octet at t[*i]: 0..255, no leading zeros. -1 if none.
static int octet(const char *t, size_t n, size_t *i) {
    size_t s = *i;
    int v = 0;
    while (*i < n && *i - s < 3 && isdigit((unsigned char)t[*i])) v = v * 10 + (t[(*i)++] - '0');
    if (*i == s || (*i < n && isdigit((unsigned char)t[*i])) || v > 255 || (t[s] == '0' && *i - s > 1)) return -1;
    return v;
}

// A dotted quad starting at t[s] (not preceded by a digit, letter or dot):
// its value and end, or 0.
static int ipv4_at(const char *t, size_t n, size_t s, uint32_t *ip, size_t *end) {
    if (s > 0 && (isalnum((unsigned char)t[s - 1]) || t[s - 1] == '.')) return 0;
    size_t i = s;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        if (k && (i >= n || t[i++] != '.')) return 0;
        int o = octet(t, n, &i);
        if (o < 0) return 0;
        v = v << 8 | (uint32_t)o;
    }
    if (i < n && (isalnum((unsigned char)t[i]) || (t[i] == '.' && i + 1 < n && isdigit((unsigned char)t[i + 1]))))
        return 0;
    *ip = v, *end = i;
    return 1;
}

void data_pii_scrub(const char *t, size_t n, int emails, int ipv4, Buf *out, int64_t *n_emails, int64_t *n_ips) {
    buf_clear(out);
    buf_reserve(out, n);
    size_t done = 0;  // t[0, done) is in out
    for (size_t i = 0; i < n; i++) {
        size_t a, b;
        uint32_t ip;
        if (emails && t[i] == '@' && email_at(t, n, i, &a, &b) && a >= done) {
            buf_append(out, t + done, a - done);
            uint64_t h = XXH3_64bits(t + a, b - a);
            buf_puts(out, h & 1 ? "firstname.lastname@example.org" : "email@example.com");
            done = b, i = b - 1;
            if (n_emails) (*n_emails)++;
        } else if (ipv4 && isdigit((unsigned char)t[i]) && i >= done && ipv4_at(t, n, i, &ip, &b)) {
            if (data_ipv4_is_global(ip)) {
                static const char *const DOC_NETS[] = {"192.0.2.", "198.51.100.", "203.0.113."};
                uint64_t h = XXH3_64bits(t + i, b - i);
                buf_append(out, t + done, i - done);
                buf_printf(out, "%s%d", DOC_NETS[h % 3], (int)(1 + (h >> 8) % 254));
                done = b;
                if (n_ips) (*n_ips)++;
            }
            i = b - 1;
        }
    }
    buf_append(out, t + done, n - done);
}
