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


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_fast_hac_is_single_linkage_on_all_features_in_euclidean_distance():
    # scipy's own single linkage (an independent implementation) cut by fcluster is the release's answer
    from scipy.cluster.hierarchy import fcluster, linkage

    rng = np.random.default_rng(0)
    x = unit_rows(rng.normal(size=(150, 8)))
    for cut in (0.5, 0.72, 1.0):
        reference = fcluster(linkage(x.astype(np.float64), method="single", metric="euclidean"), cut, criterion="distance")
        assert same_partition(fast_hac(x, cut), reference)
    # the cut is a Euclidean distance: two unit vectors at cos 0.8 are 0.632 apart (joined at 0.72),
    # at cos 0.7 they are 0.775 apart (not joined at 0.72, although 1 - 0.7 = 0.3 < 0.72)
    pair = lambda c: np.array([[1.0, 0.0], [c, np.sqrt(1 - c * c)]], dtype=np.float32)
    assert len(np.unique(fast_hac(pair(0.8), 0.72))) == 1
    assert len(np.unique(fast_hac(pair(0.7), 0.72))) == 2


def test_dense_single_linkage_matches_fastcluster():
    # fastcluster (the release's library, a different algorithm) on clustered data: the same merge
    # heights and the same flat clusters at every cut
    import fastcluster
    from scipy.cluster.hierarchy import fcluster

    from facecluster.methods.classic import dense_single_linkage

    rng = np.random.default_rng(4)
    centres = rng.normal(size=(30, 16))
    x = unit_rows(centres[rng.integers(0, 30, 900)] + 0.35 * rng.normal(size=(900, 16)))
    ours = dense_single_linkage(x)
    theirs = fastcluster.linkage_vector(x.astype(np.float64), method="single", metric="euclidean")
    np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=1e-5)
    np.testing.assert_array_equal(ours[:, 3].max(), 900)
    for cut in np.quantile(theirs[:, 2], [0.1, 0.5, 0.9, 0.99]) + 1e-4:
        assert same_partition(fcluster(ours, cut, criterion="distance"), fcluster(theirs, cut, criterion="distance"))


def test_fast_hac_above_its_limit_stops_or_falls_back_to_the_knn_graph():
    rng = np.random.default_rng(1)
    x = unit_rows(rng.normal(size=(200, 8)))
    nbrs, sims = knn_of(x @ x.T, 10)
    with pytest.raises(ValueError, match="max_samples = 100"):
        fast_hac(x, 0.6, nbrs, sims, max_samples=100)
    for cut in (0.4, 0.6, 0.8):
        # the kNN graph's single linkage at a Euclidean cut = its components at cos >= 1 - cut^2 / 2
        fallback = fast_hac(x, cut, nbrs, sims, max_samples=100, fallback="knn")
        assert same_partition(fallback, threshold_clusters(nbrs, sims, 1 - cut * cut / 2 - 1e-6))


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


def _aro_reference(nbrs: np.ndarray) -> np.ndarray:
    """learn-to-cluster baseline/aro.py's symmetric-distance row, written out with Python sets."""
    n, k = nbrs.shape
    lists = [list(map(int, row)) for row in nbrs]
    out = np.zeros((n, k))
    for i in range(n):
        for o_i in range(1, k):  # aro.py enumerates f1[1:] with Oi = idx + 1
            j = lists[i][o_i]
            if i not in lists[j]:
                out[i, o_i] = 9999.0
                continue
            o_j = lists[j].index(i) + 1
            d_ij = len(set(lists[i][:o_i]) - set(lists[j]))
            d_ji = len(set(lists[j][:o_j]) - set(lists[i]))
            out[i, o_i] = (d_ij + d_ji) / min(o_i, o_j)
    return out


def test_rank_order_distances_match_aro_py():
    rng = np.random.default_rng(1)
    x = unit_rows(rng.normal(size=(60, 6)))
    nbrs, _ = knn_of(x @ x.T, 8)
    d = rank_order_distances(nbrs)
    np.testing.assert_array_equal(d, _aro_reference(nbrs))
    assert (d == 9999.0).any()  # the random lists have one-way pairs


