// bench/tokenizer.c: tokenizer speed, beside Python tiktoken in the same run.
//   - encode throughput (MB/s) on >= 50 MB of mixed text — real files from
//     ../shared/datasets when present (Shakespeare, GSM8K, MATH, HumanEval,
//     MBPP), up to 20 MB of /usr/share/doc/python3-doc/html when installed,
//     plus generated prose, code and CJK — with cl100k_base (when its
//     rank file is there) and with the tokenizer trained below; one thread
//     and all threads; Python tiktoken's encode_ordinary and
//     encode_ordinary_batch on the same documents when tiktoken imports, and
//     whether its ids equal ours;
//   - time to train a 32,768 vocabulary on 100 MB.
// Sizes: REASONER_BENCH_ENCODE_MB (default 50), REASONER_BENCH_TRAIN_MB
// (default 100), REASONER_BENCH_VOCAB (default 32768).
//   make build/bench/tokenizer && build/bench/tokenizer
#include <ftw.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "common/rng.h"
#include "tokenizer/bpe.h"

#define SHARED "../shared/datasets/"
#define DOC_BYTES 4096

typedef struct Corpus {
    char **docs;
    size_t *lens;
    size_t n, cap, bytes;
} Corpus;

static void add_doc(Corpus *c, const char *p, size_t n) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->docs = xrealloc(c->docs, c->cap * sizeof(char *));
        c->lens = xrealloc(c->lens, c->cap * sizeof(size_t));
    }
    c->docs[c->n] = xstrndup(p, n);
    c->lens[c->n++] = n;
    c->bytes += n;
}

// Cut text into ~DOC_BYTES documents at line ends.
static void add_text(Corpus *c, const char *t, size_t n) {
    for (size_t pos = 0; pos < n;) {
        size_t end = pos + DOC_BYTES < n ? pos + DOC_BYTES : n;
        while (end < n && t[end - 1] != '\n') end++;
        add_doc(c, t + pos, end - pos);
        pos = end;
    }
}

static int add_file(Corpus *c, const char *path) {
    char *t;
    size_t n;
    Err e;
    if (fs_read_all(path, &t, &n, &e)) return 0;
    add_text(c, t, n);
    free(t);
    return 1;
}

// nftw has no user pointer: the corpus being filled while it walks.
static Corpus *walk_into;
static size_t walk_budget;

static int add_html(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    size_t n = strlen(path);
    if (type == FTW_F && n > 5 && strcmp(path + n - 5, ".html") == 0 && walk_into->bytes < walk_budget)
        add_file(walk_into, path);
    return walk_into->bytes >= walk_budget;  // nonzero stops the walk
}

static const char *words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
    "he", "I", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
    "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "model", "training", "reasoning", "answer", "problem", "number", "therefore", "Shakespeare", "King",
    "London", "government", "understanding", "nevertheless", "approximately", "it's", "don't", "they'll", "we've",
    "café", "naïve", "résumé", "Zürich", "São", "Paulo", "1984", "2024", "3.14159", "42", "100,000", "e.g.", "i.e."};

static void gen_prose(Buf *b, Rng *r, size_t bytes) {
    size_t stop = b->len + bytes;
    while (b->len < stop) {
        int n = 5 + (int)rng_below(r, 25);
        for (int i = 0; i < n; i++) {
            const char *w = words[rng_below(r, RS_ARRAY_LEN(words))];
            if (i == 0) buf_putc(b, (char)(w[0] >= 'a' && w[0] <= 'z' ? w[0] - 32 : w[0])), buf_puts(b, w + 1);
            else buf_puts(b, w);
            buf_puts(b, i + 1 < n ? (rng_below(r, 12) ? " " : ", ") : rng_below(r, 4) ? ". " : ".\n\n");
        }
    }
}

static void gen_code(Buf *b, Rng *r, size_t bytes) {
    static const char *kw[] = {"if", "for", "while", "return", "int", "const", "static", "def", "self", "None", "else"};
    static const char *op[] = {" = ", " + ", " == ", " -= ", "->", ".", "(", ")", "[", "]", ", ", " * ", " && ", "::"};
    size_t stop = b->len + bytes;
    while (b->len < stop) {
        int indent = (int)rng_below(r, 4) * 4;
        for (int i = 0; i < indent; i++) buf_putc(b, ' ');
        int n = 2 + (int)rng_below(r, 8);
        for (int i = 0; i < n; i++) {
            uint64_t k = rng_below(r, 10);
            if (k < 3) buf_puts(b, kw[rng_below(r, RS_ARRAY_LEN(kw))]);
            else if (k < 7) buf_printf(b, "%s_%c%d", rng_below(r, 2) ? "buf" : "count", (char)('a' + rng_below(r, 26)), (int)rng_below(r, 100));
            else buf_printf(b, "%d", (int)rng_below(r, 100000));
            buf_puts(b, op[rng_below(r, RS_ARRAY_LEN(op))]);
        }
        buf_puts(b, rng_below(r, 3) ? ";\n" : ":  # note\n");
    }
}

