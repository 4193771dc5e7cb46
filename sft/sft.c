// sft.c: conversations, packing and the SFT stage on the shared loop (see sft.h).
#include "sft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "train/loop.h"

// ---------------------------------------------------------------------------
// Conversations

void sft_data_free(SftData *d) {
    for (int i = 0; d && i < d->n; i++) free(d->ex[i].ids), free(d->ex[i].mask);
    if (d) free(d->ex), memset(d, 0, sizeof *d);
}

// The messages of one record, validated; msgs point into rec.
static int parse_messages(const cJSON *rec, const char *ctx, ChatMsg **msgs, int *n, Err *e) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "messages");
    if (!cJSON_IsArray(arr)) return err_set(e, "%s: field 'messages': %s", ctx, arr ? "not an array" : "missing");
    int k = cJSON_GetArraySize(arr), assistant = 0;
    if (k == 0) return err_set(e, "%s: field 'messages': empty", ctx);
    *msgs = xcalloc((size_t)k, sizeof **msgs);
    for (int i = 0; i < k; i++) {
        const cJSON *m = cJSON_GetArrayItem(arr, i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        const char *what = !cJSON_IsObject(m) ? "not an object" : NULL;
        if (!what && !cJSON_IsString(role)) {
            free(*msgs);
            return err_set(e, "%s: field 'messages[%d].role': %s", ctx, i, role ? "not a string" : "missing");
        }
        if (!what && !chat_role_valid(role->valuestring)) {
            free(*msgs);
            return err_set(e, "%s: field 'messages[%d].role': '%s' is not system, user, assistant or tool", ctx, i,
                           role->valuestring);
        }
        if (!what && !cJSON_IsString(content)) what = content ? "content not a string" : "content missing";
        if (what) {
            free(*msgs);
            return err_set(e, "%s: field 'messages[%d]': %s", ctx, i, what);
        }
        (*msgs)[i] = (ChatMsg){role->valuestring, content->valuestring};
        assistant += strcmp(role->valuestring, "assistant") == 0;
    }
    if (!assistant) {
        free(*msgs);
        return err_set(e, "%s: field 'messages': no assistant turn (nothing to train on)", ctx);
    }
    *n = k;
    return 0;
}

static int render_record(const cJSON *rec, const char *ctx, const Bpe *tok, ChatFormat fmt, int max_len,
                         SftExample *ex, Err *e) {
    ChatMsg *msgs = NULL;
    int n = 0;
    if (parse_messages(rec, ctx, &msgs, &n, e) != 0) return -1;
    BpeIds ids = {0}, mask = {0};
    int rc = chat_render(tok, fmt, msgs, n, 0, &ids, &mask, e);
    uint64_t h = 0;
    for (int i = 0; i < n; i++) {
        h = XXH3_64bits_withSeed(msgs[i].role, strlen(msgs[i].role), h);
        h = XXH3_64bits_withSeed(msgs[i].content, strlen(msgs[i].content), h);
    }
    free(msgs);
    if (rc != 0) err_wrap(e, "%s", ctx);
    else if ((int)ids.len > max_len)
        rc = err_set(e, "%s: field 'messages': %zu tokens, longer than the context of %d (--seq-len)", ctx, ids.len,
                     max_len);
    if (rc == 0) {
        *ex = (SftExample){.ids = ids.data, .len = (int)ids.len, .hash = h};
        ex->mask = xmalloc(ids.len ? ids.len : 1);
        for (size_t i = 0; i < ids.len; i++) ex->trained += (ex->mask[i] = (uint8_t)mask.data[i]);
        ids.data = NULL;
    }
    bpe_ids_free(&ids);
    bpe_ids_free(&mask);
    return rc;
}

static void push_example(SftData *d, const SftExample *ex) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->ex = xrealloc(d->ex, (size_t)d->cap * sizeof *d->ex);
    }
    d->ex[d->n++] = *ex;
    d->tokens += ex->len;
    d->trained += ex->trained;
}

