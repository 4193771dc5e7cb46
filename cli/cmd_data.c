// cmd_data.c: `reasoner data run|stats|config`, the web-data pipeline.
//
//   reasoner data run --input CC-MAIN-*.warc.gz --out data/ [--config configs/data-default.json] [--threads 16]
//   reasoner data run --input /usr/share/doc/python3-doc/html --out data/
//   reasoner data stats data/
//   reasoner data config > my-data.json     (the built-in defaults, to edit)
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/base.h"
#include "common/json.h"
#include "data/pipeline.h"

static int fail(const char *sub, const Err *e) {
    fprintf(stderr, "reasoner data %s: %s\n", sub, e->msg);
    return 1;
}

static int cmd_run(int argc, char **argv) {
    ArgList inputs = {0};
    const char *config = NULL, *out = NULL;
    int threads = 0, no_progress = 0;
    ArgSpec specs[] = {
        {"input", 'i', ARG_LIST, &inputs, "PATH", "WARC (.warc[.gz]), JSONL with \"text\" (.jsonl[.gz]), HTML, .txt, or folders of them", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &out, "DIR", "output folder: shard-*.jsonl, stats.json, removed/, work/ (for resuming)", ARG_REQUIRED},
        {"config", 'c', ARG_STR, &config, "FILE", "pipeline config (default: FineWeb's recipe, as configs/data-default.json)"},
        {"threads", 't', ARG_INT, &threads, "N", "worker threads (0: all cores)"},
        {"no-progress", 0, ARG_FLAG, &no_progress, NULL, "no progress bar"},
    };
    ArgCmd cmd = {.name = "reasoner data run",
                  .summary = "Filter, deduplicate and clean web documents into JSONL shards (FineWeb's recipe).",
                  .usage_args = "--input PATH... --out DIR [--config FILE] [--threads N]",
                  .epilog = "A rerun with the same --out skips input files already done.\n"
                            "Example: reasoner data run --input crawl/ --out data/ --threads 8",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs)};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    DataConfig c;
    if (!config) data_config_default(&c);
    else if (data_config_load(&c, config, &e)) {
        data_config_free(&c);
        args_list_free(&inputs);
        return fail("run", &e);
    }
    DataRunOpts o = {.cfg = &c, .inputs = inputs.items, .ninputs = inputs.n, .out_dir = out, .threads = threads,
                     .progress = !no_progress};
    DataStats st;
    rc = data_run(&o, &st, &e);
    if (rc == 0) {
        data_stats_print(&st, stdout);
        printf("wrote %s (stats.json, removed/ samples)\n", out);
    }
    data_config_free(&c);
    args_list_free(&inputs);
    return rc ? fail("run", &e) : 0;
}

static int cmd_stats(int argc, char **argv) {
    ArgList pos = {0};
    ArgCmd cmd = {.name = "reasoner data stats",
                  .summary = "Print the statistics of a finished run: documents and bytes per stage, removals per rule.",
                  .usage_args = "DIR",
                  .positional = &pos,
                  .min_positional = 1};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    Err e;
    for (int i = 0; i < pos.n && rc == 0; i++) {
        DataStats st;
        if (data_stats_load(pos.items[i], &st, &e)) {
            rc = fail("stats", &e);
            break;
        }
        if (pos.n > 1) printf("== %s\n", pos.items[i]);
        data_stats_print(&st, stdout);
    }
    args_list_free(&pos);
    return rc;
}

static int cmd_config(int argc, char **argv) {
    ArgCmd cmd = {.name = "reasoner data config",
                  .summary = "Print the built-in default config (FineWeb's 2024 thresholds) as JSON."};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    DataConfig c;
    data_config_default(&c);
    cJSON *j = data_config_to_json(&c);
    char *s = cJSON_Print(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
    data_config_free(&c);
    return 0;
}

int cmd_data(int argc, char **argv) {
    static const SubCmd subs[] = {
        {"run", "run the pipeline on WARC/HTML/JSONL/text inputs into JSONL shards", cmd_run},
        {"stats", "print a finished run's statistics", cmd_stats},
        {"config", "print the default config as JSON", cmd_config},
    };
    return args_dispatch("reasoner data", "The web-data pipeline: extract, filter, deduplicate, remove PII.", subs,
                         (int)RS_ARRAY_LEN(subs), argc, argv);
}
