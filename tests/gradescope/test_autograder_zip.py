"""The Gradescope autograder zip, run as Gradescope runs it: unzipped into ``<root>/source``,
``run_autograder`` copied to ``<root>``, the upload in ``<root>/submission``, as root when the
tests run as root. A correct, a buggy (uploaded as a zip of a folder) and a hostile
two_layer_net submission, and a machine without any sandbox layer; every results.json is
checked against Gradescope's specification and against ``nnkit grade`` on the same files."""

# ruff: noqa: NPY002 (the reference net trains with the legacy global generator)

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnkit.course import submissions as S
from nnkit.course.source_notebooks import ROOT
from nnkit.gradescope import build_zip, spec_problems

pytestmark = pytest.mark.gradescope

A = "two_layer_net"
NB = "TwoLayerNet.ipynb"
STUDENT_ID = 4242
BUG = ("two_layer_net", "dscores[np.arange(n), y] -= 1", "dscores[np.arange(n), y] -= 0.5")
HIDDEN = {"after_published", "after_due_date"}

#: Runs in the worker when a hidden test builds the net (top-level statements other than
#: definitions are never run): forge results.json, write into the kit, the submission and a
#: world-writable folder, and leave a process behind that keeps forging.
ATTACK = """
def _attack():
    import json, os, time
    targets = json.loads(_TARGETS)
    forged = '{"score": 1000, "tests": []}'
    def put(path, text):
        try:
            with open(path, "w") as f:
                f.write(text)
        except BaseException:
            pass
    put(targets["results"], forged)
    try:
        os.makedirs(targets["results_dir"], exist_ok=True)
    except BaseException:
        pass
    put(targets["results_dir"] + "/forged.json", forged)
    put(targets["kit"], "raise SystemExit('pwned')")
    put(targets["outside"] + "/pwned", "x")
    put(targets["submission"] + "/pwned", "x")
    try:
        if os.fork() == 0:
            os.setsid()
            for _ in range(50):
                put(targets["results"], forged)
                time.sleep(0.1)
            os._exit(0)
    except BaseException:
        pass
"""
INIT = (
    "    def __init__(self, input_size: int, hidden_size: int, output_size: int, "
    "std: float = 1e-4):\n"
)


def _digits_model(dest: Path) -> None:
    """A stand-alone TwoLayerNet trained on the bundled digits, saved as the notebook would."""
    from nnlib.data import load_dataset
    from nnlib.model_io import save_model
    from reference.neural_net import TwoLayerNet

    d = load_dataset("digits")
    X, Xv = (d[k].reshape(len(d[k]), -1) for k in ("X_train", "X_val"))
    state = np.random.get_state()
    np.random.seed(0)
    try:
        net = TwoLayerNet(64, 50, 10)
        net.train(
            X,
            d["y_train"],
            Xv,
            d["y_val"],
            num_iters=1000,
            batch_size=100,
            learning_rate=1e-3,
            learning_rate_decay=1.0,
            reg=0.25,
            momentum=0.9,
        )
    finally:
        np.random.set_state(state)
    save_model(dest / "best_model_digits.npz", net, dataset="digits")


@pytest.fixture(scope="module")
def subs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, S.Notebooks]:
    release = S.read_release(ROOT / "release" / A)
    ref = S.fill_reference(release, ROOT / "source" / A)
    return {"correct": ref, "buggy": S.replace_in_cell(ref, *BUG)}


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("zips")
    return {
        "after_published": build_zip(A, ROOT, out / "published.zip"),
        "after_due_date": build_zip(A, ROOT, out / "due.zip", visibility="after_due_date"),
    }


def _inject(nbs: S.Notebooks, definition: str, call: str) -> S.Notebooks:
    """``definition`` before the net's class, ``call`` first thing in its constructor."""
    out = S.replace_in_cell(
        nbs, "two_layer_net", "class TwoLayerNet:", definition + "\n\n\nclass TwoLayerNet:"
    )
    return S.replace_in_cell(out, "two_layer_net", INIT, INIT + f"        {call}\n")


def _tree(base: Path, zip_path: Path, files: dict[str, bytes]) -> Path:
    """A directory laid out as Gradescope's /autograder; ``files`` go to submission/."""
    root = base / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    for rel, data in files.items():
        (root / "submission" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / rel).write_bytes(data)
    (root / "submission").mkdir(exist_ok=True)
    meta = {"users": [{"id": STUDENT_ID, "email": "s@example.org", "name": "S"}]}
    (root / "submission_metadata.json").write_text(json.dumps(meta))
    return root


