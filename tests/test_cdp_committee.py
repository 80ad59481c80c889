"""CDP's committee (XiaohangZhan/cdp): the vote and the mediator's pair features against the release's
definitions on hand-made cases where a naive version differs, the synthetic committee views, and a
mediator that learns (its loss falls, it beats the constant and its own single-model vote)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecluster.data.synthetic import ViewParams, generate_split, generate_view, params_from_dict
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.graph.knn import exact_knn
from facecluster.methods import cdp, cdp_mediator
from facecluster.methods.cdp_mediator import View
from facecluster.training.loop import SGDSchedule

# Base kNN (k = 3, the node itself in column 0, as the release's lists): row 0 lists 1, row 1 does not list 0.
BASE = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 0], [3, 2, 1]])
SIMS = np.full(BASE.shape, 0.9, dtype=np.float32)
# one committee member: its row 0 does not list 1, its row 1 lists 0
MEMBER = np.array([[0, 2, 3], [1, 0, 2], [2, 3, 1], [3, 2, 0]])


def _pairs(src, dst):
    return set(zip(src.tolist(), dst.tolist()))


def test_vote_counts_the_committee_in_one_direction_only():
    # the only candidate entry of pair (0, 1) is 0 -> 1, and the member does not list 1 for row 0:
    # rejected, although the member lists 0 for row 1 (a two-way check would accept it)
    src, dst, _ = cdp.vote_pairs(BASE, SIMS, 0.5, [MEMBER], accept=1)
    assert (0, 1) not in _pairs(src, dst)
    # when the base lists 0 for row 1, the entry 1 -> 0 is a candidate and the member's row 1 votes for it
    base = BASE.copy()
    base[1] = [1, 0, 3]
    src, dst, _ = cdp.vote_pairs(base, SIMS, 0.5, [MEMBER], accept=1)
    assert (0, 1) in _pairs(src, dst)
    # accept 0 (the single-model row): every candidate above the threshold
    src, dst, _ = cdp.vote_pairs(BASE, SIMS, 0.5, [MEMBER], accept=0)
    assert (0, 1) in _pairs(src, dst)


def test_vote_threshold_is_strict_and_pairs_are_undirected_and_unique():
    sims = SIMS.copy()
    sims[0, 1] = 0.5  # exactly at the threshold: dropped
    src, dst, score = cdp.vote_pairs(BASE, sims, 0.5)
    assert (0, 1) not in _pairs(src, dst)
    assert (src < dst).all() and len(_pairs(src, dst)) == src.size  # each pair once, smaller id first
    # (2, 3) is listed by rows 2 and 3: one pair, the base cosine as its score
    assert (2, 3) in _pairs(src, dst) and np.allclose(score, 0.9)
    with pytest.raises(ValueError, match="accept = 2 votes but the committee has 1"):
        cdp.vote_pairs(BASE, SIMS, 0.5, [MEMBER], accept=2)


def test_vote_without_committee_is_the_single_model_cdp():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    nbrs, sims = exact_knn(x, 10)
    for th in (0.3, 0.6):
        np.testing.assert_array_equal(cdp.cdp_vote_clusters(nbrs, sims, th), cdp.cdp_clusters(nbrs, sims, th))


def test_relationship_is_two_way_and_excludes_the_base():
    src, dst = np.array([0]), np.array([1])
    assert cdp_mediator.relationship(src, dst, MEMBER)[0] == 1.0  # 0 is in the member's list of 1
    assert cdp_mediator.relationship(np.array([0]), np.array([3]), np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 1, 2]]))[0] == 0.0
    x = np.eye(4, dtype=np.float32)
    feats = cdp_mediator.pair_features(src, dst, View(x, BASE), [View(x, MEMBER)])
    # relationship (1 member) | affinity (base, member) | structure (base, member)
    assert feats.shape == (1, cdp_mediator.input_width(1)) == (1, 5)


def test_structure_counts_common_entries_including_the_nodes_themselves():
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 0, 4], [4, 3, 0]])
    # kNN(0) = {0, 1, 2}, kNN(1) = {1, 0, 2}: 3 (a count of common *other* neighbours would give 1)
    assert cdp_mediator.structure(np.array([0]), np.array([1]), nbrs)[0] == 3
    # kNN(0) = {0, 1, 2}, kNN(3) = {3, 0, 4}: node 0 itself is the common entry
    assert cdp_mediator.structure(np.array([0]), np.array([3]), nbrs)[0] == 1
    padded = np.array([[0, -1, -1], [1, -1, -1]])
    assert cdp_mediator.structure(np.array([0]), np.array([1]), padded)[0] == 0  # padding never matches


def test_candidate_pairs_are_the_base_lists_undirected():
    src, dst = cdp_mediator.candidate_pairs(BASE)
    assert _pairs(src, dst) == {(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)}


def test_mediator_threshold_is_strict():
    src, dst = np.array([0, 2]), np.array([1, 3])
    prob = np.array([0.9, 0.95], dtype=np.float32)
    labels = cdp_mediator.mediator_clusters(4, src, dst, prob, 0.9)
    assert labels[0] != labels[1] and labels[2] == labels[3]


# --- the synthetic committee --------------------------------------------------------------------------

SMALL = params_from_dict({"n_samples": 3000, "dim": 32, "size_median": 12.0})


def test_synthetic_views_embed_the_same_samples_with_their_own_errors():
    x, y = generate_split(SMALL, "train", 0)
    b = generate_view(SMALL, "train", 0, "b", ViewParams(noise=1.0, quality_corr=0.5))
    c = generate_view(SMALL, "train", 0, "c", ViewParams(noise=1.25, quality_corr=0.3, dim=16))
    assert b.shape == x.shape and c.shape == (3000, 16) and b.dtype == np.float32
    np.testing.assert_array_equal(b, generate_view(SMALL, "train", 0, "b", ViewParams(noise=1.0, quality_corr=0.5)))
    assert not np.allclose(b, generate_view(SMALL, "train", 0, "other", ViewParams(noise=1.0, quality_corr=0.5)))
    # same samples in the same rows: each view's neighbours mostly share the base's identity
    precision = {}
    false_sets = {}
    for name, feats in (("base", x), ("b", b), ("c", c)):
        nbrs, _ = exact_knn(feats, 11)
        same = y[nbrs[:, 1:]] == y[:, None]
        precision[name] = same.mean()
        false_sets[name] = {(i, j) for i, j in zip(*np.nonzero(~same))}
        false_sets[name] = {(i, int(nbrs[i, 1 + j])) for i, j in false_sets[name]}
    assert precision["c"] < precision["base"] and precision["b"] > 0.5
    # they make different mistakes: most of the base's false neighbours are not the member's
    shared = len(false_sets["base"] & false_sets["b"]) / len(false_sets["base"])
    assert shared < 0.5, shared


# --- the mediator learns -----------------------------------------------------------------------------

K = 10


def _committee_split(split: str):
    x, y = generate_split(SMALL, split, 1)
    views = [x] + [generate_view(SMALL, split, 1, m, ViewParams(noise=n, quality_corr=q))
                   for m, n, q in (("b", 1.0, 0.3), ("c", 1.1, 0.3))]
    knns = [exact_knn(v, K) for v in views]
    base = View(views[0], knns[0][0])
    committee = [View(v, n) for v, (n, _) in zip(views[1:], knns[1:])]
    return y, base, committee, knns[0][1]


@pytest.fixture(scope="module")
def mediator_run():
    torch.manual_seed(0)
    y, base, committee, sims = _committee_split("train")
    src, dst = cdp_mediator.candidate_pairs(base.nbrs)
    x = cdp_mediator.pair_features(src, dst, base, committee)
    t = (y[src] == y[dst]).astype(np.int64)
    steps = cdp_mediator.epoch_steps(t.size, 256, 4)
    sched = SGDSchedule(steps=steps, lr=1e-2, momentum=0.9, weight_decay=1e-4, optimizer="sgd", milestones=(steps + 1,))
    untrained = cdp_mediator.Mediator(x.shape[1])
    model, curve = cdp_mediator.train_mediator(x, t, sched, 256, "cpu", np.random.default_rng(0))
    return dict(model=model, untrained=untrained, curve=curve, train=(y, base, committee, sims, src, dst, x, t))


def _auc(p, t):
    order = np.argsort(p)
    ranks = np.empty(p.size)
    ranks[order] = np.arange(1, p.size + 1)
    pos = t == 1
    return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())


def test_mediator_loss_falls_and_beats_constant_and_untrained(mediator_run):
    curve = mediator_run["curve"]
    first, last = np.mean([c[1] for c in curve[:20]]), np.mean([c[1] for c in curve[-20:]])
    assert last < 0.8 * first
    y, base, committee, _ = _committee_split("test")
    src, dst = cdp_mediator.candidate_pairs(base.nbrs)
    x = cdp_mediator.pair_features(src, dst, base, committee)
    t = (y[src] == y[dst]).astype(np.int64)
    p = cdp_mediator.predict_pairs(mediator_run["model"], x, "cpu")
    p0 = cdp_mediator.predict_pairs(mediator_run["untrained"], x, "cpu")

    def ce(q):
        return -np.mean(np.where(t == 1, np.log(np.clip(q, 1e-7, 1)), np.log(np.clip(1 - q, 1e-7, 1))))

    prior = t.mean()
    constant = -(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))  # the best constant's cross-entropy
    assert ce(p) < 0.8 * constant and ce(p) < 0.8 * ce(p0)
    assert _auc(p, t) > _auc(p0, t) + 0.02  # a random MLP already ranks by the raw counts it is fed
    # it reads its input: the same pairs with their features shuffled across pairs score at chance
    shuffled = x[np.random.default_rng(0).permutation(x.shape[0])]
    assert abs(_auc(cdp_mediator.predict_pairs(mediator_run["model"], shuffled, "cpu"), t) - 0.5) < 0.05
    assert _auc(p, t) > 0.9


def test_mediator_beats_its_single_model_vote(mediator_run):
    """Thresholds chosen on the train split for both, scored on the test split's unseen identities."""
    y, base, committee, sims, src, dst, x, _ = mediator_run["train"]
    grid_vote = np.arange(0.3, 0.96, 0.02)
    grid_med = np.concatenate([np.arange(0.5, 0.98, 0.02), np.arange(0.98, 0.9995, 0.001)])
    p = cdp_mediator.predict_pairs(mediator_run["model"], x, "cpu")
    n = y.size

    def best(cluster, grid, labels):
        return max(grid, key=lambda v: pairwise_scores(labels, cluster(v))["fscore"])

    th_vote = best(lambda v: cdp.cdp_vote_clusters(base.nbrs, sims, v), grid_vote, y)
    th_med = best(lambda v: cdp_mediator.mediator_clusters(n, src, dst, p, v), grid_med, y)
    yt, bt, ct, st = _committee_split("test")
    s2, d2 = cdp_mediator.candidate_pairs(bt.nbrs)
    p2 = cdp_mediator.predict_pairs(mediator_run["model"], cdp_mediator.pair_features(s2, d2, bt, ct), "cpu")
    f_vote = pairwise_scores(yt, cdp.cdp_vote_clusters(bt.nbrs, st, th_vote))["fscore"]
    f_med = pairwise_scores(yt, cdp_mediator.mediator_clusters(yt.size, s2, d2, p2, th_med))["fscore"]
    assert f_med > f_vote + 0.02, (f_med, f_vote)
