"""The one error a command reports as one line (what went wrong and what to do), no traceback."""

from __future__ import annotations


class UsageError(Exception):
    """A mistake of the person running the command (a path, an option, a folder), not a bug.

    ``nnkit`` prints ``nnkit <command>: <message>`` and exits with status 2.
    """
