// test_rollout.c: the rollout engine on a tiny random model and a tokenizer
// trained here. The key property: the log-probs it records equal a full
// forward pass over the same sequences, batched or not, shared prefix or not.
#include <iconv.h>
#include <limits.h>
#include <math.h>

#include "common/base.h"
#include "model/model.h"
#include "rollout/rollout.h"
#include "common/utf8.h"
#include "tests/test.h"
#include "tests/tiny.h"
#include "tokenizer/bpe.h"

static Bpe *g_tok;
static Model *g_model;

static void setup(void) {
    if (g_model) return;
    g_tok = tiny_tokenizer("The quick brown fox jumps over the lazy dog. 12 + 34 = 46. Answer: 46.\n", 40, 320, NULL, 0);
    // Larger-than-default init so the distribution is far from uniform and
    // sampling actually depends on the logits.
    g_model = tiny_model(g_tok, 96, 3, 0);
    float *p = model_params(g_model);
    for (size_t i = 0; i < model_num_params(g_model); i++) p[i] *= 4.0f;
}

static void encode(const char *s, BpeIds *ids) { bpe_encode(g_tok, s, strlen(s), BPE_SPECIAL_NONE, ids); }

// Max |logp(rollout) - logp(full forward)| over every sample of r.
static double max_logp_error(const RolloutPrompt *prompts, const RolloutResult *r) {
    double worst = 0;
    Err e = {0};
    for (int i = 0; i < r->n; i++) {
        const RolloutSample *s = &r->samples[i];
        const RolloutPrompt *p = &prompts[s->prompt];
        int T = p->len + s->n - 1;  // inputs: prompt + all but the last generated token
        int32_t *ids = xmalloc(sizeof(int32_t) * (size_t)T), *tg = xmalloc(sizeof(int32_t) * (size_t)T);
        float *lp = xmalloc(sizeof(float) * (size_t)T);
        for (int t = 0; t < T; t++) {
            ids[t] = t < p->len ? p->ids[t] : s->ids[t - p->len];
            int nt = t + 1;
            tg[t] = nt < p->len ? -1 : s->ids[nt - p->len];
        }
        RS_CHECK(model_forward(g_model, ids, tg, 1, T, lp, NULL, &e) == 0);
        for (int k = 0; k < s->n; k++) worst = fmax(worst, fabs(lp[p->len - 1 + k] - s->logp[k]));
        free(ids), free(tg), free(lp);
    }
    return worst;
}

// Two prompts, G = 4 each, decoded together with shared prefixes: the worst
// log-prob error against the full forward.
static double shared_pair_error(const RolloutOpts *o, const BpeIds *a, const BpeIds *b) {
    RolloutPrompt two[2] = {{a->data, (int)a->len, 4, 5}, {b->data, (int)b->len, 4, 6}};
    RolloutResult r;
    Err e = {0};
    RS_CHECK(rollout_generate(g_model, g_tok, o, two, 2, NULL, &r, &e) == 0);
    RS_CHECK(r.n == 8);
    double err = max_logp_error(two, &r);
    rollout_result_free(&r);
    return err;
}

// The two prompts the log-prob tests sample, and their options (20 new tokens).
static RolloutOpts two_prompts(BpeIds *a, BpeIds *b) {
    setup();
    encode("The quick brown", a);
    encode("12 + 34 =", b);
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 20;
    return o;
}

