// checkpoint.c: Hugging Face checkpoint folders — config.json and
// model.safetensors with HF tensor names — plus the resume state beside them
// (optimizer.safetensors, trainer_state.json, tokenizer.json). A full
// checkpoint is built in "<dir>.tmp" and swapped into place, so a crash
// leaves the old folder or the new one, never a mix.
//
//   model_checkpoint_save("runs/a/step_000100", m, opt, &st, "tok/tokenizer.json", &err);
//   Model *m = model_load("runs/a/step_000100", MODEL_GRADS, &err);
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "model/model_impl.h"
#include "model/safetensors.h"

// ---------------------------------------------------------------------------
// weights

int model_save(const Model *m, const char *dir, Err *e) {
    if (fs_mkdir_p(dir, e) != 0) return -1;
    char *cfg_path = fs_join(dir, "config.json"), *st_path = fs_join(dir, "model.safetensors");
    float *host = xmalloc(m->nparams * sizeof(float));
    m->ops->download(m->cx, host, m->params, m->nparams * sizeof(float));
    StWriteTensor *w = xcalloc((size_t)m->ntensors, sizeof *w);
    for (int i = 0; i < m->ntensors; i++) {
        const ModelTensor *t = &m->tensors[i];
        w[i] = (StWriteTensor){.name = t->name, .ndim = t->ndim, .data = host + t->offset};
        w[i].shape[0] = t->shape[0], w[i].shape[1] = t->shape[1];
    }
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "format", "pt");  // what transformers expects
    int rc = model_config_save(&m->cfg, cfg_path, e);
    if (rc == 0) rc = st_write_f32(st_path, w, m->ntensors, meta, e);
    cJSON_Delete(meta);
    free(w), free(host), free(cfg_path), free(st_path);
    return rc;
}

// The files holding the weights: model.safetensors, or the shards named by
// model.safetensors.index.json. files[i] is opened lazily for each tensor.
typedef struct {
    StFile **files;
    char **names;
    int n;
    cJSON *index;  // weight_map of a sharded checkpoint, or NULL
} WeightFiles;

static void wf_close(WeightFiles *w) {
    for (int i = 0; i < w->n; i++) st_close(w->files[i]), free(w->names[i]);
    free(w->files), free(w->names);
    cJSON_Delete(w->index);
}

static StFile *wf_get(WeightFiles *w, const char *dir, const char *file, Err *e) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->names[i], file) == 0) return w->files[i];
    if (strchr(file, '/') || strcmp(file, "..") == 0)
        return err_set(e, "%s/model.safetensors.index.json: weight_map: bad file name '%s'", dir, file), NULL;
    char *path = fs_join(dir, file);
    StFile *f = st_open(path, e);
    free(path);
    if (!f) return NULL;
    w->files = xrealloc(w->files, (size_t)(w->n + 1) * sizeof *w->files);
    w->names = xrealloc(w->names, (size_t)(w->n + 1) * sizeof *w->names);
    w->files[w->n] = f, w->names[w->n++] = xstrdup(file);
    return f;
}

static int wf_open(WeightFiles *w, const char *dir, Err *e) {
    memset(w, 0, sizeof *w);
    char *single = fs_join(dir, "model.safetensors"), *index = fs_join(dir, "model.safetensors.index.json");
    int rc = 0;
    if (fs_exists(single)) rc = wf_get(w, dir, "model.safetensors", e) ? 0 : -1;
    else if (fs_exists(index)) {
        cJSON *j = json_read_file(index, e);
        const cJSON *map = j ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
        if (!j) rc = -1;
        else if (!cJSON_IsObject(map)) rc = err_set(e, "%s: field 'weight_map': missing", index);
        else w->index = cJSON_DetachItemViaPointer(j, (cJSON *)map);
        cJSON_Delete(j);
    } else rc = err_set(e, "%s: no model.safetensors or model.safetensors.index.json", dir);
    free(single), free(index);
    return rc;
}

// The file holding tensor name: the index's entry, or model.safetensors.
static StFile *wf_file_of(WeightFiles *w, const char *dir, const char *name, Err *e) {
    if (!w->index) return wf_get(w, dir, "model.safetensors", e);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(w->index, name);
    if (!cJSON_IsString(v))
        return err_set(e, "%s/model.safetensors.index.json: tensor '%s': missing from weight_map", dir, name), NULL;
    char *path = fs_join(dir, v->valuestring);
    int there = fs_exists(path) || strchr(v->valuestring, '/');
    free(path);
    if (!there)
        return err_set(e, "%s/%s: no such shard (model.safetensors.index.json names it for tensor '%s')", dir,
                       v->valuestring, name),
               NULL;
    return wf_get(w, dir, v->valuestring, e);
}

