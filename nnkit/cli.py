"""The ``nnkit`` command line.

Subcommands live in their own modules: each module listed in :data:`SUBCOMMANDS` provides
``add_arguments(parser)`` and ``run(args) -> int``. To add one, add a line to the table.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

#: subcommand -> (module with add_arguments/run, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "grade": ("nnkit.grade", "grade a submission (or a class folder) with the hidden suites"),
    "demo": ("nnkit.demo", "end-to-end demo on the bundled offline data"),
    "build-notebooks": ("nnkit.course.build_notebooks", "regenerate source/<a>/ notebooks"),
    "release": ("nnkit.course.release", "nbgrader generate_assignment + leak checks"),
    "autograde": ("nnkit.course.autograde", "nbgrader autograde + hidden-suite scores"),
}


def _module(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnkit", description="nnkit: graded numpy NN kits")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (path, help_text) in SUBCOMMANDS.items():
        mod = _module(path)
        p = sub.add_parser(name, help=help_text, description=help_text)
        if mod is not None and hasattr(mod, "add_arguments"):
            mod.add_arguments(p)
        p.set_defaults(_module_path=path)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nnkit`` script and of ``python -m nnkit``."""
    args = build_parser().parse_args(argv)
    mod = _module(args._module_path)
    if mod is None or not hasattr(mod, "run"):
        print(
            f"nnkit {args.command}: not available ({args._module_path} is missing)", file=sys.stderr
        )
        return 2
    return int(mod.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
