// bpe_io.c: tokenizer file formats — tiktoken rank files (+ .meta.json) and
// Hugging Face tokenizer.json (load and save).
//
//   reasoner tokenizer stats --tokenizer ../shared/datasets/tokenizers/cl100k_base.tiktoken
#include <ctype.h>
#include <string.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "tokenizer/bpe_impl.h"


// ---------------------------------------------------------------------------
// tiktoken rank files: one "base64 rank" line per token

static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Decode standard base64 (with '=' padding) into out; returns length or -1.
static long b64_decode(const char *s, size_t n, char *out) {
    if (n == 0 || n % 4) return -1;
    size_t pad = (s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    long len = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = i >= n - pad ? 0 : b64_value((uint8_t)s[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[len++] = (char)(acc >> 16), out[len++] = (char)(acc >> 8), out[len++] = (char)acc;
            acc = 0;
        }
    }
    return len - (long)pad;
}

// Every split of a token into two tokens is a merge rule ranked by the
// token's rank: tiktoken merges adjacent parts whose concatenation has the
// lowest rank, whatever parts it is made of.
static void rules_from_ranks(Bpe *b) {
    for (int32_t id = 0; id < b->n_ids; id++) {
        if (b->tok_len[id] == UINT32_MAX || b->special_flag[id] || b->tok_len[id] < 2) continue;
        const char *p = b->arena + b->tok_off[id];
        size_t n = b->tok_len[id];
        for (size_t k = 1; k < n; k++) {
            int32_t l = bpe_vocab_find(b, p, k), r = bpe_vocab_find(b, p + k, n - k);
            if (l >= 0 && r >= 0) bpe_add_rule(b, l, r, id, id);
        }
    }
}

static int parse_rank_lines(Bpe *b, const char *data, size_t n, const char *name, Err *e) {
    char tok[512];
    long line = 0;
    for (size_t pos = 0; pos < n;) {
        const char *s = data + pos, *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + 1;
        line++;
        if (len && s[len - 1] == '\r') len--;
        if (len == 0) continue;
        const char *sp = memchr(s, ' ', len);
        if (!sp) return err_set(e, "%s:%ld: expected 'base64 rank'", name, line);
        size_t blen = (size_t)(sp - s);
        if (blen / 4 * 3 > sizeof tok) return err_set(e, "%s:%ld: token longer than %zu bytes", name, line, sizeof tok);
        long tl = b64_decode(s, blen, tok);
        if (tl <= 0) return err_set(e, "%s:%ld: token: invalid base64", name, line);
        char num[16];
        size_t nlen = len - blen - 1;
        if (nlen == 0 || nlen >= sizeof num) return err_set(e, "%s:%ld: rank: expected an integer", name, line);
        memcpy(num, sp + 1, nlen);
        num[nlen] = 0;
        char *end;
        long rank = strtol(num, &end, 10);
        if (*end || !isdigit((uint8_t)num[0])) return err_set(e, "%s:%ld: rank: expected an integer", name, line);
        if (rank >= BPE_MAX_VOCAB) return err_set(e, "%s:%ld: rank: %ld is too large", name, line, rank);
        if (rank < b->n_ids && b->tok_len[rank] != UINT32_MAX)
            return err_set(e, "%s:%ld: rank: %ld appears twice", name, line, rank);
        bpe_set_token(b, (int32_t)rank, tok, (size_t)tl);
    }
    if (b->n_ids == 0) return err_set(e, "%s: no tokens", name);
    return 0;
}

Bpe *bpe_from_tiktoken(const char *data, size_t n, const char *name, const char *pattern,
                       const char *const *special_texts, const int32_t *special_ids, int n_specials, Err *e) {
    Bpe *b = bpe_new_empty();
    b->whole_lookup = 1;
    if (parse_rank_lines(b, data, n, name, e) || bpe_set_pattern(b, pattern ? pattern : BPE_PATTERN_CL100K, name, e))
        goto fail;
    for (int i = 0; i < n_specials; i++) {
        if (special_ids[i] < 0 || special_ids[i] >= BPE_MAX_VOCAB) {
            err_set(e, "%s: special token '%s': id %d out of range", name, special_texts[i], special_ids[i]);
            goto fail;
        }
        if (bpe_set_special(b, special_texts[i], special_ids[i], name, e)) goto fail;
    }
    if (bpe_index(b, name, e)) goto fail;
    rules_from_ranks(b);
    return b;
fail:
    bpe_free(b);
    return NULL;
}

// "X.tiktoken" -> "X.meta.json": {"pat_str": "...", "special_tokens": {"<|endoftext|>": 100257}}
static Bpe *load_tiktoken_file(const char *path, Err *e) {
    char *data = NULL;
    size_t n;
    if (fs_read_all(path, &data, &n, e)) return NULL;
    size_t plen = strlen(path);
    char *meta = xmalloc(plen + 16);
    memcpy(meta, path, plen + 1);
    if (plen > 9 && strcmp(meta + plen - 9, ".tiktoken") == 0) meta[plen - 9] = 0;
    strcat(meta, ".meta.json");
    Bpe *b = NULL;
    cJSON *j = NULL;
    const char **texts = NULL;
    int32_t *ids = NULL;
    int ns = 0;
    const char *pattern = NULL;
    if (fs_exists(meta)) {
        if (!(j = json_read_file(meta, e))) goto done;
        if (json_get_str(j, "pat_str", &pattern, meta, e)) goto done;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
        if (sp && !cJSON_IsObject(sp)) {
            err_set(e, "%s: field 'special_tokens': expected an object", meta);
            goto done;
        }
        int cap = sp ? cJSON_GetArraySize(sp) : 0;
        texts = xcalloc((size_t)cap + 1, sizeof(char *));
        ids = xcalloc((size_t)cap + 1, sizeof(int32_t));
        for (const cJSON *it = sp ? sp->child : NULL; it; it = it->next) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= BPE_MAX_VOCAB) {
                err_set(e, "%s: special_tokens.%s: expected an id", meta, it->string);
                goto done;
            }
            texts[ns] = it->string, ids[ns++] = (int32_t)it->valuedouble;
        }
    }
    b = bpe_from_tiktoken(data, n, path, pattern, texts, ids, ns, e);
