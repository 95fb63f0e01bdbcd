"""Worker processes for slice-parallel work (metrics, comparison methods).

One helper, `process_pool`, so every parallel loop of the package starts its workers the
same way:

- Workers are forked where the platform allows it and TensorFlow is not loaded (fast start,
  nothing re-imported); otherwise they are spawned (TensorFlow's threads do not survive a
  fork).
- Each worker runs its numerical libraries single-threaded (SimpleITK, and BLAS/OpenMP
  through the usual environment variables for spawned workers): the parallelism is over
  slices, and two levels of threads on a small machine only compete.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

__all__ = ["process_pool"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker() -> None:
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        import SimpleITK as sitk
    except ImportError:
        return
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A `ProcessPoolExecutor` with ``workers`` single-threaded workers (use it with ``with``)."""
    methods = multiprocessing.get_all_start_methods()
    context: BaseContext
    if "fork" in methods and "tensorflow" not in sys.modules:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=max(1, int(workers)), mp_context=context, initializer=_init_worker
    )
