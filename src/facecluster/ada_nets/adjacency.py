"""Graphs for the GCN: the adaptive (Ada-NETS) adjacency and the plain kNN adjacency.

Both are built the same way (DESIGN.md stage 5): for each node ``i`` keep the first
``k_i`` entries of its neighbour list — the list includes ``i`` itself in its first position,
so ``k_i`` counts ``i`` as the max-Q index ``k*`` does, exactly as the Ada-NETS release's
``fast_knns2spmat_adaptivek`` does — drop ``i`` itself, weight each kept edge by its
similarity (``1 - structure distance``, or the cosine for a plain kNN list) and keep it only
when that weight is ``>= min_weight`` (0 by default); symmetrise with the element-wise
maximum, add self-loops (weight 1) and row-normalise. The GraphSAGE layers use only which
edges exist; the weights are kept for diagnostics and other consumers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from facecluster.graph.ops import build_adjacency


def adaptive_adjacency(nbrs: np.ndarray, dists: np.ndarray, k_hat: np.ndarray) -> sp.csr_matrix:
    """Stage 5: node i keeps the first ``k_hat[i]`` entries of its structure-space list (itself
    counted), edges weighted ``1 - distance`` (:func:`facecluster.graph.ops.build_adjacency`)."""
    return build_adjacency(nbrs, 1.0 - dists, k_hat)


def edge_precision_recall(adj: sp.csr_matrix, labels: np.ndarray) -> dict[str, float]:
    """Fraction of (off-diagonal, undirected) edges joining same-label nodes, and the number of edges.

    ``precision`` = same-label edges / edges; ``recall`` = same-label edges / same-label
    pairs that exist in the split (an upper bound no graph of bounded degree reaches).
    """
    coo = sp.triu(adj, k=1).tocoo()
    same = labels[coo.row] == labels[coo.col]
    _, sizes = np.unique(labels, return_counts=True)
    pairs = float(np.sum(sizes.astype(np.float64) * (sizes - 1) / 2))
    return {
        "edges": int(coo.nnz),
        "precision": float(same.mean()) if coo.nnz else 1.0,
        "recall": float(same.sum() / pairs) if pairs else 1.0,
    }
