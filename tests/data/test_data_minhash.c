// test_data_minhash.c: MinHash LSH against its theory. Synthetic pairs of
// shingle sets with exact Jaccard similarity 0.70, 0.75, 0.80 and 0.85 must
// be caught at 1 − (1 − s^8)^14 (56/77/92/98.8%) within 5 points; 10,000
// unrelated documents must merge nowhere; the dedup keeps the first document
// of each cluster, and gives the same answer when it spills to partitions.
#include <math.h>
#include <string.h>

#include "common/buf.h"
#include "common/rng.h"
#include "data/pipeline.h"
#include "tests/test.h"

static int share_band(const uint64_t *a, const uint64_t *b, int nb) {
    for (int i = 0; i < nb; i++)
        if (a[i] == b[i]) return 1;
    return 0;
}

TEST(detection_rate_matches_theory) {
    DataMinHash *m = data_minhash_new(5, 14, 8, 1);
    Rng r;
    rng_seed(&r, 42);
    const int U = 200, PAIRS = 2000;  // |A ∪ B| = U, |A ∩ B| = sU
    static const double S[4] = {0.70, 0.75, 0.80, 0.85};
    uint64_t sh[400], sig_a[112], sig_b[112], band_a[14], band_b[14];
    for (int k = 0; k < 4; k++) {
        int inter = (int)lround(S[k] * U), only = (U - inter) / 2;
        CHECK_NEAR((double)inter / (inter + 2 * only), S[k], 1e-12);
        int hits = 0;
        for (int p = 0; p < PAIRS; p++) {
            for (int i = 0; i < inter + 2 * only; i++) sh[i] = rng_u64(&r);  // shared, A only, B only
            data_minhash_from_shingles(m, sh, (size_t)(inter + only), sig_a);
            memcpy(sh + inter, sh + inter + only, (size_t)only * sizeof *sh);
            data_minhash_from_shingles(m, sh, (size_t)(inter + only), sig_b);
            data_minhash_bands(m, sig_a, band_a);
            data_minhash_bands(m, sig_b, band_b);
            hits += share_band(band_a, band_b, 14);
        }
        double theory = 1 - pow(1 - pow(S[k], 8), 14), rate = (double)hits / PAIRS;
        printf("    Jaccard %.2f: detected %.1f%%, theory %.1f%%\n", S[k], 100 * rate, 100 * theory);
        CHECK_NEAR(rate, theory, 0.05);
    }
    data_minhash_free(m);
}

// A document of `n` words drawn from a vocabulary of random 6-letter words.
static void random_doc(Rng *r, Buf *b, int n, int vocab) {
    buf_clear(b);
    for (int i = 0; i < n; i++) {
        uint64_t w = rng_below(r, (uint64_t)vocab) * 0x9E3779B97F4A7C15ull;
        if (i) buf_putc(b, ' ');
        for (int k = 0; k < 6; k++, w >>= 5) buf_putc(b, (char)('a' + (w & 31) % 26));
    }
}

TEST(no_false_merges_among_10000_unrelated_documents) {
    DataMinHash *m = data_minhash_new(5, 14, 8, 1);
    DataScratch *s = data_scratch_new();
    Err e;
    DataDedup *d = data_dedup_new(test_path("dedup-10k"), 14, 10000, 64 << 20, &e);
    REQUIRE(d != NULL);
    Rng r;
    rng_seed(&r, 7);
    Buf b = {0};
    uint64_t sig[112], bands[14];
    for (int i = 0; i < 10000; i++) {
        random_doc(&r, &b, 60, 5000);
        data_minhash_signature(m, b.data, b.len, sig, s);
        data_minhash_bands(m, sig, bands);
        REQUIRE(data_dedup_add(d, (uint64_t)i, bands, &e) == 0);
    }
    REQUIRE(data_dedup_run(d, &e) == 0);
    CHECK_EQ(data_dedup_removed(d), 0);
    buf_free(&b);
    data_dedup_free(d);
    data_scratch_free(s);
    data_minhash_free(m);
}

