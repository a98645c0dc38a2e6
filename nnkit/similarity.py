"""``nnkit similarity <assignment> [--past DIR ...]``: code similarity across a class.

What is compared is each student's own code: the solution cells of the release (matched by
nbgrader grade id) and the code cells the student added, IPython syntax removed by the kit's
one magic stripper; ``.py`` modules whole for assignments without notebooks. Submissions are
read with the kit's safe folder reader (no link followed) and notebook reader, never run.
The release's code (signatures, docstrings, provided cells) is boilerplate: matches made of
it do not count. Past terms' submissions (``--past DIR``: a ``submitted/`` folder or a course
root of an earlier term, several allowed) are a reference corpus: this term's submissions
are compared with them, they are not compared with each other.

The comparison is copydetect's (winnowed fingerprints of the token stream, names and
strings normalised, so renaming variables does not hide a copy). Written to
``reports/<assignment>/similarity/``: ``similarity.html`` (copydetect's report: the flagged
pairs with the matching code highlighted side by side, the similarity matrix and histogram)
and ``similarity.csv`` (one row per flagged pair, most similar first). The HTML shows the
``--max-pairs`` most similar pairs (all flagged ones are in the CSV), so that it stays
readable in a large class.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnkit.batch.discover import discover
from nnkit.notebooks import code_cells, grade_id, read_notebook, strip_magics
from nnkit.staging import read_tree

#: copydetect's defaults: matches shorter than NOISE tokens-characters are ignored, matches of
#: GUARANTEE or more are always found; pairs above THRESHOLD (share of a file's code that is
#: found in the other) are flagged.
NOISE = 25
GUARANTEE = 30
THRESHOLD = 0.33
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Release:
    """What the release gives: solution cell ids and every line of its code (boilerplate)."""

    solution_ids: set[str] = field(default_factory=set)
    given: dict[str, str] = field(default_factory=dict)  # solution cell id -> its starter code
    code: list[str] = field(default_factory=list)  # release code cells / modules, as text
    order: list[str] = field(default_factory=list)  # notebook names

    @classmethod
    def read(cls, folder: Path | None) -> Release:
        rel = cls()
        if folder is None or not folder.is_dir():
            return rel
        snap = read_tree(folder)
        for name, data in sorted(snap.files.items()):
            if "/" in name:
                continue
            if name.endswith(".ipynb"):
                nb, _ = read_notebook(name, data)
                if nb is None:
                    continue
                rel.order.append(name)
                for cell in nb["cells"]:
                    if cell["cell_type"] != "code":
                        continue
                    meta = cell.get("metadata", {}).get("nbgrader", {})
                    gid = grade_id(cell)
                    if gid and meta.get("solution"):
                        rel.solution_ids.add(gid)
                        rel.given[gid] = cell["source"].strip()
                    rel.code.append(strip_magics(cell["source"]))
            elif name.endswith(".py"):
                rel.code.append(data.decode("utf-8", errors="replace"))
        return rel


def student_code(files: dict[str, bytes], release: Release) -> str:
    """The student's own code in a submission (see the module documentation)."""
    given = {c.strip() for c in release.code}
    parts: list[str] = []
    names = sorted(
        (n for n in files if "/" not in n and n.endswith(".ipynb")),
        key=lambda n: (release.order.index(n) if n in release.order else len(release.order), n),
    )
    for name in names:
        nb, _ = read_notebook(name, files[name])
        if nb is None:
            continue
        for i, cell in enumerate(code_cells(nb)):
            src = cell.source
            if cell.grade_id:  # a solution cell, unless left as the release gave it
                own = cell.grade_id in release.solution_ids
                own = own and src.strip() != release.given.get(cell.grade_id)
            else:  # a cell the student added
                own = src.strip() not in given
            if own and src.strip():
                parts.append(f"# {name} [{cell.grade_id or f'code cell {i}'}]\n{strip_magics(src)}")
    if not names:
        for name in sorted(n for n in files if "/" not in n and n.endswith(".py")):
            parts.append(f"# {name}\n" + files[name].decode("utf-8", errors="replace"))
    return "\n\n".join(parts).strip() + "\n" if parts else ""


