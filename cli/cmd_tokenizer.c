// cmd_tokenizer.c: `reasoner tokenizer train|encode|decode|stats`.
//
//   reasoner tokenizer train --input corpus.jsonl --vocab 32768 --out tok/
//   echo 'Hello world' | reasoner tokenizer encode --tokenizer tok/
//   echo '9906 1917' | reasoner tokenizer decode --tokenizer cl100k_base.tiktoken
//   reasoner tokenizer encode --tokenizer tok/ --jsonl docs.jsonl > docs.ids.jsonl
//   reasoner tokenizer stats --tokenizer tok/ corpus.txt
//   reasoner tokenizer convert --tokenizer o200k_base.tiktoken --out o200k/tokenizer.json
//
// --tokenizer takes a tokenizer.json, a directory holding one, or a
// .tiktoken rank file (pattern and specials from the .meta.json beside it).
#include <errno.h>
#include <string.h>

#include "common/args.h"
#include "common/utf8.h"
#include "common/base.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "tokenizer/bpe.h"

static int fail(const char *sub, const Err *e) {
    fprintf(stderr, "reasoner tokenizer %s: %s\n", sub, e->msg);
    return 1;
}

// ---------------------------------------------------------------------------
// train

static int cmd_train(int argc, char **argv) {
    ArgList inputs = {0}, specials = {0};
    int vocab = 32768, threads = 0, min_freq = 0;
    const char *out = NULL, *pattern = NULL;
    ArgSpec specs[] = {
        {"input", 'i', ARG_LIST, &inputs, "FILE", "training text: *.jsonl ({\"text\": ...} per line) or plain text", ARG_REQUIRED},
        {"vocab", 'v', ARG_INT, &vocab, "N", "vocabulary size, specials included"},
        {"out", 'o', ARG_STR, &out, "DIR", "output directory (or a .json path) for tokenizer.json", ARG_REQUIRED},
        {"pattern", 0, ARG_STR, &pattern, "REGEX", "split regex (default: GPT-4's cl100k pattern)"},
        {"special", 0, ARG_LIST, &specials, "TEXT", "special tokens (default: <|endoftext|> <|im_start|> <|im_end|> <tool_call> </tool_call>)"},
        {"min-frequency", 0, ARG_INT, &min_freq, "N", "stop merging when the best pair occurs fewer times"},
        {"threads", 't', ARG_INT, &threads, "N", "threads for counting (0: all)"},
    };
    ArgCmd cmd = {.name = "reasoner tokenizer train",
                  .summary = "Train a byte-level BPE tokenizer and write tokenizer.json.",
                  .usage_args = "--input FILE... --out DIR [--vocab N]",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs)};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    BpeTrainOpts o = {.vocab_size = vocab, .pattern = pattern, .min_frequency = min_freq, .threads = threads, .verbose = 1};
    if (specials.n) o.specials = specials.items, o.n_specials = specials.n;
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    Bpe *b = NULL;
    rc = 1;
    if (!t) goto done;
    double t0 = rs_now();
    for (int i = 0; i < inputs.n; i++) {
        if (bpe_trainer_add_file(t, inputs.items[i], &e)) goto done;
        log_info("counted %s: %.1f MB so far", inputs.items[i], bpe_trainer_bytes(t) / 1e6);
    }
    double t1 = rs_now();
    log_info("counting: %.1f MB, %zu unique chunks in %.1f s", bpe_trainer_bytes(t) / 1e6,
             bpe_trainer_unique_chunks(t), t1 - t0);
    if (!(b = bpe_trainer_finish(t, &e))) goto done;
    double t2 = rs_now();
    int is_json = strlen(out) > 5 && strcmp(out + strlen(out) - 5, ".json") == 0;
    if (!is_json && fs_mkdir_p(out, &e)) goto done;
    char *path = is_json ? xstrdup(out) : fs_join(out, "tokenizer.json");
    if (bpe_save(b, path, &e)) {
        free(path);
        goto done;
    }
    printf("wrote %s: vocab %d, %.1f MB of text, counting %.1f s, merging %.1f s, total %.1f s\n", path,
           bpe_vocab_size(b), bpe_trainer_bytes(t) / 1e6, t1 - t0, t2 - t1, rs_now() - t0);
    free(path);
    rc = 0;
