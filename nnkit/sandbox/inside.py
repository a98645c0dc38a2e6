"""First steps of every sandboxed program, before any student code (stdlib + py_landlock).

Copied into the runtime directory as ``nnkit_inside.py`` and called by the worker and by the
notebook runner as their first act: ``nnkit_inside.enter()``. It reads the plan that
:mod:`nnkit.sandbox.jail` put into ``$NNKIT_JAIL`` (JSON) and

1. copies the submission's regular files (never a link) into the scratch directory, which is
   the only writable place;
2. as root: gives the scratch directory to the sandbox's own uid, then becomes that uid with
   no groups and no capabilities;
3. sets no-new-privileges and applies Landlock: read (and execute) the listed paths, write
   only the scratch directory, no TCP bind/connect, signals scoped to the sandbox;
4. enters the scratch directory.
"""

from __future__ import annotations

import ctypes
import json
import os
import stat

ENV = "NNKIT_JAIL"
_PR_SET_NO_NEW_PRIVS = 38


def _copy_tree(src: str, dst: str, budget: list[int]) -> None:
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(target, exist_ok=True)
            _copy_tree(entry.path, target, budget)
        elif stat.S_ISREG(st.st_mode) and st.st_size <= budget[0]:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f, open(target, "wb") as out:
                out.write(f.read(budget[0] + 1)[: budget[0]])
            budget[0] -= st.st_size


def _chown_tree(path: str, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.chown(os.path.join(dirpath, n), uid, gid, follow_symlinks=False)


def _become(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3 or os.getgroups():
        raise PermissionError("could not switch to the sandbox user")


def _no_new_privs() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _landlock(read: list[str], write: list[str], files_rw: list[str]) -> None:
    from py_landlock import AccessFs, Landlock

    ll = Landlock(strict=False)
    dirs = [p for p in read if os.path.isdir(p)]
    files = [p for p in read if os.path.isfile(p)]
    if dirs:
        ll.allow_read(*dirs).allow_execute(*dirs)
    if files:
        ll.add_path_rule(*files, access=AccessFs.READ_FILE | AccessFs.EXECUTE)
    if write:
        ll.allow_read_write(*write)
    devs = [p for p in files_rw if os.path.exists(p)]
    if devs:
        ll.add_path_rule(*devs, access=AccessFs.READ_FILE | AccessFs.WRITE_FILE)
    ll.apply()


def seed_scratch(plan: dict) -> None:
    """Copy the plan's seed directories (e.g. a prebuilt font cache) into its scratch dir."""
    scratch = plan["scratch"]
    for name, src in plan.get("seed", {}).items():
        if os.path.isdir(src):
            os.makedirs(os.path.join(scratch, name), exist_ok=True)
            _copy_tree(src, os.path.join(scratch, name), [16 << 20])


def enter() -> dict:
    """Apply the plan in ``$NNKIT_JAIL`` (nothing when it is absent); returns the plan."""
    raw = os.environ.pop(ENV, "")
    if not raw:
        return {}
    plan = json.loads(raw)
    scratch = plan["scratch"]
    os.makedirs(scratch, exist_ok=True)
    sub = plan.get("submission")
    if sub and os.path.isdir(sub) and os.path.realpath(sub) != os.path.realpath(scratch):
        _copy_tree(sub, scratch, [int(plan.get("copy_bytes", 256 << 20))])
    seed_scratch(plan)
    uid = plan.get("uid")
    if uid is not None and os.geteuid() == 0:
        gid = int(plan.get("gid", uid))
        _chown_tree(scratch, int(uid), gid)
        os.chmod(scratch, 0o700)
        _become(int(uid), gid)
    _no_new_privs()
    if plan.get("landlock"):
        _landlock(plan.get("read", []), [scratch], plan.get("devices", []))
    os.chdir(scratch)
    return plan
