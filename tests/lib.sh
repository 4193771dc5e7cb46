# tests/lib.sh: what the shell tests share (source it first). The binary in
# $R (and $BIN), a private temp dir $T (and $TMP) removed at exit, verdicts
# printed as "ok"/"FAIL" and the closing "N passed, N failed" by finish.
#   check NAME 'shell expression'   |   check NAME COMMAND ARGS...
#   run NAME WANT_RC COMMAND ARGS...  (stdout in $T/out, stderr in $T/err)
R=${REASONER_BIN:-build/reasoner}
BIN=$R
T=$(mktemp -d)
TMP=$T
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() {
  local name=$1; shift
  if [ $# -eq 1 ]; then eval "$1"; else "$@"; fi && ok "$name" || bad "$name"
}
run() {
  local name=$1 want=$2; shift 2; "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$name (exit $rc)"; else bad "$name (exit $rc, want $want)"; sed 's/^/    /' "$T/err" | tail -5; fi
}
has() { grep -qF -- "$2" "$1"; }
lines() { wc -l <"$1" | tr -d ' '; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
