#!/usr/bin/env python3
"""bench/trl_grpo.py: the baseline for bench/rl_step — TRL's GRPOTrainer on CPU
(torch) with the same model (the HF folder bench/rl_step wrote), the same
prompts, group size, prompts per step and completion length. Prints one JSON
line: {"trl_version", "torch_version", "steps", "step_s": [...], "threads"}.

  python3 bench/trl_grpo.py MODEL_DIR PROMPTS.jsonl G P MAX_TOKENS STEPS THREADS
Needs torch, transformers, trl, datasets (a throwaway venv: pip install trl).
"""
import json, re, sys, time

def main():
    model_dir, prompts_path, G, P, max_tokens, steps, threads = sys.argv[1:8]
    G, P, max_tokens, steps, threads = int(G), int(P), int(max_tokens), int(steps), int(threads)
    import torch, transformers, trl, datasets
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, TrainerCallback
    torch.set_num_threads(threads)
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{model_dir}/tokenizer.json", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>")
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    rows = [json.loads(l) for l in open(prompts_path)]
    ds = datasets.Dataset.from_list([{"prompt": r["text"], "answer": r["answer"]} for r in rows])

    def reward(completions, answer, **kw):
        out = []
        for c, a in zip(completions, answer):
            m = re.findall(r"\\boxed\{([^}]*)\}", c)
            out.append(1.0 if m and m[-1].strip() == a else 0.0)
        return out

    times = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

    cfg = trl.GRPOConfig(output_dir="/tmp/trl_grpo_bench", per_device_train_batch_size=G * P, num_generations=G,
                         gradient_accumulation_steps=1, max_completion_length=max_tokens, max_steps=steps,
                         learning_rate=1e-5, beta=0.0, logging_steps=1000, save_strategy="no", report_to=[],
                         use_cpu=True, bf16=False, temperature=1.0, dataloader_num_workers=0, seed=1)
    trainer = trl.GRPOTrainer(model=model, reward_funcs=reward, args=cfg, train_dataset=ds, processing_class=tok,
                              callbacks=[Clock()])
    trainer.train()
    print(json.dumps({"trl_version": trl.__version__, "torch_version": torch.__version__, "steps": steps,
                      "step_s": times, "threads": threads}))

if __name__ == "__main__":
    main()
