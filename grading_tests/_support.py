"""Shared helpers of the hidden suites: tolerances, comparisons, calls into the worker.

Everything here runs in the trusted process. Student code is only ever reached through the
``student`` fixture (a :class:`nnkit.sandbox.Worker`); the helpers below wrap its calls so that
a failure names the API function and the case, and never prints a hidden array.
"""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pytest

try:  # the engine's error type; absent only while the engine is being built
    from nnkit.sandbox import StudentError
except ImportError:  # pragma: no cover - fallback for development without the engine

    class StudentError(Exception):  # type: ignore[no-redef]
        """Stand-in for nnkit.sandbox.StudentError."""


@dataclass(frozen=True)
class Tol:
    """A tolerance on the floored relative error (see :func:`rel_error`)."""

    rtol: float
    floor: float = 1e-3
    atol: float = 1e-9


# One place for every tolerance of the suites. Errors are measured by rel_error():
# max_i |a_i - e_i| / max(|a_i| + |e_i|, floor * max|e|, atol), i.e. the classic cs231n
# relative error, except that elements far below the array's scale are compared against that
# scale (a different but correct summation order may leave 1e-17 where the reference has 0),
# and arrays that should be all zeros (b1 before a batchnorm) against atol. Test inputs are
# of order 1, so atol = 1e-9 is far below any real error.
TOLERANCES: dict[str, Tol] = {
    # float64 elementwise ops and small products (affine, relu, sigmoid, dropout, pools,
    # optimizer steps): two correct implementations agree to ~1e-15; any real bug is >1e-3.
    "f64": Tol(1e-7),
    # float32 versions of the same: ~1e-7 per rounding, sums of <= 100 terms.
    "f32": Tol(1e-4, floor=1e-2),
    # scalar losses (float64): a relative error on one number.
    "loss": Tol(1e-7, floor=0.0),
    # normalisation backward passes (batch/layer/group norm) and sandwiches: longer chains of
    # float64 operations with cancellation (sum of dout removed); still ~1e-12 in practice.
    "norm": Tol(1e-6),
    # model scores, losses and gradients with parameters copied from the trusted side
    # (float64): several layers deep, ~1e-12 in practice.
    "model": Tol(1e-6),
    # models in float32: scores and gradients after ~10 float32 layers of rounding.
    "model32": Tol(2e-3, floor=2e-2),
    # the student's backward pass against a central difference of the student's own forward
    # pass along a random direction (h = 1e-6 in float64): truncation ~1e-10, rounding ~1e-9.
    "numeric": Tol(1e-5, floor=0.0),
}

NUMERIC_H = 1e-6  # step of the central differences in numeric gradient checks


def fail(message: str) -> NoReturn:
    """Fail the current test with ``message`` only (no traceback, no test source)."""
    pytest.fail(message, pytrace=False)


class Mismatch(pytest.fail.Exception):
    """A value outside its tolerance: the only failure a kink or a tie can cause (the kink
    guard in grading_tests/battery.py draws again for it, never for a missing name, an
    exception, a wrong shape or type)."""


def mismatch(message: str) -> NoReturn:
    """``fail`` for a value outside its tolerance."""
    raise Mismatch(message, pytrace=False)


def graded(api: str, cases: Sequence[tuple[str, Any]]) -> list[Any]:
    """Parametrize cases as ``pytest.param`` marked ``grade("<api>: <case>")``."""
    return [
        pytest.param(value, marks=pytest.mark.grade(f"{api}: {desc}"), id=desc)
        for desc, value in cases
    ]


_pinned = False  # inside np_pinned()


@contextlib.contextmanager
def np_seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global generator in the trusted process, restoring its state afterwards
    (inside :func:`np_pinned`: on the way out of that block instead)."""
    if _pinned:
        np.random.seed(seed)
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def np_pinned() -> Iterator[None]:
    """A block whose code draws from numpy's global generator only inside ``np_seeded``: the
    state is saved and restored once for the whole block, not around each of its (thousands
    of, ~70 us each) seeded calls; every seeded call still starts from its own seed."""
    global _pinned
    if _pinned:
        yield
        return
    state = np.random.get_state()
    _pinned = True
    try:
        yield
    finally:
        _pinned = False
        np.random.set_state(state)


def describe(**parts: Any) -> str:
    """A case description such as ``x (2, 3, 4), stride 2, float32`` (no array values)."""
    out = []
    for key, val in parts.items():
        if isinstance(val, np.ndarray):
            out.append(f"{key} {tuple(val.shape)} {val.dtype}")
        elif isinstance(val, type):
            out.append(f"{key} {val.__name__}")
        else:
            out.append(f"{key} {val}")
    return ", ".join(out)


# ---------------------------------------------------------------------------------------
# Calls into the worker
# ---------------------------------------------------------------------------------------


def _student_failed(what: str, case: str, err: Exception) -> NoReturn:
    kind = getattr(err, "kind", type(err).__name__)
    msg = str(getattr(err, "message", err)).strip().splitlines()
    detail = msg[-1] if msg else ""
    if len(detail) > 300:
        detail = detail[:300] + "..."
    fail(f"{what} [{case}]: the submission's code failed ({kind}): {detail}")


def call(student: Any, case: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """``student.call`` with failures reported as ``name [case]: ...``; returns the Reply."""
    try:
        return student.call(name, *args, **kwargs)
    except StudentError as err:
        _student_failed(name, case, err)


def new(student: Any, case: str, cls: str, *args: Any, **kwargs: Any) -> Any:
    """Construct a student object in the worker; returns its Ref."""
    try:
        return student.new(cls, *args, **kwargs)
    except StudentError as err:
        _student_failed(f"{cls}()", case, err)


def method(student: Any, case: str, ref: Any, label: str, name: str, *args: Any, **kw: Any) -> Any:
    """Call a method of a student object; ``label`` names it in messages (e.g. ``loss``)."""
    try:
        return student.method(ref, name, *args, **kw)
    except StudentError as err:
        _student_failed(label, case, err)


def get_attr(student: Any, case: str, ref: Any, attr: str) -> Any:
    """Read an attribute of a student object."""
    try:
        return student.getattr(ref, attr)
    except StudentError as err:
        _student_failed(f"attribute {attr}", case, err)


def set_attr(student: Any, case: str, ref: Any, attr: str, value: Any) -> None:
    """Set an attribute of a student object."""
    try:
        student.setattr(ref, attr, value)
    except StudentError as err:
        _student_failed(f"setting attribute {attr}", case, err)


# ---------------------------------------------------------------------------------------
# Checking returned values
# ---------------------------------------------------------------------------------------


def unpack(value: Any, n: int, what: str, case: str) -> tuple[Any, ...]:
    """Check that ``value`` is a tuple/list of ``n`` items and return it as a tuple."""
    if not isinstance(value, tuple | list) or len(value) != n:
        got = f"a {type(value).__name__}"
        if isinstance(value, tuple | list):
            got += f" of {len(value)} items"
        fail(f"{what} [{case}]: expected a tuple of {n} items, got {got}")
    return tuple(value)


def as_array(value: Any, what: str, case: str) -> np.ndarray:
    """Check that ``value`` is a numeric numpy array."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        fail(f"{what} [{case}]: expected a numeric numpy array, got {type(value).__name__}")
    return value


