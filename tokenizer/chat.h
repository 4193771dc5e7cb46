// chat.h: conversations rendered into token ids with a per-token loss mask —
// the one renderer used by rollout prompts (eval, RL) and by SFT, so the
// model is trained on exactly the bytes it is later prompted with.
//
//   ChatMsg msgs[] = {{"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"}};
//   BpeIds ids = {0}, mask = {0};
//   chat_render(tok, CHAT_AUTO, msgs, 3, 0, &ids, &mask, &err);
//   // mask.data[i] == 1 where ids.data[i] is a token the model is trained to
//   // produce: assistant content and the assistant turn's end token.
//
// Formats (ARCHITECTURE.md, "Chat template"):
//   CHAT_CHATML (Qwen2.5 and our own models):
//     <|im_start|>{role}\n{content}<|im_end|>\n  per message;
//     the generation prompt is <|im_start|>assistant\n.
//   CHAT_LLAMA3 (Llama 3, 3.1, 3.2):
//     <|begin_of_text|> once, then per message
//     <|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>;
//     the generation prompt is <|start_header_id|>assistant<|end_header_id|>\n\n.
//     Llama 3.1/3.2 templates ("dated") always open with a system block
//     "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}".
//   CHAT_AUTO: the tokenizer's own template — the --chat-format override
//     (chat_set_format) if any, else the family recognised in
//     tokenizer_config.json's chat_template (chat_template_detect), else
//     ChatML for a tokenizer without one (ours). A template's default system
//     message (Qwen2.5: "You are Qwen, created by Alibaba Cloud. You are a
//     helpful assistant."; Qwen2.5-Math: "Please reason step by step, and put
//     your final answer within \boxed{}.") is used when the conversation has
//     no system message, as the template does. An unrecognised template is an
//     error naming the family it looks like.
// The Jinja itself is never run: the families are rendered natively and
// checked byte for byte against transformers' apply_chat_template
// (scripts/hf_parity.py). Each piece of text between special tokens is
// encoded on its own, as HF tokenizers encode the rendered string (specials
// split the text first), so ids equal apply_chat_template(tokenize=True).
// Content is encoded as ordinary text: a "<|im_end|>" typed inside a message
// stays text and cannot end a turn. A token that straddles the header/content
// boundary (e.g. "\n\n" when content starts with a newline) counts as content.
// Roles: system, user, assistant, tool. Thread-safe (no state), except
// chat_set_format, which changes the tokenizer.
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "tokenizer/bpe.h"

typedef enum { CHAT_CHATML = 0, CHAT_LLAMA3 = 1, CHAT_AUTO = 2 } ChatFormat;

typedef struct ChatMsg {
    const char *role;     // "system" | "user" | "assistant" | "tool"
    const char *content;  // UTF-8 text
} ChatMsg;

// A resolved template: a family and the few things its Jinja varies in.
typedef struct ChatTemplate {
    ChatFormat format;          // CHAT_CHATML or CHAT_LLAMA3 (never CHAT_AUTO)
    char default_system[1024];  // used when msgs[0] is not a system message; "" none
    int dated;                  // Llama 3.1+: system block with the knowledge and today dates
    char date[32];              // "" = today as "%d %b %Y" (transformers' strftime_now)
} ChatTemplate;

// "chatml" | "llama3" | "auto" -> the format. Returns 0, or -1 naming the known formats.
int chat_format_parse(const char *name, ChatFormat *out, Err *e);
const char *chat_format_name(ChatFormat f);

// Recognise the family of a Jinja chat_template. Returns 0 with out filled,
// or -1: "chat_template looks like Gemma (<start_of_turn>), which is not
// rendered here (known: chatml, llama3); pass --chat-format to choose one".
int chat_template_detect(const char *jinja, ChatTemplate *out, Err *e);
// The template f stands for with tok: CHAT_AUTO as above; CHAT_CHATML and
// CHAT_LLAMA3 plainly (no default system; Llama 3.0 layout). -1 as detect.
int chat_template_of(const Bpe *tok, ChatFormat f, ChatTemplate *out, Err *e);
// Make CHAT_AUTO use the named format ("chatml", "llama3"; "auto" or NULL
// clears it) whatever tokenizer_config.json says; the default system message
// is kept when the template is of that family. Not thread-safe.
int chat_set_format(Bpe *tok, const char *name, Err *e);

// 0 when tok has the format's special tokens (and, for CHAT_AUTO, its
// template is recognised), else -1 with a message naming the missing one
// ("tokenizer has no chat tokens: <|im_start|> ...").
int chat_check(const Bpe *tok, ChatFormat f, Err *e);

// 1 when role is one of the known roles.
int chat_role_valid(const char *role);

// Append the rendering of msgs[0..n) to ids and, when mask is non-NULL, one
// value per appended id to mask (1: trained on, 0: context). With
// add_generation_prompt the assistant header follows (for sampling).
// Returns 0, or -1 with e (chat tokens missing, message i has an unknown
// role, unknown template); nothing is appended then.
int chat_render(const Bpe *tok, ChatFormat f, const ChatMsg *msgs, int n, int add_generation_prompt,
                BpeIds *ids, BpeIds *mask, Err *e);
// The same with a resolved template.
int chat_render_template(const Bpe *tok, const ChatTemplate *t, const ChatMsg *msgs, int n,
                         int add_generation_prompt, BpeIds *ids, BpeIds *mask, Err *e);

// The ids that end an assistant turn (for rollout's stop ids): writes up to
// cap ids to out and returns how many there are. CHAT_CHATML: <|im_end|>;
// CHAT_LLAMA3: <|eot_id|>; CHAT_AUTO: its family's end token, then every
// generation_config.json eos_token_id not already listed.
int chat_stop_ids(const Bpe *tok, ChatFormat f, int32_t *out, int cap);
