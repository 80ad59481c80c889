"""L-GCN (Wang et al., CVPR 2019, "Linkage-based face clustering via GCN").

* **Instance pivot subgraphs and the network**: :mod:`facecluster.methods.pivot_subgraph`
  (shared with this project's GCN-E).
* **Clusters** (gcn_clustering ``test.py`` → ``utils/graph.py:graph_propagation``, ``pool='avg'``):
  every (pivot, 1-hop node) pair gets the predicted probability, both directions of a pair are
  averaged, and *all* pairs go through the size-constrained propagation
  (:func:`facecluster.graph.ops.propagate`): components of every pair first, then components
  larger than ``max_size`` are re-split with the threshold rising from the lowest score by
  ``th <- th + (1 - th) * step`` (release: ``max_size`` 900, step 0.6; learn-to-cluster's MS1M
  config: 300). The release applies no threshold; ``threshold`` > 0 (or ``tune: train``) drops
  pairs below it first, a choice this project offers (default 0 = the release).
"""

from __future__ import annotations

import numpy as np
import torch

from facecluster.graph.ops import propagate, symmetrise
from facecluster.methods.pivot_subgraph import SubgraphGCN, one_hop_probabilities


def edge_probabilities(model: SubgraphGCN, features: np.ndarray, nbrs: np.ndarray, k1: int, k2: int, active: int,
                       device: torch.device, batch_size: int = 256) -> np.ndarray:
    """:func:`one_hop_probabilities` with both directions of a pair averaged (aligned with nbrs[:, 1:k1+1])."""
    prob = one_hop_probabilities(model, features, nbrs, k1, k2, active, device, batch_size)
    return symmetrise(nbrs[:, 1 : k1 + 1], prob)


def lgcn_clusters(nbrs: np.ndarray, prob: np.ndarray, threshold: float, max_size: int, step: float) -> np.ndarray:
    """Pairs with probability ≥ ``threshold`` (0: all, as the release) through the size-constrained propagation."""
    n, k1 = prob.shape
    src = np.repeat(np.arange(n, dtype=np.int64), k1)
    dst = nbrs[:, 1 : k1 + 1].reshape(-1).astype(np.int64)
    score = prob.reshape(-1).astype(np.float64)
    keep = (score >= threshold) & (src != dst)
    return propagate(n, src[keep], dst[keep], score[keep], max_size, step)[0]
