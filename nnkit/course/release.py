"""``nnkit release <a>``: nbgrader generate_assignment, then proof that the release is clean.

A release is clean when no file in it holds a solution or hidden-test marker, no line of a
reference solution body, no private reference helper, no formula that needs MathJax (or any
mention of it), when it has its README and its checklist (``CHECKLIST.md``, and a last
checklist cell in every notebook), and when its ``nnlib/`` is byte-for-byte the student
library of the repository (nothing more, nothing less).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from nnkit.errors import UsageError

from . import checklist
from .notebook import BEGIN, END, HIDDEN_BEGIN, HIDDEN_END, HIDDEN_TAG
from .source_notebooks import ASSIGNMENTS, ROOT, library_files, link_library, notebook_specs

MARKERS = (BEGIN, END, HIDDEN_BEGIN, HIDDEN_END, HIDDEN_TAG, "BEGIN MARK SCHEME")
#: Markdown math that only renders with MathJax (a CDN script outside Jupyter): $$...$$ or
#: $...$ holding TeX (a backslash, ^, _ or braces). Release prose writes formulas in Unicode.
_TEX = re.compile(r"\$\$|\$[^$\n]*[\\^_{}][^$\n]*\$")
#: Solution lines shorter than this (``return dx``) are too generic to count as a leak.
MIN_LEAK_LINE = 28


class ReleaseError(RuntimeError):
    """The release could not be generated or is not clean."""


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader subprocesses (its tools, e.g. alembic, on PATH)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_nbgrader(
    args: list[str],
    course_root: Path,
    check: bool = True,
    db_url: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader <args>`` in course_root with the course's config."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_root}"]
    if db_url:
        cmd.append(f"--CourseDirectory.db_url={db_url}")
    proc = subprocess.run(
        cmd, cwd=course_root, env=nbgrader_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise ReleaseError(
            f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def make_course(dest: Path, assignments: list[str] | None = None, root: Path = ROOT) -> Path:
    """A self-contained course directory: config and source/<a>/ with the library resolved."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", dest / "nbgrader_config.py")
    for a in assignments or ASSIGNMENTS:
        src = root / "source" / a
        if not src.is_dir():
            raise ReleaseError(f"no source/{a}; run `nnkit sync-notebooks {a}`")
        target = dest / "source" / a
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            src,
            target,
            symlinks=False,
            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"),
        )
    return dest


def generate(assignment: str, course_root: Path, db_url: str | None = None) -> Path:
    """nbgrader generate_assignment (forced) in course_root; returns release/<a>."""
    run_nbgrader(["generate_assignment", assignment, "--force"], course_root, db_url=db_url)
    return course_root / "release" / assignment


def _solution_lines(assignment: str, root: Path = ROOT) -> set[str]:
    """Stripped lines that only solution regions hold (long enough to be telling).

    Lines that also occur outside the regions (visible checks, provided code) or in the
    student library are public anyway and do not count.
    """
    secret: set[str] = set()
    public: set[str] = set()
    for spec in notebook_specs(assignment):
        for cell in spec.cells:
            inside = False
            for ln in cell.source.split("\n"):
                s = ln.strip()
                if BEGIN in s:
                    inside = True
                elif END in s:
                    inside = False
                elif len(s) >= MIN_LEAK_LINE and not s.startswith("#"):
                    (secret if inside else public).add(s)
    for p in library_files(root).values():
        if p.suffix == ".py":
            public.update(ln.strip() for ln in p.read_text().split("\n"))
    return secret - public


