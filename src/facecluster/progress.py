"""Rate-limited progress reporting for long steps.

Rules redirect stderr to their log, so `tail -f logs/...` shows where a job is. Progress
goes through the ``facecluster`` logger; a message is emitted at most every
``min_interval`` seconds (plus the first and the last step), so logs stay short.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import numpy as np

logger = logging.getLogger("facecluster")


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``facecluster`` log records to (the current) ``sys.stderr`` with timestamps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class Progress:
    """Report ``done / total`` of a named step, at most once per ``min_interval`` seconds."""

    def __init__(self, name: str, total: int, min_interval: float = 5.0) -> None:
        self.name = name
        self.total = max(int(total), 1)
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self._last = -float("inf")

    def update(self, done: int, extra: str = "") -> None:
        now = time.perf_counter()
        if done < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self.start
        frac = done / self.total
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        msg = f"{self.name}: {done}/{self.total} ({100 * frac:.0f}%) elapsed {elapsed:.1f}s eta {eta:.1f}s"
        logger.info(msg + (f" {extra}" if extra else ""))
        if done < self.total:
            failpoint(self.name)


#: environment variable of the fault tests' hook (:func:`failpoint`)
FAILPOINT_ENV = "FACECLUSTER_FAILPOINT"


def failpoint(where: str) -> None:
    """The fault tests' hook (tests/test_faults.py), a no-op unless ``FACECLUSTER_FAILPOINT`` is set:
    a process whose step ``where`` starts with its value stops itself (SIGSTOP) right after
    reporting progress in the middle of that step — part of the work done, nothing written — so
    that the test can SIGKILL Snakemake and the job at a known point, as a power loss, an OOM kill
    or a scheduler's preemption would, and check what a restart does."""
    target = os.environ.get(FAILPOINT_ENV)
    if target and where.startswith(target):
        logger.warning("failpoint '%s' reached (%s=%s): this process stops here for a fault test", where, FAILPOINT_ENV, target)
        for handler in logger.handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGSTOP)


def summarise_curve(curve: list[tuple[int, float, float]], terms: dict[str, list[float]] | None = None,
                    window: int = 100) -> str:
    """``loss first-window mean -> last-window mean`` (and the same for every term): did it learn?"""
    n = len(curve)
    if n == 0:
        return "no training steps"
    w = max(1, min(window, n // 2 or 1))
    losses = np.array([c[1] for c in curve])
    text = f"loss mean of the first {w} steps {losses[:w].mean():.5f} -> last {w} steps {losses[-w:].mean():.5f}"
    for key, values in (terms or {}).items():
        v = np.asarray(values, dtype=np.float64)
        if v.size == n:
            text += f"; {key} {v[:w].mean():.5f} -> {v[-w:].mean():.5f}"
    return text
