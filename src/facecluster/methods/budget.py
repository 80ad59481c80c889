"""A time budget for clustering calls whose cost grows faster than N (scikit-learn's KMeans, spectral
clustering, Ward, DBSCAN, HDBSCAN, MeanShift on all features).

The one mechanism behind every such baseline (:func:`run_with_budget`):

1. **Estimate from samples.** The call is timed on two random subsets of the rows (``sizes``,
   the cluster count scaled with the subset when the call takes one); the growth exponent
   ``p = log(t₂/t₁) / log(n₂/n₁)`` (clipped to [1, 3]) extrapolates the second time to all N
   rows: ``t₂ · (N/n₂)^p``. The log gets the estimate before the run starts. An input no larger
   than the second sample is not estimated (timing it would run the whole call twice) and runs
   in this process (its cost is that of a sample; a child process costs seconds of imports, which
   a parameter search on tiny data pays per value).
2. **Refuse at once** when the estimate is above ``max_seconds``, with a :class:`BudgetError`
   naming the method, the shape, the estimate and the setting to change.
3. **Run in a child process** (a fresh interpreter, ``python -m facecluster.methods.budget``: no
   threads inherited, and — unlike :mod:`multiprocessing`'s spawn — no re-import of the caller's
   ``__main__``, which for a Snakemake script is the whole script; a child that re-ran it died and
   left the parent blocked on the pipe) that the parent watches, logging a progress line every
   ``every`` seconds, and **stop** it once ``max_seconds`` have passed (the same
   :class:`BudgetError`); nothing is written when it stops. The call and its result travel through
   pickle files in a temporary folder (``fn`` is pickled by reference: a module-level function).

``max_seconds=None`` runs without a limit (still estimated and logged).
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import tempfile
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


def _worker(folder: str) -> None:  # pragma: no cover - runs in the child process
    """Child side: read ``call.pkl`` (the parent's ``sys.path``, then ``fn, x, kwargs``), write ``result.pkl``."""
    with open(os.path.join(folder, "call.pkl"), "rb") as f:
        sys.path[:0] = [p for p in pickle.load(f) if p not in sys.path]
        fn, x, kwargs = pickle.load(f)
    try:
        result = ("ok", fn(x, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent with its message
        result = ("error", f"{type(exc).__name__}: {exc}")
    tmp = os.path.join(folder, "result.pkl.part")
    with open(tmp, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, os.path.join(folder, "result.pkl"))


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
    if x.shape[0] <= sizes[1]:  # as small as a sample: bounded, run here (a child costs seconds of imports)
        start = time.perf_counter()
        value = fn(x, **kwargs)
        logger.info("%s: done in %.1f s (in process: no larger than a sample)", shape, time.perf_counter() - start)
        return np.asarray(value, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="facecluster-budget-") as folder:
        with open(os.path.join(folder, "call.pkl"), "wb") as f:
            pickle.dump(list(sys.path), f)
            pickle.dump((fn, x, kwargs), f, protocol=pickle.HIGHEST_PROTOCOL)
        start = last = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "facecluster.methods.budget", folder], stdin=subprocess.DEVNULL)
        try:
            while True:
                try:
                    proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    now = time.perf_counter()
                    if max_seconds is not None and now - start > max_seconds:
                        raise BudgetError(f"{shape}: stopped after {now - start:.0f} s (estimate {estimate:.0f} s), "
                                          f"above {setting} = {max_seconds:g}; raise it (null: no limit)") from None
                    if now - last >= every:
                        last = now
                        logger.info("%s: running, %.0f s elapsed (estimate %.0f s)", shape, now - start, estimate)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result_path = os.path.join(folder, "result.pkl")
        if not os.path.exists(result_path):
            raise RuntimeError(f"{shape}: the worker process ended without a result (exit code {proc.returncode})")
        with open(result_path, "rb") as f:
            status, value = pickle.load(f)
    if status == "error":
        raise RuntimeError(f"{shape}: {value}")
    logger.info("%s: done in %.1f s (estimate %.0f s)", shape, time.perf_counter() - start, estimate)
    return np.asarray(value, dtype=np.int64)


if __name__ == "__main__":  # pragma: no cover - the child process of run_with_budget
    _worker(sys.argv[1])
