"""Hostile submission folders and notebooks: one safe folder reader (nnkit.staging), one
notebook reader and one magic stripper (nnkit.notebooks), the same rule on every route."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest

from nnkit import notebooks
from nnkit.batch.discover import discover
from nnkit.batch.task import make_task
from nnkit.batch.triage import CourseIndex, defined_names, stage
from nnkit.course.answers import read_answers
from nnkit.grade import make_plan
from nnkit.loader import load_submission
from nnkit.notebooks import code_cells, read_notebook, strip_magics
from nnkit.staging import Snapshot, read_tree, stage_paths, write_tree

pytestmark = pytest.mark.engine

SECRET = b"TOP-SECRET-7f3a9c: the grader's private file"


def nb_bytes(cells: list[str], **extra: object) -> bytes:
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
            *(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": c.splitlines(keepends=True),
                }
                for c in cells
            ),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
        **extra,
    }
    return json.dumps(nb, indent=1).encode()


@pytest.fixture(autouse=True)
def _no_hang():
    """Opening a FIFO must not block: fail instead of hanging the run."""
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("blocked (opened a FIFO?)"))
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ magics


MAGIC_CELL = (
    "import numpy as np\n"
    "np.zeros?\n"
    "%timeit np.zeros(3)\n"
    "?np.ones\n"
    "files = !ls\n"
    "here = %pwd\n"
    "def relu(x):\n"
    "    return np.maximum(x, 0)\n"
    "answer_a = 2.5\n"
)


def test_help_and_line_magics_do_not_hide_definitions(tmp_path: Path) -> None:
    path = tmp_path / "hw.ipynb"
    path.write_bytes(nb_bytes([MAGIC_CELL]))
    sub = load_submission(path)
    assert "relu" in sub.names and not sub.problems
    assert defined_names(MAGIC_CELL) == {"relu"}  # batch triage: not "relu is not defined"
    assert read_answers([path], ["answer_a"]) == {"answer_a": 2.5}  # course answers
    staged = stage([("hw.ipynb", path.read_bytes())], "hw", CourseIndex(), tmp_path / "s")
    assert not any("not defined" in m for m in staged.messages)


CORPUS = [
    "np.zeros?\ndef f(): pass",
    "\n\n%timeit f(x)\ndef g(): pass",
    "x = !ls\ny = %pwd\n?np\nnp.zeros??\ndef h(): pass",
    "%timeit f(x) \\\n  + 1\ndef h(): pass",
    "  def f():\n    pass",
    ">>> x = 1\n... y = 2",
    "In [1]: x = 1\n   ...: y = 2",
    's = """\n%notmagic\n?nothelp\n"""\ndef k(): pass',
    "def f(:\n  pass",
    "%%time\n%timeit x\ndef t(): pass",
    "%%capture out\ndef u(): pass",
    "%%bash\necho hi\ndef not_python(): pass",
    "%%timeit\ndef timed(): pass",
    "a = (1,\n%x\n)",
    "x = 1 # what?",
    "np.zeros?  # doc",
    "/f x\ndef q(): pass",
    ",f a b",
    "!!ls",
    'print("a"\n',
    "def f():\n    %timeit g()\n    x = !ls\n    np.zeros?\n    return 1",
    "if x:\n\tnp.zeros?\n\ty = 1",
    "(a,\n b).c?\ndef b(): pass",
    "f(a,\n  b)?\ndef z(): pass",
    "d = {'a': 1}?",
    "x = np.zeros?",
    '!echo "it\'s"\ndef w(): pass',
    "a[0] = !ls\na, b = %who_ls\nx =!ls",
    "x != 3\nx == %y",
    "s = '%d' % 3\ns2 = \"what?\"",
    "for i in range(3): i?",
    "\n\n\n",
    "",
    "x = 1\n\n   \n",
]


@pytest.mark.parametrize("cell", CORPUS)
def test_ipython_and_the_pure_rules_agree(cell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if notebooks._ipython_transformer() is None:
        pytest.skip("IPython is not installed: only the pure rules exist")
    with_ipython = strip_magics(cell)
    monkeypatch.setattr(notebooks, "_transformer", False)
    pure = strip_magics(cell)
    assert pure == with_ipython
    assert pure.count("\n") == cell.count("\n")  # line numbers are kept


def test_cell_magics() -> None:
    assert "def t()" in strip_magics("%%time\ndef t(): pass")  # runs in the user namespace
    assert strip_magics("%%bash\necho hi\ndef f(): pass").strip() == ""


# ------------------------------------------------------------------ notebooks


def test_read_notebook_repairs_and_reports() -> None:
    raw = json.loads(nb_bytes(["x = 1", "y = 2", "z = 3"]))
    cells = raw["cells"]
    cells[1]["id"] = cells[2]["id"] = "same-id"
    cells[3]["id"] = "bad id!"
    cells[1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "a" * 2**21}]
    cells[2]["source"] = "w = '\udcff'"  # a JSON escape that gives a lone surrogate
    nb, msgs = read_notebook("a.ipynb", json.dumps(raw).encode())
    assert nb is not None
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids) and ids[1] == "same-id"
    assert any("duplicated or invalid cell ids (bad id!, same-id) were renamed" in m for m in msgs)
    assert any("MB of cell outputs were dropped" in m for m in msgs)
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert [c.source for c in code_cells(nb)] == ["x = 1", "w = '?'", "z = 3"]
    json.dumps(nb, ensure_ascii=False).encode("utf-8")  # encodable

    assert read_notebook("b.ipynb", b'{"cells": [')[0] is None
    _, msgs = read_notebook("b.ipynb", b'{"cells": [')
    assert msgs[0].startswith("b.ipynb: not a readable notebook (invalid JSON at line 1")
    _, msgs = read_notebook("c.ipynb", b"[1, 2]")
    assert msgs == ["c.ipynb: not a Jupyter notebook (no list of cells); not graded"]
    _, msgs = read_notebook("d.ipynb", b"[" * 100_000)
    assert len(msgs) == 1 and "not a readable notebook" in msgs[0]
    _, msgs = read_notebook("e.ipynb", nb_bytes(["x = 1"]), max_bytes=10)
    assert msgs == ["e.ipynb: larger than 9.53674e-06 MB; this notebook was not read"]


def test_a_non_utf8_notebook_is_graded_the_same_on_every_route(tmp_path: Path) -> None:
    data = nb_bytes(["# caf\udcff\ndef relu(x):\n    return x * (x > 0)\n", "s = 'na\udcffve'"])
    data = data.decode().encode("utf-8", "surrogateescape")  # real 0xff bytes
    data = data.replace(b"\\udcff", b"\xff")
    assert b"\xff" in data
    path = tmp_path / "hw" / "hw.ipynb"
    path.parent.mkdir()
    path.write_bytes(data)

    direct = load_submission(path)  # nnkit grade PATH / the loader
    staged = stage([("hw.ipynb", data)], "hw", CourseIndex(), tmp_path / "batch")  # batch
    via_batch = load_submission(staged.code_files)
    message = "hw.ipynb: not valid UTF-8 (first bad byte at offset"
    assert [n for n in direct.notes if n.startswith(message)]
    assert [m for m in staged.messages if m.startswith(message)] == [
        n for n in direct.notes if n.startswith(message)
    ]
    assert "relu" in direct.names
    assert [s.code for s in direct.sources] == [s.code for s in via_batch.sources]
    assert [s.origin for s in direct.sources] == [s.origin for s in via_batch.sources]
    assert not direct.problems and not via_batch.problems


# ------------------------------------------------------------------ the folder reader


def _hostile_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A submission folder holding every kind of trap, and the secret outside it."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    secret = outside / "secret.txt"
    secret.write_bytes(SECRET)
    (outside / "dir" / "also_secret.txt").write_bytes(SECRET)
    sub = tmp_path / "submitted" / "alice" / "hw"
    (sub / "nnlib").mkdir(parents=True)
    (sub / "hw.ipynb").write_bytes(nb_bytes(["def relu(x):\n    return x"]))
    (sub / "nnlib" / "extra.py").write_text("X = 1\n")
    (sub / ".hidden").write_bytes(SECRET)
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (sub / "abs_link.txt").symlink_to(secret)
    (sub / "rel_link.ipynb").symlink_to(os.path.relpath(secret, sub))
    (sub / "abs_dir").symlink_to(outside / "dir")
    (sub / "nnlib" / "rel_dir").symlink_to(os.path.relpath(outside / "dir", sub / "nnlib"))
    os.mkfifo(sub / "pipe.py")
    (sub / "big.bin").write_bytes(b"x" * 5000)
    return sub, secret


def _assert_no_secret(snap: Snapshot) -> None:
    for rel, data in snap.files.items():
        assert SECRET not in data, rel


def test_read_tree_takes_regular_files_only(tmp_path: Path) -> None:
    sub, _ = _hostile_folder(tmp_path)
    device = "a device node needs root"
    if os.geteuid() == 0:
        os.mknod(sub / "dev_null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        device = ""
    snap = read_tree(sub, max_file_bytes=4096)
    _assert_no_secret(snap)
    assert sorted(snap.files) == ["hw.ipynb", "nnlib/extra.py"]
    msgs = set(snap.messages)
    for m in [
        "abs_link.txt: a symbolic link; not read",
        "rel_link.ipynb: a symbolic link; not read",
        "abs_dir: a symbolic link; not read",
        "nnlib/rel_dir: a symbolic link; not read",
        "pipe.py: a named pipe (FIFO); not read",
        "big.bin: larger than 0.00390625 MB; not read",
    ]:
        assert m in msgs
    if device:
        pytest.skip(f"device case not run: {device}")
    assert "dev_null: a device; not read" in msgs


def test_read_tree_caps_count_and_total(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        (folder / f"f{i:02d}.txt").write_bytes(b"y" * 100)
    snap = read_tree(folder, max_files=10)
    assert sorted(snap.files) == [f"f{i:02d}.txt" for i in range(10)]
    assert snap.messages == [
        "20 file(s) not read: more than 10 files in the submission "
        "(f10.txt, f11.txt, f12.txt, f13.txt, f14.txt ...)"
    ]
    snap = read_tree(folder, max_total_bytes=1050)
    assert len(snap.files) == 10 and snap.total_bytes == 1000
    assert snap.messages[0].startswith("20 file(s) not read: the submission's files exceed")


def test_a_linked_submission_folder_is_not_read(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.py").write_bytes(SECRET)
    (tmp_path / "link").symlink_to(real)
    snap = read_tree(tmp_path / "link")
    assert snap.files == {} and snap.messages == ["link: a symbolic link; not read"]


def test_write_tree_refuses_escapes_and_follows_no_link(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/x", "a/../../x", "./a", "a//b", ""):
        with pytest.raises(ValueError):
            write_tree(Snapshot({bad: b"x"}), tmp_path / f"d{abs(hash(bad))}")
    dest = tmp_path / "dest"
    write_tree(Snapshot({"a.ipynb": b"1", "sub/b.py": b"2"}), dest)
    assert (dest / "a.ipynb").read_bytes() == b"1" and (dest / "sub" / "b.py").read_bytes() == b"2"
    with pytest.raises(FileExistsError):  # not a fresh folder
        write_tree(Snapshot({"c": b"3"}), dest)
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(OSError):
        write_tree(Snapshot({"c": b"3"}), tmp_path / "linked")
    assert not (tmp_path / "elsewhere" / "c").exists()


def test_the_engine_reads_a_staged_copy(tmp_path: Path) -> None:
    """A link named like the notebook, pointing at a solution, earns nothing; nothing outside
    the folder is read or copied for the workers."""
    sub, _ = _hostile_folder(tmp_path)
    solution = tmp_path / "reference" / "hw.ipynb"
    solution.parent.mkdir()
    solution.write_bytes(nb_bytes(["def secret_solution(x):\n    return x"]))
    (sub / "solution.ipynb").symlink_to(os.path.relpath(solution, sub))
    for given in ([sub], [sub / "hw.ipynb", sub / "solution.ipynb", sub / "pipe.py"]):
        plan = make_plan(given)
        try:
            main = plan.groups["main"]
            assert "relu" in main.names and "secret_solution" not in main.names
            assert "solution.ipynb: a symbolic link; not read" in plan.messages
            for given_path in plan.paths:
                for p in [given_path, *given_path.rglob("*")]:
                    assert not p.is_symlink()
                    assert p.is_dir() or (p.is_file() and SECRET not in p.read_bytes())
            assert plan.assignment is None
        finally:
            plan.close()
    staged = stage_paths([sub / "rel_link.ipynb"], tmp_path / "st")
    assert staged.paths == [] and staged.messages == ["rel_link.ipynb: a symbolic link; not read"]


def test_load_submission_refuses_links(tmp_path: Path) -> None:
    sub, secret = _hostile_folder(tmp_path)
    loaded = load_submission([sub / "hw.ipynb", sub / "rel_link.ipynb"])
    assert "relu" in loaded.names
    assert [str(p) for p in loaded.problems] == [
        "rel_link.ipynb: unreadable notebook: a symbolic link; not read"
    ]


def test_batch_reads_through_staging(tmp_path: Path) -> None:
    sub, _ = _hostile_folder(tmp_path)
    (sub / "big.bin").unlink()
    [found] = discover(tmp_path / "submitted")
    assert found.files == ("hw.ipynb", "nnlib/extra.py")
    task = make_task(found, "g", CourseIndex())
    assert [rel for rel, _ in task.files] == ["hw.ipynb", "nnlib/extra.py"]
    assert all(SECRET not in data for _, data in task.files)
    assert "abs_link.txt: a symbolic link; not read" in task.messages
    assert "pipe.py: a named pipe (FIFO); not read" in task.messages
    (sub / "another_link").symlink_to("/etc/hostname")
    [again] = discover(tmp_path / "submitted")
    assert again.digest != found.digest  # a new link changes the result, so it regrades


def test_a_hard_link_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside.py"
    secret.write_text(f"ANSWER = {SECRET!r}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    os.link(secret, sub / "answers.py")
    (sub / "mine.py").write_text("x = 1\n")
    snap = read_tree(sub)
    assert sorted(snap.files) == ["mine.py"]
    assert "answers.py: a hard link to another file; not read" in snap.messages
    _assert_no_secret(snap)
