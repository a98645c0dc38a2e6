"""Benchmark nnlib's fast conv / max-pool layers (forward + backward) against torch's CPU.

For every case and dtype, two long-lived worker processes (nnlib and torch, same thread
count) take turns: round 1 times nnlib then torch, round 2 nnlib then torch, and so on
(A B A B ...), so that load from other processes hits both alike. Every worker first runs
every case a few times (warm-up). A round times `--repeats` forward + backward passes of one
implementation and keeps their median. The table gives the median over rounds of each
implementation's time, and of the per-round ratio nnlib / torch with its spread (lowest and
highest per-round ratio).

    python benchmarks/bench_fast_layers.py [--threads 1] [--clock cpu|wall] [--rounds 11]
                                           [--repeats 15] [--naive] [--cases ...] [--dtypes ...]

The default clock is the worker's CPU time (time.process_time): on a shared machine it does
not count the time the worker waits for a core. With one thread it is the compute time; with
more it adds up the threads' times.

`--naive` also times the reference's naive layers once per case (explicit Python loops:
tens of seconds for the larger cases) and prints the speed-up of the fast layers over them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
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
            x.grad = w.grad = b.grad = None
            out = torch.nn.functional.conv2d(x, w, b, stride=param["stride"], padding=param["pad"])
            out.backward(torch.ones_like(out))
            return x.grad, w.grad, b.grad

        return step
    kernel = (param["pool_height"], param["pool_width"])

    def step() -> object:
        x.grad = None
        out = torch.nn.functional.max_pool2d(x, kernel, stride=param["stride"])
        out.backward(torch.ones_like(out))
        return x.grad

    return step


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _serve(impl: str, threads: int, clock: str) -> None:
    """Worker loop: each stdin line `{"case", "dtype", "repeats"}` is answered on stdout with
    the times of `repeats` passes (after one warm-up pass of a newly built step)."""
    now = CLOCKS[clock]
    steps: dict[tuple[str, str], Callable[[], object]] = {}
    for line in sys.stdin:
        job = json.loads(line)
        key = (job["case"], job["dtype"])
        if key not in steps:
            case = CASES[job["case"]]
            steps[key] = (
                _step_torch(case, job["dtype"], threads)
                if impl == "torch"
                else _step_numpy(case, job["dtype"], impl)
            )
            if impl != "naive":  # the loops need no warming up and take seconds
                steps[key]()
        step = steps[key]
        times = []
        for _ in range(job["repeats"]):
            start = now()
            step()
            times.append(now() - start)
        print(json.dumps({"times": times}), flush=True)


class Worker:
    """One implementation in its own interpreter with the given thread count."""

    def __init__(self, impl: str, threads: int, clock: str) -> None:
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        cmd = [sys.executable, __file__, "--serve", impl, "--threads", str(threads)]
        cmd += ["--clock", clock]
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def times(self, case: str, dtype: str, repeats: int) -> list[float]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"case": case, "dtype": dtype, "repeats": repeats}))
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("benchmark worker died")
        return json.loads(line)["times"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def alternate(
    workers: dict[str, Worker], case: str, dtype: str, rounds: int, repeats: int
) -> dict[str, list[float]]:
    """Per-round median times of each worker, the workers taking turns round by round."""
    per_round: dict[str, list[float]] = {name: [] for name in workers}
    for _ in range(rounds):
        for name, worker in workers.items():
            per_round[name].append(statistics.median(worker.times(case, dtype, repeats)))
    return per_round


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=11, help="alternating rounds per case")
    parser.add_argument("--repeats", type=int, default=15, help="passes per round (median)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: the process's CPU time (robust on a shared machine); wall: elapsed time",
    )
    parser.add_argument("--naive", action="store_true", help="also time the naive layers once")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--serve", metavar="IMPL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.threads, args.clock)
        return

    has_torch = importlib.util.find_spec("torch") is not None
    print(
        f"threads: {args.threads}; clock: {args.clock}; rounds: {args.rounds} (A B A B ...), "
        f"{args.repeats} passes each (median); torch: {'yes' if has_torch else 'not installed'}"
    )
    header = (
        f"{'case':<16} {'dtype':<8} {'nnlib ms':>9} {'torch ms':>9} {'nnlib/torch':>12} "
        f"{'per-round spread':>17}" + (f" {'naive speed-up':>15}" if args.naive else "")
    )
    print(header)
    print("-" * len(header))
    workers = {"fast": Worker("fast", args.threads, args.clock)}
    if has_torch:
        workers["torch"] = Worker("torch", args.threads, args.clock)
    naive = Worker("naive", args.threads, args.clock) if args.naive else None
    cases, dtypes = args.cases.split(","), args.dtypes.split(",")
    try:
        # Warm-up: every worker runs every case first, so that no case is measured while the
        # process's allocator is still growing (glibc's mmap threshold adapts to the sizes seen).
        for worker in workers.values():
            for case in cases:
                for dtype in dtypes:
                    worker.times(case, dtype, 3)
        for case in cases:
            for dtype in dtypes:
                per_round = alternate(workers, case, dtype, args.rounds, args.repeats)
                fast = statistics.median(per_round["fast"])
                line = f"{case:<16} {dtype:<8} {fast * 1e3:>9.2f}"
                if has_torch:
                    pairs = zip(per_round["fast"], per_round["torch"], strict=True)
                    ratios = [f / t for f, t in pairs]
                    torch_ms = statistics.median(per_round["torch"]) * 1e3
                    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
                    line += f" {torch_ms:>9.2f} {statistics.median(ratios):>11.2f}x {spread:>17}"
                else:
                    line += f" {'-':>9} {'-':>12} {'-':>17}"
                if naive is not None:
                    slow = naive.times(case, dtype, 1)[0]
                    line += f" {slow / fast:>14.0f}x"
                print(line, flush=True)
    finally:
        for worker in [*workers.values(), *([naive] if naive else [])]:
            worker.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
