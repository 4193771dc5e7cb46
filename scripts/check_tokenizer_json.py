#!/usr/bin/env python3
"""Checks that a tokenizer.json written by reasoner loads in Hugging Face
`tokenizers` and encodes/decodes exactly as reasoner does.

    pip install tokenizers
    python3 scripts/check_tokenizer_json.py [--reasoner build/reasoner] [TOKENIZER.json ...]

With no files it makes its own: a tokenizer trained by `reasoner tokenizer
train` on generated text, and (when ../shared/datasets/tokenizers has them)
cl100k_base, o200k_base and gpt2 converted by `reasoner tokenizer convert`.
Texts: the golden fixture's, random Unicode, code, and texts with special
tokens. Ids are compared with add_special_tokens=False (reasoner: --special).
Exit status 1 on any difference.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIKTOKEN_DIR = os.path.join(ROOT, "..", "shared", "datasets", "tokenizers")


def texts_for_check(specials):
    out = []
    golden = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "tiktoken_golden.json")
    if os.path.exists(golden):
        with open(golden, encoding="utf-8") as f:
            doc = json.load(f)
        out += [c["text"] for c in doc["encodings"]["cl100k_base"]["cases"]]
    rng = random.Random(7)
    pool = [cp for cp in range(0x20, 0x30000)
            if not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) not in ("Cn", "Cs", "Co")]
    for _ in range(300):
        out.append("".join(chr(rng.choice(pool)) if rng.random() < 0.3 else rng.choice("abc XYZ 123 \n\t'.,")
                           for _ in range(rng.randint(1, 200))))
    code = "def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\nfor i in range(10):\n\tprint(i ** 2)\n"
    out += [code * k for k in (1, 3)]
    for s in specials:
        out += [f"a{s}b", f"{s}{s} text {s}", f"<{s}>"]
    return out


def run_reasoner(binary, tok, texts):
    inp = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    p = subprocess.run([binary, "tokenizer", "encode", "--jsonl", "--special", "--tokenizer", tok],
                       input=inp.encode("utf-8"), capture_output=True)
    if p.returncode != 0:
        sys.exit(f"reasoner tokenizer encode failed: {p.stderr.decode()}")
    enc = [json.loads(l)["ids"] for l in p.stdout.decode("utf-8").split("\n") if l]
    inp = "".join(json.dumps({"ids": ids}) + "\n" for ids in enc)
    p = subprocess.run([binary, "tokenizer", "decode", "--jsonl", "--tokenizer", tok],
                       input=inp.encode("utf-8"), capture_output=True)
    if p.returncode != 0:
        sys.exit(f"reasoner tokenizer decode failed: {p.stderr.decode()}")
    dec = [json.loads(l)["text"] for l in p.stdout.decode("utf-8").split("\n") if l]
    return enc, dec


def check(binary, path):
    hf = Tokenizer.from_file(path)
    specials = [t.content for t in hf.get_added_tokens_decoder().values()]
    texts = texts_for_check(specials)
    ours, decoded = run_reasoner(binary, path, texts)
    bad_enc = bad_dec = 0
    for text, ids, back in zip(texts, ours, decoded):
        want = hf.encode(text, add_special_tokens=False).ids
        if want != ids:
            bad_enc += 1
            if bad_enc <= 3:
                k = next((i for i, (a, b) in enumerate(zip(want, ids)) if a != b), min(len(want), len(ids)))
                print(f"  encode differs at id {k}: hf {want[k:k+4]} ours {ids[k:k+4]} text {text[:60]!r}")
        if hf.decode(want, skip_special_tokens=False) != back or back != text:
            bad_dec += 1
            if bad_dec <= 3:
                print(f"  decode differs: text {text[:60]!r}")
    n_ids = sum(len(i) for i in ours)
    print(f"{os.path.basename(path)}: vocab {hf.get_vocab_size()}, {len(texts)} texts, {n_ids} ids: "
          f"{len(texts) - bad_enc}/{len(texts)} encode identical, {len(texts) - bad_dec}/{len(texts)} decode identical")
    return bad_enc == 0 and bad_dec == 0


def make_default(binary, tmp):
    paths = []
    rng = random.Random(3)
    words = ["the", "model", "reasons", "about", "numbers", "like", "42", "and", "3.14", "it's", "they'll",
             "中文", "日本語", "emoji", "😀", "café", "naïve", "x = f(y)", "\n", "  ", "\t"]
    corpus = os.path.join(tmp, "corpus.jsonl")
    syllables = ["ka", "to", "ri", "mu", "sen", "lo", "pa", "di", "ne", "vor", "qu", "el", "an", "st", "ü", "ß"]
    words += ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(3000):
            f.write(json.dumps({"text": " ".join(rng.choice(words) for _ in range(rng.randint(5, 60)))},
                               ensure_ascii=False) + "\n")
    out = os.path.join(tmp, "trained")
    subprocess.run([binary, "tokenizer", "train", "--input", corpus, "--vocab", "2000", "--out", out],
                   check=True, capture_output=True)
    paths.append(os.path.join(out, "tokenizer.json"))
    for name in ("cl100k_base", "o200k_base", "gpt2"):
        src = os.path.join(TIKTOKEN_DIR, name + ".tiktoken")
        if os.path.exists(src):
            dst = os.path.join(tmp, name + ".json")
            subprocess.run([binary, "tokenizer", "convert", "--tokenizer", src, "--out", dst],
                           check=True, capture_output=True)
            paths.append(dst)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reasoner", default=os.path.join(ROOT, "build", "reasoner"))
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.files or make_default(args.reasoner, tmp)
        ok = all([check(args.reasoner, p) for p in paths])
    print("OK" if ok else "DIFFERENCES FOUND")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
