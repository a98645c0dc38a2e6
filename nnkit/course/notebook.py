"""Source notebooks: the course table read out of them, and their generated parts.

The instructor's source of an assignment is ``source/<a>/*.ipynb``, edited in Jupyter. The
kit reads three kinds of cells (everything else is prose, checks and experiments):

* **reference cells** (cell metadata ``nnkit``: ``reference`` (the module), ``names``,
  optionally ``provided`` (given whole) and ``task`` (for the README)): solution cells whose code is
  generated from ``reference/`` (one truth): every function keeps its signature and docstring
  and its body becomes an nbgrader solution region, which ``generate_assignment`` replaces by
  a stub; methods of a class are split the same way. A new one is written as a cell whose
  whole source is the directive ``# nnkit: reference <module> <name> [<name> ...]``;
* **graded test cells** (nbgrader "Autograder tests"): the first line of the hidden region,
  ``# nnkit-hidden-suite: <names> (<what>)``, says which API names (or numeric answers, or
  saved models) make up the cell's score;
* **graded written answers** (nbgrader manually graded markdown cells).

The last cell of every notebook (metadata ``nnkit.generated``) is its generated checklist.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import nbformat
from nbformat.notebooknode import NotebookNode

from nnkit.notebooks import grade_id

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: Written into every hidden region; tests assert that it never reaches students.
HIDDEN_TAG = "nnkit-hidden-suite"
#: What a graded test cell's tag line says after its names -> the kind of the cell.
KIND_NOTES = {
    "graded outside the kernel by the nnkit hidden suites": "engine",
    "checked outside the kernel by nnkit": "answer",
    "the saved model is evaluated by nnkit on held-out data": "threshold",
}
_TAG_LINE = re.compile(rf"^#\s*{HIDDEN_TAG}:\s*(?P<names>.+?)(?:\s+\((?P<note>[^()]*)\))?\s*$")
_DIRECTIVE = re.compile(r"^#\s*nnkit:\s*reference\s+(?P<module>[\w.]+)\s+(?P<names>[\w\s,]+)$")
_HEADING = re.compile(r"^#{1,3} (.+)$", flags=re.M)


class SourceError(ValueError):
    """A source notebook that the kit cannot read (the message names the cell)."""


def cell_id(*parts: str) -> str:
    """A stable cell id made of names (for cells the kit writes)."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:12]


# -------------------------------------------------------------------------------------------
# Turning reference source into solution regions
# -------------------------------------------------------------------------------------------


def _split_function(lines: list[str], node: ast.FunctionDef, provided: bool) -> list[str]:
    """Signature and docstring verbatim; the rest of the body inside solution markers."""
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    body = node.body
    has_doc = (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )
    if provided or (has_doc and len(body) == 1):
        return lines[start : node.end_lineno]
    if has_doc:
        head_end = body[0].end_lineno
        first = body[1]
    else:
        first = body[0]
        head_end = first.lineno - 1
    indent = " " * first.col_offset
    rest = lines[head_end : node.end_lineno]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return [*lines[start:head_end], indent + BEGIN, *rest, indent + END]


def _split_class(lines: list[str], node: ast.ClassDef, provided: set[str]) -> list[str]:
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    out: list[str] = []
    pos = start
    for item in node.body:
        item_start = (
            item.decorator_list[0].lineno if getattr(item, "decorator_list", None) else item.lineno
        ) - 1
        out.extend(lines[pos:item_start])
        if isinstance(item, ast.FunctionDef):
            out.extend(_split_function(lines, item, f"{node.name}.{item.name}" in provided))
        else:
            out.extend(lines[item_start : item.end_lineno])
        pos = item.end_lineno
    return out


def _module_defs(tree: ast.Module) -> dict[str, ast.stmt]:
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
    return defs


def _helpers(defs: dict[str, ast.stmt], names: list[str]) -> list[str]:
    """Module constants and private helpers that ``names`` use (recursively), in module order."""
    order = list(defs)
    found: set[str] = set()
    todo = list(names)
    while todo:
        node = defs[todo.pop()]
        for sub in ast.walk(node):
            ident = sub.id if isinstance(sub, ast.Name) else None
            if ident is None or ident in found or ident in names or ident not in defs:
                continue
            if ident.startswith("_") or isinstance(defs[ident], ast.Assign | ast.AnnAssign):
                found.add(ident)
                todo.append(ident)
    return sorted(found, key=order.index)


