#!/usr/bin/env bash
# test_hf_roundtrip.sh: the checks that need Python (torch, transformers,
# tokenizers), run when a venv has them: REASONER_VENV (default
# build/venv-hf). Without one it prints why it skips (CI: torch from PyPI
# is gigabytes; the C tests cover the rest from committed fixtures).
#   - scripts/check_tokenizer_json.py: tokenizer.json files we write encode
#     identically in HF tokenizers;
#   - the Hub-shaped folders (scripts/hf_parity.py models, made once into
#     REASONER_HF_CACHE, default build/hf-fixtures): import -> reasoner export
#     -> transformers: weights bit-identical, no missing/unexpected keys,
#     tokenizer and chat template identical;
#   - a model of ours exported: loads in transformers with its ChatML template
#     and <|endoftext|> BOS.
set -u
cd "${REASONER_ROOT:-.}"
BIN=${REASONER_BIN:-build/reasoner}
BUILD=${BUILD:-build}
VENV=${REASONER_VENV:-build/venv-hf}
PY=$VENV/bin/python
CACHE=${REASONER_HF_CACHE:-build/hf-fixtures}
pass=0; fail=0
verdict() { if [ "$1" -eq 0 ]; then echo "ok   $2"; pass=$((pass+1)); else echo "FAIL $2"; fail=$((fail+1)); fi; }
if ! [ -x "$PY" ] || ! "$PY" -c "import torch, transformers, tokenizers" 2>/dev/null; then
  echo "skip: no Python venv with torch, transformers and tokenizers at $VENV (set REASONER_VENV; see scripts/hf_parity.py):"
  echo "      check_tokenizer_json.py, the export round trips through transformers and the parity folders are not run"
  echo "0 passed, 0 failed"
  exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PY" scripts/check_tokenizer_json.py --reasoner "$BIN" > "$tmp/ctj.log" 2>&1; rc=$?
tail -3 "$tmp/ctj.log"; verdict $rc "check_tokenizer_json.py: our tokenizer.json files encode identically in HF tokenizers"
for fam in qwen2.5-0.5b qwen2.5-math-1.5b llama-3.2-1b; do
  if [ ! -f "$CACHE/$fam/expected.safetensors" ]; then
    echo "    making $CACHE/$fam (once)"
    "$PY" scripts/hf_parity.py models "$CACHE" "$fam" > "$tmp/make.log" 2>&1 || { tail -5 "$tmp/make.log"; verdict 1 "make $fam"; continue; }
    made=1
  fi
  "$BIN" export --model "$CACHE/$fam" --out "$tmp/$fam" --shard-size 200MB 2> "$tmp/export.log" \
    && "$PY" scripts/hf_parity.py check-export "$CACHE/$fam" "$tmp/$fam" 2>/dev/null | grep -v "^Loading" > "$tmp/check.log"
  rc=$?; sed 's/^/    /' "$tmp/check.log"; grep -q "round trip: exact" "$tmp/check.log" || rc=1
  verdict $rc "$fam: import -> export (bf16, 200MB shards) -> transformers exact"
  rm -rf "$tmp/$fam"
done
if [ "${made:-0}" = 1 ] && [ -x "$BUILD/tests/model/test_hf_parity" ]; then  # the folders did not exist when it ran
  "$BUILD/tests/model/test_hf_parity" > "$tmp/parity.log" 2>&1; rc=$?
  grep -E "^    |FAIL" "$tmp/parity.log"; verdict $rc "test_hf_parity on the folders just made"
fi
mkdir -p "$tmp/ours"
KEEP_TMP=1 TMPDIR="$tmp/ours" "$BUILD/tests/model/test_hf_import" export_import > /dev/null 2>&1
ours=$(ls -d "$tmp"/ours/reasoner-test-*/export_bf16 2>/dev/null | head -1)
if [ -n "$ours" ]; then
  "$PY" scripts/hf_parity.py check-ours "$ours" 2>/dev/null | grep -v "^Loading" | sed 's/^/    /'; rc=${PIPESTATUS[0]}
else rc=1; fi
verdict $rc "a model of ours exported: transformers loads it, ChatML template, <|endoftext|> BOS"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
