"""Execute a notebook's code cells inside the sandbox (standalone: stdlib + IPython).

Copied on its own into the sandbox's runtime directory and started as
``python nbrun.py`` with the submission's files in the working directory. It imports
nothing from nnkit. The cells run in this very process in a fresh
``IPython.core.interactiveshell.InteractiveShell`` (no kernel, no ZeroMQ, no sockets),
which gives the outputs a Jupyter kernel would: streams, ``execute_result`` and
``display_data`` with rich representations (figures as ``image/png`` through the
matplotlib-inline backend), ``error`` with an IPython traceback.

Protocol (the trusted side is ``nnkit.sandbox.execute``):

* stdin: one JSON request, read to EOF::

      {"cells": [{"id": str, "source": str}, ...], "cell_timeout": s,
       "total_timeout": s (optional), "max_output_bytes": n}

* stdout: one JSON line per executed cell, in order, written as soon as the cell ends::

      {"id": str, "execution_count": int, "outputs": [nbformat v4 output dicts],
       "timed_out": s or null, "truncated": bool}

  then ``{"done": true, "budget_exhausted": bool}`` (or ``{"done": true, "error": str}`` if
  the runner itself could not start). No line is longer than ``max_output_bytes``.

The protocol goes to a private duplicate of the original stdout. File descriptors 1 and 2
are pipes drained by threads into the running cell's stream outputs, so ``print``,
``os.write(1, ...)``, C-level output and child processes never reach the protocol channel.
Student code runs in this process, so a determined student can still find the private
descriptor; the trusted side treats every line as hostile data, and grades never come
from these outputs.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time

#: Room kept in every cell for error outputs and truncation notes.
_RESERVE = 8 * 1024
_MIN_LINE = 32 * 1024
_INLINE = "module://matplotlib_inline.backend_inline"


class CellTimeout(BaseException):
    """Raised in the running cell by SIGALRM (a BaseException: ``except Exception`` in
    student code does not swallow it)."""


def _clean(s: str) -> str:
    """``s`` without lone surrogates (they cannot be encoded as UTF-8)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def _cost(obj) -> int:
    return len(json.dumps(obj))


# ----------------------------------------------------------------------------- outputs


