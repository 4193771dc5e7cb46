// test_checkpoint.c: HF checkpoint folders and safetensors — round trips,
// atomic replacement, and bad input (wrong or missing config fields, missing
// or mis-shaped tensors, truncated files): one-line errors naming the file
// and the field, never a crash.
//
// hf_export also writes a checkpoint plus reasoner's logits for the offline
// check in scripts/model_fixture.py (set MODEL_CKPT_OUT to keep them):
//   MODEL_CKPT_OUT=/tmp/ck build/tests/model/test_checkpoint hf_export
//   python3 scripts/model_fixture.py check /tmp/ck/qwen2
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tests/model/helpers.h"
#include "tests/test.h"

static ModelConfig cfg_of(int tied, int bias, const char *type) {
    ModelConfig c;
    Err err;
    model_config_preset("test", &c, &err);
    c.vocab_size = 50, c.hidden_size = 16, c.intermediate_size = 40, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 4;
    c.tie_word_embeddings = tied, c.attention_bias = bias;
    snprintf(c.model_type, sizeof c.model_type, "%s", type);
    return c;
}

static char *dir_in_tmp(const char *name) { return fs_join(test_tmpdir(), name); }

// Write a config.json with one field replaced (or removed when value is NULL).
static char *config_with(const char *name, const char *field, const char *value) {
    ModelConfig c = cfg_of(1, 0, "llama");
    cJSON *j = model_config_to_json(&c);
    cJSON_DeleteItemFromObject(j, field);
    if (value) cJSON_AddItemToObject(j, field, cJSON_Parse(value));
    char *dir = dir_in_tmp(name), *path = fs_join(dir, "config.json");
    Err err;
    RS_CHECK(fs_mkdir_p(dir, &err) == 0 && json_write_file(path, j, &err) == 0);
    cJSON_Delete(j);
    free(dir);
    return path;
}

TEST(save_load_round_trip) {
    Err err;
    const char *types[2] = {"llama", "qwen2"};
    for (int v = 0; v < 2; v++) {
        ModelConfig c = cfg_of(v == 0, v == 1, types[v]);
        c.bos_token_id = 1, c.eos_token_id = 2, c.rope_theta = 500000.0f;
        Model *m = model_new(&c, 0, &err);
        randomize(m, 3 + v, 0.2f);
        char *dir = dir_in_tmp(types[v]);
        REQUIRE(model_save(m, dir, &err) == 0);
        Model *l = model_load(dir, 0, &err);
        REQUIRE(l);
        CHECK(memcmp(model_params(m), model_params(l), model_num_params(m) * 4) == 0);
        const ModelConfig *lc = model_config(l);
        CHECK(memcmp(lc, &c, sizeof c) == 0);
        char *st = fs_join(dir, "model.safetensors");
        StFile *f = st_open(st, &err);
        REQUIRE(f);
        CHECK_EQ(f->ntensors, model_num_tensors(m));
        CHECK((st_find(f, "lm_head.weight") != NULL) == (v == 1));
        CHECK((st_find(f, "model.layers.0.self_attn.q_proj.bias") != NULL) == (v == 1));
        CHECK_STR_EQ(st_meta(f, "format"), "pt");
        st_close(f);
        free(st), free(dir);
        model_free(m), model_free(l);
    }
}

TEST(checkpoint_replaces_atomically) {
    Err err;
    ModelConfig c = cfg_of(1, 0, "llama");
    Model *m = model_new(&c, 0, &err);
    char *dir = dir_in_tmp("swap"), *tmp = dir_in_tmp("swap.tmp"), *slash = dir_in_tmp("swap/");
    for (int round = 0; round < 2; round++) {
        randomize(m, 10 + round, 0.2f);
        ModelTrainerState st = {.step = round};
        REQUIRE(model_checkpoint_save(round ? slash : dir, m, NULL, &st, NULL, &err) == 0);
        CHECK(!fs_exists(tmp));
    }
    Model *l = model_load(dir, 0, &err);
    REQUIRE(l);
    CHECK(memcmp(model_params(m), model_params(l), model_num_params(m) * 4) == 0);
    ModelTrainerState st;
    CHECK(model_trainer_state_load(dir, &st, &err) == 0);
    CHECK_EQ(st.step, 1);
    // A failed save (tokenizer missing) leaves the previous checkpoint whole.
    randomize(m, 99, 0.2f);
    CHECK(model_checkpoint_save(dir, m, NULL, NULL, "/nonexistent/tokenizer.json", &err) == -1);
    CHECK_CONTAINS(err.msg, "/nonexistent/tokenizer.json");
    Model *l2 = model_load(dir, 0, &err);
    REQUIRE(l2);
    CHECK(memcmp(model_params(l), model_params(l2), model_num_params(l) * 4) == 0);
    CHECK(!fs_exists(tmp));
    free(dir), free(tmp), free(slash);
    model_free(m), model_free(l), model_free(l2);
}

