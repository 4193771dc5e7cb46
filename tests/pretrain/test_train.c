// test_train.c: the pretraining loop: a
// tiny model that learns, the files a run writes, bit-identical resume
// (N+k steps straight vs N steps, resume, k steps) and bad configurations.
//   make build/tests/pretrain/test_train && build/tests/pretrain/test_train
#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "train/shards.h"
#include "pretrain/train.h"
#include "tests/test.h"
#include "tests/tiny.h"

// ---------------------------------------------------------------------------
// A data folder: arithmetic lines, a tokenizer trained on them.

static char *doc_text(int d) {
    Buf b = {0};
    Rng r;
    rng_seed(&r, (uint64_t)d + 100);
    for (int i = 0; i < 6; i++) {
        int x = (int)rng_below(&r, 50), y = (int)rng_below(&r, 50);
        buf_printf(&b, "%d plus %d is %d.\n", x, y, x + y);
    }
    return buf_take(&b);
}

static const char *data_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    char corpus[512], tok[512];
    snprintf(corpus, sizeof corpus, "%s", test_path("corpus.jsonl"));
    snprintf(tok, sizeof tok, "%s", test_path("tok.json"));
    snprintf(dir, sizeof dir, "%s", test_path("data"));
    BpeTrainOpts to = {.vocab_size = 300, .threads = 1};
    Err e;
    BpeTrainer *t = bpe_trainer_new(&to, &e);
    RS_CHECK(t);
    FILE *f = fopen(corpus, "wb");
    for (int d = 0; d < 400; d++) {
        char *text = doc_text(d);
        bpe_trainer_add(t, text, strlen(text));
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "text", text);
        json_write_line(f, j);
        cJSON_Delete(j);
        free(text);
    }
    fclose(f);
    Bpe *b = bpe_trainer_finish(t, &e);
    RS_CHECK(b && bpe_save(b, tok, &e) == 0);
    bpe_free(b);
    bpe_trainer_free(t);
    const char *inputs[] = {corpus};
    ShardTokenizeOpts o = {.tokenizer = tok, .inputs = inputs, .n_inputs = 1, .out_dir = dir,
                           .shard_tokens = 5000, .val_fraction = 0.1, .threads = 1};
    ShardTokenizeStats st;
    if (shard_tokenize(&o, &st, &e) != 0) {
        fprintf(stderr, "    tokenize: %s\n", e.msg);
        exit(1);
    }
    return dir;
}

static PretrainConfig tiny_config(const char *out) {
    PretrainConfig c = pretrain_defaults();
    c.data_dir = data_dir();
    c.model_config = "test";
    c.out_dir = out;
    c.batch_size = 4;
    c.seq_len = 32;
    c.lr = 1e-2;
    c.min_lr = 1e-3;
    c.warmup = 5;
    c.steps = 60;
    c.eval_every = 20;
    c.eval_batches = 4;
    c.peak_flops = 1e9;
    c.progress = 0;
    return c;
}

static void free_lines(cJSON **lines, int n) {
    for (int i = 0; i < n; i++) cJSON_Delete(lines[i]);
}

TEST(tiny_model_learns_and_writes_its_files) {
    char *out = xstrdup(test_path("run"));
    PretrainConfig c = tiny_config(out);
    PretrainResult r;
    Err e = {{0}};
    REQUIRE(pretrain_run(&c, &r, &e) == 0);
    CHECK_EQ(r.steps, 60);
    CHECK_EQ(r.tokens, 60 * 4 * 32);
    CHECK(r.params > 0);
    cJSON *lines[100];
    int n = tiny_read_metrics(out, lines, 100);
    REQUIRE(n == 60);
    double first = json_opt_num(lines[0], "loss", 0), last = r.train_loss;
    CHECK_MSG(first > 5.0, "initial loss %.3f should be near ln(300) = 5.7", first);
    CHECK_MSG(last < first - 2.0, "loss %.3f -> %.3f: should fall by > 2 nats", first, last);
    CHECK_MSG(r.val_loss < first - 2.0, "val loss %.3f", r.val_loss);
    int evals = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ(json_opt_int(lines[i], "step", -1), i + 1);
        CHECK(cJSON_GetObjectItem(lines[i], "lr") && cJSON_GetObjectItem(lines[i], "grad_norm") &&
              cJSON_GetObjectItem(lines[i], "tokens_per_s"));
        evals += cJSON_GetObjectItem(lines[i], "val_loss") != NULL;
    }
    CHECK_EQ(evals, 3);  // steps 20, 40, 60
    CHECK_NEAR(json_opt_num(lines[59], "val_loss", 0), r.val_loss, 1e-12);
    CHECK_NEAR(json_opt_num(lines[0], "lr", 0), 1e-2 / 5, 1e-7);  // warmup: (step+1)/warmup * lr
    free_lines(lines, n);
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "optimizer.safetensors",
                           "trainer_state.json"};
    for (size_t i = 0; i < RS_ARRAY_LEN(files); i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/final/%s", out, files[i]);
        CHECK_MSG(fs_exists(path), "%s missing", path);
    }
    CHECK(strlen(r.sample) > 0);
    free(out);
}

