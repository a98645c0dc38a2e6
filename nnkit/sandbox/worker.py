"""The program run in the sandboxed child process (stdlib + numpy only).

Started by :class:`nnkit.sandbox.client.Worker` in its sandbox as
``python -S -s -P <runtime>/nnkit_worker.py REQ_FD REP_FD PATH...``: no site, a minimal
environment, ``nnkit_inside.enter()`` before anything else, an explicit ``sys.path`` (stdlib,
a directory exposing only numpy and nnlib, the runtime directory, the scratch directory).
It executes the submission's definitions into one module namespace and answers requests
over the two pipe file descriptors with the data-only wire format of ``nnkit_wire`` (a
copy of ``nnkit/sandbox/protocol.py``).
Its own stdout/stderr are a capped pipe read by the trusted side, never the protocol channel.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    _REQ, _REP = int(sys.argv[1]), int(sys.argv[2])
    for _p in sys.argv[3:]:
        if _p not in sys.path:
            sys.path.append(_p)
    import nnkit_inside  # the sandbox's own first steps: uid, Landlock, scratch dir

    nnkit_inside.enter()
    sys.path.append(nnkit_inside.os.getcwd())

import ast  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from typing import Any  # noqa: E402

import nnkit_wire as wire  # noqa: E402  (the runtime copy of protocol.py)
import numpy as np  # noqa: E402

_np_seed = np.random.seed
_write_frame = wire.write_frame
_encode = wire.encode
_decode = wire.decode
_ProtocolError = wire.ProtocolError
_compile = compile
_exec = exec
_os_exit = os._exit
_OWN_FILES = {os.path.abspath(__file__), os.path.abspath(wire.__file__)}
_MAX_MSG = 2000


class _State:
    """The submission's namespace and the objects the trusted side holds Refs to.

    Every Ref handed out gets a fresh id, even for an object that already has one (two
    calls returning the same cache, a kept object echoed back among the arguments): the
    trusted side releases each Ref it received exactly once, so one id per handle means a
    release never drops an object that another live handle still names.
    """

    def __init__(self) -> None:
        self.module = types.ModuleType("submission")
        self.ns: dict[str, Any] = self.module.__dict__
        self.refs: dict[int, Any] = {}
        self.live: dict[int, int] = {}  # id(obj) -> number of ids naming it
        self.next_id = 1

    def keep(self, obj: Any) -> int:
        rid = self.next_id
        self.next_id += 1
        self.refs[rid] = obj
        self.live[id(obj)] = self.live.get(id(obj), 0) + 1
        return rid

    def ref_of(self, obj: Any) -> int | None:
        """A new id for ``obj`` if the trusted side already holds one (argument echo)."""
        return self.keep(obj) if id(obj) in self.live else None

    def get_noting(self, passed: dict[int, Any]) -> Any:
        """``get`` that also notes every object a request passed as a reference."""

        def get(rid: int) -> Any:
            obj = self.get(rid)
            passed[id(obj)] = obj
            return obj

        return get

    def get(self, rid: int) -> Any:
        try:
            return self.refs[rid]
        except KeyError:
            raise _ProtocolError(f"unknown object reference {rid}") from None

    def drop(self, ids: Iterable[int]) -> None:
        for rid in ids:
            if rid not in self.refs:
                continue
            key = id(self.refs.pop(rid))
            n = self.live[key] - 1
            if n:
                self.live[key] = n
            else:
                del self.live[key]


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MSG else text[:_MAX_MSG] + " ..."


def _student_trace(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in _OWN_FILES]
    return "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-3:])


def _exc_message(exc: BaseException) -> str:
    try:
        msg = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        msg = "<unprintable>"
    return _short(f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__)


def _exc_types(exc: BaseException) -> list[str]:
    return [c.__name__ for c in type(exc).__mro__ if c is not object]


def _other_processes() -> int:
    """Live processes in this pid namespace besides the worker and the namespace's init, or
    -1 when /proc is not the namespace's own (no sandbox namespaces: the grader scans).

    The namespace's last allocated pid tells whether anything was started since a count
    that found nothing: unchanged, nothing was, and /proc needs no new scan.
    """
    global _quiet_since
    last = _read_bytes("/proc/sys/kernel/ns_last_pid")
    if last is not None and last == _quiet_since:
        return 0
    try:
        pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return -1
    if len(pids) > 32:
        return -1
    count = 0
    for pid in set(pids) - {1, os.getpid()}:
        state = (_read_bytes(f"/proc/{pid}/stat") or b"").rpartition(b")")[2].split()[:1]
        count += bool(state) and state != [b"Z"]
    _quiet_since = last if count == 0 else None
    return count


_quiet_since: bytes | None = None  # ns_last_pid when the last count found nothing


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _reply(header: dict[str, Any], buffers: list[bytes] | None = None) -> None:
    header["procs"] = _other_processes()
    _write_frame(_REP, header, buffers or [])


def _run(
    st: _State,
    fn: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    req: dict[str, Any],
    passed: dict[int, Any] | None = None,
) -> None:
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
        for w in rec[:20]:
            caught.append(_short(f"{w.category.__name__}: {w.message}"))
    first_new = st.next_id
    try:
        tree, bufs = _pack_result(st, result, args, kwargs, req, caught, passed or {})
        sys.stdout.flush()
        sys.stderr.flush()
        _reply(tree, bufs)  # packs (and may refuse) the whole frame before writing any of it
    except BaseException:
        st.drop(range(first_new, st.next_id))  # Refs that never reached the trusted side
        raise


def _pack_result(
    st: _State,
    result: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    req: dict[str, Any],
    caught: list[str],
    passed: dict[int, Any],
) -> tuple[dict[str, Any], list[bytes]]:
    """The reply: the result (``keep`` indices and, with ``opaque``, every non-data object as
    a reference) and, with ``echo``, the arguments as they are after the call. In the echo,
    an object that came in as a reference goes back as one (never looked into, e.g. a cache
    holding a numpy dtype), and any other object that is not data (something the student
    stored in a state dict) is kept as a reference too."""
    keep = req.get("keep") or []
    if req.get("keep_all"):
        result = wire.Ref(st.keep(result))
    elif keep:
        if not isinstance(result, tuple | list):
            raise _BadReturn(f"expected a tuple, got {type(result).__name__}")
        items = list(result)
        for i in keep:
            if not -len(items) <= i < len(items):
                raise _BadReturn(f"expected a tuple with an element {i}, got {len(items)}")
            items[i] = wire.Ref(st.keep(items[i]))
        result = tuple(items) if isinstance(result, tuple) else items
    tree: dict[str, Any] = {"ok": True, "warnings": caught}
    try:
        tree["value"], bufs = _encode(result, ref_of=st.keep if req.get("opaque") else None)
        if req.get("echo"):

            def opaque(obj: Any) -> int | None:
                return st.keep(obj) if id(obj) in passed else None

            echo, ebufs = _encode([args, kwargs], ref_of=st.keep, opaque=opaque)
            # renumber echo buffers after the result's buffers
            tree["echo"] = _shift(echo, len(bufs))
            bufs = bufs + ebufs
    except _ProtocolError as e:
        raise _BadReturn(str(e)) from None
    except RecursionError:
        raise _BadReturn("value nested too deeply") from None
    return tree, bufs


def _shift(node: Any, k: int) -> Any:
    if isinstance(node, dict):
        out = {key: _shift(v, k) if key in ("v",) else v for key, v in node.items()}
        if "b" in node:
            out["b"] = node["b"] + k
        return out
    if isinstance(node, list):
        return [_shift(x, k) for x in node]
    return node


class _BadReturn(Exception):
    pass


def _handle(st: _State, req: dict[str, Any], bufs: list[bytearray]) -> None:
    op = req.get("op")
    st.drop(req.get("drop") or [])
    if "seed" in req:  # Worker.seed: before the request it came with
        _np_seed(int(req["seed"]))
        random.seed(int(req["seed"]))
    if op == "init":
        mod = st.module
        mod.__package__ = req.get("package") or "submission"
        sys.modules["submission"] = mod
        for alias in req.get("aliases") or []:
            sys.modules[alias] = mod
            head, _, tail = alias.rpartition(".")
            if head:
                st.ns.setdefault(tail, mod)
        if req.get("package"):
            mod.__path__ = []  # type: ignore[attr-defined]
        _reply({"ok": True, "pid": os.getpid()})
        return
    if op == "exec":
        try:
            tree = ast.parse(req["code"], filename=req.get("filename", "<submission>"))
            ast.increment_lineno(tree, int(req.get("lineno", 1)) - 1)
            _exec(_compile(tree, req.get("filename", "<submission>"), "exec"), st.ns)
        except Exception as e:  # noqa: BLE001 - reported as a load problem
            _reply({"ok": False, "kind": "exception", "message": _exc_message(e)})
            return
        sys.stdout.flush()
        _reply({"ok": True})
        return
    if op == "ping":
        _reply({"ok": True})
        return
    args_tree = req.get("args", {"t": "list", "v": []})
    kw_tree = req.get("kwargs", {"t": "dict", "k": [], "v": []})
    passed: dict[int, Any] = {}  # objects this request passes by reference
    if op in ("call", "new", "method", "setattr"):
        get = st.get_noting(passed)
        args = _decode(args_tree, bufs, get)
        kwargs = _decode(kw_tree, bufs, get)
    else:
        args, kwargs = [], {}
    name = req.get("name", "")
    if op == "has":
        _reply({"ok": True, "value": name in st.ns})
        return
    if op in ("call", "new"):
        if name not in st.ns:
            _reply(
                {
                    "ok": False,
                    "kind": "missing",
                    "message": f"{name} is not defined in the submission",
                }
            )
            return
        fn = st.ns[name]
        if op == "new":
            req = dict(req, keep_all=True)
        _run(st, fn, list(args), dict(kwargs), req, passed)
        return
    if op == "method":
        obj = st.get(req["ref"])
        fn = getattr(obj, name)
        _run(st, fn, list(args), dict(kwargs), req, passed)
        return
    if op == "getattr":
        obj = st.get(req["ref"]) if req.get("ref") is not None else st.module
        _run(st, lambda: getattr(obj, name), [], {}, req)
        return
    if op == "setattr":
        obj = st.get(req["ref"])
        setattr(obj, name, args[0])
        _reply({"ok": True, "value": None})
        return
    raise _ProtocolError(f"unknown op {op!r}")


def _undumpable() -> None:
    """Other workers (same uid, no capabilities) cannot ptrace or read this one."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


