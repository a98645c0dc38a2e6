"""The only way the trusted side reads a submission folder from disk.

Submissions are hostile: a symbolic link can point at a system file (the grader runs as
root) or into ``reference/``, a FIFO blocks whoever opens it, a device node has side
effects, and a folder can hold gigabytes or millions of files. :func:`read_tree` reads a
folder into memory without following any symbolic link (not even the folder's own entries:
the walk uses directory file descriptors, every open is ``O_NOFOLLOW`` and the opened file is
checked with ``fstat``), takes regular files only and caps the size of one file, the total
and the number of files. Everything it leaves out gets a one-line message.
:func:`write_tree` writes such a snapshot into a fresh directory, again without following
links, and :func:`stage_paths` stages what ``nnkit grade PATH ...`` was given.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .notebooks import show_name

#: A file larger than this is not read (a notebook with gigabytes of output).
MAX_FILE_BYTES = 100 * 2**20
#: Files are read until their sizes add up to this much; the rest are not read.
MAX_TOTAL_BYTES = 256 * 2**20
#: At most this many files are read from one submission.
MAX_FILES = 1000
#: Directory entries looked at (files, folders, links ...) before the walk stops.
MAX_ENTRIES = 20_000
#: Folders deeper than this are not entered.
MAX_DEPTH = 16
#: Names never taken from a submission folder (editor and Jupyter litter); so are hidden
#: (dot) files and folders.
IGNORED_NAMES = frozenset({"__pycache__", ".ipynb_checkpoints", ".DS_Store"})

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC


@dataclass
class Snapshot:
    """A submission read into memory: relative POSIX path -> bytes, and what was left out."""

    files: dict[str, bytes] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    def digest(self) -> str:
        """``sha256:<hex>`` over (path, size, bytes) of every file, in path order (and over
        the messages when something was left out, so that adding a link changes it too)."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            data = self.files[rel]
            h.update(rel.encode("utf-8", "surrogateescape"))
            h.update(b"\0")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        for m in self.messages:
            h.update(b"\1" + m.encode("utf-8", "surrogateescape"))
        return "sha256:" + h.hexdigest()


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MB"


def wanted(name: str) -> bool:
    """Whether a file or folder name is taken at all (no hidden files, no caches)."""
    return not (name.startswith(".") or name in IGNORED_NAMES)


