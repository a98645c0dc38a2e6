"""``nnkit gradescope <assignment>``: a Gradescope autograder zip that grades through the one
pipeline.

The zip holds ``setup.sh`` (run once by Gradescope, as root, when it builds the image: installs
the kit into a virtual environment of a Python >= 3.11 and logs ``nnkit doctor``),
``run_autograder`` (run for every submission, as root), ``nnkit_gradescope.json`` (the
assignment and the instructor's choices) and ``kit/``: the kit (``nnkit/``, ``nnlib/``),
``reference/``, ``grading_tests/``, the course's release notebooks (their nbgrader cell
metadata) and the assignment's source notebooks (the expected numeric answers). Nothing in it
reaches students: Gradescope keeps the zip on its side.

``run_autograder`` grades ``/autograder/submission`` with the same task as ``nnkit grade PATH``
(:func:`nnkit.grade_cli.single_task` -> :func:`nnkit.batch.task.run_task`: staged from regular
files, student code only in the sandbox, hidden suites, cell scores) and writes
``/autograder/results/results.json`` (:func:`nnkit.batch.outputs.gradescope_doc`). Where no
sandbox layer is available it runs nothing and writes a results.json that says so.

Paths come from the environment, so that a test can lay out a tree as Gradescope does:
``NNKIT_GS_ROOT`` (default ``/autograder``), ``NNKIT_GS_SOURCE`` (default ``$ROOT/source``,
where Gradescope unzips the zip) and ``NNKIT_GS_PYTHON`` (default: the environment
``setup.sh`` made, ``$ROOT/nnkit-venv/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

from nnkit.batch.outputs import gradescope_doc
from nnkit.batch.task import run_task
from nnkit.course.source_notebooks import ASSIGNMENTS, ROOT
from nnkit.datasets import DataSetting, load_setting
from nnkit.errors import UsageError
from nnkit.grade_cli import course_index, single_task
from nnkit.results import HIDDEN_TESTS_VISIBILITY, VISIBILITIES
from nnkit.sandbox import isolation

ROOT_ENV = "NNKIT_GS_ROOT"
SOURCE_ENV = "NNKIT_GS_SOURCE"
PYTHON_ENV = "NNKIT_GS_PYTHON"
DEFAULT_ROOT = "/autograder"
CONFIG = "nnkit_gradescope.json"
KIT = "kit"
CONFIG_FORMAT = 1
#: What the zip takes from the kit's checkout (packages; release and source notebooks apart).
KIT_ITEMS = ("pyproject.toml", "README.md", "nnkit", "nnlib", "reference", "grading_tests")
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same kit gives the same zip

# Gradescope's autograder specification (results.json).
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")
TOP_LEVEL_KEYS = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
STATUSES = ("passed", "failed")
#: When students see a test's details, by its visibility.
WHEN = {
    "after_due_date": "after the due date",
    "after_published": "once the grades are published",
    "visible": "at once",
    "hidden": "never (only the total)",
}


SETUP_SH = r"""#!/usr/bin/env bash
# nnkit autograder setup (made by `nnkit gradescope`). Gradescope runs this once, as root, when
# it builds the autograder image: the kit of this zip goes into a virtual environment of a
# Python >= 3.11 (apt's python3.11 when the image has none), then `nnkit doctor` logs which
# sandbox layers the image offers (without one, every submission gets a results.json saying
# that nothing was run).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
ROOT="${NNKIT_GS_ROOT:-/autograder}"
SOURCE="${NNKIT_GS_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
VENV="$ROOT/nnkit-venv"
recent() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }
PY=""
for c in python3.13 python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && recent "$c"; then PY="$(command -v "$c")"; break; fi
done
if [ -z "$PY" ]; then
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    PY="$(command -v python3.11)"
fi
if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    apt-get update -qq
    apt-get install -y -qq "$(basename "$PY")-venv" >/dev/null 2>&1 \
        || apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# editable: the kit stays in $SOURCE/kit, which the sandbox never shows to student code
"$VENV/bin/python" -m pip install -q -e "$SOURCE/kit"
# the sandbox's own uid (as root) must reach this Python
chmod o+x "$ROOT"
chmod -R o+rX "$VENV"
# the course's downloaded data sets, if it selects any (nnkit_gradescope.json "dataset")
NNKIT_GS_ROOT="$ROOT" "$VENV/bin/python" -m nnkit.gradescope fetch-data "$SOURCE"
chmod -R o+rX "$ROOT/nnkit-data" 2>/dev/null || true
cd "$SOURCE/kit" && "$VENV/bin/python" -m nnkit doctor || true
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# nnkit autograder (made by `nnkit gradescope`). Gradescope runs this for every submission, as
# root: it grades $ROOT/submission through the kit's one pipeline (student code runs only in
# the sandbox) and writes $ROOT/results/results.json.
set -u
ROOT="${NNKIT_GS_ROOT:-/autograder}"
SOURCE="${NNKIT_GS_SOURCE:-$ROOT/source}"
PY="${NNKIT_GS_PYTHON:-$ROOT/nnkit-venv/bin/python}"
export NNKIT_GS_ROOT="$ROOT" NNKIT_GS_SOURCE="$SOURCE" PYTHONPATH="$SOURCE/kit"
if [ ! -x "$PY" ]; then
    mkdir -p "$ROOT/results"
    cat > "$ROOT/results/results.json" <<'EOF'