TEST(trainer_state_round_trip) {
    Err err;
    ModelTrainerState st = {.step = 123456789012LL, .tokens_seen = 99};
    rng_seed(&st.rng, 7);
    rng_u64(&st.rng);
    st.extra = cJSON_Parse("{\"shard\": 4, \"offset\": 12345}");
    char *dir = dir_in_tmp("ts"), *path = fs_join(dir, "trainer_state.json");
    fs_mkdir_p(dir, &err);
    REQUIRE(model_trainer_state_save(&st, path, &err) == 0);
    ModelTrainerState back;
    REQUIRE(model_trainer_state_load(dir, &back, &err) == 0);
    CHECK_EQ(back.step, st.step);
    CHECK_EQ(back.tokens_seen, 99);
    CHECK(memcmp(&back.rng, &st.rng, sizeof st.rng) == 0);
    CHECK_EQ(json_opt_int(back.extra, "offset", 0), 12345);
    model_trainer_state_free(&back);
    test_write_file(path, "{\"step\": 3, \"tokens_seen\": 0, \"rng\": [\"xyz\", \"0\", \"0\", \"0\"]}");
    CHECK(model_trainer_state_load(dir, &back, &err) == -1);
    CHECK_CONTAINS(err.msg, "trainer_state.json: field 'rng[0]'");
    model_trainer_state_free(&st);
    free(dir), free(path);
}

