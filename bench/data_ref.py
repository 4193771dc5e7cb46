#!/usr/bin/env python3
"""The Python reference for bench/data.c: FineWeb's per-document steps as
datatrove runs them -- trafilatura extraction (favour_precision, as
datatrove's Trafilatura step), then GopherRepetitionFilter,
GopherQualityFilter, C4QualityFilter (no terminal-punctuation rule) and
FineWebQualityFilter -- on the HTML files listed in argv[1], one process.
Language id is left out: datatrove's LanguageFilter downloads a fastText
model. Prints JSON: total seconds and, per stage, seconds and input bytes.

    python3 bench/data_ref.py files.txt > ref.json
"""
import json
import sys
import time


def main():
    import trafilatura

    paths = [l.strip() for l in open(sys.argv[1]) if l.strip()]
    stages = {}
    what = f"trafilatura {trafilatura.__version__}"
    filters = []
    try:
        import datatrove
        from datatrove.data import Document
        from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                                GopherRepetitionFilter)
        filters = [("gopher_rep", GopherRepetitionFilter()), ("gopher_qual", GopherQualityFilter()),
                   ("c4", C4QualityFilter(filter_no_terminal_punct=False)), ("fineweb", FineWebQualityFilter())]
        from importlib.metadata import version
        what += f" + datatrove {version('datatrove')} filters"
    except ImportError:
        Document = None

    def account(name, seconds, nbytes):
        s = stages.setdefault(name, {"seconds": 0.0, "bytes_in": 0})
        s["seconds"] += seconds
        s["bytes_in"] += nbytes

    t_all = time.perf_counter()
    for i, path in enumerate(paths):
        raw = open(path, "rb").read()
        html = raw.decode("utf-8", errors="replace")
        t = time.perf_counter()
        text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=False)
        account("extract", time.perf_counter() - t, len(raw))
        if not text or Document is None:
            continue
        doc = Document(text=text, id=str(i), metadata={"url": path})
        for name, f in filters:
            nbytes = len(doc.text.encode())
            t = time.perf_counter()
            keep = f.filter(doc)
            account(name, time.perf_counter() - t, nbytes)
            if isinstance(keep, tuple):
                keep = keep[0]
            if not keep:
                break
    json.dump({"what": what, "seconds": time.perf_counter() - t_all, "stages": stages}, sys.stdout)


if __name__ == "__main__":
    main()