def as_scalar(value: Any, what: str, case: str) -> float:
    """Check that ``value`` is a real number (Python or numpy scalar, or a 0-d/size-1 array)."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return float(value.reshape(()))
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    fail(f"{what} [{case}]: expected a number, got {type(value).__name__}")


def rel_error(actual: np.ndarray, expected: np.ndarray, floor: float, atol: float = 0.0) -> float:
    """Max floored relative error (see TOLERANCES); inf if anything is not finite."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = floor * float(np.max(np.abs(e)))
    denom = np.maximum(np.abs(a) + np.abs(e), max(scale, atol, 1e-300))
    return float(np.max(np.abs(a - e) / denom))


def check_close(
    actual: Any,
    expected: np.ndarray,
    tol: str,
    what: str,
    case: str,
    dtype: Any = None,
) -> np.ndarray:
    """Compare an array from the student with the expected one (shape, dtype, values)."""
    arr = as_array(actual, what, case)
    if arr.shape != expected.shape:
        fail(f"{what} [{case}]: shape {arr.shape}, expected {expected.shape}")
    if dtype is not None and arr.dtype != np.dtype(dtype):
        fail(f"{what} [{case}]: dtype {arr.dtype}, expected {np.dtype(dtype)}")
    t = TOLERANCES[tol]
    err = rel_error(arr, expected, t.floor, t.atol)
    if not err <= t.rtol:
        mismatch(f"{what} [{case}]: max rel error {err:.2e} > {t.rtol:.0e}")
    return arr


def check_scalar(actual: Any, expected: float, tol: str, what: str, case: str) -> float:
    """Compare a scalar from the student with the expected value."""
    val = as_scalar(actual, what, case)
    t = TOLERANCES[tol]
    err = rel_error(np.array(val), np.array(expected), t.floor, t.atol)
    if not err <= t.rtol:
        mismatch(f"{what} [{case}]: rel error {err:.2e} > {t.rtol:.0e}")
    return val


def check_equal(actual: Any, expected: np.ndarray, what: str, case: str) -> np.ndarray:
    """Require exactly equal arrays (masks, labels, integer outputs)."""
    arr = as_array(actual, what, case)
    if arr.shape != expected.shape:
        fail(f"{what} [{case}]: shape {arr.shape}, expected {expected.shape}")
    if not np.array_equal(arr, expected):
        wrong = int(np.sum(arr != expected))
        mismatch(f"{what} [{case}]: {wrong} of {arr.size} entries differ from the expected ones")
    return arr


def check_unchanged(after: Sequence[Any], before: Sequence[Any], name: str, case: str) -> None:
    """Arguments echoed back from the worker must equal the ones passed in."""
    for i, (a, b) in enumerate(zip(after, before, strict=True)):
        if isinstance(b, np.ndarray) and not (
            isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
        ):
            fail(f"{name} [{case}]: modified its input argument #{i + 1} in place")


def forward(student: Any, case: str, name: str, *args: Any, echo: bool = False) -> tuple:
    """Call a ``*_forward`` in the worker keeping its cache there.

    Returns ``(out, cache_ref)``, or ``(out, cache_ref, echoed_args)`` when ``echo``. The
    cache lives in the worker as long as the caller holds ``cache_ref``.
    """
    reply = call(student, case, name, *args, keep=(1,), echo_args=echo)
    out, cache = unpack(reply.value, 2, name, case)
    if echo:
        return out, cache, reply.args
    return out, cache


def backward(student: Any, case: str, name: str, dout: Any, cache: Any, n: int) -> tuple:
    """Call a ``*_backward`` on a cache Ref; returns its ``n`` gradients (1 -> bare array)."""
    value = call(student, case, name, dout, cache).value
    if n == 1:
        if isinstance(value, tuple | list) and len(value) == 1:
            value = value[0]
        return (value,)
    return unpack(value, n, name, case)
