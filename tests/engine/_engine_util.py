"""Helpers of the engine tests: write a submission, start a real worker, scan /proc."""

from __future__ import annotations

import textwrap
from pathlib import Path

from nnkit.loader import load_submission
from nnkit.sandbox import Limits, Worker
from nnkit.sandbox.client import group_processes


def write(tmp: Path, code: str, name: str = "sub.py") -> Path:
    p = tmp / name
    p.write_text(textwrap.dedent(code), encoding="utf-8")
    return p


def worker_for(tmp: Path, code: str, timeout: float = 2.0, **limits: object) -> Worker:
    return Worker(load_submission(write(tmp, code)), timeout=timeout, limits=Limits(**limits))


def leftovers(pid: int) -> list[int]:
    """Live processes in the group/session of a (former) worker pid, or below it."""
    return group_processes(pid, pid)
