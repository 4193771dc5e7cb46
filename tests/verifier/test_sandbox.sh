#!/usr/bin/env bash
# test_sandbox.sh: `reasoner sandbox run|info` through the binary: the JSON
# it prints, limits, files and stdin, the fallback flag, usage errors.
# Needs $REASONER_BIN; prints "N passed, N failed".
set -u
R=${REASONER_BIN:?set REASONER_BIN to the reasoner binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/reasoner-sandbox-test-XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0; failed=0
check() {  # check NAME COMMAND...: pass when the command succeeds
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name"; failed=$((failed + 1)); fi
}
# field FILE EXPR: evaluate a Python expression over the JSON object j in FILE.
field() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
is() { [ "$(field "$1" "$2")" = "$3" ] || { echo "    $2 = $(field "$1" "$2"), want $3" >&2; return 1; }; }

"$R" sandbox info > "$T/info.json"
echo "  layers here: $(cat "$T/info.json")"
check "info prints the layers" is "$T/info.json" '"namespaces" in j and "refused" in j and j["seccomp_syscalls"] > 100' True

"$R" sandbox run -- python3 -c 'import sys; print(6 * 7); print("err", file=sys.stderr)' > "$T/ok.json"
check "ok: status" is "$T/ok.json" 'j["status"]' ok
check "ok: streams" is "$T/ok.json" 'repr((j["stdout"], j["stderr"]))' "('42\\n', 'err\\n')"
check "ok: every field" is "$T/ok.json" \
  'all(k in j for k in ("status", "exit_code", "signal", "cpu_ms", "wall_ms", "peak_rss_kb", "stdout", "stderr", "namespaces", "refused"))' True
check "ok: accounting" is "$T/ok.json" 'j["cpu_ms"] > 0 and j["wall_ms"] > 0 and j["peak_rss_kb"] > 0' True

"$R" sandbox run --time-s 0.5 -- python3 -c 'while True: pass' > "$T/loop.json"
check "timeout" is "$T/loop.json" 'j["status"], j["signal"]' "('timeout', 9)"
"$R" sandbox run --memory-mb 128 -- python3 -c 'x = bytearray(10**10)' > "$T/mem.json"
check "memory" is "$T/mem.json" 'j["status"]' memory
"$R" sandbox run --output-kb 4 -- python3 -c 'while True: print("x" * 100)' > "$T/flood.json"
check "output cap" is "$T/flood.json" 'j["status"], len(j["stdout"])' "('output_limit', 4096)"
"$R" sandbox run -- python3 -c 'import socket; socket.socket()' > "$T/net.json"
check "sockets are denied" is "$T/net.json" 'j["status"]' denied
"$R" sandbox run -- sh -c 'exit 3' > "$T/exit.json"
check "exit code" is "$T/exit.json" 'j["status"], j["exit_code"]' "('runtime_error', 3)"

printf 'print(input()[::-1])\n' > "$T/rev.py"
printf 'hello\n' > "$T/in.txt"
"$R" sandbox run --file rev.py="$T/rev.py" --stdin "$T/in.txt" -- python3 rev.py > "$T/file.json"
check "--file and --stdin" is "$T/file.json" 'j["stdout"]' olleh

"$R" sandbox run --no-namespaces -- true > /dev/null 2> "$T/weak.err"
check "fallback: refused without --allow-weak-sandbox" test $? -eq 1
check "fallback: the refusal says how" grep -q -- "--allow-weak-sandbox" "$T/weak.err"
"$R" sandbox run --no-namespaces --allow-weak-sandbox --allow-exec -- sh -c 'cat /etc/shadow; echo done' > "$T/fallback.json"
check "fallback: no namespaces, said why" is "$T/fallback.json" 'j["namespaces"] == [] and "user" in j["refused"]' True
check "fallback: weak, and said" is "$T/fallback.json" 'j["isolation"].startswith("weak:no-userns")' True
check "fallback: still no secrets" is "$T/fallback.json" 'j["stdout"]' done

"$R" sandbox run --bogus -- true 2> "$T/err.txt"; rc=$?
check "a bad flag is a usage error" [ "$rc" -eq 2 ]
"$R" sandbox run 2> /dev/null; rc=$?
check "a missing command is a usage error" [ "$rc" -eq 2 ]
"$R" sandbox run -- no-such-command-xyz 2> "$T/err.txt"; rc=$?
check "a missing program fails with its name" eval '[ "$rc" -eq 1 ] && grep -q no-such-command-xyz "$T/err.txt"'
"$R" sandbox run --help > /dev/null; rc=$?
check "--help" [ "$rc" -eq 0 ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
