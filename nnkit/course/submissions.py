"""Synthetic student submissions made from a release (for the demo and the course tests).

Each maker returns notebooks in the release's format: the reference solution filled into
the release, the release untouched (stubs only), realistic bugs, and hostile variants that
attack nbgrader's in-kernel grading.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from .notebook import in_order

Notebooks = dict[str, NotebookNode]  # file name -> notebook


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def read_release(release_dir: Path) -> Notebooks:
    """The release notebooks of one assignment."""
    return {
        p.name: nbformat.read(str(p), as_version=4) for p in sorted(release_dir.glob("*.ipynb"))
    }


def fill_reference(release: Notebooks, source_dir: Path) -> Notebooks:
    """The release with every solution cell replaced by the source notebook's cell (markers
    removed), as a student who solved everything would hand it in."""
    out = {}
    for name, nb in release.items():
        src = nbformat.read(str(source_dir / name), as_version=4)
        by_id = {_grade_id(c): c for c in src.cells if _grade_id(c)}
        nb = nbformat.from_dict(nbformat.v4.upgrade(nb) if nb.nbformat < 4 else nb)
        nb = nbformat.reads(nbformat.writes(nb), as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") and _grade_id(cell) in by_id:
                lines = by_id[_grade_id(cell)].source.split("\n")
                cell.source = "\n".join(
                    ln
                    for ln in lines
                    if "### BEGIN SOLUTION" not in ln and "### END SOLUTION" not in ln
                )
        out[name] = nb
    return out


def replace_in_cell(nbs: Notebooks, grade_id: str, old: str, new: str) -> Notebooks:
    """A copy with ``old`` replaced by ``new`` in the cell ``grade_id`` (must occur)."""
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        for cell in nb.cells:
            if _grade_id(cell) == grade_id:
                if old not in cell.source:
                    raise ValueError(f"{old!r} not in cell {grade_id}")
                cell.source = cell.source.replace(old, new)
                return out
    raise KeyError(grade_id)


def input_transformer_attack(nbs: Notebooks, grade_id: str) -> Notebooks:
    """A solution cell that installs an IPython input transformer rewriting every later
    cell to ``pass`` (so in-kernel tests could never fail)."""
    attack = (
        "\n\ntry:\n"
        "    import reference  # the instructor's solutions, if the kernel could see them\n"
        "    print('PROBE: reference importable')\n"
        "except ImportError:\n"
        "    print('PROBE: reference blocked')\n"
        "\n\ndef _everything_passes(lines):\n"
        "    return ['pass\\n']\n\n\n"
        "get_ipython().input_transformers_post.append(_everything_passes)\n"
    )
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        for cell in nb.cells:
            if _grade_id(cell) == grade_id:
                cell.source += attack
                return out
    raise KeyError(grade_id)


def delete_cell(nbs: Notebooks, grade_id: str) -> Notebooks:
    """A copy without the cell ``grade_id``."""
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        nb.cells = [c for c in nb.cells if _grade_id(c) != grade_id]
    return out


def edit_test_cell(nbs: Notebooks, grade_id: str) -> Notebooks:
    """A copy whose test cell ``grade_id`` is replaced by code that always succeeds, with its
    metadata edited too (unlocked, more points, no longer marked as a grade cell)."""
    out = {k: nbformat.reads(nbformat.writes(v), as_version=4) for k, v in nbs.items()}
    for nb in out.values():
        for cell in nb.cells:
            if _grade_id(cell) == grade_id:
                cell.source = "print('all tests passed')\n100"
                meta = cell.metadata.nbgrader
                meta["points"] = 1000
                meta["locked"] = False
                meta["grade"] = False
                cell.metadata["editable"] = True
                cell.metadata["deletable"] = True
                return out
    raise KeyError(grade_id)


def write_submission(nbs: Notebooks, dest: Path, extra_files: list[Path] = ()) -> Path:
    """Write notebooks (and e.g. saved model files) into submitted/<s>/<a>/ style ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name, nb in nbs.items():
        nbformat.write(nb, str(dest / name))
    for f in extra_files:
        shutil.copy2(f, dest / f.name)
    return dest


def execute(dest: Path, library: Path, timeout: int = 600) -> list[Path]:
    """Run the notebooks of ``dest`` in order, as a student would before submitting (outputs
    and saved model files appear; errors are kept as outputs), with the release's library
    (``library``, a release's nnlib/) next to them while they run. Returns the model files."""
    from nbclient import NotebookClient

    lib = dest / "nnlib"
    shutil.copytree(library, lib)
    try:
        for p in in_order(sorted(dest.glob("*.ipynb"))):
            nb = nbformat.read(str(p), as_version=4)
            NotebookClient(
                nb,
                timeout=timeout,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": str(dest)}},
            ).execute()
            nbformat.write(nb, str(p))
    finally:
        shutil.rmtree(lib)
    return sorted(dest.glob("best_model_*.npz"))


Maker = Callable[[Notebooks], Notebooks]