class _Cell:
    """The outputs of one cell, capped at ``limit`` JSON bytes (plus a reserve for errors)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.outputs: list[dict] = []
        self.parts: dict[int, list[str]] = {}  # id(stream output) -> text pieces
        self.used = 0
        self.truncated = False
        self.dropped: dict[str, int] = {}  # stream name -> characters dropped
        self.clear_pending = False
        self.display_ids: dict[str, list[dict]] = {}

    def _pre(self) -> None:
        if self.clear_pending:
            self.clear_pending = False
            self.clear()

    def clear(self) -> None:
        self.outputs.clear()
        self.parts.clear()
        self.display_ids.clear()
        self.used = 0

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        self._pre()
        room = self.limit - self.used
        cost = _cost(text) - 2
        if cost > room:
            keep = max(0, len(text) * room // cost)
            while keep and _cost(text[:keep]) - 2 > room:
                keep = keep * 9 // 10
            self.truncated = True
            self.dropped[name] = self.dropped.get(name, 0) + len(text) - keep
            text = text[:keep]
            if not text:
                return
            cost = _cost(text) - 2
        text = _clean(text)
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            self.parts[id(last)].append(text)
        else:
            out = {"output_type": "stream", "name": name, "text": ""}
            self.outputs.append(out)
            self.parts[id(out)] = [text]
            cost += 50
        self.used += cost

    def rich(self, out: dict, display_id: str | None = None) -> None:
        """Add a display_data or execute_result output (dropping what does not fit)."""
        self._pre()
        data = {}
        for mime, value in out["data"].items():
            if not isinstance(mime, str):
                continue
            if isinstance(value, str):
                data[_clean(mime)] = _clean(value)
            elif mime == "application/json" or mime.endswith("+json"):
                try:
                    json.dumps(value, allow_nan=False)
                except (TypeError, ValueError, RecursionError):
                    continue
                data[_clean(mime)] = value
        meta = out.get("metadata") or {}
        try:
            json.dumps(meta, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            meta = {}
        out = dict(out, data=data, metadata=meta)
        cost = _cost(out)
        room = self.limit - self.used
        if cost > room:
            self.truncated = True
            dropped = [m for m in data if m != "text/plain"]
            text = data.get("text/plain", "")
            note = ""
            if dropped:
                note = f"[{', '.join(dropped)} output dropped: {cost // 1024} KiB, over the limit]"
            out = dict(out, data={"text/plain": ""}, metadata={})
            budget = max(0, (room - _cost(out) - _cost(note)) // 6)
            if len(text) > budget:
                text = text[:budget] + "\n[... output truncated]"
            out["data"]["text/plain"] = (text + "\n" + note) if text and note else text or note
            cost = _cost(out)
            if cost > room:
                if cost > room + _RESERVE // 2:
                    return
        self.outputs.append(out)
        self.used += cost
        if display_id is not None:
            self.display_ids.setdefault(display_id, []).append(out)

    def update(self, display_id: str, data: dict, metadata: dict) -> None:
        for out in self.display_ids.get(display_id, []):
            old = _cost(out)
            probe = _Cell(self.limit - self.used + old)
            probe.rich({"output_type": out["output_type"], "data": data, "metadata": metadata})
            if probe.outputs:
                out["data"] = probe.outputs[0]["data"]
                out["metadata"] = probe.outputs[0]["metadata"]
                self.used += _cost(out) - old
                self.truncated |= probe.truncated

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        """Errors always get recorded (they may use the reserve), shortened if needed."""
        self._pre()
        out = {
            "output_type": "error",
            "ename": _clean(str(ename))[:1000],
            "evalue": _clean(str(evalue)),
            "traceback": [_clean(str(t)) for t in traceback],
        }
        room = self.limit + _RESERVE // 2 - self.used
        if _cost(out) > room:
            self.truncated = True
            out["evalue"] = out["evalue"][:2000]
            tb = out["traceback"]
            while tb and _cost(out) > room:
                tb.pop(0)
            for i, line in enumerate(tb):
                if len(line) > 4000:
                    tb[i] = line[:4000] + "..."
            if _cost(out) > room:
                out["traceback"] = []
        self.outputs.append(out)
        self.used += _cost(out)

    def finish(self) -> list[dict]:
        for out in self.outputs:
            if out["output_type"] == "stream":
                out["text"] = "".join(self.parts.get(id(out), [out["text"]]))
        for name, n in self.dropped.items():
            self.outputs.append(
                {
                    "output_type": "stream",
                    "name": name,
                    "text": f"\n[... {n} more characters of {name} dropped: output limit]\n",
                }
            )
        return self.outputs


class _Collector:
    """Where output goes: the cell that is running (or the next one, between cells)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.RLock()
        self.cell = _Cell(limit)
        self.pumps: list[_FdPump] = []

    def take(self) -> _Cell:
        with self.lock:
            cell, self.cell = self.cell, _Cell(self.limit)
            return cell

    def drain_fds(self) -> None:
        # no timeout is raised while a pump's lock is held (it could stay locked)
        _Alarm.held += 1
        try:
            taken = [(p, *p.take()) for p in self.pumps]
        finally:
            _Alarm.held -= 1
            if _Alarm.pending and not _Alarm.held:
                _Alarm.pending = False
                if _Alarm.armed:
                    signal.setitimer(signal.ITIMER_REAL, 0.001, 1.0)
        for p, text, dropped in taken:
            with self.lock:
                if text:
                    self.cell.stream(p.name, text)
                if dropped:
                    self.cell.truncated = True
                    d = self.cell.dropped
                    d[p.name] = d.get(p.name, 0) + dropped


