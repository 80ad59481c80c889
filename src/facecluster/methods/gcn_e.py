"""GCN-E (Yang et al., CVPR 2020) on top of GCN-V: edge connectivity among higher-confidence candidates.

For node i the subgraph is i and its ``k`` nearest neighbours in the GCN-V hidden-feature kNN
(features offset by i, each node linked to its ``active`` nearest neighbours inside the subgraph:
the L-GCN subgraph with one hop, :func:`facecluster.methods.pivot_subgraph.pivot_subgraphs`), and the same
four-layer GCN as L-GCN classifies every neighbour as same identity or not (cross-entropy on the
train split). The *candidates* of i are the neighbours with higher GCN-V confidence. Clusters:
the 20 % highest-confidence nodes (``top_fraction``) link to their most likely candidate when
its probability is ≥ 0.5 (a design choice: no forced link when the network sees none), the
others to their nearest higher-confidence neighbour when the cosine is ≥ τ (GCN-V's rule, same
τ); connected components.
"""

from __future__ import annotations

import numpy as np
import torch

from facecluster.graph.ops import higher_confidence_links
from facecluster.methods.pivot_subgraph import LGCN, one_hop_probabilities, train_lgcn
from facecluster.graph.ops import components
from facecluster.training.loop import SGDSchedule


def candidates(nbrs: np.ndarray, confidence: np.ndarray, k: int) -> np.ndarray:
    """Which of the first k neighbours (self excluded) have a higher confidence than the node (N, k) bool.

    GCN-E's training labels are L-GCN's one-hop labels (:func:`facecluster.methods.pivot_subgraph.pivot_labels`:
    does the neighbour share the node's identity); at inference only candidates may be linked.
    """
    return confidence[nbrs[:, 1 : k + 1]] > confidence[:, None]


def train_gcn_e(features: np.ndarray, nbrs: np.ndarray, labels: np.ndarray, k: int, active: int, hidden: int,
                batch_size: int, schedule: SGDSchedule, device: torch.device, rng: np.random.Generator) -> tuple[LGCN, list]:
    """Fit the connectivity GCN on one-hop subgraphs of the (GCN-V feature) kNN of a labelled split."""
    return train_lgcn(features, nbrs, labels, k, 0, active, hidden, batch_size, schedule, device, rng)


def candidate_probabilities(model: LGCN, features: np.ndarray, nbrs: np.ndarray, k: int, active: int,
                            device: torch.device, batch_size: int = 256) -> np.ndarray:
    """P(same identity) of each of the first k neighbours of every node (N, k)."""
    return one_hop_probabilities(model, features, nbrs, k, 0, active, device, batch_size, "GCN-E subgraphs")


def gcn_e_clusters(nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, prob: np.ndarray, tau: float,
                   top_fraction: float = 0.2) -> np.ndarray:
    """GCN-V linking for the low-confidence nodes, GCN-E's most likely candidate for the top fraction."""
    n, k = prob.shape
    top = confidence >= np.quantile(confidence, 1.0 - top_fraction)
    score = np.where(candidates(nbrs, confidence, k), prob, -1.0)
    best = score.argmax(axis=1)
    ok = top & (score[np.arange(n), best] >= 0.5)
    src, dst = higher_confidence_links(nbrs, sims, confidence, tau)
    low = ~top[src]
    return components(n, np.concatenate([np.flatnonzero(ok), src[low]]),
                      np.concatenate([nbrs[ok, 1 + best[ok]].astype(np.int64), dst[low]]))