def solution_source(
    module: str | ModuleType,
    names: list[str],
    provided: set[str] = frozenset(),
    skip: set[str] | None = None,
) -> tuple[str, list[str]]:
    """Source of ``names`` of a reference module with solution regions marked.

    Module constants and private helpers that the names use come first, unless listed in
    ``skip`` (already emitted). ``provided`` lists functions or ``Class.method`` names that
    are given to students whole. Returns the source and every name emitted.
    """
    mod = importlib.import_module(module) if isinstance(module, str) else module
    src = inspect.getsource(mod)
    lines = src.splitlines()
    defs = _module_defs(ast.parse(src))
    for name in names:
        if name not in defs:
            raise KeyError(f"{mod.__name__} has no top-level definition {name!r}")
    skip = skip or set()
    emitted = [h for h in _helpers(defs, names) if h not in skip] + list(names)
    chunks = []
    for name in emitted:
        node = defs[name]
        if isinstance(node, ast.FunctionDef):
            chunks.append(_split_function(lines, node, name in provided))
        elif isinstance(node, ast.ClassDef):
            chunks.append(_split_class(lines, node, set(provided)))
        else:
            chunks.append(lines[node.lineno - 1 : node.end_lineno])
    return "\n\n\n".join("\n".join(c) for c in chunks), emitted


# -------------------------------------------------------------------------------------------
# Reading a source notebook
# -------------------------------------------------------------------------------------------


@dataclass
class GradeCell:
    """One graded cell: what the gradebook holds and where its score comes from."""

    cell_id: str
    points: float
    #: API names whose hidden-suite tests make up this cell's score ("engine" cells), the
    #: names of numeric answers ("answer") or of saved models ("threshold").
    names: tuple[str, ...] = ()
    kind: str = "engine"  # "engine" | "answer" | "manual" | "threshold"


@dataclass
class NotebookSpec:
    """What the kit reads from one source notebook."""

    assignment: str
    name: str
    cells: list[NotebookNode] = field(default_factory=list)
    grade_cells: list[GradeCell] = field(default_factory=list)
    #: What students fill in, in notebook order: (grade id of the cell, what to write there).
    todos: list[tuple[str, str]] = field(default_factory=list)
    #: grade id -> the heading of the notebook section the cell is in (for the README).
    sections: dict[str, str] = field(default_factory=dict)
    #: the notebook whose definitions this one imports (metadata ``nnkit.continues``)
    continues: str | None = None


def nbgrader_meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def nnkit_meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nnkit", {})


def is_generated(cell: NotebookNode) -> bool:
    return "generated" in nnkit_meta(cell)


def _tag(source: str, where: str) -> tuple[tuple[str, ...], str]:
    """(names, kind) from a graded test cell's tag line."""
    for line in source.splitlines():
        m = _TAG_LINE.match(line.strip())
        if m:
            note = m.group("note")
            if note is not None and note not in KIND_NOTES:
                raise SourceError(
                    f"{where}: '({note})' is not one of: " + "; ".join(f"({n})" for n in KIND_NOTES)
                )
            names = tuple(n.strip() for n in m.group("names").split(",") if n.strip())
            return names, KIND_NOTES.get(note or "", "engine")
    raise SourceError(
        f"{where}: a graded test cell needs a line '# {HIDDEN_TAG}: <names> (<what>)' in its "
        f"hidden region ({HIDDEN_BEGIN} ... {HIDDEN_END})"
    )


def _task(cell: NotebookNode) -> str:
    """What students write in a solution cell (for the README)."""
    meta = nnkit_meta(cell)
    if "task" in meta:
        return meta["task"]
    if "reference" in meta:
        return "implement " + ", ".join(f"`{n}`" for n in meta["names"])
    head = cell.source.split(BEGIN)[0]
    names = list(dict.fromkeys(re.findall(r"^(\w+) = ", head, flags=re.M)))
    return "set " + ", ".join(f"`{n}`" for n in names) if names else "complete the cell"


def read_spec(nb: NotebookNode, assignment: str, name: str) -> NotebookSpec:
    """The course table of one source notebook (raises :class:`SourceError`)."""
    spec = NotebookSpec(assignment, name, continues=nb.metadata.get("nnkit", {}).get("continues"))
    section = ""
    for cell in nb.cells:
        if is_generated(cell):
            continue
        spec.cells.append(cell)
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if cell.cell_type == "markdown" and not meta:
            heading = _HEADING.search(cell.source)
            section = heading.group(1).strip() if heading else section
        if not grade_id:
            continue
        spec.sections[grade_id] = section
        where = f"{name}.ipynb, cell {grade_id}"
        if meta.get("grade"):
            points = float(meta.get("points", 0))
            if cell.cell_type == "markdown":
                spec.grade_cells.append(GradeCell(grade_id, points, (), "manual"))
                spec.todos.append((grade_id, f"answer the question in writing ({points:g} points)"))
            else:
                names, kind = _tag(cell.source, where)
                spec.grade_cells.append(GradeCell(grade_id, points, names, kind))
        elif meta.get("solution") and cell.cell_type == "code":
            spec.todos.append((grade_id, _task(cell)))
    return spec


