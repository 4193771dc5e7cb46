// hub.h: Hugging Face Hub folders out — `reasoner export` writes a folder
// that transformers' AutoModelForCausalLM / AutoTokenizer.from_pretrained
// load with no missing or unexpected keys, chat template included, so a
// model trained here goes on to vLLM, llama.cpp conversion or the Hub.
// (Folders in — sharded bf16/f16/f32 safetensors with an index, Llama 3
// rope scaling, tokenizer_config.json and generation_config.json — are read
// by model_load and bpe_load.)
//
//   ModelExportOpts o = {.dtype = ST_BF16, .shard_bytes = 2000000000};
//   model_export(m, tok, "runs/sft/final", "export/my-model", &o, &err);
//
// The folder: config.json (torch_dtype as written), model.safetensors or
// model-0000i-of-0000n.safetensors + model.safetensors.index.json (tensors
// in table order, a tied head not written), tokenizer.json,
// tokenizer_config.json (chat_template: the source's own, else the ChatML
// template our renderer implements), special_tokens_map.json and
// generation_config.json (eos_token_id: the stop ids). When the source
// folder has tokenizer_config.json (a Hub import, or a checkpoint trained
// from one) its tokenizer files are copied verbatim; otherwise (a model of
// ours) they are written from the tokenizer. Built in "<out>.tmp" and put in
// place atomically. Not thread-safe per model.
#pragma once
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tokenizer/bpe.h"

typedef struct ModelExportOpts {
    StDtype dtype;          // ST_BF16 (default, as the Hub) or ST_F32
    uint64_t shard_bytes;   // largest shard in bytes; 0 = one model.safetensors
} ModelExportOpts;

// Write the folder out from m, its tokenizer tok, and src_dir (the folder m
// was loaded from, for its tokenizer files; may be NULL). out must not
// exist, or be a model folder (holding config.json), which is replaced.
// Returns 0, or -1 with e (nothing at out changed then).
int model_export(const Model *m, const Bpe *tok, const char *src_dir, const char *out,
                 const ModelExportOpts *o, Err *e);

// "2GB" / "500MB" / "1.5GiB" / "123" (bytes) -> bytes (KB, MB, GB are powers
// of 1000, as transformers' max_shard_size; KiB, MiB, GiB of 1024).
// Returns 0, or -1 naming the bad size.
int model_parse_size(const char *s, uint64_t *out, Err *e);
