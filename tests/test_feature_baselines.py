"""The feature baselines (learn-to-cluster's sklearn_cluster.py, CDP's baseline_clustering.py): each
equal to the release's scikit-learn call, and the time budget that refuses or stops them."""

from __future__ import annotations

import time

import numpy as np
import pytest

from facecluster.methods import feature_baselines as fb
from facecluster.methods.budget import BudgetError, run_with_budget


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((12, 16))
    y = rng.integers(0, 12, 240)
    x = centres[y] + 0.3 * rng.standard_normal((240, 16))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_each_baseline_is_the_release_call(blobs):
    from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans, SpectralClustering
    from sklearn.neighbors import kneighbors_graph

    x, _ = blobs
    np.testing.assert_array_equal(fb.kmeans_labels(x, 12), KMeans(n_clusters=12, random_state=0, n_init=10).fit(x.astype(np.float64)).labels_)
    np.testing.assert_array_equal(fb.spectral_labels(x, 12), SpectralClustering(
        n_clusters=12, assign_labels="discretize", affinity="nearest_neighbors", random_state=0).fit(x).labels_)
    conn = kneighbors_graph(x, 30, include_self=False)
    np.testing.assert_array_equal(fb.ward_labels(x, 12), AgglomerativeClustering(
        n_clusters=12, connectivity=conn, linkage="ward").fit(x).labels_)
    np.testing.assert_array_equal(fb.dbscan_labels(x, 0.5, 5), fb.noise_to_singletons(DBSCAN(eps=0.5, min_samples=5).fit(x).labels_))
    np.testing.assert_array_equal(fb.hdbscan_labels(x, 10), fb.noise_to_singletons(HDBSCAN(min_cluster_size=10, copy=True).fit(x).labels_))
    labels = fb.meanshift_labels(x)
    assert labels.shape == (240,) and labels.min() >= 0


def test_noise_becomes_singletons():
    np.testing.assert_array_equal(fb.noise_to_singletons(np.array([0, -1, 1, -1, 0])), [0, 2, 1, 3, 0])


def test_the_baselines_find_the_blobs(blobs):
    from facecluster.evaluation.metrics import pairwise_scores

    x, y = blobs
    for name, settings in (("kmeans", {"n_clusters": 12, "seed": 0, "n_init": 10}),
                           ("hac_ward", {"n_clusters": 12, "knn": 30}),
                           ("hdbscan", {"min_cluster_size": 5})):
        labels = fb.feature_baseline(name, x, {**settings, "max_seconds": 120})
        assert pairwise_scores(y, labels)["fscore"] > 0.8, name


def quadratic_sleep(x: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    time.sleep(2e-6 * x.shape[0] ** 2)
    return np.zeros(x.shape[0], dtype=np.int64)


def slow_when_whole(x: np.ndarray) -> np.ndarray:
    time.sleep(30 if x.shape[0] > 1000 else 0.01)
    return np.zeros(x.shape[0], dtype=np.int64)


def test_budget_refuses_before_running_and_names_the_setting():
    x = np.zeros((4000, 2), dtype=np.float32)  # estimate: 2 s at 1,000 rows x 16 = 32 s
    t0 = time.perf_counter()
    with pytest.raises(BudgetError, match=r"quadratic on 4000 x 2 features: estimated at \d+ s .* above methods.x.max_seconds = 5"):
        run_with_budget("quadratic", quadratic_sleep, x, {}, 5, "methods.x.max_seconds")
    assert time.perf_counter() - t0 < 10  # the two samples only


def test_budget_stops_a_run_past_its_limit():
    x = np.zeros((3000, 2), dtype=np.float32)
    t0 = time.perf_counter()
    with pytest.raises(BudgetError, match=r"stopped after \d+ s .* above methods.y.max_seconds = 3"):
        run_with_budget("slow", slow_when_whole, x, {}, 3, "methods.y.max_seconds")
    assert time.perf_counter() - t0 < 15
