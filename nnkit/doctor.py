"""``nnkit doctor``: the sandbox layers this host offers, what each guarantees, and the verdict."""

from __future__ import annotations

import argparse

from nnkit.sandbox import isolation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 1 when grading would refuse to run student code."""
    iso = isolation.detect()
    print(isolation.report(iso))
    return 0 if iso.isolating or isolation.unsafe_accepted() else 1