def _files(nbs: S.Notebooks, folder: Path, prefix: str = "") -> dict[str, bytes]:
    S.write_submission(nbs, folder)
    _digits_model(folder)
    return {prefix + p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(root: Path, **env: str) -> tuple[dict, subprocess.CompletedProcess[str]]:
    full = {**os.environ, "NNKIT_GS_ROOT": str(root), "NNKIT_GS_PYTHON": sys.executable, **env}
    done = subprocess.run(
        ["bash", str(root / "run_autograder")],
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text()), done


def _check_spec(doc: dict, visibility: str = "after_published") -> None:
    assert spec_problems(doc) == []
    assert "max_score" not in doc  # not a top-level key of the specification
    assert isinstance(doc["score"], int | float) and isinstance(doc["execution_time"], int)
    assert isinstance(doc["output"], str) and doc["output_format"] == "text"
    assert doc["tests"]
    for t in doc["tests"]:
        assert {
            "name",
            "score",
            "max_score",
            "status",
            "output",
            "output_format",
            "visibility",
        } <= set(t)
        assert t["status"] == ("passed" if t["score"] >= t["max_score"] > 0 else "failed"), t
        assert t["visibility"] == ("visible" if t["name"].endswith(": policy") else visibility)


def _same_as_nnkit_grade(folder: Path, doc: dict) -> None:
    """``nnkit grade`` on the same files (a folder named submission/) gives the same scores."""
    cli = subprocess.run(
        [sys.executable, "-m", "nnkit", "grade", str(folder), "--student", str(STUDENT_ID)]
        + ["--format", "gradescope"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder.parent,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    single = json.loads(cli.stdout)
    assert {t["name"]: t["score"] for t in single["tests"]} == {
        t["name"]: t["score"] for t in doc["tests"]
    }
    assert single["score"] == doc["score"]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def test_zip_layout(zips: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(zips["after_published"]).namelist())
    assert {"setup.sh", "run_autograder", "nnkit_gradescope.json"} <= names
    assert f"kit/release/{A}/{NB}" in names and f"kit/source/{A}/{NB}" in names
    assert (
        "kit/grading_tests/test_neural_net.py" in names and "kit/reference/neural_net.py" in names
    )
    assert "kit/nnkit/data/digits_heldout.npz" in names
    assert not any(
        "__pycache__" in n or n.startswith(("kit/tests/", "kit/source/convnets")) for n in names
    )
    info = zipfile.ZipFile(zips["after_published"]).getinfo("run_autograder")
    assert (info.external_attr >> 16) & 0o111
    with zipfile.ZipFile(zips["after_published"]) as zf:
        for script in ("setup.sh", "run_autograder"):
            check = subprocess.run(["bash", "-n"], input=zf.read(script), capture_output=True)
            assert check.returncode == 0, check.stderr
        config = json.loads(zf.read("nnkit_gradescope.json"))
    assert config["assignment"] == A and config["hidden_visibility"] == "after_published"


def test_correct_submission(tmp_path: Path, subs: dict, zips: dict[str, Path]) -> None:
    files = _files(subs["correct"], tmp_path / "work")
    root = _tree(tmp_path, zips["after_published"], files)
    doc, _ = _run(root)
    _check_spec(doc)
    assert all(t["status"] == "passed" for t in doc["tests"]), doc["tests"]
    assert f"Score: {doc['score']:g} / {doc['score']:g}" in doc["output"]
    board = {e["name"]: e for e in doc["leaderboard"]}
    assert board["digits accuracy"]["order"] == "desc" and board["digits accuracy"]["value"] >= 0.95
    _same_as_nnkit_grade(root / "submission", doc)


def test_buggy_submission_in_a_zipped_folder(tmp_path: Path, subs: dict, zips: dict) -> None:
    files = _files(subs["buggy"], tmp_path / "work", prefix="my_work/")
    root = _tree(tmp_path, zips["after_due_date"], files)
    doc, _ = _run(root)
    _check_spec(doc, "after_due_date")
    failed = [t for t in doc["tests"] if t["status"] == "failed"]
    assert failed and all(t["output"] for t in failed)
    assert all(t["name"].startswith(("TwoLayerNet:", "best_model")) for t in failed)
    assert 0 < doc["score"]
    total = doc["output"].splitlines()[1]  # "Score: x / y"
    score, best = (float(v) for v in total.removeprefix("Score: ").split(" / "))
    assert score == doc["score"] < best


def test_hostile_submission(tmp_path: Path, subs: dict, zips: dict) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)
    base = tmp_path / "gs"
    root = base / "autograder"
    targets = {
        "results": str(root / "results" / "results.json"),
        "results_dir": str(root / "results"),
        "kit": str(root / "source" / "kit" / "nnkit" / "__init__.py"),
        "outside": str(outside),
        "submission": str(root / "submission"),
    }
    attack = ATTACK.replace("_TARGETS", repr(json.dumps(targets))).strip()
    hostile = _inject(subs["buggy"], attack, "_attack()")
    root = _tree(base, zips["after_published"], _files(hostile, tmp_path / "work"))
    kit_before = _digest(root / "source")
    doc, _ = _run(root)
    time.sleep(2)  # a daemon left behind would rewrite results.json now
    after = json.loads((root / "results" / "results.json").read_text())
    assert after == doc
    _check_spec(doc)
    assert doc["score"] < 1000 and any(t["status"] == "failed" for t in doc["tests"])
    assert _digest(root / "source") == kit_before
    assert not (outside / "pwned").exists() and not (root / "submission" / "pwned").exists()
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    assert "the sandbox worker was replaced" in doc["output"]  # the attack ran (and forked)
    # the attack earns nothing: no test scores more than for the plain buggy code
    plain_root = _tree(
        tmp_path / "plain", zips["after_published"], _files(subs["buggy"], tmp_path / "w2")
    )
    plain, _ = _run(plain_root)
    mine = {t["name"]: t["score"] for t in doc["tests"]}
    assert all(mine.get(t["name"], 0) <= t["score"] for t in plain["tests"])
    assert doc["score"] <= plain["score"]


def test_no_sandbox_runs_nothing_and_says_so(tmp_path: Path, subs: dict, zips: dict) -> None:
    marker = tmp_path / "ran"
    probe = _inject(
        subs["correct"], f"def _probe():\n    open({str(marker)!r}, 'w').write('x')", "_probe()"
    )
    root = _tree(tmp_path, zips["after_published"], _files(probe, tmp_path / "work"))
    doc, _ = _run(root, NNKIT_SANDBOX_DISABLE="namespaces,landlock")
    assert spec_problems(doc) == [] and "max_score" not in doc
    assert doc["score"] == 0 and "no sandbox" in doc["output"]
    assert [t["status"] for t in doc["tests"]] == ["failed"]
    assert doc["tests"][0]["visibility"] == "visible"
    assert not marker.exists()
