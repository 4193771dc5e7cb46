#!/usr/bin/env bash
# test_eval_cli.sh: `reasoner eval` end to end on fixtures made here — a
# tokenizer (`tokenizer train`), shards (`tokenize`) and a 3-step `tiny`
# checkpoint (`pretrain`) — over generated arithmetic problems, graded through
# a local farm and in process: exit codes, samples.jsonl, summary.json,
# report.html, both graders agreeing; bad input: usage errors (exit 2), a
# broken problem line named file:line (exit 1), --skip-bad, a tokenizer
# without chat tokens in chat mode, a bad farm endpoint.
#   REASONER_BIN=build/reasoner bash tests/policy/test_eval_cli.sh
set -u
source "$(dirname "$0")/../lib.sh"

# ---- fixtures: tokenizer, shards, a tiny checkpoint ----
"$R" problems gen arith --n 2000 --seed 1 --split train --digits 2 --text -o "$T/arith.jsonl" 2>"$T/err"
run "tokenizer train" 0 "$R" tokenizer train --input "$T/arith.jsonl" --vocab 400 --out "$T/tok" --threads 1
run "tokenize" 0 "$R" tokenize --tokenizer "$T/tok" --input "$T/arith.jsonl" --out "$T/shards" \
  --val-fraction 0.1 --threads 1
run "pretrain 3 steps" 0 "$R" pretrain --data "$T/shards" --model-config tiny --out "$T/ck" --steps 3 \
  --batch-size 2 --seq-len 64 --warmup 1 --eval-every 0 --eval-batches 1 --threads 2 --peak-gflops 1 --quiet
M=$T/ck/final
[ -f "$M/model.safetensors" ] && [ -f "$M/tokenizer.json" ] || { bad "checkpoint at $M"; finish; }

"$R" problems gen arith --n 5 --seed 5 --split test --digits 2 --steps 1 -o "$T/arith_test.jsonl" 2>"$T/err"
"$R" problems gen arith --n 4 --seed 6 --split train --digits 2 -o "$T/shots.jsonl" 2>"$T/err"
check "5 test problems" [ "$(lines "$T/arith_test.jsonl")" -eq 5 ]
EV=(eval --model "$M" --problems "$T/arith_test.jsonl" --no-chat --few-shot 2 --few-shot-from "$T/shots.jsonl"
    -k 3 --max-tokens 12 --temperature 1 --seed 7)

# summary.json parses; its set has n_problems, n_samples and avg@3, pass@1..3, maj@1..3.
summary_ok() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
m = s["sets"][sys.argv[2]]
want = int(sys.argv[3])
keys = ["avg@3", "pass@1", "pass@2", "pass@3", "maj@1", "maj@2", "maj@3", "mean_length", "truncated_share"]
assert s["k"] == 3 and m["n_problems"] == want and m["n_samples"] == 3 * want, (s["k"], m)
assert all(isinstance(m[k], (int, float)) and 0 <= m[k] <= 12 for k in keys), m
PY
}
# Every line of samples.jsonl is JSON with a grade (correct/wrong) from the math verifier.
samples_graded() {
  python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    assert r["status"] in ("correct", "wrong"), r
    assert r["correct"] == (r["status"] == "correct") and r["finish"] in ("stop", "length"), r
PY
}
# Two runs with the same seed: the same responses and the same grades.
same_samples() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
key = lambda r: (r["problem_id"], r["sample"], r["response"], r["status"], r.get("extracted"))
assert len(a) == len(b) and [key(r) for r in a] == [key(r) for r in b]
PY
}

# ---- eval through a local farm, and in process ----
run "eval --farm local:2" 0 "$R" "${EV[@]}" --farm local:2 --out "$T/ev_farm"
check "samples.jsonl has problems x k lines" [ "$(lines "$T/ev_farm/samples.jsonl")" -eq 15 ]
check "summary.json has avg@k, pass@k, maj@k" summary_ok "$T/ev_farm/summary.json" arith_test 5
check "every sample graded by the farm" samples_graded "$T/ev_farm/samples.jsonl"
check "report.html has SVG charts" has "$T/ev_farm/report.html" "<svg"
check "table printed on stdout" has "$T/out" "maj@K"
run "eval --farm none" 0 "$R" "${EV[@]}" --farm none --out "$T/ev_none"
check "in-process samples.jsonl has 15 lines" [ "$(lines "$T/ev_none/samples.jsonl")" -eq 15 ]
check "in-process summary.json" summary_ok "$T/ev_none/summary.json" arith_test 5
check "farm and in-process agree sample by sample" same_samples "$T/ev_farm/samples.jsonl" "$T/ev_none/samples.jsonl"
check "report.html (in process)" has "$T/ev_none/report.html" "<svg"