done:
    if (rc) fail("train", &e);
    bpe_free(b);
    bpe_trainer_free(t);
    args_list_free(&inputs), args_list_free(&specials);
    return rc;
}

// ---------------------------------------------------------------------------
// encode

static int encode_plain(const Bpe *b, const char *path, BpeSpecialMode mode, Err *e) {
    char *text;
    size_t n;
    if (fs_read_all(path, &text, &n, e)) return -1;
    BpeIds ids = {0};
    bpe_encode(b, text, n, mode, &ids);
    for (size_t i = 0; i < ids.len; i++) printf(i ? " %d" : "%d", ids.data[i]);
    printf("\n");
    bpe_ids_free(&ids);
    free(text);
    return 0;
}

static int encode_jsonl(const Bpe *b, const char *path, BpeSpecialMode mode, Err *e) {
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    BpeEncoder *en = bpe_encoder_new(b);
    BpeIds ids = {0};
    int rc = 0;
    cJSON *rec;
    int got;
    while ((got = jsonl_next(r, &rec, e)) == 1) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(rec, "text");
        if (!cJSON_IsString(text)) {
            rc = err_set(e, "%s:%ld: field 'text': missing or not a string", jsonl_path(r), jsonl_line(r));
            cJSON_Delete(rec);
            break;
        }
        ids.len = 0;
        bpe_encoder_encode(en, text->valuestring, strlen(text->valuestring), mode, &ids);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < ids.len; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids.data[i]));
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "ids");
        cJSON_AddItemToObject(rec, "ids", arr);
        json_write_line(stdout, rec);
        cJSON_Delete(rec);
    }
    if (got < 0) rc = -1;
    bpe_ids_free(&ids);
    bpe_encoder_free(en);
    jsonl_close(r);
    return rc;
}

static int cmd_encode(int argc, char **argv) {
    const char *tok = NULL;
    int jsonl = 0, special = 0;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"tokenizer", 't', ARG_STR, &tok, "PATH", "tokenizer.json, a directory holding one, or a .tiktoken file", ARG_REQUIRED},
        {"jsonl", 0, ARG_FLAG, &jsonl, NULL, "read {\"text\"} lines, write them back with \"ids\" added"},
        {"special", 0, ARG_FLAG, &special, NULL, "recognise special tokens in the text (else they are plain text)"},
    };
    ArgCmd cmd = {.name = "reasoner tokenizer encode",
                  .summary = "Encode text (stdin or FILEs) into token ids: space-separated, or JSONL with --jsonl.",
                  .usage_args = "--tokenizer PATH [--jsonl] [FILE...]",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs),
                  .positional = &files};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    Bpe *b = bpe_load(tok, &e);
    rc = b ? 0 : 1;
    BpeSpecialMode mode = special ? BPE_SPECIAL_ALL : BPE_SPECIAL_NONE;
    for (int i = 0; b && i < (files.n ? files.n : 1) && rc == 0; i++) {
        const char *path = files.n ? files.items[i] : "-";
        rc = (jsonl ? encode_jsonl(b, path, mode, &e) : encode_plain(b, path, mode, &e)) ? 1 : 0;
    }
    if (rc) fail("encode", &e);
    bpe_free(b);
    args_list_free(&files);
    return rc;
}

// ---------------------------------------------------------------------------
// decode

static int decode_plain(const Bpe *b, const char *path, Err *e) {
    char *text;
    size_t n;
    if (fs_read_all(path, &text, &n, e)) return -1;
    BpeIds ids = {0};
    int rc = 0;
    char *p = text;
    for (long k = 1;; k++) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX || (*end && !strchr(" \t\r\n,", *end))) {
            rc = err_set(e, "%s: id %ld: '%.20s' is not an integer", strcmp(path, "-") ? path : "stdin", k, p);
            break;
        }
        bpe_ids_push(&ids, (int32_t)v);
        p = end;
    }
    Buf out = {0};
    if (rc == 0 && bpe_decode(b, ids.data, ids.len, &out, e) == 0) fwrite(out.data, 1, out.len, stdout);
    else rc = -1;
    buf_free(&out);
    bpe_ids_free(&ids);
    free(text);
    return rc;
}