class _FdPump:
    """A pipe behind file descriptor ``fd`` (1 or 2), drained by a daemon thread into a
    capped buffer; ``take`` first reads what is still in the pipe, so everything written
    before the call is returned."""

    def __init__(self, fd: int, name: str, cap: int) -> None:
        self.name, self.cap = name, cap
        self.r, w = os.pipe()
        os.set_blocking(self.r, False)
        os.dup2(w, fd)  # fd stays inheritable: child processes write into the pipe too
        self.w = w  # kept open (non-inheritable) so the pipe never reports EOF
        self.buf = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        threading.Thread(target=self._loop, daemon=True, name=f"nbrun-{name}").start()

    def _read_all(self) -> None:
        while True:
            try:
                data = os.read(self.r, 65536)
            except BlockingIOError:
                return
            except OSError:
                return
            if not data:
                return
            room = self.cap - len(self.buf)
            if room > 0:
                self.buf += data[:room]
            self.dropped += max(0, len(data) - max(room, 0))

    def _loop(self) -> None:
        while True:
            try:
                select.select([self.r], [], [])
            except (OSError, ValueError):
                return
            with self.lock:
                self._read_all()

    def take(self) -> tuple[str, int]:
        with self.lock:
            self._read_all()
            data, dropped = bytes(self.buf), self.dropped
            self.buf.clear()
            self.dropped = 0
        return self.decoder.decode(data), dropped


class _Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr``: text goes straight into the running cell."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, collector: _Collector, name: str, fd: int) -> None:
        self._collector, self.name, self._fd = collector, name, fd

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        with self._collector.lock:
            self._collector.cell.stream(self.name, s)
        return len(s)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def flush(self) -> None:
        pass


# ----------------------------------------------------------------------------- shell


def highlight_once() -> None:
    """Coloured tracebacks without recompiling the Python lexer for every frame (idempotent).

    stack_data highlights a frame's code with a lexer subclass it defines per call, and
    pygments compiles a class's patterns the first time it is used: about 5 ms per frame of
    every failing cell. This one subclass (same tokens, the executing node's ranges given per
    instance) is compiled once, in the fork server before any run; the output is the same.
    """
    global _highlighted
    try:
        import pygments
        import stack_data.core
        from pygments.lexers import get_lexer_by_name
    except ImportError:  # no pygments or stack_data: IPython's own way
        return
    if getattr(stack_data.core, "_pygmented_with_ranges", None) in (None, _highlighted):
        return

    class RangeLexer(type(get_lexer_by_name("python3"))):
        ranges: list[tuple[int, int]] = []

        def get_tokens(self, text, unfiltered=False):
            length = 0
            for ttype, value in super().get_tokens(text):
                if any(start <= length < end for start, end in self.ranges):
                    ttype = ttype.ExecutingNode
                length += len(value)
                yield ttype, value

    def pygmented_with_ranges(formatter, code, ranges):
        lexer = RangeLexer(stripnl=False)
        lexer.ranges = ranges
        try:
            return pygments.highlight(code, lexer, formatter).splitlines()
        except Exception:  # as stack_data does: plain code rather than no traceback
            return code.splitlines()

    _highlighted = stack_data.core._pygmented_with_ranges = pygmented_with_ranges
    RangeLexer(stripnl=False)  # compiles the patterns


_highlighted = None


