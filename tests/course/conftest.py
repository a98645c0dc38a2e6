"""One generated course per test session: config, sources and releases in a temporary
directory with its own SQLite gradebook (nbgrader generate_assignment run once each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnkit.course.release import generate, make_course
from nnkit.course.source_notebooks import ASSIGNMENTS


@pytest.fixture(scope="session")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course directory with release/<a>/ generated for every assignment."""
    root = make_course(tmp_path_factory.mktemp("course"))
    for a in ASSIGNMENTS:
        generate(a, root)
    return root