static void put_cp(Buf *b, uint32_t cp) {
    char s[3] = {(char)(0xE0 | cp >> 12), (char)(0x80 | (cp >> 6 & 0x3F)), (char)(0x80 | (cp & 0x3F))};
    buf_append(b, s, 3);
}

static void gen_cjk(Buf *b, Rng *r, size_t bytes) {
    static const uint32_t punct[] = {0x3001, 0x3002, 0xFF0C, 0xFF01, 0xFF1F, 0x300C, 0x300D};
    size_t stop = b->len + bytes;
    while (b->len < stop) {
        int n = 4 + (int)rng_below(r, 20);
        uint64_t script = rng_below(r, 10);
        for (int i = 0; i < n; i++) {
            if (script < 6) put_cp(b, 0x4E00 + (uint32_t)(rng_below(r, 3000) * rng_below(r, 3000) / 3000));  // Han, skewed
            else if (script < 8) put_cp(b, 0x3041 + (uint32_t)rng_below(r, 86));  // hiragana
            else put_cp(b, 0xAC00 + (uint32_t)rng_below(r, 2000));                // hangul
        }
        put_cp(b, punct[rng_below(r, RS_ARRAY_LEN(punct))]);
        if (!rng_below(r, 8)) buf_putc(b, '\n');
    }
}

// Real files when present, then generated prose/code/CJK (50/30/20) up to mb.
static Corpus make_corpus(double mb, uint64_t seed, int *real_files) {
    Corpus c = {0};
    static const char *files[] = {"tinyshakespeare.txt", "gsm8k_train.jsonl", "math500.jsonl", "humaneval.jsonl", "mbpp.jsonl"};
    *real_files = 0;
    for (size_t i = 0; seed == 1 && i < RS_ARRAY_LEN(files); i++) {
        char p[256];
        snprintf(p, sizeof p, SHARED "%s", files[i]);
        *real_files += add_file(&c, p);
    }
    if (seed == 1 && fs_is_dir("/usr/share/doc/python3-doc/html")) {
        size_t before = c.bytes;
        walk_into = &c, walk_budget = c.bytes + (size_t)20e6;
        nftw("/usr/share/doc/python3-doc/html", add_html, 16, FTW_PHYS);
        *real_files += c.bytes > before;
    }
    Rng r;
    rng_seed(&r, seed);
    Buf b = {0};
    while (c.bytes < mb * 1e6) {
        buf_clear(&b);
        gen_prose(&b, &r, 500000);
        gen_code(&b, &r, 300000);
        gen_cjk(&b, &r, 200000);
        add_text(&c, b.data, b.len);
    }
    buf_free(&b);
    return c;
}

static void corpus_free(Corpus *c) {
    for (size_t i = 0; i < c->n; i++) free(c->docs[i]);
    free(c->docs), free(c->lens);
}

// --- our encoder -------------------------------------------------------------------

typedef struct EncodeResult {
    double mbs_1, mbs_all;
    size_t tokens;
} EncodeResult;

static EncodeResult bench_encode(const Bpe *b, const Corpus *c, BpeIds *keep) {
    EncodeResult r = {0};
    BpeEncoder *en = bpe_encoder_new(b);
    BpeIds ids = {0};
    double t0 = rs_now();
    for (size_t i = 0; i < c->n; i++) {
        ids.len = 0;
        r.tokens += bpe_encoder_encode(en, c->docs[i], c->lens[i], BPE_SPECIAL_NONE, &ids);
    }
    r.mbs_1 = c->bytes / 1e6 / (rs_now() - t0);
    bpe_encoder_free(en);
    bpe_ids_free(&ids);
    BpeIds *outs = xcalloc(c->n, sizeof(BpeIds));
    t0 = rs_now();
    bpe_encode_batch(b, (const char *const *)c->docs, c->lens, c->n, BPE_SPECIAL_NONE, 0, outs);
    r.mbs_all = c->bytes / 1e6 / (rs_now() - t0);
    for (size_t i = 0; i < c->n; i++) {
        if (keep) {
            bpe_ids_reserve(keep, outs[i].len);
            memcpy(keep->data + keep->len, outs[i].data, outs[i].len * sizeof(int32_t));
            keep->len += outs[i].len;
        }
        bpe_ids_free(&outs[i]);
    }
    free(outs);
    return r;
}

