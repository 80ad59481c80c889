"""Ada-NETS diagnostics: what each stage did to neighbourhood quality (labelled splits only)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from facecluster.graph.ops import build_adjacency
from facecluster.ada_nets.adjacency import edge_precision_recall
from facecluster.ada_nets.structure_space import knn_precision_at


def loss_optimal_constant(k_star: np.ndarray, k: int) -> int:
    """The constant prediction in 1..k with the lowest mean relative-error Huber loss against ``k_star``."""
    c = np.arange(1, k + 1, dtype=np.float64)[:, None]
    counts = np.bincount(k_star, minlength=k + 1)[1:].astype(np.float64)
    t = np.arange(1, k + 1, dtype=np.float64)[None, :]
    r = np.abs(c / t - 1.0)
    loss = np.where(r <= 1.0, 0.5 * r * r, r - 0.5) @ counts
    return int(np.argmin(loss) + 1)


def best_constant(k_star: np.ndarray, k: int) -> int:
    """The constant in 1..k with the lowest mean |c − k*| over ``k_star`` (the lower median, clipped)."""
    k_star = np.asarray(k_star)
    return int(np.clip(np.sort(k_star)[(len(k_star) - 1) // 2], 1, k))


def ada_nets_diagnostics(
    knn_nbrs: np.ndarray,
    knn_sims: np.ndarray,
    struct_nbrs: np.ndarray,
    labels: np.ndarray,
    k_pred: np.ndarray,
    k_star: np.ndarray,
    adjacency: sp.csr_matrix,
    plain_k: int = 80,
    train_k_star: np.ndarray | None = None,
) -> dict:
    """kNN precision@k before/after the structure space, filter error, and edge precision/recall.

    * ``knn_precision``: mean fraction of the first k neighbours (self excluded) that share the
      node's identity, for the cosine kNN and for the structure-space order, at several k;
    * ``filter``: mean |k̂ − k*| and the means of both; the reference the filter must beat, a
      constant k̂ = ``best_constant`` chosen on the *train* split (``train_k_star``: the train
      split's max-Q indices; the median, which minimises the train MAE) with its MAE on this split
      ``best_constant_mae`` and ``mae_ratio`` = mean_abs_error / best_constant_mae (< 1: the filter
      beats it; the acceptance target is ≤ 0.8). Without ``train_k_star`` the constant is this
      split's own median (``best_constant_source: "this split"``, an oracle: information only);
      ``oracle_constant_mae`` is always that oracle's MAE;
    * ``edges``: precision/recall of the adaptive adjacency and of the plain top-``plain_k`` kNN graph.
    """
    k = struct_nbrs.shape[1]
    ks = sorted({x for x in (5, 10, 20, 40, k // 2, k) if 1 <= x <= k})
    source = "train" if train_k_star is not None else "this split"
    const = best_constant(train_k_star if train_k_star is not None else k_star, k)
    const_mae = float(np.abs(const - k_star).mean())
    mae = float(np.abs(k_pred - k_star).mean())
    plain = build_adjacency(knn_nbrs[:, :plain_k], knn_sims[:, :plain_k], plain_k)
    return {
        "knn_precision": {
            "knn": {str(x): v for x, v in knn_precision_at(knn_nbrs[:, :k], labels, ks).items()},
            "structure": {str(x): v for x, v in knn_precision_at(struct_nbrs, labels, ks).items()},
        },
        "filter": {
            "mean_abs_error": mae,
            "k_pred_mean": float(k_pred.mean()),
            "k_star_mean": float(k_star.mean()),
            # references: the error of always predicting the median k*, and the constant k̂ that
            # minimises the filter's own loss (relative-error Huber) on this split
            "median_constant_mae": float(np.abs(np.median(k_star) - k_star).mean()),
            "loss_optimal_constant": loss_optimal_constant(k_star, k),
            "best_constant": const,
            "best_constant_source": source,
            "best_constant_mae": const_mae,
            "mae_ratio": mae / const_mae if const_mae > 0 else (0.0 if mae == 0 else float("inf")),
            "oracle_constant_mae": float(np.abs(best_constant(k_star, k) - k_star).mean()),
        },
        "edges": {"adaptive": edge_precision_recall(adjacency, labels), f"knn_top{plain_k}": edge_precision_recall(plain, labels)},
    }