@dataclass
class Pair:
    """Two submissions with much code in common."""

    student: str  # this term
    other: str  # this term, or "<past term>/<student>"
    similarity: float  # share of the student's code found in the other's
    other_similarity: float  # share of the other's code found in the student's
    tokens: int  # overlapping tokens


@dataclass
class SimilarityReport:
    assignment: str
    students: int
    past: int
    pairs: list[Pair]
    html: Path | None
    csv: Path | None
    seconds: float
    empty: list[str] = field(default_factory=list)  # this term's submissions with no own code


def _label(name: str, taken: set[str]) -> str:
    base = _SAFE.sub("_", name).strip("._") or "student"
    label, k = base, 1
    while label in taken:
        k += 1
        label = f"{base}_{k}"
    taken.add(label)
    return label


def _submitted(folder: Path) -> Path:
    return folder / "submitted" if (folder / "submitted").is_dir() else folder


def _write_corpus(
    root: Path, subs: list[Any], release: Release
) -> tuple[dict[str, str], list[str]]:
    """One ``<label>.py`` per submission with its own code; (label -> student, empty ones)."""
    root.mkdir(parents=True)
    taken: set[str] = set()
    names: dict[str, str] = {}
    empty: list[str] = []
    for sub in subs:
        code = student_code(read_tree(sub.path).files, release)
        if not code.strip():
            empty.append(sub.student)
            continue
        label = _label(sub.student, taken)
        (root / f"{label}.py").write_text(code, encoding="utf-8")
        names[label] = sub.student
    return names, empty