done:
    cJSON_Delete(j);
    free(texts), free(ids), free(meta), free(data);
    return b;
}

// ---------------------------------------------------------------------------
// byte-level text: GPT-2's map of the 256 bytes onto printable code points

static int printable(int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); }

// The other 68 bytes go, in byte order, to 256..323.
static int byte_to_cp(int c) {
    if (printable(c)) return c;
    if (c <= 32) return 256 + c;
    if (c <= 160) return c + 162;  // 127..160 -> 289..322
    return 323;                    // 173
}

static int cp_to_byte(int cp) {
    if (cp < 256) return printable(cp) ? cp : -1;
    if (cp <= 288) return cp - 256;
    if (cp <= 322) return cp - 162;
    return cp == 323 ? 173 : -1;
}

void bpe_bytes_to_unicode(const char *bytes, size_t n, Buf *out) {
    for (size_t i = 0; i < n; i++) {
        int cp = byte_to_cp((uint8_t)bytes[i]);
        if (cp < 0x80) {
            buf_putc(out, (char)cp);
        } else {  // every code point here is below 0x800: two bytes
            char s[2] = {(char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F))};
            buf_append(out, s, 2);
        }
    }
}

// Byte-level text back to bytes; -1 when a character is outside the map.
static long unicode_to_bytes(const char *s, char *out, size_t cap) {
    long n = 0;
    for (const uint8_t *p = (const uint8_t *)s; *p;) {
        int cp;
        if (p[0] < 0x80) cp = *p++;
        else if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) cp = (p[0] & 0x1F) << 6 | (p[1] & 0x3F), p += 2;
        else return -1;
        int byte = cp_to_byte(cp);
        if (byte < 0 || (size_t)n >= cap) return -1;
        out[n++] = (char)byte;
    }
    return n;
}

// ---------------------------------------------------------------------------
// Hugging Face tokenizer.json: load

static const cJSON *field(const cJSON *o, const char *key) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static int is_null_or_empty(const cJSON *v) {
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == 0);
}

// A literal string pattern (Split {"String": ...}) as a PCRE2 pattern.
static char *quote_literal(const char *s) {
    Buf b = {0};
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s)) buf_putc(&b, '\\');
        buf_putc(&b, *s);
    }
    return buf_take(&b);
}

