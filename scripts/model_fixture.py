#!/usr/bin/env python3
"""model_fixture.py: golden fixtures for model/ from Hugging Face transformers,
and the reverse check that a checkpoint written by reasoner loads in
transformers and gives the same logits.

Run once (offline; CI uses the committed output, never Python):

    pip install torch transformers safetensors
    python3 scripts/model_fixture.py write tests/fixtures/model

writes, for a tiny random Llama (tied head, MHA) and a tiny Qwen2-style model
(GQA, q/k/v bias, untied head, rope_theta 1e6), an HF folder each
(config.json, model.safetensors) plus expected.safetensors: input ids (B, T),
targets (B, T) (-1 = ignored), HF's logits (B, T, V) and mean cross-entropy,
metadata {"format": "reasoner-model-fixture", "version": "1"}.
tests/model/test_hf.c reads them.

The reverse check:

    MODEL_CKPT_OUT=/tmp/ck build/tests/model/test_checkpoint hf_export
    python3 scripts/model_fixture.py check /tmp/ck

loads the checkpoint folder reasoner wrote with
AutoModelForCausalLM.from_pretrained, runs the ids in
/tmp/ck/reasoner_logits.safetensors and compares with the logits reasoner
computed; exits 1 when the relative error max|a-b|/max|b| exceeds 1e-4.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

FORMAT, VERSION = "reasoner-model-fixture", "1"
B, T = 2, 80  # T > 64 covers more than one attention row block in ops_cpu.c


def randomize(model, gen):
    # HF's init (std 0.02, norms 1, biases 0) leaves logits nearly uniform and
    # hides errors in norms and biases: use larger random values everywhere.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))


def write_one(out, name, cfg, seed):
    gen = torch.Generator().manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    randomize(model, gen)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(folder, extra)
        if os.path.exists(p):
            os.remove(p)
    ids = torch.randint(0, cfg.vocab_size, (B, T), generator=gen)
    targets = torch.cat([ids[:, 1:], torch.full((B, 1), -1)], dim=1)
    targets[1, 5:9] = -1  # masked positions
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, cfg.vocab_size), targets.reshape(-1), ignore_index=-1)
    save_file(
        {"ids": ids.float(), "targets": targets.float(), "logits": logits.contiguous(),
         "loss": loss.reshape(1)},
        os.path.join(folder, "expected.safetensors"),
        metadata={"format": FORMAT, "version": VERSION},
    )
    print(f"{name}: {sum(p.numel() for p in model.parameters())} params, loss {loss.item():.6f}")


def write(out):
    common = dict(vocab_size=96, hidden_size=32, intermediate_size=72, num_hidden_layers=2,
                  max_position_embeddings=128, rms_norm_eps=1e-5)
    llama = LlamaConfig(num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0,
                        tie_word_embeddings=True, attention_bias=False, **common)
    qwen2 = Qwen2Config(num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                        tie_word_embeddings=False, use_sliding_window=False, **common)
    write_one(out, "llama", llama, 1)
    write_one(out, "qwen2", qwen2, 2)


def check(folder):
    ref = load_file(os.path.join(folder, "reasoner_logits.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").float().eval()
    with torch.no_grad():
        logits = model(input_ids=ref["ids"].long()).logits.float()
    err = (logits - ref["logits"]).abs().max().item() / ref["logits"].abs().max().item()
    cfg = json.load(open(os.path.join(folder, "config.json")))
    print(f"{folder}: {cfg['model_type']} {type(model).__name__}, logits {tuple(logits.shape)}, "
          f"max|hf - reasoner| / max|reasoner| = {err:.3e}")
    return 0 if err < 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    torch.manual_seed(0)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else check(sys.argv[2]))
