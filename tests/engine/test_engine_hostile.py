"""Hostile submissions: each costs only its own call, leaves no process, and the next call works.

Every case runs a real sandboxed worker process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from _engine_util import leftovers, worker_for

from nnkit.sandbox import StudentError, Worker

pytestmark = pytest.mark.engine

HOSTILE = r"""
import os, sys, time, signal
import numpy as np

def ok(x):
    return x + 1

def spin():
    while True:
        pass

def sleep_forever():
    time.sleep(1000)

def memory_bomb():
    hoard = []
    while True:
        hoard.append(bytearray(50 * 1024 * 1024))

def big_array():
    return np.ones((100000, 100000))

def exit3():
    sys.exit(3)

def hard_exit():
    os._exit(7)

def ctrl_c():
    raise KeyboardInterrupt

def segfault():
    import ctypes
    return ctypes.string_at(0)

def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)

def patch_numpy():
    np.maximum = lambda a, b: a * 0 - 42
    np.frombuffer = None
    np.asarray = None
    return 0

def uses_maximum(x):
    return np.maximum(x, 0)

def import_reference():
    import reference
    return 1

def import_grading():
    import grading_tests
    return 1

def import_nnkit():
    import nnkit
    return 1

def import_numpy_and_nnlib():
    import numpy, nnlib
    return 1

def pickle_payload():
    import pickle
    return pickle.dumps({"a": 1})

class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))

def arbitrary_object():
    return Evil()

def object_array():
    return np.array([Evil(), 1], dtype=object)

def forged_frame():
    import json, struct
    head = json.dumps({"ok": True, "value": {"t": "nd", "d": "|O8", "s": [1], "b": 1}}).encode()
    frame = struct.pack("<I", 2) + struct.pack("<Q", len(head)) + struct.pack("<Q", 8) + head
    os.write(int(sys.argv[2]), frame + b"\x00" * 8)
    time.sleep(1000)

def garbage_reply():
    os.write(int(sys.argv[2]), b"\xff" * 64)
    time.sleep(1000)

def flood_stdout():
    while True:
        print("x" * 1000)

def flood_stderr():
    sys.stderr.write("y" * (50 * 1024 * 1024))
    sys.stderr.flush()
    return 1

def fork_bomb():
    for _ in range(12):
        if os.fork() == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
                time.sleep(0.01)
    while True:
        time.sleep(1)

def escape_session():
    if os.fork() == 0:
        os.setsid()
        import ctypes
        ctypes.CDLL(None).prctl(15, b"nnkit-escaped", 0, 0, 0)  # PR_SET_NAME: for the host
        time.sleep(1000)
        os._exit(0)
    time.sleep(1000)

def spawn_and_return():
    import subprocess
    subprocess.Popen(["sleep", "1000"])
    return 1

def read_grader_memory():
    with open(f"/proc/{os.getppid()}/mem", "rb") as f:
        return len(f.read(16))

