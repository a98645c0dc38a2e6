"""The command line says in one line what went wrong and what to do (no traceback); the
assignment comes from the notebooks, never from a folder's name; results.json, the result
table and the class report."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from nnkit.batch.report import MOST_FAILED, topic, write_report
from nnkit.course.source_notebooks import ROOT
from nnkit.errors import UsageError
from nnkit.grade_cli import single_task
from nnkit.gradescope import spec_problems
from nnkit.results import SubmissionResult, TestResult

pytestmark = pytest.mark.gradescope

LAYERS = "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"


def _nnkit(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "nnkit", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line(done: subprocess.CompletedProcess[str], command: str, *words: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"nnkit {command}: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_outside_a_course(tmp_path: Path) -> None:
    _one_line(_nnkit("autograde", "convnets", cwd=tmp_path), "autograde", "not a course directory")
    line = _one_line(_nnkit("gradescope", "convnets", cwd=tmp_path), "gradescope", "--course DIR")
    assert "not a course directory" in line


def test_unknown_assignment(tmp_path: Path) -> None:
    for cmd in ("autograde", "gradescope", "release"):
        _one_line(_nnkit(cmd, "nope", cwd=ROOT), cmd, "unknown assignment", "'nope'")
    (tmp_path / "layers.py").write_text(LAYERS)
    done = _nnkit("grade", "layers.py", "--assignment", "nope", cwd=tmp_path)
    _one_line(done, "grade", "unknown assignment 'nope'", "two_layer_net")


def test_no_submissions(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _one_line(_nnkit("grade", "empty", cwd=tmp_path), "grade", "no submission in", "submitted/")
    hw = tmp_path / "submitted" / "alice" / "hw"
    hw.mkdir(parents=True)
    (hw / "layers.py").write_text(LAYERS)
    done = _nnkit("grade", "submitted", "--assignment", "other", "--no-progress", cwd=tmp_path)
    _one_line(done, "grade", "no submissions of assignment 'other'", "<student>/<assignment>/")


def test_a_file_that_was_not_submitted(tmp_path: Path) -> None:
    done = _nnkit("grade", "TwoLayerNet.ipynb", cwd=tmp_path)
    _one_line(done, "grade", "TwoLayerNet.ipynb does not exist", "check the path")


def test_no_isolation(tmp_path: Path) -> None:
    (tmp_path / "layers.py").write_text(LAYERS)
    done = _nnkit("grade", "layers.py", cwd=tmp_path, NNKIT_SANDBOX_DISABLE="namespaces,landlock")
    _one_line(done, "grade", "no sandbox layer", "--unsafe-no-isolation")


def test_bad_option_and_ambiguous_submission(tmp_path: Path) -> None:
    _one_line(_nnkit("grade", cwd=tmp_path), "grade", "required", "--help")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy2(ROOT / "release" / "two_layer_net" / "TwoLayerNet.ipynb", mixed)
    shutil.copy2(ROOT / "release" / "convnets" / "ConvolutionalNetworks.ipynb", mixed)
    done = _nnkit("grade", "mixed", cwd=tmp_path)
    _one_line(done, "grade", "different assignments", "--assignment")


def test_the_assignment_comes_from_the_notebooks_not_the_folder(tmp_path: Path) -> None:
    """Gradescope's submission/ folder, or a folder named after another assignment."""
    for folder in ("submission", "convnets"):
        d = tmp_path / folder
        d.mkdir()
        shutil.copy2(ROOT / "release" / "two_layer_net" / "TwoLayerNet.ipynb", d)
        assert single_task([d], "s", None, {}).assignment == "two_layer_net"
        files = [d / "TwoLayerNet.ipynb"]
        assert single_task(files, "s", None, {}).assignment == "two_layer_net"
    py = tmp_path / "py" / "two_layer_net"
    py.mkdir(parents=True)
    (py / "layers.py").write_text(LAYERS)
    assert single_task([py], "s", None, {}).assignment == "submission"  # the names it defines
    with pytest.raises(UsageError, match="unknown assignment"):
        single_task([py], "s", "two_layer", {})


