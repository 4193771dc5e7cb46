// bench/data.c: the web-data pipeline's speed in raw HTML MB/s per core,
// whole and per stage, beside the Python reference (datatrove's filters
// after trafilatura, as FineWeb ran them) on the same pages when it imports.
//   - input: up to REASONER_BENCH_DATA_MB (default 20) of HTML from
//     /usr/share/doc/python3-doc/html when installed, else generated pages;
//   - ours: `data run` with 1 thread (per-core rate and each stage's CPU
//     time) and with all threads;
//   - reference: bench/data_ref.py run by REASONER_BENCH_PYTHON (default
//     python3) when it can import trafilatura (and datatrove for the filters).
//   make build/bench/data && build/bench/data
#include <ftw.h>
#include <omp.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/rng.h"
#include "data/pipeline.h"

#define DOCS "/usr/share/doc/python3-doc/html"

static char **files;
static size_t nfiles, capfiles;
static int64_t total_bytes, limit_bytes;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_html(const char *path, const struct stat *st, int type, struct FTW *f) {
    size_t n = strlen(path);
    if (type == FTW_F && n > 5 && !strcmp(path + n - 5, ".html")) {
        files = data_grow(files, &capfiles, nfiles + 1, sizeof *files);
        files[nfiles++] = xstrdup(path);
    }
    return 0;
}

// Keep files in name order up to the byte limit.
static void take_limit(void) {
    qsort(files, nfiles, sizeof *files, by_name);
    size_t k = 0;
    for (size_t i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) || total_bytes >= limit_bytes) {
            free(files[i]);
            continue;
        }
        total_bytes += st.st_size;
        files[k++] = files[i];
    }
    nfiles = k;
}

// Pages with boilerplate around generated prose, when no documentation is installed.
static void generate(const char *dir) {
    static const char *W[] = {"the", "river", "of", "a", "garden", "and", "teacher", "market", "window", "with",
                              "village", "engine", "to", "harbor", "letter", "mountain", "library", "quiet", "old"};
    Rng r;
    rng_seed(&r, 1);
    Buf b = {0};
    for (int i = 0; total_bytes < limit_bytes; i++) {
        buf_clear(&b);
        buf_puts(&b, "<html><head><script>var x=1;</script></head><body><nav><ul><li><a href=/>Home</a></li></ul></nav><main>");
        for (int p = 0; p < 12; p++) {
            buf_puts(&b, "<p>");
            for (int w = 0; w < 90; w++) buf_printf(&b, "%s%s", W[rng_below(&r, RS_ARRAY_LEN(W))], w % 15 == 14 ? ". " : " ");
            buf_puts(&b, "</p>");
        }
        buf_puts(&b, "</main><footer>Contact</footer></body></html>");
        char name[64];
        snprintf(name, sizeof name, "page%05d.html", i);
        char *p = fs_join(dir, name);
        Err e;
        fs_write_atomic(p, b.data, b.len, &e);
        files = data_grow(files, &capfiles, nfiles + 1, sizeof *files);
        files[nfiles++] = p;
        total_bytes += (int64_t)b.len;
    }
    buf_free(&b);
}

static double run_ours(const char *out, int threads, DataStats *st) {
    DataConfig c;
    data_config_default(&c);
    DataRunOpts o = {.cfg = &c, .inputs = (const char *const *)files, .ninputs = (int)nfiles, .out_dir = out, .threads = threads};
    Err e;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);  // a fresh run, not a resumed one
    if (system(cmd) != 0) RS_ABORT("cannot clear %s", out);
    double t0 = rs_now();
    if (data_run(&o, st, &e)) RS_ABORT("data run: %s", e.msg);
    double wall = rs_now() - t0;
    data_config_free(&c);
    return wall;
}

