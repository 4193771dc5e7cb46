#!/usr/bin/env python3
"""hf_parity.py: Hugging Face folders shaped like real Hub models, made by
transformers and tokenizers, and the checks reasoner is held to against them.

    python3 -m venv V && V/bin/pip install torch transformers tokenizers safetensors jinja2
    V/bin/python scripts/hf_parity.py tokenizers tests/fixtures/hf   # small, committed
    V/bin/python scripts/hf_parity.py models CACHE                  # ~3.5 GB, not committed
    V/bin/python scripts/hf_parity.py check-export CACHE/qwen2.5-0.5b EXPORTED_DIR
    V/bin/python scripts/hf_parity.py check-ours EXPORTED_DIR    # a model of ours, exported
    V/bin/python scripts/hf_parity.py load-time CACHE/qwen2.5-0.5b

Families (the real configs, cut to 2 layers; random weights):
  qwen2.5-0.5b       Qwen2.5-0.5B       (C 896,  NH 14, NKV 2, F 4864, V 151936, tied, bias, theta 1e6)
  qwen2.5-math-1.5b  Qwen2.5-Math-1.5B  (C 1536, NH 12, NKV 2, F 8960, V 151936, tied, bias, theta 1e4)
  llama-3.2-1b       Llama-3.2-1B       (C 2048, NH 32, NKV 8, F 8192, V 128256, tied, head_dim 64,
                                         rope_theta 5e5, rope_scaling llama3 factor 32)

`tokenizers` writes, per family, a folder as the Hub has it minus the
weights: tokenizer.json built by the `tokenizers` library with the family's
normaliser, pre-tokenizer regex, post-processor and special tokens (a small
trained vocabulary: the specials follow it), tokenizer_config.json with the
family's chat_template (Jinja) and generation_config.json; plus
expected.json: apply_chat_template(..., add_generation_prompt=True) text and
ids for several conversations, and encodings of a few texts with and without
add_special_tokens. tests/tokenizer/test_chat_hf.c reads them (no Python).

`models` writes the same folders with config.json and random weights saved
as the Hub does (bf16, sharded at 200MB, model.safetensors.index.json) under
CACHE/<family>/, and CACHE/<family>/expected.safetensors: prompt ids, the
fp32 forward logits of transformers (weights read from those bf16 files,
upcast), and greedy generation of 64 tokens. tests/model/test_hf_parity.c
reads them and skips with a reason when CACHE is missing.
"""
import json
import os
import shutil
import sys
import time

FAMILIES = ["qwen2.5-0.5b", "qwen2.5-math-1.5b", "llama-3.2-1b"]

QWEN_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_PAT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

# Qwen2.5's chat template (Qwen2.5-0.5B-Instruct, tokenizer_config.json).
QWEN25_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'SYSTEM_DEFAULT' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nSYSTEM_DEFAULT<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\\\boxed{}."

# Llama 3.1 / 3.2's chat template (tools branches included, as published).
LLAMA32_TEMPLATE = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {{- message.content }}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

CONFIGS = {
    "qwen2.5-0.5b": dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=896, intermediate_size=4864,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, max_window_layers=24,
        rms_norm_eps=1e-6, rope_theta=1000000.0, sliding_window=32768, tie_word_embeddings=True,
        use_sliding_window=False, vocab_size=151936, hidden_act="silu", torch_dtype="bfloat16"),
    "qwen2.5-math-1.5b": dict(
        architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=1536, intermediate_size=8960,
        num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=4096, max_window_layers=21,
        rms_norm_eps=1e-6, rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=True,
        use_sliding_window=False, use_mrope=False, vocab_size=151936, hidden_act="silu", torch_dtype="bfloat16"),
    "llama-3.2-1b": dict(
        architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=2048, intermediate_size=8192,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, attention_bias=False, mlp_bias=False, pretraining_tp=1,
        rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        tie_word_embeddings=True, vocab_size=128256, hidden_act="silu", torch_dtype="bfloat16"),
}

