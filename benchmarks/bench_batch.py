"""Batch grading throughput: synthetic class of correct, buggy and hostile submissions.

Each submission is the whole reference (``reference/*.py``) as a multi-file ``.py``
submission, unchanged (correct), with one realistic bug (buggy) or with one hostile function
(hostile: a hang, a memory bomb, an exit). The class is graded with 1 and 2 local workers and
on a Dask LocalCluster of 2 single-threaded workers; the table gives the total wall time,
the time per submission and the speed-up over 1 worker.

    python benchmarks/bench_batch.py [--n 200] [--timeout 2] [--modes 1,2,dask]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import reference
from nnkit.batch.runner import BatchConfig, run_batch
from nnkit.batch.store import ResultStore

REF = Path(reference.__file__).parent

#: (file, old, new): one realistic bug each.
BUGS = [
    ("layers.py", "return dout * (x > 0)", "return dout * (x >= 0)"),
    ("layers.py", "db = dout.sum(axis=0)", "db = dout.mean(axis=0)"),
    ("optim.py", 't = config["t"] + 1', 't = config["t"]'),
    ("layers.py", "np.maximum(x, 0)", "np.abs(x)"),
]
#: (file, function, body) hostile replacements of one function.
HOSTILE = [
    ("layers.py", "sigmoid_forward", "    while True:\n        pass\n"),
    ("layers.py", "svm_loss", "    big = [bytearray(2**30) for _ in range(64)]\n    return big\n"),
    ("layers.py", "mse_loss", "    import os\n    os._exit(3)\n"),
]


def _replace_function(text: str, name: str, body: str) -> str:
    import ast

    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = text.splitlines(keepends=True)
            start, end = node.lineno - 1, node.end_lineno or node.lineno
            sig = "".join(lines[start : node.body[0].lineno - 1])  # up to the docstring
            return "".join(lines[:start]) + sig + body + "".join(lines[end:])
    raise KeyError(name)


def make_class(root: Path, n: int, assignment: str = "hw", seed: int = 0) -> dict[str, str]:
    """``root/submitted/<student>/<assignment>/*.py``: 70 % correct, 20 % buggy, 10 % hostile."""
    rng = random.Random(seed)
    sources = {p.name: p.read_text() for p in REF.glob("*.py") if p.name != "__init__.py"}
    kinds: dict[str, str] = {}
    for i in range(n):
        student = f"student{i:04d}"
        r = rng.random()
        files = dict(sources)
        if r < 0.7:
            kind = "correct"
        elif r < 0.9:
            f, old, new = BUGS[i % len(BUGS)]
            files[f] = files[f].replace(old, new)
            kind = "buggy"
        else:
            f, fn, body = HOSTILE[i % len(HOSTILE)]
            files[f] = _replace_function(files[f], fn, body)
            kind = "hostile"
        d = root / "submitted" / student / assignment
        d.mkdir(parents=True)
        for name, text in files.items():
            (d / name).write_text(text)
        kinds[student] = kind
    return kinds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="submissions")
    ap.add_argument("--timeout", type=float, default=2.0, help="per-call limit of the engine")
    ap.add_argument("--modes", default="1,2,dask", help="comma list of 1, 2, dask")
    args = ap.parse_args()

    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="nnkit-bench-") as tmp:
        root = Path(tmp)
        kinds = make_class(root, args.n)
        mix = {k: list(kinds.values()).count(k) for k in ("correct", "buggy", "hostile")}
        print(f"{args.n} submissions {mix}, engine timeout {args.timeout} s", flush=True)
        for mode in args.modes.split(","):
            cfg = BatchConfig(
                root=root / "submitted",
                out_dir=root / f"out-{mode}",
                db_url=f"sqlite:///{root / f'gradebook-{mode}.db'}",
                grade_kwargs={"timeout": args.timeout},
                progress=sys.stderr.isatty(),
            )
            if mode == "dask":
                from distributed import LocalCluster

                t_start = time.perf_counter()
                with LocalCluster(
                    n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
                ) as cluster:
                    startup = time.perf_counter() - t_start
                    cfg.scheduler = cluster.scheduler_address
                    t0 = time.perf_counter()
                    summary = run_batch(cfg)
                    dt = time.perf_counter() - t0
                label = f"Dask LocalCluster, 2 workers (+{startup:.1f} s cluster start)"
            else:
                cfg.workers = int(mode)
                t0 = time.perf_counter()
                summary = run_batch(cfg)
                dt = time.perf_counter() - t0
                label = f"local pool, {mode} worker{'s' * (mode != '1')}"
            assert summary.graded == args.n, summary
            store = ResultStore(summary.out_dir)
            subs = summary.submissions
            secs = sorted(store.seconds(s.assignment, s.student) or 0.0 for s in subs)
            rows.append((label, dt, statistics.median(secs), secs[-1]))
            print(f"  {label}: {dt:.1f} s ({summary.errors} errors)", flush=True)

    base = rows[0][1]
    print()
    print(
        "| mode | total (s) | wall s / submission | per 100 (min) | speed-up "
        "| median grading s | slowest s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, dt, med, worst in rows:
        per = dt / args.n
        print(
            f"| {label} | {dt:.1f} | {per:.2f} | {100 * per / 60:.1f} | {base / dt:.2f} "
            f"| {med:.2f} | {worst:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
