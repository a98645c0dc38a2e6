"""Surviving mutants of reference/ that are equivalent, each with the reason.

Keys are ``tools/mutation.py``'s mutant keys: ``file|function|operator|source line|ordinal``
(stable under unrelated edits of the reference). A mutant is equivalent when no input that
API.md allows can tell it apart from the reference (up to the suites' tolerances, which
exist because correct implementations differ in rounding). Every other survivor needs a
new test.
"""

from __future__ import annotations

EQUIVALENT: dict[str, str] = {}