// --- Python tiktoken on the same documents ---------------------------------------------

static const char *py_src =
    "import json, sys, time, hashlib\n"
    "try:\n"
    "    import tiktoken\n"
    "    from tiktoken.load import load_tiktoken_bpe\n"
    "except ImportError:\n"
    "    print('{\"missing\": true}'); sys.exit(0)\n"
    "rank, meta, docs_path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])\n"
    "m = json.load(open(meta))\n"
    "enc = tiktoken.Encoding('cl100k_base', pat_str=m['pat_str'], mergeable_ranks=load_tiktoken_bpe(rank),\n"
    "                        special_tokens=m['special_tokens'])\n"
    "docs = [json.loads(l)['t'] for l in open(docs_path, encoding='utf-8')]\n"
    "nbytes = sum(len(d.encode('utf-8')) for d in docs)\n"
    "t0 = time.time(); ids = [enc.encode_ordinary(d) for d in docs]; t1 = time.time()\n"
    "enc.encode_ordinary_batch(docs, num_threads=threads); t2 = time.time()\n"
    "h = hashlib.sha256(b''.join(int(i).to_bytes(4, 'little') for d in ids for i in d)).hexdigest()\n"
    "print(json.dumps({'mbs_1': nbytes / 1e6 / (t1 - t0), 'mbs_all': nbytes / 1e6 / (t2 - t1),\n"
    "                  'tokens': sum(len(d) for d in ids), 'sha': h}))\n";

