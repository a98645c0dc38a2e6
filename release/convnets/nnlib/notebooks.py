"""The one notebook reader and the one IPython-magic stripper of the kit.

Every part that reads a submitted notebook (the engine's loader, batch triage, numeric
answers, the course flow's repaired copies) goes through :func:`read_notebook`, and every
part that turns a cell into plain Python goes through :func:`strip_magics`, so a notebook is
read by one rule everywhere:

* bytes are decoded as UTF-8 (a BOM is allowed); undecodable bytes are replaced, with a
  message;
* invalid JSON, a JSON value that is not a notebook, or a format that cannot be converted
  gives one message and no notebook;
* cells are rebuilt: sources joined into one string, outputs dropped (grading uses code
  only), metadata made a dict, cell ids made valid and unique (fresh ids, with a message for
  duplicated or invalid ones);
* magics (``%x``, ``%%x``, ``!cmd``, ``obj?``, ``x = !cmd`` ...) are removed the way IPython
  itself reads the cell: its own input transformer when IPython is importable, else a pure
  re-implementation of the same rules (see :func:`strip_magics`).

It imports only the standard library (IPython and nbformat if present), so that a copy of it
ships with the student library next to ``loader.py``.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Any, NamedTuple

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "CodeCell",
    "code_cells",
    "decode_text",
    "grade_id",
    "read_notebook",
    "show_name",
    "strip_magics",
]

#: Notebooks larger than this are not read.
MAX_NOTEBOOK_BYTES = 100 * 2**20
#: Outputs at least this large are reported when they are dropped.
OUTPUT_NOTICE_BYTES = 2**20

_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_CELL_TYPES = ("code", "markdown", "raw")


class CodeCell(NamedTuple):
    """One code cell of a notebook read by :func:`read_notebook`."""

    cell_id: str
    grade_id: str | None
    source: str


def show_name(name: str) -> str:
    """A file name made safe for a one-line message (control characters escaped)."""
    out = []
    for ch in name:
        if ch.isprintable() and not ("\udc80" <= ch <= "\udcff"):
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":  # an undecodable byte kept by surrogateescape
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _join(src: Any) -> str:
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return _text(src) if isinstance(src, str) else ""


def _text(s: str) -> str:
    """A string that encodes as UTF-8 (a JSON escape can give lone surrogates: replaced)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", errors="replace").decode("utf-8")
    return s


def _clean(obj: Any) -> Any:
    """JSON data with every string (keys too) made encodable (see :func:`_text`)."""
    if isinstance(obj, str):
        return _text(obj)
    if isinstance(obj, dict):
        return {_text(str(k)): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def grade_id(cell: dict[str, Any]) -> str | None:
    """The nbgrader grade id of a cell, if it has a (non-empty string) one."""
    meta = cell.get("metadata")
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) and gid else None


def _convert_old(name: str, data: dict[str, Any], msgs: list[str]) -> dict[str, Any] | None:
    """A notebook of format 3 or older, converted to format 4 by nbformat (if installed)."""
    try:
        import nbformat

        nb = nbformat.reads(json.dumps(data), as_version=4)
        return json.loads(nbformat.writes(nb))
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        first = (str(e).strip().splitlines() or [""])[0][:200]
        msgs.append(
            f"{name}: notebook format {data.get('nbformat')!r} could not be converted "
            f"({type(e).__name__}: {first}); this notebook was not graded"
        )
        return None


