// shards.h: token shards on disk, the loader that streams training windows
// from them, and the tokenizer driver that writes them (`reasoner tokenize`).
//
//   reasoner tokenize --tokenizer tok/tokenizer.json --input docs.jsonl --out data/
//
// A data folder holds train_NNNNNN.bin and val_NNNNNN.bin shards, the
// tokenizer.json they were made with, and shards.json (the manifest, written
// last: a folder without one is an unfinished run). A shard file is a 64-byte
// little-endian header, then n_tokens little-endian ids of token_width bytes:
//
//   off  size  field
//   0    8     magic "RSTOKENS"
//   8    4     version (1)
//   12   4     token_width: 2 (vocab_size <= 65536) or 4
//   16   8     n_tokens
//   24   4     vocab_size: every id is below it
//   28   4     eot_id: the <|endoftext|> id that starts every document
//   32   8     xxh64 of the id bytes (seed 0)
//   40   24    zero
//
// The split is a stream of documents, each one <|endoftext|> then its ids,
// cut into shards of a fixed token count (a document may straddle two).
// The loader views a split as that one stream and cuts it into windows of
// T+1 tokens starting every T tokens (the last token of a window is the
// first of the next, so every token is a target exactly once), visited in
// a seeded permutation per epoch (training) or in order (validation). Its
// position (epoch, index) is saved in trainer_state.json for resume, with
// the window count, so that a resume on other data or seq_len is refused.
//
// Thread-safety: a ShardSet is read-only after open and may be shared; a
// ShardLoader and a ShardWriter belong to one thread.
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SHARD_MAGIC "RSTOKENS"
#define SHARD_VERSION 1
#define SHARD_HEADER_BYTES 64
#define SHARD_MANIFEST "shards.json"

// ---------------------------------------------------------------------------
// One shard file

typedef struct ShardInfo {
    int token_width;        // 2 or 4
    int64_t n_tokens;
    uint32_t vocab_size;
    uint32_t eot_id;
    uint64_t checksum;      // xxh64 of the id bytes
    const uint8_t *ids;     // the id bytes inside the parsed buffer (not owned)
} ShardInfo;

// Parse and check a whole shard held in memory (header, size, checksum, and
// that every id is below vocab_size). path names the file in errors:
// "path: field: what is wrong". Returns 0 or -1. What the fuzz target drives.
int shard_parse(const void *data, size_t n, const char *path, ShardInfo *out, Err *e);

