"""Helpers of the suite tests: grade a submission on chosen suite modules; the mutant corpus.

Run as a script to print the kill rate of the whole corpus:
``.venv/bin/python tests/suites/_corpus.py``.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
GRADING_TESTS = ROOT / "grading_tests"


def _load(path: Path, name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


catalog = _load(SUBMISSIONS / "mutants" / "catalog.py", "nnkit_mutant_catalog")


def suite_files(api: str, standalone: bool = False) -> list[Path]:
    """The suite modules that grade ``api`` (the stand-alone net's suite for neural_net.py)."""
    from grading_tests.points import SUITE_APIS

    if standalone:
        return [GRADING_TESTS / "test_neural_net.py"]
    return [
        GRADING_TESTS / f"{mod}.py"
        for mod, apis in SUITE_APIS.items()
        if api in apis and mod not in ("test_neural_net", "test_thresholds")
    ]


def grade_on(
    paths: list[Path] | Path, student: str, files: list[Path] | None = None, timeout: float = 5.0
) -> Any:
    """nnkit.grade.grade restricted to some suite modules (all of grading_tests if None)."""
    from nnkit.grade import grade

    if files is None:
        return grade(paths, student, timeout=timeout)
    return grade(
        paths,
        student,
        timeout=timeout,
        tests_dir=files[0],
        extra_args=[str(f) for f in files[1:]],
    )


def run_mutant(mutant: Any, workdir: Path, student: str = "mutant-check") -> Any:
    """Grade one mutant on the suites of its API; returns the SubmissionResult."""
    pkg = catalog.materialize(mutant, workdir / mutant.name)
    files = suite_files(mutant.api, standalone=mutant.file == "neural_net.py")
    return grade_on(pkg, student, files)


def killed_by(result: Any, api: str) -> list[str]:
    """Names of the failed tests of ``api``."""
    return [t.name for t in result.tests if not t.passed and t.api_name == api]


def main() -> int:
    """Grade every mutant; print one line each and the kill rate."""
    killed = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for m in catalog.MUTANTS:
            res = run_mutant(m, Path(tmp))
            names = killed_by(res, m.api)
            killed += bool(names)
            lost = res.max_score - res.score
            status = f"KILLED ({len(names)} {m.api} tests)" if names else "SURVIVED"
            print(f"{m.name:38s} {status:40s} -{lost:g} points")
    total = len(catalog.MUTANTS)
    print(
        f"killed {killed}/{total} mutants ({100 * killed / total:.0f} %) "
        f"in {time.monotonic() - start:.1f} s"
    )
    return 0 if killed == total else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
