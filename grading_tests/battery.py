"""The battery generated from the rule table: the same checks for every graded name.

Each suite module asks for its share with::

    @pytest.mark.parametrize("check", battery.params("test_layers"))
    def test_battery(student, rng, check):
        battery.run(student, rng, check)

Checks per row (``grading_tests.rules``), by kind:

* every kind: ``values, <case>`` (value) for every case of the row -- the default case and
  one case per boundary value -- compared with the reference, including the output dtype;
  ``float32 in, float32 out`` (value) over every case in float32; ``inputs not modified``
  (property) over every case and dtype;
* ``backward``/``loss``/``model``/``net``: ``numeric gradient`` (property): the gradients
  returned agree with central differences of the submission's own forward pass or loss;
* rows with ``state`` (batch norm, update rules, the batch-normalised net): ``state``
  (value) over several calls carrying the state; update rules also ``config updated in
  place``; models and the stand-alone net: ``initial parameters`` (value).

Property checks are marked ``kind="property"``: the plugin pays them only in proportion to
the value checks of the same name (docs/architecture.md, "Gated credit").
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    NUMERIC_H,
    TOLERANCES,
    Mismatch,
    as_array,
    as_scalar,
    backward,
    call,
    check_close,
    check_scalar,
    fail,
    forward,
    get_attr,
    method,
    mismatch,
    new,
    np_pinned,
    np_seeded,
    set_attr,
    unpack,
)
from grading_tests.rules import BY_KEY, RULES, Case, ModelCall, Rule, cases

F32 = np.float32

# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One generated test: a row, what it checks, and (for ``values``) its case."""

    key: str  # row key (rules.BY_KEY)
    what: str  # values | float32 | unmodified | numeric | state | in_place | init
    label: str
    kind: str  # value | property
    case: Case | None = None

    @property
    def rule(self) -> Rule:
        return BY_KEY[self.key]

    @property
    def name(self) -> str:
        return f"{self.rule.api}: {self.label}"


def _has_f32(rule: Rule) -> bool:
    return "float32" in rule.dtypes


def checks(rule: Rule) -> list[Check]:
    """The battery of one row."""
    k = rule.key
    out: list[Check] = []
    if rule.kind in ("model", "net"):
        out.append(Check(k, "init", "initial parameters (every case)", "value"))
    for case in cases(rule):
        out.append(Check(k, "values", f"values, {case.label}", "value", case))
    if _has_f32(rule):
        out.append(Check(k, "float32", "float32 in, float32 out (every case)", "value"))
    if rule.kind == "update":
        out.append(Check(k, "state", "state carried over three steps", "value"))
        out.append(Check(k, "in_place", "config passed in holds the new state", "value"))
    elif rule.state:
        out.append(Check(k, "state", _STATE_LABEL[rule.kind], "value"))
    if rule.kind == "backward":
        label = "dout and cache not modified (every case)"
    else:
        label = "inputs not modified (every case)"
    out.append(Check(k, "unmodified", label, "property"))
    if rule.numeric:
        if rule.kind == "backward":
            label = f"numeric gradient of {BY_KEY[rule.pair].api} (every case)"  # type: ignore[index]
        else:
            label = "numeric gradient of your loss (every case)"
        out.append(Check(k, "numeric", label, "property"))
    return out


_STATE_LABEL = {
    "forward": "running averages over three train calls, then test mode",
    "model": "batchnorm running statistics used by test-mode scores",
}


def params(suite: str) -> list[Any]:
    """pytest parameters (with their ``grade`` marks) of every row graded by ``suite``."""
    out = []
    for rule in RULES:
        if rule.suite != suite:
            continue
        for c in checks(rule):
            out.append(pytest.param(c, marks=pytest.mark.grade(c.name, kind=c.kind), id=c.name))
    return out


def describe(rule: Rule) -> list[tuple[str, str, str]]:
    """(check name, one-line meaning, kind) for the student checklist (one line per check
    family; the values cases are listed by their labels)."""
    extras = [(f"{rule.api}: {e.name}", e.meaning, e.kind) for e in rule.extras]
    if rule.kind == "saved_model":
        return extras
    labels = [c.label for c in cases(rule)]
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for c in checks(rule):
        if c.what in seen:
            continue
        seen.add(c.what)
        name = c.name if c.what != "values" else f"{rule.api}: values"
        out.append((name, _meaning(rule, c.what, labels), c.kind))
    return out + extras


