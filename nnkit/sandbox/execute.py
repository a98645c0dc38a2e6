"""Execute a submitted notebook in the sandbox and read its outputs back (trusted side).

The notebook's code cells run in ``nbrun.py`` (see :func:`nbrun_path`), a standalone program
started by the caller's ``launch`` inside the sandbox. It receives only the code sources
(never cell metadata) under ids chosen here, and answers one JSON line per executed cell.
Everything it sends is hostile data: lines and totals are size-capped, every field is
type-checked, outputs are rebuilt as fresh nbformat v4 dicts, results are matched only to
ids sent here (each at most once), and the finished notebook is validated with nbformat.

Cells are named by their index in ``nb["cells"]`` ("cell 4"), as ``nnkit.loader`` does.
Outputs are for display (feedback, formgrader): student code runs in the same process as
the runner and could forge them, so grades never come from them.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

#: The in-sandbox program (copy it into the sandbox's runtime directory).
NBRUN_PATH = Path(__file__).with_name("nbrun.py")

#: Room for a result line's JSON envelope on top of ``max_output_bytes``.
_LINE_SLACK = 4096
_MAX_MESSAGES = 60
_MIME = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)


def nbrun_path() -> Path:
    """Path of ``nbrun.py``, the program to copy into the sandbox's runtime directory."""
    return NBRUN_PATH


@dataclass
class ExecResult:
    nb: dict  # a copy of the notebook, outputs and execution counts of the code cells filled in
    messages: list[str] = field(default_factory=list)  # one line each


def execute_notebook(
    nb: dict,
    launch: Callable[[list[str]], subprocess.Popen],
    *,
    cell_timeout: float = 30.0,
    total_timeout: float = 600.0,
    max_output_bytes: int = 1 << 20,
    max_total_bytes: int = 16 << 20,
    argv: list[str] | None = None,
    hang_grace: float = 5.0,
    startup_grace: float = 30.0,
) -> ExecResult:
    """Run the code cells of ``nb`` with ``launch(argv)`` and return the executed copy.

    ``launch`` starts ``argv`` (default: this Python and :data:`NBRUN_PATH`) in the sandbox
    with stdin and stdout pipes and the submission's files in its working directory.
    ``cell_timeout`` is enforced inside the runner (the cell gets an error, the next cell
    runs); a cell that cannot be interrupted is killed ``hang_grace`` seconds later (plus
    ``startup_grace`` for the first cell). The whole run is killed after ``total_timeout``.
    No result line may exceed ``max_output_bytes`` (the runner truncates), and outputs past
    ``max_total_bytes`` in total are replaced by a note (errors are kept, shortened).
    """
    out = copy.deepcopy(nb)
    cells = out.get("cells") if isinstance(out, dict) else None
    if not isinstance(cells, list):
        return ExecResult(out, ["not a notebook (no list of cells)"])
    ids: dict[str, int] = {}  # protocol id -> index in cells
    request_cells = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str) or not src.strip():
            continue  # like nbclient: empty cells are not executed
        cid = f"c{i}"
        ids[cid] = i
        request_cells.append({"id": cid, "source": src})
    msgs = _Messages()
    if not request_cells:
        return ExecResult(_finish(out, set(), msgs), msgs.lines)

    run = _Run(ids, cell_timeout, max_output_bytes, max_total_bytes, msgs)
    request = {
        "cells": request_cells,
        "cell_timeout": cell_timeout,
        # the runner stops cleanly a little before the hard kill
        "total_timeout": max(total_timeout - 2.0, total_timeout * 0.9),
        "max_output_bytes": max_output_bytes,
    }
    argv = list(argv) if argv is not None else [sys.executable, str(NBRUN_PATH)]
    proc = launch(argv)
    try:
        run.talk(proc, json.dumps(request).encode(), total_timeout, hang_grace, startup_grace)
    finally:
        _reap(proc, kill=run.kill_reason is not None or not run.done)
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
    run.report(proc.returncode, total_timeout)
    for cid, (count, outputs) in run.results.items():
        cells[ids[cid]]["execution_count"] = count
        cells[ids[cid]]["outputs"] = outputs
    return ExecResult(_finish(out, {ids[c] for c in run.results}, msgs), msgs.lines)


