"""Find the submissions of a class in nbgrader's layout: ``submitted/<student>/<assignment>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnkit.staging import read_tree, wanted


@dataclass(frozen=True)
class Submission:
    """One student's folder for one assignment, with a digest of everything in it."""

    student: str
    assignment: str
    path: Path
    files: tuple[str, ...]  # paths relative to ``path``, POSIX style, sorted
    digest: str  # "sha256:<hex>" over (relative path, bytes) of every file (Snapshot.digest)

    @property
    def key(self) -> str:
        """Stable identifier, ``<assignment>/<student>``."""
        return f"{self.assignment}/{self.student}"


def _wanted(path: Path) -> bool:
    return wanted(path.name)


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
        if student_dir.is_symlink() or not (student_dir.is_dir() and _wanted(student_dir)):
            continue
        for a_dir in sorted(student_dir.iterdir()):
            # a linked assignment folder is kept: its result says that it was not read
            if not (a_dir.is_dir() and _wanted(a_dir)):
                continue
            if assignment is not None and a_dir.name != assignment:
                continue
            snap = read_tree(a_dir)  # never follows a link; see nnkit.staging
            subs.append(
                Submission(
                    student=student_dir.name,
                    assignment=a_dir.name,
                    path=a_dir,
                    files=tuple(sorted(snap.files)),
                    digest=snap.digest(),
                )
            )
    return subs