def similarity(
    course_root: Path,
    assignment: str,
    past: list[Path] = (),  # type: ignore[assignment]
    out_dir: Path | None = None,
    threshold: float = THRESHOLD,
    noise: int = NOISE,
    guarantee: int = GUARANTEE,
    submitted: Path | None = None,
    max_report_pairs: int = 200,
) -> SimilarityReport:
    """Compare this term's submissions of ``assignment`` with each other and with past terms'."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # copydetect draws its plots with pyplot
    from copydetect import CopyDetector

    t0 = time.perf_counter()
    release = Release.read(course_root / "release" / assignment)
    subs = discover(submitted or course_root / "submitted", assignment)
    out = out_dir or course_root / "reports" / assignment / "similarity"
    with tempfile.TemporaryDirectory(prefix="nnkit-similarity-") as tmp:
        base = Path(tmp)
        current, empty = _write_corpus(base / "current", subs, release)
        refs = [base / "current"]
        who: dict[str, str] = {f"current/{k}.py": v for k, v in current.items()}
        n_past = 0
        terms: set[str] = set()
        for p in past:
            term = _label(Path(p).resolve().name, terms)
            folder = base / "past" / term
            names, _ = _write_corpus(folder, discover(_submitted(Path(p)), assignment), release)
            who.update({f"past/{term}/{k}.py": f"{term}/{v}" for k, v in names.items()})
            n_past += len(names)
            if names:
                refs.append(folder)
        (base / "boilerplate").mkdir()
        (base / "boilerplate" / "release.py").write_text("\n\n".join(release.code) + "\n")
        pairs: list[Pair] = []
        html_path = csv_path = None
        if len(current) + n_past >= 2 and current:
            det = CopyDetector(
                test_dirs=[str(base / "current")],
                ref_dirs=[str(r) for r in refs],
                boilerplate_dirs=[str(base / "boilerplate")],
                extensions=["py"],
                noise_t=noise,
                guarantee_t=guarantee,
                display_t=threshold,
                autoopen=False,
                silent=True,
                truncate=True,
                out_file=str(base / "report.html"),
            )
            det.run()
            prefix = str(base) + os.sep
            names = [who[f.removeprefix(prefix)] for f in det.ref_files]
            pairs = _pairs(det, names, [who[f.removeprefix(prefix)] for f in det.test_files])
            pairs = [p for p in pairs if max(p.similarity, p.other_similarity) > threshold]
            # the HTML shows the most similar pairs (all of them are in the CSV)
            ranked = sorted((max(p.similarity, p.other_similarity) for p in pairs), reverse=True)
            if len(ranked) > max_report_pairs:
                det.conf.display_t = max(
                    threshold, float(np.nextafter(ranked[max_report_pairs - 1], -1))
                )
            html = det.generate_html_report(output_mode="return") or ""
            out.mkdir(parents=True, exist_ok=True)
            html_path = out / "similarity.html"
            html_path.write_text(html.replace(prefix, ""), encoding="utf-8")
            csv_path = out / "similarity.csv"
            csv_path.write_text(pairs_csv(pairs), encoding="utf-8")
    pairs.sort(key=lambda p: (-max(p.similarity, p.other_similarity), p.student, p.other))
    return SimilarityReport(
        assignment,
        len(current),
        n_past,
        pairs,
        html_path,
        csv_path,
        round(time.perf_counter() - t0, 3),
        empty,
    )


def _pairs(det: Any, refs: list[str], tests: list[str]) -> list[Pair]:
    """Every compared pair once, from copydetect's matrices (test x reference files: this
    term x this term and past terms)."""
    sim = det.similarity_matrix
    overlap = det.token_overlap_matrix
    out: list[Pair] = []
    seen: set[frozenset[str]] = set()
    for i, a in enumerate(tests):
        for j, b in enumerate(refs):
            if a == b or sim[i, j, 0] < 0 or frozenset((a, b)) in seen:
                continue
            seen.add(frozenset((a, b)))
            out.append(Pair(a, b, float(sim[i, j, 0]), float(sim[i, j, 1]), int(overlap[i, j])))
    return out


def pairs_csv(pairs: list[Pair]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "other", "similarity", "other_similarity", "overlap_tokens"])
    for p in sorted(pairs, key=lambda p: (-max(p.similarity, p.other_similarity), p.student)):
        w.writerow(
            [p.student, p.other, f"{p.similarity:.3f}", f"{p.other_similarity:.3f}", p.tokens]
        )
    return buf.getvalue()


# -------------------------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment")
    parser.add_argument(
        "--past",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="an earlier term's submitted/ folder (or course root); repeatable",
    )
    parser.add_argument("--course", type=Path, help="course root (default: current directory)")
    parser.add_argument("--out", type=Path, help="default: reports/<assignment>/similarity/")
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"flag pairs sharing more than this share of code (default {THRESHOLD})",
    )
    parser.add_argument("--noise", type=int, default=NOISE, help="shortest match that counts")
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=200,
        help="most similar pairs shown side by side in the HTML (the CSV has all; default 200)",
    )


def run(args: argparse.Namespace) -> int:
    from nnkit.course.autograde import course_dir

    course = course_dir(args.course)
    if not (course / "submitted").is_dir():
        print(f"nnkit similarity: no submitted/ folder in {course}")
        return 2
    rep = similarity(
        course,
        args.assignment,
        args.past,
        args.out,
        threshold=args.threshold,
        noise=args.noise,
        guarantee=max(args.noise, GUARANTEE),
        max_report_pairs=args.max_pairs,
    )
    if not rep.students:
        print(f"nnkit similarity: no submission of {args.assignment} with code of its own")
        return 2
    print(
        f"{rep.students} submission(s) compared ({rep.past} from past terms) in "
        f"{rep.seconds:.1f} s; {len(rep.pairs)} pair(s) above {args.threshold:g}"
    )
    for p in rep.pairs[:15]:
        print(f"  {p.student:<20} {p.other:<28} {p.similarity:5.0%} / {p.other_similarity:5.0%}")
    if rep.empty:
        print(f"no code of their own: {', '.join(rep.empty)}")
    print(f"report: {rep.html}\npairs:  {rep.csv}")
    return 0
