"""Targets and labels of the learned methods on hand-made examples, and their clustering rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facecluster.methods.gcn_v import GCNV, confidence_linking, confidence_targets, knn_operator
from facecluster.graph.ops import symmetrise
from facecluster.methods.pivot_subgraph import SubgraphGCN, pivot_labels, pivot_subgraphs
from facecluster.methods.lgcn import lgcn_clusters


def same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


# node 0's neighbours: itself, 1 (same id, cos .9), 2 (other id, .5); node 1: 1, 0 (.9), 2 (.4); node 2: 2, 1 (.4), 0 (.5)
NBRS = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
SIMS = np.array([[1.0, 0.9, 0.5], [1.0, 0.9, 0.4], [1.0, 0.5, 0.4]], dtype=np.float32)
LABELS = np.array([7, 7, 3])


def test_gcn_v_confidence_target_by_hand():
    # raw: node 0: 1 + .9 - .5 = 1.4; node 1: 1 + .9 - .4 = 1.5; node 2: 1 - .5 - .4 = 0.1; / max 1.5
    np.testing.assert_allclose(confidence_targets(NBRS, SIMS, LABELS), np.array([1.4, 1.5, 0.1]) / 1.5, rtol=1e-6)


def test_confidence_linking_follows_higher_confidence():
    conf = np.array([0.5, 0.9, 0.1])
    # 0 -> 1 (higher, cos .9); 1 is a peak; 2 -> its nearest higher neighbour 0 (cos .5)
    assert same_partition(confidence_linking(NBRS, SIMS, conf, 0.6), [0, 0, 1])
    assert same_partition(confidence_linking(NBRS, SIMS, conf, 0.45), [0, 0, 0])
    # the release keeps an edge only when cos > tau: at tau = the pair's own cosine 0 -> 1 is dropped
    assert same_partition(confidence_linking(NBRS, SIMS, conf, SIMS[0, 1]), [0, 1, 2])


def test_gcn_v_model_shapes():
    x = torch.randn(3, 8)
    conf, h = GCNV(8, 16)(x, knn_operator(NBRS, SIMS, 3))
    assert conf.shape == (3,) and h.shape == (3, 16)


def test_lgcn_pivot_subgraph_and_labels_by_hand():
    # 6 nodes; kNN lists (self first)
    nbrs = np.array([[0, 1, 2, 3], [1, 0, 4, 2], [2, 0, 5, 1], [3, 4, 0, 5], [4, 3, 1, 0], [5, 2, 3, 1]])
    labels = np.array([0, 0, 1, 1, 0, 1])
    nodes, adj, pivot_pos, one_hop = pivot_subgraphs(nbrs, np.array([0]), k1=2, k2=1, active=1)
    # IPS of 0: 0; 1-hop 1, 2; 2-hop: first neighbour of 1 (0) and of 2 (0) -> {0, 1, 2}
    valid = nodes[0][nodes[0] >= 0]
    assert sorted(valid.tolist()) == [0, 1, 2]
    assert nodes[0][pivot_pos[0]] == 0 and [nodes[0][p] for p in one_hop[0]] == [1, 2]
    # active = 1: 0-1, 1-0, 2-0 links; symmetric, no self-loops (the release's feeder), D^-1 A
    a = adj[0][: valid.size, : valid.size]
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert (a > 0).sum() == 4 and np.all(np.diagonal(a) == 0)  # edges 0-1, 0-2 both ways
    np.testing.assert_array_equal(pivot_labels(labels, nbrs, np.array([0, 3]), 2), [[1, 0], [0, 0]])
    # the network runs on the dense batch
    h = torch.randn(1, nodes.shape[1], 8)
    assert SubgraphGCN(8, 16, input_norm=True)(h, torch.from_numpy(adj)).shape == (1, nodes.shape[1], 2)


def test_lgcn_clusters_threshold_and_size_cap():
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 2, 0]])
    prob = np.array([[0.95, 0.2], [0.95, 0.85], [0.85, 0.2], [0.6, 0.1]], dtype=np.float32)
    assert same_partition(lgcn_clusters(nbrs, prob, 0.7, max_size=10, step=0.5), [0, 0, 0, 1])
    assert same_partition(lgcn_clusters(nbrs, prob, 0.5, max_size=10, step=0.5), [0, 0, 0, 0])
    # max_size 2: the 4-node component is re-split at rising thresholds (0.8, then 0.9): the 0.95 pair survives
    assert same_partition(lgcn_clusters(nbrs, prob, 0.5, max_size=2, step=0.5), [0, 0, 1, 2])
    # the release keeps every pair (threshold 0): the 0.1 pair 3-0 joins 3 when nothing caps the size
    assert same_partition(lgcn_clusters(nbrs, prob, 0.0, max_size=10, step=0.5), [0, 0, 0, 0])
    # ... and the cap then re-splits from the lowest score up: th 0.1 -> 0.55 -> 0.775 -> 0.8875
    assert same_partition(lgcn_clusters(nbrs, prob, 0.0, max_size=3, step=0.5), [0, 0, 0, 1])


def test_symmetrise_averages_both_directions_and_keeps_one_way_pairs():
    # L-GCN's pool='avg' (gcn_clustering utils/graph.py): a pair seen from both pivots gets the mean,
    # a pair seen once keeps its score
    nbrs = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0], [3, 2, 1]])
    vals = np.array([[1, 0.8, 0.1], [1, 0.4, 0.3], [1, 0.9, 0.5], [1, 0.7, 0.2]], dtype=np.float32)
    sym = symmetrise(nbrs, vals)
    assert sym[0, 1] == pytest.approx(0.6) and sym[1, 1] == pytest.approx(0.6)  # (0,1): .8 and .4
    assert sym[0, 2] == pytest.approx(0.3) and sym[2, 2] == pytest.approx(0.3)  # (0,2): .1 and .5
    assert sym[1, 2] == pytest.approx(0.25) and sym[3, 2] == pytest.approx(0.25)  # (1,3): .3 and .2
    one_way = symmetrise(np.array([[0, 1], [1, 1]]), np.array([[1, 0.8], [1, 1]], dtype=np.float32))
    assert one_way[0, 1] == pytest.approx(0.8)