// Documents 0..n-1: clusters of near-copies (a base text with a few words
// changed) mixed with unrelated ones. Returns the roots found.
static void cluster_run(size_t memory, uint64_t *roots, int *parts) {
    DataMinHash *m = data_minhash_new(5, 14, 8, 1);
    DataScratch *s = data_scratch_new();
    Err e;
    char dir[64];
    snprintf(dir, sizeof dir, "dedup-%zu", memory);
    DataDedup *d = data_dedup_new(test_path(dir), 14, 300, memory, &e);
    REQUIRE(d != NULL);
    Rng r;
    rng_seed(&r, 11);
    Buf base[10] = {{0}}, b = {0};
    for (int c = 0; c < 10; c++) random_doc(&r, &base[c], 400, 100000);
    uint64_t sig[112], bands[14];
    for (int i = 0; i < 300; i++) {
        if (i % 3 == 0) {  // a near-copy of base i%10: three words changed of 400 (Jaccard ≈ 0.93)
            buf_clear(&b);
            buf_append(&b, base[i % 10].data, base[i % 10].len);
            for (int k = 0; k < 3; k++) b.data[(size_t)(7 * (k + 1) * 17 + i) % b.len] = 'Q';
        } else {
            random_doc(&r, &b, 400, 100000);
        }
        data_minhash_signature(m, b.data, b.len, sig, s);
        data_minhash_bands(m, sig, bands);
        REQUIRE(data_dedup_add(d, (uint64_t)(299 - i), bands, &e) == 0);  // any order
    }
    REQUIRE(data_dedup_run(d, &e) == 0);
    for (int i = 0; i < 300; i++) roots[i] = data_dedup_root(d, (uint64_t)i);
    *parts = data_dedup_partitions(d);
    for (int c = 0; c < 10; c++) buf_free(&base[c]);
    buf_free(&b);
    data_dedup_free(d);
    data_scratch_free(s);
    data_minhash_free(m);
}

TEST(clusters_keep_their_first_document_and_spill_gives_the_same) {
    uint64_t big[300], small[300];
    int pbig, psmall;
    cluster_run(64 << 20, big, &pbig);
    cluster_run(4096, small, &psmall);  // 300 docs × 14 bands × 16 bytes = 67 KB: 17 partitions
    CHECK_EQ(pbig, 1);
    CHECK(psmall > 10);
    int removed = 0;
    for (int i = 0; i < 300; i++) {
        CHECK_EQ(big[i], small[i]);
        CHECK(big[i] <= (uint64_t)i);
        removed += big[i] != (uint64_t)i;
    }
    // 100 near-copies in 10 clusters of 10: 90 removed. The i-th document is
    // number 299 − i; cluster members are i ≡ c (mod 30), so each cluster's
    // lowest number belongs to its largest i.
    CHECK_EQ(removed, 90);
    for (int i = 0; i < 300; i++) {
        uint64_t want = (uint64_t)(299 - i);
        if (i % 3 == 0) want = (uint64_t)(299 - (i + 30 * ((299 - i) / 30)));
        CHECK_MSG(big[299 - i] == want, "document %d: root %llu, want %llu", 299 - i, (unsigned long long)big[299 - i],
                  (unsigned long long)want);
    }
}

TEST(normalisation) {
    Buf b = {0};
    const char *t = "  Hello,   WORLD!  It's 3.14 or 42 — café CAFÉ\tend.";
    data_minhash_normalize(t, strlen(t), &b);
    CHECK_STR_EQ(b.data, "hello world its 0 or 0 cafe cafe end");
    // near-duplicates that differ in case, punctuation and numbers have equal signatures
    DataMinHash *m = data_minhash_new(5, 14, 8, 1);
    DataScratch *s = data_scratch_new();
    const char *x = "The quick brown fox jumps over the lazy dog in 2023, again and again.";
    const char *y = "the QUICK brown fox -- jumps over the lazy dog in 1999 again and again";
    uint64_t sx[112], sy[112];
    data_minhash_signature(m, x, strlen(x), sx, s);
    data_minhash_signature(m, y, strlen(y), sy, s);
    CHECK(!memcmp(sx, sy, sizeof sx));
    // fewer words than the n-gram: one shingle of the whole text
    data_minhash_signature(m, "two words", 9, sx, s);
    data_minhash_signature(m, "two  Words!", 11, sy, s);
    CHECK(!memcmp(sx, sy, sizeof sx));
    data_minhash_signature(m, "other words", 11, sy, s);
    CHECK(memcmp(sx, sy, sizeof sx) != 0);
    data_scratch_free(s);
    data_minhash_free(m);
    buf_free(&b);
}