def _meaning(rule: Rule, what: str, labels: list[str]) -> str:
    if what == "values":
        outs = ", ".join(o for o in rule.outputs if o != "cache")
        return f"{outs}: the correct values, in the dtype of the inputs, for: " + "; ".join(labels)
    if what == "float32":
        return "float32 inputs give float32 outputs close to the correct values, in every case"
    if what == "unmodified":
        if rule.kind == "backward":
            return (
                "dout is unchanged after the call, and a second call on the same cache gives "
                "the same gradients (nothing written into the cache)"
            )
        names = ", ".join(rule.unmodified)
        verb = "is" if len(rule.unmodified) == 1 else "are"
        extra = ""
        if rule.state:
            extra = "; " + ", ".join(
                f"{arg} changes only in {', '.join(keys)}" if keys else f"{arg} keeps its values"
                for arg, keys in rule.state.items()
            )
        return f"{names} {verb} unchanged after the call (dicts keep their values){extra}"
    if what == "numeric":
        if rule.kind == "backward":
            return (
                "the gradients agree with central differences of the forward pass "
                f"{rule.pair} as the rules define it (your forward pass is not involved)"
            )
        return "the gradients agree with central differences of your own loss"
    if what == "state":
        if rule.kind == "update":
            keys = ", ".join(rule.state["config"]) or "the defaults"
            return f"the returned config carries {keys} from one step to the next"
        if rule.kind == "model":
            return "train-mode calls update the batchnorm running averages that scores use"
        return "bn_param's running averages after several train calls, then used in test mode"
    if what == "in_place":
        return "the config dict passed in holds the defaults and the new state after the call"
    if what == "init":
        return (
            "right after construction (np.random seeded), params hold the values the rules "
            "above give (names, shapes, dtype, zeros/ones, draw order)"
        )
    raise ValueError(what)


# ---------------------------------------------------------------------------------------
# Running a check
# ---------------------------------------------------------------------------------------


def run(student: Any, rng: np.random.Generator, check: Check) -> None:
    """Run one generated check against the submission in ``student``."""
    rule = check.rule
    runner = _RUNNERS[rule.kind]
    with np_pinned():  # the battery draws from numpy's global state only in np_seeded blocks
        runner(student, rng, rule, check)


def _dtypes(rule: Rule, what: str) -> list[Any]:
    return [np.dtype(d).type for d in rule.dtypes] if what == "unmodified" else [np.float64]


def _tol(rule: Rule, dtype: Any) -> str:
    return rule.tol32 if np.dtype(dtype) == np.float32 else rule.tol


def _desc(case: Case, dtype: Any) -> str:
    return f"{case.label}, {np.dtype(dtype).name}"


def _f32_cases(rule: Rule) -> list[Case]:
    return [c for c in cases(rule) if c.f32]


def _defaults(rule: Rule) -> dict[str, Any]:
    return {p.name: p.default for p in rule.params}


def _ref_call(fn: Any, *args: Any) -> Any:
    """The reference on copies of ``args`` (numpy's global state pinned, for dropout)."""
    with np_seeded(0):
        return fn(*args)


# ---- keeping draws away from kinks and ties ---------------------------------------------
#
# A ReLU whose input is within rounding of 0, or a pooling window whose two largest values
# are that close, makes the gradient jump: two correct implementations (other summation
# orders, float32) can land on different sides. docs/api.md: graders avoid ties. For rows with
# ``kinks``, a value mismatch stands only if the reference's compared outputs (float64) are
# smooth around its draw: moving every float input by a relative +-1e-6 along a random
# direction (16x float32's rounding of a sum, far less than any real bug) leaves a second
# difference f(x + d) + f(x - d) - 2 f(x) below 1e-6 of the output's scale (a jump is of the
# order of the output itself; a smooth function's is ~1e-12). Otherwise the check runs again
# on a new draw. Smoothness is only asked of a mismatch: a passed check (a correct submission)
# or one that failed otherwise (an exception, a wrong shape: a stub) is not evaluated again.

GUARD_STEP = 1e-6
GUARD_JUMP = 1e-6
GUARD_TRIES = 20


