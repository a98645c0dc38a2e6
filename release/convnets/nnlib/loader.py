"""Submission loader: notebooks or ``.py`` modules -> definition sources.

Only definitions are taken: imports, function and class definitions and constant
assignments (a name bound to literals or simple expressions of constants, e.g.
``EPS = 1e-5``). Everything else (training loops, calls, prints, IPython magics) is dropped.
A cell that does not parse is reported and skipped; the rest still loads.

Several files form one submission and are loaded into ONE namespace, in dependency order.
Imports of sibling submission modules (``from .layers import *``,
``from reference.layers import affine_forward``, ``import layers``) are resolved to that
namespace by the worker, which registers the sibling module names (``Submission.aliases``)
as aliases of it. So ``reference/*.py`` can be graded as a multi-file submission.

Notebooks are read and IPython syntax is removed by :mod:`notebooks` (the kit's one reader
and magic stripper). Files are opened without following a symbolic link and must be regular
files (the grading side reads a staged copy, see ``nnkit.staging``, and this is the second
line of defence).

The loader never executes the code it reads (only ``ast``); :func:`import_notebook` is the
in-process helper for students (a later notebook importing an earlier one's definitions).
It imports only the standard library and its sibling ``notebooks`` module (nbformat only for
notebooks older than format 4) so that a copy of both can ship with the student library.
"""

from __future__ import annotations

import ast
import errno
import os
import stat
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .notebooks import MAX_NOTEBOOK_BYTES, decode_text, read_notebook, strip_magics

#: name of the shared namespace module inside the worker
NAMESPACE = "submission"
IMPORT_NOTEBOOK = "import_notebook"

_SAFE_CALLS = frozenset(
    {
        "float",
        "int",
        "complex",
        "bool",
        "str",
        "tuple",
        "frozenset",
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "dtype",
    }
)


@dataclass(frozen=True)
class Source:
    """One kept top-level statement: its code and where it came from."""

    origin: str  # e.g. "layers.ipynb, cell 4" or "layers.py"
    code: str
    filename: str = "<submission>"
    lineno: int = 1  # line of ``code``'s first line in ``filename`` (or the cell)
    names: tuple[str, ...] = ()  # names this statement binds
    needs: tuple[str, ...] = ()  # stems of sibling notebooks it imports (import_notebook)


@dataclass(frozen=True)
class LoadProblem:
    """A part of the submission that could not be loaded (reported, then skipped)."""

    origin: str
    message: str
    names: tuple[str, ...] = ()  # names the failed statement would have defined

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


@dataclass
class Submission:
    """The definitions of one submission, ready to be sent to a worker."""

    paths: list[Path]
    sources: list[Source] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    package: str | None = None
    kind: str = "module"  # "notebook" or "module"
    notes: list[str] = field(default_factory=list)  # repairs made while reading (UTF-8 ...)

    @property
    def names(self) -> set[str]:
        """Every top-level name the submission defines."""
        return {n for s in self.sources for n in s.names}

    @property
    def files(self) -> list[Path]:
        """The submitted files (copied into the worker's working directory)."""
        return list(self.paths)

    @property
    def stems(self) -> list[str]:
        return [p.stem for p in self.paths]


# ---------------------------------------------------------------- statement filter


