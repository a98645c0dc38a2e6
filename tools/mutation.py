"""Mutation testing of the hidden suites with cosmic-ray: mutate ``reference/`` and grade
every mutant with ``grading_tests/``.

The mutants are cosmic-ray's (its operators, its session database, its ``exec`` and
``mutate_and_test``); this script only sets up the workspace, picks the suites that grade
the mutated file, and writes the report. The submission is a copy of ``reference/`` in a
temporary workspace; the trusted side keeps importing the pristine ``reference`` of this
checkout, so a mutant is judged against the real reference. A mutant is *killed* when the
hidden suites give its copy less than full marks (pytest fails), *survived* otherwise;
every survivor must be listed in ``tools/mutation_equivalents.py`` with the reason why it
is equivalent (no legal input of the API tells it apart), or be killed by a new test.

Usage (from the repository root)::

    python tools/mutation.py full   [--report docs/mutation-report.md] [--workdir DIR]
                                    [--resume] [--only optim.py classifiers.py ...]
                                    [--resume [--rerun-survivors]]  # continue DIR's session
    python tools/mutation.py sample [--size 40]      # the fixed CI sample; exit 1 on a new survivor
    python tools/mutation.py test SUBMISSION_DIR     # cosmic-ray's test command (one mutant)

Mutants are generated (``cosmic-ray init``) and applied (``cosmic_ray.mutating.
use_mutation``) by cosmic-ray and their results stored in its session database; each one
is graded in this process (pytest with ``-x``, the suite of the mutated function first),
which saves a Python start-up per mutant. ``cosmic-ray exec <workdir>/cosmic-ray.toml
<workdir>/session.sqlite`` runs the same session with the ``test`` command instead.
``full`` runs every mutant (about 3000, ~1 s each); ``sample`` runs a fixed sample (the
mutants with the smallest hashes of their keys, so unrelated edits keep it) in well under
two minutes.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"
GRADING_TESTS = ROOT / "grading_tests"
FILES = ("layers.py", "layer_utils.py", "optim.py", "classifiers.py", "neural_net.py")
# suites that grade the names defined in (or built on) each reference file
FILE_SUITES = {
    "layers.py": (
        "test_layers",
        "test_losses",
        "test_batchnorm",
        "test_dropout",
        "test_conv",
        "test_models",
    ),
    "layer_utils.py": ("test_layers", "test_conv", "test_models"),
    "optim.py": ("test_optim",),
    "classifiers.py": ("test_models",),
    "neural_net.py": ("test_neural_net",),
}
TIMEOUT = 300.0  # seconds per mutant (the worker's own per-call timeout is 5 s)
GRADING_ERROR = "nnkit-mutation: grading error"

sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------
# The test command: grade one mutated copy of reference/
# ---------------------------------------------------------------------------------------


def _spans(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every top-level def and method (``Class.method``)."""
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            out.append((node.lineno, node.end_lineno or node.lineno, node.name))
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    name = f"{node.name}.{sub.name}"
                    out.append((sub.lineno, sub.end_lineno or sub.lineno, name))
    return out


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((line, col), (end line, end col)) of every annotation (arguments, returns, AnnAssign)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        notes = []
        if isinstance(node, ast.arg) and node.annotation is not None:
            notes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef) and node.returns is not None:
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        for a in notes:
            end = (a.end_lineno or a.lineno, a.end_col_offset or a.col_offset)
            out.append(((a.lineno, a.col_offset), end))
    return out


def _in_spans(spans: list[tuple[int, int, str]], line: int) -> str:
    """The innermost span holding ``line`` (methods come after their class)."""
    best = ""
    for first, last, name in spans:
        if first <= line <= last:
            best = name
    return best


def _enclosing(source: str, line: int) -> str:
    """The top-level def or class (``Class.method``) holding ``line``, or ''."""
    best = ""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.lineno <= line <= (
            node.end_lineno or node.lineno
        ):
            best = node.name
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef) and sub.lineno <= line <= (
                        sub.end_lineno or sub.lineno
                    ):
                        best = f"{node.name}.{sub.name}"
    return best


def _mutated(sub: Path) -> tuple[str, int] | None:
    """(file, first changed line) of the copy ``sub`` against the pristine reference."""
    for name in FILES:
        new = (sub / name).read_text(encoding="utf-8").splitlines()
        old = (REFERENCE / name).read_text(encoding="utf-8").splitlines()
        if new != old:
            for i, (a, b) in enumerate(zip(old, new, strict=False), 1):
                if a != b:
                    return name, i
            return name, min(len(old), len(new)) + 1
    return None


