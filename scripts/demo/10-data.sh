#!/usr/bin/env bash
# 10-data.sh: the demo's data stage. The HTML documentation of Debian's
# python3-doc stands in for the web: 530 pages through the whole pipeline
# (extraction, language, Gopher, C4, FineWeb, MinHash, PII) into
# $DEMO_OUT/data/shard-*.jsonl, which the tokenizer and pretraining stages
# read next. configs/data-demo.json relaxes the few FineWeb rules that
# remove documentation pages for holding code (it says why); every other
# threshold is FineWeb's. A rerun skips the pages already done.
#   REASONER=build/reasoner DEMO_OUT=out/demo bash scripts/demo/10-data.sh
set -euo pipefail
DOC=/usr/share/doc/python3-doc/html
OUT="$DEMO_OUT/data"
if [ ! -d "$DOC" ]; then
  echo "10-data: $DOC is missing: run scripts/install-deps.sh (package python3-doc)" >&2
  exit 1
fi
mapfile -t pages < <(find -L "$DOC" -name '*.html' | LC_ALL=C sort)
echo "data: ${#pages[@]} HTML pages from python3-doc as the web, config configs/data-demo.json -> $OUT"
"$REASONER" data run --config configs/data-demo.json --input "${pages[@]}" --out "$OUT"

# The summary rows, from stats.json.
python3 - "$OUT/stats.json" >> "$DEMO_OUT/summary.tsv" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
st = s["stages"]
print(f"data\tdocs in\t{st['input']['docs_in']} ({st['input']['bytes_in'] / 1e6:.1f} MB HTML)")
print(f"data\tdocs kept\t{s['docs_out']}")
print(f"data\tbytes kept\t{s['bytes_out'] / 1e6:.2f} MB of text")
top = sorted(((n, r) for r, n in s["removed"].items() if n), reverse=True)[:3]
print("data\ttop removal reasons\t" + ", ".join(f"{r} {n}" for n, r in top))
PY
