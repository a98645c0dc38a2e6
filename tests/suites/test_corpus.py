"""The kit's corpus written the way students write: correct submissions get full marks, and
each buggy one loses exactly the API names it breaks (no more, no fewer)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus  # noqa: E402

pytestmark = pytest.mark.suites


def _load_bugs() -> Any:
    name = "nnkit_student_bugs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _corpus.SUBMISSIONS / "student_bugs.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


bugs = _load_bugs()
STYLE_DIRS = [bugs.STUDENTS / s for s in bugs.STYLES] + [_corpus.SUBMISSIONS / "correct_alt"]


def _lost(result: Any) -> set[str]:
    return {t.api_name for t in result.tests if not t.passed}


@pytest.mark.parametrize("student", ["corpus-a", "corpus-b"])
@pytest.mark.parametrize("folder", STYLE_DIRS, ids=lambda p: p.name)
def test_correct_student_styles_get_full_marks(folder: Path, student: str) -> None:
    """Loops, staged graphs, einsum, stride tricks, in-place numpy, float32 paths, caches as
    tuples/dicts/lists/namedtuples/objects holding dtypes and lambdas: no false failure."""
    res = _corpus.grade_on(folder, student)
    failures = [f"{t.name}: {t.output}" for t in res.tests if not t.passed]
    assert failures == []
    assert res.score == res.max_score > 0


def test_the_bug_catalog_applies() -> None:
    assert len(bugs.BUGS) >= 12 and len({b.name for b in bugs.BUGS}) == len(bugs.BUGS)
    for b in bugs.BUGS:
        source = (bugs.STUDENTS / b.style / b.file).read_text(encoding="utf-8")
        assert bugs.apply(b, source) != source


@pytest.mark.parametrize("bug", bugs.BUGS, ids=[b.name for b in bugs.BUGS])
def test_a_bug_loses_exactly_the_names_it_breaks(bug: Any, tmp_path: Path) -> None:
    folder = bugs.materialize(bug, tmp_path)
    res = _corpus.grade_on(folder, f"bug-{bug.name}")
    assert _lost(res) == set(bug.breaks), bug.why
    for t in res.tests:
        if not t.passed:
            assert t.output and len(t.output) < 600, t.name


def test_a_cache_type_made_by_a_call_at_top_level(tmp_path: Path) -> None:
    """Students write ``Cache = namedtuple("Cache", "x w")``; it should load."""
    (tmp_path / "layers.py").write_text(
        "from collections import namedtuple\n"
        "import numpy as np\n"
        'Cache = namedtuple("Cache", "x w")\n'
        "def affine_forward(x, w, b):\n"
        "    return x.reshape(x.shape[0], -1) @ w + b, Cache(x, w)\n"
        "def affine_backward(dout, cache):\n"
        "    x, w = cache\n"
        "    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, "
        "dout.sum(0)\n",
        encoding="utf-8",
    )
    res = _corpus.grade_on(
        tmp_path / "layers.py", "namedtuple", [_corpus.GRADING_TESTS / "test_layers.py"]
    )
    mine = [t for t in res.tests if t.api_name == "affine_forward"]
    assert mine and all(t.passed for t in mine)
