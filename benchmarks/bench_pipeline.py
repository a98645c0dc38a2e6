"""The whole pipeline vs plain ``nbgrader autograde`` on one class, in alternating rounds.

    python benchmarks/bench_pipeline.py [--students N] [--rounds R] [--workers 1,2]

The class mixes correct, stub, buggy, hostile and broken convnets notebooks. Side A: ``nnkit
autograde`` (execution in the sandbox + hidden suites + gradebook + feedback) with each
worker count; side B: plain ``nbgrader autograde`` of the same class (kernel execution only,
unsandboxed, its default preprocessors restored for the benchmark). Prints each round's
seconds and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnkit.course import submissions as S
from nnkit.course.release import generate, make_course, nbgrader_env

A = "convnets"
DEFAULTS = (
    "--Autograde.sanitize_preprocessors=['nbgrader.preprocessors.ClearOutput',"
    "'nbgrader.preprocessors.DeduplicateIds','nbgrader.preprocessors.OverwriteKernelspec',"
    "'nbgrader.preprocessors.OverwriteCells','nbgrader.preprocessors.CheckCellMetadata']",
    "--Autograde.autograde_preprocessors=['nbgrader.preprocessors.Execute',"
    "'nbgrader.preprocessors.LimitOutput','nbgrader.preprocessors.SaveAutoGrades',"
    "'nbgrader.preprocessors.AssignLatePenalties','nbgrader.preprocessors.CheckCellMetadata']",
)


def make_class(root: Path, n: int) -> Path:
    course = make_course(root / "course")
    generate(A, course)
    release = S.read_release(course / "release" / A)
    ref = S.fill_reference(release, course / "source" / A)
    kinds = {
        "ref": ref,
        "stub": release,
        "buggy": S.replace_in_cell(
            ref, "conv_backward", "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))[0]"
        ),
        "hostile": S.input_transformer_attack(ref, "conv_forward"),
    }
    names = [*kinds, "broken"]
    for i in range(n):
        kind = names[i % len(names)]
        dest = course / "submitted" / f"s{i:03d}" / A
        if kind == "broken":  # a notebook cut off in the middle of its JSON
            S.write_submission(ref, dest)
            nb = dest / "ConvolutionalNetworks.ipynb"
            nb.write_bytes(nb.read_bytes()[:5000])
        else:
            S.write_submission(kinds[kind], dest)
    return course


def reset(course: Path) -> None:
    for d in ("autograded", "feedback", "reports"):
        shutil.rmtree(course / d, ignore_errors=True)
    (course / "gradebook.db").unlink(missing_ok=True)


def fresh(course: Path) -> None:
    """The course as before any grading run: outputs gone, the release generated again."""
    reset(course)
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", A, "--force", "--quiet"],
        cwd=course,
        env=nbgrader_env(),
        check=True,
        capture_output=True,
    )


def timed(cmd: list[str], course: Path, check: bool = True) -> float:
    """Seconds of one grading run (nbgrader exits 1 when some notebook was broken)."""
    fresh(course)
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=course, env=nbgrader_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if check and done.returncode != 0:
        raise SystemExit(f"{cmd[2:5]} failed:\n{done.stderr[-2000:]}")
    graded = len(list((course / "autograded").glob(f"*/{A}")))
    if graded == 0:
        raise SystemExit(f"{cmd[2:5]} graded nothing:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", default="1,2", help="nnkit's worker counts, e.g. 1,2")
    args = p.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        course = make_class(Path(tmp), args.students)
        nnkit = [sys.executable, "-m", "nnkit", "autograde", A, "--force", "--workers"]
        plain = [sys.executable, "-m", "nbgrader", "autograde", A, "--force", *DEFAULTS]
        ratios: dict[int, list[float]] = {w: [] for w in counts}
        for r in range(args.rounds):
            parts = []
            for w in counts:  # A B A B: each nnkit run against the nbgrader run after it
                ta = timed([*nnkit, str(w)], course)
                tb = timed(plain, course, check=False)
                ratios[w].append(ta / tb)
                parts.append(f"nnkit {w} worker(s) {ta:.1f} s, nbgrader {tb:.1f} s")
            print(f"round {r + 1}: " + "; ".join(parts), flush=True)
        summary = ", ".join(
            f"{w} worker(s) {statistics.median(v):.2f}x (spread {min(v):.2f}-{max(v):.2f})"
            for w, v in ratios.items()
        )
        print(f"{args.students} notebooks; median per-round ratio nnkit/nbgrader: {summary}")


if __name__ == "__main__":
    main()
