"""The batch's grading tasks on a Dask distributed cluster (``--scheduler ADDRESS``).

Workers run :func:`nnkit.batch.task.run_task`, the function the local pool runs, and return
records; this process stores them exactly as the local runner does, so results are
byte-identical. Workers need the kit installed (same version) but no shared file system: a
task carries its submission's files. See ``docs/scaling.md`` for SLURM via dask-jobqueue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from nnkit.batch.task import GradeTask, Outcome, failed_outcome, run_task


def run_dask(
    tasks: Iterator[GradeTask],
    scheduler: str,
    on_outcome: Callable[[GradeTask, Outcome], None],
    window: int | None = None,
) -> None:
    """Run tasks on the cluster at ``scheduler``, a window of them in flight at a time.

    ``window`` defaults to twice the number of workers (re-read as workers join or leave). A
    task whose worker keeps dying (the scheduler tries other workers first) gets an error
    record and is graded again by the next run.
    """
    from distributed import Client, as_completed

    with Client(scheduler, set_as_default=False) as client:
        client.wait_for_workers(1)
        source = iter(tasks)
        by_key: dict[str, GradeTask] = {}
        pending = as_completed([], loop=client.loop)

        def top_up() -> None:
            """Keep ``window`` (default: twice the current worker count) tasks in flight."""
            threads = client.nthreads()
            if any(n > 1 for n in threads.values()):
                raise RuntimeError(
                    "Dask workers must be single-threaded (the engine changes directory while "
                    "it grades): start them with --nthreads 1 (jobqueue: processes = cores)"
                )
            target = window or 2 * max(1, len(threads))
            while len(by_key) < target:
                task = next(source, None)
                if task is None:
                    return
                key = f"nnkit-grade-{task.assignment}-{task.student}-{task.digest[7:19]}"
                by_key[key] = task
                pending.add(client.submit(run_task, task, key=key, pure=False, retries=0))

        top_up()
        for fut in pending:
            task = by_key.pop(fut.key)
            try:
                outcome = fut.result()
            except Exception as e:  # KilledWorker and the like: the engine itself failed
                outcome = failed_outcome(task, f"{type(e).__name__} on the cluster")
            on_outcome(task, outcome)
            fut.release()
            top_up()