def _is_const_expr(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _is_const_expr(node.value) and not isinstance(node.value, ast.Call)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_is_const_expr(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_const_expr(k) for k in node.keys) and all(
            _is_const_expr(v) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _is_const_expr(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_const_expr(node.left) and _is_const_expr(node.right)
    if isinstance(node, ast.BoolOp):
        return all(_is_const_expr(v) for v in node.values)
    if isinstance(node, ast.Compare):
        return _is_const_expr(node.left) and all(_is_const_expr(c) for c in node.comparators)
    if isinstance(node, ast.Call):
        f = node.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if fname not in _SAFE_CALLS:
            return False
        if isinstance(f, ast.Attribute) and not _is_const_expr(f.value):
            return False
        return all(_is_const_expr(a) for a in node.args) and all(
            _is_const_expr(k.value) for k in node.keywords
        )
    return False


def _target_names(t: ast.AST) -> list[str] | None:
    if isinstance(t, ast.Name):
        return [t.id]
    if isinstance(t, ast.Tuple | ast.List):
        out: list[str] = []
        for e in t.elts:
            sub = _target_names(e)
            if sub is None:
                return None
            out += sub
        return out
    return None


def _import_notebook_alias(node: ast.stmt) -> str | None:
    """``NAME = import_notebook("X.ipynb")`` -> NAME (bound to the shared namespace)."""
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
    ):
        f = node.value.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if fname == IMPORT_NOTEBOOK:
            return node.targets[0].id
    return None


def _imported_stem(node: ast.stmt) -> tuple[str, ...]:
    """The stem of the notebook an ``import_notebook("X.ipynb")`` call names, if literal."""
    call = getattr(node, "value", None)
    args = getattr(call, "args", [])
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return (Path(args[0].value).stem,)
    return ()


#: calls that only make a type (``Cache = namedtuple("Cache", "x w")``): kept like a class
TYPE_FACTORIES = frozenset({"namedtuple", "NamedTuple", "make_dataclass", "TypeVar"})


def _is_type_factory(node: ast.AST) -> bool:
    """A call of a type factory with constant arguments only."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return (
        name in TYPE_FACTORIES
        and all(_is_const_expr(a) for a in node.args)
        and all(_is_const_expr(k.value) for k in node.keywords)
    )


def _keep(node: ast.stmt) -> tuple[bool, list[str]]:
    """Whether a top-level statement is a definition, and the names it binds."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True, [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        if isinstance(node, ast.ImportFrom) and any(a.name == IMPORT_NOTEBOOK for a in node.names):
            return False, []  # the helper is a no-op when graded: one shared namespace
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            return False, []
        names = []
        for a in node.names:
            if a.name == "*":
                continue
            names.append(a.asname or a.name.split(".")[0])
        return True, names
    if isinstance(node, ast.Assign):
        names: list[str] = []
        for t in node.targets:
            sub = _target_names(t)
            if sub is None:
                return False, []
            names += sub
        return _is_const_expr(node.value) or _is_type_factory(node.value), names
    if isinstance(node, ast.AnnAssign):
        if isinstance(node.target, ast.Name) and node.value is not None:
            return _is_const_expr(node.value), [node.target.id]
        return False, []
    if isinstance(node, ast.Try):
        names = []
        for part in [node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]]:
            for st in part:
                if isinstance(st, ast.Pass):
                    continue
                ok, sub = _keep(st)
                if not ok:
                    return False, []
                names += sub
        return True, names
    return False, []


def extract_definitions(
    code: str, origin: str, filename: str = "<submission>", line_offset: int = 0
) -> tuple[list[Source], list[LoadProblem]]:
    """Split one cell or module into kept top-level definition statements."""
    stripped = strip_magics(code)
    try:
        tree = ast.parse(stripped, filename=filename)
    except SyntaxError as e:
        where = f" (line {e.lineno})" if e.lineno else ""
        return [], [LoadProblem(origin, f"SyntaxError: {e.msg}{where}; cell skipped")]
    lines = stripped.split("\n")
    out: list[Source] = []
    for node in tree.body:
        alias = _import_notebook_alias(node)
        if alias is not None:
            src = f"import {NAMESPACE} as {alias}"
            line = node.lineno + line_offset
            out.append(Source(origin, src, filename, line, (alias,), _imported_stem(node)))
            continue
        ok, names = _keep(node)
        if not ok:
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        end = node.end_lineno or node.lineno
        text = "\n".join(lines[start - 1 : end])
        out.append(Source(origin, text, filename, start + line_offset, tuple(names)))
    return out, []


# ---------------------------------------------------------------- files


def read_bytes(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> bytes:
    """A file's bytes: opened without following a symbolic link, regular files only.

    Raises OSError with a short message (a link, a FIFO, a device, too large ...).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(e.errno, "a symbolic link; not read") from None
        raise OSError(e.errno, e.strerror or "cannot be opened") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file; not read")
        if st.st_nlink > 1:
            raise OSError(errno.EMLINK, "a hard link to another file; not read")
        if st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than {max_bytes / 2**20:g} MB; not read")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise OSError(errno.EFBIG, f"larger than {max_bytes / 2**20:g} MB; not read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _strip_name(name: str, messages: list[str]) -> list[str]:
    return [m.removeprefix(f"{name}: ") for m in messages]


def _load_notebook(path: Path) -> tuple[list[Source], list[LoadProblem], list[str]]:
    try:
        data = read_bytes(path)
    except OSError as e:
        return [], [LoadProblem(path.name, f"unreadable notebook: {e.strerror}")], []
    nb, msgs = read_notebook(path.name, data)
    if nb is None:
        return [], [LoadProblem(path.name, m) for m in _strip_name(path.name, msgs)], []
    sources: list[Source] = []
    problems: list[LoadProblem] = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        s, p = extract_definitions(
            cell["source"], f"{path.name}, cell {i}", f"{path.name}[cell {i}]"
        )
        sources += s
        problems += p
    return sources, problems, msgs


def load_notebook(path: Path) -> tuple[list[Source], list[LoadProblem]]:
    """Definitions of one notebook's code cells."""
    sources, problems, _ = _load_notebook(path)
    return sources, problems


def _load_module(path: Path) -> tuple[list[Source], list[LoadProblem], list[str]]:
    try:
        text, msgs = decode_text(path.name, read_bytes(path))
    except OSError as e:
        return [], [LoadProblem(path.name, f"unreadable file: {e.strerror}")], []
    s, p = extract_definitions(text, path.name, path.name)
    if p:
        p = [LoadProblem(x.origin, x.message.replace("cell skipped", "file skipped")) for x in p]
    return s, p, msgs


def load_module(path: Path) -> tuple[list[Source], list[LoadProblem]]:
    """Definitions of one ``.py`` module."""
    sources, problems, _ = _load_module(path)
    return sources, problems


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            nbs = sorted(x for x in p.glob("*.ipynb") if ".ipynb_checkpoints" not in x.parts)
            pys = sorted(x for x in p.glob("*.py") if x.name != "__init__.py")
            out += nbs or pys
        else:
            out.append(p)
    seen: set[Path] = set()
    uniq = []
    for p in out:
        r = Path(os.path.abspath(p))  # not resolve(): a link must not stand for its target
        if r not in seen:
            seen.add(r)
            uniq.append(p)
    return uniq


def _sibling_deps(sources: list[Source], stems: set[str], package: str | None) -> set[str]:
    deps: set[str] = {n for s in sources for n in s.needs if n in stems}
    for s in sources:
        try:
            tree = ast.parse(s.code)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                parts = mod.split(".")
                if node.level > 0 or (package and parts[0] == package):
                    for name in [parts[-1]] + [a.name for a in node.names]:
                        if name in stems:
                            deps.add(name)
                elif parts[0] in stems:
                    deps.add(parts[0])
            elif isinstance(node, ast.Import):
                for a in node.names:
                    parts = a.name.split(".")
                    for name in parts:
                        if name in stems:
                            deps.add(name)
    return deps


def load_submission(paths: str | Path | Sequence[str | Path]) -> Submission:
    """Load a submission: notebook(s), ``.py`` module(s) or a folder of either."""
    if isinstance(paths, str | Path):
        paths = [paths]
    files = _expand(paths)
    sub = Submission(paths=files)
    if not files:
        sub.problems.append(LoadProblem("submission", "no notebook or .py file found"))
        return sub
    sub.kind = "notebook" if any(f.suffix == ".ipynb" for f in files) else "module"
    per_file: dict[str, tuple[list[Source], list[LoadProblem]]] = {}
    for f in files:
        if not f.exists() and not f.is_symlink():
            per_file[f.stem] = ([], [LoadProblem(f.name, "file not found")])
            continue
        s, p, notes = _load_notebook(f) if f.suffix == ".ipynb" else _load_module(f)
        per_file[f.stem] = (s, p)
        sub.notes += notes
    stems = {f.stem for f in files}
    parents = {f.resolve().parent for f in files if f.suffix == ".py"}
    if len(parents) == 1:
        parent = next(iter(parents))
        if (parent / "__init__.py").exists() and parent.name.isidentifier():
            sub.package = parent.name
    # dependency order between files (stable; cycles keep the given order)
    deps = {st: _sibling_deps(per_file[st][0], stems - {st}, sub.package) for st in per_file}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(st: str) -> None:
        if state.get(st):
            return
        state[st] = 1
        for d in sorted(deps[st]):
            visit(d)
        state[st] = 2
        order.append(st)

    for f in files:
        visit(f.stem)
    for st in order:
        s, p = per_file[st]
        sub.sources += s
        sub.problems += p
    aliases = sorted(st for st in stems if st.isidentifier())
    if sub.package:
        aliases += [sub.package] + [f"{sub.package}.{st}" for st in aliases]
    sub.aliases = aliases
    return sub


# ---------------------------------------------------------------- students


def import_notebook(path: str | Path, into: dict[str, Any] | None = None) -> types.ModuleType:
    """Run an earlier notebook's definitions (only) and return them as a module.

    For students, in their own kernel: ``layers = import_notebook("Layers.ipynb")``.
    When graded, all notebooks of the assignment share one namespace, so this call is
    replaced by a reference to that namespace. ``into`` (e.g. ``globals()``) receives the
    public names too.
    """
    p = Path(path)
    sources, problems, notes = _load_notebook(p) if p.suffix == ".ipynb" else _load_module(p)
    mod = types.ModuleType(p.stem)
    mod.__file__ = str(p)
    sys.modules.setdefault(p.stem, mod)
    for note in notes:
        print(f"import_notebook: {note}", file=sys.stderr)
    for prob in problems:
        print(f"import_notebook: {prob}", file=sys.stderr)
    for s in sources:
        code = compile(ast.increment_lineno(ast.parse(s.code), s.lineno - 1), s.filename, "exec")
        try:
            exec(code, mod.__dict__)  # noqa: S102 - the student's own code in their own kernel
        except Exception as e:  # as in the grading worker: skip the statement, keep the rest
            print(f"import_notebook: {s.origin}: {type(e).__name__}: {e}; skipped", file=sys.stderr)
    if into is not None:
        into.update({k: v for k, v in vars(mod).items() if not k.startswith("_")})
    return mod