// The GPT-2 split regex that ByteLevel applies when use_regex is true.
static const char HF_BYTELEVEL_REGEX[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int hf_bytelevel(const cJSON *pt, int split_before, char **pattern, const char *name, Err *e) {
    if (json_opt_bool(pt, "add_prefix_space", 0))
        return err_set(e, "%s: pre_tokenizer: ByteLevel add_prefix_space=true is not supported", name);
    int use_regex = json_opt_bool(pt, "use_regex", 1);
    if (use_regex && split_before)
        return err_set(e, "%s: pre_tokenizer: ByteLevel use_regex=true after a Split is not supported", name);
    if (!use_regex && !split_before)
        return err_set(e, "%s: pre_tokenizer: ByteLevel without a split regex is not supported", name);
    if (use_regex) *pattern = xstrdup(HF_BYTELEVEL_REGEX);
    return 0;
}

static int hf_split(const cJSON *pt, char **pattern, const char *name, Err *e) {
    const cJSON *pat = field(pt, "pattern");
    const char *behavior = json_opt_str(pt, "behavior", "");
    if (strcmp(behavior, "Isolated") != 0)
        return err_set(e, "%s: pre_tokenizer: Split behavior '%s' is not supported (only Isolated)", name, behavior);
    if (json_opt_bool(pt, "invert", 0)) return err_set(e, "%s: pre_tokenizer: Split invert=true is not supported", name);
    const char *re = json_opt_str(pat, "Regex", NULL), *lit = json_opt_str(pat, "String", NULL);
    if (re) *pattern = xstrdup(re);
    else if (lit) *pattern = quote_literal(lit);
    else return err_set(e, "%s: pre_tokenizer.pattern: expected {\"Regex\": ...} or {\"String\": ...}", name);
    return 0;
}

// ByteLevel alone, or Sequence [Split, ByteLevel]: the split regex.
static int hf_pre_tokenizer(const cJSON *pt, char **pattern, const char *name, Err *e) {
    const char *type = json_opt_str(pt, "type", "");
    if (strcmp(type, "ByteLevel") == 0) return hf_bytelevel(pt, 0, pattern, name, e);
    if (strcmp(type, "Sequence") != 0)
        return err_set(e, "%s: pre_tokenizer: type '%s' is not supported (ByteLevel, or Sequence of Split and ByteLevel)",
                       name, type);
    const cJSON *seq = field(pt, "pretokenizers");
    int n = cJSON_GetArraySize(seq), seen_bl = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *p = cJSON_GetArrayItem(seq, i);
        const char *t = json_opt_str(p, "type", "");
        if (strcmp(t, "Split") == 0 && !*pattern && !seen_bl) {
            if (hf_split(p, pattern, name, e)) return -1;
        } else if (strcmp(t, "ByteLevel") == 0 && !seen_bl) {
            if (hf_bytelevel(p, *pattern != NULL, pattern, name, e)) return -1;
            seen_bl = 1;
        } else {
            return err_set(e, "%s: pre_tokenizer.pretokenizers[%d]: '%s' is not supported here", name, i, t);
        }
    }
    if (!seen_bl) return err_set(e, "%s: pre_tokenizer: no ByteLevel step (only byte-level BPE is supported)", name);
    return 0;
}

static int hf_normalizer(const cJSON *nz, int *nfc, const char *name, Err *e) {
    if (!nz || cJSON_IsNull(nz)) return 0;
    const char *type = json_opt_str(nz, "type", "");
    if (strcmp(type, "NFC") == 0) {
        *nfc = 1;
        return 0;
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *seq = field(nz, "normalizers");
        for (int i = 0; i < cJSON_GetArraySize(seq); i++)
            if (hf_normalizer(cJSON_GetArrayItem(seq, i), nfc, name, e)) return -1;
        return 0;
    }
    return err_set(e, "%s: normalizer: type '%s' is not supported (only NFC)", name, type);
}

static int hf_vocab(Bpe *b, const cJSON *vocab, const char *name, Err *e) {
    if (!cJSON_IsObject(vocab)) return err_set(e, "%s: model.vocab: expected an object", name);
    char bytes[1024];
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= BPE_MAX_VOCAB ||
            it->valuedouble != (int32_t)it->valuedouble)
            return err_set(e, "%s: model.vocab['%s']: expected an id in [0, %d)", name, it->string, BPE_MAX_VOCAB);
        int32_t id = (int32_t)it->valuedouble;
        long n = unicode_to_bytes(it->string, bytes, sizeof bytes);
        if (id < b->n_ids && b->tok_len[id] != UINT32_MAX) {
            // GPT-2 (and what we write) lists the specials in the vocab too.
            const char *sp = b->arena + b->tok_off[id];
            size_t sl = b->tok_len[id];
            int same = (strlen(it->string) == sl && memcmp(it->string, sp, sl) == 0) ||
                       ((size_t)n == sl && memcmp(bytes, sp, sl) == 0);
            if (b->special_flag[id] && same) continue;
            return err_set(e, "%s: model.vocab['%s']: id %d used twice", name, it->string, id);
        }
        if (n <= 0) return err_set(e, "%s: model.vocab['%s']: not a byte-level token", name, it->string);
        bpe_set_token(b, id, bytes, (size_t)n);
    }
    return 0;
}