def decode_text(name: str, data: bytes) -> tuple[str, list[str]]:
    """Text of a submitted file: UTF-8 (a BOM allowed), undecodable bytes replaced with a
    message (the one rule for notebooks and modules)."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        msg = (
            f"{show_name(name)}: not valid UTF-8 (first bad byte at offset {e.start}); "
            "undecodable bytes were replaced before grading"
        )
        return data.decode("utf-8-sig", errors="replace"), [msg]


def read_notebook(
    name: str, data: bytes, *, max_bytes: int = MAX_NOTEBOOK_BYTES
) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse a notebook's bytes leniently: (notebook dict or None, one-line messages).

    The notebook returned is nbformat 4.5 shaped: ``cells`` (each with ``cell_type``, a unique
    ``id``, a ``metadata`` dict and ``source`` as one string; code cells with no outputs),
    ``metadata``, ``nbformat`` and ``nbformat_minor``. None (with a message) when the bytes
    are too many, not JSON or not a notebook.
    """
    shown = show_name(name)
    msgs: list[str] = []
    if len(data) > max_bytes:
        msgs.append(f"{shown}: larger than {max_bytes / 2**20:g} MB; this notebook was not read")
        return None, msgs
    text, msgs = decode_text(name, data)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        msgs.append(
            f"{shown}: not a readable notebook (invalid JSON at line {e.lineno}, "
            f"column {e.colno}: {e.msg}); this notebook was not graded"
        )
        return None, msgs
    except (ValueError, RecursionError) as e:  # huge numbers, absurd nesting
        msgs.append(
            f"{shown}: not a readable notebook ({type(e).__name__}); this notebook was not graded"
        )
        return None, msgs
    if isinstance(raw, dict) and isinstance(raw.get("nbformat"), int) and raw["nbformat"] < 4:
        raw = _convert_old(shown, raw, msgs)
        if raw is None:
            return None, msgs
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        msgs.append(f"{shown}: not a Jupyter notebook (no list of cells); not graded")
        return None, msgs
    try:
        return _rebuild(name, raw, msgs), msgs
    except RecursionError:
        msgs.append(f"{shown}: not a readable notebook (nested too deeply); not graded")
        return None, msgs


def _rebuild(name: str, raw: dict[str, Any], msgs: list[str]) -> dict[str, Any]:
    """The notebook's cells rebuilt (see :func:`read_notebook`); messages appended."""
    shown = show_name(name)
    cells: list[dict[str, Any]] = []
    seen: set[str] = set()
    bad_ids: set[str] = set()
    out_bytes = 0
    fresh = 0
    pending: list[dict[str, Any]] = []  # cells that need a fresh id (after all good ones)
    for c in raw["cells"]:
        if not isinstance(c, dict):
            continue
        ctype = c.get("cell_type")
        ctype = ctype if ctype in _CELL_TYPES else "raw"
        meta = c.get("metadata")
        cell: dict[str, Any] = {
            "cell_type": ctype,
            "id": "",
            "metadata": _clean(meta) if isinstance(meta, dict) else {},
            "source": _join(c.get("source", "")),
        }
        if ctype == "code":
            outputs = c.get("outputs")
            if outputs:
                try:
                    out_bytes += len(json.dumps(outputs, ensure_ascii=False))
                except (TypeError, ValueError, RecursionError):
                    pass
            cell["outputs"] = []
            cell["execution_count"] = None
        elif isinstance(c.get("attachments"), dict):
            cell["attachments"] = _clean(c["attachments"])
        cid = c.get("id")
        if isinstance(cid, str) and _CELL_ID.match(cid) and cid not in seen:
            seen.add(cid)
            cell["id"] = cid
        else:
            if "id" in c:
                bad_ids.add(show_name(cid) if isinstance(cid, str) else repr(cid)[:40])
            pending.append(cell)
        cells.append(cell)
    for cell in pending:
        while True:
            cid = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{fresh}").hex[:12]
            fresh += 1
            if cid not in seen:
                break
        seen.add(cid)
        cell["id"] = cid
    if bad_ids:
        ids = ", ".join(sorted(bad_ids)[:5])
        msgs.append(f"{shown}: duplicated or invalid cell ids ({ids}) were renamed before grading")
    if out_bytes >= OUTPUT_NOTICE_BYTES:
        msgs.append(
            f"{shown}: {out_bytes / 2**20:.1f} MB of cell outputs were dropped "
            "(grading uses the code only)"
        )
    meta = raw.get("metadata")
    minor = raw.get("nbformat_minor")
    nb = {
        "cells": cells,
        "metadata": _clean(meta) if isinstance(meta, dict) else {},
        "nbformat": 4,
        "nbformat_minor": max(minor, 5) if isinstance(minor, int) else 5,
    }
    return nb


