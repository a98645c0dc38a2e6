"""A batch on a Dask LocalCluster (loopback) gives results byte-identical to the local pool's."""

from __future__ import annotations

import json
from pathlib import Path

import distributed
import pytest
from batch_helpers import GRADE_KWARGS, lost_apis, result_files, write_class

from nnkit.batch.runner import BatchConfig, run_batch

pytestmark = pytest.mark.batch


def test_local_cluster_results_are_byte_identical(tmp_path: Path) -> None:
    sub = write_class(
        tmp_path, {"ann": "correct", "bob": "buggy", "cy": "hostile", "di": "correct"}
    )
    (sub / "ed" / "layers_hw").mkdir(parents=True)  # an empty folder, graded with a message
    common = {
        "root": sub,
        "grade_kwargs": GRADE_KWARGS,
        "progress": False,
        "db_url": "",
    }

    local = run_batch(BatchConfig(**common, workers=2, out_dir=tmp_path / "local"))
    assert local.graded == 5 and local.errors == 0

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        remote = run_batch(
            BatchConfig(**common, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address)
        )
    assert remote.graded == 5 and remote.errors == 0

    a, b = result_files(tmp_path / "local"), result_files(tmp_path / "dask")
    assert [p.relative_to(tmp_path / "local") for p in a] == [
        p.relative_to(tmp_path / "dask") for p in b
    ]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    assert (tmp_path / "local" / "grades.csv").read_bytes() == (
        tmp_path / "dask" / "grades.csv"
    ).read_bytes()

    records = {p.stem: json.loads(p.read_bytes()) for p in a}
    assert lost_apis(records["ann"]) == set() and records["ann"]["score"] > 0
    assert lost_apis(records["bob"]) == {"relu_backward"}
    assert lost_apis(records["cy"]) == {"relu_backward"}  # hangs: the per-call limit stops it
    assert any("empty" in m for m in records["ed"]["messages"])