TRAIN_TEXT = """The quick brown fox jumps over the lazy dog. Solve 12 + 35 = 47; then 3*x = 12 so x = 4.
Please reason step by step, and put your final answer within \\boxed{}. The answer is \\boxed{42}.
def add(a, b):\n    return a + b\n\nCafé naïve résumé — 東京 北京 数学 問題 ünïcödé 12345 67890
You are a helpful assistant. What is the capital of France? Paris is the capital of France.
"""

CONVERSATIONS = [
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3*7?"}],
    [{"role": "user", "content": "Solve x^2 = 9. Café, naïve, 東京."}],
    [{"role": "system", "content": "  Be precise.\n"}, {"role": "user", "content": "\n  spaced  \n"},
     {"role": "assistant", "content": "\nfine\n\n"}, {"role": "user", "content": "<|im_end|> typed in text"}],
]
ENCODE_TEXTS = ["Hello world", "The answer is \\boxed{42}.", "e\u0301cole Cafe\u0301 東京 12345", "  two  spaces\n\nnew"]
LLAMA_DATE = "26 Jul 2024"


def family_specs(name):
    if name.startswith("qwen"):
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                    "<|box_start|>", "<|box_end|>", "<tool_call>", "</tool_call>"]
        system = QWEN_MATH_SYSTEM if "math" in name else QWEN_SYSTEM
        template = QWEN25_TEMPLATE.replace("SYSTEM_DEFAULT", system)
        return dict(pattern=QWEN_PAT, nfc=True, specials=specials, bos=None, template=template,
                    eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                    gen_eos=["<|im_end|>", "<|endoftext|>"] if "math" not in name else ["<|endoftext|>"])
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    return dict(pattern=LLAMA3_PAT, nfc=False, specials=specials, bos="<|begin_of_text|>", template=LLAMA32_TEMPLATE,
                eos_token="<|end_of_text|>", pad_token=None, gen_eos=["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"])


def build_tokenizer(spec):
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                            processors, trainers)
    tok = Tokenizer(models.BPE())
    if spec["nfc"]:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(spec["pattern"]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator([TRAIN_TEXT] * 20, trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in spec["specials"]])
    if spec["bos"]:
        bos_id = tok.token_to_id(spec["bos"])
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            processors.TemplateProcessing(single=f"{spec['bos']} $A", pair=f"{spec['bos']} $A {spec['bos']} $B:1",
                                          special_tokens=[(spec["bos"], bos_id)])])
    else:
        tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tok


def write_tokenizer_folder(name, out):
    """tokenizer.json, tokenizer_config.json (chat_template inside, as on the Hub),
    special_tokens_map.json, generation_config.json; returns the spec."""
    spec = family_specs(name)
    os.makedirs(out, exist_ok=True)
    tok = build_tokenizer(spec)
    tok.save(os.path.join(out, "tokenizer.json"))
    added = {str(tok.token_to_id(s)): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True} for s in spec["specials"]}
    cfg = {"added_tokens_decoder": added, "bos_token": spec["bos"], "chat_template": spec["template"],
           "clean_up_tokenization_spaces": False, "eos_token": spec["eos_token"], "model_max_length": 131072,
           "tokenizer_class": "PreTrainedTokenizerFast"}
    if spec["pad_token"]:
        cfg["pad_token"] = spec["pad_token"]
    if name.startswith("qwen"):
        cfg.update({"add_prefix_space": False, "errors": "replace", "split_special_tokens": False,
                    "unk_token": None, "additional_special_tokens": spec["specials"][1:]})
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    ids = [tok.token_to_id(s) for s in spec["gen_eos"]]
    gen = {"bos_token_id": tok.token_to_id(spec["bos"] or "<|endoftext|>"),
           "eos_token_id": ids if len(ids) > 1 else ids[0], "do_sample": False, "max_new_tokens": 2048}
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    return spec, tok


