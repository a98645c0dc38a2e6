"""Grading a whole class: discovery, a resumable process pool or Dask cluster, outputs, report."""