// A token of a merge line by its byte-level text.
static int32_t hf_token_id(const Bpe *b, const char *s) {
    char bytes[1024];
    long n = unicode_to_bytes(s, bytes, sizeof bytes);
    return n > 0 ? bpe_vocab_find(b, bytes, (size_t)n) : -1;
}

static int hf_merges(Bpe *b, const cJSON *merges, const char *name, Err *e) {
    if (!cJSON_IsArray(merges)) return err_set(e, "%s: model.merges: expected an array", name);
    int32_t rank = 0;
    char pair[2][1024];
    for (const cJSON *it = merges->child; it; it = it->next, rank++) {
        // "left right" (tokenizers < 0.20) or ["left", "right"]
        if (cJSON_IsString(it)) {
            const char *sp = strchr(it->valuestring, ' ');
            size_t ln = sp ? (size_t)(sp - it->valuestring) : 0;
            if (!sp || ln >= sizeof pair[0] || strlen(sp + 1) >= sizeof pair[1] || strchr(sp + 1, ' '))
                return err_set(e, "%s: model.merges[%d]: expected 'left right'", name, rank);
            memcpy(pair[0], it->valuestring, ln), pair[0][ln] = 0;
            strcpy(pair[1], sp + 1);
        } else if (cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) && cJSON_IsString(it->child->next) &&
                   strlen(it->child->valuestring) < sizeof pair[0] && strlen(it->child->next->valuestring) < sizeof pair[1]) {
            strcpy(pair[0], it->child->valuestring);
            strcpy(pair[1], it->child->next->valuestring);
        } else {
            return err_set(e, "%s: model.merges[%d]: expected \"left right\" or [left, right]", name, rank);
        }
        int32_t l = hf_token_id(b, pair[0]), r = hf_token_id(b, pair[1]);
        if (l < 0 || r < 0)
            return err_set(e, "%s: model.merges[%d]: '%s' is not in the vocab", name, rank, l < 0 ? pair[0] : pair[1]);
        size_t ll = b->tok_len[l], rl = b->tok_len[r];
        if (ll + rl > sizeof pair[0]) return err_set(e, "%s: model.merges[%d]: token too long", name, rank);
        memcpy(pair[0], b->arena + b->tok_off[l], ll);
        memcpy(pair[0] + ll, b->arena + b->tok_off[r], rl);
        int32_t id = bpe_vocab_find(b, pair[0], ll + rl);
        if (id < 0) return err_set(e, "%s: model.merges[%d]: the merged token is not in the vocab", name, rank);
        bpe_add_rule(b, l, r, rank, id);
    }
    return 0;
}

static int hf_added_tokens(Bpe *b, const cJSON *added, const char *name, Err *e) {
    if (!added || cJSON_IsNull(added)) return 0;
    if (!cJSON_IsArray(added)) return err_set(e, "%s: added_tokens: expected an array", name);
    int i = 0;
    for (const cJSON *it = added->child; it; it = it->next, i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "added_tokens[%d]", i);
        const char *content;
        int64_t id;
        if (json_get_str(it, "content", &content, ctx, e) || json_get_int(it, "id", &id, ctx, e))
            return err_wrap(e, "%s", name);
        if (id < 0 || id >= BPE_MAX_VOCAB) return err_set(e, "%s: %s: id %lld out of range", name, ctx, (long long)id);
        if (bpe_set_special(b, content, (int32_t)id, name, e)) return -1;
    }
    return 0;
}

// The BOS a post-processor adds: the SpecialToken that starts TemplateProcessing's
// "single" template (Llama 3), found directly or inside a Sequence. Any other
// post-processor (ByteLevel, as Qwen2 and GPT-2 have) adds none. A null or
// absent post-processor leaves the rule to tokenizer_config.json (bpe.h).
static int hf_template_bos(Bpe *b, const cJSON *tp, const char *name, Err *e) {
    const cJSON *first = cJSON_GetArrayItem(field(tp, "single"), 0);
    const char *tok = json_opt_str(field(first, "SpecialToken"), "id", NULL);
    if (!tok) return 0;
    const cJSON *ids = field(field(field(tp, "special_tokens"), tok), "ids");
    int32_t id = bpe_special_id(b, tok);
    if (cJSON_IsArray(ids) && cJSON_GetArraySize(ids) == 1 && cJSON_IsNumber(ids->child)) id = (int32_t)ids->child->valuedouble;
    if (id < 0 || bpe_token_bytes(b, id, &(size_t){0}) == NULL)
        return err_set(e, "%s: post_processor: BOS '%s' is not a token of this tokenizer", name, tok);
    b->bos_id = id;
    return 0;
}

