"""The registry of non-learned clustering methods run under ``results/{ds}/{split}/methods/{method}/``.

Each method has one *tuned* parameter (a threshold-type value: a cosine, a distance, a rank-order
distance or a resolution) that is either grid-searched on the train split (``tune: train``,
maximising pairwise F — never on test labels) or taken from the config (``tune: fixed``), and
fixed settings from the dataset config (``k``, ``max_size``, ``min_samples``, ...).
``minibatch_kmeans`` has no tuned parameter; its ``n_clusters`` is the true number of identities
of the split unless the config gives one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import classic_baselines as cb
from .cdp import cdp_clusters
from .threshold import search_grid, threshold_clusters


@dataclass(frozen=True)
class MethodSpec:
    """How to run one method: ``run(nbrs, sims, value, settings) -> labels`` on the first k columns."""

    name: str
    param: str | None  # the tuned parameter's name in the config (None: nothing to tune)
    run: Callable[..., np.ndarray]
    description: str
    prepare: Callable[[np.ndarray], dict] | None = None  # per-graph precomputation shared by all grid values


METHODS: dict[str, MethodSpec] = {
    "knn_cc": MethodSpec("knn_cc", "tau", lambda n, s, v, c, **_: threshold_clusters(n, s, v),
                         "kNN graph cut at cosine tau, connected components"),
    "cdp": MethodSpec("cdp", "threshold",
                      lambda n, s, v, c, **_: cdp_clusters(n, s, v, c["max_size"], c["step"]),
                      "CDP single-model vote: pairs above threshold, size-constrained propagation"),
    "knn_dbscan": MethodSpec("knn_dbscan", "eps", lambda n, s, v, c, **_: cb.knn_dbscan(n, s, v, c["min_samples"]),
                             "DBSCAN on the kNN graph, distance 1 - cos"),
    "fast_hac": MethodSpec("fast_hac", "distance", lambda n, s, v, c, **_: cb.fast_hac(n, s, v),
                           "single linkage on the kNN graph's minimum spanning forest, cut at a distance"),
    "chinese_whispers": MethodSpec("chinese_whispers", "tau",
                                   lambda n, s, v, c, **_: cb.chinese_whispers(n, s, v, c["iterations"], c["seed"]),
                                   "label propagation on kNN edges with cosine >= tau"),
    "approx_rank_order": MethodSpec("approx_rank_order", "threshold",
                                    lambda n, s, v, c, distances=None, **_: cb.approx_rank_order(n, s, v, distances),
                                    "approximate rank-order distance between kNN pairs, linked at <= threshold",
                                    prepare=lambda n: {"distances": cb.rank_order_distances(n)}),
    "leiden": MethodSpec("leiden", "resolution", lambda n, s, v, c, **_: cb.leiden(n, s, v, c["seed"]),
                         "Leiden, constant Potts model on the cosine-weighted kNN graph"),
    "minibatch_kmeans": MethodSpec("minibatch_kmeans", None, None,  # type: ignore[arg-type]
                                   "MiniBatchKMeans on the features, true number of clusters (upper bound)"),
}
GRAPH_METHODS = [m for m, spec in METHODS.items() if spec.param is not None]


def run_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, value: float, settings: dict, **prepared) -> np.ndarray:
    """Cluster with a graph method on the first ``settings['k']`` kNN columns at parameter ``value``."""
    spec = METHODS[name]
    k = settings["k"]
    return spec.run(nbrs[:, :k], sims[:, :k], value, settings, **prepared)


def tune_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, settings: dict,
                      grid: np.ndarray) -> tuple[float, list[tuple[float, float]], list[tuple[float, float, float]]]:
    """:func:`search_grid` of a graph method's parameter on a labelled split."""
    spec = METHODS[name]
    k = settings["k"]
    prepared = spec.prepare(nbrs[:, :k]) if spec.prepare else {}
    return search_grid(lambda v: run_graph_method(name, nbrs, sims, v, settings, **prepared), labels, grid,
                       f"{name}: {spec.param}")