// One info line for the tensors of the files (or the index) the model does
// not use: rotary caches, heads of other tasks, an lm_head.weight beside a
// tied embedding.
static void log_extra_tensors(Model *m, WeightFiles *w, const char *dir) {
    int n = 0;
    const char *first = NULL;
    if (w->index) {
        const cJSON *it;
        cJSON_ArrayForEach(it, w->index) {
            if (!model_find_tensor(m, it->string)) n++, first = first ? first : it->string;
        }
    } else {
        for (int k = 0; k < w->n; k++)
            for (int i = 0; i < w->files[k]->ntensors; i++)
                if (!model_find_tensor(m, w->files[k]->tensors[i].name))
                    n++, first = first ? first : w->files[k]->tensors[i].name;
    }
    if (n) log_info("%s: ignoring %d tensor%s the model does not use (first: '%s')", dir, n, n == 1 ? "" : "s", first);
}

int model_load_weights(Model *m, const char *dir, Err *e) {
    WeightFiles w;
    if (wf_open(&w, dir, e) != 0) return wf_close(&w), -1;
    // Pass 1: every tensor found, shaped as the config says and of a float
    // dtype, before one byte is converted: bad input fails here, naming the
    // file and the tensor.
    const StTensor **src = xcalloc((size_t)m->ntensors, sizeof *src);
    StFile **srcf = xcalloc((size_t)m->ntensors, sizeof *srcf);
    int rc = 0;
    for (int i = 0; i < m->ntensors && rc == 0; i++) {
        const ModelTensor *t = &m->tensors[i];
        StFile *f = wf_file_of(&w, dir, t->name, e);
        const StTensor *st = f ? st_find(f, t->name) : NULL;
        if (!f) rc = -1;
        else if (!st) rc = err_set(e, "%s: tensor '%s': missing", f->path, t->name);
        else if (st->ndim != t->ndim || st->shape[0] != t->shape[0] || (t->ndim == 2 && st->shape[1] != t->shape[1]))
            rc = st_read_f32(f, t->name, NULL, t->ndim, t->shape, e);  // the shape error, worded once
        else if (!st_dtype_is_float(st->dtype))
            rc = st_convert_f32(st, 0, 0, NULL, f->path, e);  // the dtype error
        srcf[i] = f, src[i] = st;
    }
    if (rc == 0) log_extra_tensors(m, &w, dir);
    // Pass 2: convert in pieces through a small staging buffer, dropping the
    // mapped pages behind us, so resident memory stays near the fp32 model.
    const size_t CHUNK = (size_t)4 << 20;
    int host = m->ops == model_ops_cpu();
    float *stage = rc == 0 && !host ? xmalloc(CHUNK * sizeof(float)) : NULL;
    for (int i = 0; i < m->ntensors && rc == 0; i++) {
        const ModelTensor *t = &m->tensors[i];
        for (size_t k = 0; k < t->numel && rc == 0; k += CHUNK) {
            size_t n = RS_MIN(CHUNK, t->numel - k);
            if (host) {  // CPU backend: parameters are host memory, convert in place
                rc = st_convert_f32(src[i], k, n, t->param + k, srcf[i]->path, e);
            } else {
                rc = st_convert_f32(src[i], k, n, stage, srcf[i]->path, e);
                if (rc == 0) m->ops->upload(m->cx, t->param + k, stage, n * sizeof(float));
            }
            st_release(srcf[i], src[i], k, n);
        }
    }
    free(stage), free(src), free(srcf);
    wf_close(&w);
    return rc;
}

Model *model_load(const char *dir, int flags, Err *e) {
    char *path = fs_join(dir, "config.json");
    ModelConfig cfg;
    int rc = model_config_load(path, &cfg, e);
    free(path);
    if (rc != 0) return NULL;
    Model *m = model_new(&cfg, flags, e);
    if (m && model_load_weights(m, dir, e) != 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

// ---------------------------------------------------------------------------
// trainer_state.json

void model_trainer_state_free(ModelTrainerState *s) {
    if (!s) return;
    cJSON_Delete(s->extra);
    s->extra = NULL;
}

int model_trainer_state_save(const ModelTrainerState *st, const char *path, Err *e) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "step", (double)st->step);
    cJSON_AddNumberToObject(j, "tokens_seen", (double)st->tokens_seen);
    cJSON *rng = cJSON_AddArrayToObject(j, "rng");  // hex: JSON numbers lose 64-bit words
    for (int i = 0; i < 4; i++) {
        char hex[24];
        snprintf(hex, sizeof hex, "%016" PRIx64, st->rng.s[i]);
        cJSON_AddItemToArray(rng, cJSON_CreateString(hex));
    }
    if (st->extra) cJSON_AddItemToObject(j, "extra", cJSON_Duplicate(st->extra, 1));
    int rc = json_write_file(path, j, e);
    cJSON_Delete(j);
    return rc;
}

static int parse_rng(const cJSON *a, Rng *r, const char *path, Err *e) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
        return err_set(e, "%s: field 'rng': expected 4 hex words", path);
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        char *end = NULL;
        if (!cJSON_IsString(v) || strlen(v->valuestring) != 16)
            return err_set(e, "%s: field 'rng[%d]': expected 16 hex digits", path, i);
        errno = 0;
        r->s[i] = strtoull(v->valuestring, &end, 16);
        if (*end || errno) return err_set(e, "%s: field 'rng[%d]': expected 16 hex digits", path, i);
    }
    return 0;
}

