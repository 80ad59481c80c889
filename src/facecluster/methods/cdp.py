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

from facecluster.progress import logger
from facecluster.graph.ops import edges_at_least, propagate


def cdp_clusters(nbrs: np.ndarray, sims: np.ndarray, threshold: float, max_size: int = 600, step: float = 0.05,
                 max_iter: int = 1000) -> np.ndarray:
    """CDP vote-mode clusters of a kNN graph (columns already cut to k) → int64 (N,)."""
    src, dst, score = edges_at_least(nbrs, sims, np.nextafter(np.float32(threshold), np.float32(2)))
    labels, rounds = propagate(nbrs.shape[0], src, dst, score, max_size, step, max_iter)
    logger.info("CDP: %d pairs above %.3f, %d re-split rounds, %d clusters", src.size, threshold, rounds, labels.max() + 1)
    return labels
