"""The worker's sandbox: identity, what it sees, what it may write, whom it may signal.

These run as whoever runs pytest (root in CI; the non-root run is tests/hostile's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from _engine_util import worker_for, write

from nnkit.sandbox import Limits, StudentError, Worker
from nnkit.sandbox.isolation import detect

pytestmark = pytest.mark.engine
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid switch applies to root only")
REPO = Path(__file__).resolve().parents[2]

CODE = """
import os, signal, sys, time
import numpy as np

def ids():
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
    return [list(os.getresuid()), list(os.getresgid()), os.getgroups(), caps[0]]

def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

def read(path):
    with open(path, "rb") as f:
        return f.read().decode()

def write(path, text):
    with open(path, "a") as f:
        f.write(text)

def own_program():
    return sys.modules["__main__"].__file__

def save_here():
    np.save("out.npy", np.arange(3.0))
    with open(os.path.join(os.environ["TMPDIR"], "scratch.txt"), "w") as f:
        f.write("ok")
    return sorted(os.listdir("."))

def fill_disk():
    chunk = b"x" * (1 << 20)
    n = 0
    try:
        for i in range(100000):
            with open(f"fill{i}.bin", "wb") as f:
                f.write(chunk * 8)
            n += 8
    except OSError as e:
        return [n, type(e).__name__]
    return [n, None]

def connect(host, port):
    import socket
    s = socket.socket()
    s.settimeout(2)
    s.connect((host, port))
