// tiny.h: the tiny tokenizer and model the stage tests share — a BPE trained
// on a line of text repeated, and a random `test`-preset model sized to it,
// optionally saved as a checkpoint folder (config, weights, tokenizer.json).
#pragma once
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/jsonl.h"
#include "model/device.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

// RS_TEST_DEVICE=cuda (scripts/gpu-check.sh) runs a stage test's models on
// that backend: model_new and model_load follow the process default.
__attribute__((constructor)) static void tiny_pick_device(void) {
    const char *dev = getenv("RS_TEST_DEVICE");
    if (!dev || !*dev) return;
    ModelDevice d;
    Err e = {{0}};
    char desc[512];
    if (model_device_parse(dev, &d, &e) != 0 || model_device_use(&d, desc, sizeof desc, &e) != 0) {
        fprintf(stderr, "RS_TEST_DEVICE: %s\n", e.msg);
        exit(1);
    }
    printf("device: %s\n", desc);
}

// A BPE of `vocab` ids trained on text repeated `reps` times; specials NULL
// means the defaults (chat tokens included).
__attribute__((unused)) static Bpe *tiny_tokenizer(const char *text, int reps, int vocab,
                                                   const char *const *specials, int n_specials) {
    Err e = {0};
    BpeTrainOpts o = {.vocab_size = vocab, .threads = 1, .specials = specials, .n_specials = n_specials};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    for (int i = 0; i < reps; i++) bpe_trainer_add(t, text, strlen(text));
    Bpe *tok = bpe_trainer_finish(t, &e);
    bpe_trainer_free(t);
    RS_CHECK(tok);
    return tok;
}

// A random `test`-preset model for tok with max_len positions.
__attribute__((unused)) static Model *tiny_model(const Bpe *tok, int max_len, uint64_t seed, int flags) {
    Err e = {0};
    ModelConfig c;
    RS_CHECK(model_config_preset("test", &c, &e) == 0);
    c.vocab_size = bpe_vocab_size(tok);
    c.max_position_embeddings = max_len;
    Model *m = model_new(&c, flags, &e);
    RS_CHECK(m);
    model_init_random(m, seed);
    return m;
}

// Save m and tok as a checkpoint folder dir (created).
__attribute__((unused)) static void tiny_save(const Model *m, const Bpe *tok, const char *dir) {
    Err e = {0};
    char *tp = fs_join(dir, "tokenizer.json");
    RS_CHECK(fs_mkdir_p(dir, &e) == 0 && model_save(m, dir, &e) == 0 && bpe_save(tok, tp, &e) == 0);
    free(tp);
}

// 1 when files a and b hold the same bytes (bit-identical resume checks).
static int tiny_same_file(const char *a, const char *b) {
    char *da, *db;
    size_t na, nb;
    Err e;
    if (fs_read_all(a, &da, &na, &e)) return 0;
    if (fs_read_all(b, &db, &nb, &e)) return free(da), 0;
    int same = na == nb && memcmp(da, db, na) == 0;
    free(da), free(db);
    return same;
}

// 1 when run folders a and b hold the same final/<name> (model.safetensors,
// optimizer.safetensors): a straight run against a resumed one.
__attribute__((unused)) static int tiny_same_final(const char *a, const char *b, const char *name) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/final/%s", a, name);
    snprintf(pb, sizeof pb, "%s/final/%s", b, name);
    return tiny_same_file(pa, pb);
}

// The first max lines of dir/metrics.jsonl into lines (the caller deletes
// each); how many, or -1 without the file.
__attribute__((unused)) static int tiny_read_metrics(const char *dir, cJSON **lines, int max) {
    char *path = fs_join(dir, "metrics.jsonl");
    Err e;
    JsonlReader *r = jsonl_open(path, &e);
    free(path);
    if (!r) return -1;
    int n = 0;
    cJSON *j;
    while (n < max && jsonl_next(r, &j, &e) == 1) lines[n++] = j;
    jsonl_close(r);
    return n;
}