def suites_for(file: str, function: str) -> list[str]:
    """The suites of ``file``, the one grading ``function``'s API name first."""
    from grading_tests import rules

    suites = list(FILE_SUITES[file])
    api = function.split(".", 1)[0]
    key = f"neural_net.{api}" if file == "neural_net.py" else api
    if key in rules.BY_KEY:
        first = rules.BY_KEY[key].suite
        if first in suites:
            suites.remove(first)
        suites.insert(0, first)
    return suites


def _pytest_args(sub: Path, suites: list[str]) -> list[str]:
    return [
        *(str(GRADING_TESTS / f"{s}.py") for s in suites),
        "--submission",
        str(sub),
        "--student",
        "mutation",
        "-x",
        "-q",
        "--tb=no",
        "--no-header",
        "-p",
        "no:cacheprovider",
    ]


def _suites_of(sub: Path) -> list[str]:
    found = _mutated(sub)
    if found is None:  # nothing mutated (cosmic-ray's baseline): the copy must pass
        return sorted({s for v in FILE_SUITES.values() for s in v} | {"test_neural_net"})
    file, line = found
    return suites_for(file, _enclosing((REFERENCE / file).read_text(encoding="utf-8"), line))


def grade_in_process(sub: Path) -> tuple[str, str]:
    """Grade the copy ``sub`` in this process: ("killed" | "survived" | "incompetent", output)."""
    import contextlib
    import io

    import pytest

    suites = _suites_of(sub)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = int(pytest.main(_pytest_args(sub, suites)))
    tail = "\n".join(sink.getvalue().strip().splitlines()[-12:])
    output = f"suites: {', '.join(suites)}\n{tail}"
    if code == 0:
        return "survived", output
    if code == 1:
        return "killed", output
    return "incompetent", f"{GRADING_ERROR} (pytest exit code {code})\n{output}"


# SIGTERM while a mutant is graded: pytest would catch the SystemExit as an error of a test
# (a false kill), so the grade finishes, its result is dropped, and the run stops after it
_TERM = {"grading": False, "requested": False}


def _on_sigterm(*_: Any) -> None:
    if _TERM["grading"]:
        _TERM["requested"] = True
    else:
        sys.exit(143)


def run_mutants(session: Path, picked: list[Mutant], progress: bool = True) -> dict[str, Any]:
    """Apply each mutant with cosmic-ray (``use_mutation``), grade it in this process, and
    store the result in the session database (pending work only: a run can be resumed)."""
    import difflib

    import cosmic_ray.plugins
    from cosmic_ray.mutating import use_mutation
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    done = results(session)
    todo = [m for m in picked if m.item.job_id not in done]
    start = time.monotonic()
    with use_db(str(session), WorkDB.Mode.open) as db:
        for n, m in enumerate(todo, 1):
            spec = m.item.mutations[0]
            operator = cosmic_ray.plugins.get_operator(spec.operator_name)(
                **(spec.operator_args or {})
            )
            with use_mutation(spec.module_path, operator, spec.occurrence) as (before, after):
                if after is None:
                    result = WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
                else:
                    _TERM["grading"] = True
                    try:
                        outcome, output = grade_in_process(Path(spec.module_path).parent)
                    finally:
                        _TERM["grading"] = False
                    diff = "\n".join(
                        difflib.unified_diff(
                            before.splitlines(), after.splitlines(), lineterm="", n=0
                        )
                    )
                    result = WorkResult(
                        worker_outcome=WorkerOutcome.NORMAL,
                        test_outcome=TestOutcome(outcome),
                        output=output,
                        diff=diff,
                    )
            if _TERM["requested"]:  # the mutation is undone; this grade is not trusted
                sys.exit(143)
            db.set_result(m.item.job_id, result)
            done[m.item.job_id] = result
            if progress and (n % 25 == 0 or n == len(todo)):
                rate = (time.monotonic() - start) / n
                print(f"{n}/{len(todo)} mutants, {rate:.1f} s each", flush=True)
    return done


