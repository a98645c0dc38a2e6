"""Reading the course table out of source notebooks: the cells it reads, its one-line errors,
the order of notebooks, and what makes a source notebook stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from nnkit.course.notebook import SourceError, in_order, read_spec
from nnkit.course.source_notebooks import ROOT, grade_cells, sync

pytestmark = pytest.mark.course


def _graded(source: str, grade_id: str = "t", points: float = 2) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": points}
    return cell


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_the_tag_line_names_the_cell_and_its_kind() -> None:
    nb = _notebook(
        nbformat.v4.new_markdown_cell("## 3. Layers"),
        _graded("check()\n### BEGIN HIDDEN TESTS\n# nnkit-hidden-suite: a, b: c\n", "t1"),
        _graded("# nnkit-hidden-suite: x, y (checked outside the kernel by nnkit)", "t2", points=1),
    )
    spec = read_spec(nb, "fully_connected", "N")
    assert [(g.cell_id, g.points, g.names, g.kind) for g in spec.grade_cells] == [
        ("t1", 2.0, ("a", "b: c"), "engine"),
        ("t2", 1.0, ("x", "y"), "answer"),
    ]
    assert spec.sections == {"t1": "3. Layers", "t2": "3. Layers"}


def test_a_graded_cell_without_its_tag_line_is_refused() -> None:
    with pytest.raises(SourceError, match=r"N.ipynb, cell t: .*nnkit-hidden-suite"):
        read_spec(_notebook(_graded("assert True")), "a", "N")
    with pytest.raises(SourceError, match=r"'\(graded by magic\)' is not one of"):
        read_spec(_notebook(_graded("# nnkit-hidden-suite: f (graded by magic)")), "a", "N")


def test_the_committed_table_has_every_kind() -> None:
    kinds = {g.kind for a in ("two_layer_net", "fully_connected") for g in grade_cells(a).values()}
    assert kinds == {"engine", "answer", "threshold", "manual"}


def test_a_notebook_that_continues_another_comes_after_it() -> None:
    folder = ROOT / "source" / "fully_connected"
    paths = sorted(folder.glob("*.ipynb"))
    assert [p.stem for p in paths] == ["DeepNetworks", "FullyConnectedNets"]
    assert [p.stem for p in in_order(paths)] == ["FullyConnectedNets", "DeepNetworks"]


def test_outputs_and_edited_reference_code_make_a_notebook_stale(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "source" / "two_layer_net", tmp_path / "source" / "two_layer_net")
    path = tmp_path / "source" / "two_layer_net" / "TwoLayerNet.ipynb"
    assert sync("two_layer_net", tmp_path, write=False) == []
    nb = nbformat.read(str(path), 4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="hello")]
    nbformat.write(nb, str(path))
    assert sync("two_layer_net", tmp_path, write=False) == [path]
    nb = nbformat.read(str(path), 4)
    next(c for c in nb.cells if c.cell_type == "code").outputs = []
    nbformat.write(nb, str(path))
    assert sync("two_layer_net", tmp_path, write=False) == []
    ref = next(c for c in nb.cells if "reference" in c.metadata.get("nnkit", {}))
    ref.source = ref.source.replace("### END SOLUTION", "x = 1\n### END SOLUTION", 1)
    nbformat.write(nb, str(path))
    assert sync("two_layer_net", tmp_path, write=False) == [path]
