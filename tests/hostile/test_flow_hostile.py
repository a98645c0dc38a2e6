"""A hostile notebook through the real flow (``nnkit autograde``, nbgrader course, SQLite
gradebook), run as root AND as a real non-root user: every attack fails, the attacker gets
only what its code earns, the other students' results equal a clean run's, and no kit file
changes.

The non-root run needs a user that can reach this Python (``nonroot_user`` in
tests/conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest

from nnkit.course import submissions as S
from nnkit.course.autograde import gradebook_scores
from nnkit.course.release import generate, make_course

pytestmark = pytest.mark.course

A = "convnets"
NB = "ConvolutionalNetworks.ipynb"
REPO = Path(__file__).resolve().parents[2]

ATTACK = """
import json, os, socket, sys, time
_results = {}
def _attempt(name, fn):
    try:
        fn()
        _results[name] = "succeeded"
    except BaseException as e:
        _results[name] = "blocked"
def _write(path, text="#pwned\\n"):
    with open(path, "a") as f:
        f.write(text)
def _read(path):
    with open(path, "rb") as f:
        print(f.read(200))
def _daemon():
    if os.fork() == 0:
        os.setsid()
        import ctypes
        ctypes.CDLL(None).prctl(15, b"nnkit-daemon", 0, 0, 0)
        for _ in range(600):
            try:
                _write(TARGETS["kit"])
            except OSError:
                pass
            time.sleep(0.1)
        os._exit(0)
TARGETS = json.loads(TARGETS_JSON)
_attempt("write_kit", lambda: _write(TARGETS["kit"]))
_attempt("write_site", lambda: _write(TARGETS["site"] + "/zz_nnkit_pwn.pth", "import os\\n"))
_attempt("write_gradebook", lambda: _write(TARGETS["gradebook"]))
_attempt("read_reference", lambda: _read(TARGETS["reference"]))
_attempt("read_hidden_tests", lambda: _read(TARGETS["tests"]))
_attempt("read_heldout", lambda: _read(TARGETS["heldout"]))
_attempt("read_other_student", lambda: _read(TARGETS["other"]))
_attempt("write_other_student", lambda: _write(TARGETS["other"]))
_attempt("network", lambda: socket.create_connection(("127.0.0.1", 22), timeout=2))
_attempt("signal_grader", lambda: os.kill(TARGETS["grader"], 9))
_attempt("memory", lambda: bytearray(8 << 30))
def _fill():
    with open("fill.bin", "wb") as f:
        for _ in range(4096):
            f.write(b"x" * (1 << 20))
