"""Trusted side of the sandbox: :class:`Worker` runs student code in a child process.

The child is ``python -S -s -P`` (no site; the environment is entirely ours and minimal --
like ``-I`` but keeping PYTHONHASHSEED=0 for reproducible set/dict-of-str orders) with an
explicit ``sys.path``: the stdlib, a private directory exposing only numpy and
nnlib, the runtime directory holding the worker program, and its temporary working
directory (a copy of the submission). ``reference``, ``grading_tests`` and ``nnkit`` are not
importable there. Requests and replies travel over two dedicated pipes in the data-only
format of :mod:`nnkit.sandbox.protocol`; the child's stdout/stderr is a third pipe that the
trusted side drains and caps. Nothing the child sends is ever unpickled.

A call that hangs, crashes, exits, raises a BaseException, floods its output or sends an
undecodable reply raises :class:`StudentError` and kills the child's whole process group
(and any descendant); the next call starts a fresh child and reloads the definitions.
An ordinary exception raised by student code also raises StudentError("exception") but
keeps the (healthy) worker.
"""

from __future__ import annotations

import atexit
import compileall
import contextlib
import hashlib
import importlib.util
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnkit.loader import LoadProblem, Source, Submission, read_bytes
from nnkit.sandbox import jail, protocol
from nnkit.sandbox.limits import Limits, protect_grader
from nnkit.sandbox.protocol import FrameReader, ProtocolError, Ref

#: display-only modules a worker does not provide; failing imports of them are not reported
QUIET_MISSING = ("matplotlib", "IPython", "seaborn", "tqdm", "ipywidgets", "PIL")
_STUDENT_OPS = frozenset({"call", "new", "method", "getattr", "setattr", "exec"})
KINDS = ("missing", "exception", "timeout", "crashed", "bad_return", "output_flood")


class StudentError(Exception):
    """A student call that failed; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, message: str, types: Sequence[str] = (), where: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.types = tuple(types)  # exception class names (MRO), for kind == "exception"
        self.where = where  # last student frames, "file:line in func; ..."

    def __str__(self) -> str:
        return self.message

    def raised(self, exc_name: str) -> bool:
        """Whether the student raised ``exc_name`` (or a subclass), e.g. "ValueError"."""
        return self.kind == "exception" and exc_name in self.types


@dataclass
class Reply:
    """The decoded result of a call."""

    value: Any = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    output: str = ""


# ---------------------------------------------------------------- runtime directory

_RUNTIME: Path | None = None


def _build_runtime(root: Path) -> None:
    here = Path(__file__).resolve().parent
    rt = root / "runtime"
    rt.mkdir()
    for name, copy in RUNTIME_FILES.items():
        shutil.copyfile(here / name, rt / copy)
    pkgs = root / "pkgs"
    pkgs.mkdir()
    np_dir, libs, nnlib_dir = _exposed()
    (pkgs / "numpy").symlink_to(np_dir)
    if libs is not None:
        (pkgs / "numpy.libs").symlink_to(libs)
    landlock = importlib.util.find_spec("py_landlock")
    if landlock is not None and landlock.submodule_search_locations:
        (pkgs / "py_landlock").symlink_to(list(landlock.submodule_search_locations)[0])
    _matplotlib_cache(root / "mpl")
    if nnlib_dir is not None:  # a real copy: its file links point into the kit
        shutil.copytree(nnlib_dir, pkgs / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    # bytecode of the modules copied here: a sandbox sees them read-only and would compile
    # them again at every start (linked directories such as numpy are skipped)
    compileall.compile_dir(root, quiet=1)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            if not os.path.islink(os.path.join(dirpath, d)):
                os.chmod(os.path.join(dirpath, d), 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, 0o644)  # readable by the sandbox's uid, whatever the umask
    root.chmod(0o755)


def _matplotlib_cache(dest: Path) -> None:
    """The grader's matplotlib font list, so a notebook sandbox need not rebuild it."""
    dest.mkdir()
    try:
        import matplotlib

        for f in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copyfile(f, dest / f.name)
    except Exception:  # noqa: BLE001 - no matplotlib, no cache: it is only an optimisation
        pass