// One bad record: fail, or count it under skip_bad.
static int bad_record(SftData *d, int skip_bad, Err *e) {
    if (!skip_bad) return -1;
    if (!d->n_skipped++) snprintf(d->first_bad, sizeof d->first_bad, "%s", e->msg);
    return 0;
}

int sft_data_load(const char *const *paths, int npaths, const Bpe *tok, ChatFormat fmt, int max_len, int skip_bad,
                  SftData *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (chat_check(tok, fmt, e) != 0) return -1;
    for (int f = 0; f < npaths; f++) {
        JsonlReader *r = jsonl_open(paths[f], e);
        if (!r) return sft_data_free(out), -1;
        cJSON *rec;
        int rc;
        while ((rc = jsonl_next(r, &rec, e)) != 0) {
            if (rc < 0) {
                if (bad_record(out, skip_bad, e) != 0) break;
                continue;
            }
            char ctx[600];
            snprintf(ctx, sizeof ctx, "%s:%ld", paths[f], jsonl_line(r));
            SftExample ex;
            if (render_record(rec, ctx, tok, fmt, max_len, &ex, e) == 0) {
                ex.line = jsonl_line(r), ex.file = f;
                push_example(out, &ex);
            } else if (bad_record(out, skip_bad, e) != 0) {
                rc = -1;
            }
            cJSON_Delete(rec);
            if (rc < 0) break;
        }
        jsonl_close(r);
        if (rc < 0) return sft_data_free(out), -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Packing

int sft_pack(const SftData *d, const int *order, int n, int T, int32_t **ids_out, int32_t **tgt_out,
             int32_t **seg_out) {
    int rows = 0, cap = 0, used = T;  // used == T: no open row
    int32_t *ids = NULL, *tgt = NULL, *seg = NULL;
    for (int k = 0; k < n; k++) {
        const SftExample *x = &d->ex[order[k]];
        if (used + x->len > T) {  // start a row, padded until filled
            if (rows == cap) {
                cap = cap ? 2 * cap : 16;
                ids = xrealloc(ids, (size_t)cap * T * sizeof *ids);
                tgt = xrealloc(tgt, (size_t)cap * T * sizeof *tgt);
                seg = xrealloc(seg, (size_t)cap * T * sizeof *seg);
            }
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)rows * T + t;
                ids[i] = 0, tgt[i] = -1, seg[i] = t;  // padding: each position its own sequence
            }
            rows++;
            used = 0;
        }
        size_t base = (size_t)(rows - 1) * T + used;
        for (int t = 0; t < x->len; t++) {
            ids[base + t] = x->ids[t];
            // Position t predicts token t+1: a target only where t+1 is trained.
            tgt[base + t] = t + 1 < x->len && x->mask[t + 1] ? x->ids[t + 1] : -1;
            seg[base + t] = used;
        }
        used += x->len;
    }
    *ids_out = ids, *tgt_out = tgt, *seg_out = seg;
    return rows;
}

// ---------------------------------------------------------------------------
// Vocabulary growth for the chat tokens

Model *sft_grow_vocab(Model *src, int V, int flags, Err *e) {
    ModelConfig c = *model_config(src);
    int V0 = c.vocab_size;
    if (V < V0) return err_set(e, "grow_vocab: %d < vocab_size %d", V, V0), NULL;
    c.vocab_size = V;
    Model *m = model_new_on(&c, model_ops(src), flags, e);
    if (!m) return NULL;
    // Through host copies: the parameters may live on a device.
    const ModelOps *o = model_ops(src);
    for (int i = 0; i < model_num_tensors(m); i++) {
        ModelTensor *d = model_tensor(m, i), *s = model_find_tensor(src, d->name);
        RS_CHECK(s && s->shape[1] == d->shape[1]);
        float *h = xmalloc(d->numel * sizeof(float));
        o->download(model_opctx(src), h, s->param, s->numel * sizeof(float));
        // A vocabulary table: new rows start at the mean of the old ones
        // (HF's resize_token_embeddings(mean_resizing=True) does the same).
        int64_t C = d->shape[1];
        for (int64_t j = 0; d->numel != s->numel && j < C; j++) {
            double mean = 0;
            for (int r = 0; r < V0; r++) mean += h[(size_t)r * C + j];
            for (int r = V0; r < V; r++) h[(size_t)r * C + j] = (float)(mean / V0);
        }
        o->upload(model_opctx(m), d->param, h, d->numel * sizeof(float));
        free(h);
    }
    return m;
}