static int decode_jsonl(const Bpe *b, const char *path, Err *e) {
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    BpeIds ids = {0};
    Buf bytes = {0}, text = {0};
    int rc = 0, got;
    cJSON *rec;
    while (rc == 0 && (got = jsonl_next(r, &rec, e)) == 1) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "ids");
        ids.len = 0;
        if (!cJSON_IsArray(arr)) rc = err_set(e, "%s:%ld: field 'ids': missing or not an array", jsonl_path(r), jsonl_line(r));
        for (const cJSON *it = arr ? arr->child : NULL; rc == 0 && it; it = it->next) {
            if (!cJSON_IsNumber(it) || it->valuedouble < INT32_MIN || it->valuedouble > INT32_MAX ||
                it->valuedouble != (int32_t)it->valuedouble)
                rc = err_set(e, "%s:%ld: field 'ids': expected integers", jsonl_path(r), jsonl_line(r));
            else bpe_ids_push(&ids, (int32_t)it->valuedouble);
        }
        buf_clear(&bytes), buf_clear(&text);
        if (rc == 0 && bpe_decode(b, ids.data, ids.len, &bytes, e)) rc = err_wrap(e, "%s:%ld", jsonl_path(r), jsonl_line(r));
        if (rc == 0) {
            utf8_repair_append(&text, bytes.data ? bytes.data : "", bytes.len, 1);  // as tiktoken's errors="replace"
            cJSON_DeleteItemFromObjectCaseSensitive(rec, "text");
            cJSON_AddStringToObject(rec, "text", text.data ? text.data : "");
            json_write_line(stdout, rec);
        }
        cJSON_Delete(rec);
    }
    if (rc == 0 && got < 0) rc = -1;
    bpe_ids_free(&ids);
    buf_free(&bytes), buf_free(&text);
    jsonl_close(r);
    return rc;
}

static int cmd_decode(int argc, char **argv) {
    const char *tok = NULL;
    int jsonl = 0;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"tokenizer", 't', ARG_STR, &tok, "PATH", "tokenizer.json, a directory holding one, or a .tiktoken file", ARG_REQUIRED},
        {"jsonl", 0, ARG_FLAG, &jsonl, NULL, "read {\"ids\"} lines, write them back with \"text\" added"},
    };
    ArgCmd cmd = {.name = "reasoner tokenizer decode",
                  .summary = "Decode token ids (whitespace-separated, or JSONL with --jsonl) back to text.",
                  .usage_args = "--tokenizer PATH [--jsonl] [FILE...]",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs),
                  .positional = &files};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    Bpe *b = bpe_load(tok, &e);
    rc = b ? 0 : 1;
    for (int i = 0; b && i < (files.n ? files.n : 1) && rc == 0; i++) {
        const char *path = files.n ? files.items[i] : "-";
        rc = (jsonl ? decode_jsonl(b, path, &e) : decode_plain(b, path, &e)) ? 1 : 0;
    }
    if (rc) fail("decode", &e);
    bpe_free(b);
    args_list_free(&files);
    return rc;
}

// ---------------------------------------------------------------------------
// stats

// Texts of a file: the "text" of each JSONL line, or the whole file.
static int read_texts(const char *path, char ***texts, size_t **lens, size_t *n, Err *e) {
    size_t cap = 16;
    *texts = xmalloc(cap * sizeof(char *)), *lens = xmalloc(cap * sizeof(size_t)), *n = 0;
    size_t len = strlen(path);
    if (len < 6 || strcmp(path + len - 6, ".jsonl") != 0) {
        if (fs_read_all(path, &(*texts)[0], &(*lens)[0], e)) return -1;
        *n = 1;
        return 0;
    }
    JsonlReader *r = jsonl_open(path, e);
    if (!r) return -1;
    cJSON *rec;
    int got, rc = 0;
    while ((got = jsonl_next(r, &rec, e)) == 1) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "text");
        if (!cJSON_IsString(t)) {
            rc = err_set(e, "%s:%ld: field 'text': missing or not a string", path, jsonl_line(r));
            cJSON_Delete(rec);
            break;
        }
        if (*n == cap) cap *= 2, *texts = xrealloc(*texts, cap * sizeof(char *)), *lens = xrealloc(*lens, cap * sizeof(size_t));
        (*lens)[*n] = strlen(t->valuestring);
        (*texts)[(*n)++] = xstrdup(t->valuestring);
        cJSON_Delete(rec);
    }
    jsonl_close(r);
    return got < 0 ? -1 : rc;
}

