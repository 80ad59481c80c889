"""The classic clustering baselines of the face-clustering tables, on the shared kNN artifact.

All graph methods take ``nbrs``/``sims`` (N, k) from ``knn.npz`` (self in column 0, already cut to
the method's k) and return int64 cluster ids (N,):

* :func:`knn_dbscan` — DBSCAN on the symmetrised kNN graph with distance 1 − cos: core points
  have at least ``min_samples`` points (themselves included) within ``eps``; clusters are the
  connected components of core–core edges within ``eps``; a border point joins the cluster of its
  nearest core point within ``eps``; noise points are singletons.
* :func:`fast_hac` — single-linkage agglomerative clustering of the kNN graph cut at a distance:
  the minimum spanning forest of the graph (distance 1 − cos) with every edge longer than the cut
  removed. On a kNN graph this equals ``knn_cc`` at τ = 1 − cut (tested); it is listed because
  the literature's tables list FastHAC with its distance parameter.
* :func:`chinese_whispers` — label propagation: every node starts in its own class; in each of
  ``iterations`` rounds the nodes, in a seeded random order, take the class with the largest
  summed edge weight (cosine) among their neighbours (edges with cosine ≥ ``tau``). numba.
* :func:`approx_rank_order` — approximate rank-order clustering (Otto et al., 2018): for each kNN
  pair (a, b) with b at rank O_a(b) in a's list, D(a, b) counts a's first O_a(b) + 1 entries that
  are not in b's top-k list; D_N(a, b) = (D(a, b) + D(b, a)) / min(O_a(b), O_b(a)) (O = k when
  absent); pairs with D_N ≤ ``threshold`` are linked and the clusters are connected components.
* :func:`leiden` — Leiden community detection (leidenalg) on the symmetrised kNN graph weighted by
  cosine (edges with cosine > 0), constant Potts model with ``resolution``: a community is kept
  when its internal weight beats ``resolution`` per pair of members, a density threshold
  (``iterations`` = 2 passes, leidenalg's default).

and on the features:

* :func:`minibatch_kmeans` — scikit-learn ``MiniBatchKMeans`` (k-means++ initialisation) on
  the L2-normalised features; with the true number of clusters this is an upper-bound variant
  (it is given what a clustering method should find).
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from facecluster.graph.ops import components, symmetric_graph, threshold_clusters


# ---------------------------------------------------------------------------------------------
# DBSCAN and single linkage


def knn_dbscan(nbrs: np.ndarray, sims: np.ndarray, eps: float, min_samples: int = 2) -> np.ndarray:
    """DBSCAN with distance 1 − cos on the symmetrised kNN graph (see the module docstring)."""
    n = nbrs.shape[0]
    g = symmetric_graph(nbrs, sims, 1.0 - eps)
    degree = np.diff(g.indptr) + 1  # neighbours within eps, the point itself included
    core = degree >= min_samples
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    cols = g.indices
    both = core[rows] & core[cols]
    labels = components(n, rows[both], cols[both])
    # border points: nearest core neighbour within eps
    border_edges = ~core[rows] & core[cols]
    if border_edges.any():
        r, c, w = rows[border_edges], cols[border_edges], g.data[border_edges]
        order = np.lexsort((-w, r))
        r, c = r[order], c[order]
        first = np.r_[True, r[1:] != r[:-1]]
        labels[r[first]] = labels[c[first]]
    _, labels = np.unique(labels, return_inverse=True)
    return labels.astype(np.int64)


def fast_hac(nbrs: np.ndarray, sims: np.ndarray, distance: float) -> np.ndarray:
    """Single linkage on the kNN graph cut at ``distance`` (1 − cos), via its minimum spanning forest."""
    n = nbrs.shape[0]
    g = symmetric_graph(nbrs, sims)
    dist = g.copy()
    # MST ignores explicit zeros: shift distances by a constant (the MST is invariant to it)
    dist.data = (1.0 - dist.data).astype(np.float64) + 2.0
    mst = minimum_spanning_tree(dist).tocoo()
    keep = mst.data - 2.0 <= distance + 1e-7
    _, labels = connected_components(sp.csr_matrix((np.ones(int(keep.sum())), (mst.row[keep], mst.col[keep])), shape=(n, n)),
                                     directed=False)
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Chinese whispers


@numba.njit(cache=True)
def _whispers(indptr, indices, weights, order_all, iterations):
    n = indptr.size - 1
    label = np.arange(n)
    score = np.zeros(n)
    for it in range(iterations):
        order = order_all[it]
        changed = 0
        for t in range(n):
            v = order[t]
            lo, hi = indptr[v], indptr[v + 1]
            if lo == hi:
                continue
            best, best_w = label[v], -1.0
            for p in range(lo, hi):
                score[label[indices[p]]] += weights[p]
            for p in range(lo, hi):
                c = label[indices[p]]
                w = score[c]
                if w > best_w or (w == best_w and c < best):
                    best, best_w = c, w
            for p in range(lo, hi):
                score[label[indices[p]]] = 0.0
            if best != label[v]:
                label[v] = best
                changed += 1
        if changed == 0:
            break
    return label


def chinese_whispers(nbrs: np.ndarray, sims: np.ndarray, tau: float, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Chinese whispers on the kNN graph with edges of cosine ≥ ``tau`` (weight = cosine)."""
    g = symmetric_graph(nbrs, sims, tau)
    n = g.shape[0]
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(n) for _ in range(iterations)]) if n else np.zeros((iterations, 0), dtype=np.int64)
    label = _whispers(g.indptr.astype(np.int64), g.indices.astype(np.int64), g.data.astype(np.float64), orders, iterations)
    _, labels = np.unique(label, return_inverse=True)
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Approximate rank order


