"""A time budget for clustering calls whose cost grows faster than N (scikit-learn's KMeans, spectral
clustering, Ward, DBSCAN, HDBSCAN, MeanShift on all features).

The one mechanism behind every such baseline (:func:`run_with_budget`):

1. **Estimate from samples.** The call is timed on two random subsets of the rows (``sizes``,
   the cluster count scaled with the subset when the call takes one); the growth exponent
   ``p = log(t₂/t₁) / log(n₂/n₁)`` (clipped to [1, 3]) extrapolates the second time to all N
   rows: ``t₂ · (N/n₂)^p``. The log gets the estimate before the run starts. An input no larger
   than the second sample is not estimated (timing it would run the whole call twice).
2. **Refuse at once** when the estimate is above ``max_seconds``, with a :class:`BudgetError`
   naming the method, the shape, the estimate and the setting to change.
3. **Run in a child process** (spawned: no threads inherited) that the parent watches, logging a
   progress line every ``every`` seconds, and **stop** it once ``max_seconds`` have passed
   (the same :class:`BudgetError`); nothing is written when it stops.

``max_seconds=None`` runs without a limit (still estimated and logged).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable

import numpy as np

from facecluster.progress import logger


class BudgetError(RuntimeError):
    """A call refused (estimate above its limit) or stopped (ran past it), with the setting to change."""


def estimate_seconds(fn: Callable[..., np.ndarray], x: np.ndarray, n_clusters: int | None, kwargs: dict,
                     sizes: tuple[int, int] = (500, 1000), seed: int = 0) -> tuple[float, str]:
    """Extrapolated seconds of ``fn(x, **kwargs)`` (with ``n_clusters`` scaled to each sample) on all
    rows, from two timed random subsets; returns ``(seconds, how)`` (``how``: the measurements)."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    small, large = (min(s, n) for s in sizes)
    if large <= small or n <= large:  # no larger than a sample: not estimated (running it would do the work twice)
        return 0.0, f"not estimated: {n} rows, no more than a {large}-row sample"
    times = []
    for m in (small, large):
        rows = np.sort(rng.choice(n, size=m, replace=False))
        t0 = time.perf_counter()
        fn(x[rows], **_scaled(kwargs, n_clusters, m / n))
        times.append(max(time.perf_counter() - t0, 1e-3))
    p = min(max(math.log(times[1] / times[0]) / math.log(large / small), 1.0), 3.0)
    est = times[1] * (n / large) ** p
    return est, f"{times[0]:.2f} s at {small} rows, {times[1]:.2f} s at {large}: exponent {p:.2f}"


def _scaled(kwargs: dict, n_clusters: int | None, share: float) -> dict:
    if n_clusters is None:
        return dict(kwargs)
    return {**kwargs, "n_clusters": max(2, int(round(n_clusters * share)))}


def _child(fn, x, kwargs, queue) -> None:  # pragma: no cover - runs in the child process
    try:
        queue.put(("ok", fn(x, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent with its message
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_with_budget(name: str, fn: Callable[..., np.ndarray], x: np.ndarray, kwargs: dict, max_seconds: float | None,
                    setting: str, every: float = 10.0, sizes: tuple[int, int] = (500, 1000)) -> np.ndarray:
    """``fn(x, **kwargs)`` (a module-level function returning labels) under a time budget (module docstring).

    ``setting``: the config key of the limit, named in the messages (e.g. ``methods.spectral.max_seconds``).
    """
    n_clusters = kwargs.get("n_clusters")
    shape = f"{name} on {x.shape[0]} x {x.shape[1]} features" + (f", {n_clusters} clusters" if n_clusters else "")
    estimate, how = estimate_seconds(fn, x, n_clusters, {k: v for k, v in kwargs.items() if k != "n_clusters"}, sizes)
    logger.info("%s: estimated %.0f s (%s)", shape, estimate, how)
    if max_seconds is not None and estimate > max_seconds:
        raise BudgetError(f"{shape}: estimated at {estimate:.0f} s ({how}), above {setting} = {max_seconds:g}; "
                          f"raise {setting} (null: no limit) or cluster fewer samples")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, x, kwargs, queue), daemon=True)
    start = last = time.perf_counter()
    proc.start()
    try:
        while True:
            try:
                status, value = queue.get(timeout=1.0)
                break
            except Exception:  # noqa: BLE001 - queue.Empty: still running
                now = time.perf_counter()
                if not proc.is_alive() and queue.empty():
                    raise RuntimeError(f"{shape}: the worker process ended without a result (exit code {proc.exitcode})")
                if max_seconds is not None and now - start > max_seconds:
                    raise BudgetError(f"{shape}: stopped after {now - start:.0f} s (estimate {estimate:.0f} s), above "
                                      f"{setting} = {max_seconds:g}; raise it (null: no limit)")
                if now - last >= every:
                    last = now
                    logger.info("%s: running, %.0f s elapsed (estimate %.0f s)", shape, now - start, estimate)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
    if status == "error":
        raise RuntimeError(f"{shape}: {value}")
    logger.info("%s: done in %.1f s (estimate %.0f s)", shape, time.perf_counter() - start, estimate)
    return np.asarray(value, dtype=np.int64)