static int file_stats(const Bpe *b, const char *path, Err *e) {
    char **texts;
    size_t *lens, n;
    int rc = read_texts(path, &texts, &lens, &n, e);
    if (rc == 0) {
        BpeIds *ids = xcalloc(n ? n : 1, sizeof(BpeIds));
        double t0 = rs_now();
        bpe_encode_batch(b, (const char *const *)texts, lens, n, BPE_SPECIAL_NONE, 0, ids);
        double dt = rs_now() - t0;
        size_t bytes = 0, tokens = 0;
        for (size_t i = 0; i < n; i++) bytes += lens[i], tokens += ids[i].len, bpe_ids_free(&ids[i]);
        free(ids);
        printf("%s: %zu docs, %zu bytes, %zu tokens, bytes/token %.3f, encode %.1f MB/s\n", path, n, bytes, tokens,
               tokens ? (double)bytes / (double)tokens : 0.0, bytes / 1e6 / (dt > 0 ? dt : 1e-9));
    }
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts), free(lens);
    return rc;
}

static int cmd_stats(int argc, char **argv) {
    const char *tok = NULL;
    ArgList files = {0};
    ArgSpec specs[] = {
        {"tokenizer", 't', ARG_STR, &tok, "PATH", "tokenizer.json, a directory holding one, or a .tiktoken file", ARG_REQUIRED},
    };
    ArgCmd cmd = {.name = "reasoner tokenizer stats",
                  .summary = "Print vocab size, special tokens, the split pattern, and bytes per token on FILEs.",
                  .usage_args = "--tokenizer PATH [FILE...]",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs),
                  .positional = &files};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    Bpe *b = bpe_load(tok, &e);
    if (!b) {
        args_list_free(&files);
        return fail("stats", &e);
    }
    printf("tokenizer: %s\nvocab size: %d\nspecials: %d\n", tok, bpe_vocab_size(b), bpe_n_special(b));
    for (int i = 0; i < bpe_n_special(b); i++) {
        int32_t id;
        const char *t = bpe_special_text(b, i, &id);
        printf("  %d %s\n", id, t);
    }
    printf("pattern: %s\n", bpe_pattern(b));
    rc = 0;
    for (int i = 0; i < files.n && rc == 0; i++)
        if (file_stats(b, files.items[i], &e)) rc = fail("stats", &e);
    bpe_free(b);
    args_list_free(&files);
    return rc;
}

// ---------------------------------------------------------------------------
// convert

static int cmd_convert(int argc, char **argv) {
    const char *tok = NULL, *out = NULL;
    ArgSpec specs[] = {
        {"tokenizer", 't', ARG_STR, &tok, "PATH", "tokenizer.json, a directory holding one, or a .tiktoken file", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &out, "PATH", "tokenizer.json to write (or a directory for one)", ARG_REQUIRED},
    };
    ArgCmd cmd = {.name = "reasoner tokenizer convert",
                  .summary = "Write any loadable tokenizer (e.g. a tiktoken rank file) as a Hugging Face tokenizer.json.",
                  .usage_args = "--tokenizer PATH --out PATH",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs)};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    Bpe *b = bpe_load(tok, &e);
    if (!b || bpe_save(b, out, &e)) rc = fail("convert", &e);
    else printf("wrote %s: vocab %d\n", out, bpe_vocab_size(b));
    bpe_free(b);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    static const SubCmd subs[] = {
        {"train", "train a byte-level BPE tokenizer on text or JSONL, write tokenizer.json", cmd_train},
        {"encode", "text -> token ids (plain or JSONL)", cmd_encode},
        {"decode", "token ids -> text (plain or JSONL)", cmd_decode},
        {"stats", "vocab size, specials, pattern, bytes per token on files", cmd_stats},
        {"convert", "write a tokenizer (e.g. a .tiktoken file) as tokenizer.json", cmd_convert},
    };
    return args_dispatch("reasoner tokenizer", "Byte-level BPE tokenizers: train, encode, decode, inspect.", subs,
                         (int)RS_ARRAY_LEN(subs), argc, argv);
}