def _make_shell(collector: _Collector):
    highlight_once()
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Hook(DisplayHook):
        """execute_result outputs instead of ``Out[n]:`` on stdout."""

        def start_displayhook(self):
            self._is_active = True

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            collector.drain_fds()
            with collector.lock:
                collector.cell.rich(
                    {
                        "output_type": "execute_result",
                        "execution_count": self.shell.execution_count - 1,
                        "data": dict(format_dict),
                        "metadata": dict(md_dict or {}),
                    }
                )

        def finish_displayhook(self):
            self._is_active = False

    class Publisher(DisplayPublisher):
        """display_data outputs (IPython.display.display, inline figures)."""

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            if not isinstance(data, dict):
                return
            metadata = dict(metadata or {})
            did = (transient or {}).get("display_id")
            did = did if isinstance(did, str) else None
            collector.drain_fds()
            with collector.lock:
                if update:
                    if did is not None:
                        collector.cell.update(did, dict(data), metadata)
                    return
                out = {"output_type": "display_data", "data": dict(data), "metadata": metadata}
                collector.cell.rich(out, did)

        def clear_output(self, wait=False):
            with collector.lock:
                if wait:
                    collector.cell.clear_pending = True
                else:
                    collector.cell.clear()

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _tee(self, channel):  # IPython 9 copies every stream write into history
            return contextlib.nullcontext()

        def showtraceback(self, exc_tuple=None, *args, **kwargs):
            # a timeout's traceback ends where the cell was stopped, not in the handler
            etype, value, tb = exc_tuple or sys.exc_info()
            if isinstance(value, CellTimeout) and tb is not None:
                prev = None
                t = tb
                while t.tb_next is not None:
                    prev, t = t, t.tb_next
                if prev is not None and t.tb_frame.f_code is _on_alarm.__code__:
                    prev.tb_next = None
                exc_tuple = (etype, value, tb)
            return super().showtraceback(exc_tuple, *args, **kwargs)

        def _showtraceback(self, etype, evalue, stb):
            collector.drain_fds()
            ename = getattr(etype, "__name__", str(etype))
            try:
                evalue = str(evalue)
            except Exception:
                evalue = "<exception str() failed>"
            with collector.lock:
                collector.cell.error(ename, evalue, list(stb))

        def enable_gui(self, gui=None):  # %matplotlib inline needs no event loop
            if gui not in (None, "inline"):
                raise RuntimeError(f"no GUI event loop ({gui}) when running a notebook")

        def ask_exit(self):  # exit() in a cell: like a kernel that keeps running
            pass

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.HistoryAccessor.enabled = True
    cfg.InteractiveShell.colors = "linux"
    cfg.InteractiveShell.autocall = 0
    shell = Shell.instance(config=cfg)
    shell.set_hook("show_in_pager", lambda *a, **k: None)  # `obj?`: no output, like nbclient
    return shell


# ----------------------------------------------------------------------------- timeouts


class _Alarm:
    armed = False
    held = 0
    pending = False
    seconds = 0.0
    fired = False


def _on_alarm(signum, frame):
    if not _Alarm.armed:
        return
    if _Alarm.held:
        _Alarm.pending = True
        return
    _Alarm.fired = True
    # fires again every second until the cell ends, in case the cell swallows it
    raise CellTimeout(f"timed out after {_Alarm.seconds:g} s")


def _arm(seconds: float) -> None:
    _Alarm.seconds = seconds
    _Alarm.fired = False
    _Alarm.pending = False
    signal.signal(signal.SIGALRM, _on_alarm)  # again: a cell may have replaced it
    _Alarm.armed = True
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 1.0)


def _disarm() -> None:
    _Alarm.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)


# ----------------------------------------------------------------------------- main


