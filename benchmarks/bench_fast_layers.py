"""Benchmark nnlib's fast conv / max-pool layers (forward + backward).

For every case and dtype it prints the fast layers' time, the speed-up over the naive
reference layers and, when torch is installed, the ratio fast / torch (conv2d / max_pool2d
with autograd backward) at the same thread count. Every measurement runs in its own process.

    python benchmarks/bench_fast_layers.py [--threads N] [--repeats R] [--rounds K]

Times are the best of R runs in each of K fresh processes per implementation.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

CASES: dict[str, dict] = {
    "conv 3x3 s2 p1": {
        "kind": "conv",
        "x": (100, 3, 31, 31),
        "w": (25, 3, 3, 3),
        "param": {"stride": 2, "pad": 1},
    },
    "conv 7x7 s1 p3": {
        "kind": "conv",
        "x": (50, 3, 32, 32),
        "w": (32, 3, 7, 7),
        "param": {"stride": 1, "pad": 3},
    },
    "pool 2x2 s2": {
        "kind": "pool",
        "x": (100, 25, 16, 16),
        "param": {"pool_height": 2, "pool_width": 2, "stride": 2},
    },
}
DTYPES = ("float32", "float64")
IMPLS = ("fast", "naive", "torch")


def _step_numpy(case: dict, dtype: str, impl: str) -> Callable[[], object]:
    """A closure running one forward + backward pass with nnlib (fast) or reference (naive)."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal(case["x"]).astype(dtype)
    if impl == "fast":
        from nnlib import fast_layers as lib

        conv_f, conv_b = lib.conv_forward_fast, lib.conv_backward_fast
        pool_f, pool_b = lib.max_pool_forward_fast, lib.max_pool_backward_fast
    else:
        from reference import layers as lib

        conv_f, conv_b = lib.conv_forward_naive, lib.conv_backward_naive
        pool_f, pool_b = lib.max_pool_forward_naive, lib.max_pool_backward_naive
    param = case["param"]
    if case["kind"] == "conv":
        w = rng.standard_normal(case["w"]).astype(dtype)
        b = rng.standard_normal(case["w"][0]).astype(dtype)

        def step() -> object:
            out, cache = conv_f(x, w, b, param)
            return conv_b(np.ones_like(out), cache)

        return step

    def step() -> object:
        out, cache = pool_f(x, param)
        return pool_b(np.ones_like(out), cache)

    return step


def _step_torch(case: dict, dtype: str, threads: int) -> Callable[[], object]:
    """The same forward + backward pass with torch.nn.functional and autograd."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    tdtype = getattr(torch, dtype)
    x = torch.tensor(rng.standard_normal(case["x"]), dtype=tdtype, requires_grad=True)
    param = case["param"]
    if case["kind"] == "conv":
        w = torch.tensor(rng.standard_normal(case["w"]), dtype=tdtype, requires_grad=True)
        b = torch.tensor(rng.standard_normal(case["w"][0]), dtype=tdtype, requires_grad=True)

        def step() -> object:
            out = torch.nn.functional.conv2d(x, w, b, stride=param["stride"], padding=param["pad"])
            out.backward(torch.ones_like(out))
            return x.grad, w.grad, b.grad

        return step
    kernel = (param["pool_height"], param["pool_width"])

    def step() -> object:
        out = torch.nn.functional.max_pool2d(x, kernel, stride=param["stride"])
        out.backward(torch.ones_like(out))
        return x.grad

    return step


def _measure(case_name: str, dtype: str, impl: str, threads: int, repeats: int) -> float:
    """Best time in seconds of one forward + backward pass over ``repeats`` runs (after a
    warm-up); the minimum is the statistic least disturbed by other load on the machine."""
    case = CASES[case_name]
    step = _step_torch(case, dtype, threads) if impl == "torch" else _step_numpy(case, dtype, impl)
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def _run_worker(case_name: str, dtype: str, impl: str, threads: int, repeats: int) -> float:
    """Runs _measure in a fresh interpreter with the given thread count."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, __file__, "--worker", case_name, dtype, impl]
    cmd += ["--threads", str(threads), "--repeats", str(repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--naive-repeats", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh processes per measurement (best one kept)"
    )
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "DTYPE", "IMPL"))
    args = parser.parse_args(argv)
    if args.worker:
        case_name, dtype, impl = args.worker
        seconds = _measure(case_name, dtype, impl, args.threads, args.repeats)
        print(json.dumps({"seconds": seconds}))
        return

    has_torch = importlib.util.find_spec("torch") is not None
    print(f"threads: {args.threads}; torch: {'yes' if has_torch else 'not installed'}")
    header = f"{'case':<16} {'dtype':<8} {'fast ms':>9} {'naive speed-up':>15} {'fast/torch':>11}"
    print(header)
    print("-" * len(header))
    for case_name in CASES:
        for dtype in DTYPES:
            impls = ["fast", "torch"] if has_torch else ["fast"]
            best = dict.fromkeys(impls, float("inf"))
            for _ in range(args.rounds):  # alternate, so that load bursts hit both alike
                for impl in impls:
                    seconds = _run_worker(case_name, dtype, impl, args.threads, args.repeats)
                    best[impl] = min(best[impl], seconds)
            fast = best["fast"]
            naive = _run_worker(case_name, dtype, "naive", args.threads, args.naive_repeats)
            ratio = f"{fast / best['torch']:.2f}" if has_torch else "-"
            print(
                f"{case_name:<16} {dtype:<8} {fast * 1e3:>9.2f} {naive / fast:>14.0f}x {ratio:>11}",
                flush=True,
            )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