static int hf_post_processor(Bpe *b, const cJSON *pp, const char *name, Err *e) {
    b->bos_known = 0, b->bos_id = -1;
    if (!pp || cJSON_IsNull(pp)) return 0;
    b->bos_known = 1;
    const char *type = json_opt_str(pp, "type", "");
    if (strcmp(type, "TemplateProcessing") == 0) return hf_template_bos(b, pp, name, e);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, field(pp, "processors")) {
            if (strcmp(json_opt_str(it, "type", ""), "TemplateProcessing") == 0) return hf_template_bos(b, it, name, e);
        }
    }
    return 0;
}

static int hf_model(Bpe *b, const cJSON *model, const char *name, Err *e) {
    if (!cJSON_IsObject(model)) return err_set(e, "%s: model: missing", name);
    const char *type = json_opt_str(model, "type", "BPE");
    if (strcmp(type, "BPE") != 0) return err_set(e, "%s: model.type: '%s' is not supported (only BPE)", name, type);
    if (json_opt_bool(model, "byte_fallback", 0))
        return err_set(e, "%s: model.byte_fallback: not supported (only byte-level BPE)", name);
    if (!is_null_or_empty(field(model, "continuing_subword_prefix")) || !is_null_or_empty(field(model, "end_of_word_suffix")))
        return err_set(e, "%s: model: continuing_subword_prefix/end_of_word_suffix are not supported", name);
    const cJSON *d = field(model, "dropout");
    if (d && cJSON_IsNumber(d) && d->valuedouble > 0) return err_set(e, "%s: model.dropout: not supported", name);
    b->whole_lookup = json_opt_bool(model, "ignore_merges", 0);
    return hf_vocab(b, field(model, "vocab"), name, e);
}

Bpe *bpe_from_hf_json(const char *json, size_t n, const char *name, Err *e) {
    cJSON *j = json_parse(json, n, name, 1, e);
    if (!j) return NULL;
    Bpe *b = bpe_new_empty();
    char *pattern = NULL;
    if (!cJSON_IsObject(j)) {
        err_set(e, "%s: expected a JSON object", name);
        goto fail;
    }
    const cJSON *pt = field(j, "pre_tokenizer");
    if (!pt || cJSON_IsNull(pt)) {
        err_set(e, "%s: pre_tokenizer: missing (only byte-level BPE is supported)", name);
        goto fail;
    }
    if (hf_pre_tokenizer(pt, &pattern, name, e) || hf_normalizer(field(j, "normalizer"), &b->nfc, name, e) ||
        hf_added_tokens(b, field(j, "added_tokens"), name, e) || hf_model(b, field(j, "model"), name, e) ||
        bpe_index(b, name, e) || hf_merges(b, field(field(j, "model"), "merges"), name, e) ||
        bpe_set_pattern(b, pattern, name, e) || hf_post_processor(b, field(j, "post_processor"), name, e))
        goto fail;
    free(pattern);
    cJSON_Delete(j);
    return b;
fail:
    free(pattern);
    cJSON_Delete(j);
    bpe_free(b);
    return NULL;
}

// ---------------------------------------------------------------------------
// Hugging Face tokenizer.json: save

static int cmp_rule(const void *a, const void *b) {
    const int64_t *x = a, *y = b;  // (rank, key) pairs
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static cJSON *hf_model_json(const Bpe *b) {
    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    cJSON_AddBoolToObject(model, "ignore_merges", b->whole_lookup);
    // Specials go in the vocab too (raw text), as in GPT-2's file: HF then
    // keeps their ids instead of renumbering added tokens after the vocab.
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    Buf s = {0};
    for (int32_t id = 0; id < b->n_ids; id++) {
        if (b->tok_len[id] == UINT32_MAX) continue;
        buf_clear(&s);
        if (b->special_flag[id]) buf_append(&s, b->arena + b->tok_off[id], b->tok_len[id]);
        else bpe_bytes_to_unicode(b->arena + b->tok_off[id], b->tok_len[id], &s);
        cJSON_AddNumberToObject(vocab, s.data, id);
    }
    // Merges in rank order (ties by pair), as "left right".
    const PairMap *m = &b->rules;
    int64_t *order = xmalloc((m->len ? m->len : 1) * 2 * sizeof(int64_t));
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != BPE_NO_KEY) order[2 * k] = m->vals[i].rank, order[2 * k + 1] = (int64_t)m->keys[i], k++;
    qsort(order, k, 2 * sizeof(int64_t), cmp_rule);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (size_t i = 0; i < k; i++) {
        uint64_t key = (uint64_t)order[2 * i + 1];
        int32_t l = (int32_t)(key >> 32), r = (int32_t)(uint32_t)key;
        buf_clear(&s);
        bpe_bytes_to_unicode(b->arena + b->tok_off[l], b->tok_len[l], &s);
        buf_putc(&s, ' ');
        bpe_bytes_to_unicode(b->arena + b->tok_off[r], b->tok_len[r], &s);
        cJSON_AddItemToArray(merges, cJSON_CreateString(s.data));
    }
    buf_free(&s);
    free(order);
    return model;
}

