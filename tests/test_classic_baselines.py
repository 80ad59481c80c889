"""CDP and the classic baselines on small hand-made graphs whose correct clustering is known."""

from __future__ import annotations

import numpy as np
import pytest

from facecluster.methods.cdp import cdp_clusters
from facecluster.graph.ops import propagate
from facecluster.methods.classic import approx_rank_order, chinese_whispers, fast_hac, knn_dbscan, leiden, minibatch_kmeans, rank_order_distances
from facecluster.methods.graph_methods import run_graph_method, tune_graph_method
from facecluster.registry import GRAPH_METHODS, METHODS
from facecluster.graph.ops import threshold_clusters


def knn_of(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """kNN lists (self first, then by decreasing similarity, ties by index) of a dense similarity matrix."""
    s = sim.astype(np.float32).copy()
    np.fill_diagonal(s, 2.0)
    order = np.lexsort((np.broadcast_to(np.arange(len(s)), s.shape), -s), axis=1)[:, :k]
    sims = np.take_along_axis(s, order, axis=1)
    sims[:, 0] = 1.0
    return order.astype(np.int32), sims


def same_partition(a: np.ndarray, b) -> bool:
    """Whether two labelings define the same partition (ids may differ)."""
    a, b = np.asarray(a), np.asarray(b)
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def blocks(sizes: list[int], inside: float, outside: float) -> np.ndarray:
    n = sum(sizes)
    lab = np.repeat(np.arange(len(sizes)), sizes)
    return np.where(lab[:, None] == lab[None, :], inside, outside).astype(np.float32), lab


# ---------------------------------------------------------------------------------------------
# CDP


def test_cdp_two_groups():
    sim, truth = blocks([3, 4], 0.9, 0.2)
    nbrs, sims = knn_of(sim, 7)
    assert same_partition(cdp_clusters(nbrs, sims, threshold=0.5, max_size=600), truth)
    # pairs need cosine strictly above the threshold
    assert len(np.unique(cdp_clusters(nbrs, sims, threshold=0.9, max_size=600))) == 7


def test_cdp_oversized_component_is_re_split():
    # {0,1,2} and {3,4,5} are tight (0.8) and bridged by 2-3 (0.6); {6,7} is a separate pair (0.7).
    sim = np.full((8, 8), 0.1, dtype=np.float32)
    for group in ([0, 1, 2], [3, 4, 5]):
        sim[np.ix_(group, group)] = 0.8
    sim[2, 3] = sim[3, 2] = 0.6
    sim[6, 7] = sim[7, 6] = 0.7
    nbrs, sims = knn_of(sim, 8)
    whole = cdp_clusters(nbrs, sims, threshold=0.5, max_size=600)
    assert same_partition(whole, [0, 0, 0, 0, 0, 0, 1, 2 - 1])  # no size limit: the bridge merges
    split = cdp_clusters(nbrs, sims, threshold=0.5, max_size=3, step=0.5)
    # the 6-node component exceeds 3, th rises from 0.6 (lowest pair) to 0.8 and drops the bridge
    assert same_partition(split, [0, 0, 0, 1, 1, 1, 2, 2])


def test_propagate_raises_threshold_until_components_fit():
    # a 5-clique of equal scores: one round lifts th above them and every node is left alone
    src, dst = np.triu_indices(5, 1)
    labels, rounds = propagate(5, src, dst, np.full(src.size, 0.99), max_size=2, step=0.5)
    assert rounds == 1 and len(np.unique(labels)) == 5
    # score 1 (duplicates) survives every th < 1: after max_iter rounds the component is accepted
    labels, rounds = propagate(5, src, dst, np.ones(src.size), max_size=2, step=0.5, max_iter=3)
    assert rounds == 3 and len(np.unique(labels)) == 1
    # scores 0.9 inside {0,1}, 0.95 inside {2,3}, chain 1-2 at 0.7: max_size 2 gives the two pairs
    labels, rounds = propagate(4, np.array([0, 2, 1]), np.array([1, 3, 2]), np.array([0.9, 0.95, 0.7]), 2, 0.5)
    assert same_partition(labels, [0, 0, 1, 1]) and rounds == 1


# ---------------------------------------------------------------------------------------------
# DBSCAN, single linkage


def test_knn_dbscan_core_border_noise():
    # star: centre 0 with leaves 1, 2, 3 (cos 0.9); leaves see each other at 0.1; node 4 isolated;
    # node 5 is a second core (with leaves 6, 7) linked to leaf 3 at 0.85 (further than 0 at 0.9)
    sim = np.full((8, 8), 0.1, dtype=np.float32)
    for leaf in (1, 2, 3):
        sim[0, leaf] = sim[leaf, 0] = 0.9
    for leaf in (6, 7):
        sim[5, leaf] = sim[leaf, 5] = 0.9
    sim[3, 5] = sim[5, 3] = 0.85
    nbrs, sims = knn_of(sim, 8)
    labels = knn_dbscan(nbrs, sims, eps=0.2, min_samples=4)
    # cores: 0 and 5 (4 points within eps, themselves included), not within eps of each other;
    # 3 has only 3 and is a border point of both: it joins its nearest core (0); 4 is noise
    assert same_partition(labels, [0, 0, 0, 0, 1, 2, 2, 2])
    # min_samples = 1: every point is a core point, DBSCAN is connected components (3 links 0 and 5)
    assert same_partition(knn_dbscan(nbrs, sims, eps=0.2, min_samples=1), [0, 0, 0, 0, 1, 0, 0, 0])


def test_fast_hac_is_single_linkage_on_the_knn_graph():
    # chain 0-1-2 at distances 0.1 and 0.3; 3-4 at 0.05
    sim = np.full((5, 5), 0.0, dtype=np.float32)
    for (a, b), d in {(0, 1): 0.1, (1, 2): 0.3, (3, 4): 0.05}.items():
        sim[a, b] = sim[b, a] = 1 - d
    nbrs, sims = knn_of(sim, 5)
    assert same_partition(fast_hac(nbrs, sims, 0.2), [0, 0, 1, 2, 2])
    assert same_partition(fast_hac(nbrs, sims, 0.3), [0, 0, 0, 1, 1])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    nbrs, sims = knn_of(x @ x.T, 10)
    for cut in (0.2, 0.4, 0.6):
        assert same_partition(fast_hac(nbrs, sims, cut), threshold_clusters(nbrs, sims, 1 - cut))


# ---------------------------------------------------------------------------------------------
# Chinese whispers, rank order, Leiden, k-means


def test_chinese_whispers_two_cliques_with_a_weak_link():
    sim, truth = blocks([5, 6], 0.9, 0.0)
    sim[4, 5] = sim[5, 4] = 0.5
    nbrs, sims = knn_of(sim, 11)
    for seed in range(3):
        assert same_partition(chinese_whispers(nbrs, sims, tau=0.3, seed=seed), truth)
    # tau above every similarity: every node alone
    assert len(np.unique(chinese_whispers(nbrs, sims, tau=0.95))) == 11


def _rank_order_reference(nbrs: np.ndarray) -> np.ndarray:
    n, k = nbrs.shape
    out = np.full((n, k), np.inf)
    lists = [list(map(int, row)) for row in nbrs]
    for a in range(n):
        for r, b in enumerate(lists[a]):
            if b == a:
                continue
            o_ba = lists[b].index(a) if a in lists[b] else k
            d_ab = sum(1 for x in lists[a][: r + 1] if x not in lists[b])
            d_ba = sum(1 for x in lists[b][: min(o_ba + 1, k)] if x not in lists[a])
            out[a, r] = (d_ab + d_ba) / max(min(r, o_ba), 1)
    return out


def test_rank_order_distances_match_a_direct_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    nbrs, _ = knn_of(x @ x.T, 8)
    np.testing.assert_array_equal(rank_order_distances(nbrs), _rank_order_reference(nbrs))


def test_approx_rank_order_links_shared_neighbourhoods():
    # two groups of 4 whose kNN lists (k = 4) are exactly their own group: distance 0 inside
    sim, truth = blocks([4, 4], 0.9, 0.1)
    nbrs, sims = knn_of(sim, 4)
    d = rank_order_distances(nbrs)
    assert np.all(d[:, 1:] == 0)
    assert same_partition(approx_rank_order(nbrs, sims, 0.0), truth)
    # k = 6 pulls two members of the other group into each list: those pairs are far apart
    nbrs, sims = knn_of(sim, 6)
    assert same_partition(approx_rank_order(nbrs, sims, 0.5), truth)


def test_leiden_two_communities():
    sim, truth = blocks([6, 6], 0.9, 0.05)
    nbrs, sims = knn_of(sim, 12)
    assert same_partition(leiden(nbrs, sims, resolution=0.5), truth)
    assert len(np.unique(leiden(nbrs, sims, resolution=0.95))) == 12  # denser than any pair can be


def test_minibatch_kmeans_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:4] * 10
    truth = np.repeat(np.arange(4), 50)
    x = centres[truth] + rng.normal(scale=0.1, size=(200, 8)).astype(np.float32)
    assert same_partition(minibatch_kmeans(x, 4, batch_size=64), truth)