def run_test(sub: Path) -> int:
    """Grade the copy ``sub``: 0 when it gets full marks (the mutant survived), 1 otherwise."""
    found = _mutated(sub)
    if found is None:  # nothing mutated (cosmic-ray's baseline): the copy must pass
        file, function = "layers.py", ""
        suites = sorted({s for v in FILE_SUITES.values() for s in v} | {"test_neural_net"})
    else:
        file, line = found
        function = _enclosing((REFERENCE / file).read_text(encoding="utf-8"), line)
        suites = suites_for(file, function)
    paths = [str(GRADING_TESTS / f"{s}.py") for s in suites]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        "--submission",
        str(sub),
        "--student",
        "mutation",
        "-x",
        "-q",
        "--tb=no",
        "--no-header",
        "-p",
        "no:cacheprovider",
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = "\n".join(proc.stdout.strip().splitlines()[-12:])
    print(f"suites: {', '.join(suites)}\n{tail}")
    if proc.returncode == 0:
        return 0
    if proc.returncode == 1:
        return 1
    print(f"{GRADING_ERROR} (pytest exit code {proc.returncode}): {proc.stderr[-2000:]}")
    return 2  # an error of the grading itself: reported as incompetent, never as a kill


# ---------------------------------------------------------------------------------------
# Workspace, sessions, keys
# ---------------------------------------------------------------------------------------


@dataclass
class Mutant:
    """A cosmic-ray work item with a key that survives unrelated edits of the reference."""

    item: Any  # cosmic_ray.work_item.WorkItem
    file: str
    function: str
    operator: str
    line: int
    text: str  # the original source line, stripped
    ordinal: int  # among mutants of the same (file, function, operator, text), by column
    in_annotation: bool = False  # the mutated node is (inside) a type annotation

    @property
    def key(self) -> str:
        return f"{self.file}|{self.function}|{self.operator}|{self.text}|{self.ordinal}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()


def workspace(workdir: Path) -> Path:
    """A fresh copy of reference/ (the submission that cosmic-ray mutates in place)."""
    sub = workdir / "sub" / "reference"
    if sub.exists():
        shutil.rmtree(sub)
    shutil.copytree(REFERENCE, sub, ignore=shutil.ignore_patterns("__pycache__"))
    return sub


def test_command(sub: Path) -> str:
    return f"{sys.executable} {Path(__file__).resolve()} test {sub}"


def write_config(workdir: Path, sub: Path) -> Path:
    modules = ", ".join(f'"{sub / f}"' for f in FILES)
    config = workdir / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        f"timeout = {TIMEOUT}\n"
        "excluded-modules = []\n"
        f'test-command = "{test_command(sub)}"\n\n'
        "[cosmic-ray.distributor]\n"
        'name = "local"\n',
        encoding="utf-8",
    )
    return config


def init_session(workdir: Path, sub: Path) -> Path:
    """``cosmic-ray init``: the session database of every mutant."""
    config = write_config(workdir, sub)
    session = workdir / "session.sqlite"
    if session.exists():
        session.unlink()
    _cosmic_ray("init", str(config), str(session))
    return session


def _cosmic_ray(*args: str) -> None:
    exe = Path(sys.executable).with_name("cosmic-ray")
    subprocess.run([str(exe), *args], check=True, cwd=ROOT)


def mutants(session: Path, sub: Path) -> list[Mutant]:
    """Every work item of the session, with its key."""
    from cosmic_ray.work_db import WorkDB, use_db

    sources = {f: (sub / f).read_text(encoding="utf-8").splitlines() for f in FILES}
    spans = {f: _spans("\n".join(lines)) for f, lines in sources.items()}
    notes = {f: _annotation_spans("\n".join(lines)) for f, lines in sources.items()}
    raw = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.work_items:
            m = item.mutations[0]
            file = Path(m.module_path).name
            line = m.start_pos[0]
            function = _in_spans(spans[file], line)
            pos = (line, m.start_pos[1])
            note = any(a <= pos < b for a, b in notes[file])
            raw.append((item, file, function, m.operator_name, line, m.start_pos[1], note))
    out: list[Mutant] = []
    seen: Counter[tuple[str, ...]] = Counter()
    for item, file, function, op, line, _col, note in sorted(
        raw, key=lambda r: (r[1], r[4], r[5], r[3])
    ):
        text = sources[file][line - 1].strip()
        k = (file, function, op, text)
        out.append(Mutant(item, file, function, op, line, text, seen[k], note))
        seen[k] += 1
    return out


