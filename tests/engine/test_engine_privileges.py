"""Grading as root: the worker ends as an unprivileged uid (65534 by default)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _engine_util import worker_for, write

from nnkit.sandbox import Limits, StudentError, Worker
from nnkit.sandbox import limits as limits_mod
from nnkit.sandbox.limits import exposure_plan

pytestmark = pytest.mark.engine
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the uid switch applies to root only")
REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534

CODE = """
import os, signal, sys
import numpy as np

def ids():
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")]
    return [list(os.getresuid()), list(os.getresgid()), os.getgroups(), caps[0]]

def pdeathsig():
    import ctypes
    sig = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    return sig.value

def signal_pid(pid, sig):
    os.kill(pid, sig)

def signal_parent(sig):
    os.kill(os.getppid(), sig)

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
"""


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    worker = worker_for(tmp_path_factory.mktemp("priv"), CODE)
    yield worker
    worker.close()


@pytest.fixture
def root_secret() -> Iterator[Path]:
    """A root-owned 0600 file in the shared temp dir."""
    fd, name = tempfile.mkstemp(prefix="nnkit-secret-")
    os.write(fd, b"hidden answers")
    os.close(fd)
    os.chmod(name, 0o600)
    yield Path(name)
    os.unlink(name)


@as_root
def test_worker_runs_as_nobody_without_groups_or_capabilities(w: Worker) -> None:
    uids, gids, groups, cap_eff = w.call("ids").value
    assert uids == [NOBODY] * 3 and gids == [NOBODY] * 3 and groups == []
    assert int(cap_eff, 16) == 0
    assert w.call("pdeathsig").value == signal.SIGKILL  # re-armed after the uid change


@as_root
def test_signalling_the_grader_is_refused(w: Worker) -> None:
    for probe in (("signal_parent", 0), ("signal_pid", os.getpid(), 0)):
        with pytest.raises(StudentError) as e:
            w.call(*probe)
        assert e.value.raised("PermissionError")
    assert w.alive  # an ordinary exception: the worker is kept


@as_root
def test_sigkill_of_the_grader_fails_and_the_grader_survives(tmp_path: Path) -> None:
    code = """
    import os, signal
    def kill_parent():
        os.kill(os.getppid(), signal.SIGKILL)
    def kill_pid(pid):
        os.kill(pid, signal.SIGKILL)
    def kill_group(pid):
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    """
    grader = """
    import json, os, sys
    from pathlib import Path
    from nnkit.loader import load_submission
    from nnkit.sandbox import StudentError, Worker
    out = {}
    with Worker(load_submission(Path(sys.argv[1]))) as w:
        for name, args in (("kill_parent", ()), ("kill_pid", (os.getpid(),)),
                           ("kill_group", (os.getpid(),))):
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
    for name in ("kill_parent", "kill_pid", "kill_group"):
        kind, types = results[name]
        assert kind == "exception" and "PermissionError" in types, (name, results[name])


@as_root
def test_root_owned_private_file_is_unreadable_in_its_own_cwd(w: Worker) -> None:
    w.start()
    assert w._cwd is not None
    secret = w._cwd / "planted.txt"
    secret.write_text("hidden answers")
    secret.chmod(0o600)
    try:
        with pytest.raises(StudentError) as e:
            w.call("read", "planted.txt")
        assert e.value.raised("PermissionError")
    finally:
        secret.unlink()


@as_root
def test_root_owned_private_temp_file_is_unreadable(tmp_path: Path, root_secret: Path) -> None:
    # without the mount namespace's private /tmp the file is in sight: the uid alone protects it
    with worker_for(tmp_path, CODE, hide_secrets=False) as worker:
        with pytest.raises(StudentError) as e:
            worker.call("read", str(root_secret))
        assert e.value.raised("PermissionError")
    # what the switch protects against: a capability-less uid 0 still owns the file
    with worker_for(tmp_path, CODE, hide_secrets=False, uid=None) as worker:
        assert worker.call("ids").value[0] == [0, 0, 0]
        assert worker.call("read", str(root_secret)).value == "hidden answers"


@as_root
def test_runtime_and_cgroup_are_read_only_for_the_worker(w: Worker) -> None:
    with pytest.raises(StudentError) as e:
        w.call("write", w.call("own_program").value, "\n# planted\n")
    assert e.value.raised("PermissionError")
    cgroup = w._child.cgroup if w._child is not None else None
    if cgroup is not None:
        with pytest.raises(StudentError) as e:
            w.call("write", str(cgroup.path / "pids.max"), "max")
        assert e.value.raised("PermissionError")


