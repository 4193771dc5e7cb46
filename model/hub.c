// hub.c: export to a Hugging Face folder (see hub.h).
//   reasoner export --model runs/sft/final --out export/my-model --dtype bf16 --shard-size 2GB
#include "model/hub.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "model/model_impl.h"
#include "tokenizer/chat.h"

int model_parse_size(const char *s, uint64_t *out, Err *e) {
    static const struct {
        const char *unit;
        double mult;
    } UNITS[] = {{"", 1},       {"B", 1},          {"KB", 1e3},       {"MB", 1e6},       {"GB", 1e9},
                 {"TB", 1e12},  {"KIB", 1024.0},   {"MIB", 1048576.0}, {"GIB", 1073741824.0}};
    char *end = NULL;
    double v = s ? strtod(s, &end) : -1;
    if (!s || end == s || !(v >= 0) || !isfinite(v)) return err_set(e, "size '%s': expected e.g. 2GB, 500MB", s ? s : "");
    char unit[8] = {0};
    for (size_t i = 0; end[i] && i < sizeof unit - 1; i++) unit[i] = (char)(end[i] >= 'a' && end[i] <= 'z' ? end[i] - 32 : end[i]);
    for (size_t i = 0; i < RS_ARRAY_LEN(UNITS); i++)
        if (strcmp(unit, UNITS[i].unit) == 0 && strlen(end) < sizeof unit) {
            *out = (uint64_t)(v * UNITS[i].mult);
            return 0;
        }
    return err_set(e, "size '%s': unknown unit (B, KB, MB, GB, KiB, MiB, GiB)", s);
}

// ---------------------------------------------------------------------------
// weights

typedef struct {
    int first, n;  // tensors [first, first + n) of the table
    uint64_t bytes;
} Shard;

// Tensors in table order (a tied head is not in the table), a new shard when
// the next one would pass the limit.
static int plan_shards(const Model *m, size_t es, uint64_t limit, Shard **out) {
    Shard *s = xcalloc((size_t)m->ntensors, sizeof *s);
    int ns = 0;
    for (int i = 0; i < m->ntensors; i++) {
        uint64_t b = (uint64_t)m->tensors[i].numel * es;
        if (ns == 0 || (limit && s[ns - 1].bytes + b > limit && s[ns - 1].n > 0)) s[ns++] = (Shard){i, 0, 0};
        s[ns - 1].n = i - s[ns - 1].first + 1;
        s[ns - 1].bytes += b;
    }
    *out = s;
    return ns;
}

static int write_weights(const Model *m, const char *dir, const ModelExportOpts *o, Err *e) {
    size_t es = st_dtype_size(o->dtype);
    Shard *sh;
    int ns = plan_shards(m, es, o->shard_bytes, &sh), rc = 0;
    // On the CPU backend the parameters are host memory: write from them
    // directly; elsewhere download one shard at a time.
    int host = m->ops == model_ops_cpu();
    cJSON *index = cJSON_CreateObject(), *map = cJSON_CreateObject();
    uint64_t total = 0;
    for (int k = 0; k < ns && rc == 0; k++) {
        char name[64];
        if (ns == 1) snprintf(name, sizeof name, "model.safetensors");
        else snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, ns);
        StWriteTensor *w = xcalloc((size_t)sh[k].n, sizeof *w);
        float *buf = NULL;
        size_t off = 0, numel = 0;
        for (int i = 0; i < sh[k].n; i++) numel += m->tensors[sh[k].first + i].numel;
        if (!host) buf = xmalloc(numel * sizeof(float));
        int nw = 0;
        for (int i = sh[k].first; i < sh[k].first + sh[k].n; i++) {
            const ModelTensor *t = &m->tensors[i];
            const float *data = t->param;
            if (!host) {
                m->ops->download(m->cx, buf + off, t->param, t->numel * sizeof(float));
                data = buf + off, off += t->numel;
            }
            w[nw] = (StWriteTensor){.name = t->name, .ndim = t->ndim, .data = data};
            w[nw].shape[0] = t->shape[0], w[nw].shape[1] = t->shape[1];
            nw++;
            cJSON_AddStringToObject(map, t->name, name);
        }
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "format", "pt");
        char *path = fs_join(dir, name);
        rc = st_write(path, w, nw, o->dtype, meta, e);
        total += sh[k].bytes;
        free(path), free(w), free(buf);
        cJSON_Delete(meta);
    }
    if (rc == 0 && ns > 1) {
        cJSON *md = cJSON_AddObjectToObject(index, "metadata");
        cJSON_AddNumberToObject(md, "total_size", (double)total);
        cJSON_AddItemToObject(index, "weight_map", map), map = NULL;
        char *path = fs_join(dir, "model.safetensors.index.json");
        rc = json_write_file(path, index, e);
        free(path);
    }
    cJSON_Delete(map), cJSON_Delete(index);
    free(sh);
    return rc;
}

