"""Damaged submissions: repair what can be repaired, explain the rest, grade whatever is left.

A submission is staged into a temporary folder before the engine sees it. Its files were read
by :mod:`nnkit.staging` (no links, regular files only, size caps); notebooks are read by
:func:`nnkit.notebooks.read_notebook`, the kit's one lenient reader (non-UTF-8 bytes
replaced, outputs dropped, duplicated cell ids renamed); a notebook
that is not JSON, is of another assignment or holds no code is left out with a message; cells
deleted from the release and functions that are missing (perhaps renamed) are named. Every
message ends up in the submission's result.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nnkit.notebooks import code_cells, decode_text, grade_id, read_notebook, strip_magics
from nnkit.staging import Snapshot, write_tree

#: Extensions of the files the engine grades.
CODE_SUFFIXES = (".ipynb", ".py")

_SAVE_MODEL = re.compile(r"""save_model\(\s*(?:[a-zA-Z_]\w*\s*=\s*)?['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class NotebookSpec:
    """What the release says one notebook holds."""

    grade_ids: frozenset[str]
    names: frozenset[str]  # top-level functions and classes the student must define
    model_files: frozenset[str]  # literal file names passed to save_model


@dataclass(frozen=True)
class CourseIndex:
    """The notebooks of every assignment, read from ``release/`` (or ``source/``)."""

    assignments: dict[str, dict[str, NotebookSpec]] = field(default_factory=dict)

    @classmethod
    def from_course(cls, course_root: Path | None) -> CourseIndex:
        """Index ``<course_root>/release/<a>/*.ipynb`` (``source/`` if not released)."""
        out: dict[str, dict[str, NotebookSpec]] = {}
        if course_root is None:
            return cls(out)
        for top in ("release", "source"):
            base = Path(course_root) / top
            if not base.is_dir():
                continue
            for a_dir in sorted(p for p in base.iterdir() if p.is_dir()):
                if a_dir.name in out:
                    continue
                specs = {nb.name: _spec(nb) for nb in sorted(a_dir.glob("*.ipynb"))}
                if specs:
                    out[a_dir.name] = specs
        return cls(out)

    def owner(self, nb_name: str, grade_ids: set[str]) -> tuple[str, str] | None:
        """(assignment, notebook) of the release notebook this one most resembles, if any."""
        best: tuple[int, str, str] | None = None
        for a, specs in sorted(self.assignments.items()):
            for name, spec in sorted(specs.items()):
                overlap = len(grade_ids & spec.grade_ids) * 2 + (name == nb_name)
                if overlap and (best is None or overlap > best[0]):
                    best = (overlap, a, name)
        return None if best is None else (best[1], best[2])

    def owners(self, nb_name: str, grade_ids: set[str]) -> list[str]:
        """The assignments a notebook belongs to by its nbgrader grade ids (by its file name
        when it has none of the release's ids); more than one when that is a tie."""
        best: dict[str, int] = {}
        for a, specs in self.assignments.items():
            for name, spec in specs.items():
                weight = len(grade_ids & spec.grade_ids) * 2 + (name == nb_name)
                best[a] = max(best.get(a, 0), weight)
        top = max(best.values(), default=0)
        return sorted(a for a, w in best.items() if w == top) if top else []

    def assignment_of(self, files: list[tuple[str, bytes]]) -> dict[str, list[str]]:
        """Notebook name -> the assignments it may belong to, for the top-level notebooks of a
        submission (read with the kit's one notebook reader; unreadable ones are left out)."""
        out: dict[str, list[str]] = {}
        for rel, data in files:
            if "/" in rel or not rel.endswith(".ipynb"):
                continue
            nb, _ = read_notebook(rel, data)
            if nb is None:
                continue
            gids = {g for c in nb["cells"] if (g := grade_id(c))}
            out[rel] = self.owners(rel, gids)
        return out


def _spec(path: Path) -> NotebookSpec:
    nb, _ = read_notebook(path.name, path.read_bytes())
    if nb is None:
        return NotebookSpec(frozenset(), frozenset(), frozenset())
    ids = {g for c in nb["cells"] if (g := grade_id(c))}
    names: set[str] = set()
    models: set[str] = set()
    for cell in code_cells(nb):
        names |= defined_names(cell.source)
        models |= set(_SAVE_MODEL.findall(cell.source))
    return NotebookSpec(frozenset(ids), frozenset(names), frozenset(models))


def defined_names(src: str) -> set[str]:
    """Top-level functions and classes defined by ``src`` (empty if it does not parse)."""
    try:
        tree = ast.parse(strip_magics(src))
    except (SyntaxError, ValueError):
        return set()
    return {
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


@dataclass
class Staged:
    """A staged submission: the files to grade and what was found on the way."""

    folder: Path
    code_files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    release_notebooks: set[str] = field(default_factory=set)  # the release's, as submitted


def _stage_notebook(
    name: str, data: bytes, assignment: str, index: CourseIndex, st: Staged
) -> tuple[str, set[str]] | None:
    """Clean one notebook; return (json text, code sources' names) or None if it is left out."""
    msgs = st.messages
    nb, read_msgs = read_notebook(name, data)
    msgs += read_msgs
    if nb is None:
        return None
    gids = {g for c in nb["cells"] if (g := grade_id(c))}
    specs = index.assignments.get(assignment, {})
    spec = specs.get(name)
    owner = index.owner(name, gids)
    if spec is None and owner is not None and owner[0] != assignment:
        msgs.append(
            f"{name}: this is a notebook of assignment '{owner[0]}' ({owner[1]}), "
            f"not of '{assignment}'; it was not graded"
        )
        return None
    if spec is not None:
        st.release_notebooks.add(name)
    elif owner is not None:
        spec = specs[owner[1]]
        st.release_notebooks.add(owner[1])

    code = [c.source for c in code_cells(nb)]
    if not any(s.strip() for s in code):
        msgs.append(f"{name}: the notebook has no code; nothing in it could be graded")
        return None
    if spec is not None and spec.grade_ids:
        missing = sorted(spec.grade_ids - gids)
        if missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            msgs.append(
                f"{name}: {len(missing)} cell(s) of the release are missing or were deleted "
                f"({shown}); the code that is there was graded"
            )
    names: set[str] = set()
    for s in code:
        names |= defined_names(s)
    return json.dumps(nb, ensure_ascii=False, indent=1), names


def stage(
    files: list[tuple[str, bytes]], assignment: str, index: CourseIndex, dest: Path
) -> Staged:
    """Write a cleaned copy of a submission into ``dest`` and say what was wrong with it.

    ``files`` are (relative path, content) pairs, as :func:`nnkit.staging.read_tree` read
    them. Returns the staged code files (notebooks and modules) the engine should grade.
    """
    st = Staged(folder=dest)
    out = Snapshot()
    notebooks: list[tuple[Path, set[str]]] = []
    modules: list[tuple[Path, set[str]]] = []
    present: set[str] = set()
    for rel, data in files:
        name = PurePosixPath(rel).name
        present.add(name)
        target = dest / rel
        top = "/" not in rel  # files in sub-folders (the shipped nnlib/) are not graded
        if rel.endswith(".ipynb") and top:
            cleaned = _stage_notebook(rel, data, assignment, index, st)
            if cleaned is None:
                continue
            text, names = cleaned
            out.files[rel] = text.encode("utf-8")
            notebooks.append((target, names))
        elif rel.endswith(".py"):
            text, msgs = decode_text(rel, data)
            st.messages += msgs
            out.files[rel] = text.encode("utf-8")
            if top and name != "__init__.py":
                modules.append((target, defined_names(text)))
        else:
            out.files[rel] = data
    write_tree(out, dest)
    # As for a folder given to the engine: its notebooks, or else its modules.
    graded = notebooks or modules
    st.code_files = [p for p, _ in graded]
    defined: set[str] = set().union(*(n for _, n in graded)) if graded else set()

    if not files:
        st.messages.append("the submission folder is empty; nothing was graded")
    elif not st.code_files:
        st.messages.append("no gradable notebook or .py module in the submission")

    specs = index.assignments.get(assignment, {})
    if st.code_files and any(p.suffix == ".ipynb" for p in st.code_files):
        for nb_name in sorted(set(specs) - present - st.release_notebooks):
            st.messages.append(
                f"{nb_name} of the release was not submitted; the tests of its code score 0"
            )
    expected = set().union(*(s.names for s in specs.values())) if specs else set()
    if st.code_files and expected:
        extra = sorted(defined - expected)
        for missing in sorted(expected - defined):
            guess = difflib.get_close_matches(missing, extra, n=1, cutoff=0.6)
            hint = f" (renamed to `{guess[0]}`?)" if guess else ""
            st.messages.append(f"`{missing}` is not defined{hint}; the tests that need it score 0")
    models = set().union(*(s.model_files for s in specs.values())) if specs else set()
    for m in sorted(models):
        if PurePosixPath(m).name not in present:
            st.messages.append(
                f"saved model '{m}' is missing from the submission; "
                "the accuracy tests that need it score 0"
            )
    return st
