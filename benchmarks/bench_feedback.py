"""The feedback page: nbconvert's own HTMLExporter against the kit's (``nnkit.course.publish``),
on one executed reference notebook, in alternating rounds.

    python benchmarks/bench_feedback.py [--assignment convnets] [--rounds 7]

Prints each round's seconds and the median of the per-round ratios (kit / nbconvert).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from nnkit.course import publish
from nnkit.course.source_notebooks import ROOT
from nnkit.course.submissions import fill_reference, read_release, write_submission
from nnkit.execution import execute_notebooks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--assignment", default="convnets")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    a = args.assignment
    ref = fill_reference(read_release(ROOT / "release" / a), ROOT / "source" / a)
    with tempfile.TemporaryDirectory() as tmp:
        dest = write_submission(ref, Path(tmp) / a)
        executed, _ = execute_notebooks(dest, sorted(dest.glob("*.ipynb")))
    record = {"score": 0, "max_score": 0, "tests": [], "messages": [], "cells": []}
    pages = [
        publish.feedback_notebook(nbformat.reads(text, as_version=4), record)
        for text in executed.values()
    ]
    theirs, ours = HTMLExporter(), publish._exporter()
    ratios = []
    for r in range(args.rounds):
        t = time.perf_counter()
        for nb in pages:
            theirs.from_notebook_node(nb)
        tb = time.perf_counter() - t
        t = time.perf_counter()
        for nb in pages:
            ours.from_notebook_node(nb)
        ta = time.perf_counter() - t
        ratios.append(ta / tb)
        print(f"round {r + 1}: nbconvert {tb:.2f} s, kit {ta:.2f} s, ratio {ta / tb:.2f}")
    print(
        json.dumps(
            {
                "assignment": a,
                "notebooks": len(pages),
                "median_ratio": round(statistics.median(ratios), 3),
                "spread": [round(min(ratios), 3), round(max(ratios), 3)],
            }
        )
    )


if __name__ == "__main__":
    main()
