"""A fork server for notebook runs, inside the sandbox (stdlib + ctypes; nothing of nnkit).

Copied into the runtime directory as ``nnkit_zygote.py`` and started once per grading
process by :mod:`nnkit.sandbox.forkserver`, in a sandbox like a notebook run's but before
any submission and without Landlock. It imports what every run needs (numpy, matplotlib,
IPython, the notebook runner) once; each run is a fork of this clean state that isolates
itself further before any student code:

* the forked monitor takes new mount, pid, network, IPC and UTS namespaces (and, without
  root, a user namespace of its own) and forks the run's init, pid 1 of the new pid
  namespace: every process of the run dies with it;
* the init mounts a fresh scratch tmpfs and a /proc of the new pid namespace; without root
  it forbids further user namespaces and keeps no capability;
* the runner (pid 2) gets the run's pipes as stdin and stdout, closes every other
  descriptor (the control socket included), draws numpy's and random's state afresh, then
  takes the usual first steps (``nnkit_inside.enter``: copy the submission, the sandbox
  uid, no new privileges, Landlock) and runs ``nnkit_nbrun.main``.

Control socket (SOCK_SEQPACKET, one JSON message each; the grader's side is trusted):

* ``{"op": "run"}`` with two descriptors, the run's stdin and stdout; answer
  ``{"started": true}``, later ``{"exit": code}`` (128 + n: ended by signal n);
* ``{"op": "kill"}`` while a run is going: it is killed (its exit follows);
* end of file: the server and any run end.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Callable

_NEWNS, _NEWUTS, _NEWIPC = 0x00020000, 0x04000000, 0x08000000
_NEWUSER, _NEWPID, _NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_V3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _ok(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def _b(s: str | None) -> bytes | None:
    return s.encode() if s is not None else None


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None):
    _ok(_libc.mount(_b(src), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), target)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _drop_capabilities() -> None:
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_V3, 0)
    _ok(_libc.capset(header, (ctypes.c_uint32 * 6)()), "capset")


def _code(status: int) -> int:
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _forked(target: Callable[[], object]) -> int:
    """Fork; the child runs ``target`` and never returns. Returns the child's pid."""
    pid = os.fork()
    if pid == 0:
        try:
            target()
        finally:
            os._exit(127)
    return pid


def _parent_of(target: Callable[[], object], fds: list[int], then: Callable | None = None):
    """Fork ``target``, let go of the run's descriptors, call ``then``, reap children until
    ``target``'s ends and exit as it did (128 + n for signal n)."""
    pid = _forked(target)
    for fd in fds:
        os.close(fd)
    if then is not None:
        then()
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(127)
        if done == pid:
            os._exit(_code(status))


def _harden_init() -> None:
    """The run's init, once the runner is forked: not traceable or readable by it."""
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


class Server:
    def __init__(self, control: int, runtime: str, pkgs: str) -> None:
        self.sock = socket.socket(fileno=control)
        self.runtime, self.pkgs = runtime, pkgs
        self.env = dict(os.environ)  # every run starts from this (the plan included)
        self.plan = json.loads(self.env.get("NNKIT_JAIL", "{}"))
        self.scratch = self.plan.get("scratch", "/scratch")
        self.root = os.geteuid() == 0

    # ------------------------------------------------------------------ the server

    def preload(self) -> None:
        """The seeded font cache, then the imports of every run (no thread is started)."""
        sys.path.insert(0, self.runtime)
        import nnkit_inside

        nnkit_inside.seed_scratch(self.plan)
        os.chdir(self.scratch)
        # not pyplot nor the inline backend: importing them in a run hooks them into its shell
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
        import nnkit_nbrun
        import numpy  # noqa: F401
        from IPython.core import interactiveshell  # noqa: F401

        nnkit_nbrun.highlight_once()
        os.chdir("/")

    def serve(self) -> None:
        self.sock.send(b'{"ready": true}')
        while True:
            msg, fds, _, _ = socket.recv_fds(self.sock, 4096, 2)
            if not msg:
                return
            if json.loads(msg).get("op") != "run" or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            pid = _forked(lambda fds=fds: self.monitor(fds))
            for fd in fds:
                os.close(fd)
            self.sock.send(b'{"started": true}')
            if not self.watch(pid):
                return

    def watch(self, pid: int) -> bool:
        """Until the run ends: kill it when asked; False when the grader went away."""
        pidfd = os.pidfd_open(pid)
        try:
            while True:
                ready, _, _ = select.select([self.sock, pidfd], [], [])
                if pidfd in ready:
                    _, status = os.waitpid(pid, 0)
                    self.sock.send(json.dumps({"exit": _code(status)}).encode())
                    return True
                msg = self.sock.recv(4096)
                if not msg:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    return False
                if json.loads(msg).get("op") == "kill":
                    os.kill(pid, signal.SIGKILL)
        finally:
            os.close(pidfd)

    # ------------------------------------------------------------------ one run

    def monitor(self, fds: list[int]) -> None:
        """The forked child: new namespaces, then the run's init; exits as the init did."""
        os.setsid()
        _die_with_parent()
        self.sock.close()
        uid, gid = os.getuid(), os.getgid()
        flags = _NEWNS | _NEWUTS | _NEWIPC | _NEWPID | _NEWNET
        _ok(_libc.unshare(flags if self.root else flags | _NEWUSER), "unshare")
        if not self.root:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        _parent_of(lambda: self.init(fds), fds)

    def init(self, fds: list[int]) -> None:
        """Pid 1 of the run: its file system, then the runner; reaps until the runner ends."""
        _die_with_parent()
        size = int(self.plan.get("copy_bytes", 256 << 20))  # the scratch size (jail.prepare)
        _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
        _mount("tmpfs", self.scratch, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size},mode=0755")
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        if not self.root:
            _write("/proc/sys/user/max_user_namespaces", "0")
            _drop_capabilities()
        _parent_of(lambda: self.run(fds), fds, then=_harden_init)

    def run(self, fds: list[int]) -> None:
        """The runner: the run's descriptors, a fresh state, the first steps, the notebook."""
        _die_with_parent()
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.environ.clear()
        os.environ.update(self.env)
        import random

        import nnkit_inside
        import nnkit_nbrun
        import numpy

        random.seed()
        numpy.random.seed()  # noqa: NPY002 - the legacy global state notebooks draw from
        nnkit_inside.enter()
        sys.path.remove(self.runtime)
        sys.path.append(self.pkgs)
        sys.argv = [nnkit_nbrun.__file__]
        nnkit_nbrun.main()


def main() -> None:
    control, runtime, pkgs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = Server(control, runtime, pkgs)
    try:
        server.preload()
    except BaseException as e:  # noqa: BLE001 - reported to the grader, which falls back
        server.sock.send(json.dumps({"error": f"{type(e).__name__}: {e}"[:500]}).encode())
        os._exit(1)
    server.serve()


if __name__ == "__main__":
    main()
