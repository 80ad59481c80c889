"""GCN-E as learn-to-cluster's release runs it (vegcn/datasets/gcn_e_dataset.py, vegcn/test_gcn_e.py,
vegcn/deduce.py), on hand-made cases where a naive version differs, plus two short trainings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from facecluster.evaluation.metrics import pairwise_scores
from facecluster.graph.knn import exact_knn
from facecluster.methods import gcn_e, gcn_v
from facecluster.methods.gcn_e import (candidate_probabilities, candidate_sets, candidate_subgraphs, gcn_e_clusters,
                                       ignore_set, train_gcn_e)
from facecluster.methods.graph_methods import run_graph_method, tune_graph_method
from facecluster.methods.pivot_subgraph import SubgraphGCN
from facecluster.training.loop import SGDSchedule, seed_everything

CPU = torch.device("cpu")
GRID = np.round(np.arange(0.3, 0.991, 0.01), 2)


def same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


# --- deduction -------------------------------------------------------------------------------------

# node 0 (lowest confidence): candidates 1 (cos .9) and 2 (cos .4); node 1: one candidate, 2 (cos .7); 2 is a root
NBRS3 = np.array([[0, 1, 2], [1, 2, 0], [2, 1, 0]])
SIMS3 = np.array([[1.0, 0.9, 0.4], [1.0, 0.7, 0.9], [1.0, 0.7, 0.4]], dtype=np.float32)
CONF3 = np.array([0.1, 0.8, 0.9], dtype=np.float32)


def test_tau_cuts_the_edge_the_network_chose():
    # the network prefers 2 (p .99) but cos(0, 2) = .4 <= tau .6: the edge is dropped and 0 stays alone,
    # it does not fall back to its other candidate 1 (cos .9)
    prob = np.array([[0.01, 0.99], [np.nan, np.nan], [np.nan, np.nan]], dtype=np.float32)
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.6, ignore_ratio=0.0), [0, 1, 1])
    # below the cosine the chosen edge stays
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.3, ignore_ratio=0.0), [0, 0, 0])
    # the argmax, not a probability threshold, picks the edge: 1 at p .4 still wins over 2 at p .3
    prob[0] = [0.4, 0.3]
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.6, ignore_ratio=0.0), [0, 0, 0])


def test_single_candidate_and_ignored_nodes_link_to_the_nearest_higher_neighbour():
    prob = np.array([[0.01, 0.99], [np.nan, np.nan], [np.nan, np.nan]], dtype=np.float32)
    # ignore_ratio 1/3 -> int(3 * 1/3) = 1 node ignored, the lowest confidence (0): it links to its nearest
    # candidate 1 whatever the probabilities say; node 1 has one candidate (2) and links to it without the network
    assert ignore_set(CONF3, 1 / 3).tolist() == [True, False, False]
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.6, ignore_ratio=1 / 3), [0, 0, 0])
    # the same data with node 0 outside the ignore set follows the network (edge 0-2, cut by tau)
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.6, ignore_ratio=0.0), [0, 1, 1])
    # the nearest-neighbour edges are cut by tau too (deduce.py drops any edge with 1 - cos >= 1 - tau)
    assert same_partition(gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.95, ignore_ratio=1.0), [0, 1, 2])


def test_ignore_set_is_the_lowest_fraction_of_confidences():
    conf = np.array([0.5, 0.1, 0.9, 0.3, 0.7])
    assert ignore_set(conf, 0.4).tolist() == [False, True, False, True, False]  # int(5 * .4) = 2 lowest
    assert ignore_set(conf, 0.5).sum() == 2  # int(2.5) = 2
    assert ignore_set(conf, 0.0).sum() == 0 and ignore_set(conf, 1.0).all()


def test_candidates_are_strictly_higher_confidence_neighbours():
    nbrs = np.array([[0, 1, 2, 3], [1, 0, 2, 3], [2, 1, 0, 3], [3, 3, 2, 1]])
    conf = np.array([0.5, 0.5, 0.7, 0.2])
    np.testing.assert_array_equal(candidate_sets(nbrs, conf, 3),
                                  [[False, True, False], [False, True, False], [False, False, False],
                                   [False, True, True]])  # equal confidence (0 vs 1) and a duplicated self are no candidates
    # two nodes of equal confidence never link, whatever the threshold
    prob = np.full((4, 3), np.nan, dtype=np.float32)
    sims = np.ones((4, 4), dtype=np.float32)
    labels = gcn_e_clusters(nbrs[:2, :2], sims[:2, :2], conf[:2], prob[:2, :1], tau=0.0, ignore_ratio=0.0)
    assert labels[0] != labels[1]


def test_missing_probabilities_of_a_network_node_are_an_error():
    prob = np.full((3, 2), np.nan, dtype=np.float32)
    with pytest.raises(ValueError, match="probabilities missing"):
        gcn_e_clusters(NBRS3, SIMS3, CONF3, prob, tau=0.6, ignore_ratio=0.0)


# --- subgraphs ----------------------------------------------------------------------------------------

# node 0 lists 2 (.9), 1 (.8), 3 (.6); 1 has a lower confidence, so 0's candidates are 2 and 3 (nearest first).
# 2 does not list 3, 3 lists 2 at .5: the max-symmetrised edge weighs .5 both ways; 4 is no candidate of 0.
NBRS5 = np.array([[0, 2, 1, 3], [1, 0, 2, 3], [2, 0, 4, 1], [3, 2, 4, 0], [4, 3, 2, 0]])
SIMS5 = np.array([[1, .9, .8, .6], [1, .8, .7, .6], [1, .9, .7, .3], [1, .5, .4, .6], [1, .4, .7, .2]], dtype=np.float32)
CONF5 = np.array([0.1, 0.05, 0.5, 0.6, 0.7], dtype=np.float32)
FEAT5 = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [-0.6, 0.8]], dtype=np.float32)


def _hand_subgraph_of_0() -> tuple[np.ndarray, np.ndarray]:
    h = np.stack([FEAT5[2] - FEAT5[0], FEAT5[3] - FEAT5[0]])[None]
    adj = np.array([[1.0, 0.5], [0.5, 1.0]]) / 1.5  # cosine weights + identity, row-normalised
    return h.astype(np.float32), adj[None].astype(np.float32)


def test_subgraph_is_cut_to_candidates_weighted_row_normalised_and_offset_by_the_root():
    ids, h, adj = candidate_subgraphs(FEAT5, NBRS5, SIMS5, CONF5, 3, np.array([0, 3]))
    h0, adj0 = _hand_subgraph_of_0()
    assert ids.tolist() == [[2, 3], [4, -1]]  # root 3: one candidate (4), padded
    np.testing.assert_allclose(adj[:1], adj0, rtol=1e-6)
    np.testing.assert_allclose(h[:1], h0, rtol=1e-6)
    np.testing.assert_allclose(h[1, 0], FEAT5[4] - FEAT5[3], rtol=1e-6)
    # the padded slot has no features and no edge to the real one
    np.testing.assert_array_equal(h[1, 1], 0.0)
    np.testing.assert_allclose(adj[1], [[1.0, 0.0], [0.0, 0.0]])


def test_the_network_sees_exactly_the_candidate_subgraph():
    torch.manual_seed(0)
    model = SubgraphGCN(2, 16)
    prob = candidate_probabilities(model, FEAT5, NBRS5, SIMS5, CONF5, 3, 0.0, CPU)
    h0, adj0 = _hand_subgraph_of_0()
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(h0), torch.from_numpy(adj0)), -1)[0, :, 1].numpy()
    np.testing.assert_allclose(prob[0, [0, 2]], want, rtol=1e-5)
    assert np.isnan(prob[0, 1])  # node 1 is no candidate
    assert np.isfinite(prob[1]).all()  # node 1: three candidates (0, 2, 3)
    assert np.isnan(prob[2:]).all()  # nodes 2 and 3 have one candidate each, 4 none: no network
    # the subgraph's graph matters: with the identity for an adjacency the network answers differently
    with torch.no_grad():
        alone = torch.softmax(model(torch.from_numpy(h0), torch.eye(2)[None]), -1)[0, :, 1].numpy()
    assert not np.allclose(alone, want, atol=1e-4)


def test_padding_does_not_change_the_probabilities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    nbrs, sims = exact_knn(x, 13, backend="torch", device="cpu")
    conf = rng.random(80).astype(np.float32)
    torch.manual_seed(0)
    model = SubgraphGCN(8, 16)
    one = candidate_probabilities(model, x, nbrs, sims, conf, 12, 0.2, CPU, batch_size=1)
    many = candidate_probabilities(model, x, nbrs, sims, conf, 12, 0.2, CPU, batch_size=64)
    np.testing.assert_array_equal(np.isnan(one), np.isnan(many))
    np.testing.assert_allclose(one[~np.isnan(one)], many[~np.isnan(many)], rtol=1e-5, atol=1e-6)
    # probabilities exactly on the candidates of the nodes the network decides
    cand = candidate_sets(nbrs, conf, 12)
    net = gcn_e.network_nodes(cand, conf, 0.2)
    np.testing.assert_array_equal(~np.isnan(one), cand & net[:, None])


# --- short trainings ----------------------------------------------------------------------------------

def _blobs(seed: int, ids: int = 30, per: int = 30, d: int = 8, bridges: float = 0.5):
    """Identities of varying spread plus 'bridge' samples on segments between identities (labelled
    with the nearer one): separable, but noisy enough that one cosine cut chains identities."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(ids, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spread = rng.uniform(0.15, 0.45, ids)
    x = [centres[c] + spread[c] * rng.normal(size=(per, d)) / np.sqrt(d) for c in range(ids)]
    y = [np.full(per, c) for c in range(ids)]
    nb = int(bridges * ids * per)
    a = rng.integers(ids, size=nb)
    b = (a + 1 + rng.integers(ids - 1, size=nb)) % ids
    t = rng.uniform(0.1, 0.45, nb)[:, None]
    x.append((1 - t) * centres[a] + t * centres[b] + 0.05 * rng.normal(size=(nb, d)) / np.sqrt(d))
    y.append(a)
    x = np.concatenate(x).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.concatenate(y)