def test_rank_order_denominator_uses_the_one_based_rank_of_the_pair():
    # 0: [0 1 2], 1: [1 2 0], 2: [2 1 0]. Pair (0, 1): O_0 = 1, O_1 = 2 + 1 = 3;
    # d_01 = |{0} - list(1)| = 0, d_10 = |{1, 2, 0} - list(0)| = 0 -> 0 / 1 = 0.
    # Pair (1, 2): O_1 = 1, O_2 = 1 + 1 = 2; d_12 = |{1} - list(2)| = 0; d_21 = |{2, 1} - list(1)| = 0 -> 0.
    # Pair (1, 0) (column 2 of 1): O_1 = 2, O_0 = 1 + 1 = 2; d = |{1, 2} - list(0)| + |{0, 1} - list(1)| = 0.
    nbrs = np.array([[0, 1, 2], [1, 2, 0], [2, 1, 0]])
    assert rank_order_distances(nbrs)[1, 2] == 0.0
    # node 3 lists 0 first but 0 does not list 3: 9999 whatever the overlap
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 0, 1]])
    d = rank_order_distances(nbrs)
    assert d[3, 1] == 9999.0 and d[3, 2] == 9999.0
    # (2, 1): O_2 = 2 (column 2), O_1 = 2 + 1 = 3; d_21 = |{2, 0} - list(1)| = 0, d_12 = |{1, 0, 2} - list(2)| = 0
    # (0, 2): O_0 = 2, O_2 = 1 + 1 = 2; d_02 = |{0, 1} - list(2)| = 0; d_20 = |{2, 0} - list(0)| = 0
    assert d[2, 2] == 0.0 and d[0, 2] == 0.0


def test_approx_rank_order_follows_one_way_links_in_index_order():
    # 2 links to 0 (D <= th) but 0 does not link to 2: BFS from 0 never reaches 2, and 2, visited
    # later, cannot join 0's cluster. Connected components would merge them.
    from facecluster.methods.classic import one_way_clusters

    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    linked = np.array([[False, True, False], [False, False, False], [False, True, True]])
    assert same_partition(one_way_clusters(nbrs, linked), [0, 0, 1])
    # the same links seen from the other side: 0 links to 2, so 2 joins 0's cluster
    linked = np.array([[False, True, True], [False, False, False], [False, False, False]])
    assert same_partition(one_way_clusters(nbrs, linked), [0, 0, 0])


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


def test_leiden_seeded_whatever_the_global_random_state():
    import random

    rng = np.random.default_rng(3)
    feats = rng.normal(size=(400, 16)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    nbrs, sims = knn_of(feats @ feats.T, 10)
    random.seed(1)
    a = leiden(nbrs, sims, resolution=0.1, seed=5)
    random.seed(2)
    b = leiden(nbrs, sims, resolution=0.1, seed=5)
    assert np.array_equal(a, b)
    assert random.random() == random.Random(2).random()  # the global generator is left as it was


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
    # features with the same blocks (cos 0.9 inside, 0 across) for the method that reads them
    x = np.concatenate([np.sqrt(0.9) * np.eye(3)[truth], np.sqrt(0.1) * np.eye(len(truth))], axis=1).astype(np.float32)
    values = {"knn_cc": 0.5, "cdp": 0.5, "cdp_vote": 0.5, "knn_dbscan": 0.3, "fast_hac": 0.6, "chinese_whispers": 0.5,
              "approx_rank_order": 0.5, "leiden": 0.5}
    settings = {"k": 8, "max_size": 600, "step": 0.05, "min_samples": 2, "iterations": 20, "seed": 0,
                "max_samples": 1000, "max_seconds": 60, "fallback": "error", "accept": None}
    assert set(values) == set(GRAPH_METHODS) and METHODS["minibatch_kmeans"].param is None
    for method, value in values.items():
        committee = [nbrs] if METHODS[method].committee else None  # cdp_vote: a one-member committee agreeing with the base
        assert same_partition(run_graph_method(method, nbrs, sims, value, settings, x, committee), truth), method
    with pytest.raises(ValueError, match="cdp_vote reads a committee"):
        run_graph_method("cdp_vote", nbrs, sims, 0.5, settings, x)


def test_tuning_picks_the_grid_value_with_the_best_train_f():
    sim, truth = blocks([5, 7, 4], 0.9, 0.6)
    nbrs, sims = knn_of(sim, 10)
    value, curve, curve_pr = tune_graph_method("knn_cc", nbrs, sims, truth, {"k": 10}, np.array([0.5, 0.7, 0.95]))
    assert value == 0.7 and dict(curve)[0.7] == pytest.approx(1.0) and dict(curve)[0.5] < 1.0
    precision = {v: p for v, p, _ in curve_pr}
    recall = {v: r for v, _, r in curve_pr}
    assert precision[0.5] < 1.0 and recall[0.5] == 1.0 and recall[0.95] < 1.0