@numba.njit(cache=True)
def _missing(nbrs, a, upto, b):
    """How many of a's first ``upto`` list entries are absent from b's list."""
    k = nbrs.shape[1]
    count = 0
    for i in range(upto):
        x = nbrs[a, i]
        found = False
        for q in range(k):
            if nbrs[b, q] == x:
                found = True
                break
        if not found:
            count += 1
    return count


@numba.njit(parallel=True, cache=True)
def _rank_order_distances(nbrs):
    n, k = nbrs.shape
    out = np.empty((n, k))
    for a in numba.prange(n):
        for r in range(k):
            b = nbrs[a, r]
            if b < 0 or b == a:
                out[a, r] = np.inf
                continue
            # O_b(a): rank of a in b's list (k when absent); D(a, b) and D(b, a)
            o_ba = k
            for q in range(k):
                if nbrs[b, q] == a:
                    o_ba = q
                    break
            d_ab = _missing(nbrs, a, r + 1, b)
            d_ba = _missing(nbrs, b, min(o_ba + 1, k), a)
            out[a, r] = (d_ab + d_ba) / max(min(r, o_ba), 1)
    return out


def rank_order_distances(nbrs: np.ndarray) -> np.ndarray:
    """D_N(a, b) for every kNN entry (a, column r) → float64 (N, k); inf on the self column."""
    return _rank_order_distances(np.ascontiguousarray(nbrs, dtype=np.int64))


def approx_rank_order(nbrs: np.ndarray, sims: np.ndarray, threshold: float, distances: np.ndarray | None = None) -> np.ndarray:
    """Approximate rank-order clusters: link kNN pairs with D_N ≤ ``threshold``, connected components.

    ``distances`` (from :func:`rank_order_distances`) may be passed to reuse them across thresholds.
    """
    d = rank_order_distances(nbrs) if distances is None else distances
    return threshold_clusters(nbrs, -d, -threshold)


# ---------------------------------------------------------------------------------------------
# Community detection and k-means


def leiden(nbrs: np.ndarray, sims: np.ndarray, resolution: float, seed: int = 0, iterations: int = 2) -> np.ndarray:
    """Leiden (constant Potts model) on the cosine-weighted symmetric kNN graph (edges with cosine > 0)."""
    import igraph as ig
    import leidenalg

    g = sp.triu(symmetric_graph(nbrs, sims, np.nextafter(np.float32(0), np.float32(1))), k=1).tocoo()
    graph = ig.Graph(n=nbrs.shape[0], edges=np.column_stack([g.row, g.col]), directed=False)
    part = leidenalg.find_partition(graph, leidenalg.CPMVertexPartition, weights=g.data.astype(np.float64),
                                    resolution_parameter=float(resolution), n_iterations=iterations, seed=seed)
    return np.asarray(part.membership, dtype=np.int64)


def minibatch_kmeans(features: np.ndarray, n_clusters: int, batch_size: int = 1024, seed: int = 0) -> np.ndarray:
    """scikit-learn MiniBatchKMeans on the features → int64 cluster ids."""
    from sklearn.cluster import MiniBatchKMeans

    model = MiniBatchKMeans(n_clusters=n_clusters, batch_size=batch_size, random_state=seed, n_init=3)
    return model.fit_predict(np.asarray(features, dtype=np.float32)).astype(np.int64)
