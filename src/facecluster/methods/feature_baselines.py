"""The seed papers' baselines that cluster all features with scikit-learn, each the releases' call.

From learn-to-cluster ``baseline/sklearn_cluster.py`` and CDP ``tools/baseline_clustering.py``
(both on L2-normalised features; CDP casts them to float64):

* :func:`kmeans_labels` — ``KMeans(n_clusters, random_state=0)`` (k-means++, ``n_init`` 10: the
  scikit-learn default of the releases' time);
* :func:`spectral_labels` — ``SpectralClustering(n_clusters, assign_labels="discretize",
  affinity="nearest_neighbors", random_state=0)`` (10 neighbours, ARPACK);
* :func:`ward_labels` — ``AgglomerativeClustering(n_clusters, connectivity=kneighbors_graph(x, knn,
  include_self=False), linkage="ward")`` (knn 30 in CDP's table);
* :func:`dbscan_labels` — ``DBSCAN(eps, min_samples)`` on the features (Euclidean; eps 0.75 ⇔
  cos ≥ 0.72, min_samples 10 in CDP's table);
* :func:`hdbscan_labels` — HDBSCAN with ``min_cluster_size`` = the releases' ``min_samples`` (10);
  the releases call the ``hdbscan`` package, here scikit-learn's port of the same algorithm
  (``sklearn.cluster.HDBSCAN``, no extra dependency);
* :func:`meanshift_labels` — ``MeanShift(bandwidth)`` (``estimate_bandwidth(x, quantile)`` when none is given):
  learn-to-cluster's DeepFashion table lists MeanShift (31.61 pairwise F) but its release holds no
  MeanShift call; this is scikit-learn's documented use, seeded from every point (``bin_seeding``
  off, scikit-learn's default): with bins of a useful bandwidth in 64-d or more no bin centre has a
  point within the bandwidth and scikit-learn stops with "No point was within bandwidth" (measured
  on 40 blobs in 64-d: quantiles 0.005-0.02 fail with bin seeding, and reach F 0.89-1.0 without;
  quantiles 0.05-0.3 give one cluster either way).

DBSCAN's ``eps``, HDBSCAN's ``min_cluster_size`` and MeanShift's ``bandwidth`` are chosen on the
validation part (:func:`choose_feature_baseline`, rule ``tune_method``) unless a dataset sets
``tune: fixed`` (then the releases' values): the releases' MS1M settings do not suit sets whose
identities have a handful of members, and scikit-learn's estimated bandwidth (quantile 0.3) puts
face-like embeddings into one cluster. KMeans, spectral and Ward need the number of clusters: given the true number of identities they
are upper-bound variants, as ``minibatch_kmeans``. Noise points of the density methods (label −1)
become singletons (CDP's evaluation, "singular kept"). Several of these are quadratic or worse in
N: :func:`facecluster.methods.budget.run_with_budget` estimates each call from two samples,
refuses it when the estimate is above ``max_seconds``, and stops it when it runs past.
"""

from __future__ import annotations

import numpy as np

from facecluster.graph.ops import noise_to_singletons
from facecluster.methods.budget import run_with_budget


def kmeans_labels(x: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, random_state=seed, n_init=n_init).fit(np.asarray(x, dtype=np.float64)).labels_


def spectral_labels(x: np.ndarray, n_clusters: int, seed: int = 0, n_neighbors: int = 10) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(n_clusters=n_clusters, assign_labels="discretize", affinity="nearest_neighbors",
                              n_neighbors=n_neighbors, random_state=seed).fit(x).labels_


def ward_labels(x: np.ndarray, n_clusters: int, knn: int = 30) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(x, min(knn, x.shape[0] - 1), include_self=False)
    return AgglomerativeClustering(n_clusters=n_clusters, connectivity=graph, linkage="ward").fit(x).labels_


def dbscan_labels(x: np.ndarray, eps: float = 0.75, min_samples: int = 10) -> np.ndarray:
    from sklearn.cluster import DBSCAN

    return noise_to_singletons(DBSCAN(eps=eps, min_samples=min_samples).fit(x).labels_)


def hdbscan_labels(x: np.ndarray, min_cluster_size: int = 10) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    return noise_to_singletons(HDBSCAN(min_cluster_size=int(round(min_cluster_size)), copy=True).fit(x).labels_)


def meanshift_labels(x: np.ndarray, bandwidth: float | None = None, quantile: float = 0.3, seed: int = 0,
                     bin_seeding: bool = False) -> np.ndarray:
    """MeanShift at ``bandwidth`` (Euclidean, between unit features), or — ``None`` — at scikit-learn's
    ``estimate_bandwidth(x, quantile)`` (mean distance to the ``quantile`` share of a 2,000-row sample:
    it depends on N, so the pipeline chooses the bandwidth itself on validation)."""
    from sklearn.cluster import MeanShift, estimate_bandwidth

    if bandwidth is None:
        bandwidth = estimate_bandwidth(x, quantile=quantile, n_samples=min(x.shape[0], 2000), random_state=seed)
    return MeanShift(bandwidth=float(bandwidth), bin_seeding=bin_seeding).fit(x).labels_


#: method name -> (labels function, the settings it takes from the method's config)
FEATURE_BASELINES = {
    "kmeans": (kmeans_labels, ("n_clusters", "seed", "n_init")),
    "spectral": (spectral_labels, ("n_clusters", "seed", "n_neighbors")),
    "hac_ward": (ward_labels, ("n_clusters", "knn")),
    "dbscan": (dbscan_labels, ("eps", "min_samples")),
    "hdbscan": (hdbscan_labels, ("min_cluster_size",)),
    "meanshift": (meanshift_labels, ("bandwidth", "quantile", "seed", "bin_seeding")),
}


def choose_feature_baseline(name: str, features: np.ndarray, labels: np.ndarray, settings: dict, grid: np.ndarray,
                            candidates: list[dict] | None = None, rows: np.ndarray | None = None) -> dict:
    """The tuned record (:func:`~facecluster.evaluation.search.choose`) of a density baseline on a
    labelled split: its registry parameter (dbscan ``eps``, hdbscan ``min_cluster_size``, meanshift
    ``bandwidth``) searched over ``grid`` for each candidate setting, scored on ``rows`` when given
    (the validation part's identities). Each run is under the method's ``max_seconds``."""
    from facecluster.evaluation.search import choose, search_grid
    from facecluster.registry import METHODS

    param = METHODS[name].param
    return choose(lambda cand: search_grid(lambda v: feature_baseline(name, features, {**settings, **cand, param: v}),
                                           labels, grid, f"{name}: {param}", rows), candidates or [], name)


def feature_baseline(name: str, features: np.ndarray, settings: dict) -> np.ndarray:
    """Run baseline ``name`` on the (L2-normalised) features with ``settings`` (``n_clusters`` resolved)
    under its ``max_seconds`` budget → int64 labels."""
    fn, keys = FEATURE_BASELINES[name]
    kwargs = {key: settings[key] for key in keys}
    return run_with_budget(name, fn, np.ascontiguousarray(features, dtype=np.float32), kwargs,
                           settings.get("max_seconds"), f"methods.{name}.max_seconds")
