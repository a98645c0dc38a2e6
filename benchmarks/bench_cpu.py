"""Where the machine's CPU goes: one class through ``nnkit autograde`` (2 and 1 workers) and
plain ``nbgrader autograde``, each run's wall seconds and the CPU seconds the whole machine
spent meanwhile (``/proc/stat``; sandboxed processes included, which the grader's own
rusage misses). Run it on an otherwise idle machine.

    python benchmarks/bench_cpu.py [--students N]

The ratio that matters for the 2-worker target: with the cores saturated, wall time is about
CPU seconds / cores, so nnkit reaches half of nbgrader's time only when its CPU seconds are
at most nbgrader's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_pipeline as B

from nnkit.course.release import nbgrader_env


def busy_seconds() -> float:
    """CPU seconds the machine has spent outside idle and iowait since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / 100.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, default=20)
    args = p.parse_args()
    n = args.students
    with tempfile.TemporaryDirectory() as tmp:
        course = B.make_class(Path(tmp), n)
        runs = {
            "nnkit, 2 workers": ["-m", "nnkit", "autograde", B.A, "--force", "--workers", "2"],
            "nnkit, 1 worker": ["-m", "nnkit", "autograde", B.A, "--force", "--workers", "1"],
            "nbgrader": ["-m", "nbgrader", "autograde", B.A, "--force", *B.DEFAULTS],
        }
        for name, cmd in runs.items():
            B.fresh(course)
            c, t = busy_seconds(), time.perf_counter()
            env = nbgrader_env()
            subprocess.run([sys.executable, *cmd], cwd=course, env=env, capture_output=True)
            wall, cpu = time.perf_counter() - t, busy_seconds() - c
            print(f"{name:17} wall {wall:6.1f} s, machine CPU {cpu:6.1f} s ({cpu / n:.2f} per nb)")


if __name__ == "__main__":
    main()
