#!/usr/bin/env bash
# The demo over several seeds (`make demo-seeds`): the whole demo
# (scripts/demo.sh) once per seed in DEMO_SEEDS (default "1 2 3"), each into
# out/demo-seeds/seed-N. The seed changes pretraining's initialisation and
# data order, SFT's and RL's; the data, tokenizer and held-out set are the
# same. Unlike `make demo`, whose time budgets let a faster machine train
# longer, each stage runs a fixed number of steps (about what `make demo`
# reaches on a quiet 2-core machine: 550 pretraining steps of its ~630, and
# its 700 SFT and 283 RL steps), so the figures do not depend on the machine
# or its load. DEMO_SEEDS_JOBS=3 runs the seeds side by side, one thread each.
# Prints held-out accuracy after each stage per seed, the mean, and RL's gain
# over SFT, into out/demo-seeds/seeds.tsv as well.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${DEMO_SEEDS_OUT:-$PWD/out/demo-seeds}
seeds=${DEMO_SEEDS:-1 2 3}
jobs=${DEMO_SEEDS_JOBS:-1}
export DEMO_PRETRAIN_STEPS=${DEMO_PRETRAIN_STEPS:-616} DEMO_SFT_STEPS=${DEMO_SFT_STEPS:-871}
export DEMO_RL_STEPS=${DEMO_RL_STEPS:-499} DEMO_PRETRAIN_SECS=1000000 DEMO_SFT_SECS=1000000 DEMO_RL_SECS=1000000
[ "$jobs" -gt 1 ] && export OMP_NUM_THREADS=1
mkdir -p "$root"
run_seed() {
  DEMO_SEED=$1 DEMO_OUT=$root/seed-$1 bash scripts/demo.sh > "$root/seed-$1.log" 2>&1 \
    || { echo "demo-seeds: seed $1 failed; see $root/seed-$1.log" >&2; return 1; }
  echo "seed $1 done: $(tail -n 3 "$root/seed-$1.log" | head -n 2 | tr -s ' ' | paste -sd ';')"
}
pids=()
for seed in $seeds; do
  echo "=== seed $seed: pretraining $DEMO_PRETRAIN_STEPS steps, SFT $DEMO_SFT_STEPS, RL $DEMO_RL_STEPS (log: $root/seed-$seed.log)"
  if [ "$jobs" -gt 1 ]; then run_seed "$seed" & pids+=($!); else run_seed "$seed"; fi
done
for p in "${pids[@]}"; do wait "$p"; done
python3 - "$root" $seeds <<'PY' | tee "$root/seeds.tsv"
import sys
root, seeds = sys.argv[1], sys.argv[2:]
rows = []
for s in seeds:
    acc = [float(l.split("\t")[2].split()[0]) for l in open(f"{root}/seed-{s}/accuracy.tsv")]
    rows.append((s, *acc[:3]))
print("seed\tafter pretraining\tafter SFT\tafter RL\tRL - SFT (points)")
for s, b, f, r in rows:
    print(f"{s}\t{b:.3f}\t{f:.3f}\t{r:.3f}\t{100 * (r - f):+.1f}")
mean = [sum(r[i] for r in rows) / len(rows) for i in (1, 2, 3)]
print(f"mean\t{mean[0]:.3f}\t{mean[1]:.3f}\t{mean[2]:.3f}\t{100 * (mean[2] - mean[1]):+.1f}")
PY
