"""The sandbox's own cost per submission: full isolation vs rlimits only, alternating rounds.

    python benchmarks/bench_sandbox.py [--rounds R] [--starts K]

Each round runs two fresh processes, A (every layer this host offers) then B (namespaces and
Landlock disabled, ``--unsafe-no-isolation``), each timing K worker starts (start + one call +
close) and K executions of a 3-cell numpy/matplotlib notebook. Prints per-round means and the
median per-round difference and ratio. With namespaces, A's notebooks are forked from the
fork server (warmed by a first run), so A can cost less than B, which starts Python for each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = r"""
import json, sys, tempfile, time
from pathlib import Path
import nbformat
from nnkit.execution import execute_notebooks
from nnkit.loader import load_submission
from nnkit.sandbox import Worker
k = int(sys.argv[1])
d = Path(tempfile.mkdtemp()) / "a"
d.mkdir()
(d / "sub.py").write_text("def f(x):\n    return x + 1\n")
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in (
    "import numpy as np\nimport matplotlib.pyplot as plt", "plt.plot([1, 2, 3])", "np.ones(3)")]
nbformat.write(nb, d / "t.ipynb")
execute_notebooks(d, [d / "t.ipynb"])  # warm the runtime dir
t = time.perf_counter()
for _ in range(k):
    with Worker(load_submission(d / "sub.py")) as w:
        assert w.call("f", 1).value == 2
worker = (time.perf_counter() - t) / k
t = time.perf_counter()
for _ in range(k):
    execute_notebooks(d, [d / "t.ipynb"])
notebook = (time.perf_counter() - t) / k
print(json.dumps({"worker": worker, "notebook": notebook}))
"""


def side(isolated: bool, starts: int) -> dict[str, float]:
    env = dict(os.environ)
    if not isolated:
        env["NNKIT_SANDBOX_DISABLE"] = "namespaces,landlock"
        env["NNKIT_UNSAFE_NO_ISOLATION"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(starts)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--starts", type=int, default=5)
    args = p.parse_args()
    diffs: dict[str, list[float]] = {"worker": [], "notebook": []}
    ratios: dict[str, list[float]] = {"worker": [], "notebook": []}
    for r in range(args.rounds):
        a = side(True, args.starts)
        b = side(False, args.starts)
        print(
            f"round {r + 1}: isolated worker {a['worker'] * 1e3:.0f} ms, notebook "
            f"{a['notebook'] * 1e3:.0f} ms | rlimits only worker {b['worker'] * 1e3:.0f} ms, "
            f"notebook {b['notebook'] * 1e3:.0f} ms"
        )
        for k in diffs:
            diffs[k].append(a[k] - b[k])
            ratios[k].append(a[k] / b[k])
    for k in diffs:
        print(
            f"{k}: sandbox cost {statistics.median(diffs[k]) * 1e3:+.0f} ms per start "
            f"(median of rounds; ratio {statistics.median(ratios[k]):.2f}x, "
            f"spread {min(ratios[k]):.2f}-{max(ratios[k]):.2f})"
        )


if __name__ == "__main__":
    main()
