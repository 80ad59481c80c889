"""Threshold linkage on a kNN graph (the ``knn_cc`` baseline) and threshold tuning.

``knn_cc``: link ``i``–``j`` when ``j`` is among the K nearest neighbours of ``i`` and
``cos(i, j) >= tau``; the clusters are the connected components of that undirected graph.
The same routine clusters Ada-NETS embeddings (DESIGN.md stage 7).

τ is never chosen on test labels: :func:`tune_threshold` searches a grid on a labelled
(train) split, maximising pairwise F, and the chosen value is then applied elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .collapse import check_curve_not_flat
from .metrics import pairwise_scores
from .progress import Progress


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


def threshold_grid(start: float, stop: float, step: float) -> np.ndarray:
    """Inclusive grid ``start, start+step, ..., stop`` rounded to avoid float drift."""
    count = int(round((stop - start) / step)) + 1
    return np.round(start + step * np.arange(count), 6)


def grid_from_config(segments: list[dict]) -> np.ndarray:
    """The sorted union of ``{start, stop, step}`` segments (e.g. a coarse grid plus a fine one
    near 1 for embeddings whose best threshold is above 0.99)."""
    return np.unique(np.concatenate([threshold_grid(**seg) for seg in segments]))


def search_grid(cluster: Callable[[float], np.ndarray], labels: np.ndarray, grid: np.ndarray, name: str
                ) -> tuple[float, list[tuple[float, float]], list[tuple[float, float, float]]]:
    """The grid value whose clustering ``cluster(value)`` has the highest pairwise F against
    ``labels`` (ties: the smallest value) — the one parameter search of the project. A flat
    curve (no value better than another) raises :class:`~facecluster.collapse.CollapseError`.

    Returns ``(best, [(value, F), ...], [(value, precision, recall), ...])``.
    """
    grid = np.sort(np.asarray(grid, dtype=np.float64))
    if grid.size == 0:
        raise ValueError("empty parameter grid")
    curve, curve_pr = [], []
    progress = Progress(f"{name} search", grid.size)
    for t, value in enumerate(grid):
        scores = pairwise_scores(labels, cluster(float(value)))
        curve.append((float(value), float(scores["fscore"])))
        curve_pr.append((float(value), float(scores["precision"]), float(scores["recall"])))
        progress.update(t + 1, f"{name}={value:.4f} F={scores['fscore']:.4f}")
    check_curve_not_flat(curve, f"{name} search")
    best = max(curve, key=lambda c: (c[1], -c[0]))
    return best[0], curve, curve_pr


def tune_threshold(
    nbrs: np.ndarray, sims: np.ndarray, labels_true: np.ndarray, grid: np.ndarray
) -> tuple[float, list[tuple[float, float]]]:
    """Pick the τ of ``grid`` that maximises pairwise F of :func:`threshold_clusters`.

    Returns ``(best_tau, [(tau, pairwise_f), ...])``; ties go to the smallest τ.
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.size == 0:
        raise ValueError("empty threshold grid")
    # Edges below the smallest threshold never matter: filter once.
    src, dst, edge_sims = edges_at_least(nbrs, sims, float(grid.min()))
    n = nbrs.shape[0]
    best, curve, _ = search_grid(lambda tau: components(n, src[edge_sims >= tau], dst[edge_sims >= tau]), labels_true,
                                 grid, "tau")
    return best, curve
