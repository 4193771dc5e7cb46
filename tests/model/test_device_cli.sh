#!/usr/bin/env bash
# test_device_cli.sh: --device on the commands that build a model. Without a
# usable GPU, `--device cuda` fails before anything is loaded, naming what
# was needed; a bad value is refused; auto and cpu go on to the command's own
# work (here, its error about the missing input: proof it got past --device).
source tests/lib.sh
gpu=0
"$R" sample --model "$T/none" --device cuda >/dev/null 2>"$T/probe" || true
grep -q "needs a CUDA GPU" "$T/probe" || gpu=1
for cmd in pretrain sft rl eval sample; do
  case $cmd in
    pretrain) args=(--data "$T/none" --out "$T/o") ;;
    sft) args=(--model "$T/none" --data "$T/none.jsonl" --out "$T/o") ;;
    rl) args=(--model "$T/none" --problems "$T/none.jsonl" --out "$T/o" --farm none) ;;
    eval) args=(--model "$T/none" --problems "$T/none.jsonl" --farm none) ;;
    sample) args=(--model "$T/none") ;;
  esac
  run "$cmd --device bogus is refused" 1 "$R" $cmd "${args[@]}" --device bogus
  check "$cmd: the message names the accepted forms" 'has "$T/err" "expected cpu, cuda, cuda:N"'
  run "$cmd --device cpu reaches the command" 1 "$R" $cmd "${args[@]}" --device cpu
  check "$cmd: past --device" '! has "$T/err" "--device"'
  if [ $gpu = 0 ]; then
    run "$cmd --device cuda fails early without a GPU" 1 "$R" $cmd "${args[@]}" --device cuda
    check "$cmd: one line naming what was needed and what was found" \
      '[ "$(wc -l <"$T/err")" = 1 ] && has "$T/err" "reasoner $cmd: --device cuda:0: needs a CUDA GPU" && has "$T/err" "found: "'
    run "$cmd --device auto falls back to the CPU" 1 "$R" $cmd "${args[@]}" --device auto
    check "$cmd: auto said cpu and went on" 'has "$T/err" "device cpu (auto: " && ! has "$T/err" "needs a CUDA GPU"'
  fi
done
finish
