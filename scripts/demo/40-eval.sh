#!/usr/bin/env bash
# Demo stage: evaluate the pretrained base model few-shot on the held-out
# task every later stage is measured on: DEMO_TASK_STEPS-step (default two)
# additions and subtractions of one-digit numbers ("What is 8 - 4 + 9?"),
# DEMO_EVAL_N problems of the generator's test split, never seen in training. Graded through a local verifier farm; avg@k,
# pass@k and maj@k. The same set and sampling settings serve the SFT and RL
# evaluations (60-rl.sh), so the three figures compare.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
model=${DEMO_MODEL:-$DEMO_OUT/pretrain/final}
out=$DEMO_OUT/eval
mkdir -p "$out"
"$REASONER" problems gen arith --n "${DEMO_EVAL_N:-200}" --seed 101 --split test --digits 1 --steps "${DEMO_TASK_STEPS:-2}" --ops +- \
  -o "$DEMO_OUT/heldout.jsonl"
"$REASONER" problems gen arith --n 8 --seed 102 --split train --digits 1 --steps "${DEMO_TASK_STEPS:-2}" --ops +- -o "$out/shots.jsonl"
"$REASONER" eval --model "$model" --problems "$DEMO_OUT/heldout.jsonl" --no-chat \
  --few-shot 3 --few-shot-from "$out/shots.jsonl" -k 4 --temperature "${DEMO_EVAL_TEMPERATURE:-1.0}" --max-tokens 64 \
  --farm local:2 --out "$out" | tee "$out/table.txt"
python3 - "$out/summary.json" >> "$DEMO_OUT/summary.tsv" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["sets"]["heldout"]
print(f"eval\tbase, few-shot: problems x samples\t{m['n_problems']} x {m['n_samples'] // max(1, m['n_problems'])}")
print(f"eval\tbase, few-shot: avg@4 / pass@4 / maj@4\t{m['avg@4']:.3f} / {m['pass@4']:.3f} / {m['maj@4']:.3f}")
PY
printf 'accuracy\tafter pretraining (few-shot avg@4)\t%s\n' \
  "$(python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["sets"]["heldout"]["avg@4"])' "$out/summary.json")" \
  >> "$DEMO_OUT/accuracy.tsv"
