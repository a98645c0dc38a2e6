"""nnkit: the grading kit (see README.md)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def _defer_rfc3987_syntax() -> None:
    """jsonschema (under nbformat) imports ``rfc3987_syntax``, when it is installed, for its
    optional "iri" format checks; that import compiles ~40 lark grammars (~0.9 s in every
    grading process) and nothing here checks formats. It now happens at the module's first
    use."""
    if "rfc3987_syntax" in sys.modules:
        return
    spec = importlib.util.find_spec("rfc3987_syntax")
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def load() -> None:
        if module.__dict__.get("is_valid_syntax") is is_valid_syntax:
            loader.exec_module(module)

    def is_valid_syntax(*args: Any, **kwargs: Any) -> Any:
        load()
        return module.is_valid_syntax(*args, **kwargs)

    def __getattr__(name: str) -> Any:
        load()
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    module.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["rfc3987_syntax"] = module


_defer_rfc3987_syntax()