def main() -> None:
    _undumpable()
    st = _State()
    reader = wire.FrameReader()
    _reply({"ok": True, "ready": True, "pid": os.getpid()})
    while True:
        try:
            req, bufs = wire.read_frame(_REQ, reader)
        except EOFError:
            _os_exit(0)
        try:
            _handle(st, req, bufs)
        except _BadReturn as e:
            _reply({"ok": False, "kind": "bad_return", "message": _short(str(e))})
        except _ProtocolError as e:
            _reply({"ok": False, "kind": "bad_return", "message": _short(f"protocol: {e}")})
        except SystemExit as e:
            _reply(
                {
                    "ok": False,
                    "kind": "crashed",
                    "message": f"called sys.exit({e.code!r})",
                    "fatal": True,
                }
            )
            _os_exit(0)
        except Exception as e:  # noqa: BLE001 - the student's exception, reported
            _reply(
                {
                    "ok": False,
                    "kind": "exception",
                    "message": _exc_message(e),
                    "types": _exc_types(e),
                    "where": _student_trace(e),
                }
            )
        except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt & co: fatal
            _reply(
                {
                    "ok": False,
                    "kind": "exception",
                    "message": _exc_message(e),
                    "types": _exc_types(e),
                    "fatal": True,
                }
            )
            _os_exit(0)


if __name__ == "__main__":
    main()
