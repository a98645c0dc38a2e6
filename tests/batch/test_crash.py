"""A grading process that dies costs only the submission that killed it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import GRADE_KWARGS, lost_apis, result_files, write_class

from nnkit.batch.runner import BatchConfig, run_batch

pytestmark = pytest.mark.batch


def test_dead_pool_process_costs_one_submission(tmp_path: Path) -> None:
    kinds = {"ann": "correct", "bob": "buggy", "crash": "correct"}
    sub = write_class(tmp_path, kinds)
    cfg = BatchConfig(
        root=sub,
        workers=2,
        grade_fn="batch_helpers:grade_or_die",
        grade_kwargs=GRADE_KWARGS,
        progress=False,
        db_url="",
        report=False,
    )
    summary = run_batch(cfg)
    assert summary.graded == 3 and summary.errors == 1
    records = {p.stem: json.loads(p.read_bytes()) for p in result_files(tmp_path / "graded")}
    assert records["crash"]["status"] == "error"
    assert "the grading process died" in records["crash"]["messages"][0]
    for student in ("ann", "bob"):
        assert records[student]["status"] == "graded"
        assert lost_apis(records[student]) == ({"relu_backward"} if student == "bob" else set())

    again = run_batch(cfg)  # errors are graded again by the next run, the rest is kept
    assert again.graded == 1 and again.skipped == 2