// Token i of a parsed shard (i < n_tokens).
static inline uint32_t shard_token(const ShardInfo *s, int64_t i) {
    const uint8_t *p = s->ids + (size_t)i * (size_t)s->token_width;
    return s->token_width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8
                               : (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Write one shard atomically (temp file, fsync, rename). ids are n values,
// each in [0, vocab_size). Returns 0 or -1.
int shard_write(const char *path, const int32_t *ids, int64_t n, uint32_t vocab_size, uint32_t eot_id, Err *e);

// A writer that cuts one split's stream of documents into shard files
// dir/SPLIT_000000.bin, dir/SPLIT_000001.bin, ... of shard_tokens tokens each
// (the last one shorter), each written atomically as it fills.
typedef struct ShardWriter ShardWriter;

ShardWriter *shard_writer_new(const char *dir, const char *split, int64_t shard_tokens, uint32_t vocab_size,
                              uint32_t eot_id);
// Append one document: eot_id, then its n ids (each in [0, vocab_size)).
// Returns 0 or -1.
int shard_writer_add(ShardWriter *w, const int32_t *ids, int64_t n, Err *e);
// Commit the last, partial shard. Returns 0 or -1.
int shard_writer_finish(ShardWriter *w, Err *e);
// {"documents", "tokens", "shards": [{"file", "tokens"}, ...]} for the manifest.
cJSON *shard_writer_summary(const ShardWriter *w);
int64_t shard_writer_tokens(const ShardWriter *w);
int64_t shard_writer_documents(const ShardWriter *w);
// Frees w; a shard not yet committed is dropped (its temp file removed).
void shard_writer_free(ShardWriter *w);

// ---------------------------------------------------------------------------
// A split (train or val) of a data folder: its shards, mapped read-only.

typedef struct ShardSet ShardSet;

// Open the shards of split ("train" or "val") listed in dir/shards.json,
// checking every header against the manifest and every shard's checksum and
// ids (one read of the data; the pages stay mapped, not copied). An empty
// split (val_fraction 0) opens with no shards. NULL and e on failure.
ShardSet *shard_set_open(const char *dir, const char *split, Err *e);
void shard_set_free(ShardSet *s);
int64_t shard_set_tokens(const ShardSet *s);
int shard_set_count(const ShardSet *s);
uint32_t shard_set_vocab_size(const ShardSet *s);
uint32_t shard_set_eot_id(const ShardSet *s);
// Copy n tokens starting at global position pos of the split's stream.
void shard_set_read(const ShardSet *s, int64_t pos, int64_t n, int32_t *out);

// ---------------------------------------------------------------------------
// The loader: (B, T+1) windows in a seeded order.

typedef struct ShardLoaderPos {
    int64_t epoch;      // completed passes over the split
    int64_t index;      // windows already handed out in this epoch
    int64_t n_windows;  // windows per epoch when saved: a resume must match
} ShardLoaderPos;

typedef struct ShardLoader ShardLoader;

// A loader over s (which must outlive it) with windows of T+1 tokens.
// shuffle=1: a fresh seeded permutation of all windows every epoch;
// shuffle=0: windows in order (validation). NULL and e if the split holds
// no window of T+1 tokens.
ShardLoader *shard_loader_new(const ShardSet *s, int T, uint64_t seed, int shuffle, Err *e);
void shard_loader_free(ShardLoader *l);
int64_t shard_loader_windows(const ShardLoader *l);
// Fill out (B, T+1) with the next B windows, wrapping into the next epoch.
void shard_loader_next(ShardLoader *l, int B, int32_t *out);
// Back to epoch 0, window 0.
void shard_loader_reset(ShardLoader *l);
ShardLoaderPos shard_loader_pos(const ShardLoader *l);
// Continue from a saved position; fails if the data or T changed since.
int shard_loader_seek(ShardLoader *l, ShardLoaderPos pos, Err *e);
// {"epoch", "index", "n_windows"} for trainer_state.json, and back.
cJSON *shard_loader_pos_to_json(ShardLoaderPos pos);
int shard_loader_pos_from_json(const cJSON *j, const char *ctx, ShardLoaderPos *out, Err *e);

// ---------------------------------------------------------------------------
// Tokenizing text into a data folder (`reasoner tokenize`)
//
// Inputs: a file ending in ".jsonl" holds one document per line, its "text"
// field (the data pipeline's output), streamed; any other file is plain
// text, read whole: one document, or several separated by lines that hold
// exactly "<|endoftext|>" (as TinyStories ships). Empty documents are skipped.
// Text is encoded with special tokens treated as ordinary text, so a
// document can never forge a separator. A document goes to the validation
// split when the xxh64 of its bytes falls below val_fraction of the hash
// range: deterministic, and exact duplicates never straddle the splits.
// Documents are encoded in parallel batches and written in input order, so
// the shards are byte-identical whatever the thread count.

typedef struct ShardTokenizeOpts {
    const char *tokenizer;         // tokenizer.json, a folder holding one, or X.tiktoken
    const char *const *inputs;     // files, in order
    int n_inputs;
    const char *out_dir;           // created if missing
    int64_t shard_tokens;          // tokens per shard file
    double val_fraction;           // in [0, 1)
    int threads;                   // <= 0: all cores
    int progress;                  // 1: a progress bar on stderr
} ShardTokenizeOpts;

typedef struct ShardTokenizeStats {
    int64_t documents[2], tokens[2];  // [0] train, [1] val
    int64_t skipped_empty;            // documents with no text
    double bytes, seconds;
} ShardTokenizeStats;

// Tokenize the inputs into out_dir: shards, tokenizer.json and, last,
// shards.json. An earlier run's shards.json and shards there are removed
// first, so a run that fails leaves a folder that no loader accepts. Returns 0 or -1 with e
// ("path:line: field: what is wrong" for bad input).
int shard_tokenize(const ShardTokenizeOpts *o, ShardTokenizeStats *st, Err *e);
