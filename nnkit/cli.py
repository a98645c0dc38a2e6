"""The ``nnkit`` command line.

Subcommands live in their own modules: each module listed in :data:`SUBCOMMANDS` provides
``add_arguments(parser)`` and ``run(args) -> int``. To add one, add a line to the table.

Every failure is one line, ``nnkit <command>: <what went wrong>; <what to do>``, without a
traceback (``NNKIT_DEBUG=1`` shows it): a bad option, a path that does not exist, outside a
course, an unknown assignment, no submissions, no sandbox layer (checked before any student
code runs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from types import ModuleType
from typing import NoReturn

from nnkit.errors import UsageError
from nnkit.sandbox import isolation

#: subcommand -> (module with add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("nnkit.grade_cli", "grade a submission (or a class folder) with the hidden suites"),
    "demo": ("nnkit.demo", "end-to-end demo on the bundled offline data"),
    "sync-notebooks": (
        "nnkit.course.source_notebooks",
        "refresh what is generated in source/<a>/ (solutions, checklists, README)",
    ),
    "release": ("nnkit.course.release", "nbgrader generate_assignment + leak checks"),
    "autograde": ("nnkit.course.autograde", "grade an assignment's submissions into the course"),
    "doctor": ("nnkit.doctor", "which sandbox layers this host offers and what they guarantee"),
    "gradescope": ("nnkit.gradescope", "build a Gradescope autograder zip for an assignment"),
    "similarity": ("nnkit.similarity", "class report of code similarity in the solution regions"),
    "lms-export": ("nnkit.lms", "the gradebook's final scores as a Canvas (or generic) CSV"),
}
#: Commands that run student code: they stop before anything runs when nothing isolates it.
RUNS_STUDENT_CODE = frozenset({"grade", "autograde", "demo"})
DEBUG_ENV = "NNKIT_DEBUG"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (what is wrong, where to read more)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


_IMPORT_ERRORS: dict[str, str] = {}


def _module(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ImportError as e:
        _IMPORT_ERRORS[path] = f"{type(e).__name__}: {e}"
        return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (others may be slow to import)."""
    parser = _Parser(prog="nnkit", description="nnkit: graded numpy NN kits")
    parser.add_argument(
        "--unsafe-no-isolation",
        action="store_true",
        help="run student code even where no sandbox layer is available (at your own risk)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (path, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = _module(path)
            if mod is not None and hasattr(mod, "add_arguments"):
                mod.add_arguments(p)
        p.set_defaults(_module_path=path)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nnkit`` script and of ``python -m nnkit``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    mod = _module(args._module_path)
    if mod is None or not hasattr(mod, "run"):
        print(
            f"nnkit {args.command}: not available "
            f"({_IMPORT_ERRORS.get(args._module_path, args._module_path + ' has no run()')})",
            file=sys.stderr,
        )
        return 2
    if args.unsafe_no_isolation:
        os.environ[isolation.UNSAFE_ENV] = "1"  # inherited by every grading process
    try:
        if args.command in RUNS_STUDENT_CODE:
            isolation.require()
        return int(mod.run(args) or 0)
    except (isolation.NoIsolation, UsageError) as e:
        _fail(args.command, str(e))
    except KeyboardInterrupt:
        _fail(args.command, "interrupted; run the command again to go on")
    except Exception as e:  # noqa: BLE001 - one line, never a traceback (unless asked)
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0]
        _fail(
            args.command,
            f"{type(e).__name__}: {first}; run again with {DEBUG_ENV}=1 for the details",
        )
    return 2


def _fail(command: str, message: str) -> None:
    print(f"nnkit {command}: {' '.join(message.split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
