"""Shared by the suites that run a case as a real non-root user."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys

import pytest

#: The non-root user of those cases (CI creates ``nnkit-ci``; ``NNKIT_TEST_USER`` names another).
NONROOT_USER = os.environ.get("NNKIT_TEST_USER", "nnkit-ci")


def _can_run_python(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    probe = subprocess.run(
        ["runuser", "-u", user, "--", sys.executable, "-c", "import nnkit"],
        capture_output=True,
        cwd="/",
    )
    return probe.returncode == 0


@pytest.fixture
def nonroot_user() -> str | None:
    """Whom a non-root case runs as: None when the tests already run as a normal user, else
    :data:`NONROOT_USER`; skipped without one (a failure under CI, which must provide it)."""
    if os.geteuid() != 0:
        return None
    if _can_run_python(NONROOT_USER):
        return NONROOT_USER
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide the non-root user {NONROOT_USER!r} that can run this Python")
    pytest.skip(f"no user {NONROOT_USER!r} that can run this Python (CI creates it)")
