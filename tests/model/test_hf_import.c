// test_hf_import.c: Hub folders in and out without Python (runs in CI):
// Llama 3 rope scaling bit for bit against transformers, Hub config.json
// variants, export -> import round trips (bf16 sharded, f32), and bad input
// (a missing shard, a mis-shaped tensor, a truncated header, FP8, unsupported
// architectures) failing with one error naming the file and tensor.
#include <string.h>

#include "common/fsutil.h"
#include "common/json.h"
#include "model/hub.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tests/test.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat.h"

// transformers 5.25 _compute_llama3_parameters, float32 bit patterns
// (scripts/hf_parity.py's venv: ROPE_INIT_FUNCTIONS["llama3"](LlamaConfig(...))).
static const uint32_t LLAMA32_INV[32] = {
    1065353216, 1059709382, 1054963644, 1049992931, 1044812720, 1040434848, 1034871981, 1030233703,
    1025116360, 1020030793, 1015523779, 1010044269, 1005516623, 1000248322, 995260192,  984164251,
    971060768,  952867063,  933446029,  928558209,  923781368,  918476020,  914179523,  908595819,
    903811268,  898893515,  893679120,  889347892,  883754919,  879076685,  874013863,  868893104};
static const uint32_t LLAMA31_8B_INV[64] = {
    1065353216, 1062243009, 1059709382, 1057645444, 1054963644, 1052224381, 1049992931, 1047774305,
    1044812720, 1042400160, 1040434848, 1037480348, 1034871981, 1032747160, 1030233703, 1027413636,
    1025116360, 1023079743, 1020030793, 1017547065, 1015523779, 1012729580, 1010044269, 1007856767,
    1005516623, 1002613366, 1000248322, 998321717,  995260192,  990772486,  984863005,  979408798,
    973706706,  967045384,  960179666,  952658054,  950223245,  948239807,  945335425,  942703001,
    940558584,  938099311,  935253236,  932934773,  930956739,  927879669,  925373035,  923331087,
    920588484,  917878407,  915670731,  913386368,  910456336,  908069481,  906125108,  903112712,
    900532135,  898429952,  895853901,  893063879,  890791079,  888686786,  885670320,  883213055};

