"""Ada-NETS diagnostics: what each stage did to neighbourhood quality (labelled splits only)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .adjacency import build_adjacency, edge_precision_recall
from .structure_space import knn_precision_at


def loss_optimal_constant(k_star: np.ndarray, k: int) -> int:
    """The constant prediction in 1..k with the lowest mean relative-error Huber loss against ``k_star``."""
    c = np.arange(1, k + 1, dtype=np.float64)[:, None]
    counts = np.bincount(k_star, minlength=k + 1)[1:].astype(np.float64)
    t = np.arange(1, k + 1, dtype=np.float64)[None, :]
    r = np.abs(c / t - 1.0)
    loss = np.where(r <= 1.0, 0.5 * r * r, r - 0.5) @ counts
    return int(np.argmin(loss) + 1)


def ada_nets_diagnostics(
    knn_nbrs: np.ndarray,
    knn_sims: np.ndarray,
    struct_nbrs: np.ndarray,
    labels: np.ndarray,
    k_pred: np.ndarray,
    k_star: np.ndarray,
    adjacency: sp.csr_matrix,
    plain_k: int = 80,
) -> dict:
    """kNN precision@k before/after the structure space, filter error, and edge precision/recall.

    * ``knn_precision``: mean fraction of the first k neighbours (self excluded) that share the
      node's identity, for the cosine kNN and for the structure-space order, at several k;
    * ``filter``: mean |k̂ − k*| and the means of both;
    * ``edges``: precision/recall of the adaptive adjacency and of the plain top-``plain_k`` kNN graph.
    """
    k = struct_nbrs.shape[1]
    ks = sorted({x for x in (5, 10, 20, 40, k // 2, k) if 1 <= x <= k})
    plain = build_adjacency(knn_nbrs[:, :plain_k], knn_sims[:, :plain_k], plain_k)
    return {
        "knn_precision": {
            "knn": {str(x): v for x, v in knn_precision_at(knn_nbrs[:, :k], labels, ks).items()},
            "structure": {str(x): v for x, v in knn_precision_at(struct_nbrs, labels, ks).items()},
        },
        "filter": {
            "mean_abs_error": float(np.abs(k_pred - k_star).mean()),
            "k_pred_mean": float(k_pred.mean()),
            "k_star_mean": float(k_star.mean()),
            # references: the error of always predicting the median k*, and the constant k̂ that
            # minimises the filter's own loss (relative-error Huber) on this split
            "median_constant_mae": float(np.abs(np.median(k_star) - k_star).mean()),
            "loss_optimal_constant": loss_optimal_constant(k_star, k),
        },
        "edges": {"adaptive": edge_precision_recall(adjacency, labels), f"knn_top{plain_k}": edge_precision_recall(plain, labels)},
    }
