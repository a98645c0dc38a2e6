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


def build(assignments: list[str] | None = None, root: Path = ROOT) -> list[Path]:
    """Regenerate source/<a>/ for the given assignments (default: all)."""
    written = []
    for a in assignments or ASSIGNMENTS:
        d = root / "source" / a
        written += write_notebooks(a, d)
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
