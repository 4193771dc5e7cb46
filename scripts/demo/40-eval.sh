#!/usr/bin/env bash
# Demo stage: evaluate the pretrained base model few-shot on held-out
# two-digit additions and subtractions (the generator's test split, never seen in pretraining),
# graded through a local verifier farm; prints avg@k, pass@k and maj@k.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
model=${DEMO_MODEL:-$DEMO_OUT/pretrain/final}
out=$DEMO_OUT/eval
mkdir -p "$out"
"$REASONER" problems gen arith --n 40 --seed 101 --split test --digits 2 --steps 1 --ops +- -o "$out/arith_test.jsonl"
"$REASONER" problems gen arith --n 8 --seed 102 --split train --digits 2 --steps 1 --ops +- -o "$out/shots.jsonl"
"$REASONER" eval --model "$model" --problems "$out/arith_test.jsonl" --no-chat \
  --few-shot 3 --few-shot-from "$out/shots.jsonl" -k 4 --temperature 0.7 --max-tokens 48 \
  --farm local:2 --out "$out" | tee "$out/table.txt"
python3 - "$out/summary.json" >> "$DEMO_OUT/summary.tsv" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["sets"]["arith_test"]
print(f"eval\tproblems x samples\t{m['n_problems']} x {m['n_samples'] // max(1, m['n_problems'])}")
for key in ("avg@4", "pass@4", "maj@4"):
    print(f"eval\t{key} (held-out arithmetic)\t{m.get(key, float('nan')):.3f}")
PY
printf 'eval\treport\t%s\n' "$out/report.html" >> "$DEMO_OUT/summary.tsv"