static cJSON *hf_added_json(const Bpe *b) {
    cJSON *added = cJSON_CreateArray();
    for (int32_t id = 0; id < b->n_ids; id++) {
        if (!b->special_flag[id]) continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", id);
        char *text = xstrndup(b->arena + b->tok_off[id], b->tok_len[id]);
        cJSON_AddStringToObject(t, "content", text);
        free(text);
        cJSON_AddFalseToObject(t, "single_word");
        cJSON_AddFalseToObject(t, "lstrip");
        cJSON_AddFalseToObject(t, "rstrip");
        cJSON_AddFalseToObject(t, "normalized");
        cJSON_AddTrueToObject(t, "special");
        cJSON_AddItemToArray(added, t);
    }
    return added;
}

// Length of the character class at p ('[' ... ']'), escapes and POSIX
// classes ([:alpha:]) inside it included.
static size_t class_len(const char *p) {
    const char *q = p + 1;
    if (*q == '^') q++;
    if (*q == ']') q++;  // a leading ']' is a literal
    while (*q && *q != ']') {
        const char *posix = q[0] == '[' && q[1] == ':' ? strstr(q + 2, ":]") : NULL;
        q += posix ? (size_t)(posix - q) + 2 : (*q == '\\' && q[1]) ? 2 : 1;
    }
    return *q ? (size_t)(q - p) + 1 : strlen(p);
}

// Oniguruma (HF's regex engine, Ruby syntax) reads `X{1,3}+` as
// `(?:X{1,3})+`, not as a possessive repeat; write `(?>X{1,3})` instead.
// Returns a malloc'd pattern.
static char *onig_pattern(const char *p) {
    Buf b = {0};
    size_t atom = 0, stack[64];
    int depth = 0;
    while (*p) {
        size_t start = b.len;
        if (*p == '\\') {
            size_t n = 2;
            if ((p[1] == 'p' || p[1] == 'P' || p[1] == 'x') && p[2] == '{') {
                const char *close = strchr(p, '}');
                n = close ? (size_t)(close - p) + 1 : strlen(p);
            } else if (!p[1]) {
                n = 1;
            }
            buf_append(&b, p, n), p += n, atom = start;
        } else if (*p == '[') {
            size_t n = class_len(p);
            buf_append(&b, p, n), p += n, atom = start;
        } else if (*p == '(') {
            if (depth < 64) stack[depth] = start;
            depth++;
            buf_putc(&b, *p++);
        } else if (*p == ')') {
            depth--;
            atom = depth >= 0 && depth < 64 ? stack[depth] : start;
            buf_putc(&b, *p++);
        } else if (*p == '{' && strchr(p, '}') && strchr(p, '}')[1] == '+') {
            const char *close = strchr(p, '}');
            Buf w = {0};
            buf_puts(&w, "(?>");
            buf_append(&w, b.data + atom, b.len - atom);
            buf_append(&w, p, (size_t)(close - p) + 1);
            buf_putc(&w, ')');
            b.len = atom;
            buf_append(&b, w.data, w.len);
            buf_free(&w);
            p = close + 2;
        } else {
            size_t n = 1;
            while ((p[n] & 0xC0) == 0x80) n++;  // one UTF-8 character
            buf_append(&b, p, n), p += n, atom = start;
        }
    }
    return buf_take(&b);
}

static cJSON *bytelevel_json(int use_regex) {
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddTrueToObject(bl, "trim_offsets");
    cJSON_AddBoolToObject(bl, "use_regex", use_regex);
    return bl;
}

