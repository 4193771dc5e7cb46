#!/usr/bin/env bash
# Demo stage: RL with GRPO against the math verifier in a local farm. Each
# step samples G completions of P training problems (a fresh train split of
# the task), grades each as it finishes, and updates the policy with the
# clipped objective. The held-out set of 40-eval.sh is evaluated (chat
# prompts, the same k and temperature) before the first update — the SFT
# model's accuracy — and after the last; the summary also says how many
# held-out answers work the problem out before and after, and their length.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
sft=${DEMO_SFT_MODEL:-$DEMO_OUT/sft/final}
out=$DEMO_OUT/rl
secs=${DEMO_RL_SECS:-300}
seed=${DEMO_SEED:-1}
mkdir -p "$out"
"$REASONER" problems gen arith --n "${DEMO_TRAIN_N:-4000}" --seed 31 --split train --digits 1 --steps "${DEMO_TASK_STEPS:-2}" --ops +- \
  -o "$out/problems.jsonl"
rm -rf "$out/final" "$out/metrics.jsonl" "$out/eval"
"$REASONER" rl --model "$sft" --problems "$out/problems.jsonl" --eval-problems "$DEMO_OUT/heldout.jsonl" \
  --out "$out" --farm local:2 --steps "${DEMO_RL_STEPS:-500}" --time-budget "$secs" \
  --group-size "${DEMO_RL_G:-8}" --prompts-per-step "${DEMO_RL_P:-16}" --max-tokens "${DEMO_RL_MAX_TOKENS:-48}" \
  --lr "${DEMO_RL_LR:-1e-4}" --warmup 5 --temperature 1.0 --eval-k 4 --eval-temperature "${DEMO_EVAL_TEMPERATURE:-1.0}" \
  --seed "$seed" | tee "$out/rl.txt"
python3 - "$out" >> "$DEMO_OUT/summary.tsv" <<'PY'
import glob, json, sys
out = sys.argv[1]
res = dict(l.split(": ", 1) for l in open(out + "/rl.txt").read().splitlines() if ": " in l)
print(f"rl\tsteps (updates, samples)\t{res['steps']}")
print(f"rl\ttrain reward (first -> last 5)\t{res['reward'].split(' (')[0]}")
print(f"rl\ttime split\t{res['time']}")
# What RL changed in the held-out answers: how many work the problem out
# (the SFT data answers a share of its problems at once), and their length.
def style(d):
    rows = [json.loads(l) for l in open(d + "/samples.jsonl")]
    at_once = [r["response"].lstrip().startswith("The answer is") for r in rows]
    acc = lambda want: sum(r["correct"] for r, a in zip(rows, at_once) if a == want) / max(1, at_once.count(want))
    return at_once.count(False) / max(1, len(rows)), acc(False), acc(True), \
        sum(r["tokens"] for r in rows) / max(1, len(rows))
evals = sorted(glob.glob(out + "/eval/step_*/"))
if evals:
    (w0, aw0, ad0, n0), (w1, aw1, ad1, n1) = style(evals[0]), style(evals[-1])
    print(f"rl\theld-out answers worked out (SFT -> RL)\t{100 * w0:.0f}% -> {100 * w1:.0f}%")
    print(f"rl\theld-out mean length, tokens (SFT -> RL)\t{n0:.1f} -> {n1:.1f}")
    print(f"rl\taccuracy worked out / at once (SFT)\t{aw0:.3f} / {ad0:.3f}")
PY
python3 - "$out" >> "$DEMO_OUT/accuracy.tsv" <<'PY'
import glob, json, sys
evals = sorted(glob.glob(sys.argv[1] + "/eval/step_*/summary.json"))
first, last = (json.load(open(p))["sets"]["heldout"]["avg@4"] for p in (evals[0], evals[-1]))
print(f"accuracy\tafter SFT (chat avg@4)\t{first:.3f}")
print(f"accuracy\tafter RL (chat avg@4)\t{last:.3f}  ({100 * (last - first):+.1f} points)")
PY