def _fscore(labels, pred) -> float:
    return pairwise_scores(labels, pred)["fscore"]


def test_gcn_ve_beats_knn_cc_and_its_network_reads_the_candidates():
    seed_everything(0)
    torch.set_num_threads(1)
    k, ke, ignore_train, ignore_test = 16, 10, 0.0, 0.3
    splits = {}
    for name, seed in (("train", 1), ("test", 2)):
        x, y = _blobs(seed)
        nbrs, sims = exact_knn(x, 32, backend="torch", device="cpu")
        splits[name] = dict(x=x, y=y, nbrs=nbrs, sims=sims)
    tr, te = splits["train"], splits["test"]
    v_model, _ = gcn_v.train_gcn_v(tr["x"], tr["nbrs"], tr["sims"], tr["y"], k, 64, 0.0,
                                   SGDSchedule(steps=200, lr=0.01, optimizer="adam", warmup=20), CPU)
    for s in splits.values():
        s["conf"], s["h"] = gcn_v.infer_gcn_v(v_model, s["x"], s["nbrs"], s["sims"], k, CPU)
        s["fn"], s["fs"] = exact_knn(s["h"], ke + 1, backend="torch", device="cpu")
    model, curve = train_gcn_e(tr["h"], tr["fn"], tr["fs"], tr["conf"], tr["y"], ke, 32, 16, ignore_train,
                               SGDSchedule(steps=300, lr=0.01, optimizer="adam", warmup=30), CPU,
                               np.random.default_rng(0))
    assert np.mean([c[1] for c in curve[-30:]]) < 0.5 * np.mean([c[1] for c in curve[:30]])
    for s in splits.values():
        s["p"] = candidate_probabilities(model, s["h"], s["fn"], s["fs"], s["conf"], ke, ignore_test, CPU)

    def cluster(s, tau):
        return gcn_e_clusters(s["fn"], s["fs"], s["conf"], s["p"], tau, ignore_test)

    tau = max(GRID, key=lambda t: (_fscore(tr["y"], cluster(tr, t)), -t))  # chosen on the train split
    f_ve = _fscore(te["y"], cluster(te, tau))
    tau_cc, _, _ = tune_graph_method("knn_cc", tr["nbrs"], tr["sims"], tr["y"], {"k": k}, GRID)
    f_cc = _fscore(te["y"], run_graph_method("knn_cc", te["nbrs"], te["sims"], tau_cc, {"k": k}))
    assert f_ve > f_cc + 0.03, (f_ve, f_cc)
    # the probabilities rank same-identity candidates first: a network blind to its input scores 0.5
    cand = candidate_sets(te["fn"], te["conf"], ke)
    net = gcn_e.network_nodes(cand, te["conf"], ignore_test)
    same = (te["y"][te["fn"][:, 1 : ke + 1]] == te["y"][:, None])[net][cand[net]]
    assert roc_auc_score(same, te["p"][net][cand[net]]) > 0.65