static cJSON *template_piece(const char *kind, const char *id, int type_id) {
    cJSON *o = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(o, kind);
    cJSON_AddStringToObject(in, "id", id);
    cJSON_AddNumberToObject(in, "type_id", type_id);
    return o;
}

// TemplateProcessing that starts every sequence with the BOS (bpe.h, rule 1),
// as Llama 3's tokenizer.json does.
static cJSON *bos_post_processor(const Bpe *b, int32_t bos) {
    size_t n = 0;
    const char *bytes = bpe_token_bytes(b, bos, &n);
    char *text = xstrndup(bytes ? bytes : "", n);
    cJSON *pp = cJSON_CreateObject();
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(pp, "single"), *pair = cJSON_AddArrayToObject(pp, "pair");
    cJSON_AddItemToArray(single, template_piece("SpecialToken", text, 0));
    cJSON_AddItemToArray(single, template_piece("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", text, 0));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, template_piece("SpecialToken", text, 1));
    cJSON_AddItemToArray(pair, template_piece("Sequence", "B", 1));
    cJSON *st = cJSON_AddObjectToObject(cJSON_AddObjectToObject(pp, "special_tokens"), text);
    cJSON_AddStringToObject(st, "id", text);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(st, "ids"), cJSON_CreateNumber(bos));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(st, "tokens"), cJSON_CreateString(text));
    free(text);
    return pp;
}

int bpe_save(const Bpe *b, const char *path, Err *e) {
    char *target = fs_is_dir(path) ? fs_join(path, "tokenizer.json") : xstrdup(path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    cJSON_AddItemToObject(j, "added_tokens", hf_added_json(b));
    if (b->nfc) {
        cJSON *nz = cJSON_AddObjectToObject(j, "normalizer");
        cJSON_AddStringToObject(nz, "type", "NFC");
    } else {
        cJSON_AddNullToObject(j, "normalizer");
    }
    cJSON *pt = cJSON_AddObjectToObject(j, "pre_tokenizer");
    cJSON_AddStringToObject(pt, "type", "Sequence");
    cJSON *seq = cJSON_AddArrayToObject(pt, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    char *onig = onig_pattern(b->pattern);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", onig);
    free(onig);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(seq, split);
    cJSON_AddItemToArray(seq, bytelevel_json(0));
    int32_t bos = bpe_bos_id(b);
    if (bos >= 0) {
        cJSON_AddItemToObject(j, "post_processor", bos_post_processor(b, bos));
    } else if (b->bos_known) {  // explicitly none (Qwen2): ByteLevel, as its own file has
        cJSON *pp = bytelevel_json(0);
        cJSON_ReplaceItemInObject(pp, "trim_offsets", cJSON_CreateFalse());
        cJSON_AddItemToObject(j, "post_processor", pp);
    } else {
        cJSON_AddNullToObject(j, "post_processor");
    }
    cJSON_AddItemToObject(j, "decoder", bytelevel_json(1));
    cJSON_AddItemToObject(j, "model", hf_model_json(b));
    int rc = json_write_file(target, j, e);
    cJSON_Delete(j);
    free(target);
    return rc;
}

// ---------------------------------------------------------------------------
// the folder around tokenizer.json: tokenizer_config.json, generation_config.json

int32_t bpe_bos_id(const Bpe *b) {
    if (b->bos_known) return b->bos_id;
    return bpe_special_id(b, "<|endoftext|>");  // rule 3 (bpe.h)
}

void bpe_set_bos_id(Bpe *b, int32_t id) { b->bos_known = 1, b->bos_id = id < 0 ? -1 : id; }

const char *bpe_chat_template(const Bpe *b) { return b->chat_template; }

void bpe_set_chat_template(Bpe *b, const char *jinja) {
    free(b->chat_template);
    b->chat_template = jinja ? xstrdup(jinja) : NULL;
}

int bpe_eos_ids(const Bpe *b, int32_t *out, int cap) {
    for (int i = 0; i < b->n_eos && i < cap; i++) out[i] = b->eos_ids[i];
    return b->n_eos;
}

// A token named by tokenizer_config.json: "text" or {"content": "text", ...}.
static const char *config_token(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    return json_opt_str(v, "content", NULL);
}

static int read_tokenizer_config(Bpe *b, const char *path, Err *e) {
    cJSON *j = json_read_file(path, e);
    if (!j) return -1;
    int rc = 0;
    if (!cJSON_IsObject(j)) rc = err_set(e, "%s: expected a JSON object", path);
    const cJSON *ct = rc ? NULL : field(j, "chat_template");
    if (cJSON_IsString(ct)) {
        bpe_set_chat_template(b, ct->valuestring);
    } else if (cJSON_IsArray(ct)) {  // [{"name": "default", "template": ...}, ...]
        const cJSON *it;
        cJSON_ArrayForEach(it, ct) {
            if (strcmp(json_opt_str(it, "name", ""), "default") == 0)
                bpe_set_chat_template(b, json_opt_str(it, "template", NULL));
        }
    } else if (ct && !cJSON_IsNull(ct)) {
        rc = err_set(e, "%s: field 'chat_template': expected a string", path);
    }
    if (rc == 0 && !b->bos_known) {  // rule 2 (bpe.h)
        b->bos_known = 1, b->bos_id = -1;
        const char *bos = config_token(field(j, "bos_token"));
        if (json_opt_bool(j, "add_bos_token", 0) && bos) {
            b->bos_id = bpe_special_id(b, bos);
            if (b->bos_id < 0)
                rc = err_set(e, "%s: field 'bos_token': '%s' is not a special token of tokenizer.json", path, bos);
        }
    }
    cJSON_Delete(j);
    return rc;
}

static int read_generation_config(Bpe *b, const char *path, Err *e) {
    cJSON *j = json_read_file(path, e);
    if (!j) return -1;
    const cJSON *v = field(j, "eos_token_id"), *it;
    int rc = 0;
    b->n_eos = 0;
    if (cJSON_IsNumber(v)) b->eos_ids[b->n_eos++] = (int32_t)v->valuedouble;
    else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v) {
            if (!cJSON_IsNumber(it)) rc = err_set(e, "%s: field 'eos_token_id': expected token ids", path);
            else if (b->n_eos < (int)RS_ARRAY_LEN(b->eos_ids)) b->eos_ids[b->n_eos++] = (int32_t)it->valuedouble;
        }
    } else if (v && !cJSON_IsNull(v)) {
        rc = err_set(e, "%s: field 'eos_token_id': expected an id or a list of ids", path);
    }
    for (int i = 0; rc == 0 && i < b->n_eos; i++)
        if (b->eos_ids[i] < 0 || bpe_token_bytes(b, b->eos_ids[i], &(size_t){0}) == NULL)
            rc = err_set(e, "%s: field 'eos_token_id': %d is not a token of the tokenizer", path, b->eos_ids[i]);
    cJSON_Delete(j);
    return rc;
}