@NOT_INSTALLED@
EOF
    echo "nnkit: no Python at $PY (setup.sh failed?)"
    exit 0
fi
cd "$SOURCE/kit" || exit 1
exec "$PY" -m nnkit.gradescope autograder
"""


NOT_INSTALLED = (
    "The autograder is not installed (its setup.sh failed), so nothing was graded and this 0 "
    "is not a grade of your work. Please tell your instructor."
)


# -------------------------------------------------------------------------------------------
# building the zip
# -------------------------------------------------------------------------------------------


def _run_autograder_script() -> str:
    doc = error_doc(NOT_INSTALLED, "Autograder error: not installed")
    return RUN_AUTOGRADER.replace("@NOT_INSTALLED@", json.dumps(doc))


def _kit_files(kit: Path) -> list[tuple[str, Path]]:
    """(path inside kit/, file) of every file the autograder needs from the kit's checkout."""
    out: list[tuple[str, Path]] = []
    for item in KIT_ITEMS:
        p = kit / item
        if p.is_file():
            out.append((item, p))
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for f in sorted(filenames):
                if f.endswith((".pyc", ".pyo")):
                    continue
                fp = Path(dirpath) / f
                if not fp.is_symlink():
                    out.append((fp.relative_to(kit).as_posix(), fp))
    return out


def _notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())


def build_zip(
    assignment: str,
    course: Path,
    out: Path,
    visibility: str = HIDDEN_TESTS_VISIBILITY,
    timeout: float = 5.0,
    kit: Path = ROOT,
) -> Path:
    """Write the autograder zip of ``assignment`` of the course at ``course``; return its path."""
    if assignment not in ASSIGNMENTS:
        raise UsageError(f"unknown assignment {assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    if visibility not in VISIBILITIES:
        raise UsageError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if not (kit / "pyproject.toml").is_file() or not (kit / "reference").is_dir():
        raise UsageError(
            f"the kit at {kit} has no source tree (pyproject.toml, reference/); build the zip "
            "from a checkout of the kit (pip install -e)"
        )
    release = course / "release"
    if not _notebooks(release / assignment):
        raise UsageError(
            f"{release / assignment} holds no release notebook; run `nnkit release {assignment}` "
            "in the course first"
        )
    source = course / "source" / assignment
    if not _notebooks(source):
        source = kit / "source" / assignment
    if not _notebooks(source):
        raise UsageError(
            f"no source notebooks of {assignment} (in {course / 'source'} or the kit); run "
            f"`nnkit sync-notebooks {assignment}`"
        )
    entries: list[tuple[str, bytes, int]] = [
        ("setup.sh", SETUP_SH.encode(), 0o755),
        ("run_autograder", _run_autograder_script().encode(), 0o755),
    ]
    config = {
        "format": CONFIG_FORMAT,
        "assignment": assignment,
        "hidden_visibility": visibility,
        "timeout": float(timeout),
        "dataset": load_setting(course).value,  # the course's data sets (nnkit.datasets)
    }
    entries.append((CONFIG, (json.dumps(config, indent=1) + "\n").encode(), 0o644))
    for rel, path in _kit_files(kit):
        entries.append((f"{KIT}/{rel}", path.read_bytes(), 0o644))
    for a_dir in sorted(p for p in release.iterdir() if p.is_dir() and not p.is_symlink()):
        for nb in _notebooks(a_dir):
            entries.append((f"{KIT}/release/{a_dir.name}/{nb.name}", nb.read_bytes(), 0o644))
    for nb in _notebooks(source):
        entries.append((f"{KIT}/source/{assignment}/{nb.name}", nb.read_bytes(), 0o644))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp, out)
    return out


# -------------------------------------------------------------------------------------------
# results.json
# -------------------------------------------------------------------------------------------


