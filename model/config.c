// config.c: ModelConfig from and to Hugging Face config.json (Llama and
// Qwen2 fields), named presets, and the FLOP count used for MFU.
#include <math.h>
#include <string.h>

#include "common/base.h"
#include "common/json.h"
#include "model/model.h"

typedef struct {
    const char *name;
    int C, L, NH, NKV, F, T, V;
} Preset;

static const Preset PRESETS[] = {
    {"test", 32, 2, 4, 2, 64, 64, 256},
    {"tiny", 128, 4, 4, 4, 384, 256, 4096},
    {"small", 320, 6, 5, 5, 864, 512, 8192},
    {"base", 512, 8, 8, 8, 1536, 1024, 32768},
};

const char *model_config_preset_names(void) { return "test, tiny, small, base"; }

static void config_defaults(ModelConfig *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model_type, sizeof c->model_type, "llama");
    c->rope_theta = 10000.0f;
    c->rms_norm_eps = 1e-6f;
    c->tie_word_embeddings = 1;
    c->bos_token_id = c->eos_token_id = -1;
}

int model_config_preset(const char *name, ModelConfig *out, Err *e) {
    for (size_t i = 0; i < RS_ARRAY_LEN(PRESETS); i++) {
        const Preset *p = &PRESETS[i];
        if (strcmp(p->name, name) != 0) continue;
        config_defaults(out);
        out->vocab_size = p->V;
        out->hidden_size = p->C;
        out->intermediate_size = p->F;
        out->num_hidden_layers = p->L;
        out->num_attention_heads = p->NH;
        out->num_key_value_heads = p->NKV;
        out->head_dim = p->C / p->NH;
        out->max_position_embeddings = p->T;
        return 0;
    }
    return err_set(e, "model config '%s': unknown preset (known: %s)", name,
                   model_config_preset_names());
}

int model_config_validate(const ModelConfig *c, const char *ctx, Err *e) {
    struct {
        const char *field;
        int value;
    } sizes[] = {
        {"vocab_size", c->vocab_size},
        {"hidden_size", c->hidden_size},
        {"intermediate_size", c->intermediate_size},
        {"num_hidden_layers", c->num_hidden_layers},
        {"num_attention_heads", c->num_attention_heads},
        {"num_key_value_heads", c->num_key_value_heads},
        {"head_dim", c->head_dim},
        {"max_position_embeddings", c->max_position_embeddings},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(sizes); i++)
        if (sizes[i].value <= 0)
            return err_set(e, "%s: field '%s': must be positive, got %d", ctx, sizes[i].field,
                           sizes[i].value);
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return err_set(e, "%s: field 'num_key_value_heads': %d does not divide num_attention_heads %d",
                       ctx, c->num_key_value_heads, c->num_attention_heads);
    if (c->head_dim % 2 != 0)
        return err_set(e, "%s: field 'head_dim': must be even for RoPE, got %d", ctx, c->head_dim);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return err_set(e, "%s: field 'rope_theta': must be positive, got %g", ctx, c->rope_theta);
    if (!(c->rms_norm_eps > 0) || !isfinite(c->rms_norm_eps))
        return err_set(e, "%s: field 'rms_norm_eps': must be positive, got %g", ctx,
                       c->rms_norm_eps);
    if (c->max_position_embeddings > (1 << 22) || c->vocab_size > (1 << 24) ||
        (int64_t)c->hidden_size * c->intermediate_size > ((int64_t)1 << 34))
        return err_set(e, "%s: sizes too large for this build", ctx);
    return 0;
}

// A field that must be an integer when present (default otherwise); the
// wrong type or a fraction is an error rather than a silent default.
static int opt_int(const cJSON *j, const char *key, int dflt, int *out, const char *ctx, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) return *out = dflt, 0;
    int64_t x;
    if (json_get_int(j, key, &x, ctx, e) != 0) return -1;
    if (x < -1 || x > INT32_MAX) return err_set(e, "%s: field '%s': out of range", ctx, key);
    *out = (int)x;
    return 0;
}

