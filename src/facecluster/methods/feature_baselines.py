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
* :func:`meanshift_labels` — ``MeanShift(bandwidth=estimate_bandwidth(x, quantile), bin_seeding=True)``:
  learn-to-cluster's DeepFashion table lists MeanShift (31.61 pairwise F) but its release holds no
  MeanShift call; this is scikit-learn's documented use.

KMeans, spectral and Ward need the number of clusters: given the true number of identities they
are upper-bound variants, as ``minibatch_kmeans``. Noise points of the density methods (label −1)
become singletons (CDP's evaluation, "singular kept"). Several of these are quadratic or worse in
N: :func:`facecluster.methods.budget.run_with_budget` estimates each call from two samples,
refuses it when the estimate is above ``max_seconds``, and stops it when it runs past.
"""

from __future__ import annotations

import numpy as np

from facecluster.methods.budget import run_with_budget


def noise_to_singletons(labels: np.ndarray) -> np.ndarray:
    """Labels with every −1 (noise) replaced by a new cluster of its own (int64)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(int(noise.sum()))
    return labels


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

    return noise_to_singletons(HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit(x).labels_)


def meanshift_labels(x: np.ndarray, quantile: float = 0.3, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import MeanShift, estimate_bandwidth

    bandwidth = estimate_bandwidth(x, quantile=quantile, n_samples=min(x.shape[0], 2000), random_state=seed)
    return MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(x).labels_


#: method name -> (labels function, the settings it takes from the method's config)
FEATURE_BASELINES = {
    "kmeans": (kmeans_labels, ("n_clusters", "seed", "n_init")),
    "spectral": (spectral_labels, ("n_clusters", "seed", "n_neighbors")),
    "hac_ward": (ward_labels, ("n_clusters", "knn")),
    "dbscan": (dbscan_labels, ("eps", "min_samples")),
    "hdbscan": (hdbscan_labels, ("min_cluster_size",)),
    "meanshift": (meanshift_labels, ("quantile", "seed")),
}


def feature_baseline(name: str, features: np.ndarray, settings: dict) -> np.ndarray:
    """Run baseline ``name`` on the (L2-normalised) features with ``settings`` (``n_clusters`` resolved)
    under its ``max_seconds`` budget → int64 labels."""
    fn, keys = FEATURE_BASELINES[name]
    kwargs = {key: settings[key] for key in keys}
    return run_with_budget(name, fn, np.ascontiguousarray(features, dtype=np.float32), kwargs,
                           settings.get("max_seconds"), f"methods.{name}.max_seconds")
