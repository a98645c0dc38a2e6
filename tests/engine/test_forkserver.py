"""Notebook runs forked from the fork server: each run is as isolated as a sandbox started
alone, and nothing of one run reaches the next. Real sandboxes, as root and as a real
non-root user (``nonroot_user`` in tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.engine

PROBE = r"""
import json, os, subprocess
import numpy as np
left = os.path.exists("left_behind.txt")
open("left_behind.txt", "w").write("run data")
subprocess.Popen(["sleep", "600"], start_new_session=True)  # outlives the runner, not the run
status = open("/proc/self/status").read()
caps = {l.split(":")[0]: l.split()[1] for l in status.splitlines() if l.startswith("Cap")}
try:
    userns = subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode == 0
except OSError:
    userns = False
def link(f):
    try:
        return os.readlink(f"/proc/self/fd/{f}")
    except OSError:
        return ""
def comm(p):
    try:
        return open(f"/proc/{p}/comm").read().strip()
    except OSError:
        return ""
fds = [link(f) for f in os.listdir("/proc/self/fd")]
print("PROBE " + json.dumps({
    "left": left, "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(),
    "procs": {p: comm(p) for p in os.listdir("/proc") if p.isdigit()},
    "files": sorted(os.listdir(".")), "caps": caps, "userns": userns,
    "sockets": [f for f in fds if f.startswith("socket:")], "draw": float(np.random.rand()),
    "etc": os.access("/etc/ld.so.cache", os.R_OK),
}))
"""

DRIVER = r"""
import json, sys, tempfile, time
from pathlib import Path
import nbformat
from nnkit.execution import execute_notebooks
from nnkit.sandbox import forkserver

def notebook(d, name, sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, d / name)
    return d / name

def probe(out):
    for cell in json.loads(out)["cells"]:
        for o in cell["outputs"]:
            if o.get("output_type") == "stream" and o["text"].startswith("PROBE "):
                return json.loads(o["text"][6:])
    raise SystemExit(out)

def descendants(pid):
    kids = {}
    for p in Path("/proc").iterdir():
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append((int(p.name), (p / "comm").read_text().strip()))
        except (OSError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child[1])
            todo.append(child[0])
    return out

d = Path(tempfile.mkdtemp()) / "a"
d.mkdir()
(d / "mine.txt").write_text("the submission's own file")
probe_nb = notebook(d, "probe.ipynb", [sys.argv[1]])
hang_nb = notebook(d, "hang.ipynb", [
    "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n"
    "        pass"
])
crash_nb = notebook(d, "crash.ipynb", ["import os\nos.kill(os.getpid(), 9)", "print('later')"])
runs = [probe(execute_notebooks(d, [probe_nb])[0]["probe.ipynb"])]
servers = list(forkserver._SERVERS.values())
runs.append(probe(execute_notebooks(d, [probe_nb])[0]["probe.ipynb"]))
_, hang_msgs = execute_notebooks(d, [hang_nb], total_timeout=3.0, cell_timeout=60.0)
_, crash_msgs = execute_notebooks(d, [crash_nb])
t = time.perf_counter()
runs.append(probe(execute_notebooks(d, [probe_nb])[0]["probe.ipynb"]))
seconds = time.perf_counter() - t
time.sleep(0.5)
print(json.dumps({
    "runs": runs, "hang": hang_msgs, "crash": crash_msgs, "seconds_after_kill": seconds,
    "servers": len(servers), "same_server": list(forkserver._SERVERS.values()) == servers,
    "left": descendants(servers[0].proc.pid) if servers else None,
}))
"""


def _drive(user: str | None) -> dict:
    cmd = [sys.executable, "-c", DRIVER, PROBE]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNKIT_")}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("who", ["root", "user"])
def test_forked_runs_are_isolated_from_each_other_and_from_the_server(
    request: pytest.FixtureRequest, who: str
) -> None:
    if who == "root" and os.geteuid() != 0:
        pytest.skip("the root case needs root")
    got = _drive(request.getfixturevalue("nonroot_user") if who == "user" else None)
    first, second, after_kill = got["runs"]
    assert got["servers"] == 1 and got["same_server"]
    for run in (first, second, after_kill):
        # its own pid namespace: the runner is pid 2 under the run's init, and it sees
        # nothing but them and its own child (no server, no other run, no earlier daemon)
        assert run["pid"] == 2 and run["ppid"] == 1, run
        assert sorted(run["procs"].values()) == ["python", "python", "sleep"], run["procs"]
        # a fresh scratch directory with the submission's files only
        assert not run["left"]  # written by every run, seen by none of the next ones
        assert run["files"] == [
            ".cache",
            "crash.ipynb",
            "hang.ipynb",
            "left_behind.txt",
            "mine.txt",
            "probe.ipynb",
        ]
        assert run["sockets"] == []  # the server's control socket is not inherited
        assert run["etc"]  # the loader's cache is shown, and readable by the run's uid
        assert run["caps"]["CapEff"] == run["caps"]["CapPrm"] == "0" * 16
        if who == "user":
            assert run["caps"]["CapBnd"] == "0" * 16 and not run["userns"]
        else:
            assert run["uid"] != 0
    # numpy's global state is drawn afresh for every run, as in a process of its own
    assert len({r["draw"] for r in got["runs"]}) == 3
    # the hanging run was killed, the server went on, and no process of any run is left
    assert any("time budget" in m and "killed" in m for m in got["hang"]), got["hang"]
    assert any("crashed (signal 9, SIGKILL)" in m for m in got["crash"]), got["crash"]
    assert got["seconds_after_kill"] < 30
    assert got["left"].count("sleep") == 0 and len(got["left"]) <= 2, got["left"]