TEST(logprobs_match_full_forward_batch_1_and_8) {
    BpeIds a = {0}, b = {0};
    RolloutOpts o = two_prompts(&a, &b);
    // Batch 1, one prompt, one sample: no sharing.
    o.batch = 1;
    RolloutPrompt one = {.ids = a.data, .len = (int)a.len, .n_samples = 1, .seed = 1};
    RolloutResult r;
    Err e = {0};
    REQUIRE(rollout_generate(g_model, g_tok, &o, &one, 1, NULL, &r, &e) == 0);
    CHECK_EQ(r.n, 1);
    CHECK(r.samples[0].n > 0);
    double err1 = max_logp_error(&one, &r);
    CHECK_MSG(err1 < 1e-4, "batch 1: max |dlogp| %g", err1);
    rollout_result_free(&r);
    // Batch 8, shared prefixes (G = 4 of each of two prompts).
    o.batch = 8;
    double err8 = shared_pair_error(&o, &a, &b);
    CHECK_MSG(err8 < 1e-4, "batch 8 shared: max |dlogp| %g", err8);
    // Batch 8, eight separate prompts without sharing, of different lengths.
    RolloutPrompt eight[8];
    for (int i = 0; i < 8; i++) eight[i] = (RolloutPrompt){a.data, 1 + i % (int)a.len, 1, (uint64_t)(10 + i)};
    REQUIRE(rollout_generate(g_model, g_tok, &o, eight, 8, NULL, &r, &e) == 0);
    double err8b = max_logp_error(eight, &r);
    CHECK_MSG(err8b < 1e-4, "batch 8 separate: max |dlogp| %g", err8b);
    rollout_result_free(&r);
    bpe_ids_free(&a);
    bpe_ids_free(&b);
}

// A bfloat16 KV cache (RolloutOpts.kv_bf16) samples from logits within
// bf16 rounding of the exact ones: log-probs stay within 0.1 of the full
// forward (0.05 measured on this model; ARCHITECTURE.md, "Decoding on the
// CPU"), and the rounding shows (a cache left float32 would not); switching
// back to float32 gives a float32 cache again.
TEST(bf16_kv_cache_logprobs_near_full_forward) {
    BpeIds a = {0}, b = {0};
    RolloutOpts o = two_prompts(&a, &b);
    o.batch = 8;
    o.kv_bf16 = 1;
    double err = shared_pair_error(&o, &a, &b);
    printf("    bf16 KV: max |dlogp| %.2e against the full forward\n", err);
    CHECK_MSG(err < 0.1 && err > 1e-4, "bf16 KV: max |dlogp| %g (rounding must show, and stay small)", err);
    o.kv_bf16 = 0;
    err = shared_pair_error(&o, &a, &b);
    CHECK_MSG(err < 1e-4, "float32 again: max |dlogp| %g", err);
    bpe_ids_free(&a);
    bpe_ids_free(&b);
}

TEST(same_seed_same_samples_whatever_the_batch) {
    setup();
    BpeIds a = {0};
    encode("The lazy dog", &a);
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 16;
    o.top_p = 0.9f;
    RolloutPrompt p[2] = {{a.data, (int)a.len, 5, 42}, {a.data, 2, 3, 43}};
    RolloutResult r1, r8;
    Err e = {0};
    o.batch = 1;
    REQUIRE(rollout_generate(g_model, g_tok, &o, p, 2, NULL, &r1, &e) == 0);
    o.batch = 8;
    REQUIRE(rollout_generate(g_model, g_tok, &o, p, 2, NULL, &r8, &e) == 0);
    REQUIRE(r1.n == 8 && r8.n == 8);
    int distinct = 0;
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(r1.samples[i].n, r8.samples[i].n);
        CHECK(r1.samples[i].n == r8.samples[i].n &&
              memcmp(r1.samples[i].ids, r8.samples[i].ids, sizeof(int32_t) * (size_t)r1.samples[i].n) == 0);
        CHECK_STR_EQ(r1.samples[i].text, r8.samples[i].text);
        CHECK_EQ(r1.samples[i].prompt, i < 5 ? 0 : 1);
        CHECK_EQ(r1.samples[i].index, i < 5 ? i : i - 5);
        if (i > 0 && (r1.samples[i].n != r1.samples[0].n ||
                      memcmp(r1.samples[i].ids, r1.samples[0].ids, sizeof(int32_t) * (size_t)r1.samples[0].n)))
            distinct++;
    }
    CHECK_MSG(distinct > 0, "the G samples of a prompt must differ (per-sample seeds)");
    rollout_result_free(&r1);
    rollout_result_free(&r8);
    bpe_ids_free(&a);
}

