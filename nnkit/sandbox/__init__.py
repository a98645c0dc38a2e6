"""Sandboxed execution of student code (see docs/architecture.md, "Sandbox")."""

from nnkit.sandbox.client import KINDS, Reply, StudentError, Worker
from nnkit.sandbox.limits import Limits
from nnkit.sandbox.protocol import Ref

__all__ = ["KINDS", "Limits", "Ref", "Reply", "StudentError", "Worker"]
