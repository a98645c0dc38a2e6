"""Similarity report time on a synthetic class (``nnkit similarity``).

Each submission is the reference solution of an assignment filled into its release, then
disguised per student: identifiers renamed, lines dropped and own statements inserted in every
solution cell; a few students hand in a renamed copy of another student's work, and a few
hand in the release untouched. Optionally a past term of the same size is the reference
corpus. Prints the wall time of the whole report (reading, extraction, copydetect, HTML).

    python benchmarks/bench_similarity.py [--n 200] [--assignment fully_connected] [--past 0]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from nnkit.course.source_notebooks import ROOT
from nnkit.course.submissions import fill_reference, read_release, write_submission
from nnkit.similarity import similarity

_NAME = re.compile(r"\b([a-z_][a-z0-9_]{2,})\s*=(?!=)")


def disguise(source: str, rng: random.Random) -> str:
    """Rename assigned names, drop ~15 % of the lines, add own statements."""
    names = sorted(set(_NAME.findall(source)))
    for n in rng.sample(names, k=len(names) // 2):
        source = re.sub(rf"\b{n}\b", f"{n}_{rng.randrange(100)}", source)
    out = []
    for line in source.split("\n"):
        if (
            line.strip()
            and rng.random() < 0.15
            and not line.lstrip().startswith(("def ", "class "))
        ):
            continue
        out.append(line)
        if rng.random() < 0.1:
            indent = line[: len(line) - len(line.lstrip())]
            out.append(
                f"{indent}tmp_{rng.randrange(1000)} = {rng.random():.3f} * {rng.randrange(9)}"
            )
    return "\n".join(out)


def make_class(root: Path, assignment: str, n: int, seed: int, copies: int, stubs: int) -> None:
    release = read_release(ROOT / "release" / assignment)
    ref = fill_reference(release, ROOT / "source" / assignment)
    rng = random.Random(seed)
    made: list[dict] = []
    for i in range(n):
        if i < stubs:
            nbs = release
        elif i < stubs + copies and made:
            nbs = rng.choice(made)  # a copy of someone's work, renamed once more
            nbs = _map(nbs, lambda s: disguise(s, rng) if rng.random() < 0.3 else s)
        else:
            nbs = _map(ref, lambda s: disguise(s, rng))
            made.append(nbs)
        write_submission(nbs, root / f"student{i:04d}" / assignment)


def _map(nbs: dict, fn) -> dict:  # noqa: ANN001
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get(
                "solution"
            ):
                cell.source = fn(cell.source)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--assignment", default="fully_connected")
    ap.add_argument("--past", type=int, default=0, help="size of a past term (0: none)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copytree(ROOT / "release" / args.assignment, course / "release" / args.assignment)
        make_class(course / "submitted", args.assignment, args.n, 0, args.n // 20, args.n // 50)
        past = []
        if args.past:
            make_class(course / "past" / "submitted", args.assignment, args.past, 1, 0, 0)
            past = [course / "past"]
        lines = sum(
            len(c.source.splitlines())
            for p in (course / "submitted" / "student0010" / args.assignment).glob("*.ipynb")
            for c in nbformat.read(str(p), as_version=4).cells
        )
        t0 = time.perf_counter()
        rep = similarity(course, args.assignment, past)
        wall = time.perf_counter() - t0
        size = rep.html.stat().st_size / 2**20 if rep.html else 0
    print(f"assignment          {args.assignment} ({lines} notebook lines per submission)")
    print(f"submissions         {rep.students} compared, {len(rep.empty)} without code,", end="")
    print(f" {rep.past} past")
    print(f"flagged pairs       {len(rep.pairs)}")
    per = wall / max(1, rep.students) * 1000
    print(f"wall time           {wall:.1f} s  ({per:.0f} ms per submission)")
    print(f"HTML report         {size:.1f} MB")


if __name__ == "__main__":
    main()