int model_trainer_state_load(const char *dir, ModelTrainerState *st, Err *e) {
    memset(st, 0, sizeof *st);
    char *path = fs_join(dir, "trainer_state.json");
    cJSON *j = json_read_file(path, e);
    int rc = j ? 0 : -1;
    if (rc == 0 && (json_get_int(j, "step", &st->step, path, e) != 0 ||
                    json_get_int(j, "tokens_seen", &st->tokens_seen, path, e) != 0 ||
                    parse_rng(cJSON_GetObjectItemCaseSensitive(j, "rng"), &st->rng, path, e) != 0))
        rc = -1;
    if (rc == 0 && (st->step < 0 || st->tokens_seen < 0))
        rc = err_set(e, "%s: field 'step': must not be negative", path);
    const cJSON *extra = j ? cJSON_GetObjectItemCaseSensitive(j, "extra") : NULL;
    if (rc == 0 && extra) st->extra = cJSON_Duplicate(extra, 1);
    cJSON_Delete(j);
    free(path);
    return rc;
}

// ---------------------------------------------------------------------------
// the whole folder, atomically

// Remove a flat folder of files (a checkpoint we wrote). Best effort.
void model_remove_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            char *p = fs_join(dir, de->d_name);
            unlink(p);
            free(p);
        }
    closedir(d);
    rmdir(dir);
}

int model_copy_file(const char *src, const char *dst, Err *e) {
    char *data;
    size_t n;
    if (fs_read_all(src, &data, &n, e) != 0) return -1;
    int rc = fs_write_atomic(dst, data, n, e);
    free(data);
    return rc;
}

static void fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) fsync(fd), close(fd);
}

// Put the finished tmp folder at dir: an atomic exchange when dir exists
// (renameat2), else a plain rename; the old folder is then removed.
int model_swap_into_place(const char *tmp, const char *dir, Err *e) {
    fsync_path(tmp);
    if (!fs_exists(dir)) {
        if (rename(tmp, dir) != 0) return err_errno(e, "%s: rename", dir);
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        model_remove_flat_dir(tmp);  // now holds the old checkpoint
    } else {  // filesystems without RENAME_EXCHANGE: a short window without dir
        Buf old = {0};
        buf_printf(&old, "%s.old", dir);
        model_remove_flat_dir(old.data);
        int rc = rename(dir, old.data) == 0 && rename(tmp, dir) == 0 ? 0 : err_errno(e, "%s: rename", dir);
        if (rc == 0) model_remove_flat_dir(old.data);
        buf_free(&old);
        if (rc != 0) return -1;
    }
    char *parent = fs_join(dir, "..");
    fsync_path(parent);
    free(parent);
    return 0;
}

int model_copy_tokenizer_meta(const char *tokenizer_json, const char *dst_dir, Err *e) {
    static const char *const META[] = {"tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                                       "chat_template.jinja"};
    char *src_dir = xstrdup(tokenizer_json), *slash = strrchr(src_dir, '/');
    if (slash) *slash = 0;
    else strcpy(src_dir, ".");
    int rc = 0;
    for (size_t i = 0; i < RS_ARRAY_LEN(META) && rc == 0; i++) {
        char *src = fs_join(src_dir, META[i]), *dst = fs_join(dst_dir, META[i]);
        if (fs_exists(src)) rc = model_copy_file(src, dst, e);
        free(src), free(dst);
    }
    free(src_dir);
    return rc;
}

int model_checkpoint_save(const char *dir_arg, const Model *m, const ModelAdamW *opt,
                          const ModelTrainerState *st, const char *tokenizer_json, Err *e) {
    char *dir = xstrdup(dir_arg);  // "ck/" -> "ck", so that the temp is a sibling
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = 0;
    Buf tmp = {0};
    buf_printf(&tmp, "%s.tmp", dir);
    model_remove_flat_dir(tmp.data);
    int rc = model_save(m, tmp.data, e);
    char *p = NULL;
    if (rc == 0 && opt) {
        p = fs_join(tmp.data, "optimizer.safetensors");
        rc = model_adamw_save(opt, p, e);
        free(p);
    }
    if (rc == 0 && st) {
        p = fs_join(tmp.data, "trainer_state.json");
        rc = model_trainer_state_save(st, p, e);
        free(p);
    }
    if (rc == 0 && tokenizer_json) {
        p = fs_join(tmp.data, "tokenizer.json");
        rc = model_copy_file(tokenizer_json, p, e);
        free(p);
    }
    // What a Hub folder keeps beside tokenizer.json (chat template, stop ids)
    // travels with it, so a model imported, trained and exported keeps them.
    if (rc == 0 && tokenizer_json) rc = model_copy_tokenizer_meta(tokenizer_json, tmp.data, e);
    if (rc == 0) rc = model_swap_into_place(tmp.data, dir, e);
    else model_remove_flat_dir(tmp.data);
    buf_free(&tmp);
    free(dir);
    return rc;
}
