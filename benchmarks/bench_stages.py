"""Where one submission's time goes: the stages of ``run_task`` for each kind of the class of
``bench_pipeline.py`` (correct, stub, buggy, hostile, broken convnets notebooks).

    python benchmarks/bench_stages.py [--passes P]

Runs the tasks in this process, as a pool worker does, and prints the last pass (imports,
per-process caches and the notebook fork server warm): each stage's wall seconds and the
trusted process's CPU seconds.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_pipeline

import nnkit.batch.task as T
from nnkit.batch.discover import discover
from nnkit.batch.runner import _release
from nnkit.batch.triage import CourseIndex
from nnkit.datasets import load_setting

STAGES = ("stage", "execute_notebooks", "grade", "render")


def timed(fn: Callable[..., Any], name: str, into: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - t

    return wrapper


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--passes", type=int, default=2)
    args = p.parse_args()
    seconds: dict[str, float] = {}
    for name in ("stage", "execute_notebooks", "render"):
        setattr(T, name, timed(getattr(T, name), name, seconds))
    grade = timed(T.resolve(T.DEFAULT_GRADE_FN), "grade", seconds)
    T.resolve = lambda path: grade
    with tempfile.TemporaryDirectory() as tmp:
        course = bench_pipeline.make_class(Path(tmp), 5)
        index, data = CourseIndex.from_course(course), load_setting(course)
        release = _release(course, bench_pipeline.A)
        subs = discover(course / "submitted", bench_pipeline.A)
        kinds = ["correct", "stub", "buggy", "hostile", "broken"]
        for _ in range(args.passes):
            rows = []
            for kind, sub in zip(kinds, subs, strict=True):
                task = T.make_task(sub, "bench", index, execute=True, release=release, data=data)
                seconds.clear()
                t, c = time.perf_counter(), time.process_time()
                T.run_task(task)
                rows.append((kind, time.perf_counter() - t, time.process_time() - c, dict(seconds)))
        print(f"{'kind':8} {'total':>6} {'cpu':>5} " + " ".join(f"{s:>17}" for s in STAGES))
        for kind, total, cpu, st in rows:
            cells = " ".join(f"{st.get(s, 0.0):17.2f}" for s in STAGES)
            print(f"{kind:8} {total:6.2f} {cpu:5.2f} {cells}")
        print(f"sum {sum(r[1] for r in rows):.2f} s (the last of {args.passes} passes)")


if __name__ == "__main__":
    main()