static int req_int(const cJSON *j, const char *key, int *out, const char *ctx, Err *e) {
    int64_t x;
    if (json_get_int(j, key, &x, ctx, e) != 0) return -1;
    if (x <= 0 || x > INT32_MAX)
        return err_set(e, "%s: field '%s': must be a positive integer, got %lld", ctx, key,
                       (long long)x);
    *out = (int)x;
    return 0;
}

static int opt_num(const cJSON *j, const char *key, float dflt, float *out, const char *ctx,
                   Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return *out = dflt, 0;
    if (!cJSON_IsNumber(v)) return err_set(e, "%s: field '%s': expected a number", ctx, key);
    *out = (float)v->valuedouble;
    return 0;
}

static int opt_bool(const cJSON *j, const char *key, int dflt, int *out, const char *ctx, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return *out = dflt, 0;
    if (!cJSON_IsBool(v)) return err_set(e, "%s: field '%s': expected true or false", ctx, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

// eos_token_id may be a list in newer HF configs; take the first.
static int token_id(const cJSON *j, const char *key, int *out, const char *ctx, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    if (!v || cJSON_IsNull(v)) return *out = -1, 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return err_set(e, "%s: field '%s': expected a token id", ctx, key);
    *out = (int)v->valuedouble;
    return 0;
}

// rope_scaling (transformers < 5) or rope_parameters (>= 5, which also
// carries rope_theta): plain RoPE ("default") or Llama 3's frequency
// rescaling ("llama3"); any other type is refused by name.
static int rope_params(const cJSON *j, ModelConfig *c, const char *ctx, Err *e) {
    static const char *keys[] = {"rope_parameters", "rope_scaling"};
    for (size_t i = 0; i < RS_ARRAY_LEN(keys); i++) {
        const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!rp || cJSON_IsNull(rp)) continue;
        if (!cJSON_IsObject(rp)) return err_set(e, "%s: field '%s': expected an object", ctx, keys[i]);
        char sub[256];
        snprintf(sub, sizeof sub, "%s: %s", ctx, keys[i]);
        const char *type = json_opt_str(rp, "rope_type", json_opt_str(rp, "type", "default"));
        if (strcmp(type, "llama3") == 0) {
            c->rope_llama3 = 1;
            if (opt_num(rp, "factor", 8.0f, &c->rope_factor, sub, e) ||
                opt_num(rp, "low_freq_factor", 1.0f, &c->rope_low_freq_factor, sub, e) ||
                opt_num(rp, "high_freq_factor", 4.0f, &c->rope_high_freq_factor, sub, e) ||
                opt_int(rp, "original_max_position_embeddings", 8192, &c->rope_original_max_pos, sub, e))
                return -1;
            if (!(c->rope_factor > 0) || !(c->rope_low_freq_factor > 0) ||
                !(c->rope_high_freq_factor > c->rope_low_freq_factor) || c->rope_original_max_pos <= 0)
                return err_set(e, "%s: factor, low_freq_factor < high_freq_factor and "
                                  "original_max_position_embeddings must be positive", sub);
        } else if (strcmp(type, "default") != 0) {
            return err_set(e, "%s: field '%s.rope_type': '%s' unsupported (default and llama3 only)", ctx,
                           keys[i], type);
        }
        if (!cJSON_GetObjectItemCaseSensitive(j, "rope_theta") &&
            cJSON_GetObjectItemCaseSensitive(rp, "rope_theta")) {
            if (opt_num(rp, "rope_theta", c->rope_theta, &c->rope_theta, sub, e) != 0) return -1;
        }
    }
    return 0;
}

void model_config_rope_inv_freq(const ModelConfig *c, float *inv) {
    int half = c->head_dim / 2;
    for (int j = 0; j < half; j++) inv[j] = 1.0f / powf(c->rope_theta, (float)(2 * j) / (float)c->head_dim);
    if (!c->rope_llama3) return;
    // transformers' _compute_llama3_parameters, op for op in float32 (a
    // Python scalar meets a float32 tensor as a float32; `s / t` is
    // t.reciprocal() * s).
    const float factor = c->rope_factor, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
    const float old_len = (float)c->rope_original_max_pos;
    const float low_wavelen = (float)((double)c->rope_original_max_pos / (double)lo);
    const float high_wavelen = (float)((double)c->rope_original_max_pos / (double)hi);
    const float two_pi = (float)(2.0 * 3.14159265358979323846), span = (float)((double)hi - (double)lo);
    for (int j = 0; j < half; j++) {
        float wavelen = (1.0f / inv[j]) * two_pi;
        float scaled = wavelen > low_wavelen ? inv[j] / factor : inv[j];
        float smooth = ((1.0f / wavelen) * old_len - lo) / span;
        float a = (1.0f - smooth) * scaled;
        float smoothed = a / factor + smooth * scaled;
        int medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        inv[j] = medium ? smoothed : scaled;
    }
}

static const char *const KNOWN_ARCHS[] = {"LlamaForCausalLM", "Qwen2ForCausalLM"};

// Architectures and features this model does not have, refused by name
// before any tensor is read: sliding-window attention (Mistral), mixtures
// of experts (Mixtral, Qwen2-MoE, DeepSeek), other families.
static int check_architecture(const cJSON *j, const char *type, const char *ctx, Err *e) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(j, "architectures");
    const char *arch = NULL;
    if (cJSON_IsArray(archs) && cJSON_GetArraySize(archs) > 0 && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
        arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    const char *what = arch ? arch : type;
    static const char *const MOE_KEYS[] = {"num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size"};
    for (size_t i = 0; i < RS_ARRAY_LEN(MOE_KEYS); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, MOE_KEYS[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 0))
            return err_set(e, "%s: %s: mixture-of-experts models are not supported (field '%s')", ctx, what,
                           MOE_KEYS[i]);
    }
    if (strstr(type, "moe") || strcmp(type, "mixtral") == 0 || strstr(type, "deepseek"))
        return err_set(e, "%s: %s (model_type '%s'): mixture-of-experts models are not supported", ctx, what, type);
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "sliding_window");
    if (strcmp(type, "mistral") == 0) {
        if (cJSON_IsNumber(sw))
            return err_set(e, "%s: %s: sliding-window attention (sliding_window %d) is not supported", ctx, what,
                           (int)sw->valuedouble);
        return err_set(e, "%s: %s (model_type 'mistral') is not supported (Llama and Qwen2 only)", ctx, what);
    }
    if (strcmp(type, "llama") != 0 && strcmp(type, "qwen2") != 0)
        return err_set(e, "%s: field 'model_type': '%s' is not a Llama-family model (llama, qwen2)", ctx, type);
    if (arch) {
        int known = 0;
        for (size_t i = 0; i < RS_ARRAY_LEN(KNOWN_ARCHS); i++) known |= strcmp(arch, KNOWN_ARCHS[i]) == 0;
        if (!known)
            return err_set(e, "%s: field 'architectures': '%s' is not supported (LlamaForCausalLM, Qwen2ForCausalLM)",
                           ctx, arch);
    }
    // Llama has no sliding window; Qwen2 has one only when use_sliding_window.
    if (json_opt_bool(j, "use_sliding_window", 0))
        return err_set(e, "%s: field 'use_sliding_window': sliding-window attention unsupported", ctx);
    return 0;
}