def chat_expectations(folder, name):
    from transformers import AutoTokenizer
    at = AutoTokenizer.from_pretrained(folder)
    out = {"family": name, "chats": [], "encodings": []}
    kw = {"date_string": LLAMA_DATE} if name.startswith("llama") else {}
    for conv in CONVERSATIONS:
        text = at.apply_chat_template(conv, tokenize=False, add_generation_prompt=True, **kw)
        ids = at.apply_chat_template(conv, tokenize=True, add_generation_prompt=True, **kw)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        out["chats"].append({"messages": conv, "text": text, "ids": list(ids)})
    for t in ENCODE_TEXTS:
        out["encodings"].append({"text": t, "ids": at(t, add_special_tokens=False)["input_ids"],
                                 "ids_special": at(t)["input_ids"]})
    out["eos_token_ids"] = json.load(open(os.path.join(folder, "generation_config.json")))["eos_token_id"]
    out["llama_date"] = LLAMA_DATE
    return out


def cmd_tokenizers(out):
    for name in FAMILIES:
        d = os.path.join(out, name)
        write_tokenizer_folder(name, d)
        exp = chat_expectations(d, name)
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1, ensure_ascii=False)
        print(f"{d}: {len(exp['chats'])} chats, {len(exp['encodings'])} encodings")


def randomize(model, seed):
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif n.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))


def cmd_models(out, only=None):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForCausalLM
    torch.manual_seed(0)
    for i, name in enumerate(FAMILIES):
        if only and name not in only:
            continue
        d = os.path.join(out, name)
        spec, tok = write_tokenizer_folder(name, d)
        c = dict(CONFIGS[name], num_hidden_layers=2)
        c["bos_token_id"] = tok.token_to_id(spec["bos"] or "<|endoftext|>")
        c["eos_token_id"] = tok.token_to_id(spec["eos_token"])
        cfg = AutoConfig.for_model(**{k: v for k, v in c.items() if k != "architectures"})
        cfg.architectures = c["architectures"]
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
        randomize(model, 100 + i)
        model = model.to(torch.bfloat16)
        model.save_pretrained(d, max_shard_size="200MB")
        write_tokenizer_folder(name, d)  # again: save_pretrained wrote its own generation_config.json
        if name.startswith("llama"):  # as the Hub has it (transformers 4): rope_theta and rope_scaling
            cj = json.load(open(os.path.join(d, "config.json")))
            rp = cj.pop("rope_parameters")
            cj["rope_theta"] = rp.pop("rope_theta")
            cj["rope_scaling"] = rp
            cj["torch_dtype"] = cj.pop("dtype", "bfloat16")
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cj, f, indent=2)
        # The reference: the bf16 files read back and computed in fp32.
        ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        text = "The answer is \\boxed{42}. Café 東京 12345 def add(a, b): return a + b"
        ids = tok.encode(text, add_special_tokens=False).ids
        g = torch.Generator().manual_seed(7)
        ids = ids + torch.randint(0, cfg.vocab_size, (40 - len(ids),), generator=g).tolist()
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = ref(input_ids=x).logits.float()[0]
            greedy = ref.generate(x[:, :16], max_new_tokens=64, do_sample=False, min_new_tokens=64,
                                  eos_token_id=None, pad_token_id=0)[0, 16:]
        save_file({"ids": torch.tensor(ids, dtype=torch.int32), "logits": logits.contiguous(),
                   "greedy": greedy.to(torch.int32).contiguous()},
                  os.path.join(d, "expected.safetensors"),
                  metadata={"format": "reasoner-hf-parity", "version": "1", "prompt_len": "16"})
        exp = chat_expectations(d, name)
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1, ensure_ascii=False)
        shards = sorted(f for f in os.listdir(d) if f.endswith(".safetensors") and f.startswith("model"))
        print(f"{d}: {sum(p.numel() for p in ref.parameters())} params, {len(shards)} shards, "
              f"logits {tuple(logits.shape)} max|.| {logits.abs().max():.3f}, greedy {greedy[:8].tolist()}...")
        del model, ref


