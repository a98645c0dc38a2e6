"""Time of the full hidden suite on the reference submission (and on release-style stubs).

    .venv/bin/python benchmarks/bench_grade.py [--repeat N] [PATH ...]

Prints one line per run: tests, score, wall time. The issue's budget is <= 15 s per
submission on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nnkit.grade import grade

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paths", nargs="*", type=Path, default=[REPO / "reference"])
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    for path in args.paths:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            res = grade(path, f"bench-{i}")
            dt = time.perf_counter() - t0
            print(
                f"{path.name}: {len(res.tests)} tests, score {res.score:g}/{res.max_score:g}, "
                f"{dt:.2f} s (run {i + 1}{', includes imports' if i == 0 else ''})"
            )


if __name__ == "__main__":
    main()
