"""Result files: one per submission, written atomically, so a killed batch loses nothing.

Layout under the output folder::

    results/<assignment>/<student>.json        the grade (deterministic bytes)
    results/<assignment>/<student>.time.json   how long it took (not part of the grade)

A result is written to a temporary file, flushed to disk and renamed over the old one
(``os.replace``), so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nnkit.batch.discover import Submission

_TMP_SUFFIX = ".tmp"


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes of a record: same record, same bytes, wherever it was graded."""
    return (json.dumps(record, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def grader_fingerprint(packages: Iterable[str] = ("grading_tests", "reference")) -> str:
    """Hash of what decides grades: the hidden suites (with their points) and the reference.

    A result made with other suites is stale, like one of a changed submission. Changes of the
    engine itself do not invalidate results; regrade with ``--force`` after upgrading it.
    """
    import importlib.util

    h = hashlib.sha256()
    for pkg in packages:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            rootp = Path(root)
            for p in sorted(rootp.rglob("*.py")):
                h.update(f"{pkg}/{p.relative_to(rootp).as_posix()}\0".encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


class ResultStore:
    """The result files of a batch."""

    def __init__(self, out_dir: Path) -> None:
        self.root = Path(out_dir) / "results"

    def path(self, assignment: str, student: str) -> Path:
        return self.root / assignment / f"{student}.json"

    def timing_path(self, assignment: str, student: str) -> Path:
        return self.root / assignment / f"{student}.time.json"

    def published_dir(self, assignment: str, student: str) -> Path:
        return self.root.parent / "published" / assignment / student

    def write_published(
        self, assignment: str, student: str, files: Iterable[tuple[str, str]]
    ) -> None:
        """Store what a submission publishes (before its record: see ``write``)."""
        folder = self.published_dir(assignment, student)
        for rel, text in files:
            parts = Path(rel).parts
            if len(parts) == 2 and not any(p.startswith(".") or p == ".." for p in parts):
                atomic_write(folder / rel, text.encode("utf-8"))

    def published(self, assignment: str, student: str) -> Path | None:
        folder = self.published_dir(assignment, student)
        return folder if folder.is_dir() else None

    def load(self, assignment: str, student: str) -> dict[str, Any] | None:
        """The stored record, or None if there is none (or it cannot be read)."""
        try:
            return json.loads(self.path(assignment, student).read_bytes())
        except (OSError, ValueError):
            return None

    def seconds(self, assignment: str, student: str) -> float | None:
        try:
            return float(json.loads(self.timing_path(assignment, student).read_bytes())["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def is_current(self, sub: Submission, grader: str) -> bool:
        """True if ``sub`` in its present state was graded by this grading code."""
        rec = self.load(sub.assignment, sub.student)
        return (
            rec is not None
            and rec.get("status") == "graded"
            and rec.get("submission_hash") == sub.digest
            and rec.get("grader") == grader
        )

    def write(self, record: dict[str, Any], seconds: float) -> Path:
        """Store a record (timing first: the record is what marks the submission as graded)."""
        a, s = record["assignment"], record["student"]
        atomic_write(self.timing_path(a, s), canonical({"seconds": seconds}))
        path = self.path(a, s)
        atomic_write(path, canonical(record))
        return path

    def records(self, subs: Iterable[Submission]) -> Iterator[tuple[Submission, dict[str, Any]]]:
        """The stored records of these submissions (those that have one)."""
        for sub in subs:
            rec = self.load(sub.assignment, sub.student)
            if rec is not None:
                yield sub, rec

    def remove_stale_temporaries(self) -> int:
        """Delete half-written files a killed batch left behind; return how many."""
        n = 0
        if self.root.is_dir():
            for p in self.root.rglob(f".*{_TMP_SUFFIX}"):
                p.unlink(missing_ok=True)
                n += 1
        return n
