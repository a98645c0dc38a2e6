"""Resource limits and environment of the sandboxed child process."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import itertools
import os
import resource
import signal
import sys
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
    #: as root, the worker runs as this uid/gid (no supplementary groups) once the setup that
    #: needs root is done; None keeps the grader's uid (capabilities are dropped either way)
    uid: int | None = 65534  # nobody
    gid: int = 65534  # nogroup

    @property
    def output_bytes(self) -> int:
        return self.output_kb * 1024

    def run_as(self) -> tuple[int, int] | None:
        """The (uid, gid) the worker switches to, or None (not root, or ``uid`` None)."""
        if self.uid is None or os.geteuid() != 0:
            return None
        return self.uid, self.gid


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


def _private_mounts() -> bool:
    """Enter a private mount namespace (root only); False if the host does not allow it."""
    libc = _LIBC
    if libc is None or os.geteuid() != 0:
        return False
    if libc.unshare(_CLONE_NEWNS) != 0:
        return False
    # only once nothing can propagate back to the grader's namespace
    return libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) == 0


def _bind_into(target: bytes, binds: list[bytes], options: bytes) -> bool:
    """Mount a fresh tmpfs on ``target`` and bind each of ``binds`` (paths below it) back
    at its own place; the fds are opened first, while the paths are still visible."""
    libc = _LIBC
    assert libc is not None
    fds = [os.open(b, os.O_RDONLY | os.O_DIRECTORY) for b in binds]
    old_umask = os.umask(0o022)  # directories created in the tmpfs: root-owned, 0755
    try:
        if libc.mount(b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV, options) != 0:
            return False
        for b, fd in zip(binds, fds, strict=True):
            os.makedirs(b, exist_ok=True)
            if libc.mount(f"/proc/self/fd/{fd}".encode(), b, None, _MS_BIND | _MS_REC, None):
                libc.umount2(target, _MNT_DETACH)
                return False
        return True
    finally:
        os.umask(old_umask)
        for fd in fds:
            os.close(fd)


def _hide(paths: list[bytes], tmp: bytes | None = None, keep: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """In the private mount namespace: cover ``paths`` with empty read-only tmpfs, and give
    the worker a fresh ``tmp`` holding only ``keep`` (its runtime dir and cwd), so
    concurrent workers of other students are out of sight."""
    libc = _LIBC
    assert libc is not None
    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    for p in paths:
        libc.mount(b"tmpfs", p, b"tmpfs", flags, b"size=4k,mode=555")
    if tmp and keep:
        # on failure the worker keeps the shared /tmp rather than a broken one
        _bind_into(tmp, keep, b"size=16m,mode=1777")


def worker_paths(keep: tuple[Path, ...] = ()) -> list[str]:
    """Directories a worker reads: the interpreter's installation, numpy (+ numpy.libs),
    nnlib, and ``keep`` (its runtime dir and cwd), as real paths."""
    import sysconfig

    out = [sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    out += [os.path.dirname(os.__file__), sysconfig.get_config_var("LIBDIR") or ""]
    spec = importlib.util.find_spec("numpy")
    if spec is not None and spec.origin:
        np_dir = Path(spec.origin).resolve().parent
        out += [str(np_dir), str(np_dir.parent / "numpy.libs")]
    spec = importlib.util.find_spec("nnlib")
    if spec is not None and spec.submodule_search_locations:
        out.append(list(spec.submodule_search_locations)[0])
    out += [str(k) for k in keep]
    return sorted({os.path.realpath(p) for p in out if p and os.path.isdir(p)})


def _allowed(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """Whether uid/gid (no supplementary groups, no capabilities) has ``bits`` (r=4, x=1)."""
    if st.st_uid == uid:
        mode = st.st_mode >> 6
    elif st.st_gid == gid:
        mode = st.st_mode >> 3
    else:
        mode = st.st_mode
    return mode & bits == bits


def _blocked(path: str, uid: int, gid: int) -> list[str]:
    """The directories on the way to ``path`` (a real path; itself included, needing r+x)
    that uid/gid cannot enter."""
    out = []
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        d = os.path.join(*parts[:i])
        bits = 5 if i == len(parts) else 1
        if not _allowed(os.stat(d), uid, gid, bits):
            out.append(d)
    return out


def exposure_plan(paths: list[str], uid: int, gid: int) -> list[tuple[str, list[str]]]:
    """How to make ``paths`` reachable for uid/gid without touching the host's permissions:
    ``[(cover, [path, ...])]`` -- in the worker's mount namespace each ``cover`` (the topmost
    directory it cannot enter, e.g. a 0700 /root holding a pyenv Python) is replaced by an
    empty root-owned tmpfs into which the paths below it are bound back. Raises
    ``PermissionError`` if a path itself (or a directory inside a bound one) is unreadable."""
    covers: dict[str, list[str]] = {}
    bound: list[str] = []
    for p in sorted(paths, key=len):
        blocked = _blocked(p, uid, gid)
        if not blocked:
            continue
        inside = [q for q in bound if p.startswith(q + "/")]
        if inside:
            blocked = [b for b in blocked if len(b) > len(inside[0])]
            if not blocked:
                continue
        if inside or blocked[0] == p:
            raise PermissionError(
                f"the sandbox worker (uid {uid}, gid {gid}) cannot read {blocked[-1]}: "
                "make it readable, or set Limits(uid=None) to keep the grader's uid"
            )
        covers.setdefault(blocked[0], []).append(p)
        bound.append(p)
    return sorted(covers.items())


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


def _drop_privileges(run_as: tuple[int, int] | None) -> None:
    """No capabilities (even as root: no ptrace, no umount, no raising limits), no new privs;
    as root with ``run_as``: that uid/gid and no supplementary groups."""
    libc = _LIBC
    if libc is None:
        return
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if os.geteuid() != 0:
        return
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    if run_as is not None:
        uid, gid = run_as
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # clears every capability (uid 0 nowhere any more)
        if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3 or os.getgroups():
            raise PermissionError("could not switch to the sandbox user")
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    libc.capset(ctypes.byref(header), ctypes.byref(data))


def _setup_failed(message: str) -> None:
    """In the child before exec: say why on its output pipe (read by the trusted side)."""
    with contextlib.suppress(OSError):
        os.write(2, f"nnkit sandbox: {message}\n".encode())
    raise OSError(message)


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
    with ``hide_secrets`` as root, the rest of the temp dir is hidden. As root (and
    ``limits.uid`` set), the child ends as that uid/gid after every step that needs root:
    the cgroup, the mount namespace (which also makes a Python installed in a directory that
    uid cannot enter, such as a 0700 /root, reachable), the limits.
    """
    run_as = limits.run_as()
    uid = run_as[0] if run_as is not None else os.getuid()
    # RLIMIT_NPROC counts every task of the uid (root is exempt from it)
    nproc = _user_tasks(uid) + limits.processes
    hidden = [p.encode() for p in secret_dirs()] if limits.hide_secrets else []
    tmp_dir = Path(tempfile.gettempdir()).resolve()
    needed = worker_paths(keep)
    # the private temp dir keeps the worker's own dirs and whatever it reads that lives there
    # (a checkout or virtualenv under /tmp: numpy, nnlib)
    keep_b = [p.encode() for p in needed if Path(p).is_relative_to(tmp_dir)]
    private_tmp = (
        limits.hide_secrets
        and bool(keep)
        and all(k.resolve().parent == tmp_dir for k in keep)
        and tmp_dir != Path("/")
    )
    tmp_b = str(tmp_dir).encode() if private_tmp else None
    plan = exposure_plan(needed, *run_as) if run_as is not None else []
    plan_b = [(c.encode(), [b.encode() for b in bs]) for c, bs in plan]
    as_root = os.geteuid() == 0

    def apply() -> None:
        if cgroup is not None:
            cgroup.join()
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if as_root and (hidden or private_tmp or plan_b):
            private = _private_mounts()
            if plan_b:
                if not private:
                    _setup_failed(
                        f"{plan[0][0]} is closed to uid {uid} and no private mount namespace "
                        "is allowed here; make it readable or set Limits(uid=None)"
                    )
                for cover, binds in plan_b:
                    if not _bind_into(cover, binds, b"size=64k,mode=755"):
                        _setup_failed(f"could not expose {binds[0].decode()} to uid {uid}")
            if private:
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
        lim(resource.RLIMIT_NPROC, nproc)
        _drop_privileges(run_as)
        if _LIBC is not None and run_as is not None:  # a change of uid cleared it
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return apply


def worker_owned(path: Path, limits: Limits) -> None:
    """Give the worker's uid/gid (if it switches to one) ``path`` and the files in it."""
    run_as = limits.run_as()
    if run_as is None:
        return
    for p in [*path.iterdir(), path]:
        os.chown(p, *run_as, follow_symlinks=False)
    path.chmod(0o700)


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
