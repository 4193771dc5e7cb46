// bpe_impl.h: the inside of a Bpe, shared by the tokenizer's .c files
// (bpe.c: encode/decode; bpe_io.c: file formats; bpe_train.c: training).
// Not a public header: other folders include tokenizer/bpe.h only.
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "tokenizer/bpe.h"

// A merge rule: the adjacent pair (left, right) becomes `id`; lower `rank`
// merges first. For a tiktoken file every split of a token into two tokens
// is a rule whose rank is the token's id (tiktoken merges by the rank of the
// concatenation); for tokenizer.json and trained tokenizers, one rule per
// merge line, ranked by line.
typedef struct BpeRule {
    int32_t rank;
    int32_t id;
} BpeRule;

// Open-addressing map (left, right) -> rule. Keys are left<<32 | right;
// an empty slot holds BPE_NO_KEY.
#define BPE_NO_KEY UINT64_MAX
typedef struct PairMap {
    uint64_t *keys;
    BpeRule *vals;
    size_t cap;  // power of two
    size_t len;
} PairMap;

// Open-addressing map token bytes -> id, the bytes living in the Bpe.
typedef struct VocabMap {
    int32_t *slots;  // id, or -1 for empty
    size_t cap;      // power of two
} VocabMap;

typedef struct BpeSpecial {
    char *text;
    size_t len;
    int32_t id;
} BpeSpecial;

struct Bpe {
    int32_t n_ids;        // vocab size: one past the largest id
    int32_t ids_cap;      // allocated length of the per-id arrays
    uint32_t *tok_off;    // (n_ids) offset of each token's bytes in arena
    uint32_t *tok_len;    // (n_ids) length; UINT32_MAX marks an unused id
    char *arena;
    size_t arena_len, arena_cap;
    uint8_t *special_flag;  // (n_ids) 1 for special tokens
    int32_t byte_id[256];   // the token of each single byte
    VocabMap vocab;         // ordinary (non-special) tokens only
    PairMap rules;
    int whole_lookup;  // a chunk that is itself a token encodes as that token (tiktoken, ignore_merges)
    int nfc;           // NFC-normalise text between specials (tokenizer.json "NFC" normalizer)
    char *pattern;
    pcre2_code *re;
    BpeSpecial *specials;
    int n_specials;

    // What the folder says beyond the vocabulary (bpe_io.c; chat.c reads it).
    int bos_known;        // 1: bos_id comes from the file (post_processor or
                          // tokenizer_config.json); 0: the legacy rule (<|endoftext|>)
    int32_t bos_id;       // valid when bos_known; -1 = no BOS
    char *chat_template;  // tokenizer_config.json "chat_template" (Jinja), or NULL
    char *chat_override;  // --chat-format NAME, or NULL
    int32_t eos_ids[8];   // generation_config.json eos_token_id (a list or one id)
    int n_eos;
};

// --- construction helpers (bpe.c) ---------------------------------------------

Bpe *bpe_new_empty(void);
// Set the bytes of id (growing the id space); the id must be unused.
void bpe_set_token(Bpe *b, int32_t id, const char *bytes, size_t len);
// Finish building: vocab map over ordinary tokens, byte table. Fails when a
// byte has no token or two ordinary tokens share their bytes.
int bpe_index(Bpe *b, const char *name, Err *e);
// Compile pattern (PCRE2, UTF+UCP+JIT) into b->pattern/b->re.
int bpe_set_pattern(Bpe *b, const char *pattern, const char *name, Err *e);
// Register a special token with the given bytes at id (id may exceed n_ids).
int bpe_set_special(Bpe *b, const char *text, int32_t id, const char *name, Err *e);
// Add a merge rule; keeps the existing rule when the pair is already there.
void bpe_add_rule(Bpe *b, int32_t left, int32_t right, int32_t rank, int32_t id);
// Token id of bytes among ordinary tokens, or -1.
int32_t bpe_vocab_find(const Bpe *b, const char *bytes, size_t len);

// PCRE2 compile of a split pattern, shared by the tokenizer and the trainer.
pcre2_code *bpe_compile_pattern(const char *pattern, const char *name, Err *e);

// --- splitting text into chunks (bpe.c) -----------------------------------------

// Per-thread matching state for a compiled pattern.
typedef struct BpeSplitter {
    const pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    int use_jit;  // the pattern is JIT-compiled
} BpeSplitter;

void bpe_splitter_init(BpeSplitter *s, const pcre2_code *re);
void bpe_splitter_free(BpeSplitter *s);
// Call fn for each chunk of text[0..n) in order: regex matches and, between
// them, runs of bytes no match covers (invalid UTF-8). The chunks tile the text.
typedef void (*BpeChunkFn)(void *ctx, const char *p, size_t n);
void bpe_split(BpeSplitter *s, const char *text, size_t n, BpeChunkFn fn, void *ctx);

// --- byte-level text (bpe_io.c) ---------------------------------------------------

// GPT-2's reversible map of bytes to printable code points, as UTF-8.
void bpe_bytes_to_unicode(const char *bytes, size_t n, Buf *out);

// --- NFC (nfc.c) ------------------------------------------------------------------

// Append the NFC form of text[0..n) to out. Invalid UTF-8 passes through unchanged.
void bpe_nfc(const char *text, size_t n, Buf *out);
// 1 when text is certainly already NFC (a fast check; 0 means "maybe not").
int bpe_nfc_quick(const char *text, size_t n);
