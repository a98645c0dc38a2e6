"""Resource limits and environment of the sandboxed child process."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import resource
import signal
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
    scratch_mb: int = 256  # the one writable directory (a tmpfs of this size with namespaces)
    #: as root, the sandbox runs as this uid/gid with no groups and no capabilities; -1 (the
    #: default): a uid of its own, ``uid_base`` + the grading process's pid, so concurrent
    #: sandboxes never share one; None keeps root (for tests of the kit only)
    uid: int | None = -1
    gid: int = -1
    uid_base: int = 1_000_000

    @property
    def output_bytes(self) -> int:
        return self.output_kb * 1024

    def run_as(self) -> tuple[int, int] | None:
        """As root: the (uid, gid) the sandbox becomes; None when not root (or ``uid`` None)."""
        if self.uid is None or os.geteuid() != 0:
            return None
        if self.uid < 0:
            uid = self.uid_base + os.getpid()
            return uid, uid
        return self.uid, (self.uid if self.gid < 0 else self.gid)


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
_PR_SET_NO_NEW_PRIVS = 38
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


def protect_grader() -> None:
    """Make the grading process non-dumpable: a worker running under the same uid cannot
    ptrace it or read its memory through /proc (idempotent)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def child_preexec(limits: Limits, cgroup: PidsCgroup | None = None) -> Callable[[], None]:
    """The ``preexec_fn`` of a sandbox: cgroup, death signal, no new privileges, rlimits.

    Namespaces, the uid switch and Landlock come after exec (bwrap, then the program's own
    first step, :mod:`nnkit.sandbox.inside`); as root nothing is dropped here because bwrap
    needs root to build the namespaces.
    """
    run_as = limits.run_as()
    uid = run_as[0] if run_as is not None else os.getuid()
    # RLIMIT_NPROC counts every task of the uid (root is exempt from it)
    nproc = _user_tasks(uid) + limits.processes

    def apply() -> None:
        if cgroup is not None:
            cgroup.join()
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)

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
        lim(resource.RLIMIT_NPROC, nproc)

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
