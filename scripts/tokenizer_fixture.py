#!/usr/bin/env python3
"""Writes the tokenizer's golden fixtures under tests/fixtures/tokenizer/:

- tiktoken_golden.json: texts and the ids Python's tiktoken gives them under
  cl100k_base, o200k_base and gpt2 (tests/tokenizer/test_bpe_exact.c).
  Offline: the rank files and their patterns/specials come from
  ../shared/datasets/tokenizers (X.tiktoken + X.meta.json), loaded with
  tiktoken.load.load_tiktoken_bpe.
- hf_*.json + hf_golden.json: three small tokenizer.json files trained here
  by Hugging Face `tokenizers` in the shapes of GPT-2 (ByteLevel with its
  regex), Llama 3 (Split + ByteLevel, ignore_merges) and Qwen2.5 (NFC, Split
  + ByteLevel, chat added tokens), and the ids `tokenizers` gives a set of
  texts (tests/tokenizer/test_bpe_hf.c).

    pip install tiktoken tokenizers
    python3 scripts/tokenizer_fixture.py [--dir ../shared/datasets/tokenizers]

The texts are fixed plus seeded random ones, so a rerun writes the same file
(given the same tiktoken). Random characters are drawn from code points
assigned in Python's Unicode database, so that the regex engines' Unicode
versions (Rust regex in tiktoken, PCRE2 here) agree on their classes.
"""
import argparse
import json
import os
import random
import sys
import unicodedata

import tiktoken
from tiktoken.load import load_tiktoken_bpe

FORMAT = "reasoner-tokenizer-golden"
VERSION = 1
ENCODINGS = ["cl100k_base", "o200k_base", "gpt2"]

FIXED = [
    "",
    "Hello, world!",
    "hello world",
    "  leading spaces and trailing   ",
    "tabs\tand\t\tmore\t",
    "line one\nline two\r\nline three\r\n\r\n\n\n  indented\n",
    "\n\n\n",
    "   \n   \n",
    "a\r\n\r\nb",
    " \r\n x",
    "x" + " " * 40 + "y",
    " " * 100,
    "\t" * 30 + "\n" * 10,
    "1 12 123 1234 12345 123456789012345678901234567890",
    "3.14159265358979, 2,718, 1e-10, 0x7fffffff, 6.02e23",
    "It's I'm you're we've they'll she'd IT'S I'M YOU'RE WE'VE THEY'LL SHE'D It'S iT's 'LL 'll 'Ll",
    "don't won't can't shouldn't y'all 'tis rock'n'roll ''s",
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x ** 2  # square\n\nclass A(B):\n\tpass\n",
    "int main(void) { printf(\"%d\\n\", 42); return 0; }",
    "for (i = 0; i < n; ++i) a[i] += b[i] * c[i];",
    "https://example.com/path?query=1&other=two#frag",
    "user@example.com, +1 (555) 123-4567",
    "<html><body><p class=\"x\">Hi</p></body></html>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "$$\\frac{a}{b} + \\sqrt{x^2 + y^2} = \\int_0^\\infty e^{-t} dt$$",
    "中文文本测试。这是一个句子，包含标点符号！",
    "日本語のテキスト、カタカナとひらがな。漢字も。",
    "한국어 텍스트입니다. 안녕하세요!",
    "Привет, мир! Ёлки-палки.",
    "Ελληνικά: Γειά σου Κόσμε",
    "עברית: שלום עולם",
    "العربية: مرحبا بالعالم",
    "हिन्दी: नमस्ते दुनिया",
    "ภาษาไทย สวัสดีชาวโลก",
    "Emoji: 😀 😃 😄 👍🏽 ❤️ 🇺🇸 🇯🇵",
    "ZWJ: 👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 🧑‍🤝‍🧑",
    "Combining: e\u0301 a\u0300 n\u0303 o\u0308 A\u030a \u1e9b\u0323 q\u0307\u0323",
    "Precomposed: é à ñ ö Å",
    "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0336",
    "Spaces: a\u00a0b\u2009c\u3000d\u2028e\u2029f\u0085g\u200bh\ufeffi",
    "Mixed: abc123def 456ghi 7890jkl",
    "ALLCAPS CamelCaseWord snake_case_word kebab-case-word",
    "¡Hola! ¿Qué tal? Ça va? Größe, Straße, œuvre, Æsir",
    "Ünïcödé ÜNÏCÖDÉ ǅungla ǈj ǋj",
    "tab\tsep\tvalues\n1\t2\t3\n",
    "!!!???...,,,;;;:::---___+++===***&&&%%%$$$###@@@",
    "....\n....\n",
    "a\n\n\nb\n \n c",
    "trailing newline\n",
    "   ",
    "\u0001\u0002 control \u007f chars\u001b[0m",
    "\U0001F600\U0001F601 \U0010FFFD \U000E0001",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕿𝖊𝖝𝖙 𝟙𝟚𝟛",
    "٣٤٥ ১২৩ ௧௨௩ ⅠⅡⅢ ½ ¾ ²³",
]

SPECIAL_TEXTS = [
    "<|endoftext|>",
    "Hello<|endoftext|>world",
    "a <|endoftext|> b<|endoftext|><|endoftext|>c",
    "<|endoftext|",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<|endofprompt|> done",
]


