// chat.c: chat templates rendered natively with a per-token loss mask
// (ChatML, Llama 3), and recognition of a Hub chat_template's family (see chat.h).
#include "chat.h"

#include <string.h>
#include <time.h>

#include "common/base.h"
#include "common/buf.h"
#include "tokenizer/bpe_impl.h"

static const char *const ROLES[] = {"system", "user", "assistant", "tool"};

int chat_format_parse(const char *name, ChatFormat *out, Err *e) {
    static const struct {
        const char *name;
        ChatFormat f;
    } NAMES[] = {{"chatml", CHAT_CHATML}, {"llama3", CHAT_LLAMA3}, {"auto", CHAT_AUTO}};
    for (size_t i = 0; name && i < RS_ARRAY_LEN(NAMES); i++)
        if (strcmp(name, NAMES[i].name) == 0) return *out = NAMES[i].f, 0;
    return err_set(e, "unknown chat format '%s' (known: chatml, llama3, auto)", name ? name : "(null)");
}

const char *chat_format_name(ChatFormat f) {
    return f == CHAT_CHATML ? "chatml" : f == CHAT_LLAMA3 ? "llama3" : f == CHAT_AUTO ? "auto" : "?";
}

int chat_role_valid(const char *role) {
    for (size_t i = 0; role && i < RS_ARRAY_LEN(ROLES); i++)
        if (strcmp(role, ROLES[i]) == 0) return 1;
    return 0;
}

// ---------------------------------------------------------------------------
// Recognising a Jinja template

// Families seen on the Hub that are not rendered here, by a marker each.
static const struct {
    const char *marker, *family;
} OTHER_FAMILIES[] = {
    {"[INST]", "Mistral / Llama 2 ([INST] ... [/INST])"},
    {"<start_of_turn>", "Gemma (<start_of_turn>)"},
    {"<\xef\xbd\x9c" "User\xef\xbd\x9c>", "DeepSeek (<\xef\xbd\x9c" "User\xef\xbd\x9c>)"},
    {"<|START_OF_TURN_TOKEN|>", "Cohere (<|START_OF_TURN_TOKEN|>)"},
    {"<|user|>", "Phi-3 / Zephyr (<|user|>)"},
    {"<|role_start|>", "OLMo / Tulu"},
    {"### Instruction", "Alpaca (### Instruction)"},
    {"Human:", "Anthropic-style (Human: / Assistant:)"},
};

// Jinja string escapes inside a literal: \n, \t, \\, \', \".
static void jinja_unescape(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        out[k++] = c;
    }
    out[k] = 0;
}

// The default system message of a ChatML template: the literal text right
// after "<|im_start|>system\n" inside one string literal, up to <|im_end|>
// (Qwen2.5: '<|im_start|>system\nYou are Qwen, ...<|im_end|>\n' in the
// branch taken when messages[0] is not a system message).
static void chatml_default_system(const char *jinja, char *out, size_t cap) {
    out[0] = 0;
    static const char *const HEADS[] = {"<|im_start|>system\\n", "<|im_start|>system\n"};
    for (size_t h = 0; h < RS_ARRAY_LEN(HEADS); h++) {
        for (const char *p = strstr(jinja, HEADS[h]); p; p = strstr(p + 1, HEADS[h])) {
            const char *q = p + strlen(HEADS[h]), *end = strstr(q, "<|im_end|>");
            if (!end || *q == '\'' || *q == '"' || *q == '{') continue;
            int quoted = 0;  // the text must stay inside one literal: no bare quote
            for (const char *r = q; r < end; r++) {
                if (*r == '\\') r++;
                else if (*r == '\'' || *r == '"') quoted = 1;
            }
            if (quoted) continue;
            jinja_unescape(q, (size_t)(end - q), out, cap);
            return;
        }
    }
}

int chat_template_detect(const char *jinja, ChatTemplate *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (!jinja) return err_set(e, "no chat_template");
    if (strstr(jinja, "<|im_start|>")) {
        out->format = CHAT_CHATML;
        chatml_default_system(jinja, out->default_system, sizeof out->default_system);
        return 0;
    }
    if (strstr(jinja, "<|start_header_id|>") && strstr(jinja, "<|end_header_id|>")) {
        out->format = CHAT_LLAMA3;
        out->dated = strstr(jinja, "Cutting Knowledge Date") != NULL;
        return 0;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(OTHER_FAMILIES); i++)
        if (strstr(jinja, OTHER_FAMILIES[i].marker))
            return err_set(e, "chat_template looks like %s, which is not rendered here (known: chatml, llama3); "
                              "pass --chat-format chatml|llama3 to choose one",
                           OTHER_FAMILIES[i].family);
    return err_set(e, "chat_template of an unknown family (neither ChatML's <|im_start|> nor Llama 3's "
                      "<|start_header_id|>); pass --chat-format chatml|llama3 to choose one");
}