# ----------------------------------------------------------------------------- reading


class _Messages:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.seen: set[str] = set()
        self.extra = 0

    def add(self, msg: str, key: str | None = None) -> None:
        key = key or msg
        if key in self.seen:
            return
        self.seen.add(key)
        if len(self.lines) < _MAX_MESSAGES:
            self.lines.append(msg)
        else:
            self.extra += 1
            more = f"... and {self.extra} more messages"
            if self.lines[-1].startswith("... and "):
                self.lines[-1] = more
            else:
                self.lines.append(more)


class _Run:
    """The state of one execution: what was sent, what came back, how it ended."""

    def __init__(self, ids, cell_timeout, max_output_bytes, max_total_bytes, msgs) -> None:
        self.ids: dict[str, int] = ids
        self.order = list(ids)
        self.cell_timeout = cell_timeout
        self.max_output = max_output_bytes
        self.max_line = max_output_bytes + _LINE_SLACK
        self.max_total = max_total_bytes
        self.max_read = 2 * max_total_bytes + len(ids) * 1024 + (1 << 20)
        self.msgs = msgs
        self.results: dict[str, tuple[int | None, list[dict]]] = {}
        self.last: str | None = None  # id of the last cell reported
        self.accepted = 0
        self.read = 0
        self.done = False
        self.budget_exhausted = False
        self.kill_reason: str | None = None
        self.over_total_from: int | None = None

    def name(self, cid: str) -> str:
        return f"cell {self.ids[cid]}"

    def running(self) -> str | None:
        """The cell the runner is on: the first one after the last reported."""
        start = self.order.index(self.last) + 1 if self.last is not None else 0
        for cid in self.order[start:]:
            if cid not in self.results:
                return cid
        return None

    # -- the conversation

    def talk(self, proc, request: bytes, total_timeout, hang_grace, startup_grace) -> None:
        t0 = time.monotonic()
        writer = threading.Thread(target=_send, args=(proc.stdin, request), daemon=True)
        writer.start()
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        buf = bytearray()
        skipping = False
        last_progress = t0
        while not self.done:
            now = time.monotonic()
            grace = hang_grace + (startup_grace if not self.results else 0.0)
            cell_deadline = last_progress + self.cell_timeout + grace
            if now >= t0 + total_timeout:
                self.kill_reason = "total"
                return
            if now >= cell_deadline:
                self.kill_reason = "hang"
                return
            ready, _, _ = select.select([fd], [], [], min(t0 + total_timeout, cell_deadline) - now)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not chunk:
                return  # EOF
            self.read += len(chunk)
            if self.read > self.max_read:
                self.kill_reason = "flood"
                return
            while chunk:
                nl = chunk.find(b"\n")
                part, chunk = (chunk, b"") if nl < 0 else (chunk[:nl], chunk[nl + 1 :])
                if not skipping:
                    buf += part
                    if len(buf) > self.max_line:
                        skipping = True
                        buf.clear()
                        self.msgs.add(
                            f"dropped a result line over {_size(self.max_line)}", "longline"
                        )
                if nl < 0:
                    break
                if not skipping:
                    n = len(self.results)
                    self.line(bytes(buf))
                    if len(self.results) > n:
                        last_progress = time.monotonic()
                    if self.done:
                        return
                buf.clear()
                skipping = False

    def line(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError):
            self.msgs.add("ignored an unreadable result line", "unreadable")
            return
        if not isinstance(msg, dict):
            self.msgs.add("ignored an unreadable result line", "unreadable")
            return
        if msg.get("done") is True:
            self.done = True
            self.budget_exhausted = msg.get("budget_exhausted") is True
            err = msg.get("error")
            if isinstance(err, str):
                self.msgs.add(f"the notebook runner failed: {_one_line(err, 300)}")
            return
        cid = msg.get("id")
        if not isinstance(cid, str) or cid not in self.ids:
            self.msgs.add("ignored a result for a cell that was not sent", "unknown-id")
            return
        if cid in self.results:
            self.msgs.add(f"{self.name(cid)} was reported twice; the repeat was ignored")
            return
        count = msg.get("execution_count")
        if not (type(count) is int and 0 <= count < 10**9):
            count = None
        raw_outputs = msg.get("outputs")
        outputs, dropped = _clean_outputs(raw_outputs if isinstance(raw_outputs, list) else [])
        if dropped or not isinstance(raw_outputs, list):
            self.msgs.add(f"dropped {dropped or 'the'} malformed output(s) of {self.name(cid)}")
        t = msg.get("timed_out")
        if type(t) in (int, float) and math.isfinite(t) and t > 0:
            self.msgs.add(f"{self.name(cid)} timed out after {_secs(t)}")
        if msg.get("truncated") is True:
            self.msgs.add(f"outputs of {self.name(cid)} truncated (over {_size(self.max_output)})")
        size = len(raw)
        if self.accepted + size > self.max_total:
            outputs = _over_total(outputs)
            if self.over_total_from is None:
                self.over_total_from = self.ids[cid]
                self.msgs.add(
                    f"the notebook's outputs exceeded {_size(self.max_total)} in total; outputs "
                    f"of {self.name(cid)} and later cells were dropped (errors kept, shortened)"
                )
            size = sum(len(json.dumps(o)) for o in outputs)
        self.accepted += size
        self.results[cid] = (count, outputs)
        self.last = cid

    # -- how it ended

    def report(self, returncode: int | None, total_timeout: float) -> None:
        nxt = self.running()
        after = f"after {self.name(self.last)}" if self.last is not None else "before any cell"
        later = f"{self.name(nxt)} and later cells have no output" if nxt else ""
        if self.kill_reason == "total":
            where = f"during {self.name(nxt)}" if nxt else "at the end"
            self.msgs.add(
                f"the notebook ran out of its time budget ({_secs(total_timeout)}) {where} "
                f"and was killed" + (f"; {later}" if later else "")
            )
        elif self.kill_reason == "hang":
            what = self.name(nxt) if nxt else "the notebook"
            self.msgs.add(
                f"{what} did not stop after its {_secs(self.cell_timeout)} timeout and was "
                "killed" + (f"; {later}" if nxt else "")
            )
        elif self.kill_reason == "flood":
            self.msgs.add(
                f"the notebook process wrote more than {_size(self.max_read)} of results and "
                f"was killed {after}" + (f"; {later}" if later else "")
            )
        elif self.done:
            if self.budget_exhausted and nxt:
                self.msgs.add(
                    f"the notebook's time budget ({_secs(total_timeout)}) was used up {after}; "
                    f"{self.name(nxt)} and later cells were not run"
                )
            elif nxt:
                self.msgs.add(f"the notebook process stopped early {after}; {later}")
        else:
            if returncode is not None and returncode < 0:
                how = f"crashed ({_signal_name(-returncode)})"
            elif returncode:
                how = f"exited with status {returncode}"
            else:
                how = "exited"
            if nxt or returncode:
                self.msgs.add(
                    f"the notebook process {how} {after}" + (f"; {later}" if later else "")
                )


