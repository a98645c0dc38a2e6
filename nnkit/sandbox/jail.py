"""Start a program in the sandbox: every process that runs student code goes through here.

:func:`launch` composes the layers :mod:`nnkit.sandbox.isolation` found:

* namespaces (bwrap): the sandbox sees only the system libraries, the Python installation and
  its packages (read-only; the kit's own packages and checkout are never there), the runtime
  directory (read-only), the submission (read-only, at ``/submission``) and one writable
  tmpfs of ``Limits.scratch_mb`` at ``/scratch``; its own pid, network, IPC and UTS
  namespaces; it dies with the grader and all its processes die with it.
* Landlock, uid and no-new-privileges: applied by the program itself as its first act
  (:mod:`nnkit.sandbox.inside`), after the namespaces exist and before any student code.
* rlimits and the pids cgroup: applied here, before exec, and inherited by everything.

Without namespaces the scratch directory is a fresh host directory and Landlock alone hides
the rest; with neither, :func:`nnkit.sandbox.isolation.require` refuses unless the risk was
accepted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nnkit.sandbox import isolation
from nnkit.sandbox.limits import Limits, PidsCgroup, child_preexec, clean_env

SCRATCH = "/scratch"
SUBMISSION = "/submission"
_KIT_PACKAGES = ("nnkit", "reference", "grading_tests")
_SYSTEM = ("usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/fonts")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")


def kit_dirs() -> list[Path]:
    """What student code must never see: the kit's packages and the checkout holding them."""
    out: list[Path] = []
    for pkg in _KIT_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is not None and spec.submodule_search_locations:
            d = Path(list(spec.submodule_search_locations)[0]).resolve()
            out.append(d)
            if (d.parent / "pyproject.toml").is_file() and (d.parent / "reference").is_dir():
                out.append(d.parent)  # a checkout: solutions, tests, submissions, gradebook
    return sorted(set(out))


def _split_around(root: Path, secrets: list[Path]) -> list[Path]:
    """``root`` as a list of readable paths that contain none of ``secrets``."""
    inside = [s for s in secrets if s == root or s.is_relative_to(root)]
    if not inside:
        return [root]
    if root in inside:
        return []
    out: list[Path] = []
    for child in sorted(root.iterdir()):
        if child.is_symlink():
            continue
        out += _split_around(child, secrets) if child.is_dir() else [child]
    return out


def python_paths() -> list[Path]:
    """The Python installation and its environment, minus anything of the kit."""
    roots = {
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(os.path.realpath(sys.executable)).parent,
    }
    spec = importlib.util.find_spec("numpy")
    if spec is not None and spec.origin:  # numpy from a user site or PYTHONPATH
        roots.add(Path(spec.origin).resolve().parent.parent)
    # outermost roots only (a venv inside the base prefix is covered by it)
    roots = {r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots)}
    secrets = kit_dirs()
    out: list[Path] = []
    for r in sorted(roots):
        out += _split_around(r, secrets)
    return out


@dataclass(frozen=True)
class Sandbox:
    """One sandboxed process: its command, environment and pre-exec step."""

    argv: list[str]
    env: dict[str, str]
    scratch: str  # the writable directory, as the program sees it
    cgroup: PidsCgroup | None
    iso: isolation.Isolation

    def preexec(self, limits: Limits):  # noqa: ANN201 - a preexec_fn
        return child_preexec(limits, self.cgroup)


def _system_args() -> list[str]:
    args: list[str] = []
    for name in _SYSTEM:
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    args += ["--perms", "0755", "--dir", "/etc"]  # traversable: bwrap makes it 0700 as root
    for f in _ETC:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


def _system_read() -> list[str]:
    return [f"/{n}" for n in _SYSTEM if os.path.isdir(f"/{n}")] + list(_ETC)


def _check_reachable(paths: Sequence[Path], uid: int) -> None:
    """Without namespaces, the sandbox uid must be able to reach Python through the host's
    own permissions (a pyenv Python in a 0700 /root is not)."""
    for p in paths:
        for a in [*reversed(p.parents), p]:
            if a.is_dir() and not a.stat().st_mode & 0o001:
                raise isolation.NoIsolation(
                    f"without namespaces the sandbox user (uid {uid}) cannot reach {a}, which "
                    "holds Python or its packages; make it traversable (chmod o+x) or enable "
                    "user namespaces (see docs/sandbox.md)"
                )


def _parents(paths: Sequence[Path]) -> list[str]:
    """Create the bound paths' parent directories traversable (bwrap makes them 0700 as root)."""
    parents = sorted({a for p in paths for a in p.parents if a != Path("/")}, key=lambda a: a.parts)
    out: list[str] = []
    for a in parents:
        if a.parts[1] not in _SYSTEM and a not in paths:
            out += ["--perms", "0755", "--dir", str(a)]
    return out


