"""minibatch_kmeans: the release's call, progress in the log, and a time limit that stops it (issue 15)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from facecluster.methods import classic
from facecluster.methods.classic import KMeansLimitError, kmeans_cost, minibatch_kmeans
from facecluster.progress import logger


def _blobs(n=600, k=12, d=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = 3 * rng.standard_normal((k, d))[y] + rng.standard_normal((n, d))
    return x.astype(np.float32), y


def test_same_labels_as_the_releases_minibatchkmeans_call():
    from sklearn.cluster import MiniBatchKMeans

    x, _ = _blobs()
    release = MiniBatchKMeans(n_clusters=12, batch_size=100, random_state=3, n_init=3).fit(x).labels_
    np.testing.assert_array_equal(minibatch_kmeans(x, 12, batch_size=100, seed=3, n_init=3), release)


def test_progress_lines_for_each_initialisation_and_the_steps(caplog):
    x, _ = _blobs()
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="facecluster"):
            minibatch_kmeans(x, 12, batch_size=100, n_init=2)
    finally:
        logger.propagate = False
    text = caplog.text
    assert "cost model" in text and "k-means++ initialisation 1/2" in text and "k-means++ initialisation 2/2" in text
    assert "minibatch_kmeans steps: 1/" in text and "steps in" in text


def test_refused_at_once_when_the_initialisation_alone_is_over_the_limit():
    x, _ = _blobs()
    start = time.perf_counter()
    with pytest.raises(KMeansLimitError, match=r"initialisation alone is estimated at .* above methods\.minibatch_kmeans\.max_seconds = 1e-06"):
        minibatch_kmeans(x, 12, batch_size=100, max_seconds=1e-6)
    assert time.perf_counter() - start < 10


def test_stopped_with_its_message_once_the_limit_has_passed(monkeypatch):
    x, _ = _blobs(n=3000)
    monkeypatch.setattr(classic, "kmeanspp_seconds_per_centre", lambda *a, **k: 0.0)  # pass the up-front check
    with pytest.raises(KMeansLimitError, match=r"stopped after \d+ s at step 1 of at most \d+, above methods\.minibatch_kmeans\.max_seconds"):
        minibatch_kmeans(x, 12, batch_size=100, max_seconds=1e-6)


def test_cost_model_grows_with_n_and_with_k_squared_through_the_initialisation():
    small, big = kmeans_cost(100_000, 256, 2_000), kmeans_cost(100_000, 256, 4_000)
    assert big["init_size"] == 2 * small["init_size"]  # 3·K samples once K > batch
    assert big["init_centre_steps"] * big["init_size"] == 4 * small["init_centre_steps"] * small["init_size"]
    assert abs(kmeans_cost(200_000, 256, 2_000)["max_steps"] - 2 * small["max_steps"]) <= 1


# --- fast_hac: the other method whose cost explodes (exact single linkage, about N^2.9 here) ----

def _unit(n, d=8, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_fast_hac_linkage_in_a_child_process_equals_the_in_process_one():
    x = _unit(5000)
    np.testing.assert_array_equal(classic.single_linkage(x, max_seconds=600), classic.single_linkage(x))


def test_fast_hac_refused_at_once_or_falls_back_when_its_estimate_is_over_the_limit(monkeypatch):
    monkeypatch.setattr(classic, "DENSE_LINKAGE_MAX", 0)  # fastcluster's path (the dense one takes seconds)
    x = _unit(6000)
    nbrs = np.argsort(-(x @ x.T), axis=1)[:, :10]
    sims = np.take_along_axis(x @ x.T, nbrs, 1)
    with pytest.raises(classic.FastHacLimitError, match=r"estimated at \d+ s, above methods\.fast_hac\.max_seconds = 1e-06"):
        classic.fast_hac(x, 0.6, nbrs, sims, max_seconds=1e-6)
    assert classic.fast_hac_linkage(x, fallback="knn", max_seconds=1e-6) == "knn"
    from facecluster.graph.ops import threshold_clusters

    labels = classic.fast_hac(x, 0.6, nbrs, sims, fallback="knn", max_seconds=1e-6)
    assert len(np.unique(labels)) == len(np.unique(threshold_clusters(nbrs, sims, 1 - 0.36 / 2 - 1e-6)))


def test_fast_hac_stopped_with_its_message_and_progress_lines(monkeypatch, caplog):
    monkeypatch.setattr(classic, "FAST_HAC_EXPONENT", 0.0)  # an estimate far below the limit
    x = _unit(40_000, d=32)
    logger.propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="facecluster"):
            with pytest.raises(classic.FastHacLimitError, match=r"stopped after \d+ s .*max_seconds = 0\.5"):
                classic.single_linkage(x, max_seconds=0.5, heartbeat=0.1)
    finally:
        logger.propagate = False
    assert "estimated" in caplog.text and "running," in caplog.text