# -------------------------------------------------------------------------------------------
# The generated parts
# -------------------------------------------------------------------------------------------


def _directive(cell: NotebookNode) -> dict | None:
    """A reference directive written as the cell's whole source, as metadata."""
    m = _DIRECTIVE.match(cell.source.strip()) if cell.cell_type == "code" else None
    if not m:
        return None
    return {"reference": m.group("module"), "names": re.split(r"[\s,]+", m.group("names").strip())}


def refresh_references(nb: NotebookNode, name: str, skip: set[str]) -> set[str]:
    """Regenerate every reference cell of ``nb`` in place from ``reference/``.

    A directive cell becomes a reference cell (metadata and an nbgrader solution region).
    ``skip`` holds helper names already defined for this notebook; returns every name the
    notebook's reference cells define.
    """
    emitted = set(skip)
    for cell in nb.cells:
        new = _directive(cell)
        if new:
            cell.metadata["nnkit"] = new
            cell.metadata.setdefault(
                "nbgrader",
                {
                    "grade": False,
                    "grade_id": new["names"][0],
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                },
            )
        ref = nnkit_meta(cell)
        if "reference" not in ref:
            continue
        where = f"{name}.ipynb, cell {nbgrader_meta(cell).get('grade_id', cell.get('id'))}"
        try:
            body, names = solution_source(
                ref["reference"], ref["names"], set(ref.get("provided", ())), emitted
            )
        except (ImportError, KeyError) as exc:
            raise SourceError(f"{where}: {exc}") from None
        private = [n for n in names if n.startswith("_") and n not in ref["names"]]
        if private:
            raise SourceError(
                f"{where}: {', '.join(private)} would reach students as stubs; the reference "
                "solutions of exercises must not call private helpers"
            )
        emitted.update(names)
        cell.source = body
    return emitted


def set_generated_cell(nb: NotebookNode, kind: str, cell: NotebookNode) -> None:
    """Replace the generated cell of ``kind`` (or append it at the end)."""
    cell.metadata["nnkit"] = {"generated": kind}
    nb.cells = [c for c in nb.cells if nnkit_meta(c).get("generated") != kind] + [cell]


def read_notebook(path: Path) -> NotebookNode:
    try:
        return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable notebook ({exc})") from None


def code_between(path: Path, after: str, through: str) -> list[str]:
    """The code cells of a notebook after the cell with grade id ``after`` up to and including
    the one with grade id ``through`` (for running one exercise's cells outside Jupyter)."""
    out: list[str] = []
    inside = False
    for cell in read_notebook(path).cells:
        cell_grade_id = grade_id(cell)
        if inside and cell.cell_type == "code":
            out.append(cell.source)
        if cell_grade_id == through and inside:
            return out
        inside = inside or cell_grade_id == after
    raise SourceError(f"{path.name}: no cells {after!r} ... {through!r} in this order")


def load_in_order(paths: list[Path]) -> list[tuple[Path, NotebookNode]]:
    """Read notebooks once, in the order students do them: one that continues another
    (notebook metadata ``nnkit.continues``) comes after it, the rest by name."""
    loaded = {p: read_notebook(p) for p in paths}
    after = {p.stem: nb.metadata.get("nnkit", {}).get("continues") for p, nb in loaded.items()}

    def depth(name: str | None, seen: tuple[str, ...] = ()) -> int:
        if name is None or name in seen or name not in after:
            return 0
        return 1 + depth(after[name], (*seen, name))

    return sorted(loaded.items(), key=lambda item: (depth(after[item[0].stem]), item[0].stem))


def in_order(paths: list[Path]) -> list[Path]:
    """The notebooks' paths in the order students do them (see :func:`load_in_order`)."""
    return [p for p, _ in load_in_order(paths)]


def write_notebook(nb: NotebookNode, path: Path) -> bool:
    """Write ``nb`` as Jupyter does; True if the file changed."""
    nbformat.validate(nb)
    text = nbformat.writes(nb) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