// ---------------------------------------------------------------------------
// tokenizer files of a model of ours

// The Jinja our renderer implements (chat.h), for transformers.
static const char CHATML_JINJA[] =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
static const char LLAMA3_JINJA[] =
    "{%- for message in messages %}"
    "{%- if loop.index0 == 0 %}{{- bos_token }}{%- endif %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

static char *token_text(const Bpe *tok, int32_t id) {
    size_t n = 0;
    const char *b = id >= 0 ? bpe_token_bytes(tok, id, &n) : NULL;
    return b ? xstrndup(b, n) : NULL;
}

static void add_token_or_null(cJSON *j, const char *key, const char *text) {
    if (text) cJSON_AddStringToObject(j, key, text);
    else cJSON_AddNullToObject(j, key);
}

static int write_tokenizer_files(const Model *m, const Bpe *tok, const char *dir, Err *e) {
    char *p = fs_join(dir, "tokenizer.json");
    int rc = bpe_save(tok, p, e);  // the BOS rule goes in as its post-processor
    free(p);
    if (rc) return -1;
    int32_t stops[8];
    int nstop = RS_MIN(chat_stop_ids(tok, CHAT_AUTO, stops, 8), 8);
    if (nstop == 0 && (stops[0] = bpe_special_id(tok, "<|endoftext|>")) >= 0) nstop = 1;
    char *bos = token_text(tok, bpe_bos_id(tok)), *eos = nstop ? token_text(tok, stops[0]) : NULL;
    char *pad = token_text(tok, bpe_special_id(tok, "<|endoftext|>"));
    ChatTemplate t;
    Err cerr = {{0}};
    const char *jinja = bpe_chat_template(tok);
    if (!jinja && chat_template_of(tok, CHAT_AUTO, &t, &cerr) == 0 && chat_check(tok, CHAT_AUTO, &cerr) == 0)
        jinja = t.format == CHAT_LLAMA3 ? LLAMA3_JINJA : CHATML_JINJA;
    if (!jinja) log_info("export: the tokenizer has no chat tokens: no chat_template written (%s)", cerr.msg);

    cJSON *tc = cJSON_CreateObject(), *added = cJSON_AddObjectToObject(tc, "added_tokens_decoder");
    for (int i = 0; i < bpe_n_special(tok); i++) {
        int32_t id;
        const char *text = bpe_special_text(tok, i, &id);
        char key[16];
        snprintf(key, sizeof key, "%d", id);
        cJSON *a = cJSON_AddObjectToObject(added, key);
        cJSON_AddStringToObject(a, "content", text);
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "normalized");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddTrueToObject(a, "special");
    }
    add_token_or_null(tc, "bos_token", bos);
    add_token_or_null(tc, "eos_token", eos);
    add_token_or_null(tc, "pad_token", pad ? pad : eos);
    if (jinja) cJSON_AddStringToObject(tc, "chat_template", jinja);
    cJSON_AddFalseToObject(tc, "clean_up_tokenization_spaces");
    cJSON_AddNumberToObject(tc, "model_max_length", m->cfg.max_position_embeddings);
    cJSON_AddStringToObject(tc, "tokenizer_class", "PreTrainedTokenizerFast");

    cJSON *sm = cJSON_CreateObject();
    if (bos) cJSON_AddStringToObject(sm, "bos_token", bos);
    if (eos) cJSON_AddStringToObject(sm, "eos_token", eos);
    if (pad || eos) cJSON_AddStringToObject(sm, "pad_token", pad ? pad : eos);

    char *tcp = fs_join(dir, "tokenizer_config.json"), *smp = fs_join(dir, "special_tokens_map.json");
    rc = json_write_file(tcp, tc, e);
    if (rc == 0) rc = json_write_file(smp, sm, e);
    free(tcp), free(smp), free(bos), free(eos), free(pad);
    cJSON_Delete(tc), cJSON_Delete(sm);
    return rc;
}

