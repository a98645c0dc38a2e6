"""CI's mutation sample: a fixed sample of cosmic-ray mutants of reference/ must all be
killed by the hidden suites or be listed as equivalent (tools/mutation_equivalents.py).

The full run (every mutant) is ``python tools/mutation.py full``; its report is
docs/mutation-report.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.suites, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SIZE = 40


def test_fixed_mutation_sample_has_no_new_survivor(tmp_path: Path) -> None:
    pytest.importorskip("cosmic_ray")
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "mutation.py"),
            "sample",
            "--size",
            str(SIZE),
            "--workdir",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - start
    out = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(next(line for line in out if line.startswith("{")))
    assert summary["killed"] + summary["equivalent"] == SIZE, summary
    print(f"the CI sample of {SIZE} mutants took {elapsed:.0f} s")  # shown with -rP; not a limit