// ---------------------------------------------------------------------------
// The stage

SftConfig sft_defaults(void) {
    return (SftConfig){.val_fraction = 0.02, .chat_format = "auto", .batch_size = 8, .seq_len = 512,
                       .grad_accum = 1, .epochs = 1, .lr = 1e-4, .min_lr = 1e-5, .weight_decay = 0.0, .clip = 1.0,
                       .warmup = 10, .schedule = "cosine", .eval_every = 50, .seed = 1234, .progress = 1};
}

typedef struct Sft {
    SftConfig c;
    Bpe *tok;
    SftData train, val;
    int T, B;
    int *order;               // (train.n) this epoch's order
    int64_t epoch;
    int32_t *rows_ids, *rows_tgt, *rows_seg;  // this epoch's packed rows
    int nrows, next_row;
    int32_t *v_ids, *v_tgt, *v_seg;           // held-out rows
    int v_rows;
    double flops_per_token, head_flops, val_loss, first_val_loss;
    int64_t trained_tokens;
} Sft;

// This epoch's order (a seeded shuffle) and its packed rows.
static void pack_epoch(Sft *s) {
    Rng r;
    rng_seed(&r, s->c.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(s->epoch + 1)));
    for (int i = 0; i < s->train.n; i++) s->order[i] = i;
    for (int i = s->train.n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1), t = s->order[i];
        s->order[i] = s->order[j], s->order[j] = t;
    }
    free(s->rows_ids), free(s->rows_tgt), free(s->rows_seg);
    s->nrows = sft_pack(&s->train, s->order, s->train.n, s->T, &s->rows_ids, &s->rows_tgt, &s->rows_seg);
    s->next_row = 0;
}

// The next B rows (wrapping into the next epoch). Returns the row index.
static int next_rows(Sft *s) {
    if (s->next_row + s->B > s->nrows) {
        s->epoch++;
        pack_epoch(s);
    }
    int at = s->next_row;
    s->next_row += s->B;
    return at;
}

// Sum of -logp over trained targets and their count, forward (and backward
// with dscale per token when dscale != 0).
static int rows_loss(Model *m, const int32_t *ids, const int32_t *tgt, const int32_t *seg, int B, int T,
                     double *sum, int64_t *count, float dscale_per_token, Err *e) {
    size_t N = (size_t)B * T;
    float *logp = xmalloc(N * sizeof(float));
    int rc = model_forward_packed(m, ids, seg, tgt, B, T, logp, NULL, e);
    if (rc == 0) {
        for (size_t i = 0; i < N; i++)
            if (tgt[i] >= 0) *sum -= logp[i], (*count)++;
        if (dscale_per_token != 0) {
            for (size_t i = 0; i < N; i++) logp[i] = tgt[i] >= 0 ? -dscale_per_token : 0;
            model_backward(m, logp, NULL);
        }
    }
    free(logp);
    return rc;
}

static int64_t count_targets(const int32_t *tgt, size_t n) {
    int64_t k = 0;
    for (size_t i = 0; i < n; i++) k += tgt[i] >= 0;
    return k;
}