// generation_config.json: the stop ids (a list when several), as the Hub writes it.
static int write_generation_config(const Model *m, const Bpe *tok, const char *dir, Err *e) {
    int32_t stops[8];
    int n = RS_MIN(chat_stop_ids(tok, CHAT_AUTO, stops, 8), 8);
    if (n == 0 && m->cfg.eos_token_id >= 0) stops[n++] = m->cfg.eos_token_id;
    cJSON *g = cJSON_CreateObject();
    int32_t bos = bpe_bos_id(tok) >= 0 ? bpe_bos_id(tok) : m->cfg.bos_token_id;
    if (bos >= 0) cJSON_AddNumberToObject(g, "bos_token_id", bos);
    if (n == 1) cJSON_AddNumberToObject(g, "eos_token_id", stops[0]);
    else if (n > 1) {
        cJSON *a = cJSON_AddArrayToObject(g, "eos_token_id");
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(stops[i]));
    }
    char *p = fs_join(dir, "generation_config.json");
    int rc = json_write_file(p, g, e);
    free(p);
    cJSON_Delete(g);
    return rc;
}

// ---------------------------------------------------------------------------

int model_export(const Model *m, const Bpe *tok, const char *src_dir, const char *out_arg,
                 const ModelExportOpts *o, Err *e) {
    if (o->dtype != ST_BF16 && o->dtype != ST_F32) return err_set(e, "export: dtype must be bf16 or f32");
    if (tok && bpe_vocab_size(tok) > m->cfg.vocab_size)
        return err_set(e, "export: tokenizer has %d tokens but the model's vocab_size is %d", bpe_vocab_size(tok),
                       m->cfg.vocab_size);
    char *out = xstrdup(out_arg);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--) out[n - 1] = 0;
    char *cfg_there = fs_join(out, "config.json");
    int rc = 0;
    if (fs_exists(out) && !fs_exists(cfg_there))
        rc = err_set(e, "%s: exists and is not a model folder (no config.json); refusing to replace it", out);
    free(cfg_there);
    Buf tmp = {0};
    buf_printf(&tmp, "%s.tmp", out);
    if (rc == 0) model_remove_flat_dir(tmp.data);
    if (rc == 0) rc = fs_mkdir_p(tmp.data, e);
    if (rc == 0) {  // config.json with the dtype the weights are stored in
        cJSON *cj = model_config_to_json(&m->cfg);
        cJSON_ReplaceItemInObject(cj, "torch_dtype", cJSON_CreateString(o->dtype == ST_BF16 ? "bfloat16" : "float32"));
        char *p = fs_join(tmp.data, "config.json");
        rc = json_write_file(p, cj, e);
        free(p);
        cJSON_Delete(cj);
    }
    if (rc == 0) rc = write_weights(m, tmp.data, o, e);
    char *src_tc = src_dir ? fs_join(src_dir, "tokenizer_config.json") : NULL;
    char *src_tok = src_dir ? fs_join(src_dir, "tokenizer.json") : NULL;
    int verbatim = src_tc && fs_exists(src_tc) && fs_exists(src_tok);
    if (rc == 0 && verbatim) {  // a Hub folder's files, exactly
        char *dst = fs_join(tmp.data, "tokenizer.json");
        rc = model_copy_file(src_tok, dst, e);
        free(dst);
        if (rc == 0) rc = model_copy_tokenizer_meta(src_tok, tmp.data, e);
        char *gc = fs_join(tmp.data, "generation_config.json");
        if (rc == 0 && tok && !fs_exists(gc)) rc = write_generation_config(m, tok, tmp.data, e);
        free(gc);
    } else if (rc == 0 && tok) {
        rc = write_tokenizer_files(m, tok, tmp.data, e);
        if (rc == 0) rc = write_generation_config(m, tok, tmp.data, e);
    }
    free(src_tc), free(src_tok);
    if (rc == 0) rc = model_swap_into_place(tmp.data, out, e);
    else model_remove_flat_dir(tmp.data);
    buf_free(&tmp);
    free(out);
    return rc;
}
