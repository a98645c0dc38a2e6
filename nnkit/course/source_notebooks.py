"""The source notebooks of the course (``source/<a>/*.ipynb``): the instructor's truth.

Instructors edit them in Jupyter. The kit reads its course table out of them
(:func:`grade_cells`, :func:`notebook_specs`; see :mod:`nnkit.course.notebook` for the three
kinds of cells it reads) and :func:`sync` refreshes what is generated in them: the solution
code of reference cells (from ``reference/``, one truth), each notebook's checklist cell, the
folder's ``README.md`` and ``CHECKLIST.md``, and ``nnlib/`` (one symlink per file of the
student library, so that nbgrader copies the one library into every release). Run
``nnkit sync-notebooks`` after changing a notebook, the reference or the rule table; CI fails
while anything is stale (``nnkit sync-notebooks --check``).
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

import nbformat

from nnkit.errors import UsageError

from . import checklist
from .notebook import (
    GradeCell,
    NotebookSpec,
    SourceError,
    load_in_order,
    read_spec,
    refresh_references,
    set_generated_cell,
    write_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("two_layer_net", "fully_connected", "convnets")

#: Files shipped in every release's ``nnlib/`` besides the student library itself:
#: (name inside nnlib/, path relative to the repository root). The grader's own notebook
#: reader and loader (``import_notebook``), and what the students' self-check
#: (``nnlib/selfcheck.py``) runs: the folder reader, the intake rules, the policy rules.
EXTRA_LIBRARY_FILES = {
    "loader.py": "nnkit/loader.py",
    "notebooks.py": "nnkit/notebooks.py",
    "staging.py": "nnkit/staging.py",
    "intake.py": "nnkit/intake.py",
    "policy.py": "nnkit/policy.py",
}


def _files(assignment: str, root: Path) -> list[Path]:
    """The source notebooks of an assignment (any order)."""
    if assignment not in ASSIGNMENTS:
        raise UsageError(f"unknown assignment {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    return sorted((root / "source" / assignment).glob("*.ipynb"))


@functools.lru_cache(maxsize=32)
def _specs(assignment: str, root: Path, stamp: tuple) -> tuple[NotebookSpec, ...]:
    return tuple(
        read_spec(nb, assignment, p.stem) for p, nb in load_in_order(_files(assignment, root))
    )


def _stamp(assignment: str, root: Path) -> tuple:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in _files(assignment, root))


def notebook_specs(assignment: str, root: Path = ROOT) -> list[NotebookSpec]:
    """The notebooks of an assignment as the kit reads them, in the order students do them
    (a notebook that continues another comes after it)."""
    return list(_specs(assignment, root, _stamp(assignment, root)))


def grade_cells(assignment: str, root: Path = ROOT) -> dict[tuple[str, str], GradeCell]:
    """(notebook name, grade cell id) -> what that cell grades (the one table)."""
    return {
        (nb.name, g.cell_id): g for nb in notebook_specs(assignment, root) for g in nb.grade_cells
    }


def library_files(root: Path = ROOT) -> dict[str, Path]:
    """Relative path inside a release's nnlib/ -> the one source file in the repository."""
    lib = root / "nnlib"
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(lib):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith((".pyc", ".pyo")) or f.startswith("."):
                continue
            p = Path(dirpath) / f
            files[str(p.relative_to(lib))] = p
    for name, rel in EXTRA_LIBRARY_FILES.items():
        files[name] = root / rel
    return files


def link_library(assignment_dir: Path, root: Path = ROOT) -> None:
    """Make assignment_dir/nnlib/ one relative symlink per library file (stale links removed)."""
    target_dir = assignment_dir / "nnlib"
    wanted = library_files(root)
    if target_dir.exists():
        for dirpath, _, filenames in os.walk(target_dir, topdown=False):
            for f in filenames:
                p = Path(dirpath) / f
                if str(p.relative_to(target_dir)) not in wanted:
                    p.unlink()
            if not os.listdir(dirpath):
                os.rmdir(dirpath)
    for rel, src in wanted.items():
        link = target_dir / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        rel_target = os.path.relpath(src, link.parent)
        if link.is_symlink() and os.readlink(link) == rel_target:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(rel_target)


#: What each kind of graded cell means, for students.
KIND_MEANING = {
    "engine": "your code, run after submission by hidden tests on other inputs than the "
    "visible checks",
    "answer": "your numeric answers, compared with the correct values",
    "threshold": "the model file the cell saves, scored on held-out data",
    "manual": "your written answer, read by a person",
}


def _title(spec: NotebookSpec) -> str:
    for cell in spec.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.split("\n")[0][2:].strip()
    return spec.name


