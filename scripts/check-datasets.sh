#!/usr/bin/env bash
# check-datasets.sh: grade the public evaluation sets with the verifiers, as a
# check of the verifiers on real data (not a unit test: it needs the sets).
#   scripts/check-datasets.sh [DIR]        DIR defaults to ../shared/datasets
#   REASONER=build/reasoner VERIFY_FLAGS="--farm local:4" scripts/check-datasets.sh
# Expectations, each printed with its count:
#   HumanEval: all 164 canonical solutions pass; the same solutions with their
#              return value altered all fail;
#   MBPP:      every reference solution passes except tasks 596 and 642, which
#              depend on sys.getsizeof / set order of old CPythons; task 341
#              (the order of a set turned into a tuple) may go either way:
#              the function tests build the set in another process, from the
#              values the tests sent (verifier/README.md);
#   GSM8K:     every test answer matches itself written as \boxed{N} and as
#              \boxed{} with thousands separators.
# Jobs go through `reasoner verify` (in-process unless VERIFY_FLAGS says a
# farm). Exit status 0 when every expectation holds, 1 otherwise.
set -u
DIR=${1:-../shared/datasets}
R=${REASONER:-build/reasoner}
FLAGS=${VERIFY_FLAGS:-}
if [ ! -x "$R" ]; then echo "check-datasets: $R not found (run make, or set REASONER)" >&2; exit 1; fi
for f in humaneval.jsonl mbpp.jsonl gsm8k_test.jsonl; do
  if [ ! -f "$DIR/$f" ]; then echo "check-datasets: $DIR/$f missing: nothing to check" >&2; exit 1; fi
done
T=$(mktemp -d "${TMPDIR:-/tmp}/reasoner-check-datasets-XXXXXX")
trap 'rm -rf "$T"' EXIT

# Jobs: {"id", "verifier", "response", "problem"}, one a line; the id says
# which expectation a result belongs to.
python3 - "$DIR" "$T/jobs.jsonl" <<'EOF'
import json, sys
d, out = sys.argv[1], open(sys.argv[2], "w")
def job(id, verifier, response, problem):
    out.write(json.dumps({"id": id, "verifier": verifier, "response": response, "problem": problem}) + "\n")
# A wrapper that changes whatever the function returns, by its type.
ALTER = '''
_reasoner_original = {f}
def {f}(*args, **kwargs):
    r = _reasoner_original(*args, **kwargs)
    if isinstance(r, bool): return not r
    if isinstance(r, (int, float)): return r + 1
    if isinstance(r, str): return r + "x"
    if isinstance(r, list): return r + [None]
    if isinstance(r, tuple): return r + (None,)
    if r is None: return 0
    return None
'''
for line in open(d + "/humaneval.jsonl"):
    r = json.loads(line)
    pb = {k: r[k] for k in ("prompt", "test", "entry_point")}
    job("he-ok/" + r["task_id"], "code", r["canonical_solution"], pb)  # a completion: the prompt is prepended
    altered = r["prompt"] + r["canonical_solution"] + ALTER.format(f=r["entry_point"])
    job("he-altered/" + r["task_id"], "code", "```python\n" + altered + "\n```", pb)
for line in open(d + "/mbpp.jsonl"):
    r = json.loads(line)
    pb = {"test_list": r["test_list"], "test_setup_code": r["test_setup_code"]}
    job("mbpp/%d" % r["task_id"], "code", "```python\n" + r["code"] + "\n```", pb)
for i, line in enumerate(open(d + "/gsm8k_test.jsonl")):
    r = json.loads(line)
    gold = r["answer"].split("####")[-1].strip().replace(",", "")
    sep = "{:,}".format(int(gold)) if gold.lstrip("-").isdigit() else gold
    job("gsm8k-boxed/%d" % i, "math", "The answer is \\boxed{%s}." % gold, {"answer": gold})
    job("gsm8k-sep/%d" % i, "math", "The answer is \\boxed{%s}." % sep, {"answer": gold})
EOF
echo "check-datasets: $(wc -l < "$T/jobs.jsonl") jobs from $DIR, through $R verify $FLAGS"
start=$(date +%s)
# shellcheck disable=SC2086
if ! "$R" verify --jsonl $FLAGS < "$T/jobs.jsonl" > "$T/results.jsonl"; then
  echo "check-datasets: reasoner verify failed" >&2
  exit 1
fi
echo "check-datasets: graded in $(( $(date +%s) - start )) s"

python3 - "$T/results.jsonl" <<'EOF'
import collections, json, sys
groups = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    kind, _, name = r["id"].partition("/")
    groups[kind].append((name, r))
ok = True
def report(kind, label, want_correct, allowed=(), either=()):
    global ok
    rows = groups.get(kind, [])
    good = [n for n, r in rows if (r["status"] == "correct") == want_correct]
    bad = [(n, r) for n, r in rows if (r["status"] == "correct") != want_correct]
    allowed = tuple(allowed) + tuple(n for n in either if n in {m for m, _ in bad})
    unexpected = [(n, r) for n, r in bad if n not in allowed]
    print("%-44s %4d/%-4d %s" % (label, len(good), len(rows), "as expected" if not unexpected else "UNEXPECTED"))
    for n, r in bad:
        print("    %s %s: %s %s" % ("expected:  " if n in allowed else "unexpected:", n, r["status"],
                                     (r.get("detail") or "")[:150]))
    missing = set(allowed) - {n for n, _ in bad}
    if missing:
        print("    expected to fail but passed: %s" % ", ".join(sorted(missing)))
    ok = ok and not unexpected and not missing and len(rows) > 0
report("he-ok", "HumanEval canonical solutions pass", True)
report("he-altered", "HumanEval altered solutions fail", False)
report("mbpp", "MBPP reference solutions pass", True, allowed=("596", "642"), either=("341",))
report("gsm8k-boxed", "GSM8K answers match as \\boxed{N}", True)
report("gsm8k-sep", "GSM8K answers match with separators", True)
statuses = collections.Counter(r["status"] for rows in groups.values() for _, r in rows)
print("statuses: " + ", ".join("%s %d" % kv for kv in sorted(statuses.items())))
print("check-datasets: %s" % ("all expectations hold" if ok else "SOME EXPECTATIONS FAILED"))
sys.exit(0 if ok else 1)
EOF
