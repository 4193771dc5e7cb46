#!/usr/bin/env bash
# Demo stage: train the byte-level BPE tokenizer that pretraining uses, on
# the documents the data stage wrote ($DEMO_OUT/data/*.jsonl, {"text"} per
# line), with the chat and tool-call specials appended; then report its
# vocab size, bytes per token on that corpus and a round trip.
# Output: $DEMO_OUT/tokenizer/tokenizer.json (Hugging Face format).
# Budget: under 60 s on 2 cores.
#   DEMO_TOKENIZER_VOCAB=8192 bash scripts/demo/20-tokenizer.sh
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
out=$DEMO_OUT/tokenizer
vocab=${DEMO_TOKENIZER_VOCAB:-4096}
mapfile -t docs < <(find "$DEMO_OUT/data" -maxdepth 1 -name '*.jsonl' 2>/dev/null | sort)
if [ "${#docs[@]}" -eq 0 ]; then
  echo "20-tokenizer: no corpus: $DEMO_OUT/data/*.jsonl is missing (run scripts/demo/10-data.sh first)" >&2
  exit 1
fi
mkdir -p "$out"
mb=$(cat "${docs[@]}" | wc -c | awk '{printf "%.1f", $1 / 1e6}')

echo "--- train a $vocab-token BPE on ${#docs[@]} file(s), $mb MB of JSONL"
t0=$(date +%s.%N)
"$REASONER" tokenizer train --input "${docs[@]}" --vocab "$vocab" --out "$out" | tee "$out/train.txt"
t1=$(date +%s.%N)

echo "--- stats on the corpus"
"$REASONER" tokenizer stats --tokenizer "$out" "${docs[@]}" | tee "$out/stats.txt"

echo "--- round trip"
sample='The model reasons step by step: 12 + 30 = 42. <|im_start|>user'
ids=$(printf '%s' "$sample" | "$REASONER" tokenizer encode --tokenizer "$out" --special)
back=$(printf '%s' "$ids" | "$REASONER" tokenizer decode --tokenizer "$out")
echo "text:  $sample"
echo "ids:   $ids"
echo "back:  $back"
[ "$back" = "$sample" ] || { echo "20-tokenizer: round trip failed" >&2; exit 1; }

size=$(awk '/^vocab size:/ {print $3}' "$out/stats.txt")
bpt=$(awk '/ bytes, .* tokens, bytes\/token/ { for (i = 1; i <= NF; i++) { if ($i == "bytes,") b += $(i-1); if ($i == "tokens,") t += $(i-1) } }
           END { if (t) printf "%.2f", b / t; else print "n/a" }' "$out/stats.txt")
{
  printf 'tokenizer\tvocab size\t%s\n' "$size"
  printf 'tokenizer\tbytes/token on the corpus\t%s\n' "$bpt"
  printf 'tokenizer\ttrain time (%s MB)\t%.1f s\n' "$mb" "$(echo "$t1 - $t0" | bc -l)"
} >> "$DEMO_OUT/summary.tsv"
