#!/usr/bin/env bash
# test_farm_netns.sh: the farm across hosts, for real. Three network
# namespaces joined by veth links stand for three machines: the broker's
# (10.99.1.1 and 10.99.2.1), worker 1's (10.99.1.2, also the client's) and
# worker 2's (10.99.2.2). Everything speaks tcp:// with CURVE and a member
# list. Checks: grading works; a client without the broker's key, or with a
# wrong one, gets nothing; a worker not on the list cannot join; RESULTs
# forged by a listed worker for jobs it was not given are dropped; killing
# worker 2's namespace (every process in it) mid-batch loses no job and
# duplicates none. Only addresses inside these namespaces are used. Skips,
# saying why, where namespaces cannot be made; removes them on any exit.
#   REASONER_BIN=build/reasoner bash tests/verifier/test_farm_netns.sh
set -u
R=${REASONER_BIN:?set REASONER_BIN to the reasoner binary}
passed=0; failed=0
check() {  # check NAME CMD...: run CMD, count the verdict
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
skip() { echo "skipped: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }

command -v ip > /dev/null || skip "no 'ip' (iproute2: scripts/install-deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || skip "making network namespaces needs root"
NB=rsn-b-$$ N1=rsn-w1-$$ N2=rsn-w2-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/reasoner-netns-XXXXXX")
cleanup() {
  for n in $NB $N1 $N2; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add $NB 2> "$T/err" || skip "cannot create a network namespace: $(cat "$T/err")"
ip netns add $N1 && ip netns add $N2 || skip "cannot create network namespaces"
ip link add vb1-$$ netns $NB type veth peer name vw1-$$ netns $N1 2> "$T/err" || skip "no veth links: $(cat "$T/err")"
ip link add vb2-$$ netns $NB type veth peer name vw2-$$ netns $N2 || skip "no veth links"
ip -n $NB addr add 10.99.1.1/24 dev vb1-$$ && ip -n $NB addr add 10.99.2.1/24 dev vb2-$$
ip -n $N1 addr add 10.99.1.2/24 dev vw1-$$ && ip -n $N2 addr add 10.99.2.2/24 dev vw2-$$
for n in $NB $N1 $N2; do ip -n "$n" link set lo up; done
ip -n $NB link set vb1-$$ up && ip -n $NB link set vb2-$$ up
ip -n $N1 link set vw1-$$ up && ip -n $N2 link set vw2-$$ up
ip netns exec $N1 ip route add 10.99.2.0/24 via 10.99.1.1 2>/dev/null
ip netns exec $N2 ip route add 10.99.1.0/24 via 10.99.2.1 2>/dev/null

# Keys: the broker's, two workers and a client on the list; a rogue worker
# and a stranger broker that are not.
for k in broker w1 w2 client rogue stranger; do
  case $k in w1|w2|client) a=(--authorize "$T/members") ;; *) a=() ;; esac
  "$R" farm keygen --out "$T/$k.key" "${a[@]}" > /dev/null 2>&1
done
EP=tcp://10.99.1.1:5555        # clients; workers on 5556
WEP1=tcp://10.99.1.1:5555 WEP2=tcp://10.99.2.1:5555
ip netns exec $NB "$R" farm broker --bind tcp://0.0.0.0:5555 --key "$T/broker.key" \
  --authorized-keys "$T/members" --heartbeat 0.2 --heartbeat-timeout 2 2> "$T/broker.log" &
sleep 0.5

# Jobs: Python stdin/stdout programs that take a moment each, graded in
# the sandbox inside the workers' namespaces.
jobs() {  # jobs N PREFIX MS
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
n, prefix, ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
prog = "import time\ntime.sleep(%g)\nprint(int(input()) * 2)\n" % (ms / 1000)
for i in range(n):
    print(json.dumps({"id": "%s%d" % (prefix, i), "verifier": "code", "response": "```python\n" + prog + "```",
                      "problem": {"tests": [{"stdin": "%d\n" % i, "stdout": "%d\n" % (2 * i)}]}}))
EOF
}
client() {  # client OUT ARGS...: a client in worker 1's namespace
  local out=$1; shift
  ip netns exec $N1 "$R" verify --farm $EP --jsonl "$@" > "$out" 2>> "$T/client.log"
}
count() { grep -c "$2" "$1" 2>/dev/null || true; }

# A worker not on the list first, alone: it cannot join, so nothing is graded.
ip netns exec $N2 "$R" farm worker --connect $WEP2 --slots 1 --server-key "$T/broker.key.pub" \
  --key "$T/rogue.key" 2> "$T/rogue.log" &
ROGUE=$!
jobs 2 r 0 > "$T/r.jsonl"
client "$T/r.out" --server-key "$T/broker.key.pub" --key "$T/client.key" --timeout 4 "$T/r.jsonl"
check "unlisted worker: no job graded" test "$(count "$T/r.out" '"status":"correct"')" -eq 0
check "unlisted worker: refused by the broker" grep -q "refused a worker connection with an unlisted key" "$T/broker.log"
kill -9 $ROGUE 2>/dev/null; wait $ROGUE 2>/dev/null

# The listed workers, one per namespace.
ip netns exec $N1 "$R" farm worker --connect $WEP1 --slots 2 --server-key "$T/broker.key.pub" --key "$T/w1.key" \
  --heartbeat 0.2 --heartbeat-timeout 2 2> "$T/w1.log" &
ip netns exec $N2 "$R" farm worker --connect $WEP2 --slots 2 --server-key "$T/broker.key.pub" --key "$T/w2.key" \
  --heartbeat 0.2 --heartbeat-timeout 2 2> "$T/w2.log" &
for _ in $(seq 50); do [ "$(count "$T/broker.log" joined)" -ge 2 ] && break; sleep 0.2; done
check "both listed workers joined" test "$(count "$T/broker.log" joined)" -ge 2

jobs 8 g 0 > "$T/g.jsonl"
client "$T/g.out" --server-key "$T/broker.key.pub" --key "$T/client.key" --timeout 60 "$T/g.jsonl"
check "grading across namespaces: 8/8 correct" test "$(count "$T/g.out" '"status":"correct"')" -eq 8
check "grading across namespaces: full isolation" test "$(count "$T/g.out" '"isolation":"full"')" -eq 8

client "$T/n.out" --insecure --timeout 3 "$T/g.jsonl"
check "client without the broker's key: nothing graded" test "$(count "$T/n.out" '"status":"correct"')" -eq 0
client "$T/s.out" --server-key "$T/stranger.key.pub" --key "$T/client.key" --timeout 3 "$T/g.jsonl"
check "client with a wrong broker key: nothing graded" test "$(count "$T/s.out" '"status":"correct"')" -eq 0
client "$T/u.out" --server-key "$T/broker.key.pub" --key "$T/rogue.key" --timeout 3 "$T/g.jsonl"
check "client not on the list: nothing graded" test "$(count "$T/u.out" '"status":"correct"')" -eq 0

# A listed member turned forger: from worker 2's namespace it joins as a
# worker and sends RESULTs for jobs it was never given (guessed tags), over
# CURVE through libzmq. Every one must be dropped.
cat > "$T/forger.py" <<'EOF'
import ctypes, json, os, sys, time
z = ctypes.CDLL("libzmq.so.5")
z.zmq_ctx_new.restype = ctypes.c_void_p
z.zmq_socket.restype = ctypes.c_void_p
z.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
z.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
z.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
z.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
key = json.load(open(sys.argv[2])); server = json.load(open(sys.argv[3]))["public"]
s = z.zmq_socket(z.zmq_ctx_new(), 5)  # DEALER
def opt(o, v):
    b = v.encode() if isinstance(v, str) else v
    z.zmq_setsockopt(s, o, b, len(b))
opt(5, "forger")                                    # ZMQ_ROUTING_ID
opt(50, server); opt(48, key["public"]); opt(49, key["secret"])  # CURVE server, public, secret
z.zmq_connect(s, sys.argv[1].encode())
def send(*parts):
    for i, p in enumerate(parts):
        b = p if isinstance(p, bytes) else p.encode()
        z.zmq_send(s, b, len(b), 2 if i < len(parts) - 1 else 0)  # ZMQ_SNDMORE
send("READY", "1", "0")
end = time.time() + float(sys.argv[4])
while time.time() < end:
    for _ in range(20):
        send("RESULT", os.urandom(16), '{"id": "x", "score": 1, "status": "correct", "detail": "forged"}')
    send("HB")
    time.sleep(0.05)
EOF
jobs 6 f 300 > "$T/f.jsonl"
ip netns exec $N2 python3 "$T/forger.py" tcp://10.99.2.1:5556 "$T/w2.key" "$T/broker.key.pub" 6 &
FORGER=$!
client "$T/f.out" --server-key "$T/broker.key.pub" --key "$T/client.key" --timeout 60 "$T/f.jsonl"
kill $FORGER 2>/dev/null; wait $FORGER 2>/dev/null
check "forged RESULTs: every job graded for real" test "$(count "$T/f.out" '"status":"correct"')" -eq 6
check "forged RESULTs: none reached the client" test "$(count "$T/f.out" forged)" -eq 0
check "forged RESULTs: dropped by the broker" grep -q "dropped a result from forger" "$T/broker.log"

# Worker 2's namespace dies mid-batch (every process in it, SIGKILL): its
# jobs are requeued to worker 1; each job gets exactly one result.
jobs 16 k 400 > "$T/k.jsonl"
client "$T/k.out" --server-key "$T/broker.key.pub" --key "$T/client.key" --timeout 120 "$T/k.jsonl" &
CL=$!
sleep 1.2
for p in $(ip netns pids $N2); do kill -9 "$p" 2>/dev/null; done
wait $CL
check "worker namespace killed: every job answered correct" test "$(count "$T/k.out" '"status":"correct"')" -eq 16
check "worker namespace killed: no job twice" test "$(cut -d'"' -f4 "$T/k.out" | sort | uniq -d | wc -l)" -eq 0
check "worker namespace killed: broker requeued its jobs" grep -q "missed heartbeats\|disconnected" "$T/broker.log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
