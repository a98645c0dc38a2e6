"""The pytest plugin, grade() and the CLI, end to end with real workers."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnkit.grade import grade
from nnkit.pytest_plugin import stable_seed

pytestmark = pytest.mark.engine
REPO = Path(__file__).resolve().parents[2]
IMPORTLIB = ["--import-mode=importlib"]

TOY_POINTS = 'POINTS = {"double": 1, "triple": 2, "secret": 1, "hang": 1, "rng": 1, "boom": 1}\n'
TOY_TESTS = """
import numpy as np
import pytest

@pytest.mark.grade("double: small vector")
def test_double(student, rng):
    x = rng.standard_normal(3)
    assert np.allclose(student.call("double", x).value, 2 * x), "double: wrong values"

@pytest.mark.grade("triple: ints")
def test_triple(student):
    assert student.call("triple", 2).value == 6

@pytest.mark.grade("secret: a hidden array is never printed")
def test_secret(student):
    hidden = np.full(4, 123456.789)
    out = student.call("double", hidden).value
    assert np.array_equal(out, hidden)

@pytest.mark.grade("hang: times out")
def test_hang(student):
    student.call("hang")

@pytest.mark.grade("hang: next call still works")
def test_after_hang(student):
    assert student.call("hang", 0).value == 0

@pytest.mark.grade("rng: per-student value")
def test_rng(rng):
    pytest.fail(f"value {rng.integers(10**9)}", pytrace=False)

@pytest.mark.grade("boom: trusted-side error")
def test_boom(student):
    {}["key"]
"""
TOY_SUB = """
import time
def double(x):
    return 2 * x
def hang(n=1):
    while n:
        time.sleep(0.01)
    return 0
def boom():
    return 1
"""


def toy_suite(root: Path, tests: str = TOY_TESTS, points: str = TOY_POINTS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "points.py").write_text(points)
    (root / "conftest.py").write_text('pytest_plugins = ["nnkit.pytest_plugin"]\n')
    # a unique module name per suite: grading runs in-process and modules stay imported
    (root / f"test_toy_{abs(hash(str(root)))}.py").write_text(textwrap.dedent(tests))
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("toy")
    sub = root / "sub.py"
    sub.write_text(TOY_SUB)
    return toy_suite(root / "suite"), sub


def toy_grade(toy: tuple[Path, Path], student: str = "alice"):
    return grade(toy[1], student, timeout=0.5, tests_dir=toy[0], extra_args=IMPORTLIB)


def test_plugin_results(toy: tuple[Path, Path]) -> None:
    res = toy_grade(toy)
    by = {t.name: t for t in res.tests}
    assert by["double: small vector"].score == 1
    assert by["triple: ints"].score == 0 and by["triple: ints"].max_score == 2
    assert by["triple: ints"].output == "triple is not defined in the submission"
    assert by["hang: times out"].output == "hang: timed out after 0.5 s"
    assert by["hang: next call still works"].score == 1
    secret = by["secret: a hidden array is never printed"]
    assert secret.score == 0 and "123456" not in secret.output
    assert by["boom: trusted-side error"].output.startswith("error while grading: KeyError")
    assert res.score == 2 and res.max_score == 8
    assert any("replaced 1 time" in m for m in res.messages)


def test_same_student_same_results_other_student_other_inputs(toy: tuple[Path, Path]) -> None:
    a1, a2, b = toy_grade(toy, "alice"), toy_grade(toy, "alice"), toy_grade(toy, "bob")
    d1, d2, db = a1.to_dict(), a2.to_dict(), b.to_dict()
    for d in (d1, d2, db):
        d.pop("execution_time")
    assert d1 == d2
    rng_out = {
        r.student: [t.output for t in r.tests if t.name.startswith("rng")][0] for r in (a1, b)
    }
    assert rng_out["alice"] != rng_out["bob"]
    assert (
        stable_seed("alice", "x: y") == stable_seed("alice", "x: y") != stable_seed("bob", "x: y")
    )


@pytest.mark.parametrize(
    "tests, problem",
    [
        ("def test_unmarked(student):\n    pass\n", "no @pytest.mark.grade"),
        ("import pytest\n@pytest.mark.grade('nope: x')\ndef test_x():\n    pass\n", "'nope'"),
    ],
)
def test_collection_refuses_bad_tests(tmp_path: Path, tests: str, problem: str) -> None:
    suite = toy_suite(tmp_path / "suite", tests)
    sub = tmp_path / "sub.py"
    sub.write_text(TOY_SUB)
    res = grade(sub, "x", tests_dir=suite, extra_args=IMPORTLIB)
    assert res.tests == [] and "did not complete" in "\n".join(res.messages)
    assert problem in "\n".join(res.messages)


def test_reference_gets_full_marks_and_same_twice() -> None:
    r1 = grade(REPO / "reference", "student-1")
    r2 = grade(REPO / "reference", "student-1")
    assert r1.max_score > 0 and r1.score == r1.max_score, [t for t in r1.tests if not t.passed]
    assert not any("replaced" in m or "not loaded" in m for m in r1.messages)
    assert [t.name for t in r1.tests] == [t.name for t in r2.tests]


def test_hostile_names_cost_only_their_tests(tmp_path: Path) -> None:
    code = (REPO / "reference" / "layers.py").read_text()
    code += textwrap.dedent("""

    def relu_forward(x):
        while True:
            pass

    def relu_backward(dout, cache):
        import os
        os._exit(1)

    def sigmoid_forward(x):
        raise NotImplementedError
    """)
    sub = tmp_path / "layers.py"
    sub.write_text(code)
    res = grade(sub, "s", timeout=0.5)
    lost = {t.api_name for t in res.tests if not t.passed}
    assert {"relu_forward", "relu_backward", "sigmoid_forward"} <= lost
    untouched = {
        "affine_forward",
        "affine_backward",
        "softmax_loss",
        "svm_loss",
        "mse_loss",
        "batchnorm_forward",
        "batchnorm_backward",
        "layernorm_forward",
    }
    graded = {t.api_name for t in res.tests}
    assert untouched & graded and not untouched & lost
    outs = {t.output for t in res.tests if t.api_name == "relu_forward"}
    assert any("timed out after 0.5 s" in o for o in outs)


def test_plain_pytest_and_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    sub = tmp_path / "sub.py"
    sub.write_text(
        "import numpy as np\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n"
        "def relu_backward(dout, cache):\n    return dout * (cache > 0)\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "grading_tests",
            "--submission",
            str(sub),
            "-q",
            "-p",
            "no:cacheprovider",
            "--student",
            "s",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "nnkit" in out.stdout and "score" in out.stdout, out.stdout[-2000:]
    cli = subprocess.run(
        [sys.executable, "-m", "nnkit", "grade", str(sub), "--format", "gradescope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    data = json.loads(cli.stdout)  # Gradescope's results.json: no top-level max_score
    assert set(data) >= {"score", "execution_time", "output", "output_format", "tests"}
    assert "max_score" not in data
    fields = {"name", "score", "max_score", "status", "output", "output_format", "visibility"}
    assert all(set(t) == fields for t in data["tests"])
    assert all(t["visibility"] == "after_published" for t in data["tests"])
    assert 0 < data["score"] < sum(t["max_score"] for t in data["tests"])
    assert {t["status"] for t in data["tests"]} == {"passed", "failed"}


def _stub(source: str) -> str:
    """The release-stub version of a module: every function body raises NotImplementedError."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.body = [ast.Raise(exc=ast.Name("NotImplementedError", ast.Load()))]
    return ast.unparse(ast.fix_missing_locations(tree))


