// bench/load.c: load time and peak resident memory for a Hub folder shaped
// like Qwen2.5-0.5B (real widths and vocabulary, 2 layers, bf16 in two
// shards with an index), against transformers' from_pretrained on CPU in the
// same run. Each load runs in a fresh process, so getrusage's peak RSS is
// that load's alone.
//
//   python scripts/hf_parity.py models build/hf-fixtures     # once, with a venv (torch, transformers)
//   build/bench/load [FOLDER]    # REASONER_VENV (default build/venv-hf) for the transformers half
//
// Targets (issue 15): peak RSS < 1.3x the fp32 model; time <= 1/5 and RSS <=
// transformers'. Without the folder or the venv the missing half is skipped
// with the reason.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base.h"
#include "common/fsutil.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

typedef struct {
    double seconds;
    double peak_rss;  // bytes
    double params;
    double rss_before;
} LoadResult;

// model_load + bpe_load in a child process; its figures come back through a pipe.
static int load_in_child(const char *dir, LoadResult *r) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        LoadResult out = {.rss_before = (double)ru.ru_maxrss * 1024};
        Err e = {{0}};
        double t0 = rs_now();
        Model *m = model_load(dir, 0, &e);
        Bpe *tok = m ? bpe_load(dir, &e) : NULL;
        out.seconds = rs_now() - t0;
        if (!m || !tok) fprintf(stderr, "load: %s\n", e.msg);
        getrusage(RUSAGE_SELF, &ru);
        out.peak_rss = (double)ru.ru_maxrss * 1024;
        out.params = m ? (double)model_num_params(m) : 0;
        if (write(fd[1], &out, sizeof out) != (ssize_t)sizeof out) _exit(1);
        _exit(m && tok ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], r, sizeof *r);
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return got == (ssize_t)sizeof *r && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

// transformers' from_pretrained (fp32, CPU) via scripts/hf_parity.py load-time.
static int load_transformers(const char *py, const char *dir, LoadResult *r) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' scripts/hf_parity.py load-time '%s' 2>/dev/null", py, dir);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[1024] = {0}, last[1024] = {0};
    while (fgets(line, sizeof line, p)) snprintf(last, sizeof last, "%s", line);
    int rc = pclose(p);
    const char *s = strstr(last, "\"seconds\": "), *m = strstr(last, "\"peak_rss_bytes\": "),
               *n = strstr(last, "\"params\": ");
    if (rc != 0 || !s || !m || !n) return -1;
    r->seconds = atof(s + 11), r->peak_rss = atof(m + 18), r->params = atof(n + 10);
    return 0;
}

int main(int argc, char **argv) {
    const char *cache = getenv("REASONER_HF_CACHE");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/qwen2.5-0.5b", cache && *cache ? cache : "build/hf-fixtures");
    if (argc > 1) snprintf(dir, sizeof dir, "%s", argv[1]);
    char *cfg = fs_join(dir, "config.json");
    int have = fs_exists(cfg);
    free(cfg);
    printf("bench/load: %s (Qwen2.5-0.5B widths, 2 layers, bf16 shards)\n", dir);
    if (!have) {
        printf("  skip: no folder at %s (make it: python scripts/hf_parity.py models build/hf-fixtures, "
               "in a venv with torch and transformers)\n", dir);
        return 0;
    }
    LoadResult ours = {0}, hf = {0};
    if (load_in_child(dir, &ours) != 0) {
        fprintf(stderr, "bench/load: loading %s failed\n", dir);
        return 1;
    }
    double fp32 = ours.params * 4;
    printf("  reasoner      load %6.2f s   peak RSS %7.1f MB   (%.2fx the fp32 model of %.1f MB; target < 1.30x; "
           "process before loading %.1f MB)\n",
           ours.seconds, ours.peak_rss / 1e6, ours.peak_rss / fp32, fp32 / 1e6, ours.rss_before / 1e6);
    const char *venv = getenv("REASONER_VENV");
    char py[1024];
    snprintf(py, sizeof py, "%s/bin/python", venv && *venv ? venv : "build/venv-hf");
    if (access(py, X_OK) != 0) {
        printf("  transformers  skip: no %s (set REASONER_VENV to a venv with torch and transformers)\n", py);
        return ours.peak_rss < 1.3 * fp32 ? 0 : 1;
    }
    if (load_transformers(py, dir, &hf) != 0) {
        printf("  transformers  skip: %s scripts/hf_parity.py load-time failed\n", py);
        return ours.peak_rss < 1.3 * fp32 ? 0 : 1;
    }
    printf("  transformers  load %6.2f s   peak RSS %7.1f MB   (from_pretrained, dtype float32, CPU; imports not timed)\n",
           hf.seconds, hf.peak_rss / 1e6);
    printf("  ratio         time %.3fx (target <= 0.2)   memory %.2fx (target <= 1)\n", ours.seconds / hf.seconds,
           ours.peak_rss / hf.peak_rss);
    return ours.peak_rss < 1.3 * fp32 ? 0 : 1;
}