class _Walk:
    def __init__(self, max_file_bytes: int, max_total_bytes: int, max_files: int) -> None:
        self.snap = Snapshot()
        self.max_file = max_file_bytes
        self.max_total = max_total_bytes
        self.max_files = max_files
        self.total = 0
        self.entries = 0
        self.over_total: list[str] = []
        self.over_count: list[str] = []
        self.stopped = False

    def note(self, rel: str, why: str) -> None:
        self.snap.messages.append(f"{show_name(rel)}: {why}; not read")

    def read_file(self, dir_fd: int, name: str, rel: str) -> None:
        """Open ``name`` in ``dir_fd`` without following a link; read it if it is regular."""
        if len(self.snap.files) >= self.max_files:
            self.over_count.append(rel)
            return
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                self.note(rel, "a symbolic link")
            else:
                self.note(rel, f"cannot be opened ({e.strerror})")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.note(rel, _kind(st.st_mode))
                return
            if st.st_nlink > 1:  # another name of a file that may live outside the folder
                self.note(rel, "a hard link to another file")
                return
            if st.st_size > self.max_file:
                self.note(rel, f"larger than {_mb(self.max_file)}")
                return
            if self.total + st.st_size > self.max_total:
                self.over_total.append(rel)
                return
            with contextlib.suppress(OSError):  # back to blocking reads for a regular file
                os.set_blocking(fd, True)
            chunks = []
            size = 0
            while size <= self.max_file:
                chunk = os.read(fd, min(1 << 20, self.max_file + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.max_file:  # it grew while being read
                self.note(rel, f"larger than {_mb(self.max_file)}")
                return
            if self.total + size > self.max_total:
                self.over_total.append(rel)
                return
            self.total += size
            self.snap.files[rel] = b"".join(chunks)
        except OSError as e:
            self.note(rel, f"cannot be read ({e.strerror})")
        finally:
            os.close(fd)

    def walk(self, dir_fd: int, prefix: str, depth: int) -> None:
        try:
            with os.scandir(dir_fd) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            self.note(prefix.rstrip("/") or ".", f"folder cannot be listed ({e.strerror})")
            return
        for entry in entries:
            if self.stopped:
                return
            name = entry.name
            if not wanted(name):
                continue
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                self.snap.messages.append(
                    f"more than {MAX_ENTRIES} entries in the submission; the rest was not read"
                )
                self.stopped = True
                return
            rel = prefix + name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as e:
                self.note(rel, f"cannot be examined ({e.strerror})")
                continue
            if stat.S_ISDIR(mode):
                if depth >= MAX_DEPTH:
                    self.note(rel, f"a folder nested more than {MAX_DEPTH} deep")
                    continue
                try:
                    sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as e:
                    why = "a symbolic link" if e.errno in (errno.ELOOP, errno.ENOTDIR) else None
                    self.note(rel, why or f"folder cannot be opened ({e.strerror})")
                    continue
                try:
                    if stat.S_ISDIR(os.fstat(sub).st_mode):
                        self.walk(sub, rel + "/", depth + 1)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(mode):
                self.read_file(dir_fd, name, rel)
            else:  # links, FIFOs, sockets, devices: never opened
                self.note(rel, _kind(mode))

    def finish(self) -> Snapshot:
        if self.over_total:
            self.snap.messages.append(
                f"{len(self.over_total)} file(s) not read: the submission's files exceed "
                f"{_mb(self.max_total)} in total ({_listing(self.over_total)})"
            )
        if self.over_count:
            self.snap.messages.append(
                f"{len(self.over_count)} file(s) not read: more than {self.max_files} files "
                f"in the submission ({_listing(self.over_count)})"
            )
        return self.snap


def _listing(rels: list[str], n: int = 5) -> str:
    shown = ", ".join(show_name(r) for r in rels[:n])
    return shown + (" ..." if len(rels) > n else "")


def read_tree(
    folder: str | os.PathLike,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_files: int = MAX_FILES,
) -> Snapshot:
    """Read the regular files under ``folder`` (never following a symbolic link).

    Symbolic links, FIFOs, sockets and devices are skipped with a message; so are files over
    ``max_file_bytes``, files beyond ``max_total_bytes`` in total or beyond ``max_files``.
    Hidden files and folders, ``__pycache__`` and ``.ipynb_checkpoints`` are ignored. The
    folder itself must not be a symbolic link either.
    """
    folder = Path(folder)
    w = _Walk(max_file_bytes, max_total_bytes, max_files)
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR) and folder.is_symlink():
            w.note(folder.name, "a symbolic link")
        else:
            w.note(folder.name, f"folder cannot be opened ({e.strerror})")
        return w.finish()
    try:
        w.walk(fd, "", 0)
    finally:
        os.close(fd)
    return w.finish()


def read_files(
    folder: str | os.PathLike,
    names: Iterable[str],
    *,
    patterns: Sequence[str] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_files: int = MAX_FILES,
) -> Snapshot:
    """Read some top-level files of ``folder`` (by name, plus names matching ``patterns``)
    with the rules of :func:`read_tree`."""
    folder = Path(folder)
    w = _Walk(max_file_bytes, max_total_bytes, max_files)
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as e:
        w.note(folder.name, f"folder cannot be opened ({e.strerror})")
        return w.finish()
    try:
        wanted_names = list(dict.fromkeys(names))
        if patterns:
            with os.scandir(fd) as it:
                extra = sorted(e.name for e in it if wanted(e.name))
            for n in extra:
                if any(fnmatch.fnmatchcase(n, p) for p in patterns) and n not in wanted_names:
                    wanted_names.append(n)
        for name in wanted_names:
            try:
                mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                w.note(name, "no such file")
                continue
            except OSError as e:
                w.note(name, f"cannot be examined ({e.strerror})")
                continue
            if stat.S_ISREG(mode):
                w.read_file(fd, name, name)
            else:
                w.note(name, _kind(mode))
    finally:
        os.close(fd)
    return w.finish()


def _parts(rel: str) -> list[str]:
    if not rel or "\0" in rel or rel.startswith("/") or "\\" in rel:
        raise ValueError(f"refusing to write {rel!r}: not a relative POSIX path")
    parts = PurePosixPath(rel).parts
    if any(p in ("", ".", "..") for p in parts) or "/".join(parts) != rel:
        raise ValueError(f"refusing to write {rel!r}: not a plain relative path")
    return list(parts)


def write_tree(snapshot: Snapshot, dest: str | os.PathLike) -> Path:
    """Write the snapshot's files into ``dest`` (created; an existing one must be an empty
    folder that is not a link). Never follows a link; refuses ``..`` and absolute names."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(dest, 0o755)
    root = os.open(dest, _DIR_FLAGS)
    try:
        if os.listdir(root):
            raise FileExistsError(f"{dest} is not empty")
        for rel in sorted(snapshot.files):
            parts = _parts(rel)
            fd = os.dup(root)
            try:
                for d in parts[:-1]:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(d, 0o755, dir_fd=fd)
                    nxt = os.open(d, _DIR_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = nxt
                out = os.open(
                    parts[-1],
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC,
                    0o644,
                    dir_fd=fd,
                )
                with os.fdopen(out, "wb") as f:
                    f.write(snapshot.files[rel])
            finally:
                os.close(fd)
    finally:
        os.close(root)
    return dest


@dataclass
class StagedPaths:
    """What :func:`stage_paths` made: the staged counterparts of the given paths."""

    paths: list[Path]
    messages: list[str]


def stage_paths(
    paths: Sequence[str | os.PathLike], dest: str | os.PathLike, patterns: Sequence[str] = ()
) -> StagedPaths:
    """Copy the submission named by ``paths`` into ``dest`` through :func:`read_tree`.

    A folder is staged whole, as ``dest/<n>/<folder name>``; files are staged per parent
    folder, as ``dest/<n>/<parent name>/<file name>``, together with their sibling files
    matching ``patterns`` (e.g. saved models). Returns the staged path of every given path
    (in order; a path that could not be read is left out) and every message.
    """
    dest = Path(dest)
    out: list[Path | None] = [None] * len(paths)
    messages: list[str] = []
    groups: dict[Path, list[tuple[int, str]]] = {}
    slot = 0
    for i, p in enumerate(map(Path, paths)):
        if p.is_dir() and not p.is_symlink():
            target = dest / str(slot) / (p.resolve().name or "submission")
            slot += 1
            snap = read_tree(p)
            messages += snap.messages
            write_tree(snap, target)
            out[i] = target
        else:
            groups.setdefault(p.parent.resolve(), []).append((i, p.name))
    for parent, items in groups.items():
        target = dest / str(slot) / (parent.name or "submission")
        slot += 1
        snap = read_files(parent, [n for _, n in items], patterns=patterns)
        messages += snap.messages
        write_tree(snap, target)
        for i, name in items:
            if name in snap.files:
                out[i] = target / name
    return StagedPaths([p for p in out if p is not None], messages)