def spec_problems(doc: Any) -> list[str]:
    """What in ``doc`` does not follow Gradescope's results.json specification (empty: ok)."""
    bad: list[str] = []
    num = (int, float)
    if not isinstance(doc, dict):
        return ["results.json is not a JSON object"]
    bad += [f"unknown top-level key {k!r}" for k in sorted(set(doc) - TOP_LEVEL_KEYS)]
    if "score" not in doc and not doc.get("tests"):
        bad.append("no score and no tests")
    if "score" in doc and (isinstance(doc["score"], bool) or not isinstance(doc["score"], num)):
        bad.append("score is not a number")
    if "execution_time" in doc and not isinstance(doc["execution_time"], num):
        bad.append("execution_time is not a number")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in doc and doc[key] not in OUTPUT_FORMATS:
            bad.append(f"{key} {doc[key]!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    for key in ("visibility", "stdout_visibility"):
        if key in doc and doc[key] not in VISIBILITIES:
            bad.append(f"{key} {doc[key]!r} is not one of {', '.join(VISIBILITIES)}")
    if "output" in doc and not isinstance(doc["output"], str):
        bad.append("output is not a string")
    tests = doc.get("tests", [])
    if not isinstance(tests, list):
        return [*bad, "tests is not a list"]
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(t, dict):
            bad.append(f"{where} is not an object")
            continue
        bad += [f"{where}: unknown key {k!r}" for k in sorted(set(t) - TEST_KEYS)]
        if "score" not in t and "score" not in doc:
            bad.append(f"{where}: no score (and no top-level score)")
        for key in ("score", "max_score"):
            if key in t and (isinstance(t[key], bool) or not isinstance(t[key], num)):
                bad.append(f"{where}: {key} is not a number")
        if "status" in t and t["status"] not in STATUSES:
            bad.append(f"{where}: status {t['status']!r} is not passed or failed")
        if "visibility" in t and t["visibility"] not in VISIBILITIES:
            bad.append(f"{where}: visibility {t['visibility']!r} is not a visibility")
        for key in ("output_format", "name_format"):
            if key in t and t[key] not in OUTPUT_FORMATS:
                bad.append(f"{where}: {key} {t[key]!r} is not an output format")
        for key in ("name", "output"):
            if key in t and not isinstance(t[key], str):
                bad.append(f"{where}: {key} is not a string")
    board = doc.get("leaderboard", [])
    if not isinstance(board, list):
        return [*bad, "leaderboard is not a list"]
    for i, e in enumerate(board):
        if not isinstance(e, dict) or "name" not in e or "value" not in e:
            bad.append(f"leaderboard[{i}] needs a name and a value")
        elif e.get("order", "desc") not in ("asc", "desc"):
            bad.append(f"leaderboard[{i}]: order is not asc or desc")
    return bad


def error_doc(message: str, name: str = "Autograder error") -> dict[str, Any]:
    """A results.json that says why nothing was graded (shown to the student at once)."""
    return {
        "score": 0,
        "execution_time": 0,
        "output": message,
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": name,
                "score": 0,
                "max_score": 0,
                "status": "failed",
                "output": message,
                "output_format": "text",
                "visibility": "visible",
            }
        ],
    }


NO_SANDBOX = (
    "Nothing of your submission was run and this 0 is not a grade of your work: the "
    "autograder found no sandbox on this machine (no user namespaces for bubblewrap, no "
    "Landlock), and it never runs student code without one. Please tell your instructor; "
    "your submission can be regraded once the autograder is fixed."
)


def _submission_folder(folder: Path) -> Path:
    """The folder holding the submitted files: a zip of one folder is looked into."""
    while folder.is_dir() and not folder.is_symlink():
        entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if any(p.is_file() and p.suffix in (".ipynb", ".py") for p in entries):
            break
        subdirs = [p for p in entries if p.is_dir() and not p.is_symlink()]
        if len(subdirs) != 1 or len(entries) != 1:
            break
        folder = subdirs[0]
    return folder


def _student(root: Path) -> str:
    """The student id that seeds the inputs: Gradescope's user id(s) of the submission."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        ids = sorted(str(u.get("id", u.get("email", ""))) for u in meta.get("users", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return "anonymous"
    ids = [i for i in ids if i]
    return "+".join(ids) if ids else "anonymous"


def _header(config: dict[str, Any], record: dict[str, Any]) -> str:
    when = WHEN[config["hidden_visibility"]]
    lines = [
        f"nnkit autograder: {record['assignment']}",
        f"Score: {record['score']:g} / {record['max_score']:g}",
        f"The hidden tests ran in a sandbox; their details are shown {when}.",
    ]
    if record.get("status") != "graded":
        lines.append(
            "Grading did not complete; this score is not final. Please tell your instructor."
        )
    notes = [m for m in record.get("messages", []) if m]
    if notes:
        lines += ["", "Notes:"] + [f"- {m}" for m in notes]
    return "\n".join(lines)


def autograde(root: Path, source: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as Gradescope's autograder: the results.json document."""
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    if config.get("format") != CONFIG_FORMAT:
        raise RuntimeError(f"{CONFIG} of another kit version (format {config.get('format')})")
    iso = isolation.detect()
    if not iso.isolating and not isolation.unsafe_accepted():
        print("nnkit: no sandbox layer on this machine; nothing was run")
        print(isolation.report(iso))
        return error_doc(NO_SANDBOX, "Autograder error: no sandbox on this machine")
    folder = _submission_folder(root / "submission")
    if not folder.is_dir():
        raise RuntimeError(f"no submission folder at {folder}")
    index = course_index(source / KIT)
    kwargs = {"timeout": float(config.get("timeout", 5.0))}
    task = single_task(
        [folder], _student(root), config["assignment"], kwargs, index, _data(root, config)
    )
    outcome = run_task(task)
    record = outcome.record
    print(
        f"nnkit: {record['assignment']} ({record['status']}): {record['score']:g} / "
        f"{record['max_score']:g} in {outcome.seconds:.1f} s"
    )
    return gradescope_doc(
        record, outcome.seconds, config["hidden_visibility"], output=_header(config, record)
    )


