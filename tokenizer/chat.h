// chat.h: conversations rendered into token ids with a per-token loss mask —
// the one renderer used by rollout prompts (eval, RL) and by SFT, so the
// model is trained on exactly the bytes it is later prompted with.
//
//   ChatMsg msgs[] = {{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"}};
//   BpeIds ids = {0}, mask = {0};
//   chat_render(tok, CHAT_CHATML, msgs, 3, 0, &ids, &mask, &err);
//   // mask.data[i] == 1 where ids.data[i] is a token the model is trained to
//   // produce: assistant content and the assistant turn's end token.
//
// Formats (ARCHITECTURE.md, "Chat template"):
//   CHAT_CHATML (Qwen2.5 and our own models):
//     <|im_start|>{role}\n{content}<|im_end|>\n  per message;
//     the generation prompt is <|im_start|>assistant\n.
// Each message is encoded as "{role}\n{content}" in one piece between the
// special tokens, as HF tokenizers encode the rendered string (specials split
// the text first), so ids equal apply_chat_template + encode. Content is
// encoded as ordinary text: a "<|im_end|>" typed inside a message stays text
// and cannot end a turn. A token that straddles the header/content boundary
// (e.g. "\n\n" when content starts with a newline) counts as content.
// Roles: system, user, assistant, tool. Thread-safe (no state).
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "tokenizer/bpe.h"

typedef enum { CHAT_CHATML = 0 } ChatFormat;

typedef struct ChatMsg {
    const char *role;     // "system" | "user" | "assistant" | "tool"
    const char *content;  // UTF-8 text
} ChatMsg;

// "chatml" -> CHAT_CHATML. Returns 0, or -1 naming the known formats.
int chat_format_parse(const char *name, ChatFormat *out, Err *e);
const char *chat_format_name(ChatFormat f);

// 0 when tok has the format's special tokens, else -1 with a message naming
// the missing one ("tokenizer has no chat tokens: <|im_start|> ...").
int chat_check(const Bpe *tok, ChatFormat f, Err *e);

// 1 when role is one of the known roles.
int chat_role_valid(const char *role);

// Append the rendering of msgs[0..n) to ids and, when mask is non-NULL, one
// value per appended id to mask (1: trained on, 0: context). With
// add_generation_prompt the assistant header follows (for sampling).
// Returns 0, or -1 with e (chat tokens missing, message i has an unknown
// role); nothing is appended then.
int chat_render(const Bpe *tok, ChatFormat f, const ChatMsg *msgs, int n, int add_generation_prompt,
                BpeIds *ids, BpeIds *mask, Err *e);

// The ids that end an assistant turn (for rollout's stop ids): writes up to
// cap ids to out and returns how many there are.
int chat_stop_ids(const Bpe *tok, ChatFormat f, int32_t *out, int cap);
