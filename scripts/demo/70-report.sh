#!/usr/bin/env bash
# Demo stage: one report for the whole run, $DEMO_OUT/report.html: the stage
# table, the held-out accuracy after each stage, pretraining, SFT and RL
# curves (loss; reward, accuracy, response length, clip fraction, KL,
# entropy, time split), and sampled held-out solutions marked right or wrong
# before and after RL.
set -euo pipefail
: "${REASONER:?}" "${DEMO_OUT:?}"
cat "$DEMO_OUT/summary.tsv" "$DEMO_OUT/accuracy.tsv" > "$DEMO_OUT/report.tsv"
evals=("$DEMO_OUT"/rl/eval/step_*/samples.jsonl)
"$REASONER" plot "$DEMO_OUT/pretrain/metrics.jsonl" "$DEMO_OUT/sft/metrics.jsonl" "$DEMO_OUT/rl/metrics.jsonl" \
  --title "reasoner demo: web text -> base model -> SFT -> RL" --table "$DEMO_OUT/report.tsv" --smooth 0.6 \
  --metrics 'loss,val_loss,reward,accuracy,response_len,response_len_max,groups_all_equal,clip_frac,kl,entropy,grad_norm,lr,time_sample,time_update,time_grade_wait,grade_overlap,tokens_per_s,mfu' \
  --samples "$DEMO_OUT/eval/samples.jsonl" "${evals[0]}" "${evals[-1]}" --length-field tokens \
  --examples "${evals[0]}" "${evals[-1]}" -o "$DEMO_OUT/report.html"
printf 'report\tthe whole run\t%s\n' "$DEMO_OUT/report.html" >> "$DEMO_OUT/summary.tsv"
