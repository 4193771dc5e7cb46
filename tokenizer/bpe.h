// bpe.h: byte-level BPE tokenizer — encode, decode, stream-decode, train,
// and the file formats (tiktoken rank files, Hugging Face tokenizer.json).
//
//   Bpe *tok = bpe_load("ckpt/tokenizer.json", &err);      // or a dir, or x.tiktoken
//   BpeIds ids = {0};
//   bpe_encode(tok, text, strlen(text), BPE_SPECIAL_NONE, &ids);
//   Buf out = {0}; bpe_decode(tok, ids.data, ids.len, &out, &err);
//   bpe_ids_free(&ids); buf_free(&out); bpe_free(tok);
//
// Model. Text is pre-split by a regex (PCRE2, UTF + UCP, JIT) into chunks;
// each chunk's UTF-8 bytes start as single-byte tokens and are merged pair
// by pair, lowest merge rank first (leftmost on ties), exactly as tiktoken
// and Hugging Face `tokenizers` do. Bytes that are not valid UTF-8 fall
// outside every regex match and are encoded as chunks of their own, so any
// byte string encodes and decode(encode(x)) == x for every x.
//
// Special tokens ("<|endoftext|>", "<|im_start|>", ...) are matched in text
// only when the caller allows them (tiktoken's allowed_special); otherwise
// they encode as ordinary text. They are never produced by merges. Nothing
// is added on its own: bpe_encode never adds a BOS; callers prepend
// bpe_bos_id(tok) where a prompt starts (see "what a model folder says").
//
// Exactness: ids equal tiktoken's (cl100k_base, o200k_base, gpt2) and
// `tokenizers`' on text whose characters are assigned in the Unicode version
// of the PCRE2 library (10.42: Unicode 14); code points assigned later (e.g.
// CJK Extension H) may split differently. `\s` means Unicode White_Space, as
// in Rust's regex.
//
// Ids are int32_t. Token bytes and ids of a loaded Bpe never change, except
// through bpe_add_special (call it before sharing the Bpe).
//
// Thread-safety: a Bpe is read-only after loading/training; any number of
// threads may encode and decode with one Bpe at the same time. bpe_encode
// allocates its scratch per call; for many small calls on one thread, a
// BpeEncoder (one per thread) keeps its scratch and a chunk cache.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct Bpe Bpe;

// The largest vocabulary accepted from a file or for training (real ones
// stop near 256k); larger ids are refused as corrupt input.
#define BPE_MAX_VOCAB (1 << 22)

// --- id arrays --------------------------------------------------------------

// A growable array of token ids. Caller-owned: BpeIds ids = {0}; ...; bpe_ids_free(&ids).
// Encode functions append to it (they never clear it).
typedef struct BpeIds {
    int32_t *data;
    size_t len;
    size_t cap;
} BpeIds;

void bpe_ids_push(BpeIds *a, int32_t id);
void bpe_ids_reserve(BpeIds *a, size_t extra);
void bpe_ids_free(BpeIds *a);  // frees data and zeroes the struct; safe twice

// --- loading, saving --------------------------------------------------------

// Load a tokenizer from:
//   - a Hugging Face tokenizer.json (model BPE with vocab + merges; ByteLevel
//     and Split pre-tokenizers, optionally in a Sequence; added_tokens; an NFC
//     normalizer) — the files of GPT-2, Llama 3 and Qwen2.5 load;
//   - a directory holding tokenizer.json;
//   - a tiktoken rank file "X.tiktoken" (lines "base64 rank"), whose split
//     pattern and special tokens come from "X.meta.json" beside it
//     ({"pat_str": ..., "special_tokens": {"<|endoftext|>": 100257, ...}});
//     without a meta file the GPT-4 (cl100k) pattern and no specials are used.
// Returns NULL and fills e ("path:line: field: what is wrong") on bad input.
Bpe *bpe_load(const char *path, Err *e);

// Parse an in-memory tokenizer.json; `name` labels error messages.
Bpe *bpe_from_hf_json(const char *json, size_t n, const char *name, Err *e);
// Parse an in-memory tiktoken rank file. pattern NULL = BPE_PATTERN_CL100K.
// specials: n_specials (text, id) pairs; may be 0/NULL.
Bpe *bpe_from_tiktoken(const char *data, size_t n, const char *name, const char *pattern,
                       const char *const *special_texts, const int32_t *special_ids,
                       int n_specials, Err *e);

