"""CDP (consensus-driven propagation, ECCV 2018), single-model "vote" mode.

1. **Pairs.** Every kNN edge ``i → j`` (first ``k`` neighbours, self excluded) whose cosine is
   above ``threshold`` is a positive pair; its score is the cosine.
2. **Propagation with a size limit.** The clusters are the connected components of the pair
   graph, except that a component with more than ``max_size`` nodes is not accepted: its nodes
   are re-linked using only their pairs with score ≥ th, where the threshold rises toward 1 each
   round, ``th ← th + (1 − th)·step`` (starting from the lowest pair score, as in CDP's
   ``graph_propagation``), until every component fits or ``max_iter`` rounds have run (then the
   remaining components are accepted as they are). Nodes without pairs are singletons.

Everything is array code: one scipy connected-components call per round over the edges still
in play, no per-node objects.
"""

from __future__ import annotations

import numpy as np

from .progress import logger
from .threshold import components, edges_at_least


def propagate(
    n: int, src: np.ndarray, dst: np.ndarray, score: np.ndarray, max_size: int, step: float, max_iter: int = 1000
) -> tuple[np.ndarray, int]:
    """Size-constrained propagation over the undirected pairs ``src``–``dst`` → (labels int64 (N,), rounds)."""
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    if not 0 < step < 1:
        raise ValueError("step must be in (0, 1)")
    labels = np.full(n, -1, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    th = float(score.min()) if score.size else 1.0
    next_label = 0
    rounds = 0
    while True:
        comp = components(n, src, dst)
        sizes = np.bincount(comp[active], minlength=n)
        big = active & (sizes[comp] > max_size)
        accept = active & ~big if rounds < max_iter else active
        _, inverse = np.unique(comp[accept], return_inverse=True)
        labels[accept] = next_label + inverse
        next_label += int(inverse.max()) + 1 if inverse.size else 0
        active &= ~accept
        if not active.any():
            return labels, rounds
        rounds += 1
        th = th + (1.0 - th) * step
        keep = active[src] & active[dst] & (score >= th)
        src, dst, score = src[keep], dst[keep], score[keep]


def cdp_clusters(nbrs: np.ndarray, sims: np.ndarray, threshold: float, max_size: int = 600, step: float = 0.05,
                 max_iter: int = 1000) -> np.ndarray:
    """CDP vote-mode clusters of a kNN graph (columns already cut to k) → int64 (N,)."""
    src, dst, score = edges_at_least(nbrs, sims, np.nextafter(np.float32(threshold), np.float32(2)))
    labels, rounds = propagate(nbrs.shape[0], src, dst, score, max_size, step, max_iter)
    logger.info("CDP: %d pairs above %.3f, %d re-split rounds, %d clusters", src.size, threshold, rounds, labels.max() + 1)
    return labels