TEST(resume_is_bit_identical) {
    // Straight: 12 steps with checkpoints every 5. Resumed: from step 5 to 12.
    char *a = xstrdup(test_path("straight")), *b = xstrdup(test_path("resumed"));
    PretrainConfig c = tiny_config(a);
    c.steps = 12, c.save_every = 5, c.eval_every = 3, c.sample_every = 4, c.grad_accum = 2;
    PretrainResult r;
    Err e = {{0}};
    REQUIRE(pretrain_run(&c, &r, &e) == 0);
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/step_000005", a);
    REQUIRE(fs_is_dir(ckpt));
    PretrainConfig c2 = c;
    c2.out_dir = b;
    c2.resume_dir = ckpt;
    c2.seed = 999;  // ignored: the checkpoint's seed fixes the data order
    PretrainResult r2;
    REQUIRE(pretrain_run(&c2, &r2, &e) == 0);
    CHECK_EQ(r2.steps, 12);
    CHECK_EQ(r2.tokens, r.tokens);

    cJSON *la[20], *lb[20];
    int na = tiny_read_metrics(a, la, 20), nb = tiny_read_metrics(b, lb, 20);
    REQUIRE(na == 12 && nb == 7);
    int same = 1;
    const char *keys[] = {"step", "loss", "lr", "grad_norm", "tokens", "val_loss"};
    for (int i = 0; i < nb; i++)
        for (size_t k = 0; k < RS_ARRAY_LEN(keys); k++) {
            double x = json_opt_num(la[5 + i], keys[k], -1), y = json_opt_num(lb[i], keys[k], -1);
            if (x != y) {
                same = 0;
                fprintf(stderr, "    step %d %s: %.17g straight vs %.17g resumed\n", 6 + i, keys[k], x, y);
            }
        }
    CHECK(same);
    free_lines(la, na), free_lines(lb, nb);
    CHECK_STR_EQ(r2.sample, r.sample);
    CHECK_MSG(tiny_same_final(a, b, "model.safetensors"), "final weights differ");
    CHECK_MSG(tiny_same_final(a, b, "optimizer.safetensors"), "final optimizer state differs");

    // Resumed into the same folder: the steps after the checkpoint are
    // replaced, not repeated, and come out the same.
    double before[12];
    na = tiny_read_metrics(a, la, 20);
    for (int i = 0; i < na; i++) before[i] = json_opt_num(la[i], "loss", -1);
    free_lines(la, na);
    c2.out_dir = a;
    REQUIRE(pretrain_run(&c2, &r2, &e) == 0);
    na = tiny_read_metrics(a, la, 20);
    CHECK_EQ(na, 12);
    for (int i = 0; i < na && i < 12; i++) {
        CHECK_EQ(json_opt_int(la[i], "step", -1), i + 1);
        CHECK(json_opt_num(la[i], "loss", -1) == before[i]);
    }
    free_lines(la, na);

    // Resuming past the end is an error, not a silent no-op.
    snprintf(ckpt, sizeof ckpt, "%s/final", a);
    CHECK(pretrain_run(&c2, &r2, &e) != 0);
    CHECK_CONTAINS(e.msg, "already at step 12");
    free(a), free(b);
}

TEST(time_budget_lowers_the_step_count) {
    char *out = xstrdup(test_path("budget"));
    PretrainConfig c = tiny_config(out);
    c.steps = 3000;  // ~15 s without a budget
    c.time_budget = 1.0;
    PretrainResult r;
    Err e = {{0}};
    double t0 = rs_now();
    REQUIRE(pretrain_run(&c, &r, &e) == 0);
    double el = rs_now() - t0;
    CHECK_MSG(r.steps > 3 && r.steps < 3000, "steps %lld", (long long)r.steps);
    CHECK_MSG(el < 5, "took %.1f s for a 1 s budget", el);
    cJSON *lines[4];
    int n = tiny_read_metrics(out, lines, 4);
    REQUIRE(n == 4);
    // Warmup (5 steps) is independent of the total; the decay then ends at r.steps.
    CHECK_NEAR(json_opt_num(lines[3], "lr", 0), 1e-2 * 4 / 5, 1e-7);
    free_lines(lines, n);
    char st[600];
    snprintf(st, sizeof st, "%s/final/trainer_state.json", out);
    cJSON *j = json_read_file(st, &e);
    REQUIRE(j);
    CHECK_EQ(json_opt_int(j, "step", -1), r.steps);
    cJSON_Delete(j);
    free(out);
}

TEST(bad_configurations) {
    char *out = xstrdup(test_path("bad"));
    PretrainConfig c = tiny_config(out);
    PretrainResult r;
    Err e = {{0}};
    c.seq_len = 100000;
    CHECK(pretrain_run(&c, &r, &e) != 0);
    CHECK_CONTAINS(e.msg, "--seq-len 100000 exceeds max_position_embeddings");
    c = tiny_config(out);
    c.model_config = "enormous";
    CHECK(pretrain_run(&c, &r, &e) != 0);
    CHECK_CONTAINS(e.msg, "enormous");
    c = tiny_config(out);
    c.data_dir = out;
    CHECK(pretrain_run(&c, &r, &e) != 0);
    CHECK_CONTAINS(e.msg, "shards.json: missing");
    c = tiny_config(out);
    c.schedule = "sawtooth";
    CHECK(pretrain_run(&c, &r, &e) != 0);
    CHECK_CONTAINS(e.msg, "sawtooth");
    c = tiny_config(out);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/config.json", test_tmpdir());
    test_write_file(cfg, "{\"hidden_size\": 32, \"num_hidden_layers\": 1}");
    c.model_config = cfg;
    CHECK(pretrain_run(&c, &r, &e) != 0);
    CHECK_CONTAINS(e.msg, "config.json");
    free(out);
}

