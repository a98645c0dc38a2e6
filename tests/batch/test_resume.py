"""A batch killed with SIGKILL mid-way resumes: every submission graded once, gradebook right."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import GRADE_KWARGS, lost_apis, result_files, write_class

from nnkit.batch.gradebook import read_gradebook

pytestmark = pytest.mark.batch

ASSIGNMENT = "layers_hw"


def _left_over(marker: str) -> list[int]:
    """PIDs of live processes whose environment or working directory mentions ``marker``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            stat = (d / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            env = (d / "environ").read_bytes()
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if marker.encode() in env or cwd.startswith(marker):
            found.append(int(d.name))
    return found


def _batch(sub: Path, out: Path, db: str, env: dict[str, str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nnkit",
        "grade",
        str(sub),
        "--workers",
        "1",
        "--no-progress",
        "--out",
        str(out),
        "--db",
        db,
        "--timeout",
        str(GRADE_KWARGS["timeout"]),
    ]


def test_sigkill_mid_batch_then_rerun(tmp_path: Path) -> None:
    kinds = {f"s{i:02d}": ("buggy" if i % 3 == 1 else "correct") for i in range(7)}
    sub = write_class(tmp_path, kinds, ASSIGNMENT)
    out = tmp_path / "graded"
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    cmd = _batch(sub, out, db, env)

    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(result_files(out)) < 2:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "no results within 120 s"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_bytes() for p in result_files(out)}
    assert 2 <= len(before) < len(kinds), "the kill came too late to test anything"

    # Nothing of the killed batch keeps running (pool workers die with their parent).
    deadline = time.monotonic() + 20
    while (left := _left_over(str(tmp))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left behind: {left}"

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    n = len(kinds)
    assert f"{n - len(before)} graded now, {len(before)} already graded" in rerun.stdout

    files = result_files(out)
    assert [p.stem for p in files] == sorted(kinds)  # exactly one result per submission
    assert not list(out.rglob("*.tmp"))
    for p in files:
        if p.name in before:
            assert p.read_bytes() == before[p.name]  # graded results were not redone
    records = {p.stem: json.loads(p.read_bytes()) for p in files}
    for student, kind in kinds.items():
        rec = records[student]
        assert rec["status"] == "graded" and rec["student"] == student
        assert rec["max_score"] > 0
        assert lost_apis(rec) == (set() if kind == "correct" else {"relu_backward"}), rec

    assert read_gradebook(db, ASSIGNMENT) == pytest.approx(
        {s: r["score"] for s, r in records.items()}
    )
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == sorted(kinds)
    assert all(float(r["score"]) == records[r["student"]]["score"] for r in rows)
    assert len(list((out / "gradescope" / ASSIGNMENT).glob("*.json"))) == n

    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert f"0 graded now, {n} already graded" in third.stdout
    assert read_gradebook(db, ASSIGNMENT) == pytest.approx(
        {s: r["score"] for s, r in records.items()}
    )