int chat_template_of(const Bpe *tok, ChatFormat f, ChatTemplate *out, Err *e) {
    memset(out, 0, sizeof *out);
    if (f == CHAT_CHATML || f == CHAT_LLAMA3) return out->format = f, 0;
    if (f != CHAT_AUTO) return err_set(e, "chat format %d unknown", (int)f);
    ChatFormat over = CHAT_AUTO;
    if (tok->chat_override && chat_format_parse(tok->chat_override, &over, e) != 0) return -1;
    if (!tok->chat_template) {  // ours: ChatML
        out->format = over == CHAT_AUTO ? CHAT_CHATML : over;
        return 0;
    }
    Err derr = {{0}};
    int rc = chat_template_detect(tok->chat_template, out, &derr);
    if (over == CHAT_AUTO) return rc == 0 ? 0 : err_set(e, "tokenizer_config.json: %s", derr.msg);
    if (rc != 0 || out->format != over) memset(out, 0, sizeof *out), out->format = over;
    return 0;
}

int chat_set_format(Bpe *tok, const char *name, Err *e) {
    ChatFormat f = CHAT_AUTO;
    if (name && chat_format_parse(name, &f, e) != 0) return -1;
    free(tok->chat_override);
    tok->chat_override = f == CHAT_AUTO ? NULL : xstrdup(name);
    return 0;
}

// ---------------------------------------------------------------------------
// Tokens each family needs

typedef struct {
    int32_t bos, start, end, turn_end;  // Llama 3: begin_of_text, start/end header, eot
} FamilyIds;

static int family_ids(const Bpe *tok, ChatFormat f, FamilyIds *ids, Err *e) {
    if (f == CHAT_CHATML) {
        ids->start = bpe_special_id(tok, "<|im_start|>"), ids->turn_end = bpe_special_id(tok, "<|im_end|>");
        if (ids->start < 0 || ids->turn_end < 0)
            return err_set(e, "tokenizer has no chat tokens: <|im_start|> and <|im_end|> are needed for the chat "
                              "template (SFT adds them; evaluate a base model with --no-chat)");
        return 0;
    }
    ids->bos = bpe_special_id(tok, "<|begin_of_text|>");
    ids->start = bpe_special_id(tok, "<|start_header_id|>"), ids->end = bpe_special_id(tok, "<|end_header_id|>");
    ids->turn_end = bpe_special_id(tok, "<|eot_id|>");
    if (ids->bos < 0 || ids->start < 0 || ids->end < 0 || ids->turn_end < 0)
        return err_set(e, "tokenizer has no chat tokens: <|begin_of_text|>, <|start_header_id|>, <|end_header_id|> "
                          "and <|eot_id|> are needed for the Llama 3 chat template");
    return 0;
}

int chat_check(const Bpe *tok, ChatFormat f, Err *e) {
    ChatTemplate t;
    FamilyIds ids;
    if (chat_template_of(tok, f, &t, e) != 0) return -1;
    return family_ids(tok, t.format, &ids, e);
}

int chat_stop_ids(const Bpe *tok, ChatFormat f, int32_t *out, int cap) {
    ChatTemplate t;
    FamilyIds fi;
    Err e = {{0}};
    int n = 0;
    if (chat_template_of(tok, f, &t, &e) == 0 && family_ids(tok, t.format, &fi, &e) == 0) {
        if (n < cap) out[n] = fi.turn_end;
        n++;
    }
    if (f != CHAT_AUTO) return n;
    for (int i = 0; i < tok->n_eos; i++) {
        int seen = 0;
        for (int k = 0; k < n && k < cap; k++) seen |= out[k] == tok->eos_ids[i];
        if (seen) continue;
        if (n < cap) out[n] = tok->eos_ids[i];
        n++;
    }
    return n;
}

// ---------------------------------------------------------------------------
// Rendering

static void push(BpeIds *ids, BpeIds *mask, int32_t id, int m) {
    bpe_ids_push(ids, id);
    if (mask) bpe_ids_push(mask, m);
}

// head + body encoded as one piece; tokens that reach past head are body
// (trained on when train).
static void encode_piece(const Bpe *tok, const char *head, const char *body, size_t body_len, int train,
                         BpeIds *ids, BpeIds *mask) {
    Buf b = {0};
    buf_puts(&b, head);
    size_t header = b.len;
    if (body) buf_append(&b, body, body_len);
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

// Length of a UTF-8 whitespace character at s (Python's str.isspace, which
// Jinja's trim uses), or 0.
static size_t space_at(const unsigned char *s, size_t n) {
    if (n >= 1 && ((s[0] >= 9 && s[0] <= 13) || s[0] == ' ' || (s[0] >= 0x1c && s[0] <= 0x1f))) return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3;  // U+1680
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
        (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf)) return 3;  // U+2000..200A, 2028, 2029, 202F
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;  // U+205F
    if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;  // U+3000
    return 0;
}

// Jinja's |trim: *start and *len of content without surrounding whitespace.
static void trim(const char *content, const char **start, size_t *len) {
    const unsigned char *s = (const unsigned char *)(content ? content : "");
    size_t n = strlen((const char *)s), k;
    while (n && (k = space_at(s, n))) s += k, n -= k;
    for (;;) {  // from the end: try each character length
        size_t cut = 0;
        for (size_t l = 1; l <= 3 && l <= n && !cut; l++)
            if (space_at(s + n - l, l) == l) cut = l;
        if (!cut) break;
        n -= cut;
    }
    *start = (const char *)s, *len = n;
}