def results(session: Path) -> dict[str, Any]:
    """job id -> WorkResult of a session."""
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(session), WorkDB.Mode.open) as db:
        return {job_id: result for job_id, result in db.results}


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def _equivalents() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import mutation_equivalents

    return mutation_equivalents


def why_equivalent(m: Mutant) -> str | None:
    """The listed reason why ``m`` is equivalent, or None."""
    return _equivalents().reason(m)


def classify(found: list[Mutant], res: dict[str, Any]) -> dict[str, list[tuple[Mutant, Any]]]:
    """killed / equivalent / survived (unexplained) / incompetent / pending."""
    out: dict[str, list[tuple[Mutant, Any]]] = {
        k: [] for k in ("killed", "equivalent", "survived", "incompetent", "pending")
    }
    for m in found:
        r = res.get(m.item.job_id)
        if r is None:
            out["pending"].append((m, None))
        elif (
            r.test_outcome is None
            or r.test_outcome.value == "incompetent"
            or GRADING_ERROR in (r.output or "")
        ):
            out["incompetent"].append((m, r))
        elif r.test_outcome.value == "killed":
            out["killed"].append((m, r))
        elif why_equivalent(m) is not None:
            out["equivalent"].append((m, r))
        else:
            out["survived"].append((m, r))
    return out


def _diff_line(r: Any) -> str:
    lines = [
        ln for ln in (r.diff or "").splitlines() if ln.startswith("+") and not ln.startswith("+++")
    ]
    return lines[0][1:].strip() if lines else ""


def report(found: list[Mutant], res: dict[str, Any], seconds: float, title: str) -> str:
    groups = classify(found, res)
    by_op: Counter[str] = Counter(m.operator.rsplit("/", 1)[-1].split("_")[0] for m in found)
    lines = [
        f"# {title}",
        "",
        "Generated by `python tools/mutation.py` (cosmic-ray "
        f"{_cr_version()}, every operator, mutants of `reference/{{{','.join(FILES)}}}`, each "
        "graded by the hidden suites of its file; killed = less than full marks).",
        "",
        "| mutants | killed | equivalent (listed with reasons) | survived, unexplained | "
        "incompetent | not run | time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| {len(found)} | {len(groups['killed'])} | {len(groups['equivalent'])} | "
        f"{len(groups['survived'])} | {len(groups['incompetent'])} | {len(groups['pending'])} | "
        f"{seconds / 60:.0f} min |",
        "",
        "Operators: " + ", ".join(f"{k} {v}" for k, v in by_op.most_common()),
        "",
    ]
    per_file: Counter[str] = Counter(m.file for m in found)
    killed_file: Counter[str] = Counter(m.file for m, _ in groups["killed"])
    lines += ["| file | mutants | killed |", "| --- | --- | --- |"]
    lines += [f"| {f} | {per_file[f]} | {killed_file[f]} |" for f in FILES if per_file[f]]
    lines += ["", "## Equivalent mutants", ""]
    if groups["equivalent"]:
        reasons: Counter[str] = Counter(why_equivalent(m) for m, _ in groups["equivalent"])
        lines += ["| reason | mutants |", "| --- | --- |"]
        lines += [f"| {why} | {n} |" for why, n in reasons.most_common()]
        lines += ["", "| where | mutation | why equivalent |", "| --- | --- | --- |"]
        for m, r in groups["equivalent"]:
            if m.in_annotation:
                continue  # counted above; one line each would only repeat the reason
            op = m.operator.rsplit("/", 1)[-1]
            lines.append(
                f"| {m.file}:{m.line} `{m.function}` | {op}: `{m.text}` -> `{_diff_line(r)}` | "
                f"{why_equivalent(m)} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Survivors without an explanation", ""]
    if groups["survived"]:
        for m, r in groups["survived"]:
            lines.append(f"- `{m.key}`: `{_diff_line(r)}`")
    else:
        lines.append("None.")
    if groups["incompetent"]:
        lines += ["", "## Incompetent (the mutant or the grading errored)", ""]
        for m, r in groups["incompetent"]:
            lines.append(f"- `{m.key}`: {(r.output or '')[-200:]!r}")
    return "\n".join(lines) + "\n"


def _cr_version() -> str:
    from importlib.metadata import version

    return version("cosmic-ray")


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------


