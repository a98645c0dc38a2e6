"""What a release gives students besides the notebooks: a generated README, no private
reference helpers, formulas that need no MathJax."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from nnkit.course.notebook import SourceError, refresh_references
from nnkit.course.release import verify_release
from nnkit.course.source_notebooks import (
    ASSIGNMENTS,
    ROOT,
    grade_cells,
    notebook_specs,
    readme_text,
)

pytestmark = pytest.mark.course


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_readme_is_generated_from_the_content(assignment: str) -> None:
    text = readme_text(assignment, notebook_specs(assignment))
    committed = (ROOT / "source" / assignment / "README.md").read_text()
    assert committed == text, f"source/{assignment}/README.md is stale: run sync-notebooks"
    assert (ROOT / "release" / assignment / "README.md").read_text() == text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_readme_says_what_to_fill_how_to_check_and_submit(assignment: str) -> None:
    text = readme_text(assignment, notebook_specs(assignment))
    for heading in ("## Setup", "## What to fill in", "## How to check", "## How to submit"):
        assert heading in text
    assert "Python 3.10 or newer" in text
    for spec in notebook_specs(assignment):
        assert f"`{spec.name}.ipynb`" in text
        for _, task in spec.todos:
            assert task in text
    total = sum(g.points for g in grade_cells(assignment).values())
    assert f"| | total | {total:g} | |" in text
    assert "YOUR CODE HERE" in text


def test_readme_mentions_model_files_only_where_a_model_is_saved() -> None:
    for assignment, saves in (("two_layer_net", True), ("convnets", False)):
        text = readme_text(assignment, notebook_specs(assignment))
        assert ("best_model_<dataset>.npz" in text) == saves


def test_private_reference_helpers_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nnkit_helper_demo.py").write_text(
        "def _helper(x):\n    return x + 1\n\n\n"
        'def public(x):\n    """x + 1."""\n    return _helper(x)\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("# nnkit: reference nnkit_helper_demo public"))
    with pytest.raises(SourceError, match="_helper would reach students"):
        refresh_references(nb, "X", set())


def _copy_release(course: Path, tmp_path: Path, assignment: str) -> Path:
    dest = tmp_path / assignment
    shutil.copytree(course / "release" / assignment, dest)
    return dest


def test_release_check_catches_helpers_mathjax_and_a_missing_readme(
    course: Path, tmp_path: Path
) -> None:
    release = _copy_release(course, tmp_path, "two_layer_net")
    p = release / "TwoLayerNet.ipynb"
    nb = nbformat.read(str(p), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("def _helper(x):\n    raise NotImplementedError()"))
    nb.cells.append(nbformat.v4.new_markdown_cell(r"The loss is $\frac{1}{N} \sum_i L_i$."))
    nbformat.write(nb, str(p))
    (release / "README.md").unlink()
    (release / "extra.html").write_text('<script src="https://cdn.example/mathjax.js"></script>')
    problems = verify_release("two_layer_net", release)
    assert any("private helper _helper" in q for q in problems)
    assert any("LaTeX needs MathJax" in q for q in problems)
    assert any("README.md: missing" in q for q in problems)
    assert any("extra.html: refers to MathJax" in q for q in problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_defines_only_api_names(assignment: str) -> None:
    assert verify_release(assignment, ROOT / "release" / assignment) == []
