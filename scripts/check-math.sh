#!/usr/bin/env bash
# The math verifier's figures on its case set (tests/verifier/math_cases.jsonl),
# printed, not asserted: agreement with the expected verdicts, false
# positives, false negatives, grades/s on one core (bench/math, which also
# grades MATH500's reference solutions when ../shared/datasets has them);
# then the same figures for Math-Verify when it installs from PyPI into a
# throwaway venv (skipped, with the reason, when it does not).
#   scripts/check-math.sh [--quiet]       (MV_VENV=/tmp/mv to choose the venv)
set -uo pipefail
cd "$(dirname "$0")/.."
CASES=tests/verifier/math_cases.jsonl
QUIET=${1:-}
VENV=${MV_VENV:-/tmp/mv}

echo "== reasoner (bench/math)"
make -s build/bench/math >/dev/null || { echo "check-math: build failed"; exit 1; }
build/bench/math --cases "$CASES" $QUIET || exit 1

echo "== math-verify (PyPI, in $VENV)"
if [ ! -x "$VENV/bin/python" ] && ! python3 -m venv "$VENV" >/dev/null 2>&1; then
  echo "math-verify: skipped (python3 -m venv $VENV failed)"; exit 0
fi
if ! "$VENV/bin/python" -c 'import math_verify' 2>/dev/null &&
   ! "$VENV/bin/pip" install -q math-verify >/dev/null 2>&1; then
  echo "math-verify: skipped (pip install math-verify failed: no network or no PyPI here)"; exit 0
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; print("math-verify", m.version("math-verify"))'
"$VENV/bin/python" scripts/math_verify_cases.py "$CASES" $QUIET