def forget(session: Path, gone: list[Mutant]) -> None:
    """Drop the results of ``gone`` (to grade them again, e.g. after new tests)."""
    import sqlite3

    con = sqlite3.connect(session)
    with con:
        con.executemany(
            "DELETE FROM work_results WHERE job_id = ?", [(m.item.job_id,) for m in gone]
        )
    con.close()


def run_full(
    workdir: Path, report_path: Path, resume: bool = False, rerun_survivors: bool = False
) -> int:
    """Every mutant. With ``resume`` an existing workdir's session continues where it
    stopped (the report's time adds up the runs of the session)."""
    session = workdir / "session.sqlite"
    sub = workdir / "sub" / "reference"
    if not (resume and session.exists() and sub.exists()):
        sub = workspace(workdir)
        session = init_session(workdir, sub)
    for f in FILES:  # an interrupted run may have left a mutation on disk
        shutil.copyfile(REFERENCE / f, sub / f)
    found = mutants(session, sub)
    if rerun_survivors:
        forget(session, [m for m, _ in classify(found, results(session))["survived"]])
    start = time.monotonic()
    try:
        run_mutants(session, found)
    finally:
        # an interrupted run (SIGTERM, Ctrl-C) still counts its time and reports what is
        # done (the rest as "not run"); --resume continues it
        res = results(session)
        clock = workdir / "seconds.json"  # grading time over every run of this session
        seconds = time.monotonic() - start
        if resume and clock.exists():
            seconds += json.loads(clock.read_text())["seconds"]
        clock.write_text(json.dumps({"seconds": seconds}))
        text = report(found, res, seconds, "Mutation report: reference/ vs the hidden suites")
        report_path.write_text(text, encoding="utf-8")
        print(text.split("\n## ")[0], flush=True)
    return 1 if classify(found, res)["survived"] else 0


def sample(found: list[Mutant], size: int) -> list[Mutant]:
    """The fixed sample: the ``size`` mutants with the smallest digests of their keys."""
    return sorted(found, key=lambda m: m.digest)[:size]


def run_sample(workdir: Path, size: int, report_path: Path | None) -> int:
    sub = workspace(workdir)
    session = init_session(workdir, sub)
    picked = sample(mutants(session, sub), size)
    start = time.monotonic()
    res = run_mutants(session, picked, progress=False)
    seconds = time.monotonic() - start
    groups = classify(picked, res)
    text = report(picked, res, seconds, f"Mutation sample ({size} mutants)")
    if report_path is not None:
        report_path.write_text(text, encoding="utf-8")
    summary = {k: len(v) for k, v in groups.items()}
    summary["seconds"] = round(seconds, 1)
    print(json.dumps(summary))
    for m, r in groups["survived"] + groups["incompetent"]:
        print(f"NEW SURVIVOR {m.key}: {_diff_line(r)}" if r and r.test_outcome else m.key)
    return 1 if groups["survived"] or groups["incompetent"] else 0


def main(argv: list[str] | None = None) -> int:
    global FILES
    import signal

    # a terminated run still puts the mutated file back (use_mutation's with-block)
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_full = sub.add_parser("full", help="every mutant; writes the report")
    p_full.add_argument("--report", type=Path, default=ROOT / "docs" / "mutation-report.md")
    p_full.add_argument("--workdir", type=Path, default=None)
    p_full.add_argument("--resume", action="store_true", help="continue the workdir's session")
    p_full.add_argument(
        "--only", nargs="+", choices=FILES, help="mutate only these reference files"
    )
    p_full.add_argument(
        "--rerun-survivors", action="store_true", help="with --resume: grade survivors again"
    )
    p_sample = sub.add_parser("sample", help="the fixed CI sample; exit 1 on a new survivor")
    p_sample.add_argument("--size", type=int, default=40)
    p_sample.add_argument("--report", type=Path, default=None)
    p_sample.add_argument("--workdir", type=Path, default=None)
    p_test = sub.add_parser("test", help="cosmic-ray's test command for one mutated copy")
    p_test.add_argument("submission", type=Path)
    args = parser.parse_args(argv)
    if getattr(args, "only", None):  # a partial run (e.g. after one file changed)
        FILES = tuple(f for f in FILES if f in args.only)
    if args.cmd == "test":
        return run_test(args.submission)
    workdir = args.workdir
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="nnkit-mutation-")
        workdir = Path(tmp)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.cmd == "full":
            return run_full(
                workdir, args.report, resume=args.resume, rerun_survivors=args.rerun_survivors
            )
        return run_sample(workdir, args.size, args.report)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