static void render_chatml(const Bpe *tok, const ChatTemplate *t, const FamilyIds *fi, const ChatMsg *msgs, int n,
                          int gen, BpeIds *ids, BpeIds *mask) {
    int has_system = n > 0 && strcmp(msgs[0].role, "system") == 0;
    for (int i = t->default_system[0] && !has_system ? -1 : 0; i < n; i++) {
        const char *role = i < 0 ? "system" : msgs[i].role;
        const char *content = i < 0 ? t->default_system : msgs[i].content ? msgs[i].content : "";
        int train = strcmp(role, "assistant") == 0;
        Buf head = {0};
        buf_printf(&head, "%s\n", role);
        push(ids, mask, fi->start, 0);
        encode_piece(tok, head.data, content, strlen(content), train, ids, mask);
        push(ids, mask, fi->turn_end, train);
        encode_piece(tok, "\n", NULL, 0, 0, ids, mask);  // the "\n" after <|im_end|>
        buf_free(&head);
    }
    if (gen) {
        push(ids, mask, fi->start, 0);
        encode_piece(tok, "assistant\n", NULL, 0, 0, ids, mask);
    }
}

static void llama3_turn(const Bpe *tok, const FamilyIds *fi, const char *role, const char *head, const char *body,
                        size_t body_len, int train, BpeIds *ids, BpeIds *mask) {
    push(ids, mask, fi->start, 0);
    encode_piece(tok, role, NULL, 0, 0, ids, mask);
    push(ids, mask, fi->end, 0);
    encode_piece(tok, head, body, body_len, train, ids, mask);
    push(ids, mask, fi->turn_end, train);
}

static void render_llama3(const Bpe *tok, const ChatTemplate *t, const FamilyIds *fi, const ChatMsg *msgs, int n,
                          int gen, BpeIds *ids, BpeIds *mask) {
    const char *s;
    size_t len;
    int first = 0;
    if (t->dated) {  // Llama 3.1/3.2: the system block is always there
        char date[32];
        if (t->date[0]) snprintf(date, sizeof date, "%s", t->date);
        else {
            time_t now = time(NULL);
            struct tm tmv;
            strftime(date, sizeof date, "%d %b %Y", localtime_r(&now, &tmv));
        }
        trim(t->default_system, &s, &len);
        if (n > 0 && strcmp(msgs[0].role, "system") == 0) trim(msgs[0].content, &s, &len), first = 1;
        Buf head = {0};
        buf_printf(&head, "\n\nCutting Knowledge Date: December 2023\nToday Date: %s\n\n", date);
        push(ids, mask, fi->bos, 0);
        llama3_turn(tok, fi, "system", head.data, s, len, 0, ids, mask);
        buf_free(&head);
    } else if (n > 0) {  // Llama 3.0: bos_token before the first message
        push(ids, mask, fi->bos, 0);
        if (t->default_system[0] && strcmp(msgs[0].role, "system") != 0) {
            trim(t->default_system, &s, &len);
            llama3_turn(tok, fi, "system", "\n\n", s, len, 0, ids, mask);
        }
    }
    for (int i = first; i < n; i++) {
        int train = strcmp(msgs[i].role, "assistant") == 0;
        const char *role = t->dated && strcmp(msgs[i].role, "tool") == 0 ? "ipython" : msgs[i].role;
        trim(msgs[i].content, &s, &len);
        llama3_turn(tok, fi, role, "\n\n", s, len, train, ids, mask);
    }
    if (gen) {
        push(ids, mask, fi->start, 0);
        encode_piece(tok, "assistant", NULL, 0, 0, ids, mask);
        push(ids, mask, fi->end, 0);
        encode_piece(tok, "\n\n", NULL, 0, 0, ids, mask);
    }
}

int chat_render_template(const Bpe *tok, const ChatTemplate *t, const ChatMsg *msgs, int n,
                         int add_generation_prompt, BpeIds *ids, BpeIds *mask, Err *e) {
    FamilyIds fi = {0};
    if (family_ids(tok, t->format, &fi, e) != 0) return -1;
    for (int i = 0; i < n; i++)
        if (!chat_role_valid(msgs[i].role))
            return err_set(e, "messages[%d].role: '%s' is not system, user, assistant or tool", i,
                           msgs[i].role ? msgs[i].role : "(missing)");
    if (t->format == CHAT_LLAMA3) render_llama3(tok, t, &fi, msgs, n, add_generation_prompt, ids, mask);
    else render_chatml(tok, t, &fi, msgs, n, add_generation_prompt, ids, mask);
    return 0;
}

int chat_render(const Bpe *tok, ChatFormat f, const ChatMsg *msgs, int n, int add_generation_prompt,
                BpeIds *ids, BpeIds *mask, Err *e) {
    ChatTemplate t;
    if (chat_template_of(tok, f, &t, e) != 0) return -1;
    return chat_render_template(tok, &t, msgs, n, add_generation_prompt, ids, mask, e);
}
