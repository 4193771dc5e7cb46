#!/usr/bin/env bash
# Demo stage: supervised fine-tuning. The generator's worked solutions of
# the task (train split) become chat conversations (`problems to-chat`: the
# prompt eval uses as the user turn, the step-by-step solution ending in
# \boxed{} as the assistant turn). As in data gathered from the web, a share
# of them (DEMO_SFT_ANSWER_ONLY, default half) answers at once with no
# working: the SFT model then does both, and RL (60-rl.sh) has something to
# find out, that working the problem out pays. `reasoner sft` adds the chat
# tokens to the base tokenizer, packs the conversations into rows and trains
# on the assistant tokens only, for DEMO_SFT_SECS.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
base=${DEMO_MODEL:-$DEMO_OUT/pretrain/final}
out=$DEMO_OUT/sft
secs=${DEMO_SFT_SECS:-120}
mkdir -p "$out"
"$REASONER" problems gen arith --n "${DEMO_TRAIN_N:-4000}" --seed 21 --split train --digits 1 --steps "${DEMO_TASK_STEPS:-2}" --ops +- \
  -o "$out/problems.jsonl"
"$REASONER" problems to-chat "$out/problems.jsonl" --answer-only "${DEMO_SFT_ANSWER_ONLY:-0.5}" -o "$out/chats.jsonl"
rm -rf "$out/final" "$out/metrics.jsonl"
"$REASONER" sft --model "$base" --data "$out/chats.jsonl" --out "$out" --time-budget "$secs" --steps "${DEMO_SFT_STEPS:-2000}" \
  --batch-size 8 --seq-len 256 --lr "${DEMO_SFT_LR:-1e-3}" --min-lr 1e-4 --warmup 10 --eval-every 25 --seed $((6 + ${DEMO_SEED:-1})) \
  | tee "$out/sft.txt"
python3 - "$out/sft.txt" "$out/chats.jsonl" >> "$DEMO_OUT/summary.tsv" <<'PY'
import json, sys
res = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines() if ": " in l)
chats = [json.loads(l)["messages"][-1]["content"] for l in open(sys.argv[2])]
brief = sum(c.startswith("The answer is") for c in chats)
print(f"sft\tconversations\t{res['conversations']}")
print(f"sft\tanswered at once, no working\t{brief} of {len(chats)}")
print(f"sft\tsteps, trained tokens\t{res['steps']}, {res['trained_tokens']}")
after, _, first = res['val_loss'].partition(" (first ")
print(f"sft\theld-out loss (before -> after)\t{first.rstrip(')') or '?'} -> {after}")
print(f"sft\ttokens/s (MFU)\t{res['tokens_per_s']} ({res['mfu']})")
PY
