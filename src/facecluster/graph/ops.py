"""Graph operations shared by the Ada-NETS stages and the comparison methods (one home for each).

- :func:`edges_at_least`, :func:`components`, :func:`threshold_clusters`: kNN edges above a
  cosine, connected components, and their composition (the ``knn_cc`` baseline and Ada-NETS
  stage 7's threshold linkage);
- :func:`noise_to_singletons`: scikit-learn's noise label (−1) to clusters of one (DBSCAN on the
  kNN graph and on features, HDBSCAN);
- :func:`symmetric_graph`: the kNN graph as a symmetric CSR matrix of cosines (DBSCAN,
  single linkage, Chinese whispers, Leiden);
- :func:`build_adjacency`: symmetric, self-looped, row-normalised sparse graph from per-node
  neighbour prefixes (Ada-NETS stage 5, the GCN's training graph, GCN-V's operator);
- :func:`propagate`: size-constrained propagation (CDP's re-split, L-GCN's merge);
- :func:`symmetrise`: ``v_ij <- mean(v_ij, v_ji)`` over kNN-aligned values (LCE, L-GCN);
- :func:`higher_confidence_links`: each node to its nearest higher-confidence neighbour (GCN-V);
- :func:`to_torch_csr`: scipy CSR to a torch sparse CSR tensor (torch imported on use).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def edges_at_least(nbrs: np.ndarray, sims: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed kNN edges ``(src, dst, sim)`` with similarity ``>= tau``, self-edges dropped."""
    n, k = nbrs.shape
    src = np.repeat(np.arange(n, dtype=np.int64), k)
    dst = nbrs.reshape(-1).astype(np.int64)
    s = sims.reshape(-1)
    keep = (s >= tau) & (dst != src) & (dst >= 0)
    return src[keep], dst[keep], s[keep]


def components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected components of the undirected graph with edges ``src``–``dst``; int64 labels."""
    g = sp.csr_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n))
    _, labels = connected_components(g, directed=True, connection="weak")
    return labels.astype(np.int64)


def threshold_clusters(nbrs: np.ndarray, sims: np.ndarray, tau: float) -> np.ndarray:
    """Cluster ids (int64, (N,)) of the kNN graph cut at cosine ``tau``."""
    src, dst, _ = edges_at_least(nbrs, sims, tau)
    return components(nbrs.shape[0], src, dst)



def noise_to_singletons(labels: np.ndarray) -> np.ndarray:
    """Labels with every −1 (scikit-learn's noise label) replaced by a new cluster of its own (int64)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(int(noise.sum()))
    return labels


def symmetric_graph(nbrs: np.ndarray, sims: np.ndarray, min_sim: float = -np.inf) -> sp.csr_matrix:
    """The kNN graph as a symmetric CSR matrix of cosines (edges with cosine ≥ ``min_sim``, no self-loops)."""
    n = nbrs.shape[0]
    src, dst, s = edges_at_least(nbrs, sims, min_sim)
    g = sp.coo_matrix((s, (src, dst)), shape=(n, n)).tocsr()
    g.sum_duplicates()  # i -> j listed twice cannot happen in a kNN row; kept for safety
    g = g.maximum(g.T).tocsr()
    g.sort_indices()
    return g

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


def symmetrise(nbrs: np.ndarray, values: np.ndarray, missing: float | None = None) -> np.ndarray:
    """``v_ij ← mean(v_ij, v_ji)`` (values aligned with ``nbrs``). Where j does not list i, v_ji is
    ``missing``: None keeps v_ij (L-GCN's ``pool='avg'``), 0 halves it (LCE's ``(S + Sᵀ)/2``)."""
    n, k = nbrs.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = nbrs.reshape(-1).astype(np.int64)
    keys = rows * n + cols
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    rev = cols * n + rows
    pos = np.clip(np.searchsorted(sorted_keys, rev), 0, keys.size - 1)
    found = sorted_keys[pos] == rev
    flat = values.reshape(-1)
    other = np.where(found, flat[order[pos]], flat if missing is None else np.float32(missing))
    return ((flat + other) / 2).reshape(n, k).astype(np.float32)


def higher_confidence_links(nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, tau: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(src, dst)``: each node to its nearest neighbour of higher confidence, if cos > ``tau``
    (strict, as learn-to-cluster's ``peaks_to_edges``: an edge needs distance < 1 − τ)."""
    n = nbrs.shape[0]
    higher = (confidence[nbrs] > confidence[:, None]) & (nbrs != np.arange(n)[:, None])
    rows = np.flatnonzero(higher.any(axis=1))
    first = higher[rows].argmax(axis=1)
    keep = sims[rows, first] > tau
    return rows[keep], nbrs[rows[keep], first[keep]].astype(np.int64)


def to_torch_csr(m: sp.csr_matrix):
    """A scipy CSR matrix (sorted, no duplicates) as a torch sparse CSR float32 tensor."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)), torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data.astype(np.float32, copy=False)), size=m.shape, check_invariants=False,
        )
