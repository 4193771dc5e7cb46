#!/usr/bin/env bash
# A short end-to-end smoke run of the built binary: every command answers
# --help, and a bad flag exits 2. Grows with the stages that exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD:-build}/reasoner
"$bin" --help >/dev/null
cmds=$("$bin" --help | awk '/^commands:/{on=1; next} on && NF==0{exit} on{print $1}')
for c in $cmds; do
  "$bin" "$c" --help >/dev/null || { echo "smoke: '$c --help' failed"; exit 1; }
done
set +e
"$bin" version --no-such-flag 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "smoke: bad flag exit status $rc, want 2"; exit 1; }
echo "smoke: $(echo $cmds | wc -w) commands answer --help; bad flags exit 2"
