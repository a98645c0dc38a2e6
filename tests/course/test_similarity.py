"""``nnkit similarity``: solution regions only (the release's starter code never counts),
renamed copies found, past terms as a reference corpus, an HTML report with side-by-side code."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from nnkit.cli import main
from nnkit.course.source_notebooks import ROOT
from nnkit.course.submissions import fill_reference, read_release, write_submission
from nnkit.similarity import similarity

pytestmark = pytest.mark.course

A = "two_layer_net"
ALT = Path(__file__).resolve().parents[1] / "submissions" / "correct_alt" / "neural_net.py"


OWN_TUNING = """results = {}
for reg in (0.01, 0.1, 1.0):
    net = TwoLayerNet(X_train.shape[1], 100, num_classes)
    hist = net.train(X_train, y_train, X_val, y_val, learning_rate=2e-3, reg=reg, num_iters=800)
    results[reg] = (np.mean(net.predict(X_val) == y_val), net)
best_net = max(results.values(), key=lambda t: t[0])[1]
"""


def _set_cell(nbs: dict, grade_id: str, source: str) -> dict:
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source = source
    return out


def _renamed(source: str) -> str:
    """A disguised copy: other names, other comments, blank lines moved."""
    for old, new in (("scores", "logits"), ("probs", "p_hat"), ("grads", "g"), ("loss", "L")):
        source = re.sub(rf"\b{old}\b", new, source)
    return "# my own work!\n" + source.replace("\n\n", "\n\n\n")


def _cell(nbs: dict, grade_id: str) -> str:
    for nb in nbs.values():
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                return cell.source
    raise KeyError(grade_id)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("similar")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "release" / A, root / "release" / A, symlinks=False)
    release = read_release(root / "release" / A)
    ref = fill_reference(release, ROOT / "source" / A)
    alt_src = ALT.read_text().split("class TwoLayerNet:", 1)[1]
    alt = _set_cell(ref, "two_layer_net", "class TwoLayerNet:" + alt_src)
    alt = _set_cell(alt, "tuning", OWN_TUNING)
    alt = _set_cell(alt, "t1_answers", "dz_dw0, dz_dw1, dz_db0, dz_db1 = -0.2, 0.4, -0.2, 1.0")
    sub = root / "submitted"
    write_submission(ref, sub / "alice" / A)
    write_submission(
        _set_cell(ref, "two_layer_net", _renamed(_cell(ref, "two_layer_net"))), sub / "bob" / A
    )
    write_submission(alt, sub / "dave" / A)
    write_submission(release, sub / "stub1" / A)  # starter code only: similar to nothing
    write_submission(release, sub / "stub2" / A)
    past = root / "past_term" / "submitted"
    write_submission(alt, past / "eve" / A)  # dave's code, handed in a year ago
    return root


def test_copies_found_starter_code_excluded(course: Path) -> None:
    rep = similarity(course, A, [course / "past_term"])
    assert rep.students == 3 and rep.past == 1
    assert sorted(rep.empty) == ["stub1", "stub2"]  # the release alone is no code of one's own
    pairs = {(p.student, p.other): p for p in rep.pairs}
    pairs.update({(p.other, p.student): p for p in rep.pairs})
    assert pairs[("alice", "bob")].similarity > 0.9  # renamed names do not hide a copy
    assert pairs[("dave", "past_term/eve")].similarity > 0.9  # past terms are a reference
    # independent implementations share little (short numpy solutions look alike, though)
    independent = pairs.get(("alice", "dave"))
    assert independent is None or max(independent.similarity, independent.other_similarity) < 0.5
    assert not any("stub" in a or "stub" in b for a, b in pairs)

    html = rep.html.read_text()
    assert (
        "current/alice.py" in html and "current/bob.py" in html and "past/past_term/eve.py" in html
    )
    assert "highlight-red" in html and "highlight-green" in html  # the side-by-side views
    assert str(tempfile_prefix()) not in html
    rows = list(csv.DictReader(open(rep.csv)))
    assert {(r["student"], r["other"]) for r in rows} == {(p.student, p.other) for p in rep.pairs}


def tempfile_prefix() -> str:
    import tempfile

    return tempfile.gettempdir() + "/nnkit-similarity-"


def test_command_line(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similarity", A, "--course", str(course)]) == 0
    said = capsys.readouterr().out
    assert "3 submission(s) compared (0 from past terms)" in said
    assert (course / "reports" / A / "similarity" / "similarity.html").is_file()
    assert main(["similarity", "nope", "--course", str(course)]) == 2