// Write a Hugging Face tokenizer.json (atomically: temp file + fsync +
// rename) that `tokenizers` loads and that encodes identically to bpe_encode
// with all specials allowed. If path is a directory, writes
// path/tokenizer.json. Returns 0, or -1 with e filled.
int bpe_save(const Bpe *b, const char *path, Err *e);

// Free everything; NULL is fine.
void bpe_free(Bpe *b);

// --- vocabulary -------------------------------------------------------------

// One past the largest id, specials included (the embedding table's rows).
int bpe_vocab_size(const Bpe *b);
// The id of a special token by its text ("<|endoftext|>"), or -1 if absent.
int32_t bpe_special_id(const Bpe *b, const char *text);
// Number of special tokens, and the i-th (0 <= i < n) text and id.
int bpe_n_special(const Bpe *b);
const char *bpe_special_text(const Bpe *b, int i, int32_t *id);
// 1 if id is a special token.
int bpe_is_special(const Bpe *b, int32_t id);
// The bytes of token id (not NUL-terminated), length in *len; NULL when id
// is out of range or unused (a hole in the id space). Valid while b lives.
const char *bpe_token_bytes(const Bpe *b, int32_t id, size_t *len);
// The split regex in use (PCRE2 syntax).
const char *bpe_pattern(const Bpe *b);
// Add a special token if it is absent, at id bpe_vocab_size(b); returns its
// id (the existing one if present). Not thread-safe: call before sharing b.
int32_t bpe_add_special(Bpe *b, const char *text);

// --- what a model folder says about prompts ----------------------------------
//
// bpe_load of a tokenizer.json also reads, when they sit beside it,
// tokenizer_config.json (chat_template, add_bos_token, bos_token) and
// generation_config.json (eos_token_id, one id or a list); a Jinja
// chat_template.jinja file is read when tokenizer_config.json has none.
//
// The BOS rule (bpe_bos_id), first match wins:
//   1. tokenizer.json has a post_processor: BOS is the SpecialToken that
//      starts its TemplateProcessing "single" template (Llama 3:
//      <|begin_of_text|>), directly or inside a Sequence; any other
//      post-processor (ByteLevel: Qwen2, GPT-2) means no BOS.
//   2. tokenizer_config.json beside it: add_bos_token true -> its bos_token,
//      else no BOS.
//   3. neither (a tokenizer trained or converted here, or a tokenizer.json
//      this project wrote before it wrote a post-processor): <|endoftext|> when
//      present — our pretraining starts every document with it.
// bpe_save writes the rule back as a TemplateProcessing post-processor, so
// transformers adds the same BOS (tokenizer(text), add_special_tokens=True).

// The id every prompt starts with, or -1 for none (the rule above).
int32_t bpe_bos_id(const Bpe *b);
// Set the BOS explicitly (-1: none); recorded as rule 1.
void bpe_set_bos_id(Bpe *b, int32_t id);
// tokenizer_config.json's chat_template (Jinja source), or NULL.
const char *bpe_chat_template(const Bpe *b);
// Replace it (NULL clears); the string is copied. Not thread-safe.
void bpe_set_chat_template(Bpe *b, const char *jinja);
// generation_config.json's eos_token_id ids: writes up to cap to out and
// returns how many there are (0 when the file was absent).
int bpe_eos_ids(const Bpe *b, int32_t *out, int cap);
// Read tokenizer_config.json / chat_template.jinja / generation_config.json
// from dir into b (bpe_load does this for the tokenizer.json's folder).
// Missing files are fine; malformed ones are an error naming the file.
int bpe_load_folder_meta(Bpe *b, const char *dir, Err *e);

// --- encoding ---------------------------------------------------------------

// Which special tokens are recognised in text (tiktoken's allowed_special).
typedef enum {
    BPE_SPECIAL_NONE = 0,  // none: "<|endoftext|>" encodes as ordinary text (encode_ordinary)
    BPE_SPECIAL_ALL = 1,   // every special token of b
} BpeSpecialMode;

// Append the ids of text[0..n) (any bytes) to out. Returns the number of
// ids appended. Never fails. Thread-safe (scratch per call).
size_t bpe_encode(const Bpe *b, const char *text, size_t n, BpeSpecialMode mode, BpeIds *out);

// Like bpe_encode, allowing only the listed special texts (others encode as
// ordinary text). Unknown names are ignored.
size_t bpe_encode_allowed(const Bpe *b, const char *text, size_t n, const char *const *allowed,
                          int n_allowed, BpeIds *out);

