"""The committed notebooks and releases are current, leak-free and runnable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nnkit.course.notebook import BEGIN, HIDDEN_TAG, in_order, solution_source
from nnkit.course.release import diff_trees, verify_release
from nnkit.course.scoring import covers, score_cells
from nnkit.course.source_notebooks import (
    ASSIGNMENTS,
    ROOT,
    grade_cells,
    library_files,
    notebook_specs,
    sync,
)
from nnkit.grade import grade

pytestmark = pytest.mark.course

ABSOLUTE = re.compile(r"(/work/|/home/|/root/|/Users/|/tmp/|[A-Z]:\\\\)")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebooks_are_current(assignment: str) -> None:
    """Reference cells hold the reference's code, checklists and README are current."""
    stale = sync(assignment, write=False)
    assert not stale, f"stale: {stale}; run `nnkit sync-notebooks {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_library_is_one_symlink_per_library_file(assignment: str) -> None:
    lib = ROOT / "source" / assignment / "nnlib"
    links = {str(p.relative_to(lib)): p for p in lib.rglob("*") if p.is_symlink()}
    files = {str(p.relative_to(lib)) for p in lib.rglob("*") if p.is_file() and not p.is_symlink()}
    assert not files, f"plain files in source/{assignment}/nnlib: {files}"
    expected = library_files()
    assert set(links) == set(expected)
    for rel, link in links.items():
        assert not os.path.isabs(os.readlink(link))
        assert link.resolve() == expected[rel].resolve()


def test_solution_blocks_equal_the_reference() -> None:
    """Every solution region is the body of the reference function it stands for."""
    import reference.layers

    src, names = solution_source(reference.layers, ["affine_forward"])
    body = src.split(BEGIN)[1].split("### END SOLUTION")[0]
    assert "x.reshape(x.shape[0], -1) @ w + b" in body
    assert names == ["Cache", "affine_forward"]
    nb = notebook_specs("fully_connected")[0]
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "affine")
    assert src.split("def affine_forward")[1] in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_current(course: Path, assignment: str) -> None:
    stale = diff_trees(ROOT / "release" / assignment, course / "release" / assignment)
    assert not stale, f"release/{assignment} is stale ({stale}): run `nnkit release {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_clean(assignment: str) -> None:
    assert verify_release(assignment, ROOT / "release" / assignment) == []


def test_leak_check_catches_a_leak(course: Path, tmp_path: Path) -> None:
    leaky = tmp_path / "fully_connected"
    import shutil

    shutil.copytree(course / "release" / "fully_connected", leaky)
    p = leaky / "FullyConnectedNets.ipynb"
    nb = nbformat.read(str(p), as_version=4)
    nb.cells[-1].source += "\n    dx = (dout @ w.T).reshape(x.shape)\n# " + HIDDEN_TAG
    nbformat.write(nb, str(p))
    problems = verify_release("fully_connected", leaky)
    assert any("solution line" in q for q in problems)
    assert any(HIDDEN_TAG in q for q in problems)


def test_committed_notebooks_have_no_outputs_or_machine_paths() -> None:
    for top in ("source", "release"):
        for p in sorted((ROOT / top).glob("*/*.ipynb")):
            text = p.read_text()
            assert not ABSOLUTE.search(text), f"{p} holds an absolute path"
            nb = nbformat.reads(text, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code":
                    assert not cell.outputs and cell.execution_count is None, p


def _execute(path: Path, allow_errors: bool) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return nb


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebooks_run_and_earn_full_marks(course: Path, assignment: str) -> None:
    """Top to bottom on the bundled data; then the hidden suites give the solved notebooks
    (and the models they saved) every point of every autograded cell."""
    folder = course / "source" / assignment
    notebooks = in_order(sorted(folder.glob("*.ipynb")))
    for p in notebooks:
        _execute(p, allow_errors=False)
    result = grade(notebooks, "instructor")
    table = grade_cells(assignment)
    orphans = [
        t.name for t in result.tests if not any(covers(g.names, t.name) for g in table.values())
    ]
    assert not orphans, f"hidden tests that no grade cell counts: {orphans}"
    cells = score_cells(assignment, notebooks, result)
    assert cells
    lost = [(c.cell_id, c.score, c.max_score, c.detail) for c in cells if c.score != c.max_score]
    assert not lost


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_notebooks_stop_at_the_first_todo(
    course: Path, assignment: str, tmp_path: Path
) -> None:
    import shutil

    work = tmp_path / assignment
    shutil.copytree(course / "release" / assignment, work)
    for p in in_order(sorted(work.glob("*.ipynb"))):
        with pytest.raises(CellExecutionError) as err:
            _execute(p, allow_errors=False)
        assert err.value.ename == "NotImplementedError", (
            p.name,
            err.value.ename,
            str(err.value)[-800:],
        )