// Llama-3.2-1B's config.json as published (transformers 4 layout).
static const char LLAMA32_CONFIG[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0,"
    " \"bos_token_id\": 128000, \"eos_token_id\": 128001, \"head_dim\": 64, \"hidden_act\": \"silu\","
    " \"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 8192,"
    " \"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\","
    " \"num_attention_heads\": 32, \"num_hidden_layers\": 16, \"num_key_value_heads\": 8, \"pretraining_tp\": 1,"
    " \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0,"
    " \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},"
    " \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\","
    " \"transformers_version\": \"4.45.0.dev0\", \"use_cache\": true, \"vocab_size\": 128256}";

static int parse_config(const char *text, ModelConfig *c, Err *e) {
    cJSON *j = cJSON_Parse(text);
    int rc = j ? model_config_from_json(j, "config.json", c, e) : -1;
    cJSON_Delete(j);
    return rc;
}

TEST(llama3_rope_scaling_bit_exact) {
    Err e = {{0}};
    ModelConfig c;
    REQUIRE(parse_config(LLAMA32_CONFIG, &c, &e) == 0);
    CHECK(c.rope_llama3);
    CHECK_EQ(c.head_dim, 64);
    CHECK_EQ(c.num_key_value_heads, 8);
    CHECK_EQ(c.tie_word_embeddings, 1);
    float inv[64];
    model_config_rope_inv_freq(&c, inv);
    int same = 0;
    for (int j = 0; j < 32; j++) {
        uint32_t u;
        memcpy(&u, &inv[j], 4);
        same += u == LLAMA32_INV[j];
    }
    CHECK_EQ(same, 32);
    c.head_dim = 128, c.rope_factor = 8.0f;  // Llama-3.1-8B
    model_config_rope_inv_freq(&c, inv);
    same = 0;
    for (int j = 0; j < 64; j++) {
        uint32_t u;
        memcpy(&u, &inv[j], 4);
        same += u == LLAMA31_8B_INV[j];
    }
    CHECK_EQ(same, 64);
    // transformers 5 layout: rope_parameters carries the type and theta; and back out.
    const char *v5 = "{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"rope_parameters\":{\"rope_type\":\"llama3\","
                     "\"rope_theta\":500000.0,\"factor\":32.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                     "\"original_max_position_embeddings\":8192}}";
    REQUIRE(parse_config(v5, &c, &e) == 0);
    CHECK(c.rope_llama3);
    CHECK_NEAR(c.rope_theta, 500000.0, 0);
    cJSON *j = model_config_to_json(&c);
    ModelConfig c2;
    REQUIRE(model_config_from_json(j, "out", &c2, &e) == 0);
    CHECK(c2.rope_llama3 && c2.rope_factor == 32.0f && c2.rope_original_max_pos == 8192);
    cJSON_Delete(j);
    CHECK_EQ(parse_config("{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,"
                          "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"rope_scaling\":{\"rope_type\":\"yarn\"}}",
                          &c, &e), -1);
    CHECK_CONTAINS(e.msg, "'yarn' unsupported");
}

TEST(unsupported_architectures_named) {
    Err e = {{0}};
    ModelConfig c;
    CHECK_EQ(parse_config("{\"architectures\":[\"MistralForCausalLM\"],\"model_type\":\"mistral\",\"sliding_window\":4096,"
                          "\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                          "\"num_attention_heads\":4}", &c, &e), -1);
    CHECK_CONTAINS(e.msg, "MistralForCausalLM");
    CHECK_CONTAINS(e.msg, "sliding_window 4096");
    CHECK_EQ(parse_config("{\"architectures\":[\"MixtralForCausalLM\"],\"model_type\":\"mixtral\",\"num_local_experts\":8,"
                          "\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                          "\"num_attention_heads\":4}", &c, &e), -1);
    CHECK_CONTAINS(e.msg, "mixture-of-experts");
    CHECK_EQ(parse_config("{\"architectures\":[\"Qwen2MoeForCausalLM\"],\"model_type\":\"qwen2_moe\","
                          "\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                          "\"num_attention_heads\":4}", &c, &e), -1);
    CHECK_CONTAINS(e.msg, "Qwen2MoeForCausalLM");
    CHECK_EQ(parse_config("{\"architectures\":[\"LlamaForSequenceClassification\"],\"model_type\":\"llama\","
                          "\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                          "\"num_attention_heads\":4}", &c, &e), -1);
    CHECK_CONTAINS(e.msg, "LlamaForSequenceClassification");
}

// A small Qwen2-shaped model (bias, GQA, untied) with random weights, and a
// tokenizer trained here with the default specials (ChatML).
static Model *small_model(int tied) {
    Err e = {{0}};
    ModelConfig c;
    model_config_preset("test", &c, &e);
    snprintf(c.model_type, sizeof c.model_type, "qwen2");
    c.attention_bias = 1, c.tie_word_embeddings = tied, c.vocab_size = 300;
    Model *m = model_new(&c, 0, &e);
    if (m) model_init_random(m, 7);
    return m;
}

static Bpe *small_tok(void) {
    Err e = {{0}};
    BpeTrainOpts o = {.vocab_size = 290, .threads = 1};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    const char *text = "user assistant system hello world 2+2=4\n";
    for (int i = 0; i < 10; i++) bpe_trainer_add(t, text, strlen(text));
    Bpe *b = bpe_trainer_finish(t, &e);
    bpe_trainer_free(t);
    return b;
}

static char *str_of(const char *p) { return strcpy(malloc(strlen(p) + 1), p); }

TEST(export_import_round_trip) {
    Err e = {{0}};
    Model *m = small_model(0);
    Bpe *tok = small_tok();
    REQUIRE(m && tok);
    char *dir = str_of(test_path("export_bf16"));
    ModelExportOpts o = {.dtype = ST_BF16, .shard_bytes = 20000};
    REQUIRE(model_export(m, tok, NULL, dir, &o, &e) == 0);
    char *idx = fs_join(dir, "model.safetensors.index.json"), *tc = fs_join(dir, "tokenizer_config.json");
    CHECK(fs_exists(idx));
    cJSON *j = json_read_file(tc, &e);
    REQUIRE(j);
    CHECK_CONTAINS(json_opt_str(j, "chat_template", ""), "<|im_start|>");
    CHECK_STR_EQ(json_opt_str(j, "bos_token", "?"), "<|endoftext|>");
    cJSON_Delete(j);
    Model *back = model_load(dir, 0, &e);
    CHECK_MSG(back, "%s", e.msg);
    Bpe *tb = bpe_load(dir, &e);
    CHECK_MSG(tb, "%s", e.msg);
    if (back && tb) {
        size_t n = model_num_params(m), exact = 0;
        const float *a = model_params(m), *b = model_params(back);
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)st_f32_to_bf16(a[i]) << 16;
            float r;
            memcpy(&r, &u, 4);
            exact += r == b[i];
        }
        CHECK_EQ(exact, n);  // bf16 rounding, nothing else
        CHECK_EQ(bpe_bos_id(tb), bpe_special_id(tb, "<|endoftext|>"));  // our rule survives
        ChatTemplate t;
        CHECK(chat_template_of(tb, CHAT_AUTO, &t, &e) == 0 && t.format == CHAT_CHATML && !t.default_system[0]);
        int32_t stop[4];
        CHECK(chat_stop_ids(tb, CHAT_AUTO, stop, 4) >= 1 && stop[0] == bpe_special_id(tb, "<|im_end|>"));
        // Export again from the exported folder (its tokenizer files copied verbatim): same weights, f32 one file.
        char *dir2 = str_of(test_path("export_f32"));
        ModelExportOpts o2 = {.dtype = ST_F32};
        REQUIRE(model_export(back, tb, dir, dir2, &o2, &e) == 0);
        Model *again = model_load(dir2, 0, &e);
        CHECK(again && memcmp(model_params(again), model_params(back), n * sizeof(float)) == 0);
        char *single = fs_join(dir2, "model.safetensors");
        CHECK(fs_exists(single));
        // Replacing a model folder works; replacing another folder is refused.
        CHECK_EQ(model_export(back, tb, dir, dir2, &o2, &e), 0);
        CHECK_EQ(model_export(back, tb, dir, test_tmpdir(), &o2, &e), -1);
        CHECK_CONTAINS(e.msg, "not a model folder");
        model_free(again), free(single), free(dir2);
    }
    model_free(back), bpe_free(tb), free(idx), free(tc), free(dir);
    model_free(m), bpe_free(tok);
}