def _writer(fd: int):
    def send(obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    return send


def _fit(line: dict, limit: int) -> dict:
    """Shrink a cell's line until its JSON fits in ``limit`` bytes (normally a no-op)."""
    if _cost(line) <= limit:
        return line
    line["truncated"] = True
    outs = line["outputs"]
    note = {"output_type": "stream", "name": "stderr", "text": "[outputs over the limit]\n"}
    outs.append(note)
    while _cost(line) > limit:
        others = [o for o in outs if o["output_type"] != "error" and o is not note]
        if others:
            outs.remove(max(others, key=_cost))
            continue
        errors = [o for o in outs if o["output_type"] == "error"]
        for e in errors:
            e.update(ename=e["ename"][:200], evalue=e["evalue"][:200], traceback=[])
        del errors[:-1]
        outs[:] = errors + [note]
        break
    return line


def main() -> None:
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    proto = os.dup(1)  # the protocol channel (not inherited by child processes)
    send = _writer(proto)
    try:
        cells = [(str(c["id"]), str(c["source"])) for c in request.get("cells", [])]
        cell_timeout = float(request.get("cell_timeout", 30.0))
        budget = request.get("total_timeout")
        budget = float(budget) if budget is not None else None
        limit = max(int(request.get("max_output_bytes", 1 << 20)), _MIN_LINE)
    except (TypeError, ValueError, KeyError) as e:
        send({"done": True, "error": f"bad request: {e!r}"[:500]})
        os._exit(2)
    start = time.monotonic()

    # fds 0/1/2: an empty stdin, and pipes captured into the running cell
    r, w = os.pipe()
    os.close(w)
    os.dup2(r, 0)
    os.close(r)
    collector = _Collector(limit - _RESERVE)
    collector.pumps = [_FdPump(1, "stdout", limit), _FdPump(2, "stderr", limit)]
    sys.stdout = _Stream(collector, "stdout", 1)
    sys.stderr = _Stream(collector, "stderr", 2)
    sys.argv = [""]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, "")  # like a kernel: the notebook's directory is importable
    own_dir = os.path.dirname(os.path.abspath(__file__))
    if own_dir != os.getcwd():
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != own_dir]
    os.environ.setdefault("MPLBACKEND", _INLINE)  # %matplotlib inline once pyplot loads

    ipdir = tempfile.mkdtemp(prefix=".nbrun-ipython-")
    os.environ["IPYTHONDIR"] = ipdir
    try:
        shell = _make_shell(collector)
    except BaseException as e:
        send({"done": True, "error": f"could not start IPython: {e!r}"[:500]})
        os._exit(3)
    finally:
        shutil.rmtree(ipdir, ignore_errors=True)
    os.environ.pop("IPYTHONDIR", None)
    signal.signal(signal.SIGALRM, _on_alarm)
    collector.drain_fds()
    collector.take()  # start-up noise is nobody's output

    exhausted = False
    for cid, source in cells:
        seconds = cell_timeout
        if budget is not None:
            left = budget - (time.monotonic() - start)
            if left <= 0:
                exhausted = True
                break
            seconds = min(seconds, left)
        count = shell.execution_count
        timed_out = None
        try:
            _arm(seconds)
            try:
                shell.run_cell(source, store_history=True, cell_id=cid)
            finally:
                _disarm()
        except CellTimeout:
            pass
        except BaseException as e:  # raised outside the cell's code (e.g. by a hook)
            with collector.lock:
                collector.cell.error(type(e).__name__, str(e), [])
        with contextlib.suppress(BaseException):
            _disarm()
        if _Alarm.fired:
            timed_out = _Alarm.seconds
            with collector.lock:
                errs = [o for o in collector.cell.outputs if o["output_type"] == "error"]
                if not any(o["ename"] == "CellTimeout" for o in errs):
                    collector.cell.error("CellTimeout", f"timed out after {seconds:g} s", [])
        for f in (sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(BaseException):
                f.flush()
        collector.drain_fds()
        cell = collector.take()
        line = {
            "id": cid,
            "execution_count": count,
            "outputs": cell.finish(),
            "timed_out": timed_out,
            "truncated": cell.truncated,
        }
        send(_fit(line, limit))
        with contextlib.suppress(Exception):
            shell.history_manager.outputs.clear()
    else:
        exhausted = False
    send({"done": True, "budget_exhausted": exhausted})
    os._exit(0)  # no student atexit handlers or threads after the protocol ended


if __name__ == "__main__":
    main()
