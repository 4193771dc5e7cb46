// cmd_export.c: `reasoner export`: a checkpoint folder (ours, or a Hub
// model imported and trained here) as a Hugging Face folder that
// transformers, vLLM and llama.cpp's converter load unchanged (model/hub.h).
//   reasoner export --model runs/sft/final --out export/my-model --dtype bf16 --shard-size 2GB
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/base.h"
#include "model/hub.h"
#include "model/model.h"
#include "tokenizer/bpe.h"

typedef struct {
    const char *model, *out, *dtype, *shard_size;
} ExportArgs;

static int run(const ExportArgs *a, const ModelExportOpts *o) {
    Err e = {{0}};
    Model *m = model_load(a->model, 0, &e);
    Bpe *tok = m ? bpe_load(a->model, &e) : NULL;
    int rc = m && tok ? model_export(m, tok, a->model, a->out, o, &e) : -1;
    if (rc == 0)
        fprintf(stderr, "reasoner export: %s -> %s (%s, %zu parameters)\n", a->model, a->out,
                o->dtype == ST_BF16 ? "bf16" : "f32", model_num_params(m));
    else fprintf(stderr, "reasoner export: %s\n", e.msg);
    bpe_free(tok);
    model_free(m);
    return rc == 0 ? 0 : 1;
}

int cmd_export(int argc, char **argv) {
    ExportArgs a = {.dtype = "bf16", .shard_size = "2GB"};
    ArgSpec specs[] = {
        {"model", 'm', ARG_STR, &a.model, "DIR", "checkpoint folder (config.json, safetensors, tokenizer.json)", ARG_REQUIRED},
        {"out", 'o', ARG_STR, &a.out, "DIR", "the Hugging Face folder to write (replaced atomically if it is one)", ARG_REQUIRED},
        {"dtype", 0, ARG_STR, &a.dtype, "bf16|f32", "dtype of the stored weights"},
        {"shard-size", 0, ARG_STR, &a.shard_size, "SIZE", "largest safetensors shard (2GB, 500MB, ...; 0: one file)"},
    };
    ArgCmd cmd = {.name = "reasoner export",
                  .summary = "Write a checkpoint as a Hugging Face folder: config.json, (sharded) safetensors with "
                             "index, tokenizer.json, tokenizer_config.json with the chat template, "
                             "special_tokens_map.json, generation_config.json.",
                  .usage_args = "--model DIR --out DIR [--dtype bf16|f32] [--shard-size 2GB]",
                  .epilog = "example:\n  reasoner export --model runs/sft/final --out export/my-model\n"
                            "  python -c \"from transformers import AutoModelForCausalLM as M; M.from_pretrained('export/my-model')\"\n",
                  .specs = specs,
                  .nspecs = (int)RS_ARRAY_LEN(specs)};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    ModelExportOpts o = {.dtype = ST_BF16};
    Err e = {{0}};
    if (strcmp(a.dtype, "bf16") == 0) o.dtype = ST_BF16;
    else if (strcmp(a.dtype, "f32") == 0) o.dtype = ST_F32;
    else {
        fprintf(stderr, "reasoner export: --dtype: '%s' (bf16 or f32)\n", a.dtype);
        return 2;
    }
    if (model_parse_size(a.shard_size, &o.shard_bytes, &e) != 0) {
        fprintf(stderr, "reasoner export: --shard-size: %s\n", e.msg);
        return 2;
    }
    return run(&a, &o);
}
