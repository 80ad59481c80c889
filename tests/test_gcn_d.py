"""GCN-D / GCN-S and their proposals against learn-to-cluster's definitions (``proposals/graph.py``,
``generate_iter_proposals.py``, ``dsgcn/``, ``post_process/deoverlap.py``), on hand-made cases
where a naive version differs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecluster.data.synthetic import generate_split, params_from_dict
from facecluster.graph.knn import exact_knn
from facecluster.methods import gcn_d, proposals as P


def _pairs(*edges):
    a = np.array([e[0] for e in edges]); b = np.array([e[1] for e in edges]); s = np.array([e[2] for e in edges], float)
    return a, b, s


def _groups(labels):
    return sorted(sorted(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels[labels >= 0]))


def test_dynamic_threshold_splits_only_what_is_too_large_at_a_rising_threshold():
    # 0-1-2 and 3-4-5 joined by a weak pair (0.5); 6-7 a small component held by a weak pair
    a, b, s = _pairs((0, 1, .9), (1, 2, .9), (0, 2, .9), (2, 3, .5), (3, 4, .9), (4, 5, .9), (6, 7, .5))
    labels = P.dynamic_threshold_components(9, a, b, s, max_size=3, step=0.05)
    # round 0 keeps {6, 7} (size 2 <= 3) although its pair is as weak as the one cut later; the
    # 6-node component goes to the remainder and splits at th = 0.5 + 0.5 * 0.05; node 8 is in no pair
    assert _groups(labels) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert labels[8] == -1
    # a component of exactly max_size is kept (the release tests len(group) > max_sz)
    assert _groups(P.dynamic_threshold_components(9, a, b, s, max_size=6)) == [[0, 1, 2, 3, 4, 5], [6, 7]]


def test_dynamic_threshold_forced_stop_keeps_the_rest_as_one_component():
    a, b, s = _pairs((0, 1, .9), (1, 2, .99), (2, 3, .99))
    # round 0: 4 > 2; round 1 (th 0.905): {0} kept, {1, 2, 3} still too large; max_iter 1 -> one component
    assert _groups(P.dynamic_threshold_components(4, a, b, s, max_size=2, max_iter=1)) == [[0], [1, 2, 3]]
    # without the stop, it goes on raising the threshold until {1, 2, 3} splits
    assert len(_groups(P.dynamic_threshold_components(4, a, b, s, max_size=2, max_iter=100))) == 4


def test_knn_pairs_are_the_releases_filter_knns():
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    sims = np.array([[1., .8, .5], [1., .8, .7], [1., .7, .5]])
    i, j, s = P.knn_pairs(nbrs, sims, 3, 0.6)  # self pairs out, >= th, each pair once
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (1, 2)]


def test_level1_links_super_vertices_by_the_inner_product_of_unnormalised_means():
    d = 4
    e = np.eye(d)
    spread = [np.cos(np.pi / 3) * e[0] + np.sin(np.pi / 3) * e[1], np.cos(np.pi / 3) * e[0] - np.sin(np.pi / 3) * e[1]]
    # super-vertices 0 and 1: two members each, 60 degrees either side of e0 -> means 0.5 e0 (norm 0.5);
    # cosine of the two means is 1, their inner product 0.25 < th 0.4: the release does not link them
    x = np.array(spread + spread + [e[2], e[2], e[2]], dtype=np.float32)
    sv = np.array([0, 0, 1, 1, 2, 2, 2])
    assert P.level1(x, sv, k=3, th=0.4, step=0.05, sv_max_size=5).__getitem__(0).size == 1  # no proposal
    # tight super-vertices (norm ~1) of the same direction are linked: one proposal of their 4 members
    tight = np.array([e[0], e[0], e[0], e[0], e[2], e[2], e[2]], dtype=np.float32)
    indptr, indices = P.level1(tight, sv, k=3, th=0.4, step=0.05, sv_max_size=5)
    assert indptr.size == 2 and sorted(indices.tolist()) == [0, 1, 2, 3]


def test_iou_and_iop_targets_use_the_majority_label():
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1, 2, 2])  # identity 0 has 5 members
    props = P.Proposals(np.array([0, 4, 8]), np.array([0, 1, 2, 3, 6, 7, 8, 9]), np.zeros(2, np.int8),
                        np.zeros(2, np.int16), [{"k": 2}])
    t = gcn_d.proposal_targets(props, labels)
    # proposal 0: three of identity 0 and one of 1 -> IoU 3 / (4 + 5 - 3), IoP 3 / 4
    assert t["label"][0] == 0 and t["iou"][0] == pytest.approx(0.5) and t["iop"][0] == pytest.approx(0.75)
    # proposal 1: a tie (two of 1, two of 2): the label met first in node order, identity 1 (3 members)
    assert t["label"][1] == 1 and t["iou"][1] == pytest.approx(2 / 5) and t["iop"][1] == pytest.approx(0.5)


def _props(*groups):
    sizes = [len(g) for g in groups]
    return P.Proposals(np.concatenate([[0], np.cumsum(sizes)]), np.concatenate(groups), np.zeros(len(groups), np.int8),
                       np.zeros(len(groups), np.int16), [{"k": 2}])


def test_deoverlap_by_descending_score_and_uncovered_nodes_alone():
    props = _props([0, 1, 2], [2, 3], [3, 4])
    labels = gcn_d.deoverlap(6, props, np.array([0.5, 0.9, 0.5]))
    assert labels[2] == labels[3]  # node 2 goes with the higher-scored proposal 1, node 3 too
    assert labels[0] == labels[1] != labels[2]
    assert labels[4] not in labels[[0, 2]]  # proposal 2 keeps node 4 only (ties: proposal order)
    assert labels[5] not in labels[:5]  # in no proposal: a singleton


def test_gcn_s_outliers_form_clusters_after_every_clean_proposal():
    props = _props([0, 1, 2], [1, 3])
    scores = np.array([0.9, 0.4])
    inlier = {0: np.array([0.9, 0.2, 0.8])}  # node 1 is an outlier of proposal 0
    labels = gcn_d.deoverlap(5, props, scores, inlier)
    # the release appends outlier clusters after all clean ones: node 1 joins proposal 1 (clean,
    # lower score), not a cluster of its own placed right after proposal 0
    assert labels[1] == labels[3] and labels[0] == labels[2] != labels[1]
    # without keep_outlier the node is simply released from proposal 0
    assert gcn_d.deoverlap(5, _props([0, 1, 2]), np.array([0.9]), {0: np.array([0.9, 0.2, 0.8])}, keep_outlier=False)[1] \
        not in (0,)


def test_proposal_graph_is_the_release_adjacency():
    x = np.eye(3, dtype=np.float32)
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    sims = np.array([[1., .8, .1], [1., .8, .6], [1., .6, .1]], dtype=np.float32)
    props = P.Proposals(np.array([0, 3]), np.array([0, 1, 2]), np.zeros(1, np.int8), np.zeros(1, np.int16), [{"k": 2}])
    _, adj, _ = gcn_d.proposal_batch(x, nbrs, sims, props, np.array([0]))
    raw = np.array([[1, .8, 0], [.8, 1, 0], [0, 0, 1]])  # k 2: only each node's first other neighbour
    raw[2, 1] = raw[1, 2] = .6  # 2 -> 1 (its first neighbour) makes the pair symmetric
    np.testing.assert_allclose(adj[0].numpy(), raw / raw.sum(1, keepdims=True), rtol=1e-6)
    _, adj1, _ = gcn_d.proposal_batch(x, nbrs, sims, props, np.array([0]), with_weight=False)
    assert set(np.unique(adj1[0].numpy() * 3).round(6)) <= {0.0, 1.0, 1.5}


def _pure_or_mixed(seed: int, identities: int = 150, size: int = 12, dim: int = 16, count: int = 800):
    """Identities of ``size`` unit features around random centres; proposals of 3..size members of
    one identity, half of them mixed with 1..as many of another (true IoP 1 or 0.5..0.93)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(identities), size)
    x = rng.standard_normal((identities, dim))[y] + 0.35 * rng.standard_normal((y.size, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    nbrs, sims = exact_knn(x, 20, backend="torch", device="cpu")
    groups = []
    for _ in range(count):
        a, b = rng.choice(identities, 2, replace=False)
        na = rng.integers(3, size + 1)
        nb = 0 if rng.random() < 0.5 else rng.integers(1, na + 1)
        groups.append(np.sort(np.concatenate([rng.choice(np.flatnonzero(y == a), na, replace=False),
                                              rng.choice(np.flatnonzero(y == b), nb, replace=False)])))
    sizes = [g.size for g in groups]
    props = P.Proposals(np.concatenate([[0], np.cumsum(sizes)]), np.concatenate(groups), np.zeros(count, np.int8),
                        np.zeros(count, np.int16), [{"k": 20}])
    return x, y, nbrs, sims, props


def test_gcn_d_learns_from_its_features_and_graph():
    """GCN-D (the release's schedule: SGD lr 0.01, 30 epochs) on the proposals of 150 identities:
    its loss falls, and on proposals of 150 other identities its IoP error is below the best
    constant's and below that of a twin trained on shuffled node features (which must ignore them)."""
    x, y, nbrs, sims, props = _pure_or_mixed(0)
    tx, ty, tn, ts, tprops = _pure_or_mixed(1)
    target = gcn_d.proposal_targets(tprops, ty)["iop"]
    train = {"epochs": 30, "milestones": [], "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}
    errors = {}
    for name, feats in (("real", x), ("shuffled", x[np.random.default_rng(0).permutation(x.shape[0])])):
        torch.manual_seed(0)
        model, curve = gcn_d.train_gcn_d(feats, nbrs, sims, y, props, "iop", (64, 16), 0.0, train, 16, "cpu",
                                         np.random.default_rng(0))
        if name == "real":
            first, last = np.mean([c[1] for c in curve[:50]]), np.mean([c[1] for c in curve[-50:]])
            assert last < 0.8 * first, (first, last)  # the loss falls
        pred = gcn_d.predict_gcn_d(model, tx, tn, ts, tprops, "cpu")
        errors[name] = float(np.mean((pred - target) ** 2))
    constant = float(np.mean((gcn_d.proposal_targets(props, y)["iop"].mean() - target) ** 2))
    assert errors["real"] < 0.8 * constant, (errors, constant)
    assert errors["real"] < 0.8 * errors["shuffled"], errors