// One step: grad_accum micro-batches of B packed rows; the loss is the mean
// over every trained token of the step (so micro-batches weigh by tokens).
static int step(void *ud, TrainLoop *L, TrainStepInfo *in, cJSON *row, Err *e) {
    Sft *s = ud;
    Model *m = train_loop_model(L);
    int A = s->c.grad_accum, *at = xmalloc(sizeof(int) * (size_t)A);
    int64_t total = 0;
    for (int a = 0; a < A; a++) {
        at[a] = next_rows(s);
        total += count_targets(s->rows_tgt + (size_t)at[a] * s->T, (size_t)s->B * s->T);
    }
    double sum = 0;
    int64_t count = 0;
    int rc = 0;
    for (int a = 0; a < A && rc == 0; a++) {
        size_t off = (size_t)at[a] * s->T;
        rc = rows_loss(m, s->rows_ids + off, s->rows_tgt + off, s->rows_seg + off, s->B, s->T, &sum, &count,
                       total ? 1.0f / (float)total : 0, e);
    }
    free(at);
    if (rc != 0) return -1;
    train_loop_update(L);
    in->loss = count ? sum / (double)count : NAN;
    in->tokens = (double)A * s->B * s->T;
    // Model FLOPs: the trunk on every position, the head on trained ones.
    in->flops = (s->flops_per_token - s->head_flops) * in->tokens + s->head_flops * (double)total;
    s->trained_tokens += count;
    cJSON_AddNumberToObject(row, "trained_tokens", (double)count);
    cJSON_AddNumberToObject(row, "epoch", (double)s->epoch + (double)s->next_row / RS_MAX(1, s->nrows));
    return 0;
}

static int eval(void *ud, TrainLoop *L, cJSON *row, Err *e) {
    Sft *s = ud;
    if (!s->v_rows) return 0;
    double sum = 0;
    int64_t count = 0;
    for (int r0 = 0; r0 < s->v_rows; r0 += s->B) {
        int b = RS_MIN(s->B, s->v_rows - r0);
        size_t off = (size_t)r0 * s->T;
        if (rows_loss(train_loop_model(L), s->v_ids + off, s->v_tgt + off, s->v_seg + off, b, s->T, &sum, &count, 0,
                      e) != 0)
            return -1;
    }
    s->val_loss = count ? sum / (double)count : NAN;
    if (isnan(s->first_val_loss)) s->first_val_loss = s->val_loss;
    cJSON_AddNumberToObject(row, "val_loss", s->val_loss);
    return 0;
}

static cJSON *save_state(void *ud) {
    Sft *s = ud;
    cJSON *j = cJSON_CreateObject();
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->c.seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddNumberToObject(j, "epoch", (double)s->epoch);
    cJSON_AddNumberToObject(j, "next_row", s->next_row);
    cJSON_AddNumberToObject(j, "conversations", s->train.n);
    cJSON_AddNumberToObject(j, "seq_len", s->T);
    cJSON_AddNumberToObject(j, "batch_size", s->B);
    if (!isnan(s->first_val_loss)) cJSON_AddNumberToObject(j, "first_val_loss", s->first_val_loss);
    return j;
}

static int load_state(void *ud, const cJSON *st, const char *ctx, Err *e) {
    Sft *s = ud;
    const char *seed;
    int64_t epoch, next, n;
    if (!st) return err_set(e, "%s: stage: missing (not an SFT checkpoint)", ctx);
    if (json_get_str(st, "seed", &seed, ctx, e) || json_get_int(st, "epoch", &epoch, ctx, e) ||
        json_get_int(st, "next_row", &next, ctx, e) || json_get_int(st, "conversations", &n, ctx, e))
        return -1;
    if (n != s->train.n)
        return err_set(e, "%s: the run trained on %lld conversations, the data now has %d (same --data to resume)", ctx,
                       (long long)n, s->train.n);
    s->c.seed = strtoull(seed, NULL, 10);
    s->epoch = epoch;
    s->first_val_loss = json_opt_num(st, "first_val_loss", NAN);
    pack_epoch(s);
    if (next > s->nrows) return err_set(e, "%s: next_row %lld beyond %d rows", ctx, (long long)next, s->nrows);
    s->next_row = (int)next;
    return 0;
}