def test_network_learns_identity_from_its_subgraphs():
    # GCN-E alone on raw features with an unsupervised density (mean cosine to the kNN) as confidence on
    # both splits, no GCN-V in between: train on one draw, rank the candidates of another
    seed_everything(0)
    torch.set_num_threads(1)
    ke = 12
    data = {}
    for name, seed in (("train", 3), ("test", 4)):
        x, y = _blobs(seed, d=6, bridges=1.0)
        nbrs, sims = exact_knn(x, ke + 1, backend="torch", device="cpu")
        data[name] = (x, y, nbrs, sims, sims[:, 1:].mean(axis=1))
    x, y, nbrs, sims, conf = data["train"]
    model, _ = train_gcn_e(x, nbrs, sims, conf, y, ke, 32, 16, 0.0,
                           SGDSchedule(steps=300, lr=0.01, optimizer="adam", warmup=30), CPU, np.random.default_rng(0))
    x, y, nbrs, sims, conf = data["test"]
    prob = candidate_probabilities(model, x, nbrs, sims, conf, ke, 0.0, CPU)
    ok = ~np.isnan(prob)
    same = y[nbrs[:, 1 : ke + 1]] == y[:, None]
    assert 1 - same[ok].mean() > 0.05  # there are other identities to rank below
    # constant output (a network blind to its input) scores 0.5; the cosine itself about 0.76 here
    assert roc_auc_score(same[ok], prob[ok]) > 0.65
