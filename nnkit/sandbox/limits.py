"""Resource limits and environment of the sandboxed child process."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import itertools
import os
import resource
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Limits applied to every worker process (and inherited by its children)."""

    memory_mb: int = 2048  # RLIMIT_AS (address space)
    cpu_seconds: int = 600  # RLIMIT_CPU over the worker's life (recycled at half of it)
    processes: int = 32  # tasks: pids cgroup size; RLIMIT_NPROC headroom above the user's
    file_size_mb: int = 16  # RLIMIT_FSIZE
    output_kb: int = 1024  # stdout+stderr per call before "output_flood"
    open_files: int = 256  # RLIMIT_NOFILE
    use_cgroup: bool = True  # a pids cgroup of `processes` tasks when the host allows it
    hide_secrets: bool = True  # cover reference/, grading_tests/, nnkit/, ... (root only)

    @property
    def output_bytes(self) -> int:
        return self.output_kb * 1024


def _user_tasks(uid: int) -> int:
    """Number of tasks (threads count) owned by ``uid`` (RLIMIT_NPROC counts them all)."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as f:
                uid_ok, threads = False, 1
                for line in f:
                    if line.startswith("Uid:"):
                        uid_ok = int(line.split()[1]) == uid
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if uid_ok:
            n += threads
    return n


try:  # loaded now: nothing may be dlopen()ed between fork and exec
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - non-glibc platforms
    _LIBC = None
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAP_VERSION_3 = 0x20080522
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REC, _MS_PRIVATE, _MS_BIND = 0x4000, 1 << 18, 4096
_MNT_DETACH = 2
#: repository folders holding solutions, hidden tests or other students' work
_SECRET_REPO_DIRS = (".git", "source", "tests", "submitted", "autograded", "feedback")


def secret_dirs() -> list[str]:
    """Folders a worker must not read: the kit's packages and the course's secret folders."""
    out: list[Path] = []
    for pkg in ("reference", "grading_tests", "nnkit"):
        spec = importlib.util.find_spec(pkg)
        if spec is not None and spec.submodule_search_locations:
            out.append(Path(list(spec.submodule_search_locations)[0]).resolve())
    roots = {p.parent for p in out}
    for root in roots:
        out += [root / d for d in _SECRET_REPO_DIRS if (root / d).is_dir()]
    return sorted({str(p) for p in out})


_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_counter = itertools.count()


class PidsCgroup:
    """A pids cgroup holding one worker and everything it forks (when the host allows it).

    RLIMIT_NPROC does not bind root; a writable pids controller (cgroup v1 or v2) caps the
    number of tasks of the worker's tree whoever runs the grader, and lists every member for
    the kill, even one that left the session.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_tasks: int) -> PidsCgroup | None:
        for root in _CGROUP_ROOTS:
            if root.name != "pids":
                ctl = root / "cgroup.controllers"
                try:
                    if "pids" not in ctl.read_text().split():
                        continue
                except OSError:
                    continue
            _reap_stale(root)
            path = root / f"nnkit-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_tasks))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None

    def join(self) -> None:
        """Move the calling process into the group (called in the child before exec)."""
        with open(self.path / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))

    def members(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        for _ in range(200):
            pids = self.members()
            if not pids:
                break
            for p in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


def _hide(paths: list[bytes], tmp: bytes | None = None, keep: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """In a private mount namespace (root only): cover ``paths`` with empty read-only tmpfs,
    and give the worker a fresh ``tmp`` holding only ``keep`` (its runtime dir and cwd), so
    concurrent workers of other students are out of sight."""
    libc = _LIBC
    if libc is None or os.geteuid() != 0:
        return
    if libc.unshare(_CLONE_NEWNS) != 0:
        return
    # only once nothing can propagate back to the grader's namespace
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return
    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for p in paths:
        libc.mount(b"tmpfs", p, b"tmpfs", flags, b"size=4k,mode=555")
    if not tmp or not keep:
        return
    fds = [os.open(k, os.O_RDONLY | os.O_DIRECTORY) for k in keep]
    try:
        if libc.mount(b"tmpfs", tmp, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=16m,mode=1777"):
            return
        for k, fd in zip(keep, fds, strict=True):
            os.makedirs(k, exist_ok=True)
            src = f"/proc/self/fd/{fd}".encode()
            if libc.mount(src, k, None, _MS_BIND | _MS_REC, None) != 0:
                libc.umount2(tmp, _MNT_DETACH)  # back to the shared /tmp rather than broken
                return
    finally:
        for fd in fds:
            os.close(fd)


def _reap_stale(root: Path) -> None:
    """Remove groups left by grading processes that died without cleaning up."""
    try:
        entries = list(root.glob("nnkit-*-*"))
    except OSError:
        return
    for d in entries:
        owner = d.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            PidsCgroup(d).remove()


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_privileges() -> None:
    """No capabilities (even as root: no ptrace, no umount, no raising limits), no new privs."""
    libc = _LIBC
    if libc is None:
        return
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.geteuid() != 0:
        return
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    libc.capset(ctypes.byref(header), ctypes.byref(data))


def protect_grader() -> None:
    """Make the grading process non-dumpable: a worker running under the same uid cannot
    ptrace it or read its memory through /proc (idempotent)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def child_preexec(
    limits: Limits, cgroup: PidsCgroup | None = None, keep: tuple[Path, ...] = ()
) -> Callable[[], None]:
    """The ``preexec_fn`` that applies ``limits`` in the child before exec.

    ``keep``: directories under the temp dir the worker needs (its runtime dir, its cwd);
    with ``hide_secrets`` as root, the rest of the temp dir is hidden.
    """
    nproc = _user_tasks(os.getuid()) + limits.processes
    hidden = [p.encode() for p in secret_dirs()] if limits.hide_secrets else []
    tmp_dir = Path(tempfile.gettempdir()).resolve()
    keep_b = [str(k.resolve()).encode() for k in keep]
    private_tmp = (
        limits.hide_secrets
        and bool(keep)
        and all(k.resolve().parent == tmp_dir for k in keep)
        and tmp_dir != Path("/")
    )
    tmp_b = str(tmp_dir).encode() if private_tmp else None

    def apply() -> None:
        if cgroup is not None:
            cgroup.join()
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _hide(hidden, tmp_b, keep_b if private_tmp else [])

        def lim(which: int, value: int) -> None:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                soft, hard = resource.getrlimit(which)
                if hard != resource.RLIM_INFINITY:
                    resource.setrlimit(which, (min(value, hard), hard))

        lim(resource.RLIMIT_AS, limits.memory_mb * _MB)
        lim(resource.RLIMIT_CPU, limits.cpu_seconds)
        lim(resource.RLIMIT_FSIZE, limits.file_size_mb * _MB)
        lim(resource.RLIMIT_CORE, 0)
        lim(resource.RLIMIT_NOFILE, limits.open_files)
        # root is exempt from RLIMIT_NPROC; the kill of the whole group still applies
        lim(resource.RLIMIT_NPROC, nproc)
        _drop_privileges()

    return apply


def clean_env(cwd: Path) -> dict[str, str]:
    """A minimal environment: no PYTHON*, no credentials, single-threaded BLAS."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(cwd),
        "TMPDIR": str(cwd),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",  # reproducible str hashing (results identical run to run)
    }