def _send(stdin, data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.close()
    except (OSError, ValueError):
        pass


def _reap(proc: subprocess.Popen, kill: bool) -> None:
    if not kill:
        try:
            proc.wait(timeout=5.0)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        proc.kill()
    except OSError:
        pass
    proc.wait()


# ----------------------------------------------------------------------------- outputs


def _text(v) -> str | None:
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        v = "".join(v)
    if not isinstance(v, str):
        return None
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        v = v.encode("utf-8", "replace").decode("utf-8")
    return v


def _plain(v, depth: int = 0):
    """``v`` if it is plain JSON (str keys, finite numbers, at most 8 levels), else raise."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError
        return v
    if isinstance(v, str):
        t = _text(v)
        if t is None:
            raise ValueError
        return t
    if depth >= 8:
        raise ValueError
    if isinstance(v, list):
        return [_plain(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {_plain_key(k): _plain(x, depth + 1) for k, x in v.items()}
    raise ValueError


def _plain_key(k) -> str:
    if not isinstance(k, str):
        raise ValueError
    return _text(k)  # type: ignore[return-value]


def _bundle(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    out = {}
    for mime, value in data.items():
        if not isinstance(mime, str) or not _MIME.match(mime):
            return None
        if mime == "application/json" or mime.endswith("+json"):
            try:
                out[mime] = _plain(value)
            except (ValueError, RecursionError):
                return None
        else:
            t = _text(value)
            if t is None:
                return None
            out[mime] = t
    return out


def _metadata(meta) -> dict:
    if meta is None:
        return {}
    try:
        m = _plain(meta)
    except (ValueError, RecursionError):
        return {}
    return m if isinstance(m, dict) else {}


def _clean_output(o) -> dict | None:
    """A fresh nbformat v4 output dict built from ``o``, or None if ``o`` is malformed."""
    if not isinstance(o, dict):
        return None
    kind = o.get("output_type")
    if kind == "stream":
        name, text = o.get("name"), _text(o.get("text"))
        if name not in ("stdout", "stderr") or text is None:
            return None
        return {"output_type": "stream", "name": name, "text": text}
    if kind in ("display_data", "execute_result"):
        data = _bundle(o.get("data"))
        if data is None:
            return None
        out = {"output_type": kind, "data": data, "metadata": _metadata(o.get("metadata"))}
        if kind == "execute_result":
            n = o.get("execution_count")
            out["execution_count"] = n if type(n) is int and 0 <= n < 10**9 else None
        return out
    if kind == "error":
        ename, evalue = _text(o.get("ename")), _text(o.get("evalue"))
        tb = o.get("traceback")
        if ename is None or evalue is None or not isinstance(tb, list):
            return None
        lines = [_text(t) for t in tb]
        if any(t is None for t in lines):
            return None
        return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": lines}
    return None


def _clean_outputs(raw: list) -> tuple[list[dict], int]:
    outputs, dropped = [], 0
    for o in raw:
        c = _clean_output(o)
        if c is None:
            dropped += 1
        else:
            outputs.append(c)
    return outputs, dropped


def _over_total(outputs: list[dict]) -> list[dict]:
    """What is kept of a cell's outputs past the notebook's output limit."""
    kept = [
        {
            "output_type": "error",
            "ename": o["ename"][:200],
            "evalue": o["evalue"][:500],
            "traceback": [],
        }
        for o in outputs
        if o["output_type"] == "error"
    ][-1:]
    note = "[outputs dropped: the notebook's output limit was reached]\n"
    return [{"output_type": "stream", "name": "stderr", "text": note}, *kept]


def _finish(nb: dict, executed: set[int], msgs: _Messages) -> dict:
    """The notebook as a NotebookNode, its outputs repaired until nbformat validates it."""
    node = nbformat.from_dict(nb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _errors(node) is None:
            return node
        minor = node.get("nbformat_minor") if type(node.get("nbformat_minor")) is int else None
        for i in sorted(executed):
            cell = node["cells"][i]
            good = [o for o in cell["outputs"] if _errors(o, ref="output", minor=minor) is None]
            if len(good) < len(cell["outputs"]):
                msgs.add(
                    f"dropped {len(cell['outputs']) - len(good)} invalid output(s) of cell {i}"
                )
                cell["outputs"] = good
        err = _errors(node)
    if err is not None:
        msgs.add(f"the executed notebook does not validate: {_one_line(err, 200)}")
    return node


def _errors(node, ref: str | None = None, minor: int | None = None) -> str | None:
    try:
        if ref is None:
            nbformat.validate(node)
        else:
            nbformat.validate(node, ref=ref, version=4, version_minor=minor)
    except nbformat.ValidationError as e:
        return str(e.message) if hasattr(e, "message") else str(e)
    except Exception as e:  # a notebook nbformat cannot even check
        return f"{type(e).__name__}: {e}"
    return None


# ----------------------------------------------------------------------------- wording


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{max(1, n >> 10)} KB"


def _secs(t: float) -> str:
    return f"{t:g} s"


def _signal_name(sig: int) -> str:
    try:
        return f"signal {sig}, {signal.Signals(sig).name}"
    except ValueError:
        return f"signal {sig}"


def _one_line(s: str, n: int) -> str:
    s = "".join(c if c.isprintable() else " " for c in s)
    return s if len(s) <= n else s[: n - 3] + "..."
