"""The course's data set: one setting in nbgrader_config.py (c.NnkitData.dataset), read by
every entry point, reaching the notebook sandbox (public files only) and the hidden threshold
tests; thresholds per data set and assignment, and the CIFAR-10 bonus, on small files in the
real formats."""

# ruff: noqa: NPY002

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from grading_tests.rules import THRESHOLDS, Bonus
from nnkit.datasets import DataSetting, load_setting
from nnkit.grade import assignment_apis, grade
from nnkit.heldout import load_heldout
from nnlib import data
from nnlib.model_io import save_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studentlib"))
from _data_files import california_table, write_california, write_cifar, write_mnist  # noqa: E402

pytestmark = pytest.mark.course

ROOT = Path(__file__).resolve().parents[2]


def write_real_data(root: Path) -> Path:
    """Small CIFAR-10, MNIST and California housing files in their published formats."""
    rng = np.random.default_rng(11)
    write_cifar(root / data.CIFAR_DIR, rng)
    write_mnist(root / data.MNIST_DIR, rng)
    write_california(root / data.CALIFORNIA_DIR, california_table(rng, 50))
    return root


def write_course(root: Path, dataset: str, data_dir: Path | str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.NnkitData.dataset = {dataset!r}\n"
        f"c.NnkitData.data_dir = {str(data_dir)!r}\n",
        encoding="utf-8",
    )
    return root


def memorizing_classifier(name: str, root: Path, wrong: int = 0):
    """A FullyConnectedNet that recognises each held-out example of ``name`` (one hidden unit
    per example, template matching) and gives the first ``wrong`` of them a wrong label."""
    from reference.classifiers import FullyConnectedNet

    X, y = load_heldout(name, root)
    Xc = X.reshape(len(X), -1) - 127.5
    templates = Xc / np.sum(Xc**2, axis=1, keepdims=True)  # t_i . x_i = 1
    state = np.random.get_state()
    net = FullyConnectedNet([len(X)], input_dim=Xc.shape[1], num_classes=10, dtype=np.float64)
    np.random.set_state(state)
    W2 = np.zeros((len(X), 10))
    labels = [(int(c) + 1) % 10 if i < wrong else int(c) for i, c in enumerate(y)]
    W2[np.arange(len(X)), labels] = 1.0
    net.params.update(W1=templates.T, b1=np.full(len(X), -0.5), W2=W2, b2=np.zeros(10))
    return net


def exact_regressor(root: Path):
    """A one-hidden-layer net that passes x through (relu(x) - relu(-x)) and fits the held-out
    California rows exactly."""
    from reference.classifiers import FullyConnectedNet

    X, y = load_heldout("california", root)
    state = np.random.get_state()
    net = FullyConnectedNet([16], input_dim=8, num_classes=1, dtype=np.float64)
    np.random.set_state(state)
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)
    net.params.update(
        W1=np.c_[np.eye(8), -np.eye(8)],
        b1=np.zeros(16),
        W2=np.r_[coef[:8], -coef[:8]][:, None],
        b2=coef[8:],
    )
    return net