def _private_definitions(nb: nbformat.NotebookNode) -> list[str]:
    """Top-level functions and classes with a private name (``_helper``) in a notebook's code
    cells: reference helpers that would reach students as empty stubs."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        found += [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_")
        ]
    return found


def verify_release(assignment: str, release_dir: Path, root: Path = ROOT) -> list[str]:
    """Problems of a generated release (empty when clean)."""
    problems: list[str] = []
    secret = _solution_lines(assignment, root)
    for p in sorted(release_dir.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(release_dir)
        text = p.read_text(errors="replace")
        for m in MARKERS:
            if m in text:
                problems.append(f"{rel}: contains {m!r}")
        if "mathjax" in text.lower():
            problems.append(f"{rel}: refers to MathJax (equations must render offline)")
        if p.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            body = "\n".join(c.source for c in nb.cells)
            if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
                problems.append(f"{rel}: has outputs")
            for name in _private_definitions(nb):
                problems.append(f"{rel}: defines the private helper {name} (not part of the API)")
            for cell in nb.cells:
                tex = _TEX.search(cell.source) if cell.cell_type == "markdown" else None
                if tex:
                    problems.append(f"{rel}: LaTeX needs MathJax to render: {tex.group(0)[:40]}")
        else:
            body = text
        stripped = {ln.strip() for ln in body.split("\n")}
        for ln in sorted(secret & stripped):
            problems.append(f"{rel}: holds a solution line: {ln}")
        if re.search(r"(^|\n)\s*(from|import)\s+(reference|grading_tests)\b", body):
            problems.append(f"{rel}: imports the instructor's packages")
    lib = library_files(root)
    shipped = {
        str(p.relative_to(release_dir / "nnlib"))
        for p in (release_dir / "nnlib").rglob("*")
        if p.is_file()
    }
    for rel in sorted(set(lib) - shipped):
        problems.append(f"nnlib/{rel}: missing from the release")
    for rel in sorted(shipped - set(lib)):
        problems.append(f"nnlib/{rel}: not part of the student library")
    for rel in sorted(set(lib) & shipped):
        if (release_dir / "nnlib" / rel).read_bytes() != lib[rel].read_bytes():
            problems.append(f"nnlib/{rel}: differs from the repository's library")
    if not (release_dir / "README.md").is_file():
        problems.append("README.md: missing")
    if not (release_dir / checklist.FILENAME).is_file():
        problems.append(f"{checklist.FILENAME}: missing")
    for spec in notebook_specs(assignment):
        path = release_dir / f"{spec.name}.ipynb"
        if path.is_file():
            cells = nbformat.read(str(path), as_version=4).cells
            if not (cells and cells[-1].source.startswith(checklist.CELL_MARK)):
                problems.append(f"{path.name}: does not end with its checklist")
    notebooks = {p.name for p in release_dir.glob("*.ipynb")}
    expected = {f"{s.name}.ipynb" for s in notebook_specs(assignment)}
    if notebooks != expected:
        problems.append(f"notebooks {sorted(notebooks)} != {sorted(expected)}")
    return problems


def release(assignment: str, root: Path = ROOT) -> Path:
    """Regenerate root/release/<a> (throw-away gradebook), verify it, return its path.

    The self-check's manifest (``nnlib/selfcheck.json``) and the library symlinks of
    source/<a>/nnlib/ are refreshed first (files added to nnlib/).
    """
    from . import manifest

    manifest.write(root)
    link_library(root / "source" / assignment, root)
    with tempfile.TemporaryDirectory() as tmp:
        generate(assignment, root, db_url=f"sqlite:///{Path(tmp) / 'release.db'}")
    out = root / "release" / assignment
    problems = verify_release(assignment, out, root)
    if problems:
        raise ReleaseError("release is not clean:\n  " + "\n  ".join(problems))
    return out


def diff_trees(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two directory trees (content or presence)."""

    def files(d: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(d)): p.read_bytes()
            for p in d.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    fa, fb = files(a), files(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def check_current(assignment: str, root: Path = ROOT) -> list[str]:
    """Files of the committed release/<a> that a fresh generation would change."""
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp) / "course", [assignment], root)
        fresh = generate(assignment, course, db_url=f"sqlite:///{Path(tmp) / 'check.db'}")
        return diff_trees(root / "release" / assignment, fresh)


# -------------------------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------------------------


def course_dir(path: Path | None) -> Path:
    """The course to act on: ``--course DIR``, else the current directory."""
    root = (path or Path.cwd()).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise UsageError(
            f"{root} is not a course directory (no nbgrader_config.py); "
            "run from your course root or pass --course DIR"
        )
    return root


def add_arguments(parser) -> None:  # noqa: ANN001 - argparse parser
    parser.add_argument(
        "assignments", nargs="*", default=[], help=f"default: all ({', '.join(ASSIGNMENTS)})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write release/: fail if it is stale or not clean",
    )
    parser.add_argument("--course", type=Path, help="course root (default: current directory)")


def run(args) -> int:  # noqa: ANN001 - argparse namespace
    status = 0
    unknown = set(args.assignments) - set(ASSIGNMENTS)
    if unknown:
        raise UsageError(
            f"unknown assignment(s) {', '.join(map(repr, sorted(unknown)))}; "
            f"known: {', '.join(ASSIGNMENTS)}"
        )
    root = course_dir(args.course)
    if args.check:
        from . import manifest

        if manifest.stale():
            print(f"{manifest.MANIFEST}: stale; run `nnkit release`")
            status = 1
    for a in args.assignments or ASSIGNMENTS:
        if args.check:
            stale = check_current(a, root)
            problems = verify_release(a, root / "release" / a, root)
            for p in stale:
                print(f"release/{a}/{p}: differs from a fresh generation")
            for p in problems:
                print(f"release/{a}/{p}")
            status |= bool(stale or problems)
        else:
            try:
                print(f"{release(a, root).relative_to(root)}: generated and verified")
            except ReleaseError as e:
                print(e)
                status = 1
    return status