#: kit modules copied into the runtime directory, under the names the sandbox imports them by
RUNTIME_FILES = {
    "worker.py": "nnkit_worker.py",
    "protocol.py": "nnkit_wire.py",
    "inside.py": "nnkit_inside.py",
    "nbrun.py": "nnkit_nbrun.py",
    "zygote.py": "nnkit_zygote.py",
}


def _exposed() -> tuple[Path, Path | None, Path | None]:
    """The numpy package dir, numpy.libs (if any) and the nnlib package dir (if any)."""
    import numpy

    np_dir = Path(numpy.__file__).resolve().parent
    libs = np_dir.parent / "numpy.libs"
    spec = importlib.util.find_spec("nnlib")
    nnlib_dir = None
    if spec is not None and spec.submodule_search_locations:
        nnlib_dir = Path(list(spec.submodule_search_locations)[0]).resolve()
    return np_dir, libs if libs.exists() else None, nnlib_dir


def _runtime_key() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(b"layout 3: mpl, pyc")  # what _build_runtime puts there
    for f in RUNTIME_FILES:
        h.update((here / f).read_bytes())
    exposed = _exposed()
    h.update(repr(exposed).encode())
    if exposed[2] is not None:
        for f in sorted(exposed[2].rglob("*.py")):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _trusted_dir(path: Path) -> bool:
    """Ours, not writable by others, not a symlink (safe to reuse from /tmp)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _world_readable(path: Path) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_mode & 0o004 != 0


def runtime_dir() -> Path:
    """A private directory: the worker program, the wire module, and pkgs/ (numpy, nnlib).

    Content-addressed and shared by every grading process of this user (a process pool
    that ends with os._exit leaves nothing new behind); rebuilt if anything looks wrong.
    """
    global _RUNTIME
    if _RUNTIME is not None and _RUNTIME.exists():
        return _RUNTIME
    base = Path(tempfile.gettempdir())
    final = base / f"nnkit-runtime-{os.getuid()}-{_runtime_key()}"
    ok = (
        _trusted_dir(final)
        and _world_readable(final / "runtime" / "nnkit_worker.py")
        and (final / "pkgs" / "numpy").exists()
    )
    if not ok:
        tmp = Path(tempfile.mkdtemp(prefix="nnkit-runtime-build-"))
        _build_runtime(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process won the race, or a stale/foreign entry
            if _trusted_dir(final) and (final / "runtime" / "nnkit_worker.py").is_file():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                final = tmp  # a private one for this process
                atexit.register(shutil.rmtree, tmp, True)
    _RUNTIME = final
    return final


# ---------------------------------------------------------------- process helpers


def _proc_table() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (ppid, pgrp, session, state) for every live process."""
    out: dict[int, tuple[int, int, int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read().decode("ascii", "replace")
        except OSError:
            continue
        rest = data.rpartition(")")[2].split()
        if len(rest) < 4:
            continue
        out[int(name)] = (int(rest[1]), int(rest[2]), int(rest[3]), rest[0])
    return out


def group_processes(pgid: int, root_pid: int | None = None) -> list[int]:
    """Live (non-zombie) processes in the group/session ``pgid`` or below ``root_pid``."""
    table = _proc_table()
    found = {pid for pid, (_, pg, sid, st) in table.items() if st != "Z" and pgid in (pg, sid)}
    if root_pid is not None:
        children: dict[int, list[int]] = {}
        for pid, (ppid, *_rest) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = [root_pid]
        while stack:
            p = stack.pop()
            for c in children.get(p, []):
                if table[c][3] != "Z" and c not in found:
                    found.add(c)
                stack.append(c)
    found.discard(os.getpid())
    return sorted(found)


def kill_tree(pgid: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGKILL a process group, its session and every descendant, until none is left."""
    root = proc.pid if proc is not None else pgid
    for _ in range(200):
        pids = group_processes(pgid, root)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)
        if not pids:
            break
        time.sleep(0.005)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# ---------------------------------------------------------------- the worker


class _Child:
    """One running worker process (inside its sandbox) and its pipes."""

    def __init__(self, program: list[str], workdir: Path, limits: Limits, runtime: Path) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        self.cgroup = None
        try:
            iso = jail.isolation.require()
            box = jail.prepare(
                [*program[:1], *program[1:5], str(req_r), str(rep_w), *program[5:]],
                runtime=runtime,
                submission=workdir if iso.namespaces else None,
                scratch_host=workdir,
                limits=limits,
            )
            self.cgroup = box.cgroup
            self.scratch = box.scratch
            self.proc = jail.launch(
                box,
                limits,
                pass_fds=(req_r, rep_w),
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
            )
        except BaseException as e:
            if self.cgroup is not None:
                self.cgroup.remove()
            os.close(out_w)
            os.set_blocking(out_r, False)
            said = ""
            with contextlib.suppress(OSError):
                said = os.read(out_r, 4096).decode("utf-8", "replace").strip()
            for fd in (req_r, rep_w, req_w, rep_r, out_r):
                os.close(fd)
            if isinstance(e, OSError | subprocess.SubprocessError):
                raise RuntimeError(f"the sandbox worker could not be started: {said or e}") from e
            raise
        for fd in (req_r, rep_w, out_w):
            os.close(fd)
        self.req, self.rep, self.out = req_w, rep_r, out_r
        for fd in (self.req, self.rep, self.out):
            os.set_blocking(fd, False)
        self.poller = select.poll()  # one per child: a selector per exchange cost ~0.1 ms
        self.poller.register(self.rep, select.POLLIN)
        self.poller.register(self.out, select.POLLIN)
        self.reader = FrameReader()
        self.pid = self.proc.pid
        self.jailed = iso.namespaces
        self.closed = False
        self._pids: list[int] | None = None

    def kill(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.cgroup is not None:
            self.cgroup.kill_all()
        kill_tree(self.pid, self.proc)
        if self.cgroup is not None:
            self.cgroup.remove()
        for fd in (self.req, self.rep, self.out):
            with contextlib.suppress(OSError):
                os.close(fd)

    def processes(self) -> list[int]:
        """The sandbox's own processes (the worker and whatever it started), not bwrap's."""
        return [p for p in group_processes(self.pid, self.pid) if _comm(p) != "bwrap"]

    def extra_processes(self, reported: Any = None) -> bool:
        """Whether anything besides the worker itself runs in its sandbox (forks, spawns).

        In a pid namespace of its own the worker counts them (``reported``, from its own
        /proc: a few reads instead of a scan of the host's); a worker that lies only keeps
        its own processes, which die with the namespace. Otherwise the grader scans /proc.
        """
        if self.jailed and isinstance(reported, int) and not isinstance(reported, bool):
            if reported >= 0:
                return reported > 0
        return len(self.processes()) > 1

    def cpu_seconds(self) -> float:
        """CPU time of the worker's processes as found at the first call (RLIMIT_CPU is per
        process; anything it starts later is caught by :meth:`extra_processes`)."""
        if self._pids is None:
            self._pids = self.processes()
        total = 0.0
        for pid in self._pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    rest = f.read().decode().rpartition(")")[2].split()
                total += (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                continue
        return total


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().decode("ascii", "replace").strip()
    except OSError:
        return ""


class Worker:
    """A sandboxed worker holding one submission's definitions.

    ``sources`` is a :class:`~nnkit.loader.Submission` (preferred: its files are copied into
    the working directory and its sibling-module aliases registered) or a list of
    :class:`~nnkit.loader.Source`.
    """

    def __init__(
        self,
        sources: Submission | Sequence[Source],
        timeout: float = 5.0,
        limits: Limits | None = None,
        load_timeout: float = 20.0,
        startup_timeout: float = 60.0,
    ) -> None:
        if isinstance(sources, Submission):
            self.submission: Submission | None = sources
            self.sources = list(sources.sources)
            self.aliases = list(sources.aliases)
            self.package = sources.package
            self.files = list(sources.files)
            self.load_problems: list[LoadProblem] = list(sources.problems)
        else:
            self.submission = None
            self.sources = list(sources)
            self.aliases, self.package, self.files = [], None, []
            self.load_problems = []
        self.timeout = float(timeout)
        self.limits = limits or Limits()
        self.load_timeout = load_timeout
        self.startup_timeout = startup_timeout
        self.generation = 0
        self.restarts = 0
        self._child: _Child | None = None
        self._cwd: Path | None = None
        self._bad_sources: set[int] = set()
        self._reported: set[int] = set()
        self._pending_drop: list[int] = []
        self._pending_seed: int | None = None
        self._defined: set[tuple[int, str]] = set()  # (generation, name) answered True
        self._closed = False
        self._last_output = ""

    # ------------------------------------------------------------ lifecycle

    def _workdir(self) -> Path:
        """The submission's files, copied (regular files only) into a fresh private dir."""
        if self._cwd is None or not self._cwd.exists():
            self._cwd = Path(tempfile.mkdtemp(prefix="nnkit-work-"))
            self._cwd.chmod(0o755)
            for f in self.files:
                with contextlib.suppress(OSError):  # regular files only, links not followed
                    (self._cwd / f.name).write_bytes(read_bytes(f))
                    (self._cwd / f.name).chmod(0o644)
        return self._cwd

    def start(self) -> None:
        """Start the child (if needed) and load the definitions."""
        if self._closed:
            raise RuntimeError("worker is closed")
        while self._child is None:
            self._spawn()
            if self._load():
                return

    def _spawn(self) -> None:
        rt = runtime_dir()
        cwd = self._workdir()
        protect_grader()
        cmd = [
            os.path.realpath(sys.executable),
            "-S",  # no site: the environment's .pth files and finders never run
            "-s",  # no user site
            "-P",  # no script/cwd dir prepended; sys.path is set explicitly
            str(rt / "runtime" / "nnkit_worker.py"),
            str(rt / "pkgs"),
            str(rt / "runtime"),
        ]
        self._child = _Child(cmd, cwd, self.limits, rt)
        self.generation += 1
        self._pending_drop = []
        try:
            hdr, _ = self._exchange(None, [], self.startup_timeout)
        except StudentError as e:
            self._kill()
            raise RuntimeError(f"the sandbox worker did not start: {e}") from None
        if not hdr.get("ready"):
            self._kill()
            raise RuntimeError("the sandbox worker did not start")
        self._request({"op": "init", "aliases": self.aliases, "package": self.package})

    def _load(self) -> bool:
        """Execute every definition; False if the child died (and was killed) meanwhile."""
        for i, src in enumerate(self.sources):
            if i in self._bad_sources:
                continue
            try:
                self._request(
                    {
                        "op": "exec",
                        "code": src.code,
                        "filename": src.filename,
                        "lineno": src.lineno,
                    },
                    timeout=self.load_timeout,
                )
            except StudentError as e:
                quiet = e.kind == "exception" and any(
                    e.message.startswith(f"ModuleNotFoundError: No module named '{m}")
                    for m in QUIET_MISSING
                )
                if i not in self._reported and not quiet:
                    self._reported.add(i)
                    self.load_problems.append(
                        LoadProblem(src.origin, f"{e.kind}: {e}", tuple(src.names))
                    )
                if self._child is None:  # fatal: skip this statement from now on
                    self._bad_sources.add(i)
                    return False
        return True

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None
            self.restarts += 1

    def close(self) -> None:
        """Kill the child and remove the working directory."""
        if self._child is not None:
            self._child.kill()
            self._child = None
        self._closed = True
        if self._cwd is not None:
            shutil.rmtree(self._cwd, ignore_errors=True)
            self._cwd = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    @property
    def pid(self) -> int | None:
        """The current child's pid (= its process group id), if running."""
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self._child is not None

    def recycle_if_needed(self) -> bool:
        """Restart the child between tests when it used half of its CPU-time budget."""
        if self._child is not None and self._child.cpu_seconds() > self.limits.cpu_seconds / 2:
            self._kill()
            return True
        return False

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Temporarily use another per-call timeout."""
        old = self.timeout
        self.timeout = float(seconds)
        try:
            yield
        finally:
            self.timeout = old

    # ------------------------------------------------------------ transport

    def _exchange(
        self, header: dict[str, Any] | None, buffers: list[bytes], timeout: float
    ) -> tuple[dict[str, Any], list[bytearray]]:
        """Send one frame (unless None) and wait for the reply, enforcing every limit."""
        child = self._child
        assert child is not None
        out_cap = self.limits.output_bytes
        out_buf = bytearray()
        out_total = 0
        pending = memoryview(protocol.pack(header, buffers)) if header is not None else None
        deadline = time.monotonic() + timeout
        poller = child.poller
        writing = False
        try:
            while True:
                if pending is not None:  # most requests fit the pipe: written before polling
                    try:
                        pending = pending[os.write(child.req, pending[: 1 << 20]) :] or None
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:
                        pending = None
                    if (pending is not None) != writing:
                        writing = pending is not None
                        if writing:
                            poller.register(child.req, select.POLLOUT)
                        else:
                            poller.unregister(child.req)
                try:
                    frame = child.reader.next()
                except ProtocolError as e:
                    self._kill()
                    raise StudentError("bad_return", f"unreadable reply: {e}") from None
                if frame is not None:
                    self._last_output = out_buf.decode("utf-8", "replace")
                    return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    self._kill()
                    raise StudentError("timeout", f"timed out after {timeout:.1f} s")
                for fd, _ in poller.poll(min(left, 1.0) * 1000):
                    if fd == child.out:
                        try:
                            chunk = os.read(child.out, 1 << 16)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            poller.unregister(child.out)
                            continue
                        out_total += len(chunk)
                        if len(out_buf) < 8192:
                            out_buf += chunk[: 8192 - len(out_buf)]
                        if out_total > out_cap:
                            self._kill()
                            raise StudentError(
                                "output_flood",
                                f"printed more than {out_cap // 1024} KiB of output",
                            )
                    elif fd == child.rep:
                        try:
                            chunk = os.read(child.rep, 1 << 20)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            self._died()
                        child.reader.feed(chunk)
                        if len(child.reader.buf) > protocol.MAX_FRAME_BYTES:
                            self._kill()
                            raise StudentError("bad_return", "reply too large")
        finally:
            if writing and not child.closed:
                poller.unregister(child.req)

    def _died(self) -> None:
        child = self._child
        assert child is not None
        try:
            code = child.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        self._kill()
        if code is not None and child.jailed and 128 < code <= 128 + 64:
            code = 128 - code  # bwrap reports a signal as 128 + its number
        if code is None:
            msg = "worker closed its reply channel"
        elif code < 0:
            msg = f"worker crashed (signal {-code}, {_signal_name(-code)})"
        else:
            msg = f"worker exited with status {code}"
        raise StudentError("crashed", msg)

    def _request(
        self,
        header: dict[str, Any],
        buffers: list[bytes] | None = None,
        timeout: float | None = None,
    ) -> tuple[dict[str, Any], list[bytearray]]:
        if self._child is None:
            self.start()
        if self._pending_drop:
            header = dict(header, drop=self._pending_drop)
            self._pending_drop = []
        if self._pending_seed is not None and header.get("op") not in ("init", "exec"):
            header = dict(header, seed=self._pending_seed)
            self._pending_seed = None
        hdr, bufs = self._exchange(header, buffers or [], timeout or self.timeout)
        if header.get("op") in _STUDENT_OPS and self._child.extra_processes(hdr.get("procs")):
            self._kill()
            raise StudentError(
                "crashed", "left processes running after the call (all killed, worker replaced)"
            )
        if not hdr.get("ok"):
            kind = hdr.get("kind")
            kind = kind if kind in KINDS else "bad_return"
            message = str(hdr.get("message", ""))[:2000]
            types = [str(t) for t in hdr.get("types", []) if isinstance(t, str)][:20]
            where = str(hdr.get("where", ""))[:1000]
            if hdr.get("fatal") or kind not in ("exception", "missing", "bad_return"):
                self._kill()
            raise StudentError(kind, message, types, where)
        return hdr, bufs

    # ------------------------------------------------------------ values

    def _encode_args(self, args: Any) -> tuple[Any, list[bytes]]:
        self._check_refs(args)
        try:
            return protocol.encode(args)
        except ProtocolError as e:
            raise TypeError(f"cannot send to the worker: {e}") from None

    def _check_refs(self, v: Any) -> None:
        if isinstance(v, Ref):
            if v.generation != self.generation or self._child is None:
                raise StudentError(
                    "crashed",
                    "object lost: the worker was restarted after an earlier failure",
                )
        elif isinstance(v, list | tuple):
            for x in v:
                self._check_refs(x)
        elif isinstance(v, dict):
            for x in v.values():
                self._check_refs(x)

    def _make_ref(self, rid: int) -> Ref:
        ref = Ref(rid, self.generation)
        gen = self.generation
        drop = self._pending_drop

        def _release(rid: int = rid) -> None:
            if self.generation == gen and self._pending_drop is drop:
                drop.append(rid)

        weakref.finalize(ref, _release)
        return ref

    def _decode(self, tree: Any, bufs: list[bytearray]) -> Any:
        try:
            return protocol.decode(tree, bufs, self._make_ref)
        except (ProtocolError, RecursionError, ValueError, TypeError) as e:
            self._kill()
            raise StudentError("bad_return", f"returned something that is not data ({e})") from None

    def _invoke(
        self, header: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any], echo: bool
    ) -> Reply:
        if self._child is None:
            self.start()
        tree, bufs = self._encode_args([list(args), kwargs])
        header = dict(header, args=tree["v"][0], kwargs=tree["v"][1], echo=bool(echo))
        hdr, rbufs = self._request(header, bufs)
        reply = Reply(output=self._last_output)
        reply.value = self._decode(hdr.get("value"), rbufs)
        reply.warnings = [str(w) for w in hdr.get("warnings", []) if isinstance(w, str)][:20]
        if echo:
            ech = self._decode(hdr.get("echo"), rbufs)
            if not (isinstance(ech, list) and len(ech) == 2 and isinstance(ech[1], dict)):
                self._kill()
                raise StudentError("bad_return", "malformed argument echo")
            reply.args, reply.kwargs = list(ech[0]), ech[1]
        return reply

    # ------------------------------------------------------------ public ops

    def call(
        self,
        name: str,
        *args: Any,
        keep: Sequence[int] = (),
        echo_args: bool = False,
        opaque: bool = False,
        **kwargs: Any,
    ) -> Reply:
        """Call the submission's function ``name``.

        ``keep``: indices of a tuple (or list) result kept in the worker as Refs (a cache);
        ``opaque``: any other object of the result that is not data comes back as a Ref
        instead of failing the call (something the API lets the student choose, e.g. extra
        entries of a config dict). Refs passed in come back as Refs in the argument echo,
        never decoded.
        """
        header = {"op": "call", "name": name, "keep": list(keep), "opaque": bool(opaque)}
        return self._invoke(header, args, kwargs, echo_args)

    def new(self, cls_name: str, *args: Any, **kwargs: Any) -> Ref:
        """Construct a student object; it stays in the worker."""
        value = self._invoke({"op": "new", "name": cls_name}, args, kwargs, False).value
        assert isinstance(value, Ref)
        return value

    def method(
        self,
        ref: Ref,
        name: str,
        *args: Any,
        keep: Sequence[int] = (),
        echo_args: bool = False,
        opaque: bool = False,
        **kwargs: Any,
    ) -> Reply:
        """Call ``ref.name(*args, **kwargs)`` in the worker (``keep``/``opaque`` as for
        :meth:`call`)."""
        self._check_refs(ref)
        header = {
            "op": "method",
            "ref": ref.id,
            "name": name,
            "keep": list(keep),
            "opaque": bool(opaque),
        }
        return self._invoke(header, args, kwargs, echo_args)

    def getattr(self, ref: Ref | None, attr: str) -> Any:
        """Read an attribute of a worker object (``None``: a module-level name)."""
        if ref is not None:
            self._check_refs(ref)
        return self._invoke(
            {"op": "getattr", "ref": None if ref is None else ref.id, "name": attr},
            (),
            {},
            False,
        ).value

    def setattr(self, ref: Ref, attr: str, value: Any) -> None:
        """Set an attribute of a worker object (e.g. ``params``)."""
        self._check_refs(ref)
        self._invoke({"op": "setattr", "ref": ref.id, "name": attr}, (value,), {}, False)

    def seed(self, s: int) -> None:
        """``np.random.seed(s)`` (and ``random.seed``) in the worker, right before the next
        request is handled (it travels with that request: no round trip of its own)."""
        self._pending_seed = int(s)

    def has(self, name: str) -> bool:
        """Whether the loaded submission defines ``name``. A yes is remembered for the
        running child (a suite asks before each of its tests); a no is asked again."""
        if self._child is not None and (self.generation, name) in self._defined:
            return True
        hdr, _ = self._request({"op": "has", "name": name})
        if hdr.get("value") is not True:
            return False
        self._defined.add((self.generation, name))
        return True

    def ping(self) -> None:
        """Round trip (starts the worker if needed)."""
        self._request({"op": "ping"})