"""


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = worker_for(tmp_path_factory.mktemp("priv"), CODE)
    yield worker
    worker.close()


def test_no_capabilities_and_own_identity(w: Worker) -> None:
    uids, gids, groups, cap_eff = w.call("ids").value
    assert int(cap_eff, 16) == 0
    if os.geteuid() == 0:
        own = Limits().uid_base + os.getpid()
        assert uids == [own] * 3 and gids == [own] * 3 and groups == []
    else:
        assert uids[0] == os.getuid()


@as_root
def test_a_configured_uid_and_gid(tmp_path: Path) -> None:
    with worker_for(tmp_path, CODE, uid=4321, gid=4322) as worker:
        uids, gids, groups, _ = worker.call("ids").value
    assert uids == [4321] * 3 and gids == [4322] * 3 and groups == []


@pytest.mark.skipif(not detect().namespaces, reason="a pid namespace needs bwrap")
def test_the_worker_sees_only_its_own_processes(w: Worker) -> None:
    assert len(w.call("pids").value) <= 3  # bwrap's init, the worker, maybe its reaper
    assert os.getpid() not in w.call("pids").value


def test_the_runtime_and_the_submission_copy_are_read_only(w: Worker) -> None:
    with pytest.raises(StudentError) as e:
        w.call("write", w.call("own_program").value, "\n# planted\n")
    assert e.value.raised("OSError")


def test_the_worker_writes_only_its_scratch_dir(w: Worker) -> None:
    assert w.call("save_here").value == ["out.npy", "scratch.txt", "sub.py"]
    with pytest.raises(StudentError) as e:
        w.call("write", str(Path(tempfile.gettempdir()) / "nnkit-planted.txt"), "x")
    assert e.value.raised("OSError")
    assert not (Path(tempfile.gettempdir()) / "nnkit-planted.txt").exists()


@pytest.mark.skipif(not detect().namespaces, reason="the scratch cap is a tmpfs size")
def test_the_scratch_dir_is_size_capped(tmp_path: Path) -> None:
    with worker_for(tmp_path, CODE, scratch_mb=32, timeout=30) as worker:
        written, error = worker.call("fill_disk").value
    assert error == "OSError" and written <= 32


def test_no_network(w: Worker) -> None:
    for host in ("127.0.0.1", "10.0.0.1"):
        with pytest.raises(StudentError) as e:
            w.call("connect", host, 9)
        assert e.value.raised("OSError"), host


def test_signalling_the_grader_fails_and_the_grader_survives(tmp_path: Path) -> None:
    code = """
    import os, signal
    def kill_parent():
        os.kill(os.getppid(), signal.SIGKILL)
    def kill_pid(pid):
        os.kill(pid, signal.SIGKILL)
    def kill_group(pid):
        os.killpg(pid, signal.SIGKILL)
    def kill_all():
        os.kill(-1, signal.SIGKILL)
    """
    grader = """
    import json, os, sys
    from pathlib import Path
    from nnkit.loader import load_submission
    from nnkit.sandbox import StudentError, Worker
    out = {}
    with Worker(load_submission(Path(sys.argv[1]))) as w:
        for name, args in (("kill_parent", ()), ("kill_pid", (os.getpid(),)),
                           ("kill_group", (os.getpgid(0),)), ("kill_all", ())):
            try:
                w.call(name, *args)
                out[name] = "no error"
            except StudentError as e:
                out[name] = [e.kind, list(e.types)]
    print(json.dumps(out))
    """
    sub = write(tmp_path, code)
    # the grader in its own session: a regression kills it, never this test run
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(grader), str(sub)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in ("kill_pid", "kill_group"):
        kind, types = results[name]
        assert kind == "exception", (name, results[name])
        assert {"PermissionError", "ProcessLookupError"} & set(types), (name, results[name])
    # kill_parent / kill_all reach at most the sandbox's own processes: the grader went on
    assert set(results) == {"kill_parent", "kill_pid", "kill_group", "kill_all"}


def test_without_any_layer_the_worker_refuses_unless_told(tmp_path: Path) -> None:
    sub = write(tmp_path, "def f():\n    return 1\n")
    grader = """
    import sys
    from pathlib import Path
    from nnkit.loader import load_submission
    from nnkit.sandbox import Worker
    from nnkit.sandbox.isolation import NoIsolation
    try:
        with Worker(load_submission(Path(sys.argv[1]))) as w:
            print("ran", w.call("f").value)
    except NoIsolation as e:
        print("refused:", e)
    """
    env = {**os.environ, "NNKIT_SANDBOX_DISABLE": "namespaces,landlock"}
    env.pop("NNKIT_UNSAFE_NO_ISOLATION", None)
    cmd = [sys.executable, "-c", textwrap.dedent(grader), str(sub)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.stdout.startswith("refused: no sandbox layer is available"), out.stderr[-2000:]
    assert "--unsafe-no-isolation" in out.stdout
    env["NNKIT_UNSAFE_NO_ISOLATION"] = "1"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    if os.geteuid() == 0 and any(
        not a.stat().st_mode & 1 for a in Path(os.path.realpath(sys.executable)).parents
    ):  # root still never runs student code as root: its own uid must reach Python
        assert "cannot reach" in out.stdout and "chmod o+x" in out.stdout, out.stderr[-2000:]
    else:
        assert out.stdout.strip() == "ran 1", out.stderr[-2000:]


@pytest.mark.parametrize("disabled", ["", "namespaces", "namespaces,landlock"])
def test_a_notebook_runs_under_every_combination_of_layers(disabled: str) -> None:
    """The notebook runner works with all layers, Landlock alone, and rlimits alone."""
    probe = """
    import json, tempfile
    from pathlib import Path
    import nbformat
    from nnkit.execution import execute_notebooks
    d = Path(tempfile.mkdtemp()) / "a"
    d.mkdir()
    (d / "helper.py").write_text("VALUE = 41\\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from helper import VALUE\\nprint(VALUE + 1)")]
    nbformat.write(nb, d / "t.ipynb")
    out, msgs = execute_notebooks(d, [d / "t.ipynb"])
    cell = json.loads(out["t.ipynb"])["cells"][0]
    print(json.dumps([msgs, [o.get("text") for o in cell["outputs"]]]))
    """
    env = {**os.environ, "NNKIT_SANDBOX_DISABLE": disabled, "NNKIT_UNSAFE_NO_ISOLATION": "1"}
    cmd = [sys.executable, "-c", textwrap.dedent(probe)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    if os.geteuid() == 0 and disabled == "namespaces,landlock" and "cannot reach" in out.stderr:
        pytest.skip("this Python is not reachable for the sandbox uid without namespaces")
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], ["42\n"]], out.stderr[-2000:]


def test_doctor_reports_every_layer_and_the_verdict() -> None:
    cmd = [sys.executable, "-m", "nnkit", "doctor"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNKIT_")}
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    iso = detect()
    lines = ok.stdout.splitlines()
    for layer in iso.layers():
        mark = "[on ]" if layer.active else "[off]"
        assert any(ln.strip().startswith(f"{mark} {layer.name}") for ln in lines), layer.name
    assert ok.returncode == (0 if iso.isolating else 1)
    env["NNKIT_SANDBOX_DISABLE"] = "namespaces,landlock"
    off = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert off.returncode == 1 and "NO isolating layer" in off.stdout
    assert "[off] namespaces" in off.stdout and "[off] landlock" in off.stdout
    cmd.insert(3, "--unsafe-no-isolation")
    accepted = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert accepted.returncode == 0 and "accepted the risk" in accepted.stdout
