"""Surviving mutants of reference/ that are equivalent, each with the reason.

A mutant is equivalent when no input that API.md allows can tell it apart from the
reference (up to the suites' tolerances, which exist because correct implementations differ
in rounding). Every other survivor needs a new test. Two kinds of entries:

* ``EQUIVALENT``: one mutant, by its key from ``tools/mutation.py``
  (``file|function|operator|source line|ordinal``, stable under unrelated edits);
* :func:`reason`'s rules: whole families (mutations inside type annotations).
"""

from __future__ import annotations

from typing import Any

ANNOTATION = (
    "inside a type annotation: annotations are never evaluated when a submission is graded "
    "(the worker compiles it with postponed annotations) and play no part in the API"
)

EQUIVALENT: dict[str, str] = {}


def reason(mutant: Any) -> str | None:
    """Why ``mutant`` (a ``tools.mutation.Mutant``) is equivalent, or None."""
    if mutant.in_annotation:
        return ANNOTATION
    return EQUIVALENT.get(mutant.key)