static void progress_text(void *ud, char *buf, size_t n) {
    Sft *s = ud;
    int k = snprintf(buf, n, "epoch %.2f", (double)s->epoch + (double)s->next_row / RS_MAX(1, s->nrows));
    if (!isnan(s->val_loss) && k < (int)n) snprintf(buf + k, n - (size_t)k, " val %.4f", s->val_loss);
}

// ---------------------------------------------------------------------------
// Setup

// The model and tokenizer of c->model_dir (or the resume folder), with the
// chat tokens added when missing.
static Model *load_model(Sft *s, SftResult *r, Err *e) {
    const char *dir = s->c.resume_dir ? s->c.resume_dir : s->c.model_dir;
    if (!(s->tok = bpe_load(dir, e))) return NULL;
    Model *m = model_load(dir, MODEL_GRADS, e);
    if (!m) return NULL;
    ChatFormat fmt;
    if (chat_format_parse(s->c.chat_format, &fmt, e) != 0) return model_free(m), NULL;
    Err ce = {0};
    if (chat_check(s->tok, fmt, &ce) != 0) {
        bpe_add_special(s->tok, "<|im_start|>");
        bpe_add_special(s->tok, "<|im_end|>");
        r->added_chat_tokens = 1;
        if (s->c.progress)
            log_info("sft: %s: the tokenizer has no chat tokens: added <|im_start|> and <|im_end|> (vocab %d), "
                     "embedding grown to match", dir, bpe_vocab_size(s->tok));
    }
    if (bpe_vocab_size(s->tok) > model_config(m)->vocab_size) {
        Model *g = sft_grow_vocab(m, bpe_vocab_size(s->tok), MODEL_GRADS, e);
        model_free(m);
        m = g;
    }
    return m;
}

static int load_data(Sft *s, Err *e) {
    ChatFormat fmt;
    if (chat_format_parse(s->c.chat_format, &fmt, e) != 0) return -1;
    SftData all;
    if (sft_data_load(s->c.data, s->c.n_data, s->tok, fmt, s->T, s->c.skip_bad, &all, e) != 0) return -1;
    if (s->c.val_data) {
        s->train = all;
        if (sft_data_load(&s->c.val_data, 1, s->tok, fmt, s->T, s->c.skip_bad, &s->val, e) != 0) return -1;
    } else {
        // Held out by hash of the conversation, so the split never depends on order.
        uint64_t cut = (uint64_t)(s->c.val_fraction * 18446744073709551615.0);
        for (int i = 0; i < all.n; i++) push_example(all.ex[i].hash < cut ? &s->val : &s->train, &all.ex[i]);
        s->train.n_skipped = all.n_skipped;
        memcpy(s->train.first_bad, all.first_bad, sizeof all.first_bad);
        free(all.ex);
    }
    if (s->train.n == 0) return err_set(e, "%s: no conversations to train on", s->c.data[0]);
    return 0;
}

static void setup_rows(Sft *s) {
    s->order = xmalloc(sizeof(int) * (size_t)s->train.n);
    pack_epoch(s);
    int *vorder = xmalloc(sizeof(int) * (size_t)(s->val.n ? s->val.n : 1));
    for (int i = 0; i < s->val.n; i++) vorder[i] = i;
    s->v_rows = s->val.n ? sft_pack(&s->val, vorder, s->val.n, s->T, &s->v_ids, &s->v_tgt, &s->v_seg) : 0;
    free(vorder);
}

static void sft_free(Sft *s) {
    bpe_free(s->tok);
    sft_data_free(&s->train), sft_data_free(&s->val);
    free(s->order), free(s->rows_ids), free(s->rows_tgt), free(s->rows_seg);
    free(s->v_ids), free(s->v_tgt), free(s->v_seg);
}