# ---------------------------------------------------------------------------------------------
# Registry and tuning


def test_every_graph_method_runs_through_the_registry():
    sim, truth = blocks([5, 7, 4], 0.9, 0.1)
    nbrs, sims = knn_of(sim, 8)
    values = {"knn_cc": 0.5, "cdp": 0.5, "knn_dbscan": 0.3, "fast_hac": 0.3, "chinese_whispers": 0.5,
              "approx_rank_order": 0.5, "leiden": 0.5}
    settings = {"k": 8, "max_size": 600, "step": 0.05, "min_samples": 2, "iterations": 20, "seed": 0}
    assert set(values) == set(GRAPH_METHODS) and METHODS["minibatch_kmeans"].param is None
    for method, value in values.items():
        assert same_partition(run_graph_method(method, nbrs, sims, value, settings), truth), method


def test_tuning_picks_the_grid_value_with_the_best_train_f():
    sim, truth = blocks([5, 7, 4], 0.9, 0.6)
    nbrs, sims = knn_of(sim, 10)
    value, curve, curve_pr = tune_graph_method("knn_cc", nbrs, sims, truth, {"k": 10}, np.array([0.5, 0.7, 0.95]))
    assert value == 0.7 and dict(curve)[0.7] == pytest.approx(1.0) and dict(curve)[0.5] < 1.0
    precision = {v: p for v, p, _ in curve_pr}
    recall = {v: r for v, _, r in curve_pr}
    assert precision[0.5] < 1.0 and recall[0.5] == 1.0 and recall[0.95] < 1.0
