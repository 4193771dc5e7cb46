// sft.h: supervised fine-tuning on conversations — the stage that turns a
// base model into an assistant. Conversations (JSONL of {"messages": [{"role",
// "content"}]}) are rendered with the chat template (tokenizer/chat.h): loss
// only on the assistant's tokens. Several conversations are packed into each
// row of T tokens with attention kept inside each one and positions
// restarting (model_forward_packed), so no compute goes to padding and no
// conversation sees another. The shared loop (train/loop.h) gives AdamW and
// the schedule, grad accumulation, held-out loss, metrics, checkpoints,
// bit-identical --resume, --time-budget and progress.
//
//   reasoner problems to-chat train.jsonl -o chats.jsonl
//   reasoner sft --model out/base/final --data chats.jsonl --out out/sft --epochs 2
//
// A tokenizer without the chat tokens gets <|im_start|> and <|im_end|>
// added and the model's embedding (and untied head) grown to match, with a
// log line saying so (Qwen2.5's tokens, so an imported Qwen chat model and
// our own share the template).
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat.h"

// ---------------------------------------------------------------------------
// Conversations

typedef struct SftExample {
    int32_t *ids;     // (len) the rendered conversation
    uint8_t *mask;    // (len) 1: a token the model is trained to produce
    int len;
    int trained;      // tokens with mask 1
    long line;        // 1-based line in its file
    int file;         // index of its file in the load call
    uint64_t hash;    // of the conversation's text (the held-out split)
} SftExample;

typedef struct SftData {
    SftExample *ex;
    int n, cap;
    int n_skipped;        // bad conversations skipped (skip_bad)
    char first_bad[512];  // the first skipped one's message
    int64_t tokens, trained;
} SftData;

// Read conversation files and render each with fmt through tok. Each must
// have a "messages" array of {"role", "content"} with known roles and at
// least one assistant turn, and fit max_len tokens. A bad one is an error
// "file:line: field 'messages[2].role': ..." or, with skip_bad, counted in
// n_skipped. Returns 0 or -1 with e; out is the caller's (sft_data_free).
int sft_data_load(const char *const *paths, int n, const Bpe *tok, ChatFormat fmt, int max_len, int skip_bad,
                  SftData *out, Err *e);
void sft_data_free(SftData *d);

// Rows of T tokens packed greedily in the given order (first fit in order;
// an example that does not fit the current row starts the next). For each
// row, ids (T), targets (T, -1 where no loss), seg (T) as
// model_forward_packed takes them. Returns the number of rows; *ids etc. are
// malloc'd (rows * T). order: example indices (n of them).
int sft_pack(const SftData *d, const int *order, int n, int T, int32_t **ids, int32_t **targets, int32_t **seg);

// ---------------------------------------------------------------------------
// The stage

typedef struct SftConfig {
    const char *model_dir;      // the starting checkpoint (HF folder with tokenizer.json)
    const char *const *data;    // conversation files
    int n_data;
    const char *val_data;       // held-out conversations, or NULL: val_fraction of data
    double val_fraction;        // by hash of the conversation (default 0.02)
    const char *out_dir;
    const char *resume_dir;
    const char *chat_format;    // "auto" (the tokenizer's template), "chatml", "llama3"
    int skip_bad;
    int batch_size, seq_len, grad_accum;  // rows per micro-batch, T, micro-batches per step
    double epochs;              // passes over the data (steps derived); ignored when steps > 0
    int64_t steps;
    double lr, min_lr, weight_decay, clip;
    int64_t warmup;
    const char *schedule;
    int64_t eval_every, save_every;
    uint64_t seed;
    double time_budget, peak_flops;
    int progress;
} SftConfig;
SftConfig sft_defaults(void);

typedef struct SftResult {
    int conversations, val_conversations, skipped;
    int64_t steps, tokens;      // tokens trained on (positions, padding excluded)
    double train_loss, val_loss, first_val_loss;
    double tokens_per_s, mfu, seconds;
    int added_chat_tokens;      // 1 when the tokenizer lacked them
} SftResult;

// Fine-tune as configured; writes out_dir/{metrics.jsonl, final/, step_*/}.
// Returns 0 or -1 with e.
int sft_run(const SftConfig *c, SftResult *r, Err *e);

// A copy of src with vocab_size V >= src's: every tensor copied, the new
// embedding rows (and untied head rows) set to the mean of the old ones.
// NULL with e when V is smaller.
Model *sft_grow_vocab(Model *src, int V, int flags, Err *e);
