// test_data_pii.c: PII placeholders (e-mail, public IPv4; private and
// reserved ranges kept), and the URL filter with its Aho-Corasick automaton.
#include <string.h>

#include "common/buf.h"
#include "common/rng.h"
#include "data/pipeline.h"
#include "tests/test.h"

static const char *scrub(const char *t, int64_t *emails, int64_t *ips) {
    static Buf out;
    *emails = *ips = 0;
    data_pii_scrub(t, strlen(t), 1, 1, &out, emails, ips);
    return out.data;
}

TEST(emails_become_placeholders) {
    int64_t em, ip;
    const char *o = scrub("Write to john.doe+news@mail.example.co.uk or <ANNA_B@Corp-Site.com>.", &em, &ip);
    CHECK_EQ(em, 2);
    CHECK(!strstr(o, "john") && !strstr(o, "ANNA"));
    CHECK(strstr(o, "Write to email@example.com") || strstr(o, "Write to firstname.lastname@example.org"));
    CHECK(strstr(o, "<email@example.com>.") || strstr(o, "<firstname.lastname@example.org>."));
    // the same address always gets the same placeholder
    char again[256];
    snprintf(again, sizeof again, "%s", scrub("a john.doe+news@mail.example.co.uk b", &em, &ip));
    CHECK_STR_EQ(again, scrub("a john.doe+news@mail.example.co.uk b", &em, &ip));
    // not addresses
    const char *keep = "user@localhost, @handle, a@b, x@y.z, name@-bad.com, twitter @ night, foo@bar.c0m";
    CHECK_STR_EQ(scrub(keep, &em, &ip), keep);
    CHECK_EQ(em, 0);
}

TEST(public_ipv4_replaced_private_kept) {
    int64_t em, ip;
    const char *o = scrub("dns 8.8.8.8, web 93.184.216.34:443 and lan 192.168.1.20, 10.0.0.1, 172.16.5.4, "
                          "127.0.0.1, 169.254.1.1, 100.64.0.1, 0.0.0.0, 255.255.255.255, 224.0.0.1, doc 203.0.113.9.",
                          &em, &ip);
    CHECK_EQ(ip, 2);
    CHECK(!strstr(o, "8.8.8.8") && !strstr(o, "93.184.216.34"));
    CHECK_CONTAINS(o, ":443 and lan 192.168.1.20, 10.0.0.1, 172.16.5.4, 127.0.0.1, 169.254.1.1, 100.64.0.1, "
                      "0.0.0.0, 255.255.255.255, 224.0.0.1, doc 203.0.113.9.");
    // the placeholders are documentation addresses, so scrubbing twice changes nothing
    char once[512];
    snprintf(once, sizeof once, "%s", o);
    CHECK_STR_EQ(scrub(once, &em, &ip), once);
    CHECK_EQ(ip, 0);
    // edges of the private ranges
    CHECK(!data_ipv4_is_global(0xAC1F0001));  // 172.31.0.1
    CHECK(data_ipv4_is_global(0xAC200001));   // 172.32.0.1
    CHECK(!data_ipv4_is_global(0x647FFFFF));  // 100.127.255.255
    CHECK(data_ipv4_is_global(0x64800000));   // 100.128.0.0
    CHECK(data_ipv4_is_global(0xC0A70001));   // 192.167.0.1
    // not addresses: versions with leading zeros, five parts, out of range
    const char *keep = "v1.2.3.4.5 256.1.1.1 01.2.3.4 1.2.3 a1.2.3.4 1.2.3.4a";
    CHECK_STR_EQ(scrub(keep, &em, &ip), keep);
}

// ---------------------------------------------------------------------------
// Aho-Corasick

static int collect(void *ctx, int tag, size_t end, size_t len) {
    Buf *b = ctx;
    buf_printf(b, "%d@%zu/%zu ", tag, end, len);
    return 0;
}

TEST(aho_corasick_finds_every_occurrence) {
    DataAC *a = data_ac_new();
    const char *pats[] = {"he", "she", "his", "hers", "s"};
    for (int i = 0; i < 5; i++) data_ac_add(a, pats[i], strlen(pats[i]), i);
    data_ac_add(a, "he", 2, 9);  // the same pattern twice: both tags reported
    data_ac_build(a);
    Buf got = {0};
    data_ac_scan(a, "ushers", 6, collect, &got);
    // naive reference: every pattern at every end position
    Buf want = {0};
    const char *t = "ushers";
    for (size_t end = 1; end <= 6; end++) {
        for (int i = 0; i < 5; i++) {
            size_t n = strlen(pats[i]);
            if (n <= end && !memcmp(t + end - n, pats[i], n)) buf_printf(&want, "%d@%zu/%zu ", i, end, n);
        }
        if (end >= 2 && !memcmp(t + end - 2, "he", 2)) buf_printf(&want, "9@%zu/2 ", end);
    }
    // same multiset: compare sorted tokens
    CHECK_EQ(got.len, want.len);
    char *g = got.data, *w;
    for (char *tok = strtok_r(want.data, " ", &w); tok; tok = strtok_r(NULL, " ", &w)) CHECK_CONTAINS(g, tok);
    data_ac_free(a);
    buf_free(&got), buf_free(&want);
}

