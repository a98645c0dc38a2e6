"""Resource limits and environment of the sandboxed child process."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Limits applied to every worker process (and inherited by its children)."""

    memory_mb: int = 2048  # RLIMIT_AS (address space)
    cpu_seconds: int = 600  # RLIMIT_CPU over the worker's life (recycled at half of it)
    processes: int = 32  # RLIMIT_NPROC headroom above the user's current task count
    file_size_mb: int = 16  # RLIMIT_FSIZE
    output_kb: int = 1024  # stdout+stderr per call before "output_flood"
    open_files: int = 256  # RLIMIT_NOFILE

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


def child_preexec(limits: Limits) -> Callable[[], None]:
    """The ``preexec_fn`` that applies ``limits`` in the child before exec."""
    nproc = _user_tasks(os.getuid()) + limits.processes

    def apply() -> None:
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
    }
