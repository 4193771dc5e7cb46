#!/usr/bin/env bash
# Demo stage: pretrain a small base model on the CPU. Tokenizes the cleaned
# documents of 10-data.sh ($DEMO_OUT/data/*.jsonl) plus worked arithmetic
# from the problem generator (its train split: the evaluations test on the
# held-out split) with the tokenizer of 20-tokenizer.sh, pretrains the
# DEMO_MODEL_CONFIG preset (default `tiny`: three times the tokens of `small`
# in the same time) for DEMO_PRETRAIN_SECS of training (--time-budget sets the step
# count from the measured step time, so a faster machine trains longer, never
# more than 5000 steps), then prints the validation loss and a sample.
#   DEMO_PRETRAIN_SECS=60 bash scripts/demo/30-pretrain.sh   # a quick run
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
tok=$DEMO_OUT/tokenizer/tokenizer.json
shards=$DEMO_OUT/shards
out=$DEMO_OUT/pretrain
secs=${DEMO_PRETRAIN_SECS:-240}
[ -f "$tok" ] || { echo "30-pretrain: $tok missing: run 20-tokenizer.sh first" >&2; exit 1; }
# The data stage's output shards (shard-NNNNN.jsonl) sit at the top of data/;
# removed/ and work/ below it hold rejected documents and parts.
mapfile -t docs < <(find "$DEMO_OUT/data" -maxdepth 1 -name '*.jsonl' 2>/dev/null | sort)
[ "${#docs[@]}" -gt 0 ] || { echo "30-pretrain: no $DEMO_OUT/data/*.jsonl: run 10-data.sh first" >&2; exit 1; }
mkdir -p "$out"

echo "--- arithmetic text from the generator (train split)"
"$REASONER" problems gen arith --n 4000 --seed 11 --split train --digits 1 --steps 2 --ops +- --text -o "$out/arith.jsonl"
"$REASONER" problems gen arith --n 30000 --seed 12 --split train --digits 1 --steps 3 --ops +- --text -o "$out/arith3.jsonl"

echo "--- tokenize ${#docs[@]} document file(s) + arithmetic -> $shards"
"$REASONER" tokenize --tokenizer "$tok" --input "${docs[@]}" "$out/arith.jsonl" "$out/arith3.jsonl" \
  --out "$shards" --val-fraction 0.02 | tee "$out/tokenize.txt"

echo "--- pretrain the small preset for $secs s"
rm -rf "$out/final" "$out/metrics.jsonl"
"$REASONER" pretrain --data "$shards" --model-config "${DEMO_MODEL_CONFIG:-tiny}" --out "$out" --time-budget "$secs" --steps "${DEMO_PRETRAIN_STEPS:-5000}" \
  --batch-size "${DEMO_PRETRAIN_BATCH:-16}" --seq-len 256 --lr 3e-3 --min-lr 3e-4 --warmup 20 --eval-every 50 --eval-batches 8 \
  --sample-every 100 --seed $((1336 + ${DEMO_SEED:-1})) | tee "$out/pretrain.txt"

echo "--- sample from $out/final"
"$REASONER" sample --model "$out/final" --prompt "In Python, " --max-tokens 60 --temperature 0.8 --seed 1 \
  | tee "$out/sample.txt"

python3 - "$shards/shards.json" "$out/pretrain.txt" "$out/sample.txt" >> "$DEMO_OUT/summary.tsv" <<'PY'
import json, sys
man = json.load(open(sys.argv[1]))
res = dict(l.split(": ", 1) for l in open(sys.argv[2]).read().splitlines() if ": " in l)
sample = next((l.strip() for l in open(sys.argv[3]).read().splitlines() if l.strip()), "")
print(f"pretrain\ttokens in shards (train/val)\t{man['train']['tokens']} / {man['val']['tokens']}")
print(f"pretrain\tparams\t{res['params']}")
print(f"pretrain\tsteps x tokens\t{res['steps']} x {int(res['tokens']) // max(1, int(res['steps']))}")
print(f"pretrain\tfinal train loss\t{res['train_loss']}")
print(f"pretrain\tval loss\t{res['val_loss']}")
print(f"pretrain\ttokens/s (MFU)\t{res['tokens_per_s']} ({res['mfu']})")
print(f"pretrain\tsample (first line)\t{sample[:60]}")
PY
