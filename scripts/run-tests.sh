#!/usr/bin/env bash
# Runs every test program and test script given, prints each one's verdicts,
# and totals them into the closing "N passed, N failed" line. A program that
# crashes or exits non-zero without a summary counts as one failure.
set -u
BUILD=${BUILD:-build}
export REASONER_BIN="$PWD/$BUILD/reasoner"
export REASONER_ROOT="$PWD"
passed=0; failed=0; skipped=0; broken=()
for t in "$@"; do
  echo "== $t"
  log=$(mktemp)
  case "$t" in
    *.sh) timeout 900 bash "$t" >"$log" 2>&1 ;;
    *)    timeout 900 "$t" >"$log" 2>&1 ;;
  esac
  rc=$?
  cat "$log"
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -1)
  rm -f "$log"
  if [ -n "$summary" ]; then
    case "$summary" in *skipped) s=${summary##*, }; skipped=$((skipped + ${s%% skipped})); summary=${summary%, *} ;; esac
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed}
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); broken+=("$t (exit $rc)"); fi
  else
    failed=$((failed + 1)); broken+=("$t (exit $rc, no summary)")
  fi
done
echo
for b in "${broken[@]+"${broken[@]}"}"; do echo "broken: $b"; done
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
