"""Notebook runs forked from one sandboxed fork server per grading process (trusted side).

Starting Python and importing numpy, matplotlib and IPython took about half a second of
every notebook run. With namespaces, :func:`server` keeps one sandbox per grading process
(and configuration) whose program, :mod:`nnkit.sandbox.zygote`, has imported them once and
forks each run; the run then takes namespaces of its own (see there), so runs never share a
file system, a pid namespace, a network or a uid's files with each other or with the server.

The submission reaches a run through the server's inbox, a host directory shown read-only
at ``/submission``: it holds the current run's files only (runs of one server are serial).
:meth:`ForkServer.run` returns a :class:`ForkedRun`, which has the part of
``subprocess.Popen`` that :func:`nnkit.sandbox.execute.execute_notebook` uses.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from nnkit.sandbox import isolation, jail
from nnkit.sandbox.limits import Limits

#: Seconds the server may take to import its modules.
START_TIMEOUT = 60.0


class ServerError(RuntimeError):
    """The fork server could not start or went away (the caller starts a plain sandbox)."""


class ForkedRun:
    """One run: its stdin and stdout pipes, ``wait``, ``kill`` and ``returncode``."""

    def __init__(self, server: ForkServer, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.server, self.stdin, self.stdout = server, stdin, stdout
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            code = self.server.exit_code(timeout)
            # 128 + n: ended by signal n (reported as a negative code, as Popen does)
            self.returncode = -(code - 128) if code > 128 else code
            self.server.clear_inbox()
        return self.returncode

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.wait(0)
        return None

    def kill(self) -> None:
        if self.returncode is None:
            self.server.kill_run()


class ForkServer:
    """A sandbox holding the fork server; :meth:`run` starts one notebook run."""

    def __init__(self, runtime: Path, limits: Limits, env: dict[str, str], read: list[Path]):
        self.closed = False
        self.inbox = Path(tempfile.mkdtemp(prefix="nnkit-inbox-"))
        os.chmod(self.inbox, 0o711)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.box = jail.prepare(
            jail.forkserver_command(runtime, theirs.fileno()),
            runtime=runtime,
            submission=self.inbox,
            scratch_host=self.inbox,  # unused: the server needs namespaces
            limits=limits,
            read=read,
            env=env,
            seed={".cache/matplotlib": runtime / "mpl"},  # HOME is the scratch dir
            forks_runs=True,
        )
        try:
            self.proc = jail.launch(
                self.box,
                limits,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.close()
            raise
        finally:
            theirs.close()
        self.running = False
        try:
            reply = self._receive(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            reply = {"error": f"no answer in {START_TIMEOUT:g} s"}
        if reply.get("ready") is not True:
            self.close()
            raise ServerError(f"the notebook fork server did not start: {reply.get('error')}")

    def _receive(self, timeout: float | None) -> dict:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired("fork server", timeout or 0.0)
        try:
            msg = self.sock.recv(4096)
        except OSError:
            msg = b""
        if not msg:
            self.close()
            raise ServerError("the notebook fork server went away")
        reply = json.loads(msg)
        return reply if isinstance(reply, dict) else {}

    @property
    def alive(self) -> bool:
        return not self.closed and self.proc.poll() is None

    def clear_inbox(self) -> None:
        for entry in self.inbox.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def run(self, folder: Path) -> ForkedRun:
        """Start a run with ``folder``'s files (a staged copy) in its scratch directory."""
        self.clear_inbox()
        shutil.copytree(folder, self.inbox, symlinks=True, dirs_exist_ok=True)
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        run = ForkedRun(self, os.fdopen(w_in, "wb"), os.fdopen(r_out, "rb"))
        try:
            socket.send_fds(self.sock, [b'{"op": "run"}'], [r_in, w_out])
            started = self._receive(START_TIMEOUT).get("started") is True
        except (OSError, ServerError, subprocess.TimeoutExpired):
            started = False
        finally:  # the run's ends of the pipes are the server's now
            os.close(r_in)
            os.close(w_out)
        if not started:  # nothing ran: the caller starts a sandbox of its own
            run.stdin.close()
            run.stdout.close()
            self.close()
            raise ServerError("the notebook fork server did not start a run")
        self.running = True
        return run

    def exit_code(self, timeout: float | None) -> int:
        """The current run's exit code (``subprocess.TimeoutExpired`` if still running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                reply = self._receive(left)
            except ServerError:
                self.running = False
                return 128 + 9  # the server died: so did the run
            if "exit" in reply:
                self.running = False
                code = reply["exit"]
                return code if type(code) is int else 127

    def kill_run(self) -> None:
        if self.running:
            with contextlib.suppress(OSError):
                self.sock.send(b'{"op": "kill"}')

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, 9)
            proc.wait()
        if self.box.cgroup is not None:
            self.box.cgroup.remove()
        shutil.rmtree(self.inbox, ignore_errors=True)


_SERVERS: dict[tuple, ForkServer] = {}
_BROKEN: set[tuple] = set()


def server(runtime: Path, limits: Limits, env: dict[str, str], read: list[Path]):
    """This thread's fork server for the configuration, started if needed; None where there
    are no namespaces or it cannot start (the caller starts a plain sandbox)."""
    # runs of one server are serial: a thread of its own (a Dask worker's) gets its own
    key = (threading.get_ident(), str(runtime), limits, tuple(sorted(env.items())), *read)
    srv = _SERVERS.get(key)
    if srv is not None and srv.alive:
        return srv
    if key in _BROKEN or not isolation.require().namespaces:
        return None
    try:
        srv = ForkServer(runtime, limits, env, read)
    except (ServerError, OSError):
        _BROKEN.add(key)
        return None
    if not _SERVERS:
        atexit.register(close_all)
    _SERVERS[key] = srv
    return srv


def close_all() -> None:
    """Stop every fork server of this process."""
    while _SERVERS:
        _SERVERS.popitem()[1].close()
