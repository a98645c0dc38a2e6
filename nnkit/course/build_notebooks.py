"""Generate the nbgrader source notebooks (source/<assignment>/) from the course content.

The content modules in ``nnkit.course.content`` hold the prose and checks; the solution
code comes from ``reference/`` (see ``nnkit.course.notebook``). ``source/<a>/nnlib/`` is made
of one symlink per file of the student library, so that nbgrader copies the one library into
every release. Run ``python -m nnkit.course.build_notebooks`` (or ``nnkit build-notebooks``)
after changing content or reference code; CI checks that the committed notebooks are current.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import nbformat

from nnkit.errors import UsageError

from .notebook import GradeCell, NotebookSpec

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


def _content(assignment: str) -> Callable[[], list[NotebookSpec]]:
    if assignment == "two_layer_net":
        from .content import two_layer_net as mod
    elif assignment == "fully_connected":
        from .content import fully_connected as mod
    elif assignment == "convnets":
        from .content import convnets as mod
    else:
        raise KeyError(f"unknown assignment {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    return mod.notebooks


def notebook_specs(assignment: str) -> list[NotebookSpec]:
    """The notebooks of an assignment, in order."""
    return _content(assignment)()


def grade_cells(assignment: str) -> dict[tuple[str, str], GradeCell]:
    """(notebook name, grade cell id) -> what that cell grades (the one table)."""
    return {(nb.name, g.cell_id): g for nb in notebook_specs(assignment) for g in nb.grade_cells}


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


def write_notebooks(assignment: str, dest: Path) -> list[Path]:
    """Write the notebooks of one assignment into dest (created); returns the paths."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for spec in notebook_specs(assignment):
        nb = spec.notebook()
        nbformat.validate(nb)
        path = dest / f"{spec.name}.ipynb"
        path.write_text(nbformat.writes(nb) + "\n")
        out.append(path)
    return out


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


def readme_text(assignment: str) -> str:
    """The release README of an assignment, generated from its notebooks' content."""
    specs = notebook_specs(assignment)
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
        "The notebooks work offline on the small data sets that ship in `nnlib/data`. To work "
        "on a real data set, download it once (`python -m nnlib.data download mnist`, or "
        "`cifar10`, `california`) and start Jupyter with `NNKIT_DATASET=mnist` (or the other "
        "name) set in the environment.",
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


def write_readme(assignment: str, dest: Path) -> Path:
    """Write dest/README.md for an assignment (dest is its source folder)."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "README.md"
    path.write_text(readme_text(assignment))
    return path


def build(assignments: list[str] | None = None, root: Path = ROOT) -> list[Path]:
    """Regenerate source/<a>/ for the given assignments (default: all): notebooks, README and
    the library links."""
    written = []
    for a in assignments or ASSIGNMENTS:
        d = root / "source" / a
        written += write_notebooks(a, d)
        written.append(write_readme(a, d))
        link_library(d, root)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", help=f"default: {' '.join(ASSIGNMENTS)}")


def run(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        raise UsageError(
            f"unknown assignment(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(ASSIGNMENTS)}"
        )
    for p in build(args.assignments or None):
        print(p.relative_to(ROOT))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
