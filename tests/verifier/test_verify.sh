#!/usr/bin/env bash
# test_verify.sh: `reasoner verify` and `reasoner farm` end to end through the
# binary: results in input order in-process and through farms (local:N, and
# a broker + worker started by hand over tcp with CURVE keys), bad lines
# answered in place, a slow plugin that makes completion order differ from
# input order, usage errors. Needs $REASONER_BIN; prints "N passed, N failed".
set -u
R=${REASONER_BIN:?set REASONER_BIN to the reasoner binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/reasoner-verify-test-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
passed=0; failed=0
check() {  # check NAME COMMAND...: pass when the command succeeds
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name"; failed=$((failed + 1)); fi
}
# The fields of each result line that do not depend on timing, in order.
fields() { python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["id"], r["status"], r["score"], r.get("extracted", ""), sep="\t")' < "$1"; }

# Math jobs, right and wrong, with bad lines among them.
cat > "$T/jobs.jsonl" <<'EOF'
{"id": "m1", "verifier": "math", "response": "so \\boxed{\\frac{1}{2}}", "problem": {"answer": "0.5"}}
{"id": "m2", "verifier": "math", "response": "#### 1,234", "problem": {"answer": "1234"}}
not json at all

{"id": "m3", "verifier": "math", "response": "\\boxed{1+1/e}", "problem": {"answer": "1-1/e"}}
{"id": "u1", "verifier": "no-such", "response": "", "problem": {}}
{"id": "f1", "verifier": "math", "problem": {"answer": "1"}}
{"id": 7, "verifier": "math", "response": "The answer is 42.", "problem": {"answer": "42"}}
EOF
cat > "$T/want.tsv" <<'EOF'
m1	correct	1
m2	correct	1
None	error	0
m3	wrong	0
u1	error	0
f1	error	0
7	correct	1
EOF

"$R" verify --jsonl "$T/jobs.jsonl" > "$T/inproc.jsonl" 2> "$T/inproc.err"
check "in-process: exit 0" test $? -eq 0
fields "$T/inproc.jsonl" | cut -f1-3 > "$T/inproc.tsv"
check "in-process: results in input order" diff "$T/want.tsv" "$T/inproc.tsv"
check "in-process: bad line named on stderr" grep -q "jobs.jsonl:3: job:1:1: invalid JSON" "$T/inproc.err"
check "in-process: missing field named" grep -q "jobs.jsonl:7: job: field 'response': missing" "$T/inproc.err"

"$R" verify --farm local:2 --jsonl < "$T/jobs.jsonl" > "$T/local.jsonl" 2> "$T/local.err"
check "local farm: exit 0" test $? -eq 0
fields "$T/local.jsonl" | cut -f1-3 > "$T/local.tsv"
check "local farm: same results as in-process" diff "$T/inproc.tsv" "$T/local.tsv"

"$R" verify --farm local:2 -o "$T/table.txt" "$T/jobs.jsonl" 2>/dev/null
check "table output: one line per job" test "$(wc -l < "$T/table.txt")" -eq 7
check "table output: ids and statuses" grep -q "^m3 *wrong *0.000" "$T/table.txt"

# A plugin that sleeps: early jobs finish last, results still in input order.
mkdir -p "$T/plugins"
cat > "$T/plugins/slow.py" <<'EOF'
#!/usr/bin/env python3
import json, sys, time
job = json.load(sys.stdin)
time.sleep(job["problem"]["sleep"])
print(json.dumps({"score": 1, "status": "correct", "detail": "slept %s" % job["problem"]["sleep"]}))
EOF
chmod +x "$T/plugins/slow.py"
: > "$T/slow.jsonl"
for i in 0 1 2 3 4 5; do
  printf '{"id": "p%d", "verifier": "slow", "response": "", "problem": {"sleep": 0.%d}}\n' "$i" $((6 - i)) >> "$T/slow.jsonl"
done
"$R" verify --farm local:3 --plugins "$T/plugins" --jsonl "$T/slow.jsonl" > "$T/slow.out" 2> "$T/slow.err"
check "plugin via local farm: exit 0" test $? -eq 0
check "plugin via local farm: input order" diff <(printf 'p%d\tcorrect\t1\t\n' 0 1 2 3 4 5) <(fields "$T/slow.out")

# A broker and a worker started by hand, over tcp on loopback, with CURVE
# and the list of members (required: plaintext needs --insecure).
"$R" farm keygen --out "$T/broker.key" > "$T/broker.pubtxt" 2>/dev/null
check "keygen: key files" test -s "$T/broker.key" -a -s "$T/broker.key.pub"
check "keygen: secret file private" test "$(stat -c %a "$T/broker.key")" = 600
"$R" farm keygen --out "$T/worker.key" --authorize "$T/members" > /dev/null 2>&1
"$R" farm keygen --out "$T/client.key" --authorize "$T/members" > /dev/null 2>&1
check "keygen --authorize: both keys listed" test "$(grep -c . "$T/members")" -eq 2
port=$(python3 -c 'import socket, random
for _ in range(100):
    p = random.randint(20000, 60000)
    try:
        for q in (p, p + 1):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError: pass')
ep="tcp://127.0.0.1:$port"
"$R" farm broker --bind "$ep" --key "$T/broker.key" 2> "$T/err.txt"; check "broker without a member list: exit 1" test $? -eq 1
check "broker without a member list: says --insecure" grep -q -- "--insecure" "$T/err.txt"
"$R" farm worker --connect "$ep" 2> "$T/err.txt"; check "worker without keys: exit 1" test $? -eq 1
"$R" verify --farm "$ep" "$T/jobs.jsonl" 2> "$T/err.txt"; check "client without keys: exit 1" test $? -eq 1
check "client without keys: says --server-key" grep -q -- "--server-key" "$T/err.txt"
"$R" farm broker --bind "$ep" --key "$T/broker.key" --authorized-keys "$T/members" 2> "$T/broker.log" &
PIDS+=($!)
"$R" farm worker --connect "$ep" --slots 2 --server-key "$T/broker.key.pub" --key "$T/worker.key" 2> "$T/worker.log" &
PIDS+=($!)
"$R" verify --farm "$ep" --server-key "$T/broker.key.pub" --key "$T/client.key" --timeout 60 --jsonl "$T/jobs.jsonl" > "$T/tcp.jsonl" 2> "$T/tcp.err"
check "tcp+CURVE farm: exit 0" test $? -eq 0
fields "$T/tcp.jsonl" | cut -f1-3 > "$T/tcp.tsv"
check "tcp+CURVE farm: same results as in-process" diff "$T/inproc.tsv" "$T/tcp.tsv"
"$R" verify --farm "$ep" --insecure --timeout 2 --jsonl "$T/jobs.jsonl" > "$T/nokey.jsonl" 2>/dev/null
check "tcp+CURVE farm: no key, no results, exit 1" test $? -eq 1
check "tcp+CURVE farm: no key, every job answered with an error" \
  test "$(grep -c '"detail":"farm: no result within 2 s"' "$T/nokey.jsonl")" -eq 7
kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}"
check "worker: SIGTERM exits 0" test $? -eq 0
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}"
check "broker: SIGTERM exits 0" test $? -eq 0
check "broker: saw the worker leave" grep -q "left; requeued 0 jobs" "$T/broker.log"
PIDS=()

# Usage and setup errors.
"$R" verify --bogus 2>/dev/null; check "bad flag: exit 2" test $? -eq 2
"$R" verify --farm local:0 "$T/jobs.jsonl" 2> "$T/err.txt"; check "local:0: exit 1" test $? -eq 1
check "local:0: says why" grep -q "expected local:N" "$T/err.txt"
"$R" verify "$T/missing.jsonl" 2> "$T/err.txt"; check "missing input: exit 1" test $? -eq 1
"$R" verify --plugin nonsense "$T/jobs.jsonl" 2> "$T/err.txt"; check "bad --plugin: exit 1" test $? -eq 1
check "bad --plugin: says why" grep -q "expected NAME=PATH" "$T/err.txt"
"$R" farm broker --bind "udp://x" --insecure 2> "$T/err.txt"; check "bad bind: exit 1" test $? -eq 1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