def prepare(
    program: Sequence[str],
    *,
    runtime: Path,
    submission: Path | None,
    scratch_host: Path,
    limits: Limits,
    read: Sequence[Path] = (),
    env: dict[str, str] | None = None,
    seed: dict[str, Path] | None = None,
    forks_runs: bool = False,
) -> Sandbox:
    """Plan a sandbox for ``program`` (its argv, paths as seen inside).

    ``submission``: a host directory of staged files, copied into the scratch directory
    before the program starts; ``scratch_host``: a fresh host directory used as the scratch
    directory when there are no namespaces; ``read``: more host paths to show read-only;
    ``seed``: scratch-relative name -> a directory of the runtime dir copied there first
    (e.g. a prebuilt matplotlib font cache); ``forks_runs``: the program is the fork server
    (:mod:`nnkit.sandbox.zygote`), whose runs take namespaces of their own, so it may
    create user namespaces (each run then forbids them again).
    """
    iso = isolation.require()
    run_as = limits.run_as()
    readable = [*python_paths(), runtime.resolve(), *(Path(p).resolve() for p in read)]
    plan: dict[str, object] = {
        "landlock": iso.landlock_abi > 0,
        "copy_bytes": limits.scratch_mb << 20,
    }
    if run_as is not None:
        plan["uid"], plan["gid"] = run_as
    if iso.namespaces:
        scratch = SCRATCH
        plan["submission"] = SUBMISSION if submission is not None else None
        argv = [iso.bwrap or "bwrap", *_system_args(), *_parents(readable)]
        for p in readable:
            argv += ["--ro-bind", str(p), str(p)]
        if submission is not None:
            argv += ["--ro-bind", str(submission), SUBMISSION]
        argv += ["--size", str(limits.scratch_mb << 20), "--tmpfs", SCRATCH]
        argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/"]
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        argv += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        if not iso.root:
            argv += ["--unshare-user"] if forks_runs else ["--unshare-user", "--disable-userns"]
        argv += ["--hostname", "sandbox", "--", *program]
        plan["read"] = [*_system_read(), *map(str, readable), SUBMISSION, "/proc"]
    else:
        if run_as is not None:
            _check_reachable(readable, run_as[0])
        scratch = str(scratch_host)
        plan["submission"] = str(submission) if submission is not None else None
        argv = list(program)
        plan["read"] = [*_system_read(), *map(str, readable)]
    plan["scratch"] = scratch
    plan["devices"] = list(_DEVICES)
    plan["seed"] = {name: str(src) for name, src in (seed or {}).items()}
    full_env = clean_env(Path(scratch))
    full_env.update(env or {})
    full_env["NNKIT_JAIL"] = json.dumps(plan)
    cgroup = PidsCgroup.create(limits.processes) if limits.use_cgroup and iso.root else None
    return Sandbox(argv=argv, env=full_env, scratch=scratch, cgroup=cgroup, iso=iso)


def launch(
    sandbox: Sandbox, limits: Limits, *, pass_fds: Sequence[int] = (), **popen: object
) -> subprocess.Popen[bytes]:
    """Start the planned sandbox (own session; stdin/stdout/stderr as ``popen`` says)."""
    return subprocess.Popen(  # type: ignore[call-overload]
        sandbox.argv,
        env=sandbox.env,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
        preexec_fn=sandbox.preexec(limits),
        close_fds=True,
        cwd="/",
        **popen,
    )


def forkserver_command(runtime: Path, control_fd: int) -> list[str]:
    """The fork server of notebook runs (``nnkit_zygote.py``), talking on ``control_fd``;
    like :func:`notebook_command`, a site-enabled ``-I`` interpreter of this environment."""
    rt = runtime / "runtime"
    return [
        sys.executable,
        "-I",
        str(rt / "nnkit_zygote.py"),
        str(control_fd),
        str(rt),
        str(runtime / "pkgs"),
    ]


def notebook_command(runtime: Path) -> list[str]:
    """The notebook runner (``nnkit_nbrun.py`` of the runtime dir) behind the sandbox's first
    steps; it needs the environment's packages (IPython, matplotlib), hence a site-enabled
    ``-I`` interpreter of this environment."""
    rt = str(runtime / "runtime")
    pkgs = str(runtime / "pkgs")  # the kit's nnlib, for a submission without its own copy
    nbrun = str(runtime / "runtime" / "nnkit_nbrun.py")
    boot = (
        f"import sys, runpy; sys.path.insert(0, {rt!r}); import nnkit_inside; "
        f"nnkit_inside.enter(); sys.path.remove({rt!r}); sys.path.append({pkgs!r}); "
        f"sys.argv = [{nbrun!r}]; runpy.run_path({nbrun!r}, run_name='__main__')"
    )
    return [sys.executable, "-I", "-c", boot]
