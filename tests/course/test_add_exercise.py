"""Adding a layer exercise in the three places docs/course.md names (the reference, the rule
table, the source notebook) is enough: after ``nnkit sync-notebooks`` the release has its stub
and checklist lines, and the hidden suites grade it into its own grade cell.

Everything runs on a copy of the kit (its own ``reference/``, ``grading_tests/``, ``source/``
first on ``PYTHONPATH``), with the real nbgrader and the real sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnkit.course.source_notebooks import ROOT

pytestmark = pytest.mark.course

KIT = ("nnkit", "nnlib", "reference", "grading_tests", "source", "nbgrader_config.py")

# 1. the reference
REFERENCE = '''

def leaky_relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Leaky ReLU: x where x > 0, else 0.01 * x, elementwise on x of any shape."""
    return np.where(x > 0, x, 0.01 * x), x


def leaky_relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of leaky_relu_forward: dout where x > 0, else 0.01 * dout."""
    x = cache
    return np.where(x > 0, dout, 0.01 * dout)
'''

# 2. the rule table: two rows, next to ReLU's
ROWS = """    _fwd(
        "leaky_relu_forward",
        "test_layers",
        "x where x > 0, else 0.01 * x",
        ("x",),
        RELU,
        make_elementwise,
        ref_layers.leaky_relu_forward,
        back="leaky_relu_backward",
        unmodified=("x",),
        assignments=FC_A,
    ),
    _bwd(
        "leaky_relu_backward",
        "test_layers",
        "dout where x > 0, else 0.01 * dout",
        "leaky_relu_forward",
        ("x",),
        ref_layers.leaky_relu_backward,
        assignments=FC_A,
    ),
"""
ANCHOR = '    _fwd(\n        "affine_relu_forward",'

# 3. the source notebook: a directive cell and a graded test cell
VISIBLE = """x = np.linspace(-1, 1, 8).reshape(2, 4)
out, cache = leaky_relu_forward(x)
assert np.allclose(out, np.where(x > 0, x, 0.01 * x))
### BEGIN HIDDEN TESTS
# nnkit-hidden-suite: leaky_relu_forward, leaky_relu_backward
### END HIDDEN TESTS"""

# Run inside the copy: sync, release, then grade a correct and a buggy submission.
SCRIPT = """
import json, sys
from pathlib import Path
from nnkit.course import submissions as S
from nnkit.course.release import generate, make_course
from nnkit.course.scoring import score_cells
from nnkit.course.source_notebooks import ROOT, sync
from nnkit.grade import grade

work = Path(sys.argv[1])
assert ROOT == Path.cwd(), ROOT
stale = sync("fully_connected")
course = make_course(work / "course", ["fully_connected"])
release = generate("fully_connected", course)
ref = S.fill_reference(S.read_release(release), ROOT / "source" / "fully_connected")
out = {"stale": [p.name for p in stale]}
for student, nbs in {
    "right": ref,
    "wrong": S.replace_in_cell(ref, "leaky_relu_forward", "0.01 * dout)", "0.1 * dout)"),
}.items():
    folder = S.write_submission(nbs, work / "submitted" / student / "fully_connected")
    notebooks = sorted(folder.glob("*.ipynb"))
    result = grade(notebooks, student)
    cells = score_cells("fully_connected", notebooks, result)
    out[student] = {
        "tests": {t.name: [t.score, t.max_score] for t in result.tests},
        "cells": {c.cell_id: [c.score, c.max_score] for c in cells},
    }
print(json.dumps(out))
"""


def _copy_kit(dest: Path) -> Path:
    for name in KIT:
        src = ROOT / name
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
            shutil.copytree(src, dest / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _add_exercise(kit: Path) -> None:
    layers = kit / "reference" / "layers.py"
    layers.write_text(layers.read_text() + REFERENCE)
    rules = kit / "grading_tests" / "rules.py"
    text = rules.read_text()
    assert text.count(ANCHOR) == 1
    rules.write_text(text.replace(ANCHOR, ROWS + ANCHOR))
    path = kit / "source" / "fully_connected" / "FullyConnectedNets.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    at = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "test_relu"
    )
    directive = nbformat.v4.new_code_cell(
        "# nnkit: reference reference.layers leaky_relu_forward leaky_relu_backward"
    )
    test = nbformat.v4.new_code_cell(VISIBLE)
    test.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "test_leaky_relu",
        "locked": True,
        "points": 2,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb.cells[at + 1 : at + 1] = [directive, test]
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def added(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("add_exercise")
    base.chmod(0o755)  # the sandbox's own user reads the kit copy
    kit = _copy_kit(base / "kit")
    _add_exercise(kit)
    env = {**os.environ, "PYTHONPATH": str(kit)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(base / "work")],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return kit, json.loads(proc.stdout.strip().splitlines()[-1])


def test_sync_expands_the_directive_into_a_solution_cell(added: tuple[Path, dict]) -> None:
    kit, out = added
    assert "FullyConnectedNets.ipynb" in out["stale"]
    assert {"README.md", "CHECKLIST.md"} <= set(out["stale"])
    nb = nbformat.read(str(kit / "source/fully_connected/FullyConnectedNets.ipynb"), 4)
    cell = next(c for c in nb.cells if "def leaky_relu_forward" in c.source)
    assert cell.metadata["nbgrader"]["solution"] is True
    assert cell.metadata["nnkit"]["names"] == ["leaky_relu_forward", "leaky_relu_backward"]
    assert "### BEGIN SOLUTION" in cell.source
    assert "return np.where(x > 0, dout, 0.01 * dout)" in cell.source
    readme = (kit / "source/fully_connected/README.md").read_text()
    assert "`leaky_relu_forward`, `leaky_relu_backward`" in readme
    assert "leaky_relu_backward" in (kit / "source/fully_connected/CHECKLIST.md").read_text()


def test_the_release_has_the_stub(added: tuple[Path, dict], tmp_path: Path) -> None:
    kit, _ = added
    release = kit.parent / "work" / "course" / "release" / "fully_connected"
    nb = nbformat.read(str(release / "FullyConnectedNets.ipynb"), 4)
    cell = next(c for c in nb.cells if "def leaky_relu_forward" in c.source)
    assert "raise NotImplementedError" in cell.source
    assert "0.01 * dout" not in cell.source.split('"""')[-1]  # the body is gone
    checklist = nb.cells[-1].source
    assert "leaky_relu_forward" in checklist


def test_the_new_cell_is_graded(added: tuple[Path, dict]) -> None:
    _, out = added
    right, wrong = out["right"], out["wrong"]
    leaky = [n for n in right["tests"] if n.startswith("leaky_relu_")]
    assert any(n.startswith("leaky_relu_forward") for n in leaky)
    assert any(n.startswith("leaky_relu_backward") for n in leaky)
    assert all(right["tests"][n][0] == right["tests"][n][1] > 0 for n in leaky)
    assert right["cells"]["test_leaky_relu"] == [2.0, 2.0]
    # the notebooks were not run, so no model file was saved: only those cells lose
    unsaved = {"best_fc_model", "regression_model"}
    assert {k for k, (score, top) in right["cells"].items() if score < top} == unsaved
    # the wrong backward loses points in its own cell only
    assert wrong["cells"]["test_leaky_relu"][0] < 2.0
    lost = {k for k, (score, top) in wrong["cells"].items() if score < top}
    assert lost == {"test_leaky_relu", *unsaved}