def module_submission(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layers.py").write_text((ROOT / "reference" / "layers.py").read_text())
    return folder / "layers.py"


# ----------------------------------------------------------------------------- the setting


def test_the_setting_is_read_from_the_course_config(tmp_path: Path) -> None:
    assert load_setting(ROOT) == DataSetting()  # the kit's own course: bundled, offline
    assert load_setting(tmp_path / "nowhere") == DataSetting()
    got = load_setting(write_course(tmp_path / "a", "mnist+california", "/data/sets"))
    assert got == DataSetting("mnist", "california", "/data/sets")
    assert got.value == "mnist+california" and got.downloaded == ("mnist", "california")
    assert load_setting(write_course(tmp_path / "b", "california")).names == (
        "digits",
        "california",
    )
    assert DataSetting.parse("cifar10").value == "cifar10"
    with pytest.raises(ValueError, match=r"c\.NnkitData\.dataset: unknown data set 'imagenet'"):
        load_setting(write_course(tmp_path / "c", "imagenet"))


def test_graded_models_follow_the_setting() -> None:
    """Which saved models an assignment's notebooks are graded on comes from the rule table
    (the thresholds' assignments) and the setting."""
    assert assignment_apis("two_layer_net") == ("TwoLayerNet", "best_model_digits")
    assert assignment_apis("two_layer_net", DataSetting.parse("mnist"))[-1] == "best_model_mnist"
    fc = assignment_apis("fully_connected", DataSetting.parse("cifar10+california"))
    assert fc[-2:] == ("best_model_cifar10", "best_model_california")
    assert not any(a.startswith("best_model_") for a in assignment_apis("convnets"))
    for name, t in THRESHOLDS.items():
        setting = DataSetting.parse(name)
        for a in ("two_layer_net", "fully_connected", "convnets"):
            assert (f"best_model_{name}" in assignment_apis(a, setting)) == (a in t.bounds)


def test_the_seeds_marks_are_in_the_table() -> None:
    assert THRESHOLDS["mnist"].bound_for("two_layer_net") == 0.963  # seed 002: > 96.3 % test
    assert THRESHOLDS["mnist"].bound_for("fully_connected") == 0.95  # seed 003
    assert THRESHOLDS["cifar10"].bound_for("two_layer_net") == 0.50  # seeds 000/001/004
    assert THRESHOLDS["cifar10"].bound_for("fully_connected") == 0.50
    bonus = THRESHOLDS["cifar10"].bonus
    assert bonus == Bonus(0.56, 0.01, 1.0, ("two_layer_net",))  # seed 004


@pytest.mark.parametrize(
    ("accuracy", "points"),
    [(0.45, 0), (0.56, 0), (0.5699, 0), (0.57, 1), (0.575, 1), (0.6049, 4), (0.61, 5), (1.0, 44)],
)
def test_the_bonus_counts_whole_percents_above_56(accuracy: float, points: int) -> None:
    assert THRESHOLDS["cifar10"].bonus.earned(accuracy) == points


def test_the_sandbox_is_shown_only_public_files(tmp_path: Path) -> None:
    root = write_real_data(tmp_path / "data")
    assert DataSetting().sandbox_files() == []
    cifar = DataSetting.parse("cifar10", str(root)).sandbox_files()
    assert sorted(p.name for p in cifar) == [f"data_batch_{i}" for i in range(1, 6)]
    mnist = DataSetting.parse("mnist", str(root)).sandbox_files()
    assert sorted(p.name for p in mnist) == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    cal = DataSetting.parse("california", str(root)).sandbox_files()
    assert sorted(p.name for p in cal) == ["cal_housing.data", "cal_housing.domain"]
    env = DataSetting.parse("mnist+california", str(root)).sandbox_env()
    assert env == {"NNKIT_DATASET": "mnist+california", "NNKIT_DATA": str(root.resolve())}


def test_missing_data_names_the_download_command(tmp_path: Path) -> None:
    setting = DataSetting.parse("mnist+california", str(tmp_path))
    missing = setting.missing()
    assert len(missing) == 2
    assert "python -m nnlib.data download mnist" in missing[0]
    write_real_data(tmp_path)
    assert setting.missing() == []


# ------------------------------------------------------------------- threshold tests, per set


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_threshold_tests_on_real_format_files(tmp_path: Path, name: str) -> None:
    """A model that recognises the held-out files earns the points; one that gets most of them
    wrong scores 0 and is told its accuracy."""
    root = write_real_data(tmp_path / "data")
    setting = DataSetting.parse(name, str(root))
    n = len(load_heldout(name, root)[1])
    for wrong, ok in [(0, True), (n - 1, False)]:
        sub = module_submission(tmp_path / f"sub{wrong}")
        save_model(
            sub.parent / f"best_model_{name}.npz",
            memorizing_classifier(name, root, wrong),
            x_mean=127.5,
        )
        res = grade(
            sub, "th", tests_dir=ROOT / "grading_tests" / "test_thresholds.py", data=setting
        )
        (t,) = [t for t in res.tests if t.api_name == f"best_model_{name}"]
        assert t.passed == ok, t.output
        assert f"({n} {name} examples)" in t.output


def test_regression_threshold_on_real_format_files(tmp_path: Path) -> None:
    root = write_real_data(tmp_path / "data")
    sub = module_submission(tmp_path / "sub")
    save_model(sub.parent / "best_model_california.npz", exact_regressor(root))
    setting = DataSetting.parse("california", str(root))
    res = grade(sub, "th", tests_dir=ROOT / "grading_tests" / "test_thresholds.py", data=setting)
    (t,) = [t for t in res.tests if t.api_name == "best_model_california"]
    assert t.passed and "held-out RMSE" in t.output and "(5 california examples)" in t.output


def test_without_the_data_the_threshold_test_says_so(tmp_path: Path) -> None:
    root = write_real_data(tmp_path / "data")
    sub = module_submission(tmp_path / "sub")
    save_model(sub.parent / "best_model_mnist.npz", memorizing_classifier("mnist", root))
    empty = DataSetting.parse("mnist", str(tmp_path / "empty"))
    res = grade(sub, "th", tests_dir=ROOT / "grading_tests" / "test_thresholds.py", data=empty)
    (t,) = [t for t in res.tests if t.api_name == "best_model_mnist"]
    assert t.score == 0 and "not available to the grader" in t.output


# ------------------------------------------------------------------------- the real flow


def _two_layer_net_submission(folder: Path, model, name: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "source" / "two_layer_net" / "TwoLayerNet.ipynb", folder)
    save_model(folder / f"best_model_{name}.npz", model, x_mean=127.5)
    return folder


def test_the_setting_reaches_the_threshold_tests_through_nnkit_grade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nnkit grade` in a course that selects CIFAR-10: the two_layer_net notebook is graded on
    best_model_cifar10 (not digits), with seed 004's bonus in its grade cell."""
    from nnkit.cli import main

    root = write_real_data(tmp_path / "data")
    course = write_course(tmp_path / "course", "cifar10", root)
    # 3 of the 4 held-out images right: 75 % >= 50 %, and 19 whole percents above 56 %
    sub = _two_layer_net_submission(
        tmp_path / "two_layer_net", memorizing_classifier("cifar10", root, wrong=1), "cifar10"
    )
    assert main(["grade", str(sub), "--course", str(course), "--format", "gradescope"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tests = {t["name"]: t for t in doc["tests"]}
    assert not any(n.startswith("best_model_digits") for n in tests)
    held = tests["best_model_cifar10: held-out accuracy >= 0.5"]
    assert held["score"] == held["max_score"] == 5
    assert "held-out accuracy 0.7500 >= 0.5 (4 cifar10 examples)" in held["output"]
    bonus = tests["best_model_cifar10: bonus, 1 point per 1% above 56%"]
    assert bonus["score"] == 19 and bonus["max_score"] == 0
    # the saved model's grade cell carries the bonus beyond its points
    assert doc["score"] >= 19 + 5
    assert {"name": "cifar10 accuracy", "value": 0.75, "order": "desc"} in doc["leaderboard"]


def test_a_course_on_digits_ignores_a_cifar_model(tmp_path: Path) -> None:
    """The bundled default (the kit's own config): the same submission is graded on
    best_model_digits, and a host's $NNKIT_DATASET changes nothing."""
    from nnkit.batch.task import run_task
    from nnkit.grade_cli import course_data, course_index, single_task

    root = write_real_data(tmp_path / "data")
    sub = _two_layer_net_submission(
        tmp_path / "two_layer_net", memorizing_classifier("cifar10", root), "cifar10"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NNKIT_DATASET", "cifar10")
        data_setting = course_data(ROOT)
        task = single_task(
            [sub], "s", "two_layer_net", {"timeout": 5.0}, course_index(), data_setting
        )
        record = run_task(task).record
    names = {t["name"].split(":")[0] for t in record["tests"]}
    assert "best_model_digits" in names and "best_model_cifar10" not in names


def test_the_notebook_sandbox_sees_the_selected_public_files_only(tmp_path: Path) -> None:
    """Executed for grading with CIFAR-10 selected: the notebook loads it (train batches
    visible read-only), while its test_batch, the unselected MNIST files and the bundled
    held-out rows stay invisible."""
    import nbformat

    import nnkit
    from nnkit.execution import execute_notebooks

    root = write_real_data(tmp_path / "data")
    secret = Path(nnkit.__file__).parent / "data" / "digits_heldout.npz"
    probe = f"""
import os
from pathlib import Path
root = Path(os.environ["NNKIT_DATA"])
cifar = root / "cifar-10-batches-py"
for p in [cifar / "data_batch_1", cifar / "test_batch", root / "mnist" / "train-images-idx3-ubyte",
          Path({str(secret)!r})]:
    try:
        with open(p, "rb") as f:
            f.read(1)
        print("readable", p.name)
    except OSError:
        print("hidden", p.name)
"""
    folder = tmp_path / "sub"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from nnlib.data import load_dataset, selected_dataset\n"
            "d = load_dataset(num_val=2, num_test=2)\n"
            "print('set', selected_dataset(), d['X_train'].shape)"
        ),
        nbformat.v4.new_code_cell(probe),
    ]
    nbformat.write(nb, folder / "probe.ipynb")
    setting = DataSetting.parse("cifar10", str(root))
    out, _ = execute_notebooks(folder, [folder / "probe.ipynb"], data=setting)
    cells = json.loads(out["probe.ipynb"])["cells"]
    text = "".join(o.get("text", "") for c in cells for o in c.get("outputs", []))
    assert "set cifar10 (7, 3, 32, 32)" in text, text
    assert "readable data_batch_1" in text
    assert "hidden test_batch" in text
    assert "hidden train-images-idx3-ubyte" in text
    assert "hidden digits_heldout.npz" in text


def test_the_gradescope_zip_carries_the_setting(tmp_path: Path) -> None:
    """The zip's config names the course's data sets; setup.sh's fetch step finds them on the
    machine (no download when present) and the autograder grades on them."""
    import zipfile

    from nnkit import gradescope

    course = write_course(tmp_path / "course", "mnist+california")
    shutil.copytree(ROOT / "release" / "two_layer_net", course / "release" / "two_layer_net")
    zpath = gradescope.build_zip("two_layer_net", course, tmp_path / "ag.zip")
    with zipfile.ZipFile(zpath) as zf:
        config = json.loads(zf.read(gradescope.CONFIG))
        assert "fetch-data" in zf.read("setup.sh").decode()
    assert config["dataset"] == "mnist+california"
    source = tmp_path / "source"
    source.mkdir()
    (source / gradescope.CONFIG).write_text(json.dumps(config))
    gs_root = tmp_path / "autograder"
    write_real_data(gs_root / gradescope.DATA_DIR)
    assert gradescope.fetch_data(source, gs_root) == ["mnist", "california"]
    setting = gradescope._data(gs_root, config)
    assert setting.names == ("mnist", "california") and setting.missing() == []


def test_grading_refuses_to_start_without_the_selected_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nnkit.cli import main

    course = write_course(tmp_path / "course", "mnist", tmp_path / "empty")
    sub = module_submission(tmp_path / "sub")
    assert main(["grade", str(sub), "--course", str(course)]) != 0
    err = capsys.readouterr().err
    assert "c.NnkitData.dataset" in err and "python -m nnlib.data download mnist" in err


def test_a_new_setting_makes_stored_results_stale() -> None:
    from nnkit.batch.store import grader_fingerprint

    base = grader_fingerprint()
    assert grader_fingerprint(data=DataSetting()) == base
    assert grader_fingerprint(data=DataSetting(data_dir="/elsewhere")) == base
    assert grader_fingerprint(data=DataSetting.parse("mnist")) != base


def test_the_checklist_names_the_selected_sets_model() -> None:
    from grading_tests.rules import checklist

    assert "## `best_model_digits`" in checklist("two_layer_net")
    text = checklist("two_layer_net", setting=DataSetting.parse("cifar10"))
    assert "## `best_model_cifar10`" in text and "best_model_digits" not in text
    assert "1 point per 1% above 56%" in text
    mnist = checklist("fully_connected", setting=DataSetting.parse("mnist+california"))
    assert "## `best_model_mnist`" in mnist and "## `best_model_california`" in mnist
    assert "0.963 (two_layer_net)" in mnist
