"""Grading a whole class: discovery, a resumable process pool or Dask cluster, outputs, report."""

from nnkit.batch.discover import Submission, discover, is_batch_root
from nnkit.batch.runner import BatchConfig, BatchSummary, run_batch

__all__ = ["BatchConfig", "BatchSummary", "Submission", "discover", "is_batch_root", "run_batch"]
