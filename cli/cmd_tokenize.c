// cmd_tokenize.c: `reasoner tokenize`: text and JSONL documents into token
// shards for pretraining (see train/shards.h for the format).
//   reasoner tokenize --tokenizer tok/tokenizer.json --input data/*.jsonl --out shards/
#include <stdio.h>

#include "common/args.h"
#include "common/log.h"
#include "train/shards.h"

static const char *epilog =
    "Inputs: *.jsonl files hold one document a line in a \"text\" field (the data\n"
    "pipeline's output); other files are plain text, one document, or several\n"
    "separated by lines that hold exactly <|endoftext|>. Each document is written\n"
    "as <|endoftext|> then its ids; a document goes to the val split by a hash of\n"
    "its text. The output is identical whatever --threads is.\n\n"
    "example:\n"
    "  reasoner tokenize --tokenizer tok/tokenizer.json --input out/data/*.jsonl --out out/shards\n";

int cmd_tokenize(int argc, char **argv) {
    const char *tokenizer = NULL, *out = NULL;
    ArgList inputs = {0};
    int64_t shard_tokens = 100000000;
    double val_fraction = 0.01;
    int threads = 0;
    ArgSpec specs[] = {
        {"tokenizer", 't', ARG_STR, &tokenizer, "PATH", "tokenizer.json, a folder holding one, or X.tiktoken", ARG_REQUIRED},
        {"input", 'i', ARG_LIST, &inputs, "FILE", "input files, in order", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &out, "DIR", "the data folder to write", ARG_REQUIRED},
        {"shard-tokens", 0, ARG_I64, &shard_tokens, "N", "tokens per shard file"},
        {"val-fraction", 0, ARG_FLOAT, &val_fraction, "F", "fraction of documents held out for validation"},
        {"threads", 'j', ARG_INT, &threads, "N", "encoding threads (0: all cores)"},
    };
    ArgCmd cmd = {.name = "reasoner tokenize",
                  .summary = "Tokenize documents into train/val token shards for `reasoner pretrain`.",
                  .usage_args = "--tokenizer PATH --input FILE... --out DIR [flags]",
                  .epilog = epilog,
                  .specs = specs,
                  .nspecs = (int)(sizeof specs / sizeof specs[0])};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) {
        args_list_free(&inputs);
        return ARGS_EXIT_CODE(rc);
    }
    ShardTokenizeOpts o = {.tokenizer = tokenizer,
                           .inputs = inputs.items,
                           .n_inputs = inputs.n,
                           .out_dir = out,
                           .shard_tokens = shard_tokens,
                           .val_fraction = val_fraction,
                           .threads = threads,
                           .progress = 1};
    log_info("tokenize: %d input(s) -> %s (tokenizer %s, %lld tokens/shard, val fraction %g, threads %d)", inputs.n,
             out, tokenizer, (long long)shard_tokens, val_fraction, threads);
    ShardTokenizeStats st;
    Err err = {{0}};
    rc = shard_tokenize(&o, &st, &err);
    args_list_free(&inputs);
    if (rc != 0) {
        fprintf(stderr, "reasoner tokenize: %s\n", err.msg);
        return 1;
    }
    double tok = (double)(st.tokens[0] + st.tokens[1]);
    printf("train: %lld documents, %lld tokens\n", (long long)st.documents[0], (long long)st.tokens[0]);
    printf("val: %lld documents, %lld tokens\n", (long long)st.documents[1], (long long)st.tokens[1]);
    printf("read %.1f MB in %.1f s: %.2f MB/s, %.0f tok/s, %.2f bytes/token%s\n", st.bytes / 1e6, st.seconds,
           st.bytes / 1e6 / (st.seconds > 0 ? st.seconds : 1), tok / (st.seconds > 0 ? st.seconds : 1),
           tok > 0 ? st.bytes / tok : 0.0, st.skipped_empty ? " (empty documents skipped)" : "");
    return 0;
}