def test_the_worker_writes_its_cwd_and_tmpdir(w: Worker) -> None:
    assert w.call("save_here").value == ["out.npy", "scratch.txt", "sub.py"]
    assert w._cwd is not None and np.array_equal(np.load(w._cwd / "out.npy"), np.arange(3.0))


@as_root
def test_a_configured_uid_and_gid(tmp_path: Path) -> None:
    with worker_for(tmp_path, CODE, uid=4321, gid=4322) as worker:
        uids, gids, groups, _ = worker.call("ids").value
    assert uids == [4321] * 3 and gids == [4322] * 3 and groups == []


@as_root
def test_no_mount_namespace_for_a_closed_install_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = Path(tempfile.mkdtemp(prefix="nnkit-closed-"))  # 0700, root's
    try:
        (closed / "lib").mkdir(mode=0o755)
        real = limits_mod.worker_paths
        monkeypatch.setattr(
            limits_mod, "worker_paths", lambda keep=(): [*real(keep), f"{closed}/lib"]
        )
        monkeypatch.setattr(limits_mod, "_private_mounts", lambda: False)
        worker = worker_for(tmp_path, CODE)
        with pytest.raises(RuntimeError, match="no private mount namespace"):
            worker.start()
        worker.close()
    finally:
        shutil.rmtree(closed)


@pytest.fixture
def tree() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="nnkit-plan-"))  # 0700, owned by whoever runs this
    yield base
    shutil.rmtree(base)


def _mkdirs(base: Path, rel: str, mode: int = 0o755) -> str:
    p = base / rel
    p.mkdir(parents=True)
    for q in [p, *p.parents]:
        if q == base:
            break
        q.chmod(0o755)
    p.chmod(mode)
    return str(p)


def test_exposure_plan_covers_the_topmost_closed_directory(tree: Path) -> None:
    lib = _mkdirs(tree, "py/lib")
    inner = _mkdirs(tree, "py/lib/site")
    other = _mkdirs(tree, "venv")
    plan = exposure_plan([inner, other, lib], NOBODY, NOBODY)
    assert len(plan) == 1 and plan[0][0] == str(tree)
    assert sorted(plan[0][1]) == sorted([lib, other])  # inner is reached through lib
    assert exposure_plan([str(Path(tempfile.gettempdir()).resolve())], NOBODY, NOBODY) == []


def test_exposure_plan_refuses_an_unreadable_directory_itself(tree: Path) -> None:
    tree.chmod(0o755)
    closed = _mkdirs(tree, "numpy", 0o700)
    with pytest.raises(PermissionError, match="cannot read"):
        exposure_plan([closed], NOBODY, NOBODY)
    tree.chmod(0o700)
    lib = _mkdirs(tree, "py")
    deep = _mkdirs(tree, "py/x/y")
    (tree / "py/x").chmod(0o700)  # closed inside the directory bound back
    with pytest.raises(PermissionError, match=r"Limits\(uid=None\)"):
        exposure_plan([lib, deep], NOBODY, NOBODY)


def test_exposure_plan_lets_an_owner_in(tree: Path) -> None:
    uid, gid = os.geteuid(), os.getegid()
    sub = _mkdirs(tree, "own")
    assert exposure_plan([sub], uid, gid) == []  # tree is 0700 but ours
    assert exposure_plan([sub], NOBODY, NOBODY) == [(str(tree), [sub])]


def test_not_root_keeps_the_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Limits(uid=None).run_as() is None
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert Limits().run_as() is None
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert Limits().run_as() == (NOBODY, NOBODY) and Limits(uid=7, gid=8).run_as() == (7, 8)


def test_worker_starts_when_nnlib_lives_in_the_temp_dir(tmp_path: Path) -> None:
    """A checkout under the temp dir (as a CI clone may be): the worker's private temp dir
    must keep what it reads from there, here the student library."""
    checkout = Path(tempfile.mkdtemp(prefix="nnkit-checkout-"))
    try:
        shutil.copytree(REPO / "nnlib", checkout / "nnlib")
        script = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(checkout)!r})
            import nnlib
            assert nnlib.__file__.startswith({str(checkout)!r})
            from pathlib import Path
            from _engine_util import worker_for
            w = worker_for(Path({str(tmp_path)!r}), "import os, nnlib\\ndef where():\\n"
                           "    return os.path.realpath(nnlib.__file__)\\n")
            print(w.call("where").value)
            w.close()
            """
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().startswith(str(checkout))
    finally:
        shutil.rmtree(checkout)