static void json_escape(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fputc('\\', f), fputc(c, f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

// Runs the script; fills *r and sha (hex of the ids). Returns 0, or -1 when
// python3/tiktoken is unavailable.
static int bench_tiktoken(const Corpus *c, const char *rank, const char *meta, EncodeResult *r, char *sha) {
    char dir[] = "/tmp/reasoner-bench-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char docs[300], src[300], cmd[1200];
    snprintf(docs, sizeof docs, "%s/docs.jsonl", dir);
    snprintf(src, sizeof src, "%s/tk.py", dir);
    FILE *f = fopen(docs, "w");
    if (!f) return -1;
    for (size_t i = 0; i < c->n; i++) fputs("{\"t\": \"", f), json_escape(f, c->docs[i], c->lens[i]), fputs("\"}\n", f);
    fclose(f);
    Err e;
    fs_write_atomic(src, py_src, strlen(py_src), &e);
    snprintf(cmd, sizeof cmd, "python3 -s -B %s %s %s %s %d 2>/dev/null; rm -rf %s", src, rank, meta, docs,
             omp_get_max_threads(), dir);
    FILE *p = popen(cmd, "r");
    char line[512] = {0};
    int ok = p && fgets(line, sizeof line, p) != NULL;
    if (p) pclose(p);
    if (!ok || strstr(line, "missing")) return -1;
    double t1, tall;
    long tokens;
    if (sscanf(strstr(line, "\"mbs_1\""), "\"mbs_1\": %lf, \"mbs_all\": %lf, \"tokens\": %ld, \"sha\": \"%64[0-9a-f]", &t1,
               &tall, &tokens, sha) != 4)
        return -1;
    r->mbs_1 = t1, r->mbs_all = tall, r->tokens = (size_t)tokens;
    return 0;
}

// SHA-256 through the system tool, to compare id streams with Python's.
static void sha_of_ids(const BpeIds *ids, char *out) {
    char path[] = "/tmp/reasoner-ids-XXXXXX";
    int fd = mkstemp(path);
    out[0] = 0;
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    fwrite(ids->data, sizeof(int32_t), ids->len, f);  // little-endian on every machine we build for
    fclose(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "sha256sum %s", path);
    FILE *p = popen(cmd, "r");
    if (p && fscanf(p, "%64s", out) != 1) out[0] = 0;
    if (p) pclose(p);
    unlink(path);
}

// --- training --------------------------------------------------------------------------

static Bpe *bench_train(const Corpus *c, int vocab, double *secs) {
    Err e;
    BpeTrainOpts o = {.vocab_size = vocab};
    BpeTrainer *t = bpe_trainer_new(&o, &e);
    RS_CHECK(t);
    double t0 = rs_now();
    for (size_t i = 0; i < c->n;) {  // ~64 MB batches, as a file would be read
        size_t j = i, bytes = 0;
        while (j < c->n && bytes < (64u << 20)) bytes += c->lens[j++];
        Buf joined = {0};
        for (size_t k = i; k < j; k++) buf_append(&joined, c->docs[k], c->lens[k]);
        bpe_trainer_add(t, joined.data, joined.len);
        buf_free(&joined);
        i = j;
    }
    double t1 = rs_now();
    size_t uniq = bpe_trainer_unique_chunks(t);
    Bpe *b = bpe_trainer_finish(t, &e);
    RS_CHECK(b);
    *secs = rs_now() - t0;
    printf("train: %.0f MB, vocab %d: counting %.1f s (%zu unique chunks), merging %.1f s, total %.1f s%s\n",
           c->bytes / 1e6, bpe_vocab_size(b), t1 - t0, uniq, rs_now() - t1, *secs,
           vocab == 32768 && c->bytes >= 100e6 ? " (target: < 120 s on 2 cores)" : "");
    bpe_trainer_free(t);
    return b;
}

static double env_num(const char *name, double dflt) {
    const char *v = getenv(name);
    return v && *v ? atof(v) : dflt;
}

int main(void) {
    double enc_mb = env_num("REASONER_BENCH_ENCODE_MB", 50), train_mb = env_num("REASONER_BENCH_TRAIN_MB", 100);
    int vocab = (int)env_num("REASONER_BENCH_VOCAB", 32768);
    int real;
    printf("tokenizer bench: %d threads; encode on %.0f MB, train %d vocab on %.0f MB "
           "(REASONER_BENCH_ENCODE_MB / _TRAIN_MB / _VOCAB)\n",
           omp_get_max_threads(), enc_mb, vocab, train_mb);

    Corpus train_c = make_corpus(train_mb, 2, &real);
    double train_s;
    Bpe *trained = bench_train(&train_c, vocab, &train_s);
    corpus_free(&train_c);

    Corpus c = make_corpus(enc_mb, 1, &real);
    printf("encode corpus: %.1f MB in %zu documents (%d real sources: " SHARED " files, python3-doc html; "
           "the rest generated prose/code/CJK)\n",
           c.bytes / 1e6, c.n, real);
    EncodeResult mine = bench_encode(trained, &c, NULL);
    char label[64];
    snprintf(label, sizeof label, "ours, trained %d:", vocab);
    printf("  %-28s %8.1f MB/s 1 thread  %8.1f MB/s %d threads  (%zu tokens, %.2f bytes/token)\n", label, mine.mbs_1,
           mine.mbs_all, omp_get_max_threads(), mine.tokens, (double)c.bytes / (double)mine.tokens);
    bpe_free(trained);

    const char *rank = SHARED "tokenizers/cl100k_base.tiktoken", *meta = SHARED "tokenizers/cl100k_base.meta.json";
    Err e;
    double t0 = rs_now();
    Bpe *cl = fs_exists(rank) ? bpe_load(rank, &e) : NULL;
    if (!cl) {
        printf("  cl100k_base: rank file not found at %s: skipped (no tiktoken comparison)\n", rank);
        corpus_free(&c);
        return 0;
    }
    printf("  cl100k_base loaded in %.2f s\n", rs_now() - t0);
    BpeIds all = {0};
    EncodeResult ours = bench_encode(cl, &c, &all);
    printf("  %-28s %8.1f MB/s 1 thread  %8.1f MB/s %d threads  (%zu tokens)\n", "ours, cl100k_base:", ours.mbs_1,
           ours.mbs_all, omp_get_max_threads(), ours.tokens);
    EncodeResult tk;
    char sha_tk[65] = {0}, sha_ours[65] = {0};
    if (bench_tiktoken(&c, rank, meta, &tk, sha_tk) == 0) {
        sha_of_ids(&all, sha_ours);
        printf("  %-28s %8.1f MB/s 1 thread  %8.1f MB/s %d threads  (%zu tokens)\n", "python tiktoken, cl100k_base:",
               tk.mbs_1, tk.mbs_all, omp_get_max_threads(), tk.tokens);
        printf("  speedup vs tiktoken: %.2fx one thread, %.2fx all threads; ids identical: %s\n", ours.mbs_1 / tk.mbs_1,
               ours.mbs_all / tk.mbs_all, strcmp(sha_tk, sha_ours) == 0 ? "yes" : "NO");
    } else {
        printf("  python tiktoken: not importable (pip install tiktoken): no comparison\n");
    }
    bpe_ids_free(&all);
    bpe_free(cl);
    corpus_free(&c);
    return 0;
}
