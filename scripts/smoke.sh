#!/usr/bin/env bash
# A short end-to-end smoke run of the built binary: every command answers
# --help, and a bad flag exits 2. Grows with the stages that exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD:-build}/reasoner
"$bin" --help >/dev/null
cmds=$("$bin" --help | awk '/^commands:/{on=1; next} on && NF==0{exit} on{print $1}')
for c in $cmds; do
  "$bin" "$c" --help >/dev/null || { echo "smoke: '$c --help' failed"; exit 1; }
done
set +e
"$bin" version --no-such-flag 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "smoke: bad flag exit status $rc, want 2"; exit 1; }
echo "smoke: $(echo $cmds | wc -w) commands answer --help; bad flags exit 2"

# A miniature of the whole flow on a few pages of Python's documentation
# (python3-doc, installed by install-deps.sh): every stage runs for real on
# tiny sizes and hands its output to the next.
docs=/usr/share/doc/python3-doc/html/library
[ -d "$docs" ] || { echo "smoke: $docs missing (scripts/install-deps.sh installs python3-doc)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export REASONER_PROGRESS_SECS=60
run() { echo "smoke: reasoner $*"; "$bin" "$@" >"$tmp/last.log" 2>&1 || { cat "$tmp/last.log"; echo "smoke: 'reasoner $1' failed"; exit 1; }; }
run data run --config configs/data-demo.json --input "$docs"/os.html "$docs"/re.html "$docs"/json.html \
  "$docs"/string.html "$docs"/functions.html --out "$tmp/data"
run tokenizer train --input "$tmp"/data/shard-00000.jsonl --vocab 512 --out "$tmp/tok"
run problems gen arith --n 300 --seed 1 --split train --digits 2 --text -o "$tmp/arith.jsonl"
run tokenize --tokenizer "$tmp/tok" --input "$tmp"/data/shard-00000.jsonl "$tmp/arith.jsonl" --out "$tmp/shards"
run pretrain --data "$tmp/shards" --model-config test --steps 4 --batch-size 2 --seq-len 32 --eval-every 2 --out "$tmp/run"
run sample --model "$tmp/run/final" --prompt "The" --max-tokens 8 --seed 1
run problems gen arith --n 4 --seed 2 --split test --digits 1 -o "$tmp/test.jsonl"
run eval --model "$tmp/run/final" --problems "$tmp/test.jsonl" --no-chat -k 2 --max-tokens 8 --farm local:1 --out "$tmp/eval"
run plot "$tmp/run/metrics.jsonl" -o "$tmp/report.html"
for f in data/stats.json tok/tokenizer.json run/final/model.safetensors eval/summary.json eval/report.html report.html; do
  [ -s "$tmp/$f" ] || { echo "smoke: $f was not written"; exit 1; }
done
echo "smoke: data -> tokenizer -> shards -> pretrain -> sample -> eval -> plot: all stages ran"
