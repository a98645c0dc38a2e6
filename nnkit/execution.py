"""Run a staged submission's notebooks in the sandbox, for their outputs and plots.

The outputs are for people (manual grading, feedback); no score is ever read from them. Each
notebook runs in a sandbox of its own that sees the staged files read-only and writes only its
scratch directory: forked from this process's fork server where there are namespaces
(:mod:`nnkit.sandbox.forkserver`), else started alone (:mod:`nnkit.sandbox.jail`). What
comes back is parsed as untrusted, size-capped data (:mod:`nnkit.sandbox.execute`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nnkit.datasets import DataSetting
from nnkit.sandbox import forkserver, jail
from nnkit.sandbox.client import runtime_dir
from nnkit.sandbox.execute import execute_notebook
from nnkit.sandbox.limits import Limits

#: per cell and per notebook (a training cell on the bundled data takes seconds)
CELL_TIMEOUT = 300.0
NOTEBOOK_TIMEOUT = 1800.0
#: nnlib.selfcheck.GUARD_ENV (the students' self-check is not imported by the grader)
SELFCHECK_GUARD = "NNLIB_SELFCHECK"


def execute_notebooks(
    folder: Path,
    notebooks: list[Path],
    limits: Limits | None = None,
    cell_timeout: float = CELL_TIMEOUT,
    total_timeout: float = NOTEBOOK_TIMEOUT,
    data: DataSetting | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Execute ``notebooks`` (files of the staged ``folder``), each in its own sandbox.

    ``data``: the course's data sets (:mod:`nnkit.datasets`, default the bundled ones): the
    notebooks' ``nnlib.data`` loads them (``$NNKIT_DATASET``, ``$NNKIT_DATA``), and the public
    files of a downloaded set are shown read-only (never its held-out files).

    Returns (notebook name -> executed notebook as JSON text, one-line messages).
    """
    limits = limits or Limits()
    data = data or DataSetting()
    rt = runtime_dir()
    env = data.sandbox_env()
    data_files = data.sandbox_files()
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures as outputs
    env[SELFCHECK_GUARD] = "grader"  # a nnlib.selfcheck.check() cell does nothing here
    out: dict[str, str] = {}
    messages: list[str] = []
    for path in notebooks:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # staging has reported it
        boxes: list[jail.Sandbox] = []
        with tempfile.TemporaryDirectory(prefix="nnkit-exec-") as scratch:
            os.chmod(scratch, 0o711)  # without namespaces the sandbox uid must reach it
            scratch_dir = Path(scratch) / "work"

            def launch(
                _argv: list[str], scratch_dir: Path = scratch_dir, boxes: list = boxes
            ) -> subprocess.Popen[bytes] | forkserver.ForkedRun:
                srv = forkserver.server(rt, limits, env, data_files)
                if srv is not None:
                    with contextlib.suppress(forkserver.ServerError):
                        return srv.run(folder)
                shutil.rmtree(scratch_dir, ignore_errors=True)
                shutil.copytree(folder, scratch_dir, symlinks=True)
                box = jail.prepare(
                    jail.notebook_command(rt),
                    runtime=rt,
                    submission=folder,
                    scratch_host=scratch_dir,
                    limits=limits,
                    read=data_files,
                    env=env,
                    seed={".cache/matplotlib": rt / "mpl"},  # HOME is the scratch dir
                )
                boxes.append(box)
                return jail.launch(
                    box,
                    limits,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )

            try:
                res = execute_notebook(
                    nb, launch, cell_timeout=cell_timeout, total_timeout=total_timeout
                )
            finally:
                for box in boxes:
                    if box.cgroup is not None:
                        box.cgroup.remove()
        out[path.name] = json.dumps(res.nb, ensure_ascii=False)
        messages += [f"{path.name}: {m}" for m in res.messages]
    return out, messages