// Encode n_docs documents in parallel (OpenMP, `threads` <= 0 = all), one
// BpeIds per document (outs[i] is appended to). For the sharder.
void bpe_encode_batch(const Bpe *b, const char *const *texts, const size_t *lens, size_t n_docs,
                      BpeSpecialMode mode, int threads, BpeIds *outs);

// Per-thread encoder: reusable scratch plus a cache of chunk -> ids. One per
// thread; the Bpe must outlive it.
typedef struct BpeEncoder BpeEncoder;
BpeEncoder *bpe_encoder_new(const Bpe *b);
size_t bpe_encoder_encode(BpeEncoder *enc, const char *text, size_t n, BpeSpecialMode mode,
                          BpeIds *out);
void bpe_encoder_free(BpeEncoder *enc);

// --- decoding ---------------------------------------------------------------

// Append the bytes of ids to out. Returns 0, or -1 with e filled
// ("id 123456 out of range [0, 100277)") on an unknown id; out then holds
// the bytes of the ids before it.
int bpe_decode(const Bpe *b, const int32_t *ids, size_t n, Buf *out, Err *e);

// Streaming decode for generation: feed ids one at a time; each feed appends
// only complete UTF-8 characters to out and holds back a trailing incomplete
// sequence (at most 3 bytes) until the next ids complete it. Bytes that can
// never become valid UTF-8 are passed through as they are, so the
// concatenation of all output plus bpe_stream_finish equals bpe_decode.
// Caller-owned struct: BpeStream s; bpe_stream_init(&s, b).
typedef struct BpeStream {
    const Bpe *bpe;
    unsigned char pend[4];
    int npend;
} BpeStream;

void bpe_stream_init(BpeStream *s, const Bpe *b);
// Returns the number of bytes appended to out (>= 0), or -1 with e filled on
// an unknown id (the stream is unchanged and can continue).
int bpe_stream_feed(BpeStream *s, int32_t id, Buf *out, Err *e);
// Flush held-back bytes (an incomplete sequence at the end of the ids) to
// out; returns the number appended. The stream is then empty.
int bpe_stream_finish(BpeStream *s, Buf *out);

// --- training ---------------------------------------------------------------

// The GPT-4 (cl100k_base) split pattern: the default for training and for
// rank files without a meta file.
extern const char BPE_PATTERN_CL100K[];
extern const char BPE_PATTERN_GPT2[];

// The specials a trained tokenizer gets by default, after the merges, in
// this order: <|endoftext|> <|im_start|> <|im_end|> <tool_call> </tool_call>.
extern const char *const BPE_DEFAULT_SPECIALS[];
extern const int BPE_N_DEFAULT_SPECIALS;

typedef struct BpeTrainOpts {
    int vocab_size;       // total, specials included (>= 256 + n_specials, <= BPE_MAX_VOCAB)
    const char *pattern;  // split regex; NULL = BPE_PATTERN_CL100K
    const char *const *specials;  // NULL = BPE_DEFAULT_SPECIALS
    int n_specials;
    int min_frequency;    // stop when the best pair occurs fewer times (0 or 1 = never stop early)
    int threads;          // for chunk counting; <= 0 = all
    int verbose;          // progress on stderr
} BpeTrainOpts;

// Training in three steps: count pre-split chunks of any number of texts,
// then merge. Counting with bpe_trainer_add is parallel (OpenMP) inside;
// the trainer itself is not thread-safe.
typedef struct BpeTrainer BpeTrainer;
// NULL and e filled on a bad pattern or vocab size.
BpeTrainer *bpe_trainer_new(const BpeTrainOpts *o, Err *e);
// Count the chunks of one text (any bytes; specials are not recognised).
void bpe_trainer_add(BpeTrainer *t, const char *text, size_t n);
// Count a file: "*.jsonl" files contribute each line's "text" field (lines
// without one are an error naming the line), other files their whole
// content as plain text. Returns 0, or -1 with e filled.
int bpe_trainer_add_file(BpeTrainer *t, const char *path, Err *e);
// Total bytes and unique chunks counted so far.
uint64_t bpe_trainer_bytes(const BpeTrainer *t);
size_t bpe_trainer_unique_chunks(BpeTrainer *t);
// Run the merges and build the tokenizer (ids: 256 bytes in byte order, then
// merges in order, then specials). Ties between equally frequent pairs go
// to the pair whose (left id, right id) is smallest, so training is
// deterministic. Returns NULL and fills e if no text was added.
Bpe *bpe_trainer_finish(BpeTrainer *t, Err *e);
void bpe_trainer_free(BpeTrainer *t);