int bpe_load_folder_meta(Bpe *b, const char *dir, Err *e) {
    char *tc = fs_join(dir, "tokenizer_config.json"), *gc = fs_join(dir, "generation_config.json"),
         *jinja = fs_join(dir, "chat_template.jinja");
    int rc = 0;
    if (fs_exists(tc)) rc = read_tokenizer_config(b, tc, e);
    if (rc == 0 && !b->chat_template && fs_exists(jinja)) {  // transformers >= 4.43 may save it apart
        char *text;
        size_t n;
        if ((rc = fs_read_all(jinja, &text, &n, e)) == 0) {
            free(b->chat_template);
            b->chat_template = xstrndup(text, n);
            free(text);
        }
    }
    if (rc == 0 && fs_exists(gc)) rc = read_generation_config(b, gc, e);
    free(tc), free(gc), free(jinja);
    return rc;
}

// ---------------------------------------------------------------------------
// loading by path

Bpe *bpe_load(const char *path, Err *e) {
    if (fs_is_dir(path)) {
        char *p = fs_join(path, "tokenizer.json");
        if (!fs_exists(p)) {
            free(p);
            err_set(e, "%s: no tokenizer.json in this directory", path);
            return NULL;
        }
        Bpe *b = bpe_load(p, e);
        free(p);
        return b;
    }
    size_t n = strlen(path);
    if (n > 9 && strcmp(path + n - 9, ".tiktoken") == 0) return load_tiktoken_file(path, e);
    char *data;
    size_t len;
    if (fs_read_all(path, &data, &len, e)) return NULL;
    size_t i = 0;
    while (i < len && isspace((uint8_t)data[i])) i++;
    Bpe *b = NULL;
    if (i < len && data[i] == '{') b = bpe_from_hf_json(data, len, path, e);
    else {
        free(data);
        return load_tiktoken_file(path, e);  // a rank file under another name
    }
    free(data);
    if (b) {  // the model folder around it
        char *dir = xstrdup(path), *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        if (bpe_load_folder_meta(b, dir, e) != 0) bpe_free(b), b = NULL;
        free(dir);
    }
    return b;
}