static TrainLoopConfig loop_config(const SftConfig *c, int64_t steps) {
    TrainLoopConfig lc = train_loop_defaults();
    lc.name = "sft";
    lc.out_dir = c->out_dir, lc.resume_dir = c->resume_dir, lc.steps = steps;
    lc.lr = c->lr, lc.min_lr = c->min_lr, lc.warmup = c->warmup, lc.schedule = c->schedule;
    lc.weight_decay = c->weight_decay, lc.clip = c->clip;
    lc.eval_every = c->eval_every, lc.save_every = c->save_every;
    lc.seed = c->seed, lc.time_budget = c->time_budget, lc.peak_flops = c->peak_flops, lc.progress = c->progress;
    return lc;
}

int sft_run(const SftConfig *c, SftResult *r, Err *e) {
    memset(r, 0, sizeof *r);
    r->val_loss = r->first_val_loss = r->train_loss = NAN;
    Sft s = {.c = *c, .val_loss = NAN, .first_val_loss = NAN, .B = c->batch_size};
    if (c->batch_size < 1 || c->grad_accum < 1 || c->seq_len < 2)
        return err_set(e, "--batch-size and --grad-accum must be >= 1, --seq-len >= 2");
    Model *m = load_model(&s, r, e);
    int rc = m ? 0 : -1;
    if (rc == 0) {
        s.T = RS_MIN(c->seq_len, model_config(m)->max_position_embeddings);
        rc = load_data(&s, e);
    }
    TrainLoop *L = NULL;
    if (rc == 0) {
        setup_rows(&s);
        s.flops_per_token = model_config_train_flops_per_token(model_config(m), s.T);
        s.head_flops = model_config_head_train_flops(model_config(m));
        int64_t per_epoch = RS_MAX(1, s.nrows / (s.B * c->grad_accum));
        int64_t steps = c->steps > 0 ? c->steps : RS_MAX(1, (int64_t)ceil(c->epochs * (double)per_epoch));
        if (c->progress)
            log_info("sft: %d conversations (%lld tokens, %lld trained) in %d rows of %d; %d held out; %lld steps "
                     "(%lld per epoch)%s", s.train.n, (long long)s.train.tokens, (long long)s.train.trained,
                     s.nrows, s.T, s.val.n, (long long)steps, (long long)per_epoch,
                     s.train.n_skipped ? " (bad ones skipped: see below)" : "");
        if (s.train.n_skipped && c->progress)
            log_warn("sft: skipped %d bad conversations; the first: %s", s.train.n_skipped, s.train.first_bad);
        TrainStage st = {.name = "sft", .ud = &s, .step = step, .eval = eval, .save_state = save_state,
                         .load_state = load_state, .progress_text = progress_text};
        TrainLoopConfig lc = loop_config(c, steps);
        if (!(L = train_loop_new(&lc, m, s.tok, &st, e))) rc = -1;
    }
    if (rc != 0 && !L) model_free(m);
    if (rc == 0 && !c->resume_dir && s.v_rows) {  // the held-out loss before any update
        cJSON *row = cJSON_CreateObject();
        rc = eval(&s, L, row, e);
        cJSON_Delete(row);
        if (rc == 0 && c->progress) log_info("sft: held-out loss before training %.4f", s.val_loss);
    }
    if (rc == 0) rc = train_loop_run(L, e);
    if (rc == 0) {
        TrainLoopResult lr;
        train_loop_result(L, &lr);
        r->conversations = s.train.n, r->val_conversations = s.val.n, r->skipped = s.train.n_skipped;
        r->steps = lr.steps, r->tokens = s.trained_tokens;
        r->train_loss = lr.loss, r->val_loss = s.val_loss, r->first_val_loss = s.first_val_loss;
        r->tokens_per_s = lr.tokens_per_s, r->mfu = lr.mfu, r->seconds = lr.seconds;
    }
    train_loop_free(L);
    sft_free(&s);
    return rc;
}
