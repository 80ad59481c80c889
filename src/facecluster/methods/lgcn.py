"""L-GCN (Wang et al., CVPR 2019, "Linkage-based face clustering via GCN").

* **Instance pivot subgraphs and the network**: :mod:`facecluster.methods.pivot_subgraph`
  (shared with this project's GCN-E).
* **Clusters.** Every (pivot, 1-hop node) pair gets the predicted probability; both directions
  are averaged; pairs with probability ≥ ``threshold`` go through CDP's size-constrained
  propagation (:func:`facecluster.graph.ops.propagate`, ``max_size`` and ``step``).
"""

from __future__ import annotations

import numpy as np
import torch

from facecluster.graph.ops import propagate, symmetrise
from facecluster.methods.pivot_subgraph import LGCN, one_hop_probabilities


def edge_probabilities(model: LGCN, features: np.ndarray, nbrs: np.ndarray, k1: int, k2: int, active: int,
                       device: torch.device, batch_size: int = 256) -> np.ndarray:
    """:func:`one_hop_probabilities` with both directions of a pair averaged (aligned with nbrs[:, 1:k1+1])."""
    prob = one_hop_probabilities(model, features, nbrs, k1, k2, active, device, batch_size)
    return symmetrise(nbrs[:, 1 : k1 + 1], prob)


def lgcn_clusters(nbrs: np.ndarray, prob: np.ndarray, threshold: float, max_size: int, step: float) -> np.ndarray:
    """Pairs with probability ≥ ``threshold`` through CDP's size-constrained propagation."""
    n, k1 = prob.shape
    src = np.repeat(np.arange(n, dtype=np.int64), k1)
    dst = nbrs[:, 1 : k1 + 1].reshape(-1).astype(np.int64)
    score = prob.reshape(-1).astype(np.float64)
    keep = (score >= threshold) & (src != dst)
    return propagate(n, src[keep], dst[keep], score[keep], max_size, step)[0]
