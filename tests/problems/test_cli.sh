#!/usr/bin/env bash
# test_cli.sh: `reasoner problems convert|stats|gen` and `reasoner plot` end to
# end on fixtures written here: outputs, exit codes (0 ok, 1 failure, 2 usage),
# errors naming file:line:field, --skip-bad counts, atomic output, and a report
# that is one self-contained HTML file.
set -u
source "$(dirname "$0")/../lib.sh"

cat >"$T/gsm.jsonl" <<'EOF'
{"question": "Tom has 3 apples and buys 1,200 more. How many?", "answer": "3 + 1200 = <<3+1200=1203>>1203\n#### 1,203"}
{"question": "What is 2 + 2?", "answer": "#### 4"}
EOF
cat >"$T/bad.jsonl" <<'EOF'
{"question": "q0", "answer": "#### 1"}
{"question": "q1"}
{"question": "q2", "answer": "#### 2"}
EOF

# ---- convert ----
run "convert to stdout" 0 "$R" problems convert "$T/gsm.jsonl"
check "convert writes 2 records" [ "$(wc -l <"$T/out")" -eq 2 ]
check "convert maps the answer" has "$T/out" '"answer":"1203"'
check "convert gives ids" has "$T/out" '"id":"gsm/1"'
echo "old content" >"$T/keep.jsonl"
run "convert bad file fails" 1 "$R" problems convert "$T/gsm.jsonl" "$T/bad.jsonl" -o "$T/keep.jsonl"
check "error names file:line:field" has "$T/err" "bad.jsonl:2: field 'answer': missing"
check "failed convert leaves the output alone" has "$T/keep.jsonl" "old content"
run "convert --skip-bad" 0 "$R" problems convert "$T/bad.jsonl" --skip-bad -o "$T/skip.jsonl"
check "skip count reported" has "$T/err" "skipped 1 bad record"
check "skipped file has 2 records" [ "$(wc -l <"$T/skip.jsonl")" -eq 2 ]
run "ids repeated across files" 1 "$R" problems convert "$T/skip.jsonl" "$T/skip.jsonl"
check "duplicate id named" has "$T/err" "field 'id': 'bad/0' repeats"
run "converted output reads back" 0 "$R" problems convert "$T/skip.jsonl"
run "unknown flag" 2 "$R" problems convert --bogus "$T/gsm.jsonl"
run "no files" 2 "$R" problems convert
run "missing file" 1 "$R" problems convert "$T/nope.jsonl"
run "help" 0 "$R" problems convert --help
check "help shows usage" has "$T/out" "usage: reasoner problems convert"

# ---- stats ----
run "stats" 0 "$R" problems stats "$T/gsm.jsonl"
check "stats names the format" has "$T/out" "gsm8k"
run "stats --json" 0 "$R" problems stats --json "$T/gsm.jsonl"
check "stats json counts" has "$T/out" '"problems":2'

# ---- gen ----
run "gen arith" 0 "$R" problems gen arith --n 50 --seed 7 --digits 3 --steps 2 -o "$T/a1.jsonl"
run "gen arith again" 0 "$R" problems gen arith --n 50 --seed 7 --digits 3 --steps 2 -o "$T/a2.jsonl"
check "gen is reproducible" cmp -s "$T/a1.jsonl" "$T/a2.jsonl"
run "gen other seed" 0 "$R" problems gen arith --n 50 --seed 8 --digits 3 --steps 2 -o "$T/a3.jsonl"
check "another seed differs" bash -c "! cmp -s '$T/a1.jsonl' '$T/a3.jsonl'"
run "gen test split" 0 "$R" problems gen countdown --n 20 --seed 1 --split test
check "all test split" [ "$(grep -c '"split":"test"' "$T/out")" -eq 20 ]
run "gen --text" 0 "$R" problems gen aime --n 10 --seed 1 --text
check "text lines" [ "$(grep -c '^{"text":' "$T/out")" -eq 10 ]
check "text ends with boxed answer" has "$T/out" '\\boxed{'
run "gen output is a problem file" 0 "$R" problems stats "$T/a1.jsonl"
run "gen bad knob" 1 "$R" problems gen arith --digits 40
check "bad knob explained" has "$T/err" "digits must be 1..18"
run "gen unknown kind" 1 "$R" problems gen sudoku --n 3
run "gen bad split" 2 "$R" problems gen arith --split dev
run "gen two kinds" 2 "$R" problems gen arith aime

# ---- plot ----
mkdir -p "$T/runs/r1" "$T/runs/r2"
for r in r1 r2; do
  for s in 0 10 20 30; do
    printf '{"step": %d, "loss": %s, "eval/gsm8k/avg@4": 0.%d}\n' "$s" "$((40 - s)).5" "$((s / 10 + 1))"
  done >"$T/runs/$r/metrics.jsonl"
done
printf '{"step": 40, "loss": 1' >>"$T/runs/r2/metrics.jsonl"   # a run killed mid-line
printf '{"length": 10}\n{"length": 30}\n{"length": 20}\n' >"$T/samples.jsonl"
run "plot" 0 "$R" plot "$T/runs/r1/metrics.jsonl" "$T/runs/r2/metrics.jsonl" --samples "$T/samples.jsonl" -o "$T/report.html"
check "report is html" has "$T/report.html" "<!DOCTYPE html>"
check "report has lines" has "$T/report.html" "<polyline"
check "report has bars" has "$T/report.html" "<rect"
check "report names runs" has "$T/report.html" "r2"
check "report has no script" bash -c "! grep -q '<script' '$T/report.html'"
check "truncated last line warned" has "$T/err" "dropped the incomplete last line"
run "plot --metrics" 0 "$R" plot "$T/runs/r1/metrics.jsonl" --metrics loss
check "only loss" bash -c "[ \$(grep -c '<polyline' '$T/out') -eq 1 ]"
printf '{"step": 1, "loss": 2}\nnot json\n{"step": 2, "loss": 1}\n' >"$T/broken.jsonl"
run "plot bad middle line" 1 "$R" plot "$T/broken.jsonl" -o "$T/b.html"
check "bad line named" has "$T/err" "broken.jsonl:2"
check "no report on failure" [ ! -e "$T/b.html" ]
run "plot nothing" 2 "$R" plot
run "plot bad smooth" 2 "$R" plot "$T/runs/r1/metrics.jsonl" --smooth 1.5

finish
