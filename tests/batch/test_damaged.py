"""Damaged submissions: each gets a clear message, the rest of it and of the batch is graded.

One batch (real engine, real gradebook) grades a small class in which every student has one
kind of damage; each test below checks one kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import GRADE_KWARGS, HEADER, function_sources, notebook

from nnkit.batch.gradebook import read_gradebook
from nnkit.batch.runner import BatchConfig, run_batch

pytestmark = pytest.mark.batch

A = "layers_hw"
STUB = "    raise NotImplementedError\n"


def _release_cells(filled: bool) -> list[tuple[str, str, str | None]]:
    src = function_sources()

    def code(*names: str) -> str:
        if filled:
            return "\n\n\n".join(src[n] for n in names)
        return "\n\n\n".join(src[n].split('"""')[0] + '""" """\n' + STUB for n in names)

    return [
        ("markdown", "# Layers\nFill in the functions.", "intro"),
        ("code", HEADER, "setup"),
        ("code", code("relu_forward"), "relu_forward"),
        ("code", code("relu_backward"), "relu_backward"),
        ("code", code("affine_forward", "affine_backward"), "affine"),
        ("code", "model = None\n# save_model('best_model_digits.npz', model)", "train"),
    ]


def _course(root: Path) -> None:
    rel = root / "release"
    (rel / A).mkdir(parents=True)
    (rel / A / "layers.ipynb").write_text(json.dumps(notebook(_release_cells(False))))
    (rel / A / "train_note.ipynb").write_text(
        json.dumps(notebook([("code", "save_model('best_model_digits.npz', model)", "save")]))
    )
    (rel / "other_hw").mkdir()
    (rel / "other_hw" / "convnet.ipynb").write_text(
        json.dumps(
            notebook(
                [
                    ("markdown", "# Convolutions", "conv_intro"),
                    ("code", "def conv_forward_naive(x, w, b, p):\n" + STUB, "conv_forward"),
                ]
            )
        )
    )


def _good() -> dict[str, Any]:
    return notebook(_release_cells(True))


def _write(d: Path, name: str, nb: dict[str, Any] | bytes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    data = nb if isinstance(nb, bytes) else json.dumps(nb, indent=1).encode()
    (d / name).write_bytes(data)


def _class(sub: Path, course: Path) -> None:
    model = b"not really a model"
    good = _good()
    _write(sub / "good" / A, "layers.ipynb", good)
    (sub / "good" / A / "best_model_digits.npz").write_bytes(model)
    lib = sub / "good" / A / "nnlib"  # the library shipped in the release: not graded
    lib.mkdir()
    sigmoid = function_sources(("sigmoid_forward",))["sigmoid_forward"]
    (lib / "extra.py").write_text(HEADER + sigmoid)

    text = json.dumps(good, indent=1)
    _write(sub / "bad_json" / A, "layers.ipynb", text[: len(text) // 2].encode())
    _write(sub / "bad_json" / A, "extra.ipynb", good)

    _write(sub / "other_assignment" / A, "layers.ipynb", good)
    other = (course / "release" / "other_hw" / "convnet.ipynb").read_bytes()
    _write(sub / "other_assignment" / A, "convnet.ipynb", other)

    dup = _good()
    dup["cells"][2]["id"] = dup["cells"][3]["id"] = "same-id"
    _write(sub / "dup_ids" / A, "layers.ipynb", dup)

    deleted = _good()
    del deleted["cells"][4]
    _write(sub / "deleted_cells" / A, "layers.ipynb", deleted)

    renamed = _good()
    renamed["cells"][3]["source"] = renamed["cells"][3]["source"].replace(
        "def relu_backward", "def relu_bwd"
    )
    _write(sub / "renamed" / A, "layers.ipynb", renamed)

    _write(sub / "no_code" / A, "layers.ipynb", notebook([("markdown", "I ran out of time.", "x")]))

    big = _good()
    big["cells"][2]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "loss 2.3\n" * 400_000}
    ]
    _write(sub / "big_outputs" / A, "layers.ipynb", big)

    latin = json.dumps(_good(), indent=1, ensure_ascii=False).replace("Layers", "Schicht \udcff")
    _write(sub / "non_utf8" / A, "layers.ipynb", latin.encode("utf-8", "surrogateescape"))

    (sub / "empty" / A).mkdir(parents=True)

    _write(sub / "no_model" / A, "layers.ipynb", good)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, Any]], Path]:
    root = tmp_path_factory.mktemp("course")
    _course(root)
    _class(root / "submitted", root)
    summary = run_batch(
        BatchConfig(
            root=root / "submitted",
            workers=2,
            grade_kwargs=GRADE_KWARGS,
            progress=False,
        )
    )
    assert summary.errors == 0
    out = root / "graded" / "results" / A
    records = {
        p.stem: json.loads(p.read_text()) for p in out.glob("*.json") if ".time" not in p.name
    }
    return records, root