TEST(stop_ids_stop_strings_and_length) {
    setup();
    BpeIds a = {0};
    encode("12 + 34", &a);
    RolloutOpts o = rollout_defaults();
    o.temperature = 0;
    o.max_new_tokens = 12;
    RolloutPrompt p = {a.data, (int)a.len, 1, 1};
    RolloutResult g;
    Err e = {0};
    REQUIRE(rollout_generate(g_model, g_tok, &o, &p, 1, NULL, &g, &e) == 0);
    REQUIRE(g.samples[0].n == 12);
    CHECK_EQ(g.samples[0].finish, ROLLOUT_LENGTH);
    // Stop at the id greedy decoding produces third: ends there, id kept.
    int32_t stop = g.samples[0].ids[2];
    int first = 0;
    while (g.samples[0].ids[first] != stop) first++;
    o.stop_ids = &stop;
    o.n_stop_ids = 1;
    RolloutResult s;
    REQUIRE(rollout_generate(g_model, g_tok, &o, &p, 1, NULL, &s, &e) == 0);
    CHECK_EQ(s.samples[0].n, first + 1);
    CHECK_EQ(s.samples[0].finish, ROLLOUT_STOP);
    CHECK_EQ(s.samples[0].ids[first], stop);
    rollout_result_free(&s);
    // A stop string taken from the middle of the greedy text cuts it there
    // (two ASCII characters: the text may hold U+FFFD for stray bytes).
    const char *full = g.samples[0].text;
    size_t L = strlen(full), at = L / 2;
    REQUIRE(L >= 4);
    while (at + 1 < L && !((unsigned char)full[at] < 0x80 && (unsigned char)full[at + 1] < 0x80)) at++;
    REQUIRE(at + 1 < L);
    char needle[3] = {full[at], full[at + 1], 0};
    const char *stops[] = {needle};
    o.n_stop_ids = 0;
    o.stop_strs = stops;
    o.n_stop_strs = 1;
    REQUIRE(rollout_generate(g_model, g_tok, &o, &p, 1, NULL, &s, &e) == 0);
    CHECK_EQ(s.samples[0].finish, ROLLOUT_STOP);
    size_t cut = (size_t)(strstr(full, needle) - full);
    CHECK_EQ(strlen(s.samples[0].text), cut);
    CHECK(strncmp(s.samples[0].text, full, cut) == 0);
    rollout_result_free(&s);
    rollout_result_free(&g);
    bpe_ids_free(&a);
}

TEST(context_limit_and_bad_prompts) {
    setup();
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = i % 200;
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 50;
    RolloutResult r;
    Err e = {0};
    RolloutPrompt too_long = {ids, 100, 1, 1};
    CHECK_EQ(rollout_generate(g_model, g_tok, &o, &too_long, 1, NULL, &r, &e), -1);
    CHECK_CONTAINS(e.msg, "context of 96");
    // 90 tokens leave room for 6: the sample ends by length at the context.
    RolloutPrompt near = {ids, 90, 1, 1};
    REQUIRE(rollout_generate(g_model, g_tok, &o, &near, 1, NULL, &r, &e) == 0);
    CHECK_EQ(r.samples[0].finish, ROLLOUT_LENGTH);
    CHECK_EQ(r.samples[0].n, 6);
    rollout_result_free(&r);
    int32_t bad = 100000;
    RolloutPrompt oob = {&bad, 1, 1, 1};
    CHECK_EQ(rollout_generate(g_model, g_tok, &o, &oob, 1, NULL, &r, &e), -1);
    CHECK_EQ(r.n, 0);
}

TEST(context_limit_with_a_huge_token_limit) {
    setup();
    // max_new_tokens near INT_MAX: the context bounds the sample (no overflow).
    int32_t ids[90];
    for (int i = 0; i < 90; i++) ids[i] = i % 200;
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = INT_MAX;
    RolloutPrompt near = {ids, 90, 2, 1};
    RolloutResult r;
    Err e = {0};
    REQUIRE(rollout_generate(g_model, g_tok, &o, &near, 1, NULL, &r, &e) == 0);
    for (int i = 0; i < r.n; i++) {
        CHECK_EQ(r.samples[i].finish, ROLLOUT_LENGTH);
        CHECK_EQ(r.samples[i].n, 6);
    }
    rollout_result_free(&r);
}

