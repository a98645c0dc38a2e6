"""The batch's grading tasks on a Dask distributed cluster (``--scheduler ADDRESS``).

Workers run :func:`nnkit.batch.task.run_task`, the function the local pool runs, and return
records; this process stores them exactly as the local runner does, so results are
byte-identical. Workers need the kit installed (same version) but no shared file system: a
task carries its submission's files. See ``docs/scaling.md`` for SLURM via dask-jobqueue.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from nnkit.batch.runner import crashed_outcome
from nnkit.batch.task import GradeTask, Outcome, run_task


def run_dask(
    tasks: Iterator[GradeTask],
    scheduler: str,
    on_outcome: Callable[[GradeTask, Outcome], None],
    window: int | None = None,
) -> None:
    """Run tasks on the cluster at ``scheduler``, a window of them in flight at a time.

    ``window`` defaults to twice the cluster's thread count. A task whose worker keeps dying
    (Dask retries it on other workers first) gets an error record and is retried by the next run.
    """
    from distributed import Client, as_completed

    with Client(scheduler, set_as_default=False) as client:
        if window is None:
            nthreads = sum(client.nthreads().values()) or 1
            window = 2 * nthreads
        source = iter(tasks)
        by_key: dict[str, GradeTask] = {}

        def submit(task: GradeTask) -> object:
            key = f"nnkit-grade-{task.assignment}-{task.student}-{task.digest[7:19]}"
            by_key[key] = task
            return client.submit(run_task, task, key=key, pure=False, retries=0)

        first = [submit(t) for t in itertools.islice(source, window)]
        pending = as_completed(first, loop=client.loop)
        for fut in pending:
            task = by_key.pop(fut.key)
            try:
                outcome = fut.result()
            except Exception as e:  # KilledWorker and the like: the engine itself failed
                outcome = crashed_outcome(task, f"{type(e).__name__} on the cluster")
            on_outcome(task, outcome)
            fut.release()
            nxt = next(source, None)
            if nxt is not None:
                pending.add(submit(nxt))
