"""What the grader makes of a submission's files before any of its code runs.

Given the files of a submission (as :func:`staging.read_tree` read them) and what the
release says each notebook holds (:class:`CourseIndex`), :func:`examine` decides which files
are graded and says, one line each, what is wrong: a notebook that cannot be read (the one
reader, :func:`notebooks.read_notebook`), a notebook of another assignment, a notebook without
code, release cells that were deleted, functions that are missing (perhaps renamed), saved
models that are missing. The grader's triage (``nnkit.batch.triage``) writes the cleaned files
it returns and grades them; the students' self-check (``nnlib.selfcheck``) reports the same
messages before they submit.

Standard library only, and only relative imports of its siblings ``notebooks`` and
``staging``, so that a copy ships with the student library (``nnlib/intake.py``).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .notebooks import code_cells, decode_text, grade_id, read_notebook, strip_magics

#: Extensions of the files the engine grades.
CODE_SUFFIXES = (".ipynb", ".py")

_SAVE_MODEL = re.compile(r"""save_model\(\s*(?:[a-zA-Z_]\w*\s*=\s*)?['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class NotebookSpec:
    """What the release says one notebook holds."""

    grade_ids: frozenset[str]
    names: frozenset[str]  # top-level functions and classes the student must define
    model_files: frozenset[str]  # literal file names passed to save_model

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "grade_ids": sorted(self.grade_ids),
            "names": sorted(self.names),
            "model_files": sorted(self.model_files),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotebookSpec:
        return cls(
            frozenset(data.get("grade_ids", ())),
            frozenset(data.get("names", ())),
            frozenset(data.get("model_files", ())),
        )


@dataclass(frozen=True)
class CourseIndex:
    """The notebooks of every assignment, read from ``release/`` (or ``source/``)."""

    assignments: dict[str, dict[str, NotebookSpec]] = field(default_factory=dict)

    @classmethod
    def from_course(
        cls, course_root: Path | None, tops: tuple[str, ...] = ("release", "source")
    ) -> CourseIndex:
        """Index ``<course_root>/release/<a>/*.ipynb`` (``source/`` if not released)."""
        out: dict[str, dict[str, NotebookSpec]] = {}
        if course_root is None:
            return cls(out)
        for top in tops:
            base = Path(course_root) / top
            if not base.is_dir():
                continue
            for a_dir in sorted(p for p in base.iterdir() if p.is_dir()):
                if a_dir.name in out:
                    continue
                specs = {nb.name: notebook_spec(nb.name, nb.read_bytes()) for nb in _nbs(a_dir)}
                if specs:
                    out[a_dir.name] = specs
        return cls(out)

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

    def owner(self, nb_name: str, grade_ids: set[str]) -> tuple[str, str] | None:
        """(assignment, notebook) of the release notebook this one most resembles, if any."""
        best: tuple[int, str, str] | None = None
        for a, specs in sorted(self.assignments.items()):
            for name, spec in sorted(specs.items()):
                overlap = len(grade_ids & spec.grade_ids) * 2 + (name == nb_name)
                if overlap and (best is None or overlap > best[0]):
                    best = (overlap, a, name)
        return None if best is None else (best[1], best[2])

    def to_dict(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        return {
            a: {nb: spec.to_dict() for nb, spec in sorted(specs.items())}
            for a, specs in sorted(self.assignments.items())
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CourseIndex:
        return cls(
            {
                a: {nb: NotebookSpec.from_dict(s) for nb, s in specs.items()}
                for a, specs in data.items()
            }
        )


def _nbs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def notebook_spec(name: str, data: bytes) -> NotebookSpec:
    """Grade ids, defined names and saved-model files of a release notebook's bytes."""
    nb, _ = read_notebook(name, data)
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
class Intake:
    """A submission as the grader takes it.

    ``files``: what to stage (notebooks cleaned by the one reader, modules as UTF-8, other
    files as they are; notebooks that are not graded left out); ``graded``: the relative
    paths of the code files the engine grades; ``messages``: what was wrong, one line each.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)
    release_notebooks: set[str] = field(default_factory=set)  # the release's, as submitted


def _notebook(
    name: str, data: bytes, assignment: str, index: CourseIndex, msgs: list[str], got: Intake
) -> tuple[dict[str, Any], set[str]] | None:
    """One notebook read and checked: (notebook, defined names), or None if it is left out."""
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
        got.release_notebooks.add(name)
    elif owner is not None:
        spec = specs[owner[1]]
        got.release_notebooks.add(owner[1])

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
    return nb, names


def examine(files: list[tuple[str, bytes]], assignment: str, index: CourseIndex) -> Intake:
    """Which of a submission's files are graded, their cleaned contents, and what is wrong.

    ``files`` are (relative POSIX path, content) pairs. Notebooks at the top of the folder are
    graded, or else its ``.py`` modules (files in sub-folders, such as the shipped
    ``nnlib/``, never are).
    """
    got = Intake()
    msgs = got.messages
    notebooks: list[tuple[str, set[str]]] = []
    modules: list[tuple[str, set[str]]] = []
    present: set[str] = set()
    for rel, data in files:
        name = PurePosixPath(rel).name
        present.add(name)
        top = "/" not in rel
        if rel.endswith(".ipynb") and top:
            checked = _notebook(rel, data, assignment, index, msgs, got)
            if checked is None:
                continue
            nb, names = checked
            got.files[rel] = json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")
            notebooks.append((rel, names))
        elif rel.endswith(".py"):
            text, decode_msgs = decode_text(rel, data)
            msgs += decode_msgs
            got.files[rel] = text.encode("utf-8")
            if top and name != "__init__.py":
                modules.append((rel, defined_names(text)))
        else:
            got.files[rel] = data
    graded = notebooks or modules
    got.graded = [r for r, _ in graded]
    got.names = set().union(*(n for _, n in graded)) if graded else set()

    if not files:
        msgs.append("the submission folder is empty; nothing was graded")
    elif not got.graded:
        msgs.append("no gradable notebook or .py module in the submission")

    specs = index.assignments.get(assignment, {})
    if any(r.endswith(".ipynb") for r in got.graded):
        for nb_name in sorted(set(specs) - present - got.release_notebooks):
            msgs.append(
                f"{nb_name} of the release was not submitted; the tests of its code score 0"
            )
    expected = set().union(*(s.names for s in specs.values())) if specs else set()
    if got.graded and expected:
        extra = sorted(got.names - expected)
        for missing in sorted(expected - got.names):
            guess = difflib.get_close_matches(missing, extra, n=1, cutoff=0.6)
            hint = f" (renamed to `{guess[0]}`?)" if guess else ""
            msgs.append(f"`{missing}` is not defined{hint}; the tests that need it score 0")
    models = set().union(*(s.model_files for s in specs.values())) if specs else set()
    for m in sorted(models):
        if PurePosixPath(m).name not in present:
            msgs.append(
                f"saved model '{m}' is missing from the submission; "
                "the accuracy tests that need it score 0"
            )
    return got
