"""The students' self-check (``python -m nnlib.selfcheck``, shipped in every release) says what
the grader will refuse, in the grader's own words: each damaged folder below is graded by the
pipeline (``run_task``) and checked by the self-check run from a student's copy of the
library, and the self-check's reason is in the grader's record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nnkit.batch.discover import discover
from nnkit.batch.task import make_task, run_task
from nnkit.course import manifest
from nnkit.course.source_notebooks import ROOT, library_files
from nnkit.course.submissions import fill_reference, read_release, write_submission
from nnkit.intake import CourseIndex

pytestmark = pytest.mark.course

A = "two_layer_net"
NB = "TwoLayerNet.ipynb"


def test_manifest_is_current() -> None:
    assert not manifest.stale(), "nnlib/selfcheck.json is stale: run `nnkit release`"
    data = json.loads((ROOT / manifest.MANIFEST).read_text())
    text = json.dumps(data)
    assert "bound" not in text and "0.95" not in text  # no threshold data


def _library(dest: Path) -> None:
    """The release's nnlib/, built from its one source (as ``nnkit release`` copies it)."""
    for rel, src in library_files().items():
        (dest / "nnlib" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / "nnlib" / rel)


def _folder(root: Path, student: str, filled: bool = False) -> Path:
    release = read_release(ROOT / "release" / A)
    nbs = fill_reference(release, ROOT / "source" / A) if filled else release
    dest = write_submission(nbs, root / "submitted" / student / A)
    _library(dest)
    return dest


def _edit(folder: Path, grade_id: str, old: str, new: str) -> None:
    nb = json.loads((folder / NB).read_text())
    cell = next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id
    )
    src = "".join(cell["source"])
    assert old in src
    cell["source"] = src.replace(old, new)
    (folder / NB).write_text(json.dumps(nb))


def selfcheck(folder: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "nnlib.selfcheck", "--json", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return json.loads(done.stdout)


def _findings(report: dict[str, Any], section: str | None = None) -> list[str]:
    return [f["message"] for f in report["findings"] if section in (None, f["section"])]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """Damaged folders: the grader's record and the self-check's report of each."""
    root = tmp_path_factory.mktemp("selfcheck")
    outside = tmp_path_factory.mktemp("outside")

    broken = _folder(root, "broken_json")
    text = (broken / NB).read_text()
    (broken / NB).write_text(text[: len(text) // 3])

    linked = _folder(root, "symlink", filled=True)
    shutil.move(linked / NB, outside / NB)
    (linked / NB).symlink_to(outside / NB)

    missing = _folder(root, "missing", filled=True)
    _edit(missing, "two_layer_net", "class TwoLayerNet:", "class TwoLayerNetwork:")
    _edit(missing, "setup", "import numpy as np\n", "import numpy as np\nimport scipy.signal\n")
    (missing / "best_model_digits.npz").write_bytes(b"PK\x03\x04 not really a model")

    policy = _folder(root, "policy", filled=True)
    _edit(policy, "setup", "import numpy as np\n", "import numpy as np\nimport torch\n")
    _edit(
        policy,
        "two_layer_net",
        "        n = X.shape[0]\n",
        "        n = X.shape[0]\n        torch.zeros(1)\n",
    )

    index = CourseIndex.from_course(ROOT)
    out = {}
    for sub in discover(root / "submitted"):
        task = make_task(sub, "test", index, grade_kwargs={"timeout": 5.0})
        out[sub.student] = (run_task(task).record, selfcheck(sub.path, "--no-tests"))
    return out


def _said(record: dict) -> str:
    return "\n".join(record["messages"] + [t["output"] for t in record["tests"]])


def _check_same(record: dict, report: dict, needle: str) -> str:
    """The self-check's finding that contains ``needle``, found word for word in the record."""
    found = [m for m in _findings(report) if needle in m]
    assert found, (needle, _findings(report))
    for m in found:
        core = m.split("policy: ", 1)[-1]
        assert core in _said(record), (core, _said(record))
    return found[0]


def test_broken_json(damaged) -> None:
    record, report = damaged["broken_json"]
    _check_same(record, report, "not a readable notebook (invalid JSON")
    assert not report["ok"]


def test_symlinked_notebook(damaged) -> None:
    record, report = damaged["symlink"]
    _check_same(record, report, f"{NB}: a symbolic link; not read")
    _check_same(record, report, "no gradable notebook")
    assert record["score"] == 0


def test_missing_function_import_and_bad_model(damaged) -> None:
    record, report = damaged["missing"]
    msg = _check_same(record, report, "`TwoLayerNet` is not defined")
    assert "renamed to `TwoLayerNetwork`?" in msg
    _check_same(record, report, "No module named 'scipy'")
    bad = [m for m in _findings(report, "model") if "could not be read: " in m]
    assert bad and bad[0].startswith("best_model_digits: best_model_digits.npz could not be read")
    reason = bad[0].split("could not be read: ", 1)[1]  # the grader names its own copy's path
    assert "not a saved model" in reason
    out = [t["output"] for t in record["tests"] if t["name"].startswith("best_model_digits")]
    assert out and out[0].startswith("best_model_digits: best_model_digits.npz could not be read")
    assert out[0].endswith(reason)


def test_policy(damaged) -> None:
    record, report = damaged["policy"]
    msg = _check_same(record, report, "TwoLayerNet: policy: uses forbidden module torch")
    assert msg in _findings(report, "policy")
    assert any(t["name"] == "TwoLayerNet: policy" and t["score"] < 0 for t in record["tests"])
    _check_same(record, report, "No module named 'torch'")


def test_visible_tests_run_on_a_copy(tmp_path: Path) -> None:
    stub = _folder(tmp_path, "stub")
    before = sorted(p.name for p in stub.iterdir())
    report = selfcheck(stub)
    tests = _findings(report, "test")
    assert f"{NB}: t2_sizes: passed" in tests
    assert any(m.startswith(f"{NB}: test_net_train: FAILED: NotImplementedError") for m in tests)
    assert sorted(p.name for p in stub.iterdir()) == before  # the save cell ran on a copy

    good = _folder(tmp_path, "good", filled=True)
    report = selfcheck(good)
    tests = [m for m in _findings(report, "test") if ": " in m]
    assert tests and all(m.endswith(": passed") for m in tests), tests
    # the one problem left: the model file that only running the notebook writes
    assert [f["section"] for f in report["findings"] if f["problem"]] == ["model"]


def test_a_check_cell_inside_the_checked_notebook_does_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "cell", filled=True)
    nb = json.loads((folder / NB).read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "source": "from nnlib.selfcheck import check\nr = check()\nassert 'inside' in str(r)",
            "outputs": [],
            "execution_count": None,
        }
    )
    (folder / NB).write_text(json.dumps(nb))
    report = selfcheck(folder)
    assert not [m for m in _findings(report, "test") if "raised" in m]


def test_a_check_cell_does_nothing_when_the_grader_executes_the_notebook(tmp_path: Path) -> None:
    from nnkit.execution import execute_notebooks

    folder = tmp_path / A
    folder.mkdir()
    _library(folder)
    cell = "from nnlib.selfcheck import check\nprint(check(quiet=True).findings[0].message)"
    nb = {
        "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "source": cell, "outputs": []}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / "Check.ipynb").write_text(json.dumps(nb))
    executed, _ = execute_notebooks(folder, [folder / "Check.ipynb"])
    out = json.loads(executed["Check.ipynb"])["cells"][0]["outputs"]
    text = "".join("".join(o.get("text", "")) for o in out)
    assert "the self-check does not run inside the grader (skipped)" in text, out
