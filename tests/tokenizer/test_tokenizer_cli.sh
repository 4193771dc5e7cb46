#!/usr/bin/env bash
# test_tokenizer_cli.sh: `reasoner tokenizer train|encode|decode|stats|convert`
# end to end through the binary: train on a generated corpus, round trips in
# plain and JSONL modes, exit codes and one-line errors on bad input.
#   REASONER_BIN=build/reasoner bash tests/tokenizer/test_tokenizer_cli.sh
set -u
source "$(dirname "$0")/../lib.sh"

# A corpus: plain text and the same as JSONL documents.
for i in $(seq 1 400); do
  echo "The model reasons about numbers like $i and $((i * 37)). It's café time: 中文 😀 naïve"
  echo "def f$i(x):"; printf '    return x ** %d\n' "$i"
done > "$TMP/corpus.txt"
awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "{\"text\": \"%s\\n\", \"id\": %d}\n", $0, NR }' "$TMP/corpus.txt" > "$TMP/corpus.jsonl"

"$BIN" tokenizer train --input "$TMP/corpus.txt" "$TMP/corpus.jsonl" --vocab 500 --out "$TMP/tok" > "$TMP/train.out" 2> "$TMP/train.err"; rc=$?
check "train writes tokenizer.json" '[ $rc -eq 0 ] && [ -s "$TMP/tok/tokenizer.json" ] && grep -q "vocab 500" "$TMP/train.out"'

"$BIN" tokenizer stats --tokenizer "$TMP/tok" "$TMP/corpus.txt" > "$TMP/stats.out"
check "stats shows vocab, specials, bytes/token" 'grep -q "^vocab size: 500$" "$TMP/stats.out" && grep -q "<|im_start|>" "$TMP/stats.out" && grep -q "bytes/token" "$TMP/stats.out"'

printf 'Hello café 中文 😀\n\ttabs  and   spaces\r\n' > "$TMP/in.txt"
"$BIN" tokenizer encode --tokenizer "$TMP/tok/tokenizer.json" < "$TMP/in.txt" > "$TMP/ids.txt"
check "encode prints integer ids" 'grep -Eq "^[0-9]+( [0-9]+)*$" "$TMP/ids.txt"'
"$BIN" tokenizer decode --tokenizer "$TMP/tok" < "$TMP/ids.txt" > "$TMP/back.txt"
check "decode(encode(x)) == x" 'cmp -s "$TMP/in.txt" "$TMP/back.txt"'

printf 'a<|endoftext|>b' | "$BIN" tokenizer encode --tokenizer "$TMP/tok" --special > "$TMP/sp.txt"
printf 'a<|endoftext|>b' | "$BIN" tokenizer encode --tokenizer "$TMP/tok" > "$TMP/nosp.txt"
check "--special recognises specials, default does not" 'grep -qw 495 "$TMP/sp.txt" && ! grep -qw 495 "$TMP/nosp.txt"'

head -3 "$TMP/corpus.jsonl" | "$BIN" tokenizer encode --tokenizer "$TMP/tok" --jsonl > "$TMP/enc.jsonl"
check "encode --jsonl adds ids, keeps fields" '[ $(wc -l < "$TMP/enc.jsonl") -eq 3 ] && grep -q "\"id\":1," "$TMP/enc.jsonl" && grep -q "\"ids\":\[" "$TMP/enc.jsonl"'
sed 's/"text":"[^"]*",//' "$TMP/enc.jsonl" | "$BIN" tokenizer decode --tokenizer "$TMP/tok" --jsonl > "$TMP/dec.jsonl"
check "decode --jsonl adds text" 'head -1 "$TMP/dec.jsonl" | grep -q "\"text\":\"The model reasons about numbers like 1 and 37"'

"$BIN" tokenizer convert --tokenizer "$TMP/tok" --out "$TMP/copy.json" > /dev/null
"$BIN" tokenizer encode --tokenizer "$TMP/copy.json" < "$TMP/in.txt" > "$TMP/ids2.txt"
check "convert keeps the ids" 'cmp -s "$TMP/ids.txt" "$TMP/ids2.txt"'

# Bad usage: exit 2. Bad input: exit 1 with one line naming the problem.
"$BIN" tokenizer encode --nope 2> "$TMP/err" < /dev/null; rc=$?
check "unknown flag exits 2" '[ $rc -eq 2 ]'
"$BIN" tokenizer encode < /dev/null 2> "$TMP/err"; rc=$?
check "missing --tokenizer exits 2" '[ $rc -eq 2 ] && grep -q -- "--tokenizer" "$TMP/err"'
"$BIN" tokenizer train --input "$TMP/corpus.txt" --out "$TMP/x" --vocab 100 2> "$TMP/err" > /dev/null; rc=$?
check "too small vocab exits 1" '[ $rc -eq 1 ] && grep -q "vocab size 100" "$TMP/err"'
head -c 3000 "$TMP/tok/tokenizer.json" > "$TMP/trunc.json"
echo 1 | "$BIN" tokenizer decode --tokenizer "$TMP/trunc.json" 2> "$TMP/err"; rc=$?
check "truncated tokenizer.json: exit 1, file:line:col" '[ $rc -eq 1 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "trunc.json:[0-9]*:[0-9]*: invalid JSON" "$TMP/err"'
echo "1 2 99999" | "$BIN" tokenizer decode --tokenizer "$TMP/tok" > /dev/null 2> "$TMP/err"; rc=$?
check "out-of-range id: exit 1" '[ $rc -eq 1 ] && grep -q "99999 out of range" "$TMP/err"'
echo "1 two 3" | "$BIN" tokenizer decode --tokenizer "$TMP/tok" > /dev/null 2> "$TMP/err"; rc=$?
check "non-integer id: exit 1" '[ $rc -eq 1 ] && grep -q "id 2: .two" "$TMP/err"'
printf '{"text": "ok"}\n{"txt": "no"}\n' | "$BIN" tokenizer encode --tokenizer "$TMP/tok" --jsonl > /dev/null 2> "$TMP/err"; rc=$?
check "JSONL line without text: exit 1 naming the line" '[ $rc -eq 1 ] && grep -q ":2: field .text." "$TMP/err"'
printf 'YWJj\n' > "$TMP/bad.tiktoken"
echo hi | "$BIN" tokenizer encode --tokenizer "$TMP/bad.tiktoken" 2> "$TMP/err"; rc=$?
check "bad rank file: exit 1 naming the line" '[ $rc -eq 1 ] && grep -q "bad.tiktoken:1: expected .base64 rank." "$TMP/err"'

finish