// Damage an exported bf16 sharded folder one way; the load must fail naming want1 and want2.
static void expect_load_error(const char *name, void (*damage)(const char *dir), const char *want1, const char *want2) {
    Err e = {{0}};
    Model *m = small_model(1);
    Bpe *tok = small_tok();
    char *dir = str_of(test_path(name));
    ModelExportOpts o = {.dtype = ST_BF16, .shard_bytes = 20000};
    REQUIRE(m && tok && model_export(m, tok, NULL, dir, &o, &e) == 0);
    damage(dir);
    Model *back = model_load(dir, 0, &e);
    CHECK(back == NULL);
    CHECK_CONTAINS(e.msg, want1);
    CHECK_CONTAINS(e.msg, want2);
    printf("    %s: %s\n", name, e.msg);
    model_free(back), model_free(m), bpe_free(tok), free(dir);
}

#include <dirent.h>
// dir/<the file whose name starts with prefix>
static char *shard(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char *p = NULL;
    while (d && (de = readdir(d)))
        if (!p && strncmp(de->d_name, prefix, strlen(prefix)) == 0) p = fs_join(dir, de->d_name);
    if (d) closedir(d);
    return p ? p : fs_join(dir, "none");
}

static void rm_shard(const char *dir) {
    char *p = shard(dir, "model-00002-of-");
    remove(p);
    free(p);
}

static void edit_header(const char *dir, const char *from, const char *to, int truncate) {
    char *p = shard(dir, "model-00001-of-"), *data;
    size_t n;
    Err e = {{0}};
    if (fs_read_all(p, &data, &n, &e) != 0) return;
    uint64_t hlen;
    memcpy(&hlen, data, 8);
    char *at = *from ? memmem(data + 8, hlen, from, strlen(from)) : NULL;
    FILE *f = fopen(p, "wb");
    if (at) {  // the header with from replaced by to, its length rewritten
        uint64_t nh = hlen - strlen(from) + strlen(to);
        fwrite(&nh, 8, 1, f);
        fwrite(data + 8, 1, (size_t)(at - data - 8), f);
        fputs(to, f);
        fwrite(at + strlen(from), 1, n - (size_t)(at + strlen(from) - data), f);
    } else {
        fwrite(data, 1, truncate ? 40 : n, f);
    }
    fclose(f);
    free(data), free(p);
}
static void truncate_header(const char *dir) { edit_header(dir, "", "", 1); }
static void fp8(const char *dir) {
    edit_header(dir, "\"BF16\",\"shape\":[300,32],\"data_offsets\":[0,19200]",
                "\"F8_E4M3\",\"shape\":[300,32],\"data_offsets\":[0,9600]", 0);
}
static void bad_shape(const char *dir) { edit_header(dir, "\"shape\":[300,32]", "\"shape\":[32,300]", 0); }

TEST(bad_input_named_before_compute) {
    expect_load_error("missing_shard", rm_shard, "model-00002-of-0000", "no such shard");
    expect_load_error("bad_shape", bad_shape, "model-00001-of-0000", "shape [32,300], expected [300,32]");
    expect_load_error("truncated_header", truncate_header, "model-00001-of-0000", "truncated");
    expect_load_error("fp8", fp8, "'model.embed_tokens.weight'", "F8_E4M3");
}

TEST(sizes_parse) {
    Err e = {{0}};
    uint64_t v;
    CHECK(model_parse_size("2GB", &v, &e) == 0 && v == 2000000000ull);
    CHECK(model_parse_size("500mb", &v, &e) == 0 && v == 500000000ull);
    CHECK(model_parse_size("1GiB", &v, &e) == 0 && v == 1073741824ull);
    CHECK(model_parse_size("0", &v, &e) == 0 && v == 0);
    CHECK_EQ(model_parse_size("2 parsecs", &v, &e), -1);
    CHECK_EQ(model_parse_size("GB", &v, &e), -1);
}