TEST(config_errors_name_file_and_field) {
    Err err;
    ModelConfig c;
    struct {
        const char *field, *value, *expect;
    } cases[] = {
        {"hidden_size", NULL, "field 'hidden_size': missing"},
        {"hidden_size", "\"big\"", "field 'hidden_size': expected a number"},
        {"num_hidden_layers", "0", "field 'num_hidden_layers': must be a positive integer"},
        {"num_key_value_heads", "3", "field 'num_key_value_heads': 3 does not divide"},
        {"rope_theta", "\"x\"", "field 'rope_theta': expected a number"},
        {"tie_word_embeddings", "1", "field 'tie_word_embeddings': expected true or false"},
        {"model_type", "\"gpt2\"", "field 'model_type': 'gpt2'"},
        {"rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "'rope_scaling.rope_type': 'yarn'"},
        {"vocab_size", "1.5", "field 'vocab_size': expected an integer"},
        {"head_dim", "3", "field 'head_dim': must be even"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "cfg%zu", i);
        char *path = config_with(name, cases[i].field, cases[i].value);
        CHECK(model_config_load(path, &c, &err) == -1);
        CHECK_CONTAINS(err.msg, path);
        CHECK_CONTAINS(err.msg, cases[i].expect);
        CHECK(strchr(err.msg, '\n') == NULL);
        free(path);
    }
    char *path = config_with("cfgjson", "vocab_size", "5");
    test_write_file(path, "{\n  \"vocab_size\": 5,\n  oops\n}");
    CHECK(model_config_load(path, &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "config.json:3:");
    free(path);
    CHECK(model_load("/nonexistent/ckpt", 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "/nonexistent/ckpt/config.json");
    CHECK(model_config_preset("huge", &c, &err) == -1);
    CHECK_CONTAINS(err.msg, "unknown preset (known: test, tiny");
}

// A checkpoint folder whose model.safetensors is rewritten by `edit`.
static char *broken_checkpoint(const char *name, int drop, int reshape) {
    Err err;
    ModelConfig c = cfg_of(0, 1, "qwen2");
    Model *m = model_new(&c, 0, &err);
    char *dir = dir_in_tmp(name), *st = fs_join(dir, "model.safetensors");
    RS_CHECK(model_save(m, dir, &err) == 0);
    int n = model_num_tensors(m), k = 0;
    StWriteTensor *w = calloc(n, sizeof *w);
    for (int i = 0; i < n; i++) {
        ModelTensor *t = model_tensor(m, i);
        if (i == drop) continue;
        w[k] = (StWriteTensor){.name = t->name, .ndim = t->ndim, .data = t->param};
        w[k].shape[0] = t->shape[0], w[k].shape[1] = t->shape[1];
        if (i == reshape) w[k].shape[0] /= 2, w[k].shape[1] *= 2;
        k++;
    }
    RS_CHECK(st_write_f32(st, w, k, NULL, &err) == 0);
    free(w), free(st);
    model_free(m);
    return dir;
}

TEST(tensor_errors_name_file_and_tensor) {
    Err err;
    ModelConfig c = cfg_of(0, 1, "qwen2");
    Model *probe = model_new(&c, 0, &err);
    int up = -1;
    for (int i = 0; i < model_num_tensors(probe); i++)
        if (!strcmp(model_tensor(probe, i)->name, "model.layers.1.mlp.up_proj.weight")) up = i;
    model_free(probe);
    REQUIRE(up >= 0);
    char *dir = broken_checkpoint("missing", up, -1);
    CHECK(model_load(dir, 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "model.safetensors: tensor 'model.layers.1.mlp.up_proj.weight': missing");
    free(dir);
    dir = broken_checkpoint("misshaped", -1, up);
    CHECK(model_load(dir, 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "tensor 'model.layers.1.mlp.up_proj.weight': shape [20,32], expected [40,16]");
    // Truncated: cut the file at several points; never a crash, always the path.
    char *st = fs_join(dir, "model.safetensors");
    dir = (free(dir), broken_checkpoint("truncated", -1, -1));
    free(st);
    st = fs_join(dir, "model.safetensors");
    struct stat sb;
    stat(st, &sb);
    long cuts[] = {sb.st_size - 4, sb.st_size / 2, 100, 9, 3, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        REQUIRE(truncate(st, cuts[i]) == 0);
        CHECK(model_load(dir, 0, &err) == NULL);
        CHECK_CONTAINS(err.msg, st);
        CHECK(strchr(err.msg, '\n') == NULL);
    }
    CHECK_CONTAINS(err.msg, "truncated");
    free(st), free(dir);
}

static const uint8_t *image(const char *header, const uint8_t *data, size_t nd, size_t *n) {
    static uint8_t buf[1024];
    uint64_t h = strlen(header);
    memcpy(buf, &h, 8);
    memcpy(buf + 8, header, h);
    memcpy(buf + 8 + h, data, nd);
    *n = 8 + h + nd;
    return buf;
}

TEST(safetensors_parser_is_strict_and_converts) {
    Err err;
    StFile f;
    size_t n;
    // bf16 [1, -2], f16 [1, 1/3 (0x3555), -inf (0xfc00), 2^-24 (0x0001)]
    uint8_t data[12] = {0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3c, 0x55, 0x35, 0x00, 0xfc, 0x01, 0x00};
    const uint8_t *img = image("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                               "\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[4,12]},"
                               "\"__metadata__\":{\"k\":\"v\"}}", data, 12, &n);
    REQUIRE(st_parse(&f, img, n, "mem", &err) == 0);
    float a[2], b[4];
    CHECK(st_read_f32(&f, "a", a, 1, (int64_t[]){2}, &err) == 0);
    CHECK(a[0] == 1.0f && a[1] == -2.0f);
    CHECK(st_read_f32(&f, "b", b, 2, (int64_t[]){2, 2}, &err) == 0);
    CHECK(b[0] == 1.0f);
    CHECK_NEAR(b[1], 0.33325195, 1e-7);
    CHECK(isinf(b[2]) && b[2] < 0);
    CHECK(b[3] == ldexpf(1.0f, -24));
    CHECK_STR_EQ(st_meta(&f, "k"), "v");
    CHECK(st_read_f32(&f, "b", b, 1, (int64_t[]){4}, &err) == -1);
    CHECK_CONTAINS(err.msg, "mem: tensor 'b': shape [2,2], expected [4]");
    st_clear(&f);
    struct {
        const char *header, *expect;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "outside the 12 data bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "span 4 bytes, shape and dtype need 8"},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", "field 'dtype': unsupported 'Q4'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "field 'shape': bad size"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "field 'data_offsets'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", "duplicate"},
        {"{\"a\":[1,2]}", "tensor 'a': expected an object"},
        {"[1]", "header is not a JSON object"},
        {"{\"a\":", "header:"},
        {"{\"__metadata__\":{\"k\":1}}", "__metadata__.k"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", "too large"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        img = image(bad[i].header, data, 12, &n);
        CHECK(st_parse(&f, img, n, "mem", &err) == -1);
        CHECK_CONTAINS(err.msg, bad[i].expect);
    }
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CHECK(st_parse(&f, huge, 16, "mem", &err) == -1);
    CHECK_CONTAINS(err.msg, "exceeds the file");
}

TEST(optimizer_state_errors) {
    Err err;
    ModelConfig c = cfg_of(1, 0, "llama");
    Model *m = model_new(&c, MODEL_GRADS, &err);
    ModelAdamWConfig oc = model_adamw_defaults();
    ModelAdamW *o = model_adamw_new(m, &oc);
    char *dir = dir_in_tmp("opt");
    CHECK(model_adamw_load(o, dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "opt/optimizer.safetensors");
    fs_mkdir_p(dir, &err);
    char *p = fs_join(dir, "optimizer.safetensors");
    float z[4] = {0};
    StWriteTensor t = {.name = "x", .ndim = 1, .shape = {4}, .data = z};
    REQUIRE(st_write_f32(p, &t, 1, NULL, &err) == 0);
    CHECK(model_adamw_load(o, dir, &err) == -1);
    CHECK_CONTAINS(err.msg, "metadata 'step'");
    free(p), free(dir);
    model_adamw_free(o);
    model_free(m);
}

// A checkpoint and reasoner's logits on it, for scripts/model_fixture.py check.
TEST(hf_export) {
    Err err;
    const char *out = getenv("MODEL_CKPT_OUT");
    const char *types[2] = {"llama", "qwen2"};
    for (int v = 0; v < 2; v++) {
        ModelConfig c = cfg_of(v == 0, v == 1, types[v]);
        c.max_position_embeddings = 64;
        c.rope_theta = v ? 1000000.0f : 50000.0f;  // not transformers' defaults:
        c.rms_norm_eps = 1e-5f;                   // the check proves it reads ours
        Model *m = model_new(&c, 0, &err);
        randomize(m, 21 + v, 0.2f);
        char *root = out ? xstrdup(out) : dir_in_tmp("export"), *dir = fs_join(root, types[v]);
        REQUIRE(model_checkpoint_save(dir, m, NULL, NULL, NULL, &err) == 0);
        int B = 2, T = 24, V = c.vocab_size;
        int32_t ids[48];
        float fids[48], *logits = malloc((size_t)B * T * V * 4);
        Rng r;
        rng_seed(&r, 5);
        for (int i = 0; i < B * T; i++) fids[i] = (float)(ids[i] = (int32_t)rng_below(&r, V));
        KVCache *kv = model_kv_new(m, B, T, &err);
        REQUIRE(kv && model_decode(m, kv, B, (int[]){0, 1}, (int[]){T, T}, ids, logits, 1, &err) == 0);
        char *lp = fs_join(dir, "reasoner_logits.safetensors");
        StWriteTensor w[2] = {{.name = "ids", .ndim = 2, .shape = {B, T}, .data = fids},
                              {.name = "logits", .ndim = 3, .shape = {B, T, V}, .data = logits}};
        CHECK(st_write_f32(lp, w, 2, NULL, &err) == 0);
        Model *l = model_load(dir, 0, &err);
        CHECK(l && memcmp(model_params(l), model_params(m), model_num_params(m) * 4) == 0);
        model_free(l);
        free(lp), free(logits), free(dir), free(root);
        model_kv_free(kv);
        model_free(m);
    }
}