#: Where setup.sh puts the course's downloaded data sets (under the autograder root).
DATA_DIR = "nnkit-data"


def _data(root: Path, config: dict[str, Any]) -> DataSetting:
    """The course's data sets as the zip's config says, the downloaded ones under
    ``root/nnkit-data`` (where setup.sh put them)."""
    return DataSetting.parse(config.get("dataset"), str(root / DATA_DIR))


def fetch_data(source: Path, root: Path | None = None) -> list[str]:
    """setup.sh's step: download (and check) the data sets the zip's config selects; returns
    their names."""
    root = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    data = _data(root, config)
    for name in data.downloaded:
        if data.missing((name,)):
            from nnlib.data import download

            download(name, data.root())
    return list(data.downloaded)


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_autograder(root: Path | None = None, source: Path | None = None) -> int:
    """What ``run_autograder`` runs: grade, then write ``root/results/results.json``, always."""
    root = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    source = Path(source or os.environ.get(SOURCE_ENV) or root / "source")
    t0 = time.monotonic()
    try:
        doc = autograde(root, source)
        problems = spec_problems(doc)
        if problems:
            raise RuntimeError("results.json would not follow the specification: " + problems[0])
    except Exception as e:  # noqa: BLE001 - the student gets a results.json in any case
        traceback.print_exc(file=sys.stdout)  # stdout: instructors only (stdout_visibility)
        first = (str(e).strip().splitlines() or [""])[0]
        doc = error_doc(
            "The autograder failed before it could grade your submission "
            f"({type(e).__name__}: {first}); this 0 is not a grade of your work. "
            "Please tell your instructor."
        )
    doc["execution_time"] = int(math.ceil(time.monotonic() - t0))
    _write(root / "results" / "results.json", doc)
    return 0


# -------------------------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``nnkit gradescope <assignment> [--out ZIP] [--show-hidden-after-due] ...``."""
    parser.add_argument("assignment", help=f"one of {', '.join(ASSIGNMENTS)}")
    parser.add_argument(
        "--out", type=Path, help="the zip to write (default: <assignment>_gradescope.zip)"
    )
    parser.add_argument(
        "--show-hidden-after-due",
        action="store_true",
        help="students see the hidden tests' details after the due date (default: once the "
        "grades are published)",
    )
    parser.add_argument("--course", type=Path, help="course root (default: current directory)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="wall-clock limit of one call into a submission (s)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the zip and say how to use it."""
    if args.assignment not in ASSIGNMENTS:
        raise UsageError(f"unknown assignment {args.assignment!r}; known: {', '.join(ASSIGNMENTS)}")
    from nnkit.course.autograde import course_dir  # (imports nbgrader: only when building)

    course = course_dir(args.course)
    out = args.out or Path(f"{args.assignment}_gradescope.zip")
    visibility = "after_due_date" if args.show_hidden_after_due else HIDDEN_TESTS_VISIBILITY
    path = build_zip(args.assignment, course, out.resolve(), visibility, args.timeout)
    size = path.stat().st_size / 1e6
    print(f"{path} ({size:.1f} MB): upload it as the autograder of a Gradescope programming")
    print("assignment (Ubuntu base image); students upload their notebooks and saved models.")
    print(f"Students see the hidden tests' details {WHEN[visibility]}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m nnkit.gradescope autograder``: the step ``run_autograder`` runs."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "fetch-data":
        fetched = fetch_data(Path(argv[1]))
        print(f"nnkit: data sets ready: {', '.join(fetched) or 'bundled only'}")
        return 0
    if argv != ["autograder"]:
        print(
            "usage: python -m nnkit.gradescope autograder  (run by run_autograder)\n"
            "       python -m nnkit.gradescope fetch-data SOURCE  (run by setup.sh)"
        )
        return 2
    return run_autograder()


if __name__ == "__main__":
    sys.exit(main())
