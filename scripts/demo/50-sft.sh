#!/usr/bin/env bash
# Demo stage: supervised fine-tuning. The generator's worked solutions of
# the task (train split) become chat conversations (`problems to-chat`: the
# prompt eval uses as the user turn, the step-by-step solution ending in
# \boxed{} as the assistant turn); `reasoner sft` adds the chat tokens to the
# base tokenizer, packs the conversations into rows and trains on the
# assistant tokens only, for DEMO_SFT_SECS.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
base=${DEMO_MODEL:-$DEMO_OUT/pretrain/final}
out=$DEMO_OUT/sft
secs=${DEMO_SFT_SECS:-120}
mkdir -p "$out"
"$REASONER" problems gen arith --n 20000 --seed 21 --split train --digits 1 --steps 3 --ops +- -o "$out/problems.jsonl"
"$REASONER" problems to-chat "$out/problems.jsonl" -o "$out/chats.jsonl"
rm -rf "$out/final" "$out/metrics.jsonl"
"$REASONER" sft --model "$base" --data "$out/chats.jsonl" --out "$out" --time-budget "$secs" --steps 2000 \
  --batch-size 8 --seq-len 256 --lr "${DEMO_SFT_LR:-1e-3}" --min-lr 1e-4 --warmup 10 --eval-every 25 --seed 7 \
  | tee "$out/sft.txt"
python3 - "$out/sft.txt" >> "$DEMO_OUT/summary.tsv" <<'PY'
import sys
res = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines() if ": " in l)
print(f"sft\tconversations\t{res['conversations']}")
print(f"sft\tsteps, trained tokens\t{res['steps']}, {res['trained_tokens']}")
print(f"sft\theld-out loss (before -> after)\t{res['val_loss']}")
print(f"sft\ttokens/s (MFU)\t{res['tokens_per_s']} ({res['mfu']})")
PY