def test_results_json_follows_the_spec() -> None:
    res = SubmissionResult(
        tests=[
            TestResult("affine_forward: shapes", 1, 1),
            TestResult("affine_backward: dx", 0, 1, "affine_backward: dx is wrong"),
            TestResult("submission: policy", 0, 0, "policy: imports forbidden module os"),
            TestResult("affine_forward: policy", -1, 0, "policy: loops"),
            TestResult(
                "best_model_digits: held-out accuracy >= 0.95",
                5,
                5,
                "best_model_digits: held-out accuracy 0.9593 >= 0.95 (270 digits examples)",
            ),
            TestResult("best_model_cifar10: bonus, none", 0, 0, kind="bonus"),
            TestResult("best_model_cifar10: bonus, 2", 2, 0, kind="bonus"),
        ],
        messages=["a note"],
        execution_time=2.2,
    )
    doc = res.to_gradescope()
    assert spec_problems(doc) == [] and "max_score" not in doc
    status = {t["name"]: (t["status"], t["visibility"]) for t in doc["tests"]}
    assert status["submission: policy"] == ("failed", "visible")  # 0/0 is not a pass
    assert status["affine_forward: policy"] == ("failed", "visible")
    assert status["affine_forward: shapes"] == ("passed", "after_published")
    assert status["affine_backward: dx"] == ("failed", "after_published")
    assert status["best_model_cifar10: bonus, none"][0] == "failed"  # nothing earned
    assert status["best_model_cifar10: bonus, 2"][0] == "passed"
    assert doc["execution_time"] == 3 and doc["output"] == "a note" and doc["score"] == 7
    assert doc["leaderboard"] == [{"name": "digits accuracy", "value": 0.9593, "order": "desc"}]
    due = res.to_gradescope(score=4.5, visibility="after_due_date")
    assert due["score"] == 4.5
    assert {t["visibility"] for t in due["tests"]} == {"after_due_date", "visible"}
    assert spec_problems({**doc, "max_score": 7}) == ["unknown top-level key 'max_score'"]
    bad = {**doc, "tests": [{**doc["tests"][0], "status": "ok"}]}
    assert spec_problems(bad) == ["tests[0]: status 'ok' is not passed or failed"]


def test_table_wraps_long_messages() -> None:
    long = "conv_forward_naive: " + " ".join(f"word{i}" for i in range(60))
    res = SubmissionResult(
        tests=[TestResult("conv_forward_naive: stride 2, pad 1", 0, 1, long)],
        messages=["note " + "x" * 30 + " " + "y " * 80],
    )
    table = res.to_table(width=100)
    assert all(len(line) <= 100 for line in table.splitlines()), table
    assert "word59" in table and "..." not in table
    assert table.count("y") == 80


def _png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_class_report_groups_topics_at_many_tests(tmp_path: Path) -> None:
    apis = ["affine_forward", "conv_forward_naive", "batchnorm_forward", "sgd", "dropout_forward"]
    names = [f"{apis[i % 5]}: case {i} with a fairly long description" for i in range(150)]
    records = []
    for s in range(30):
        tests = [
            {"name": n, "score": float((i + s) % 7 != 0), "max_score": 1.0, "output": ""}
            for i, n in enumerate(names)
        ]
        score = sum(t["score"] for t in tests)
        records.append(
            {"student": f"s{s:02d}", "assignment": "hw", "status": "graded", "score": score}
            | {"max_score": 150.0, "tests": tests, "messages": []}
        )
    md = write_report(records, {}, tmp_path).read_text()
    assert "### Topics (weakest first)" in md and f"### The {MOST_FAILED} most-failed" in md
    for t in ("layers", "convolution and pooling", "normalization", "update rules", "dropout"):
        assert f"| {t} | 30 |" in md
    assert topic("x_forward: policy") == "policy" and topic("t1: numeric answers") != "t1"
    w, h = _png_size(tmp_path / "report_hw_tests.png")
    assert h < 1400  # the most-failed tests only: legible, whatever the number of tests
    assert (tmp_path / "report_hw_topics.png").is_file()
    assert md.count("<details>") == 5


def test_python_versions_are_stated() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in text
    assert "Programming Language :: Python :: 3.11" in text
    assert "Python 3.11" in (ROOT / "README.md").read_text()


def test_course_without_submissions_or_with_a_bad_due_date(tmp_path: Path) -> None:
    from nnkit.course.release import make_course

    course = make_course(tmp_path / "course")
    done = _nnkit("autograde", "two_layer_net", cwd=course)
    _one_line(done, "autograde", "no submissions", "nbgrader collect")
    hw = course / "submitted" / "alice" / "two_layer_net"
    hw.mkdir(parents=True)
    shutil.copy(ROOT / "release" / "two_layer_net" / "TwoLayerNet.ipynb", hw)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("c.NnkitLate.per_day = 10\nc.NnkitLate.due = {'two_layer_net': 'end of term'}\n")
    done = _nnkit("autograde", "two_layer_net", cwd=course)
    _one_line(done, "autograde", "'end of term' is not a date", "2026-10-10 23:59:00 UTC")