def assigned_chars():
    return [cp for cp in range(0x110000)
            if not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) not in ("Cn", "Cs")]


def random_texts(rng, pool):
    ascii_words = ["the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for",
                   "on", "are", "as", "with", "his", "they", "I", "at", "be", "this", "have", "from"]
    out = []
    for i in range(30):
        parts = []
        for _ in range(rng.randint(20, 120)):
            r = rng.random()
            if r < 0.35:
                parts.append(rng.choice(ascii_words))
            elif r < 0.5:
                parts.append(rng.choice([" ", "  ", "\n", "\r\n", "\t", " \n", "\n\n", "   "]))
            elif r < 0.6:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
            elif r < 0.7:
                parts.append(rng.choice(["'s", "'LL", "'t", "'Re", "'ve", "'d", "'M", "'"]))
            elif r < 0.8:
                parts.append(rng.choice(".,;:!?-()[]{}<>/\\|\"'`~@#$%^&*+=_"))
            else:
                parts.append("".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 8))))
        out.append("".join(parts))
    for i in range(4):  # long stretches of arbitrary assigned code points
        out.append("".join(chr(rng.choice(pool)) for _ in range(rng.randint(300, 800))))
    for i in range(6):  # whitespace-heavy
        out.append("".join(rng.choice([" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "x", "1", "é"])
                           for _ in range(rng.randint(50, 400))))
    return out


def load_encoding(dirpath, name):
    with open(os.path.join(dirpath, name + ".meta.json")) as f:
        meta = json.load(f)
    ranks = load_tiktoken_bpe(os.path.join(dirpath, name + ".tiktoken"))
    return tiktoken.Encoding(name=name, pat_str=meta["pat_str"], mergeable_ranks=ranks,
                             special_tokens=meta["special_tokens"])


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def hf_corpus(rng):
    words = ["the", "a", "model", "reasons", "about", "numbers", "like", "and", "it's", "they'll", "we're",
             "Hello", "world", "café", "naïve", "résumé", "中文", "文本", "日本語", "😀", "👍🏽", "x", "=", "f(y)",
             "return", "def", "12", "345", "6789", "\n", "  ", "\t", "e\u0301", "a\u0300", "Ωmega"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(5, 40))) for _ in range(2000)]


def hf_tokenizers(out_dir, texts):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    rng = random.Random(99)
    corpus = hf_corpus(rng)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    shapes = {}

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=450, special_tokens=["<|endoftext|>"],
                                                      initial_alphabet=alphabet, show_progress=False))
    shapes["gpt2_style"] = t

    t = Tokenizer(models.BPE(ignore_merges=True))
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=450, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"], initial_alphabet=alphabet,
        show_progress=False))
    shapes["llama3_style"] = t

    t = Tokenizer(models.BPE())
    t.normalizer = normalizers.NFC()
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=450, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], initial_alphabet=alphabet,
        show_progress=False))
    t.add_tokens(["<tool_call>", "</tool_call>"])  # non-special added tokens, as in Qwen2.5
    shapes["qwen2_style"] = t

    extra = ["<|endoftext|>a<|im_start|>user\nhi<|im_end|>", "<tool_call>{\"x\": 1}</tool_call>",
             "<|begin_of_text|>Hello<|end_of_text|>", "Cafe\u0301 re\u0301sume\u0301 A\u030a \u1e9b\u0323",
             "\uac00\u11a8 \u1100\u1161\u11a8 ka\u0300\u0323 \u212b \u2126"]
    golden = {"format": "reasoner-tokenizer-hf-golden", "version": 1, "tokenizers": {}}
    for name, tok in shapes.items():
        fname = f"hf_{name}.json"
        tok.save(os.path.join(out_dir, fname))
        cases = [{"text": x, "ids": tok.encode(x, add_special_tokens=False).ids} for x in texts[:60] + extra]
        golden["tokenizers"][name] = {"file": fname, "vocab_size": tok.get_vocab_size(), "cases": cases}
    with open(os.path.join(out_dir, "hf_golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote hf_golden.json and {len(shapes)} tokenizer.json files", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(root, "..", "shared", "datasets", "tokenizers"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "tokenizer", "tiktoken_golden.json"))
    args = ap.parse_args()

    rng = random.Random(1234)
    texts = FIXED + random_texts(rng, assigned_chars())
    doc = {"format": FORMAT, "version": VERSION, "tiktoken": tiktoken.__version__,
           "unicode": unicodedata.unidata_version, "encodings": {}}
    for name in ENCODINGS:
        enc = load_encoding(args.dir, name)
        cases = [{"text": t, "ids": enc.encode_ordinary(t)} for t in texts]
        cases += [{"text": t, "allowed_special": "all", "ids": enc.encode(t, allowed_special="all")}
                  for t in SPECIAL_TEXTS]
        doc["encodings"][name] = {"n_vocab": enc.n_vocab, "cases": cases}
        print(f"{name}: {len(cases)} cases, {sum(len(c['ids']) for c in cases)} ids", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)
    hf_tokenizers(os.path.dirname(args.out), FIXED)


if __name__ == "__main__":
    main()