def code_cells(nb: dict[str, Any]) -> list[CodeCell]:
    """(cell id, grade id or None, source) of every code cell of a :func:`read_notebook` result."""
    return [
        CodeCell(c["id"], grade_id(c), c["source"])
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    ]


# -------------------------------------------------------------------------------------------
# magics
# -------------------------------------------------------------------------------------------

#: Cell magics whose body IPython runs as Python in the user's namespace (its definitions
#: exist afterwards); the body of any other cell magic is not Python (or not kept).
_BODY_IS_PYTHON = re.compile(r"%%(time|capture)(\s|$)")
#: A line IPython produced for a magic, a shell command or a help request.
_IPYTHON_CALL = re.compile(r"^\s*(?:[^=#'\"]+=\s*)?get_ipython\(\)\.\w+\(")

_transformer: Any = None


def _ipython_transformer() -> Any:
    global _transformer
    if _transformer is None:
        try:
            from IPython.core.inputtransformer2 import TransformerManager

            _transformer = TransformerManager()
        except Exception:  # noqa: BLE001 - not installed or broken: the pure rules apply
            _transformer = False
    return _transformer or None


def strip_magics(source: str) -> str:
    """The Python code of a cell: IPython syntax removed, one output line per input line.

    * a cell magic (``%%bash`` ...) drops the whole cell, except ``%%time`` and
      ``%%capture`` whose body (stripped the same way) is kept;
    * line magics ``%x``, shell commands ``!cmd``/``!!cmd``, help ``obj?``, ``obj??``,
      ``?obj``, and assignments ``x = !cmd`` / ``x = %magic`` become empty lines (``pass``
      where they are indented, so that a block stays a block), with their ``\\``
      continuation lines; the autocall escapes ``/f x``, ``,f x``, ``;f x`` likewise;
    * the rest is what IPython runs (a cell indented as a whole is dedented, ``>>>`` and
      ``In [1]:`` prompts are removed).

    IPython's own input transformer does the work when it is importable; otherwise a pure
    re-implementation of these rules. Line numbers are kept (blank lines replace dropped
    ones), so that errors point into the cell. Cells of ordinary size are remembered: staging
    and loading read the same cells, and the release's cells recur in every submission.
    """
    if len(source) <= _REMEMBERED_CELL_CHARS:
        return _strip_remembered(source)
    return _strip(source)


_REMEMBERED_CELL_CHARS = 20_000  # at most 2048 of them: memory stays under ~40 MB


@functools.lru_cache(maxsize=2048)
def _strip_remembered(source: str) -> str:
    return _strip(source)


def _strip(source: str) -> str:
    lines = source.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        return source
    head = lines[first].lstrip()
    if head.startswith("%%"):
        if _BODY_IS_PYTHON.match(head):
            body = strip_magics("\n".join(lines[first + 1 :]))
            return "\n".join([""] * (first + 1) + [body])
        return "\n".join([""] * len(lines))
    tm = _ipython_transformer()
    if tm is not None:
        try:
            text = tm.transform_cell(source)
        except Exception:  # noqa: BLE001 - the pure rules are the same
            text = None
        if isinstance(text, str):
            return _align(lines, text)
    return _strip_pure(lines)


def _same(orig: str, out: str) -> bool:
    a, b = orig.strip(), out.strip()
    return a == b or (bool(b) and a.endswith(b))


