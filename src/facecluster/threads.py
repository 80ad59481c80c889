"""Bounding a job's threads to what its rule declares (``threads:``), for the non-torch jobs.

A rule that declares one thread must not let BLAS (numpy/scipy), OpenMP (scikit-learn) or numba
start one per core: two such jobs share a 2-core machine, and a job's numbers must not depend on
what else runs beside it. Torch jobs use :func:`facecluster.training.loop.start_training`.
"""

from __future__ import annotations


def limit_threads(threads: int) -> None:
    """Cap BLAS/OpenMP pools (threadpoolctl) and numba's parallel loops at ``threads`` (≥ 1)."""
    import numba
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    threadpool_limits(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
