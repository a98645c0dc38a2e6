"""Run a staged submission's notebooks in the sandbox, for their outputs and plots.

The outputs are for people (manual grading, feedback); no score is ever read from them. Each
notebook runs in a sandbox of its own (:mod:`nnkit.sandbox.jail`) that sees the staged files
read-only and writes only its scratch directory; what comes back is parsed as untrusted,
size-capped data (:mod:`nnkit.sandbox.execute`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from nnkit.sandbox import jail
from nnkit.sandbox.client import runtime_dir
from nnkit.sandbox.execute import execute_notebook
from nnkit.sandbox.limits import Limits

#: per cell and per notebook (a training cell on the bundled data takes seconds)
CELL_TIMEOUT = 300.0
NOTEBOOK_TIMEOUT = 1800.0
_PASSED_ENV = ("NNKIT_DATASET",)
#: nnlib.selfcheck.GUARD_ENV (the students' self-check is not imported by the grader)
SELFCHECK_GUARD = "NNLIB_SELFCHECK"


def execute_notebooks(
    folder: Path,
    notebooks: list[Path],
    limits: Limits | None = None,
    cell_timeout: float = CELL_TIMEOUT,
    total_timeout: float = NOTEBOOK_TIMEOUT,
) -> tuple[dict[str, str], list[str]]:
    """Execute ``notebooks`` (files of the staged ``folder``), each in its own sandbox.

    Returns (notebook name -> executed notebook as JSON text, one-line messages).
    """
    limits = limits or Limits()
    rt = runtime_dir()
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
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
            ) -> subprocess.Popen[bytes]:
                shutil.rmtree(scratch_dir, ignore_errors=True)
                shutil.copytree(folder, scratch_dir, symlinks=True)
                box = jail.prepare(
                    jail.notebook_command(rt),
                    runtime=rt,
                    submission=folder,
                    scratch_host=scratch_dir,
                    limits=limits,
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
