"""Damaged submissions: repair what can be repaired, explain the rest, grade whatever is left.

A submission is staged into a temporary folder before the engine sees it. Its files were read
by :mod:`nnkit.staging` (no links, regular files only, size caps); :func:`nnkit.intake.examine`
(the rules the students' self-check runs too) reads notebooks with the kit's one lenient
reader (non-UTF-8 bytes replaced, outputs dropped, duplicated cell ids renamed), leaves out
a notebook that is not JSON, is of another assignment or holds no code, with a message, and
names cells deleted from the release and functions that are missing (perhaps renamed). Every
message ends up in the submission's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nnkit.intake import CODE_SUFFIXES, CourseIndex, NotebookSpec, defined_names, examine
from nnkit.staging import Snapshot, write_tree

__all__ = ["CODE_SUFFIXES", "CourseIndex", "NotebookSpec", "Staged", "defined_names", "stage"]


@dataclass
class Staged:
    """A staged submission: the files to grade and what was found on the way."""

    folder: Path
    code_files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def stage(
    files: list[tuple[str, bytes]], assignment: str, index: CourseIndex, dest: Path
) -> Staged:
    """Write a cleaned copy of a submission into ``dest`` and say what was wrong with it.

    ``files`` are (relative path, content) pairs, as :func:`nnkit.staging.read_tree` read
    them. Returns the staged code files (notebooks and modules) the engine should grade.
    """
    got = examine(files, assignment, index)
    write_tree(Snapshot(files=got.files), dest)
    return Staged(folder=dest, code_files=[dest / rel for rel in got.graded], messages=got.messages)
