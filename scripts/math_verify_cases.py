#!/usr/bin/env python3
"""Math-Verify (HF's math-verify package) on the math verifier's case set, for
scripts/check-math.sh: prints the same figures as bench/math (agreement,
false positives, false negatives) and its grades/s on one core.

Each case is graded as Math-Verify's README grades a model response: the gold
is parsed as "$gold$", the prediction (a whole response) with the default
extraction configs, then verify(gold, pred). A case that raises or times out
counts as graded wrong.

  /tmp/mv/bin/python scripts/math_verify_cases.py tests/verifier/math_cases.jsonl [--quiet]
"""
import json
import sys
import time

from math_verify import parse, verify


def grade(gold, pred):
    try:
        g = parse("$" + gold + "$")
        p = parse(pred)
        return bool(verify(g, p))
    except Exception:  # noqa: BLE001 - any failure is a wrong grade
        return False


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/verifier/math_cases.jsonl"
    quiet = "--quiet" in sys.argv
    cases = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    agree = fp = fn = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for c in cases:
        got = grade(c["gold"], c["pred"])
        if got == c["expected"]:
            agree += 1
        elif got:
            fp += 1
        else:
            fn += 1
        if got != c["expected"] and not quiet:
            kind = "FALSE POSITIVE" if got else "false negative"
            print(f"  {kind}  gold {c['gold']} | pred {c['pred'][:120]!r} | {c.get('note', '')}")
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(cases)
    print(f"math-verify: {n} cases, agreement {100.0 * agree / max(n, 1):.1f}% ({agree}), "
          f"false positives {fp}, false negatives {fn}")
    print(f"math-verify: {n / cpu:.0f} grades/s per core of CPU time, {n / secs:.0f} per wall-clock second (case set)")


if __name__ == "__main__":
    main()
