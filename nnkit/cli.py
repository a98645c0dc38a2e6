"""The ``nnkit`` command line.

Subcommands live in their own modules: each module listed in :data:`SUBCOMMANDS` provides
``add_arguments(parser)`` and ``run(args) -> int``. To add one, add a line to the table.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from nnkit.sandbox import isolation

#: subcommand -> (module with add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("nnkit.grade_cli", "grade a submission (or a class folder) with the hidden suites"),
    "demo": ("nnkit.demo", "end-to-end demo on the bundled offline data"),
    "build-notebooks": ("nnkit.course.build_notebooks", "regenerate source/<a>/ notebooks"),
    "release": ("nnkit.course.release", "nbgrader generate_assignment + leak checks"),
    "autograde": ("nnkit.course.autograde", "grade an assignment's submissions into the course"),
    "doctor": ("nnkit.doctor", "which sandbox layers this host offers and what they guarantee"),
    "similarity": ("nnkit.similarity", "class report of code similarity in the solution regions"),
    "lms-export": ("nnkit.lms", "the gradebook's final scores as a Canvas (or generic) CSV"),
}


_IMPORT_ERRORS: dict[str, str] = {}


def _module(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ImportError as e:
        _IMPORT_ERRORS[path] = f"{type(e).__name__}: {e}"
        return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (others may be slow to import)."""
    parser = argparse.ArgumentParser(prog="nnkit", description="nnkit: graded numpy NN kits")
    parser.add_argument(
        "--unsafe-no-isolation",
        action="store_true",
        help="run student code even where no sandbox layer is available (at your own risk)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
        return int(mod.run(args) or 0)
    except isolation.NoIsolation as e:
        print(f"nnkit {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