def _perturb(value: Any, noise: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value * (1 + noise(value.shape))
    if isinstance(value, list | tuple):
        return type(value)(_perturb(v, noise) for v in value)
    if isinstance(value, dict):
        return {k: _perturb(v, noise) for k, v in value.items()}
    return value


def _as64(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    if isinstance(value, list | tuple):
        return type(value)(_as64(v) for v in value)
    if isinstance(value, dict):
        return {k: _as64(v) for k, v in value.items()}
    return value


def _direction(seed: int) -> tuple[Any, Any]:
    """(up, down): relative moves of GUARD_STEP along one random direction, one per float
    input in ``_perturb``'s order; ``down`` gives ``up``'s moves again, negated (exactly)."""
    r = np.random.default_rng(seed)
    steps: list[np.ndarray] = []

    def up(shape: tuple[int, ...]) -> np.ndarray:
        steps.append(GUARD_STEP * r.standard_normal(shape))
        return steps[-1]

    def down(shape: tuple[int, ...]) -> np.ndarray:
        return -steps.pop(0)

    return up, down


def _smooth_at(inputs: Any, evaluate: Any, rng: np.random.Generator) -> bool:
    base = evaluate(inputs)
    for _ in range(2):
        up, down = _direction(int(rng.integers(2**31)))
        plus = evaluate(_perturb(inputs, up))
        minus = evaluate(_perturb(inputs, down))
        for b, p, m in zip(base, plus, minus, strict=True):
            scale = float(np.max(np.abs(b))) if np.size(b) else 0.0
            second = np.max(np.abs(np.asarray(p) + np.asarray(m) - 2 * np.asarray(b)))
            if np.size(b) and not second <= GUARD_JUMP * max(scale, 1e-300):
                return False
    return True


def guarded(rule: Rule, rng: np.random.Generator, draw: Any, evaluate: Any, check: Any) -> None:
    """``check(draw())``; a value mismatch at a draw where ``evaluate`` (a list of float64
    arrays) is not smooth (see above) runs the check again on a new draw, at most GUARD_TRIES
    draws. Any other failure, and every failure of a row without kinks, stands."""
    for tries_left in range(GUARD_TRIES - 1, -1, -1):
        inputs = draw()
        try:
            check(inputs)
            return
        except Mismatch:
            if not rule.kinks or not tries_left or _smooth_at(_as64(inputs), evaluate, rng):
                raise


def _check_dicts_kept(after: Any, before: dict, name: str, api: str, desc: str, keep=()) -> None:
    """Every key of ``before`` (but the state keys ``keep``) keeps its value in ``after``."""
    if not isinstance(after, dict):
        fail(f"{api} [{desc}]: {name} is no longer a dict after the call")
    for key, val in before.items():
        if key in keep:
            continue
        got = after.get(key, _MISSING)
        same = (
            np.array_equal(got, val)
            if isinstance(val, np.ndarray)
            else (not isinstance(got, np.ndarray) and got == val)
        )
        if not same:
            fail(f"{api} [{desc}]: changed {name}[{key!r}] (only the API's state may change)")


_MISSING = object()


def _check_args_kept(rule: Rule, echoed: Sequence[Any], before: Sequence[Any], desc: str) -> None:
    for name, after, orig in zip(rule.inputs, echoed, before, strict=False):
        if isinstance(orig, np.ndarray):
            if name in rule.unmodified and not (
                isinstance(after, np.ndarray)
                and after.shape == orig.shape
                and after.dtype == orig.dtype
                and np.array_equal(after, orig)
            ):
                fail(f"{rule.api} [{desc}]: modified its argument {name} in place")
        elif isinstance(orig, dict):
            if name in rule.state:
                _check_dicts_kept(after, orig, name, rule.api, desc, keep=rule.state[name])
            elif name in rule.unmodified:
                _check_dicts_kept(after, orig, name, rule.api, desc)


# ---- layers: forward -------------------------------------------------------------------


def _run_forward(student: Any, rng: np.random.Generator, rule: Rule, check: Check) -> None:
    if check.what == "values":
        _forward_values(student, rng, rule, check.case, np.float64)  # type: ignore[arg-type]
    elif check.what == "float32":
        for case in _f32_cases(rule):
            _forward_values(student, rng, rule, case, F32)
    elif check.what == "unmodified":
        for dtype in _dtypes(rule, "unmodified"):
            for case in cases(rule) if dtype != F32 else _f32_cases(rule):
                args = rule.make(rng, dtype, case.values)
                before = copy.deepcopy(args)
                desc = _desc(case, dtype)
                reply = call(student, desc, rule.api, *args, keep=(1,), echo_args=True)
                _check_args_kept(rule, reply.args, before, desc)
    elif check.what == "state":
        _forward_state(student, rng, rule)
    else:
        raise ValueError(check.what)


def _forward_values(student: Any, rng: np.random.Generator, rule: Rule, case: Case, dtype) -> None:
    args = rule.make(rng, dtype, case.values)
    desc = _desc(case, dtype)
    ref_args = copy.deepcopy(args)
    expected, _ = _ref_call(rule.ref, *ref_args)
    reply = call(student, desc, rule.api, *args, keep=(1,), echo_args=bool(rule.state))
    out, _ = unpack(reply.value, 2, rule.api, desc)
    check_close(out, expected, _tol(rule, dtype), f"{rule.api} out", desc, dtype=dtype)
    if rule.state:
        _check_state(rule, reply.args, ref_args, desc, dtype)


def _check_state(rule: Rule, echoed: Sequence[Any], expected: Sequence[Any], desc: str, dtype):
    for name, keys in rule.state.items():
        i = rule.inputs.index(name)
        got, exp = echoed[i], expected[i]
        if not isinstance(got, dict):
            fail(f"{rule.api} [{desc}]: {name} did not stay a dict")
        for key in keys:
            if key not in exp:
                continue
            if key not in got:
                fail(f"{rule.api} [{desc}]: {name} has no {key!r} after the call")
            check_close(got[key], exp[key], _tol(rule, dtype), f"{rule.api} {name}[{key!r}]", desc)


def _forward_state(student: Any, rng: np.random.Generator, rule: Rule) -> None:
    """Three train calls carrying the state dict, then one test call using it."""
    i = next(k for k, n in enumerate(rule.inputs) if n in rule.state)
    values = dict(_defaults(rule), momentum=0.8)
    state: dict = {}
    expected: dict = {}
    for step, mode in enumerate(("train", "train", "train", "test"), 1):
        args = rule.make(rng, np.float64, dict(values, mode=mode))
        desc = f"call {step} ({mode}), momentum 0.8"
        state.update(mode=mode)
        expected.update(mode=mode, momentum=0.8)
        state.setdefault("momentum", 0.8)
        args[i] = state
        ref_args = list(args)
        ref_args[i] = expected
        eout, _ = _ref_call(rule.ref, *copy.deepcopy(ref_args[:i]), expected, *ref_args[i + 1 :])
        reply = call(student, desc, rule.api, *args, keep=(1,), echo_args=True)
        out, _ = unpack(reply.value, 2, rule.api, desc)
        check_close(out, eout, rule.tol, f"{rule.api} out", desc, dtype=np.float64)
        echoed = reply.args[i]
        if not isinstance(echoed, dict):
            fail(f"{rule.api} [{desc}]: {rule.inputs[i]} did not stay a dict")
        for key in rule.state[rule.inputs[i]]:
            if key not in echoed:
                fail(f"{rule.api} [{desc}]: {rule.inputs[i]} has no {key!r} after the call")
            check_close(echoed[key], expected[key], rule.tol, f"{rule.api} {key}", desc)
        state = echoed


# ---- layers: backward ------------------------------------------------------------------


def _ref_gradients(rule: Rule, args: list, dout: np.ndarray) -> list[np.ndarray]:
    """The reference's gradients of the backward ``rule`` at ``(args, dout)``."""
    fwd = BY_KEY[rule.pair]  # type: ignore[index]
    _, rcache = _ref_call(fwd.ref, *copy.deepcopy(args))
    grads = rule.ref(dout.copy(), rcache)
    return list(grads) if isinstance(grads, tuple) else [grads]


def _backward_guarded(rng: np.random.Generator, rule: Rule, case: Case, dtype, check) -> None:
    """Draw ``(args, dout)`` for the backward ``rule`` and run ``check(args, dout)`` on them
    under the kink guard."""
    fwd = BY_KEY[rule.pair]  # type: ignore[index]
    values = dict(_defaults(fwd), **case.values)

    def draw() -> tuple:
        args = fwd.make(rng, dtype, values)
        eout, _ = _ref_call(fwd.ref, *copy.deepcopy(args))
        return args, (rng.standard_normal(eout.shape)).astype(dtype)

    guarded(
        rule,
        rng,
        draw,
        lambda inputs: _ref_gradients(rule, *inputs),
        lambda inputs: check(*inputs),
    )


def _run_backward(student: Any, rng: np.random.Generator, rule: Rule, check: Check) -> None:
    n = len(rule.outputs)
    fwd = BY_KEY[rule.pair]  # type: ignore[index]
    if check.what in ("values", "float32"):
        dtype = np.float64 if check.what == "values" else F32
        for case in [check.case] if check.what == "values" else _f32_cases(rule):
            desc = _desc(case, dtype)  # type: ignore[arg-type]

            def values(args: list, dout: np.ndarray, desc=desc, dtype=dtype) -> None:
                expected = _ref_gradients(rule, args, dout)
                _, cache = forward(student, desc, fwd.api, *args)
                grads = backward(student, desc, rule.api, dout, cache, n)
                for name, got, exp in zip(rule.outputs, grads, expected, strict=True):
                    what = f"{rule.api} {name}"
                    check_close(got, exp, _tol(rule, dtype), what, desc, dtype=dtype)

            _backward_guarded(rng, rule, case, dtype, values)
    elif check.what == "unmodified":
        for dtype in _dtypes(rule, "unmodified"):
            for case in cases(rule) if dtype != F32 else _f32_cases(rule):
                desc = _desc(case, dtype)

                def kept(args: list, dout: np.ndarray, desc=desc) -> None:
                    _, cache = forward(student, desc, fwd.api, *args)
                    before = dout.copy()
                    first = call(student, desc, rule.api, dout, cache, echo_args=True)
                    echoed = first.args[0] if first.args else None
                    if not (isinstance(echoed, np.ndarray) and np.array_equal(echoed, before)):
                        fail(f"{rule.api} [{desc}]: modified dout in place")
                    second = call(student, desc, rule.api, dout, cache)
                    if not _same(first.value, second.value):
                        fail(
                            f"{rule.api} [{desc}]: a second call on the same cache gave other "
                            "gradients (the first call wrote into its cache)"
                        )

                _backward_guarded(rng, rule, case, dtype, kept)
    elif check.what == "numeric":
        # central differences of the reference forward (the API's function, trusted side):
        # the backward is judged on its own, whatever the submission's forward does
        for case in cases(rule):
            if not case.smooth:
                continue
            desc = _desc(case, np.float64)

            def numeric(args: list, dout: np.ndarray, desc=desc) -> None:
                _, cache = forward(student, desc, fwd.api, *args)
                grads = backward(student, desc, rule.api, dout, cache, n)
                for grad, name in zip(grads, rule.grads_of, strict=True):
                    index = fwd.inputs.index(name)
                    x = args[index]
                    if not isinstance(grad, np.ndarray) or grad.shape != x.shape:
                        fail(f"{rule.api} d{name} [{desc}]: expected an array of shape {x.shape}")
                    v = rng.standard_normal(x.shape)
                    outs = []
                    for sign in (1.0, -1.0):
                        moved = copy.deepcopy(list(args))
                        moved[index] = x + sign * NUMERIC_H * v
                        outs.append(_ref_call(fwd.ref, *moved)[0])
                    central = float(np.sum(dout * (outs[0] - outs[1]))) / (2 * NUMERIC_H)
                    _compare_directional(
                        central,
                        float(np.sum(grad * v)),
                        f"{rule.api} d{name}",
                        desc,
                        f"{fwd.api} (the API's)",
                    )

            _backward_guarded(rng, rule, case, np.float64, numeric)
    else:
        raise ValueError(check.what)


def _same(a: Any, b: Any) -> bool:
    """Exactly equal decoded values (arrays, scalars, tuples of them)."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    return type(a) is type(b) and a == b


# ---- losses ----------------------------------------------------------------------------


def _run_loss(student: Any, rng: np.random.Generator, rule: Rule, check: Check) -> None:
    if check.what in ("values", "float32"):
        dtype = np.float64 if check.what == "values" else F32
        for case in [check.case] if check.what == "values" else _f32_cases(rule):
            desc = _desc(case, dtype)  # type: ignore[arg-type]

            def values(args: list, desc=desc, dtype=dtype) -> None:
                eloss, edx = rule.ref(*copy.deepcopy(args))
                loss, dx = unpack(call(student, desc, rule.api, *args).value, 2, rule.api, desc)
                tol = "loss" if dtype != F32 else "f32"
                check_scalar(loss, eloss, tol, f"{rule.api} loss", desc)
                check_close(dx, edx, _tol(rule, dtype), f"{rule.api} dx", desc, dtype=dtype)

            _loss_guarded(rng, rule, case, dtype, values)
    elif check.what == "unmodified":
        for dtype in _dtypes(rule, "unmodified"):
            for case in cases(rule):
                args = rule.make(rng, dtype, case.values)
                desc = _desc(case, dtype)
                reply = call(student, desc, rule.api, *args, echo_args=True)
                _check_args_kept(rule, reply.args, copy.deepcopy(args), desc)
    elif check.what == "numeric":
        for case in cases(rule):
            if case.smooth:
                _loss_numeric(student, rng, rule, case)
    else:
        raise ValueError(check.what)


def _loss_guarded(rng: np.random.Generator, rule: Rule, case: Case, dtype, check) -> None:
    """Draw a loss's arguments and run ``check(args)`` on them under the kink guard."""
    guarded(
        rule,
        rng,
        lambda: rule.make(rng, dtype, case.values),
        lambda args: [rule.ref(*copy.deepcopy(args))[1]],
        check,
    )


def _loss_numeric(student: Any, rng: np.random.Generator, rule: Rule, case: Case) -> None:
    """dx agrees with central differences of the submission's own loss."""
    desc = _desc(case, np.float64)

    def check(args: list) -> None:
        x, y = args

        def run(xv: np.ndarray) -> tuple[Any, Any]:
            return unpack(call(student, desc, rule.api, xv, y).value, 2, rule.api, desc)

        _, dx = run(x)
        if not isinstance(dx, np.ndarray) or dx.shape != x.shape:
            fail(f"{rule.api} dx [{desc}]: expected an array of shape {x.shape}")
        v = rng.standard_normal(x.shape)
        plus = as_scalar(run(x + NUMERIC_H * v)[0], f"{rule.api} loss", desc)
        minus = as_scalar(run(x - NUMERIC_H * v)[0], f"{rule.api} loss", desc)
        central = (plus - minus) / (2 * NUMERIC_H)
        _compare_directional(central, float(np.sum(dx * v)), f"{rule.api} dx", desc, "your loss")

    _loss_guarded(rng, rule, case, np.float64, check)


def _compare_directional(numeric: float, analytic: float, what: str, desc: str, of: str) -> None:
    err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-8)
    tol = TOLERANCES["numeric"].rtol
    if not err <= tol:
        mismatch(
            f"{what} [{desc}]: disagrees with a numeric gradient of {of}: "
            f"rel error {err:.2e} > {tol:.0e}"
        )


# ---- update rules ----------------------------------------------------------------------


def _check_config(got: Any, expected: dict, rule: Rule, desc: str, tol: str) -> None:
    """Every key of the reference's config (defaults and state) is in the student's with the
    same value."""
    if not isinstance(got, dict):
        fail(f"{rule.api} [{desc}]: expected config to be a dict, got {type(got).__name__}")
    for key, val in expected.items():
        if key not in got:
            fail(f"{rule.api} [{desc}]: config has no key {key!r}")
        if isinstance(val, np.ndarray):
            check_close(got[key], val, tol, f"{rule.api} config[{key!r}]", desc)
        else:
            check_scalar(got[key], float(val), "loss", f"{rule.api} config[{key!r}]", desc)


def _step(student: Any, rule: Rule, args: list[Any], desc: str, echo: bool = False):
    if args[2] is None:
        args = args[:2]
    # opaque: whatever else the student keeps in config stays in the worker as a Ref
    reply = call(student, desc, rule.api, *args, echo_args=echo, opaque=True)
    next_w, config = unpack(reply.value, 2, rule.api, desc)
    return next_w, config, reply.args


def _run_update(student: Any, rng: np.random.Generator, rule: Rule, check: Check) -> None:
    if check.what in ("values", "float32"):
        dtype = np.float64 if check.what == "values" else F32
        for case in [check.case] if check.what == "values" else _f32_cases(rule):
            args = rule.make(rng, dtype, case.values)  # type: ignore[union-attr]
            desc = _desc(case, dtype)  # type: ignore[arg-type]
            enext, econfig = rule.ref(*copy.deepcopy(args))
            next_w, config, _ = _step(student, rule, args, desc)
            tol = _tol(rule, dtype)
            check_close(next_w, enext, tol, f"{rule.api} next_w", desc, dtype=dtype)
            _check_config(config, econfig, rule, desc, tol)
    elif check.what == "state":
        starts = [c for c in cases(rule) if c.label in ("default", "state True")]
        for case in starts:
            w, _, config = rule.make(rng, np.float64, case.values)
            econfig = copy.deepcopy(config)
            ew = w.copy()
            for step in (1, 2, 3):
                dw = rng.standard_normal(w.shape)
                desc = f"step {step} from {case.label}"
                next_w, config, _ = _step(student, rule, [w, dw, config], desc)
                ew, econfig = rule.ref(ew, dw.copy(), econfig)
                w = check_close(next_w, ew, rule.tol, f"{rule.api} next_w", desc)
                _check_config(config, econfig, rule, desc, rule.tol)
    elif check.what == "in_place":
        for case in cases(rule):
            if case.values.get("config_none"):
                continue
            args = rule.make(rng, np.float64, case.values)
            desc = _desc(case, np.float64) + " (the dict passed in)"
            _, econfig = rule.ref(*copy.deepcopy(args))
            _, _, echoed = _step(student, rule, args, desc, echo=True)
            if len(echoed) < 3:
                fail(f"{rule.api} [{desc}]: the config argument was not echoed back")
            _check_config(echoed[2], econfig, rule, desc, rule.tol)
    elif check.what == "unmodified":
        for dtype in _dtypes(rule, "unmodified"):
            for case in cases(rule):
                args = rule.make(rng, dtype, case.values)
                desc = _desc(case, dtype)
                before = copy.deepcopy(args)
                _, _, echoed = _step(student, rule, args, desc, echo=True)
                _check_args_kept(rule, echoed, before, desc)
    else:
        raise ValueError(check.what)


# ---- models ----------------------------------------------------------------------------


def _random_params(
    rng: np.random.Generator, shapes: dict[str, tuple[int, ...]], dtype: Any
) -> dict[str, np.ndarray]:
    """Parameters of the given shapes: weights ~ N(0, 1.5^2/fan_in), other vectors
    non-trivial."""
    out = {}
    for name, shape in shapes.items():
        if name.startswith("W"):
            fan_in = int(np.prod(shape[:-1])) if len(shape) == 2 else int(np.prod(shape[1:]))
            out[name] = rng.standard_normal(shape) * (1.5 / np.sqrt(fan_in))
        elif name.startswith("gamma"):
            out[name] = rng.uniform(0.5, 1.5, size=shape)
        else:
            out[name] = 0.3 * rng.standard_normal(shape)
    return {k: v.astype(dtype) for k, v in out.items()}


_BUILT: dict[tuple[Any, str], tuple[Any, Any]] = {}


def _built(cls: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``cls(*args, **kwargs)`` built right after ``np.random.seed(0)``, and numpy's global state
    after that, once per process (a model of the default size draws ~10^6 weights). The rule
    table's model arguments are plain values, so their repr is the key. Never modify the
    instance: copy it."""
    key = (cls, repr((args, sorted(kwargs.items()))))
    if key not in _BUILT:
        with np_seeded(0):
            _BUILT[key] = (cls(*args, **kwargs), np.random.get_state())  # noqa: NPY002
    return _BUILT[key]


def _seeded_copy(cls: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """What ``np.random.seed(0); cls(*args, **kwargs)`` leaves, numpy's global state included,
    with empty params (every caller sets its own)."""
    model, state = _built(cls, args, kwargs)
    np.random.set_state(state)  # noqa: NPY002
    return copy.deepcopy(model, {id(model.params): {}})


class Pair:
    """The student's model (a Ref in the worker) and the reference model, same parameters."""

    def __init__(
        self,
        student: Any,
        rule: Rule,
        mc: ModelCall,
        desc: str,
        rng,
        dtype,
        params: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.student, self.rule, self.mc, self.desc = student, rule, mc, desc
        self.cls = rule.api
        self.ref = copy.deepcopy(_built(rule.ref, mc.args, mc.kwargs)[0])
        self.obj = new(student, desc, rule.api, *mc.args, **mc.kwargs)
        if params is None:
            shapes = {k: v.shape for k, v in self.ref.params.items()}
            params = _random_params(rng, shapes, dtype)
        self.params = params
        self.set_params(self.params)

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        self.ref.params = {k: v.copy() for k, v in params.items()}
        set_attr(self.student, self.desc, self.obj, "params", params)

    def call(self, name: str, *args: Any, echo: bool = False, **kw: Any) -> Any:
        label = f"{self.cls}.{name}"
        return method(self.student, self.desc, self.obj, label, name, *args, echo_args=echo, **kw)

    def scores(self, X: np.ndarray) -> Any:
        return self.call("loss", X).value

    def loss(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        value = self.call("loss", X, y, **self.mc.loss_kwargs).value
        return unpack(value, 2, f"{self.cls}.loss", self.desc)

    def check_scores(self, X: np.ndarray, tol: str, dtype: Any) -> None:
        expected = self.ref.loss(X.copy())
        check_close(self.scores(X), expected, tol, f"{self.cls}.loss scores", self.desc, dtype)

    def check_loss(self, X: np.ndarray, y: np.ndarray, tol: str, dtype: Any) -> None:
        loss, grads = self.loss(X, y)
        with np_seeded(0):
            eloss, egrads = self.ref.loss(X.copy(), y, **self.mc.loss_kwargs)
        check_scalar(loss, float(eloss), tol, f"{self.cls}.loss loss", self.desc)
        check_grads(grads, egrads, tol, self.cls, self.desc, dtype, self.mc.frozen)


def check_grads(
    grads: Any, expected: dict, tol: str, cls: str, desc: str, dtype: Any, frozen=()
) -> None:
    """grads must be a dict keyed like the expected one, each entry close.

    ``frozen``: parameters whose true gradient is 0 (a bias feeding a normalisation): their
    entries are rounding noise, so they are only required to be tiny next to the others.
    """
    if not isinstance(grads, dict):
        fail(f"{cls}.loss [{desc}]: grads is a {type(grads).__name__}, expected a dict")
    missing = sorted(set(expected) - set(grads))
    if missing:
        fail(f"{cls}.loss [{desc}]: grads has no entry for {', '.join(missing)}")
    scale = max(float(np.max(np.abs(g))) for g in expected.values() if g.size)
    noise = (1e-3 if np.dtype(dtype) == F32 else 1e-8) * scale
    for name in sorted(expected):
        what = f"{cls} grads[{name!r}]"
        if name in frozen:
            got = as_array(grads[name], what, desc)
            if got.shape != expected[name].shape:
                fail(f"{what} [{desc}]: shape {got.shape}, expected {expected[name].shape}")
            if dtype is not None and got.dtype != np.dtype(dtype):
                fail(f"{what} [{desc}]: dtype {got.dtype}, expected {np.dtype(dtype)}")
            if not np.all(np.abs(got.astype(np.float64)) <= noise):
                mismatch(f"{what} [{desc}]: expected 0 (the bias feeds a normalisation)")
            continue
        check_close(grads[name], expected[name], tol, what, desc, dtype)


def model_guarded(rng: np.random.Generator, rule: Rule, case: Case, dtype, check) -> None:
    """Draw a model case and parameters and run ``check(mc, params)`` on them under the kink
    guard."""

    def draw() -> tuple:
        mc = rule.make(rng, dtype, case.values)
        ref_params = _built(rule.ref, mc.args, mc.kwargs)[0].params
        shapes = {k: v.shape for k, v in ref_params.items()}
        # the model's own dtype (a constructor's default dtype may be float32)
        return mc, _random_params(rng, shapes, ref_params["W1"].dtype), mc.X

    def evaluate(inputs: tuple) -> list[np.ndarray]:
        mc, params, X = inputs
        kwargs = dict(mc.kwargs)
        if "dtype" in inspect.signature(rule.ref).parameters:  # type: ignore[arg-type]
            kwargs["dtype"] = "float64"
        with np_seeded(0):
            model = _seeded_copy(rule.ref, mc.args, kwargs)
            model.params = dict(params)
            scores = model.loss(X.copy())
            _, grads = model.loss(X.copy(), mc.y, **mc.loss_kwargs)
        return [scores, *(grads[k] for k in sorted(grads) if k not in mc.frozen)]

    guarded(rule, rng, draw, evaluate, lambda inputs: check(*inputs[:2]))


def _run_model(student: Any, rng: np.random.Generator, rule: Rule, check: Check) -> None:
    standalone = rule.kind == "net"
    if check.what == "init":
        for dtype in [np.dtype(d).type for d in rule.dtypes]:
            for case in cases(rule) if dtype != F32 else _f32_cases(rule):
                _model_init(student, rng, rule, case, dtype)
    elif check.what in ("values", "float32"):
        dtype = np.float64 if check.what == "values" else F32
        for case in [check.case] if check.what == "values" else _f32_cases(rule):

            def values(mc: ModelCall, params: dict, case=case) -> None:
                dtype = params["W1"].dtype.type  # the model's dtype (its default, or as asked)
                desc = _desc(case, dtype)
                pair = Pair(student, rule, mc, desc, rng, dtype, params)
                X = mc.X.astype(dtype)
                tol = _tol(rule, dtype)
                pair.check_scores(X, tol, dtype)
                pair.check_loss(X, mc.y, tol, dtype)
                if standalone:
                    labels = as_array(pair.call("predict", X).value, f"{rule.api}.predict", desc)
                    if labels.dtype.kind not in "iu":
                        fail(f"{rule.api}.predict [{desc}]: labels of dtype {labels.dtype}")
                    expected = pair.ref.predict(X)
                    if labels.shape != expected.shape or not np.array_equal(labels, expected):
                        mismatch(
                            f"{rule.api}.predict [{desc}]: labels differ from the argmax of scores"
                        )

            model_guarded(rng, rule, case, dtype, values)
    elif check.what == "state":
        for hidden in (_defaults(rule)["hidden_dims"], (5, 4, 6, 3)):
            values = dict(_defaults(rule), normalization="batchnorm", hidden_dims=hidden)
            desc = f"batchnorm, hidden_dims {list(hidden)}, two train calls then scores"

            def state(mc: ModelCall, params: dict, desc=desc) -> None:
                pair = Pair(student, rule, mc, desc, rng, np.float64, params)
                for _ in range(2):
                    X = 2.0 * rng.standard_normal(mc.X.shape) + 1.0
                    y = rng.integers(0, mc.kwargs["num_classes"], size=len(X))
                    pair.loss(X, y)
                    pair.ref.loss(X.copy(), y)
                pair.check_scores(rng.standard_normal(mc.X.shape), rule.tol, np.float64)

            model_guarded(rng, rule, Case("batchnorm", values), np.float64, state)
    elif check.what == "unmodified":
        for case in cases(rule):
            mc = rule.make(rng, np.float64, case.values)
            desc = _desc(case, np.float64)
            pair = Pair(student, rule, mc, desc, rng, np.float64)
            X, y = mc.X.copy(), mc.y.copy()
            reply = pair.call("loss", mc.X, mc.y, echo=True, **mc.loss_kwargs)
            _check_args_kept(rule, reply.args, (X, y), desc)
            reply = pair.call("loss", mc.X, echo=True)
            _check_args_kept(rule, reply.args, (X,), desc)
    elif check.what == "numeric":
        for case in cases(rule):
            if case.smooth:
                _model_numeric(student, rng, rule, case)
    else:
        raise ValueError(check.what)


def _model_init(student: Any, rng: np.random.Generator, rule: Rule, case: Case, dtype) -> None:
    mc = rule.make(rng, dtype, case.values)
    desc = _desc(case, dtype)
    seed = int(rng.integers(1, 10_000))
    student.seed(seed)
    obj = new(student, desc, rule.api, *mc.args, **mc.kwargs)
    got = get_attr(student, desc, obj, "params")
    with np_seeded(seed):
        expected = rule.ref(*mc.args, **mc.kwargs).params  # type: ignore[misc]
    if not isinstance(got, dict):
        fail(f"{rule.api} [{desc}]: params is a {type(got).__name__}, expected a dict")
    if set(got) != set(expected):
        extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
        fail(f"{rule.api} [{desc}]: params keys differ (missing {missing}, unexpected {extra})")
    for name in sorted(expected):
        check_close(
            got[name],
            expected[name],
            "f64",
            f"{rule.api} params[{name!r}]",
            desc,
            dtype=expected[name].dtype,
        )


def _model_numeric(student: Any, rng: np.random.Generator, rule: Rule, case: Case) -> None:
    desc = _desc(case, np.float64)

    def check(mc: ModelCall, params: dict) -> None:
        pair = Pair(student, rule, mc, desc, rng, np.float64, params)
        params = pair.params
        _, grads = pair.loss(mc.X, mc.y)
        if not isinstance(grads, dict):
            fail(f"{rule.api}.loss [{desc}]: grads is not a dict")
        for name in sorted(params):
            if name in mc.frozen:
                continue
            v = rng.standard_normal(params[name].shape)
            vals = []
            for sign in (1.0, -1.0):
                moved = dict(params, **{name: params[name] + sign * NUMERIC_H * v})
                set_attr(student, desc, pair.obj, "params", moved)
                vals.append(as_scalar(pair.loss(mc.X, mc.y)[0], f"{rule.api}.loss", desc))
            g = grads.get(name)
            if not isinstance(g, np.ndarray) or g.shape != v.shape:
                fail(f"{rule.api}.loss [{desc}]: grads[{name!r}] missing or of the wrong shape")
            _compare_directional(
                (vals[0] - vals[1]) / (2 * NUMERIC_H),
                float(np.sum(g * v)),
                f"{rule.api}.loss grads[{name!r}]",
                desc,
                "your loss",
            )
        set_attr(student, desc, pair.obj, "params", params)

    model_guarded(rng, rule, case, np.float64, check)


_RUNNERS = {
    "forward": _run_forward,
    "backward": _run_backward,
    "loss": _run_loss,
    "update": _run_update,
    "model": _run_model,
    "net": _run_model,
}
