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


def build_adjacency(nbrs: np.ndarray, weights: np.ndarray, keep: np.ndarray | int, min_weight: float = 0.0) -> sp.csr_matrix:
    """Symmetric, self-looped, row-normalised CSR (N, N) float32 from per-node neighbour lists.

    Args:
        nbrs: int (N, k) neighbour ids, row ``i`` usually starting with ``i``.
        weights: float (N, k) edge weights (similarities) aligned with ``nbrs``.
        keep: per-node prefix length ``k_i`` (int array (N,)) or one int for every node.
        min_weight: edges lighter than this are dropped.
    """
    n, k = nbrs.shape
    keep = np.broadcast_to(np.asarray(keep), (n,))
    col = np.arange(k)[None, :]
    mask = (col < keep[:, None]) & (nbrs != np.arange(n)[:, None]) & (nbrs >= 0) & (weights >= min_weight)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, k))[mask]
    a = sp.csr_matrix((weights[mask].astype(np.float32), (rows, nbrs[mask])), shape=(n, n))
    a.sum_duplicates()
    a = a.maximum(a.T.tocsr())
    a = a + sp.identity(n, dtype=np.float32, format="csr")
    deg = np.asarray(a.sum(axis=1)).ravel()
    deg[deg <= 0] = 1.0
    a = sp.diags((1.0 / deg).astype(np.float32)) @ a
    a = a.tocsr().astype(np.float32)
    a.sort_indices()
    return a


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