static int count_hits(void *ctx, int tag, size_t end, size_t len) {
    (*(int *)ctx)++;
    return 0;
}

TEST(aho_corasick_agrees_with_naive_search_on_random_text) {
    Rng r;
    rng_seed(&r, 5);
    DataAC *a = data_ac_new();
    char pats[200][6];
    for (int i = 0; i < 200; i++) {
        int n = 1 + (int)rng_below(&r, 5);
        for (int k = 0; k < n; k++) pats[i][k] = (char)('a' + rng_below(&r, 4));
        pats[i][n] = 0;
        data_ac_add(a, pats[i], (size_t)n, i);
    }
    data_ac_build(a);
    char text[2000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + rng_below(&r, 5));
    int hits = 0, naive = 0;
    data_ac_scan(a, text, sizeof text, count_hits, &hits);
    for (int i = 0; i < 200; i++) {
        size_t n = strlen(pats[i]);
        for (size_t p = 0; p + n <= sizeof text; p++) naive += !memcmp(text + p, pats[i], n);
    }
    CHECK_EQ(hits, naive);
    CHECK(hits > 1000);
    data_ac_free(a);
}

// ---------------------------------------------------------------------------
// URL filter

TEST(url_filter_rules) {
    DataConfig c;
    data_config_default(&c);
    const char *list = test_path("domains.txt");
    test_write_file(list, "# blocked domains\nbad-site.example   # trailing comment\n\n  Spam.Example.ORG.\n");
    c.url.domain_files.items = malloc(sizeof(char *));
    c.url.domain_files.items[0] = strdup(list);
    c.url.domain_files.n = 1;
    c.url.urls.items = malloc(sizeof(char *));
    c.url.urls.items[0] = strdup("http://example.com/one/page.html");
    c.url.urls.n = 1;
    Err e;
    DataUrlFilter *f = data_urlfilter_new(&c, &e);
    REQUIRE(f != NULL);
#define U(url) data_urlfilter_check(f, url, strlen(url))
    CHECK_EQ(U("https://bad-site.example/x"), DATA_R_URL_DOMAIN);
    CHECK_EQ(U("https://www.cdn.bad-site.example:8080/x"), DATA_R_URL_DOMAIN);  // subdomains too
    CHECK_EQ(U("http://user@spam.example.org/"), DATA_R_URL_DOMAIN);
    CHECK_EQ(U("https://notbad-site.example/x"), DATA_R_NONE);  // a different domain
    CHECK_EQ(U("http://example.com/one/page.html"), DATA_R_URL_URL);
    CHECK_EQ(U("http://example.com/one/page.html?x=1"), DATA_R_NONE);
    CHECK_EQ(U("http://example.com/videos/porn/1"), DATA_R_URL_HARD_WORD);
    CHECK_EQ(U("http://example.com/XXX-clips"), DATA_R_URL_HARD_WORD);  // case folded
    // soft words: two distinct ones ban, one does not, the same one twice does not
    CHECK_EQ(U("http://example.com/adult-education"), DATA_R_NONE);
    CHECK_EQ(U("http://example.com/adult/adult"), DATA_R_NONE);
    CHECK_EQ(U("http://example.com/naked-adult-pics"), DATA_R_URL_SOFT_WORDS);
    // sub-words hide inside tokens and across separators
    CHECK_EQ(U("http://example.com/freepornvideos"), DATA_R_URL_SUBWORD);
    CHECK_EQ(U("http://example.com/p-o-r-n"), DATA_R_URL_SUBWORD);
    CHECK_EQ(U("http://example.com/sussex-university"), DATA_R_NONE);
    CHECK_EQ(U(""), DATA_R_NONE);
#undef U
    data_urlfilter_free(f);
    // a missing list file is an error naming it
    free(c.url.domain_files.items[0]);
    c.url.domain_files.items[0] = strdup(test_path("missing.txt"));
    CHECK(data_urlfilter_new(&c, &e) == NULL);
    CHECK_CONTAINS(e.msg, "missing.txt");
    data_config_free(&c);
}
