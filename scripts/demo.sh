#!/usr/bin/env bash
# The end-to-end demo (`make demo`): runs, in order, every stage that exists
# (scripts/demo/NN-stage.sh), each on the built-in default data, then prints
# what each stage achieved and where the outputs are. A stage fragment reads
# and writes under $DEMO_OUT and appends rows "stage<TAB>what<TAB>value" to
# $DEMO_OUT/summary.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export REASONER="$PWD/$BUILD/reasoner"
export DEMO_OUT=${DEMO_OUT:-$PWD/out/demo}
mkdir -p "$DEMO_OUT"
: > "$DEMO_OUT/summary.tsv"
: > "$DEMO_OUT/accuracy.tsv"
t0=$(date +%s)
for stage in scripts/demo/[0-9]*.sh; do
  [ -e "$stage" ] || continue
  name=$(basename "$stage" .sh)
  echo
  echo "=== demo stage ${name#*-} ($(( $(date +%s) - t0 )) s so far)"
  s0=$(date +%s)
  bash "$stage"
  printf '%s\t%s\t%s\n' "${name#*-}" "time" "$(( $(date +%s) - s0 )) s" >> "$DEMO_OUT/summary.tsv"
done
echo
echo "=== demo done in $(( $(date +%s) - t0 )) s; outputs in $DEMO_OUT"
printf '%-12s %-36s %s\n' "stage" "what" "value"
printf '%-12s %-36s %s\n' "-----" "----" "-----"
while IFS=$'\t' read -r stage what value; do
  printf '%-12s %-36s %s\n' "$stage" "$what" "$value"
done < "$DEMO_OUT/summary.tsv"
echo
echo "held-out accuracy on $(wc -l < "$DEMO_OUT/heldout.jsonl" 2>/dev/null || echo '?') problems the model never trained on:"
while IFS=$'\t' read -r stage what value; do
  printf '  %-36s %s\n' "$what" "$value"
done < "$DEMO_OUT/accuracy.tsv"
echo "report: $DEMO_OUT/report.html"