// 1 when s is well-formed UTF-8, by glibc's decoder (independent of ours).
static int is_utf8(const char *s) {
    iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
    RS_CHECK(cd != (iconv_t)-1);
    size_t in = strlen(s), cap = 4 * in + 4, out = cap;
    char *buf = xmalloc(cap), *ip = (char *)s, *op = buf;
    size_t rc = iconv(cd, &ip, &in, &op, &out);
    iconv_close(cd);
    free(buf);
    return rc != (size_t)-1 && in == 0;
}

TEST(sample_text_is_utf8_even_when_the_bytes_are_not) {
    setup();
    // A random model samples byte tokens freely: most raw generations are
    // not UTF-8. The text must be (the farm rejects anything else), equal to
    // the plain decode where that is valid, and U+FFFD where it was not.
    BpeIds a = {0};
    encode("The quick", &a);
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 24;
    RolloutPrompt p = {a.data, (int)a.len, 16, 77};
    RolloutResult r;
    Err e = {0};
    REQUIRE(rollout_generate(g_model, g_tok, &o, &p, 1, NULL, &r, &e) == 0);
    int raw_bad = 0;
    for (int i = 0; i < r.n; i++) {
        const RolloutSample *s = &r.samples[i];
        Buf raw = {0};
        REQUIRE(bpe_decode(g_tok, s->ids, (size_t)s->n, &raw, &e) == 0);
        CHECK_MSG(is_utf8(s->text), "sample %d: text is not UTF-8", i);
        int valid = memchr(raw.data, 0, raw.len) == NULL && is_utf8(raw.data);
        if (valid) CHECK_STR_EQ(s->text, raw.data);
        else CHECK_CONTAINS(s->text, "\xEF\xBF\xBD");
        raw_bad += !valid;
        buf_free(&raw);
    }
    REQUIRE(raw_bad > 0);  // else the test proves nothing: change the seed
    rollout_result_free(&r);
    bpe_ids_free(&a);
}

TEST(mixed_group_sizes_same_samples_and_logprobs_at_any_batch) {
    setup();
    // Six prompts with G = 1..4: forks from prompt slots across rounds,
    // direct prefills, and more prompts than prompt slots at batch 5.
    BpeIds a = {0};
    encode("12 + 34 = 46. The lazy dog", &a);
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 10;
    o.top_k = 50;
    RolloutPrompt p[6];
    const int G[6] = {2, 3, 1, 4, 2, 3};
    for (int i = 0; i < 6; i++) p[i] = (RolloutPrompt){a.data, 1 + 3 * i % (int)a.len, G[i], (uint64_t)(100 + i)};
    RolloutResult ref;
    Err e = {0};
    o.batch = 1;
    REQUIRE(rollout_generate(g_model, g_tok, &o, p, 6, NULL, &ref, &e) == 0);
    REQUIRE(ref.n == 15);
    const int batches[] = {2, 5, 15};
    for (int b = 0; b < 3; b++) {
        o.batch = batches[b];
        RolloutResult r;
        REQUIRE(rollout_generate(g_model, g_tok, &o, p, 6, NULL, &r, &e) == 0);
        REQUIRE(r.n == 15);
        for (int i = 0; i < 15; i++)
            CHECK_MSG(r.samples[i].n == ref.samples[i].n &&
                          memcmp(r.samples[i].ids, ref.samples[i].ids, sizeof(int32_t) * (size_t)r.samples[i].n) == 0,
                      "batch %d: sample %d differs from batch 1", batches[b], i);
        double err = max_logp_error(p, &r);
        CHECK_MSG(err < 1e-4, "batch %d: max |dlogp| %g", batches[b], err);
        rollout_result_free(&r);
    }
    rollout_result_free(&ref);
    bpe_ids_free(&a);
}