def _messages(rec: dict[str, Any]) -> str:
    return "\n".join(rec["messages"])


def _full(rec: dict[str, Any], api: str) -> bool:
    tests = [t for t in rec["tests"] if t["name"].split(":")[0] == api]
    return bool(tests) and all(t["score"] == t["max_score"] for t in tests)


def test_every_submission_has_a_result_and_a_gradebook_entry(graded) -> None:
    records, root = graded
    assert len(records) == 11
    assert all(r["status"] == "graded" for r in records.values())
    db = f"sqlite:///{root / 'gradebook.db'}"
    assert read_gradebook(db, A) == pytest.approx({s: r["score"] for s, r in records.items()})
    good = records["good"]
    assert _full(good, "relu_forward") and _full(good, "affine_backward")
    sig = [t for t in good["tests"] if t["name"].startswith("sigmoid_forward:")]
    assert sig and all(t["score"] == 0 for t in sig)  # only nnlib/ defines it: not graded
    assert not any("saved model" in m for m in good["messages"])


def test_invalid_json(graded) -> None:
    rec = graded[0]["bad_json"]
    assert "layers.ipynb: not a readable notebook (invalid JSON at line" in _messages(rec)
    assert _full(rec, "relu_forward") and _full(rec, "relu_backward")  # extra.ipynb graded


def test_notebook_of_another_assignment(graded) -> None:
    rec = graded[0]["other_assignment"]
    assert "convnet.ipynb: this is a notebook of assignment 'other_hw'" in _messages(rec)
    assert not any(t["name"].startswith("conv_forward_naive") for t in rec["tests"])
    assert _full(rec, "relu_forward")


def test_duplicated_cell_ids(graded) -> None:
    rec = graded[0]["dup_ids"]
    assert "duplicated or invalid cell ids (same-id) were renamed" in _messages(rec)
    assert _full(rec, "relu_forward") and _full(rec, "relu_backward")


def test_deleted_cells(graded) -> None:
    rec = graded[0]["deleted_cells"]
    assert "1 cell(s) of the release are missing or were deleted (affine)" in _messages(rec)
    assert "`affine_forward` is not defined" in _messages(rec)
    assert _full(rec, "relu_forward") and not _full(rec, "affine_forward")


def test_renamed_function(graded) -> None:
    rec = graded[0]["renamed"]
    assert "`relu_backward` is not defined (renamed to `relu_bwd`?)" in _messages(rec)
    assert not _full(rec, "relu_backward")
    assert _full(rec, "relu_forward") and _full(rec, "affine_forward")


def test_notebook_without_code(graded) -> None:
    rec = graded[0]["no_code"]
    assert "layers.ipynb: the notebook has no code" in _messages(rec)
    assert rec["score"] == 0


def test_enormous_outputs(graded) -> None:
    rec = graded[0]["big_outputs"]
    assert "MB of cell outputs were dropped" in _messages(rec)
    assert _full(rec, "relu_forward") and _full(rec, "affine_backward")


def test_non_utf8_bytes(graded) -> None:
    rec = graded[0]["non_utf8"]
    assert "layers.ipynb: not valid UTF-8" in _messages(rec)
    assert _full(rec, "relu_forward") and _full(rec, "affine_backward")


def test_empty_folder(graded) -> None:
    rec = graded[0]["empty"]
    assert "the submission folder is empty" in _messages(rec)
    assert rec["score"] == 0


def test_missing_saved_model(graded) -> None:
    rec = graded[0]["no_model"]
    assert "saved model 'best_model_digits.npz' is missing" in _messages(rec)
    assert _full(rec, "relu_forward") and _full(rec, "affine_backward")
