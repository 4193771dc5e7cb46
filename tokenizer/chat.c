// chat.c: ChatML rendering with a per-token loss mask (see chat.h).
#include "chat.h"

#include <string.h>

#include "common/buf.h"

static const char *const ROLES[] = {"system", "user", "assistant", "tool"};

int chat_format_parse(const char *name, ChatFormat *out, Err *e) {
    if (strcmp(name, "chatml") == 0) {
        *out = CHAT_CHATML;
        return 0;
    }
    return err_set(e, "unknown chat format '%s' (known: chatml)", name);
}

const char *chat_format_name(ChatFormat f) { return f == CHAT_CHATML ? "chatml" : "?"; }

int chat_role_valid(const char *role) {
    for (size_t i = 0; role && i < sizeof ROLES / sizeof *ROLES; i++)
        if (strcmp(role, ROLES[i]) == 0) return 1;
    return 0;
}

int chat_check(const Bpe *tok, ChatFormat f, Err *e) {
    (void)f;
    if (bpe_special_id(tok, "<|im_start|>") < 0 || bpe_special_id(tok, "<|im_end|>") < 0)
        return err_set(e, "tokenizer has no chat tokens: <|im_start|> and <|im_end|> are needed for the chat "
                          "template (SFT adds them; evaluate a base model with --no-chat)");
    return 0;
}

int chat_stop_ids(const Bpe *tok, ChatFormat f, int32_t *out, int cap) {
    (void)f;
    int32_t id = bpe_special_id(tok, "<|im_end|>");
    if (id < 0) return 0;
    if (cap > 0) out[0] = id;
    return 1;
}

static void push(BpeIds *ids, BpeIds *mask, int32_t id, int m) {
    bpe_ids_push(ids, id);
    if (mask) bpe_ids_push(mask, m);
}

// "{role}\n{content}" as one piece; tokens that reach past the header are content.
static void encode_turn(const Bpe *tok, const char *role, const char *content, int train, BpeIds *ids,
                        BpeIds *mask) {
    Buf b = {0};
    buf_printf(&b, "%s\n", role);
    size_t header = b.len;
    if (content) buf_puts(&b, content);
    BpeIds piece = {0};
    bpe_encode(tok, b.data ? b.data : "", b.len, BPE_SPECIAL_NONE, &piece);
    size_t off = 0;
    for (size_t i = 0; i < piece.len; i++) {
        size_t len = 0;
        bpe_token_bytes(tok, piece.data[i], &len);
        off += len;
        push(ids, mask, piece.data[i], train && off > header);
    }
    bpe_ids_free(&piece);
    buf_free(&b);
}

int chat_render(const Bpe *tok, ChatFormat f, const ChatMsg *msgs, int n, int add_generation_prompt,
                BpeIds *ids, BpeIds *mask, Err *e) {
    if (chat_check(tok, f, e) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (!chat_role_valid(msgs[i].role))
            return err_set(e, "messages[%d].role: '%s' is not system, user, assistant or tool", i,
                           msgs[i].role ? msgs[i].role : "(missing)");
    int32_t start = bpe_special_id(tok, "<|im_start|>"), end = bpe_special_id(tok, "<|im_end|>");
    for (int i = 0; i < n; i++) {
        int train = strcmp(msgs[i].role, "assistant") == 0;
        push(ids, mask, start, 0);
        encode_turn(tok, msgs[i].role, msgs[i].content, train, ids, mask);
        push(ids, mask, end, train);
        encode_turn(tok, "", NULL, 0, ids, mask);  // the "\n" after <|im_end|>
    }
    if (add_generation_prompt) {
        push(ids, mask, start, 0);
        encode_turn(tok, "assistant", NULL, 0, ids, mask);
    }
    return 0;
}