int model_config_from_json(const cJSON *j, const char *ctx, ModelConfig *c, Err *e) {
    config_defaults(c);
    if (!cJSON_IsObject(j)) return err_set(e, "%s: expected a JSON object", ctx);
    const char *type = json_opt_str(j, "model_type", "llama");
    if (check_architecture(j, type, ctx, e) != 0) return -1;
    snprintf(c->model_type, sizeof c->model_type, "%s", type);
    int is_qwen2 = strcmp(type, "qwen2") == 0;
    if (req_int(j, "vocab_size", &c->vocab_size, ctx, e) || req_int(j, "hidden_size", &c->hidden_size, ctx, e) ||
        req_int(j, "intermediate_size", &c->intermediate_size, ctx, e) ||
        req_int(j, "num_hidden_layers", &c->num_hidden_layers, ctx, e) ||
        req_int(j, "num_attention_heads", &c->num_attention_heads, ctx, e) ||
        opt_int(j, "num_key_value_heads", c->num_attention_heads, &c->num_key_value_heads, ctx, e) ||
        opt_int(j, "head_dim", c->hidden_size / c->num_attention_heads, &c->head_dim, ctx, e) ||
        opt_int(j, "max_position_embeddings", 2048, &c->max_position_embeddings, ctx, e) ||
        opt_num(j, "rope_theta", 10000.0f, &c->rope_theta, ctx, e) ||
        opt_num(j, "rms_norm_eps", 1e-6f, &c->rms_norm_eps, ctx, e) ||
        opt_bool(j, "tie_word_embeddings", 0, &c->tie_word_embeddings, ctx, e) ||
        opt_bool(j, "attention_bias", is_qwen2, &c->attention_bias, ctx, e) ||
        token_id(j, "bos_token_id", &c->bos_token_id, ctx, e) ||
        token_id(j, "eos_token_id", &c->eos_token_id, ctx, e))
        return -1;
    const char *act = json_opt_str(j, "hidden_act", "silu");
    if (strcmp(act, "silu") != 0)
        return err_set(e, "%s: field 'hidden_act': '%s' unsupported (only silu)", ctx, act);
    if (rope_params(j, c, ctx, e) != 0) return -1;
    if (json_opt_bool(j, "mlp_bias", 0))
        return err_set(e, "%s: field 'mlp_bias': MLP biases are not supported", ctx);
    return model_config_validate(c, ctx, e);
}

