"""A batch of a course assignment fills the grade cells nbgrader recorded for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nnkit.batch.runner import BatchConfig, run_batch
from nnkit.course.autograde import gradebook_scores
from nnkit.course.source_notebooks import ROOT
from nnkit.course.submissions import fill_reference, read_release, write_submission

pytestmark = pytest.mark.batch

A = "two_layer_net"


def test_course_cells_in_the_gradebook(tmp_path: Path) -> None:
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    for top in ("source", "release"):
        shutil.copytree(ROOT / top / A, tmp_path / top / A, symlinks=False)
    release = read_release(tmp_path / "release" / A)
    sub = tmp_path / "submitted"
    write_submission(fill_reference(release, tmp_path / "source" / A), sub / "alice" / A)
    write_submission(release, sub / "bob" / A)

    summary = run_batch(BatchConfig(root=sub, workers=2, progress=False))
    assert summary.graded == 2 and summary.errors == 0

    for student in ("alice", "bob"):
        rec = json.loads((tmp_path / "graded" / "results" / A / f"{student}.json").read_text())
        in_book = gradebook_scores(A, student, tmp_path)
        for nb, cell, score, max_score in rec["cells"]:
            assert in_book[(Path(nb).stem, cell)] == pytest.approx((score, max_score))
    alice = gradebook_scores(A, "alice", tmp_path)
    bob = gradebook_scores(A, "bob", tmp_path)
    assert sum(s for s, _ in alice.values()) > sum(s for s, _ in bob.values())
    full = [k for k, (s, m) in alice.items() if s == m and m > 0]
    assert full and all(bob[k][0] < bob[k][1] for k in full)

    again = run_batch(BatchConfig(root=sub, workers=2, progress=False))
    assert again.graded == 0 and again.skipped == 2
    assert gradebook_scores(A, "alice", tmp_path) == alice
