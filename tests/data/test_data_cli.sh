#!/usr/bin/env bash
# test_data_cli.sh: `reasoner data` from the command line: usage errors,
# a run and `data stats`, and crash safety: a run killed with SIGKILL at
# several moments never leaves a half-written shard or done list, and a
# rerun finishes with output identical to an uninterrupted run.
set -u
source "$(dirname "$0")/../lib.sh"

# --- usage -------------------------------------------------------------------
"$BIN" data --help > "$T/help" 2>&1
check "data --help lists run and stats" 'grep -q "run" "$T/help" && grep -q "stats" "$T/help"'
"$BIN" data run --bogus > /dev/null 2> "$T/err"; rc=$?
check "a bad flag exits 2" '[ $rc -eq 2 ] && grep -q "bogus" "$T/err"'
"$BIN" data run --out "$T/x" > /dev/null 2> "$T/err"; rc=$?
check "--input is required" '[ $rc -eq 2 ] && grep -q "input" "$T/err"'
"$BIN" data run --input "$T/nope" --out "$T/x" > /dev/null 2> "$T/err"; rc=$?
check "a missing input exits 1 with its name" '[ $rc -eq 1 ] && grep -q "reasoner data run: .*nope" "$T/err"'
echo '{"c4": {"min_sentence": 1}}' > "$T/bad.json"
"$BIN" data run --config "$T/bad.json" --input "$T" --out "$T/x" > /dev/null 2> "$T/err"; rc=$?
check "a config typo is named" '[ $rc -eq 1 ] && grep -q "c4.min_sentence" "$T/err"'

# --- a corpus of 300 pages of English-like prose ----------------------------------
# Random words in a fixed frame: no 5-gram repeats often enough for Gopher.
nouns=(river garden teacher market window village engine harbor letter mountain library kitchen farmer student
       bridge forest doctor painter station island museum factory journey question morning summer winter shadow
       country picture pocket blanket captain neighbor holiday castle orchard meadow bottle lantern)
verbs=(watched painted carried followed visited described repaired found opened remembered built answered
       cleaned admired measured crossed noticed borrowed explained discovered)
adjs=(quiet old bright narrow heavy gentle distant careful wooden early patient famous simple crowded golden
      busy strange tired silver hidden)
mkdir -p "$T/site"
RANDOM=7
for p in $(seq -w 1 300); do
  {
    echo "<html><body><nav><a href=/>Home</a></nav><article><h1>Page $p</h1>"
    for para in 1 2 3 4 5 6; do
      printf '<p>'
      for s in 1 2 3 4 5 6; do
        printf 'The %s %s %s a %s %s and the %s. ' "${adjs[RANDOM % 20]}" "${nouns[RANDOM % 40]}" \
          "${verbs[RANDOM % 20]}" "${adjs[RANDOM % 20]}" "${nouns[RANDOM % 40]}" "${nouns[RANDOM % 40]}"
      done
      printf '</p>\n'
    done
    echo "</article><footer>Contact</footer></body></html>"
  } > "$T/site/page$p.html"
done
# small parts, so that a killed run has committed some and not others
echo '{"output": {"part_bytes": 20000}}' > "$T/parts.json"

t0=$(date +%s%N)
"$BIN" data run --config "$T/parts.json" --input "$T/site" --out "$T/ref" --threads 2 --no-progress > "$T/run.out" 2> "$T/run.err"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a run succeeds and prints the table" '[ $rc -eq 0 ] && grep -q "^minhash" "$T/run.out"'
check "it writes shards, stats and a done list" '[ -s "$T/ref/shard-00000.jsonl" ] && [ -s "$T/ref/stats.json" ] && [ -s "$T/ref/work/done.json" ]'
"$BIN" data stats "$T/ref" > "$T/stats.out"; rc=$?
check "data stats prints the stages" '[ $rc -eq 0 ] && grep -q "^input .* 300 " "$T/stats.out" && grep -q "^pii" "$T/stats.out"'

# --- kill -9 at several moments, then rerun ----------------------------------------
valid_jsonl() {  # every line of every shard parses: no half-written file
  for f in "$1"/shard-*.jsonl; do
    [ -e "$f" ] || continue
    python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$f" || return 1
  done
  [ ! -e "$1/work/done.json" ] || python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1/work/done.json"
}
# at 5%, 30%, 60% and 90% of an uninterrupted run's time
for pct in 5 30 60 90; do
  delay=$(printf '%d.%03d' $(( ms * pct / 100 / 1000 )) $(( ms * pct / 100 % 1000 )))
  out="$T/kill-$delay"
  "$BIN" data run --config "$T/parts.json" --input "$T/site" --out "$out" --threads 2 --no-progress > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  check "killed after ${delay}s: no half-written file" 'valid_jsonl "$out"'
  echo "     ($(grep -c '"key"' "$out/work/done.json" 2>/dev/null || echo 0) parts had been committed)"
  "$BIN" data run --config "$T/parts.json" --input "$T/site" --out "$out" --threads 1 --no-progress > /dev/null 2> "$T/rerun.err"; rc=$?
  check "killed after ${delay}s: the rerun gives the same output" \
    '[ $rc -eq 0 ] && cmp -s "$out/shard-00000.jsonl" "$T/ref/shard-00000.jsonl" && cmp -s "$out/stats.json" "$T/ref/stats.json"'
  check "killed after ${delay}s: no temp files left" '! ls "$out" "$out/work" | grep -q "\.tmp\."'
done

finish