int model_config_load(const char *path, ModelConfig *out, Err *e) {
    cJSON *j = json_read_file(path, e);
    if (!j) return -1;
    int rc = model_config_from_json(j, path, out, e);
    cJSON_Delete(j);
    return rc;
}

cJSON *model_config_to_json(const ModelConfig *c) {
    int qwen2 = strcmp(c->model_type, "qwen2") == 0;
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(j, "model_type", c->model_type);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->num_key_value_heads);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    if (c->rope_llama3) {
        cJSON *rs = cJSON_AddObjectToObject(j, "rope_scaling");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq_factor);
        cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq_factor);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_max_pos);
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
    }
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->rms_norm_eps);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    // Qwen2's modeling code always has q/k/v bias and has no such field.
    if (!qwen2) cJSON_AddBoolToObject(j, "attention_bias", c->attention_bias);
    cJSON_AddBoolToObject(j, "mlp_bias", 0);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    if (c->bos_token_id >= 0) cJSON_AddNumberToObject(j, "bos_token_id", c->bos_token_id);
    if (c->eos_token_id >= 0) cJSON_AddNumberToObject(j, "eos_token_id", c->eos_token_id);
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    cJSON_AddBoolToObject(j, "use_cache", 1);
    return j;
}

int model_config_save(const ModelConfig *c, const char *path, Err *e) {
    cJSON *j = model_config_to_json(c);
    int rc = json_write_file(path, j, e);
    cJSON_Delete(j);
    return rc;
}

int64_t model_config_num_params(const ModelConfig *c) {
    int64_t C = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    int64_t q = (int64_t)c->num_attention_heads * hd, kv = (int64_t)c->num_key_value_heads * hd;
    int64_t layer = C + C * (q + 2 * kv) + (c->attention_bias ? q + 2 * kv : 0) + q * C + C +
                    3 * C * F;
    return V * C + c->num_hidden_layers * layer + C + (c->tie_word_embeddings ? 0 : V * C);
}

double model_config_train_flops_per_token(const ModelConfig *c, int T) {
    // The embedding lookup is a gather, not a matmul; the head is a matmul
    // whether tied or not, so count V*C once for it.
    double matmul_params = (double)model_config_num_params(c) -
                           (c->tie_word_embeddings ? 0.0 : (double)c->vocab_size * c->hidden_size);
    double attn = 6.0 * c->num_hidden_layers * (double)T * c->num_attention_heads * c->head_dim;
    return 6.0 * matmul_params + attn;
}

double model_config_head_train_flops(const ModelConfig *c) { return 6.0 * (double)c->vocab_size * c->hidden_size; }
