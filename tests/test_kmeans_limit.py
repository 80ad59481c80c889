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