# ---- usage errors: exit 2 ----
run "missing --model" 2 "$R" eval --problems "$T/arith_test.jsonl" --out "$T/x"
check "missing --model says what is required" has "$T/err" "--model"
run "missing --problems" 2 "$R" eval --model "$M" --out "$T/x"
run "-k 0" 2 "$R" eval --model "$M" --problems "$T/arith_test.jsonl" -k 0 --out "$T/x"
run "unknown flag" 2 "$R" eval --model "$M" --problems "$T/arith_test.jsonl" --bogus
run "help" 0 "$R" eval --help
check "help shows usage" has "$T/out" "usage: reasoner eval"

# ---- bad problem files ----
{ head -n 2 "$T/arith_test.jsonl"; echo '{"id": "broken", "kind": "math", "prompt": "What is'; tail -n 2 "$T/arith_test.jsonl"; } >"$T/broken.jsonl"
run "broken problem line fails" 1 "$R" eval --model "$M" --problems "$T/broken.jsonl" --no-chat --farm none --out "$T/ev_broken"
check "error names file:line" has "$T/err" "broken.jsonl:3"
check "no samples written on failure" [ ! -e "$T/ev_broken/samples.jsonl" ]
run "--skip-bad runs" 0 "$R" eval --model "$M" --problems "$T/broken.jsonl" --no-chat --skip-bad -k 2 \
  --max-tokens 8 --farm none --out "$T/ev_skip"
check "--skip-bad reports the skip" has "$T/err" "skipped 1 bad record"
check "--skip-bad evaluates the 4 good problems" [ "$(lines "$T/ev_skip/samples.jsonl")" -eq 8 ]
run "missing problem file" 1 "$R" eval --model "$M" --problems "$T/nope.jsonl" --no-chat --farm none --out "$T/x"
check "missing file named" has "$T/err" "nope.jsonl"

# ---- chat mode ----
# The same weights with a tokenizer that has no <|im_start|>/<|im_end|>.
mkdir -p "$T/plain"
cp "$M/config.json" "$M/model.safetensors" "$T/plain/"
"$R" tokenizer train --input "$T/arith.jsonl" --vocab 400 --special '<|endoftext|>' --out "$T/plain" --threads 1 \
  >/dev/null 2>&1
run "chat mode without chat tokens fails" 1 "$R" eval --model "$T/plain" --problems "$T/arith_test.jsonl" \
  --farm none --out "$T/ev_chat"
check "the error says the chat tokens are missing" has "$T/err" "no chat tokens"
check "the error suggests --no-chat" has "$T/err" "--no-chat"
run "plain mode on that tokenizer works" 0 "$R" eval --model "$T/plain" --problems "$T/arith_test.jsonl" \
  --no-chat -k 1 --max-tokens 6 --farm none --out "$T/ev_plain"
run "few-shot in chat mode is refused" 1 "$R" eval --model "$M" --problems "$T/arith_test.jsonl" \
  --few-shot 2 --few-shot-from "$T/shots.jsonl" --farm none --out "$T/x"
check "it says few-shot needs --no-chat" has "$T/err" "--no-chat"
run "chat mode with chat tokens" 0 "$R" eval --model "$M" --problems "$T/arith_test.jsonl" -k 1 \
  --max-tokens 6 --farm none --out "$T/ev_chatok"
check "chat samples.jsonl has 5 lines" [ "$(lines "$T/ev_chatok/samples.jsonl")" -eq 5 ]

# ---- farm endpoint ----
run "bad --farm fails" 1 "$R" "${EV[@]}" --farm bogus --out "$T/ev_bogus"
check "bad endpoint named" has "$T/err" "farm endpoint 'bogus'"

finish