def test_stubs_get_zero_on_every_test_and_the_run_completes(tmp_path: Path) -> None:
    folder = tmp_path / "stubs"
    folder.mkdir()
    for f in ("layers.py", "optim.py"):
        (folder / f).write_text(_stub((REPO / "reference" / f).read_text()))
    res = grade(folder, "s")
    assert res.tests and res.max_score > 0
    assert res.score == 0 and all(t.score == 0 for t in res.tests)
    assert any("NotImplementedError" in t.output for t in res.tests)


def _nb(path: Path, cells: list[str]) -> Path:
    cells_json = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c}
        for c in cells
    ]
    nb = {"cells": cells_json, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_which_suites_apply(tmp_path: Path) -> None:
    layers = (REPO / "reference" / "layers.py").read_text()
    folder = tmp_path / "submitted" / "alice" / "fully_connected"
    folder.mkdir(parents=True)
    _nb(folder / "FullyConnectedNets.ipynb", [layers, "for i in range(3):\n    print(i)"])
    res = grade(folder, "alice")
    apis = {t.api_name for t in res.tests}
    assert "affine_forward" in apis and "FullyConnectedNet" in apis  # the assignment's names
    assert "conv_forward_naive" not in apis and "spatial_batchnorm_forward" not in apis
    assert all(t.passed for t in res.tests if t.api_name == "affine_forward")
    # neural_net.py: only the stand-alone net's suite, and its TwoLayerNet passes
    nn = grade(REPO / "reference" / "neural_net.py", "alice")
    assert {t.api_name for t in nn.tests} == {"TwoLayerNet"} and nn.score == nn.max_score > 0
    # a .py module: the suites whose names it defines (all of each suite's tests)
    py = tmp_path / "optim.py"
    py.write_text((REPO / "reference" / "optim.py").read_text())
    opt = grade(py, "alice")
    assert {t.api_name for t in opt.tests} == {"sgd", "sgd_momentum", "rmsprop", "adam"}


def test_policy_violation_is_charged_to_its_api_name(tmp_path: Path) -> None:
    code = (REPO / "reference" / "layers.py").read_text() + textwrap.dedent("""

    from nnlib.fast_layers import conv_forward_fast

    def conv_forward_naive(x, w, b, conv_param):
        return conv_forward_fast(x, w, b, conv_param)
    """)
    sub = tmp_path / "layers.py"
    sub.write_text(code)
    res = grade(sub, "s")
    pol = [t for t in res.tests if t.name == "conv_forward_naive: policy"]
    assert len(pol) == 1 and pol[0].output.startswith("policy: ")
    earned = sum(t.score for t in res.tests if t.api_name == "conv_forward_naive")
    assert earned == 0  # the fast layer's points are taken back