_attempt("disk", _fill)
get_ipython().events.register("pre_run_cell", lambda info: print("HOOK", info.raw_cell[:40]))
_daemon()
print("ATTACK " + json.dumps(_results, sort_keys=True))
"""
LAST = """
import os, signal
os.kill(-1, signal.SIGKILL)  # every process it can reach: only its own sandbox's
"""


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        for p in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def _as(user: str | None, cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNKIT_")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("who", ["root", "user"])
def test_hostile_notebook_through_nnkit_autograde(request: pytest.FixtureRequest, who: str) -> None:
    if who == "root" and os.geteuid() != 0:
        pytest.skip("the root run needs root")
    user = request.getfixturevalue("nonroot_user") if who == "user" else None
    # not under pytest's 0700 temp root: the grading user must reach it
    base = Path(tempfile.mkdtemp(prefix=f"nnkit-hostile-{who}-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    course = make_course(base / "course")
    generate(A, course)
    release = S.read_release(course / "release" / A)
    ref = S.fill_reference(release, course / "source" / A)
    for s in ("alice", "bob"):
        S.write_submission(ref, course / "submitted" / s / A)

    import numpy

    import nnkit
    import reference

    kit = [Path(nnkit.__file__).parent, Path(reference.__file__).parent, REPO / "grading_tests"]
    site = Path(numpy.__file__).resolve().parent.parent
    targets = {
        "kit": str(Path(nnkit.__file__).parent / "grade.py"),
        "site": str(site),
        "gradebook": str(course / "gradebook.db"),
        "reference": str(Path(reference.__file__).parent / "layers.py"),
        "tests": str(REPO / "grading_tests" / "test_conv.py"),
        "heldout": str(Path(nnkit.__file__).parent / "data" / "digits_heldout.npz"),
        "other": str(course / "submitted" / "alice" / A / NB),
        "grader": os.getpid(),
    }
    evil = {k: nbformat.from_dict(json.loads(nbformat.writes(v))) for k, v in ref.items()}
    code = f"TARGETS_JSON = {json.dumps(json.dumps(targets))}\n" + textwrap.dedent(ATTACK)
    evil[NB].cells.append(nbformat.v4.new_code_cell(code))
    evil[NB].cells.append(nbformat.v4.new_code_cell(textwrap.dedent(LAST)))
    mallory = S.write_submission(evil, course / "submitted" / "mallory" / A)
    # files no grader should read: links (one named like a notebook, into the reference),
    # a FIFO, a device, a zip bomb named like a saved model
    (mallory / "extra.ipynb").symlink_to(targets["reference"])
    (mallory / "secrets.py").symlink_to(targets["tests"])
    os.mkfifo(mallory / "pipe.ipynb")
    if os.geteuid() == 0:
        os.mknod(mallory / "tty.py", 0o600 | __import__("stat").S_IFCHR, os.makedev(5, 0))
    _zip_bomb(mallory / "best_model_digits.npz")
    if user is not None:
        shutil.chown(base, user)
        subprocess.run(["chown", "-R", "-h", f"{user}:", str(base)], check=True)

    before = _digest([*kit, course / "submitted" / "alice", course / "submitted" / "bob"])
    site_before = sorted(p.name for p in site.iterdir())
    done = _as(user, [sys.executable, "-m", "nnkit", "autograde", A, "--workers", "2"], course)
    assert done.returncode == 0, done.stderr[-3000:]

    # every attack failed, and said so in the attacker's own executed notebook
    nb = nbformat.read(course / "autograded" / "mallory" / A / NB, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    line = next(ln for ln in text.splitlines() if ln.startswith("ATTACK "))
    results = json.loads(line.removeprefix("ATTACK "))
    expected = {
        "write_kit",
        "write_site",
        "write_gradebook",
        "read_reference",
        "memory",
        "read_hidden_tests",
        "read_heldout",
        "read_other_student",
        "disk",
        "write_other_student",
        "network",
        "signal_grader",
    }
    assert set(results) == expected and set(results.values()) == {"blocked"}, results
    record = json.loads((course / "reports" / A / "results" / A / "mallory.json").read_text())
    said = " ".join(record["messages"])
    assert "extra.ipynb: a symbolic link" in said and "pipe.ipynb: a named pipe" in said
    feedback = (course / "feedback" / "mallory" / A / NB.replace(".ipynb", ".html")).read_text()
    hidden = [ln for ln in Path(targets["tests"]).read_text().splitlines() if len(ln.strip()) > 30]
    assert hidden and not [ln for ln in hidden if ln in feedback]
    # nothing of the kit, the other students or the environment changed; no daemon survives
    assert _digest([*kit, course / "submitted" / "alice", course / "submitted" / "bob"]) == before
    assert sorted(p.name for p in site.iterdir()) == site_before
    alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == "nnkit-daemon"]
    assert alive == []
    # the others' grades are a clean run's: full marks, the same for both; the attacker's
    # code is the reference's, so it earns exactly what they do
    book = {s: gradebook_scores(A, s, course) for s in ("alice", "bob", "mallory")}
    totals = {s: sum(v[0] for k, v in b.items() if v[1]) for s, b in book.items()}
    assert totals["alice"] == totals["bob"] == totals["mallory"] > 0, totals


def _zip_bomb(path: Path) -> None:
    """A small .npz whose one member inflates to 300 MB."""
    import zipfile

    import numpy as np

    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (300 << 17,)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("param/W1.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            chunk = bytes(1 << 20)
            for _ in range(300):
                f.write(chunk)


def _comm(p: Path) -> str:
    try:
        return (p / "comm").read_text().strip()
    except OSError:
        return ""