def _drop(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return indent + "pass" if indent else ""


def _align(orig: list[str], text: str) -> str:
    """IPython's transformed cell with its calls dropped, mapped back onto the input lines."""
    out = text.split("\n")
    if text.endswith("\n"):
        out.pop()
    lead = 0
    while lead < len(orig) and not orig[lead].strip():
        lead += 1
    rest = orig[lead:]
    res = [""] * lead
    i = j = 0
    while i < len(out):
        line = out[i]
        orig_line = rest[j] if j < len(rest) else ""
        autocall = orig_line.lstrip().startswith(_AUTOCALL) and not _same(orig_line, line)
        if not (autocall or _IPYTHON_CALL.match(line)):
            res.append(line)
            i += 1
            j += 1
            continue
        res.append(_drop(line))
        # how many input lines this one replaced (a magic continued with backslashes, or a
        # help request spanning a bracketed expression): up to where the inputs align again
        spare = len(rest) - j - (len(out) - i - 1)
        take = 1
        if spare > 1:
            take = spare
            if i + 1 < len(out):
                for c in range(1, spare):
                    if _same(rest[j + c], out[i + 1]):
                        take = c
                        break
        res += [""] * (take - 1)
        i += 1
        j += take
    res += [""] * (len(orig) - len(res))
    return _blank(res)


def _blank(lines: list[str]) -> str:
    return "\n".join(ln if ln.strip() else "" for ln in lines)


# ---- the pure rules (IPython not importable)

_ESCAPES = ("%", "!", "?", "/", ",", ";")
_AUTOCALL = ("/", ",", ";")
_HELP_END = re.compile(r"(%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*)(\?\??)$")
_ASSIGN_MAGIC = re.compile(r"^\s*[^\s=#'\"(][^=#'\"]*?(?<![=!<>+\-*/%&|^@:])=\s*[%!]")
_CLASSIC_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")
_CLASSIC_FIRST = re.compile(r"^>>>( |$)")
_IPYTHON_PROMPT = re.compile(r"^(In \[\d+\]: |\s*\.\.\.+: |\s*\.\.\.+$)")
_IPYTHON_FIRST = re.compile(r"^In \[\d+\]: ")


def _cleanup(lines: list[str]) -> list[str]:
    """IPython's cleanup transforms: a cell indented as a whole, then pasted prompts."""
    m = re.match(r"^[ \t]+", lines[0])
    if m:
        space = m.group(0)
        lines = [ln[len(space) :] if ln.startswith(space) else ln for ln in lines]
    for first, prompt in ((_CLASSIC_FIRST, _CLASSIC_PROMPT), (_IPYTHON_FIRST, _IPYTHON_PROMPT)):
        if first.match(lines[0]) or (len(lines) > 1 and prompt.match(lines[1])):
            lines = [prompt.sub("", ln, count=1) for ln in lines]
    return lines


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None, bool, str]:
    """Bracket depth and open string after a physical line, whether it continues with a
    backslash, and its code without a trailing comment (right-stripped)."""
    i, n = 0, len(line)
    code_end = n
    while i < n:
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch == "#":
            code_end = i
            break
        if ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    code = line[:code_end].rstrip()
    cont = code_end == n and code.endswith("\\")
    if quote is not None and len(quote) == 1 and not cont:
        quote = None  # an unterminated one-line string: a syntax error, let it end here
    return depth, quote, cont, code


def _strip_pure(lines: list[str]) -> str:
    lead = 0
    while lead < len(lines) and not lines[lead].strip():
        lead += 1
    body = _cleanup(lines[lead:])
    res = [""] * lead
    i = 0
    while i < len(body):
        line = body[i]
        s = line.lstrip()
        if s.startswith(_ESCAPES) or _ASSIGN_MAGIC.match(line):
            # an escaped command: this line and its backslash continuations
            res.append(_drop(line))
            while body[i].rstrip().endswith("\\") and i + 1 < len(body):
                i += 1
                res.append("")
            i += 1
            continue
        # a Python logical line: its physical lines, and whether it ends in a help request
        start, depth, quote, cont = i, 0, None, False
        while True:
            depth, quote, cont, code = _scan(body[i], depth, quote)
            comment = len(code) < len(body[i].rstrip())
            i += 1
            if (depth == 0 and quote is None and not cont) or i >= len(body):
                break
        if quote is None and not comment and _HELP_END.search(code):
            res.append(_drop(body[start]))
            res += [""] * (i - start - 1)
        else:
            res += body[start:i]
    return _blank(res)
