"""Find the submissions of a class in nbgrader's layout: ``submitted/<student>/<assignment>/``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

#: Names never taken from a submission folder (editor and Jupyter litter).
IGNORED_NAMES = frozenset({"__pycache__", ".ipynb_checkpoints", ".DS_Store"})


@dataclass(frozen=True)
class Submission:
    """One student's folder for one assignment, with a digest of everything in it."""

    student: str
    assignment: str
    path: Path
    files: tuple[str, ...]  # paths relative to ``path``, POSIX style, sorted
    digest: str  # "sha256:<hex>" over (relative path, bytes) of every file

    @property
    def key(self) -> str:
        """Stable identifier, ``<assignment>/<student>``."""
        return f"{self.assignment}/{self.student}"


def _wanted(path: Path) -> bool:
    return not (path.name.startswith(".") or path.name in IGNORED_NAMES)


def list_files(folder: Path) -> tuple[str, ...]:
    """Relative paths of the regular files under ``folder`` (no hidden files, no caches)."""
    out: list[str] = []
    stack = [folder]
    while stack:
        d = stack.pop()
        for child in sorted(d.iterdir()):
            if not _wanted(child) or child.is_symlink():
                continue
            if child.is_dir():
                stack.append(child)
            elif child.is_file():
                out.append(child.relative_to(folder).as_posix())
    return tuple(sorted(out))


def digest_files(folder: Path, files: tuple[str, ...]) -> str:
    """Content hash of a submission: changes when any file is added, removed, renamed or edited."""
    h = hashlib.sha256()
    for rel in files:
        path = folder / rel
        h.update(rel.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
        h.update(path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def is_batch_root(path: Path) -> bool:
    """True if ``path`` looks like ``submitted/``: folders of students holding assignment folders.

    A single submission (a notebook, a ``.py`` module, or a folder of them) is not a batch root.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    children = [c for c in path.iterdir() if _wanted(c)]
    if any(c.is_file() and c.suffix in {".ipynb", ".py"} for c in children):
        return False
    return any(c.is_dir() and any(g.is_dir() and _wanted(g) for g in c.iterdir()) for c in children)


def discover(root: Path, assignment: str | None = None) -> list[Submission]:
    """Every ``<root>/<student>/<assignment>/`` folder (only ``assignment`` if given), sorted.

    Empty folders are kept: they get a result that says so.
    """
    root = Path(root)
    subs: list[Submission] = []
    for student_dir in sorted(root.iterdir()):
        if not (student_dir.is_dir() and _wanted(student_dir)):
            continue
        for a_dir in sorted(student_dir.iterdir()):
            if not (a_dir.is_dir() and _wanted(a_dir)):
                continue
            if assignment is not None and a_dir.name != assignment:
                continue
            files = list_files(a_dir)
            subs.append(
                Submission(
                    student=student_dir.name,
                    assignment=a_dir.name,
                    path=a_dir,
                    files=files,
                    digest=digest_files(a_dir, files),
                )
            )
    return subs