// The Python reference: per-stage seconds and bytes, as JSON, or NULL.
static cJSON *run_reference(const char *tmp) {
    const char *py = getenv("REASONER_BENCH_PYTHON") ? getenv("REASONER_BENCH_PYTHON") : "python3";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import trafilatura' 2>/dev/null", py);
    if (system(cmd) != 0) return NULL;
    char *list = fs_join(tmp, "files.txt"), *result = fs_join(tmp, "ref.json");
    FILE *f = fopen(list, "w");
    for (size_t i = 0; i < nfiles; i++) fprintf(f, "%s\n", files[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s bench/data_ref.py '%s' > '%s'", py, list, result);
    Err e;
    cJSON *j = system(cmd) == 0 ? json_read_file(result, &e) : NULL;
    free(list), free(result);
    return j;
}

int main(void) {
    const char *env = getenv("REASONER_BENCH_DATA_MB");
    limit_bytes = (int64_t)((env ? atof(env) : 20) * 1e6);
    char tmp[] = "/tmp/reasoner-bench-data-XXXXXX";
    RS_CHECK(mkdtemp(tmp) != NULL);
    const char *source = DOCS;
    if (fs_is_dir(DOCS)) {
        nftw(DOCS, add_html, 16, 0);
        take_limit();
    }
    if (!nfiles) {
        char *dir = fs_join(tmp, "pages");
        Err e;
        fs_mkdir_p(dir, &e);
        generate(dir);
        source = "generated pages";
        free(dir);
    }
    int cores = omp_get_max_threads();
    printf("data pipeline bench: %zu HTML files, %.1f MB from %s, %d cores\n", nfiles, total_bytes / 1e6, source, cores);

    DataStats one, all;
    char *out1 = fs_join(tmp, "out1"), *outn = fs_join(tmp, "outn");
    double w1 = run_ours(out1, 1, &one), wn = run_ours(outn, cores, &all);
    double mb = total_bytes / 1e6;
    printf("\nours, whole pipeline (FineWeb defaults, %lld of %lld documents kept):\n",
           (long long)one.stage[DATA_ST_PII].docs_out, (long long)one.stage[DATA_ST_INPUT].docs_in);
    printf("  1 thread:   %6.2f s  %7.2f MB/s per core\n", w1, mb / w1);
    printf("  %d threads: %6.2f s  %7.2f MB/s, %.2f MB/s per core\n", cores, wn, mb / wn, mb / wn / cores);

    cJSON *ref = run_reference(tmp);
    const cJSON *rst = ref ? cJSON_GetObjectItemCaseSensitive(ref, "stages") : NULL;
    printf("\nper stage, 1 thread: CPU seconds and MB/s of the stage's input per CPU second\n");
    printf("  %-12s %8s %10s %14s  %s\n", "stage", "seconds", "MB/s", "raw HTML MB/s", ref ? "python reference (MB/s, ratio)" : "");
    double sum = 0;
    for (int s = 0; s < DATA_NSTAGES; s++) {
        double sec = one.secs[s];
        if (!one.stage[s].docs_in || sec <= 0) continue;
        sum += sec;
        double rate = one.stage[s].bytes_in / 1e6 / sec;
        printf("  %-12s %8.3f %10.1f %14.1f", data_stage_name(s), sec, rate, mb / sec);
        const cJSON *r = rst ? cJSON_GetObjectItemCaseSensitive(rst, data_stage_name(s)) : NULL;
        double rsec = json_opt_num(r, "seconds", 0);
        if (rsec > 0) printf("  %10.2f  %6.1fx", json_opt_num(r, "bytes_in", 0) / 1e6 / rsec, (mb / sec) / (mb / rsec));
        printf("\n");
    }
    printf("  %-12s %8.3f %10s %14.1f\n", "sum", sum, "", mb / sum);
    if (ref) {
        double rw = json_opt_num(ref, "seconds", 0);
        printf("\npython reference (%s): %.2f s, %.2f MB/s per core; ours %.2f MB/s per core: %.1fx\n",
               json_opt_str(ref, "what", "?"), rw, mb / rw, mb / w1, rw / w1);
    } else {
        printf("\npython reference: not run (needs trafilatura, and datatrove for the filters, importable by "
               "$REASONER_BENCH_PYTHON or python3)\n");
    }
    cJSON_Delete(ref);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    for (size_t i = 0; i < nfiles; i++) free(files[i]);
    free(files), free(out1), free(outn);
    return 0;
}