def attack_grader():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    ptrace = libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
    umount = libc.umount2(b"/", 2)  # MNT_DETACH
    caps = [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")]
    return ptrace, umount, caps[0]

def huge_file():
    with open("big.bin", "wb") as f:
        for _ in range(1000):
            f.write(b"\0" * (1024 * 1024))
    return 1
"""

CASES = {
    "spin": "timeout",
    "sleep_forever": "timeout",
    "memory_bomb": "exception",
    "big_array": "exception",
    "exit3": "crashed",
    "hard_exit": "crashed",
    "ctrl_c": "exception",
    "segfault": "crashed",
    "kill_self": "crashed",
    "import_reference": "exception",
    "import_grading": "exception",
    "import_nnkit": "exception",
    "pickle_payload": "bad_return",
    "arbitrary_object": "bad_return",
    "object_array": "bad_return",
    "forged_frame": "bad_return",
    "garbage_reply": "bad_return",
    "flood_stdout": "output_flood",
    "flood_stderr": "output_flood",
    "fork_bomb": ("timeout", "crashed"),  # crashed: fork refused by the pids cgroup
    "escape_session": "timeout",
    "spawn_and_return": "crashed",
    "huge_file": "exception",
    "read_grader_memory": "exception",
}


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Worker:
    worker = worker_for(
        tmp_path_factory.mktemp("hostile"), HOSTILE, timeout=1.0, memory_mb=384, file_size_mb=8
    )
    yield worker
    worker.close()


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_call_costs_only_that_call(w: Worker, name: str) -> None:
    w.ping()
    pid = w.pid
    assert pid is not None
    with pytest.raises(StudentError) as e:
        w.call(name)
    expected = CASES[name]
    assert e.value.kind in (expected if isinstance(expected, tuple) else (expected,)), e.value
    if w.pid != pid:  # the worker was replaced: nothing of the old one may survive
        assert leftovers(pid) == []
    assert w.call("ok", np.float64(1.0)).value == 2.0  # the next call works
    assert w._child is not None and len(w._child.processes()) == 1  # the worker alone


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _escaped() -> list[int]:
    """Host pids of live processes that renamed themselves like escape_session's child."""
    out = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and (p / "comm").read_text().strip() == "nnkit-escaped":
                out += [int(p.name)] if _alive(int(p.name)) else []
        except OSError:
            continue
    return out


def test_a_child_that_left_the_session_is_killed_too(w: Worker) -> None:
    with pytest.raises(StudentError):
        w.call("escape_session")
    assert _escaped() == []


def test_no_ptrace_no_mounts_no_capabilities(w: Worker) -> None:
    ptrace, umount, cap_eff = w.call("attack_grader").value
    assert ptrace == -1 and umount == -1 and int(cap_eff, 16) == 0


def test_messages_are_clear(w: Worker) -> None:
    msgs = {}
    for name in ("spin", "segfault", "exit3", "hard_exit", "ctrl_c", "flood_stdout"):
        with pytest.raises(StudentError) as e:
            w.call(name)
        msgs[name] = e.value.message
    assert msgs["spin"] == "timed out after 1.0 s"
    assert msgs["segfault"].startswith("worker crashed (signal 11")
    assert msgs["exit3"] == "called sys.exit(3)"
    assert msgs["hard_exit"] == "worker exited with status 7"
    assert msgs["ctrl_c"].startswith("KeyboardInterrupt")
    assert "KiB of output" in msgs["flood_stdout"]


def test_import_of_kit_packages_fails_even_with_editable_install(w: Worker) -> None:
    import reference  # noqa: F401 - importable on the trusted side (editable install)

    for name in ("import_reference", "import_grading", "import_nnkit"):
        with pytest.raises(StudentError) as e:
            w.call(name)
        assert e.value.raised("ImportError")
    assert w.call("import_numpy_and_nnlib").value == 1


def test_numpy_monkeypatch_hurts_only_the_worker(w: Worker) -> None:
    original = np.maximum
    assert w.call("patch_numpy").value == 0
    assert np.maximum is original  # trusted side untouched
    # the worker still decodes arguments (it kept its own references) ...
    out = w.call("uses_maximum", np.ones(3)).value
    # ... and the student's own results are what their patch makes them
    assert np.array_equal(out, np.full(3, -42.0))


def test_loader_drops_top_level_monkeypatches(tmp_path: Path) -> None:
    code = "import numpy as np\nnp.allclose = lambda *a, **k: True\ndef f():\n    return 1\n"
    with worker_for(tmp_path, code) as worker:
        assert worker.call("f").value == 1
        assert [s.code for s in worker.sources if "allclose" in s.code] == []


def test_hanging_or_crashing_definitions_are_skipped_at_load(tmp_path: Path) -> None:
    code = """
    import os
    def good():
        return 5
    class Hangs:
        while True:
            pass
    class Dies:
        os._exit(1)
    BROKEN = undefined_name
    def also_good():
        return 6
    """
    worker = worker_for(tmp_path, code, timeout=1.0)
    worker.load_timeout = 1.0
    with worker:
        assert worker.call("good").value == 5 and worker.call("also_good").value == 6
        problems = [str(p) for p in worker.load_problems]
        assert any("timeout" in p for p in problems)
        assert any("crashed" in p for p in problems)
        assert any("NameError" in p for p in problems)
        assert not worker.has("Hangs") and not worker.has("Dies")
        hangs = [p for p in worker.load_problems if p.names == ("Hangs",)]
        assert len(hangs) == 1 and "timed out" in hangs[0].message


def test_background_process_is_killed_with_the_worker(w: Worker) -> None:
    w.ping()
    pid = w.pid
    assert pid is not None
    with pytest.raises(StudentError) as e:
        w.call("spawn_and_return")
    assert "left processes running" in e.value.message
    assert leftovers(pid) == []


@pytest.mark.parametrize("name", ["fork_bomb", "escape_session", "spawn_and_return"])
def test_process_cases_without_the_pids_cgroup(tmp_path: Path, name: str) -> None:
    """The process-group/session/descendant kill works where no cgroup can be made."""
    worker = worker_for(tmp_path, HOSTILE, timeout=1.0, memory_mb=384, use_cgroup=False)
    with worker:
        worker.ping()
        pid = worker.pid
        assert pid is not None and worker._child is not None and worker._child.cgroup is None
        with pytest.raises(StudentError) as e:
            worker.call(name)
        assert e.value.kind in ("timeout", "crashed")
        assert leftovers(pid) == []
        if name == "escape_session":
            assert _escaped() == []
        assert worker.call("ok", 1).value == 2


def test_kit_files_are_not_readable_from_the_worker(tmp_path: Path) -> None:
    """Beyond imports: the reference's source files cannot be read and exec'd, and no other
    student's working directory is in sight, whoever runs the grader."""
    import reference

    ref_file = Path(reference.__file__).resolve().parent / "layers.py"
    other = Path(tempfile.mkdtemp(prefix="nnkit-work-"))
    (other / "answers.py").write_text("SECRET = 1\n")
    code = f"""
    import os
    def steal():
        with open({str(ref_file)!r}) as f:
            return f.read()
    def peek():
        with open({str(other / "answers.py")!r}) as f:
            return f.read()
    """
    with worker_for(tmp_path, code) as worker:
        for name in ("steal", "peek"):
            with pytest.raises(StudentError) as e:
                worker.call(name)
            assert e.value.raised("OSError"), name
    assert ref_file.exists()  # the grader's own view is untouched