def readme_text(assignment: str, specs: list[NotebookSpec]) -> str:
    """The release README of an assignment, generated from its notebooks."""
    names = [f"`{spec.name}.ipynb`" for spec in specs]
    lines = [
        f"# Assignment `{assignment}`",
        "",
        "This folder holds "
        + (
            f"the notebook {names[0]}"
            if len(specs) == 1
            else f"{len(specs)} notebooks, to do in this order: {', '.join(names)}"
        )
        + "; and `nnlib/`, the small library the notebooks import (gradient checks, the "
        "Solver, fast convolution, data loaders, plots). Keep `nnlib/` next to the notebooks "
        "and do not edit it.",
        "",
        "## Setup",
        "",
        "Python 3.10 or newer with numpy, matplotlib and Jupyter, for instance:",
        "",
        "    python -m pip install numpy matplotlib jupyterlab",
        "    jupyter lab",
        "",
        "The notebooks load the data set your course chose (they print its name). The small "
        "default sets ship in `nnlib/data` and work offline; a real one (MNIST, CIFAR-10, "
        "California housing) must be downloaded once, for instance "
        "`python -m nnlib.data download mnist` (or `cifar10`, `california`); a notebook that "
        "cannot find it says which command to run.",
        "",
        "## What to fill in",
        "",
        "Write your code in place of the lines `# YOUR CODE HERE` / "
        "`raise NotImplementedError()`, and your written answers where a cell says "
        '"YOUR ANSWER HERE". Keep the names of functions, classes, variables and notebooks, '
        "and do not delete, copy or reorder cells: graded cells are found by their hidden "
        "metadata. By notebook and section:",
        "",
    ]
    for i, spec in enumerate(specs, 1):
        lines += [f"### {i}. `{spec.name}.ipynb`: {_title(spec)}", ""]
        for grade_id, task in spec.todos:
            lines.append(f"- {spec.sections[grade_id]}: {task}")
        lines.append("")
    lines += [
        "## How to check your work",
        "",
        "Run each notebook from top to bottom (Kernel > Restart Kernel and Run All Cells). "
        "The cell after each exercise checks your code on a small example: it prints how "
        "far your results are from the expected ones and stops at the first failing "
        "`assert`. Passing these checks is necessary, not sufficient: after submission "
        "hidden tests run your functions on other inputs (other shapes, float32 as well as "
        "float64, edge cases) and check every rule the docstrings state.",
        "",
        f"Every check the grader runs is listed, with what it means, in `{checklist.FILENAME}`"
        f' (generated from the grader\'s own rule table) and in the section "{checklist.HEADING}"'
        " at the end of each notebook: the rules that every function follows (arguments are "
        "not changed, float32 stays float32, ...), the rules of each name, the boundary values "
        "the hidden tests use and which checks are properties (paid only in proportion to the "
        "values of the same name).",
        "",
        "## How you are graded",
        "",
        "| notebook | section | points | what is graded |",
        "| --- | --- | --- | --- |",
    ]
    rows: dict[tuple[str, str, str], float] = {}  # (notebook, section, kind) -> points
    for spec in specs:
        for g in spec.grade_cells:
            key = (spec.name, spec.sections[g.cell_id], g.kind)
            rows[key] = rows.get(key, 0.0) + g.points
    for (name, section, kind), points in rows.items():
        lines.append(f"| {name} | {section} | {points:g} | {KIND_MEANING[kind]} |")
    lines += [f"| | total | {sum(rows.values()):g} | |", ""]
    saves_model = any(g.kind == "threshold" for spec in specs for g in spec.grade_cells)
    lines += ["## How to submit", ""]
    lines.append(
        "Save the notebooks after a full run and submit this folder the way your course "
        "says (with nbgrader: the Assignments tab in Jupyter, button Submit)."
        + (
            " Include the model files that the notebooks save next to themselves "
            "(`best_model_<dataset>.npz`): they are scored on held-out data, and a missing "
            "file scores zero."
            if saves_model
            else ""
        )
    )
    lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str, write: bool) -> bool:
    """Whether ``path`` differs from ``text`` (and, if ``write``, make it so)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if write:
        path.write_text(text, encoding="utf-8")
    return True


def sync(assignment: str, root: Path = ROOT, write: bool = True) -> list[Path]:
    """Refresh the generated parts of ``source/<assignment>/``; returns the files that were
    stale (rewritten if ``write``)."""
    folder = root / "source" / assignment
    stale = []
    emitted: dict[str, set[str]] = {}
    specs = []
    for path, nb in load_in_order(_files(assignment, root)):
        before = nbformat.writes(nb)
        for cell in nb.cells:  # stored without outputs (nbgrader clears them anyway)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        previous = emitted.get(nb.metadata.get("nnkit", {}).get("continues"), set())
        emitted[path.stem] = refresh_references(
            nb, path.stem, {n for n in previous if n.startswith("_")}
        )
        spec = read_spec(nb, assignment, path.stem)
        specs.append(spec)
        set_generated_cell(nb, "checklist", checklist.notebook_cell(spec))
        if nbformat.writes(nb) != before:
            stale.append(path)
            if write:
                write_notebook(nb, path)
    for name, text in (
        ("README.md", readme_text(assignment, specs)),
        (checklist.FILENAME, checklist.assignment_text(assignment, specs)),
    ):
        if _write(folder / name, text, write):
            stale.append(folder / name)
    if write:
        link_library(folder, root)
    return stale


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", help=f"default: {' '.join(ASSIGNMENTS)}")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; fail if anything is stale"
    )


def run(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        raise UsageError(
            f"unknown assignment(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(ASSIGNMENTS)}"
        )
    stale = []
    for a in args.assignments or ASSIGNMENTS:
        try:
            stale += sync(a, write=not args.check)
        except SourceError as exc:
            raise UsageError(str(exc)) from None
    for p in stale:
        print(p.relative_to(ROOT))
    if args.check and stale:
        raise UsageError(
            f"{len(stale)} generated file(s) are stale (listed above); run `nnkit sync-notebooks`"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
