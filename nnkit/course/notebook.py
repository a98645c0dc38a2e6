"""Building blocks of the generated nbgrader source notebooks.

The solution code of every exercise is taken from ``reference/`` (one truth): for each
function, its signature and docstring stay visible to students and its body becomes an
nbgrader solution region, which ``generate_assignment`` replaces by a stub that raises
NotImplementedError. Methods of a class are split the same way, one region per method.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from types import ModuleType

import nbformat
from nbformat.notebooknode import NotebookNode

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: Written into every hidden region; tests assert that it never reaches students.
HIDDEN_TAG = "nnkit-hidden-suite"


def _cell_id(*parts: str) -> str:
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
# Cells
# -------------------------------------------------------------------------------------------


@dataclass
class GradeCell:
    """One graded cell: what the gradebook holds and where its score comes from."""

    cell_id: str
    points: float
    #: API names whose hidden-suite tests make up this cell's score ("engine" cells), or the
    #: names of numeric answers checked on the trusted side ("answer" cells).
    names: tuple[str, ...] = ()
    kind: str = "engine"  # "engine" | "answer" | "manual" | "threshold"


@dataclass
class NotebookSpec:
    """A notebook under construction."""

    assignment: str
    name: str
    cells: list[NotebookNode] = field(default_factory=list)
    grade_cells: list[GradeCell] = field(default_factory=list)
    emitted: set[str] = field(default_factory=set)
    #: What students fill in, in notebook order: (grade id of the cell, what to write there).
    todos: list[tuple[str, str]] = field(default_factory=list)
    #: grade id -> the heading of the notebook section the cell is in (for the README).
    sections: dict[str, str] = field(default_factory=dict)
    _section: str = ""

    def _meta(self, grade_id: str, **flags: object) -> dict:
        nb = {
            "grade": False,
            "solution": False,
            "locked": False,
            "task": False,
            "schema_version": 3,
            "grade_id": grade_id,
        }
        nb.update(flags)
        return {"nbgrader": nb}

    def _add(self, cell: NotebookNode, key: str) -> None:
        cell["id"] = _cell_id(self.assignment, self.name, key, str(len(self.cells)))
        self.cells.append(cell)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            self.sections[grade_id] = self._section

    def md(self, text: str) -> None:
        """Explanatory markdown (its first heading names the section of the cells below)."""
        source = textwrap.dedent(text).strip()
        heading = re.search(r"^#{1,3} (.+)$", source, flags=re.M)
        if heading:
            self._section = heading.group(1).strip()
        self._add(nbformat.v4.new_markdown_cell(source), "md")

    def code(self, src: str) -> None:
        """An ordinary code cell (checks, experiments, plots)."""
        self._add(nbformat.v4.new_code_cell(textwrap.dedent(src).strip()), "code")

    def readonly(self, grade_id: str, src: str) -> None:
        """A locked code cell (setup that must stay as it is)."""
        cell = nbformat.v4.new_code_cell(textwrap.dedent(src).strip())
        cell.metadata.update(self._meta(grade_id, locked=True))
        self._add(cell, grade_id)

    def solution(self, grade_id: str, src: str, task: str | None = None) -> None:
        """A student-editable code cell whose solution regions are stubbed in the release.

        task says what students write there (for the README); by default the names the cell
        sets to None before its solution region (``best_net = None``).
        """
        cell = nbformat.v4.new_code_cell(src.strip())
        cell.metadata.update(self._meta(grade_id, solution=True))
        self._add(cell, grade_id)
        if task is None:
            head = src.split(BEGIN)[0]
            names = list(dict.fromkeys(re.findall(r"^(\w+) = ", head, flags=re.M)))
            task = "set " + ", ".join(f"`{n}`" for n in names) if names else "complete the cell"
        self.todos.append((grade_id, task))

    def reference(
        self,
        grade_id: str,
        module: str,
        names: list[str],
        provided: set[str] = frozenset(),
        prefix: str = "",
        task: str | None = None,
    ) -> None:
        """Solution cell generated from reference source (task: see solution())."""
        body, emitted = solution_source(module, names, provided, self.emitted)
        self.emitted.update(emitted)
        private = [n for n in emitted if n.startswith("_") and n not in names]
        if private:
            raise ValueError(
                f"{module}: {', '.join(private)} would reach students as stubs; the reference "
                "solutions of exercises must not call private helpers"
            )
        task = task or "implement " + ", ".join(f"`{n}`" for n in names)
        self.solution(
            grade_id,
            (textwrap.dedent(prefix).strip() + "\n\n\n" + body if prefix else body),
            task=task,
        )

    def tests(
        self,
        grade_id: str,
        points: float,
        names: tuple[str, ...],
        visible: str = "",
        kind: str = "engine",
        hidden: str = "",
    ) -> None:
        """An autograder-tests cell: visible checks plus a hidden region handing over to nnkit."""
        note = {
            "engine": "graded outside the kernel by the nnkit hidden suites",
            "answer": "checked outside the kernel by nnkit",
            "threshold": "the saved model is evaluated by nnkit on held-out data",
        }[kind]
        hidden_lines = [HIDDEN_BEGIN, f"# {HIDDEN_TAG}: {', '.join(names)} ({note})"]
        if hidden:
            hidden_lines.append(textwrap.dedent(hidden).strip())
        hidden_lines.append(HIDDEN_END)
        src = textwrap.dedent(visible).strip()
        src = (src + "\n\n" if src else "") + "\n".join(hidden_lines)
        cell = nbformat.v4.new_code_cell(src)
        cell.metadata.update(self._meta(grade_id, grade=True, locked=True, points=points))
        self._add(cell, grade_id)
        self.grade_cells.append(GradeCell(grade_id, points, tuple(names), kind))

    def question(self, grade_id: str, points: float, prompt: str, answer: str) -> None:
        """An inline question (prompt, read-only) and its manually graded answer cell."""
        self.md(prompt)
        text = (
            "**Your answer:**\n\n" + BEGIN + "\n\n" + textwrap.dedent(answer).strip() + "\n\n" + END
        )
        cell = nbformat.v4.new_markdown_cell(text)
        cell.metadata.update(self._meta(grade_id, grade=True, solution=True, points=points))
        self._add(cell, grade_id)
        self.grade_cells.append(GradeCell(grade_id, points, (), "manual"))
        self.todos.append((grade_id, f"answer the question in writing ({points:g} points)"))

    def notebook(self) -> NotebookNode:
        nb = nbformat.v4.new_notebook()
        nb.nbformat_minor = 5
        nb.metadata = {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        }
        nb.cells = list(self.cells)
        return nb