TEST(sampler_truncation_and_frequencies) {
    float logits[4] = {2.0f, 1.0f, 0.5f, -1.0f};
    float scratch[8], lp;
    Rng rng;
    rng_seed(&rng, 9);
    // Greedy and top-k 1 both give the argmax; logp is the full log-softmax.
    double lse = log(exp(2.0) + exp(1.0) + exp(0.5) + exp(-1.0));
    CHECK_EQ(rollout_sample_token(logits, 4, 0, 0, 1, &rng, scratch, &lp), 0);
    CHECK_NEAR(lp, 2.0 - lse, 1e-6);
    for (int i = 0; i < 50; i++) CHECK_EQ(rollout_sample_token(logits, 4, 1, 1, 1, &rng, scratch, &lp), 0);
    // top-p 0.6: p = .61, .22, .14, .03 -> only token 0 survives.
    for (int i = 0; i < 50; i++) CHECK_EQ(rollout_sample_token(logits, 4, 1, 0, 0.6f, &rng, scratch, &lp), 0);
    // Full sampling follows softmax frequencies.
    int hist[4] = {0};
    const int n = 40000;
    for (int i = 0; i < n; i++) hist[rollout_sample_token(logits, 4, 1, 0, 1, &rng, scratch, &lp)]++;
    for (int k = 0; k < 4; k++) CHECK_NEAR((double)hist[k] / n, exp(logits[k] - lse), 0.01);
    // top-k 2 renormalises over the two best.
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < n; i++) hist[rollout_sample_token(logits, 4, 1, 2, 1, &rng, scratch, &lp)]++;
    CHECK_EQ(hist[2] + hist[3], 0);
    CHECK_NEAR((double)hist[0] / n, exp(2.0) / (exp(2.0) + exp(1.0)), 0.01);
    // top-k then top-p: the nucleus is over the renormalised top k (HF,
    // vLLM). Top-2 renormalised is .73, .27, so top-p .7 keeps token 0 only.
    int others = 0;
    for (int i = 0; i < 200; i++) others += rollout_sample_token(logits, 4, 1, 2, 0.7f, &rng, scratch, &lp) != 0;
    CHECK_EQ(others, 0);
    // The full-distribution logp is kept whatever the truncation.
    CHECK_NEAR(lp, 2.0 - lse, 1e-6);
    // Temperature sharpens: the logp is at that temperature.
    rollout_sample_token(logits, 4, 0.5f, 1, 1, &rng, scratch, &lp);
    CHECK_NEAR(lp, 4.0 - log(exp(4.0) + exp(2.0) + exp(1.0) + exp(-2.0)), 1e-5);
}

// What the callbacks saw: streamed text per sample and finish order.
typedef struct {
    Buf text[8];
    int done[8], order[8], ndone;
} Seen;

static void seen_text(int sample, const char *t, size_t n, void *ud) { buf_append(&((Seen *)ud)->text[sample], t, n); }

static void seen_done(const RolloutSample *s, void *ud) {
    Seen *w = ud;
    int i = s->prompt * 5 + s->index;
    w->done[i]++;
    w->order[w->ndone++] = i;
}

TEST(callbacks_stream_text_and_report_each_sample_once) {
    setup();
    BpeIds a = {0};
    encode("The lazy dog", &a);
    RolloutOpts o = rollout_defaults();
    o.max_new_tokens = 12;
    o.batch = 3;
    Seen w = {0};
    o.on_text = seen_text, o.on_sample = seen_done, o.ud = &w;
    RolloutPrompt p[2] = {{a.data, (int)a.len, 5, 42}, {a.data, 2, 3, 43}};
    RolloutResult r;
    Err e = {0};
    REQUIRE(rollout_generate(g_model, g_tok, &o, p, 2, NULL, &r, &e) == 0);
    CHECK_EQ(w.ndone, 8);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(w.done[i], 1);
        // Streamed pieces are the raw bytes; repaired, they spell the final text.
        char *fixed = utf8_repair(w.text[i].data ? w.text[i].data : "", w.text[i].len);
        CHECK_STR_EQ(fixed, r.samples[i].text);
        free(fixed);
        buf_free(&w.text[i]);
    }
    rollout_result_free(&r);
    bpe_ids_free(&a);
}

TEST(teardown) {
    model_free(g_model);
    bpe_free(g_tok);
    g_model = NULL;
    g_tok = NULL;
}