def cmd_check_export(orig, exported):
    """The exported folder loads in transformers without missing/unexpected
    keys, its weights equal the original's bit for bit, its tokenizer encodes
    and renders chats as the original's."""
    import logging
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    records = []

    class Catch(logging.Handler):
        def emit(self, r):
            records.append(r.getMessage())
    hf_logging.get_logger().addHandler(Catch())
    hf_logging.set_verbosity_warning()
    a = AutoModelForCausalLM.from_pretrained(orig, dtype=torch.float32)
    records.clear()
    b, info = AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    warn = [r for r in records if "missing" in r.lower() or "unexpected" in r.lower() or "not initialized" in r.lower()]
    sa, sb = a.state_dict(), b.state_dict()
    diff = [k for k in sa if k not in sb or not torch.equal(sa[k], sb[k])]
    ta, tb = AutoTokenizer.from_pretrained(orig), AutoTokenizer.from_pretrained(exported)
    name = os.path.basename(orig.rstrip("/"))
    kw = {"date_string": LLAMA_DATE} if name.startswith("llama") else {}
    chat_diff = [i for i, c in enumerate(CONVERSATIONS)
                 if ta.apply_chat_template(c, tokenize=False, add_generation_prompt=True, **kw) !=
                 tb.apply_chat_template(c, tokenize=False, add_generation_prompt=True, **kw)]
    enc_diff = [t for t in ENCODE_TEXTS if ta(t)["input_ids"] != tb(t)["input_ids"]]
    gen_a = json.load(open(os.path.join(orig, "generation_config.json")))["eos_token_id"]
    gen_b = json.load(open(os.path.join(exported, "generation_config.json")))["eos_token_id"]
    print(f"{exported}: {type(b).__name__}, {len(sa)} tensors, differing {len(diff)}; loading info {bad or 'clean'}; "
          f"warnings {warn or 'none'}; chats differing {chat_diff}; encodings differing {enc_diff}; "
          f"eos {gen_a} -> {gen_b}")
    ok = not diff and not bad and not warn and not chat_diff and not enc_diff and \
        sorted(gen_a if isinstance(gen_a, list) else [gen_a]) == sorted(gen_b if isinstance(gen_b, list) else [gen_b])
    print("round trip:", "exact" if ok else "DIFFERS", ("" if not diff else f"(first: {diff[:3]})"))
    return 0 if ok else 1


def cmd_check_ours(folder):
    """A folder `reasoner export` wrote for a model of ours loads in
    transformers with no missing/unexpected keys, and its tokenizer starts
    text with <|endoftext|> (our BOS) and renders ChatML as our renderer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    m, info = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    t = AutoTokenizer.from_pretrained(folder)
    chat = t.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    want = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    bos_ok = t("hi")["input_ids"][0] == t.convert_tokens_to_ids("<|endoftext|>")
    print(f"{folder}: {type(m).__name__}; loading info {bad or 'clean'}; chat {'ChatML' if chat == want else repr(chat)}; "
          f"BOS <|endoftext|> {bos_ok}")
    return 0 if not bad and chat == want and bos_ok else 1


def cmd_load_time(folder):
    """transformers' from_pretrained on CPU: seconds and peak RSS (this
    process does nothing else), as one JSON line for bench/load."""
    import resource
    t0 = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    t = time.perf_counter() - t0
    n = sum(p.numel() for p in m.parameters())
    print(json.dumps({"seconds": t, "import_seconds": t_import, "params": n,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
    return 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "tokenizers":
        sys.exit(cmd_tokenizers(a[1]))
    if len(a) >= 2 and a[0] == "models":
        sys.exit(cmd_models(a[1], a[2:]))
    if len(a) == 3 and a[0] == "check-export":
        sys.exit(cmd_check_export(a[1], a[2]))
    if len(a) == 2 and a[0] == "check-ours":
        sys.exit(cmd_check_ours(a[1]))
    if len(a) == 2 and a[0] == "load-time":
        sys.exit(cmd_load_time(a[1]))
    sys.exit(__doc__)
