"""Adaptive / kNN adjacency construction and edge diagnostics."""

import numpy as np
import pytest

from facecluster.graph.ops import build_adjacency
from facecluster.ada_nets.adjacency import edge_precision_recall


def test_prefix_symmetrise_selfloops_rownormalise():
    nbrs = np.array([[0, 1, 2], [1, 2, 0], [2, 1, 0], [3, 0, 1]])
    w = np.array([[1.0, 0.8, 0.5], [1.0, 0.9, 0.8], [1.0, 0.9, -0.2], [1.0, 0.3, 0.1]], dtype=np.float32)
    keep = np.array([2, 3, 3, 1])  # k_i counts the node itself (first entry)
    a = build_adjacency(nbrs, w, keep).toarray()
    pattern = a > 0
    expected = np.array([
        [1, 1, 0, 0],   # 0 keeps 1; 1 keeps 0 (0.8) too
        [1, 1, 1, 0],   # 1 keeps 2 and 0
        [0, 1, 1, 0],   # 2 keeps 1; 2->0 has weight -0.2 < 0: dropped
        [0, 0, 0, 1],   # 3 keeps only itself
    ], dtype=bool)
    assert np.array_equal(pattern, expected)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    # element-wise max symmetrisation: edge 0-1 weight max(0.8, 0.8); row 1 = [0.8, 1, 0.9] / 2.7
    np.testing.assert_allclose(a[1], np.array([0.8, 1.0, 0.9, 0.0]) / 2.7, rtol=1e-6)


def test_integer_keep_and_edge_stats():
    rng = np.random.default_rng(0)
    n, k = 50, 6
    nbrs = np.column_stack([np.arange(n), rng.integers(0, n, (n, k - 1))])
    w = np.ones((n, k), dtype=np.float32)
    a = build_adjacency(nbrs, w, k)
    assert (abs(a - a.T) > 1e-6).nnz == 0 or ((a > 0) != (a > 0).T).nnz == 0
    labels = np.zeros(n, dtype=int)
    stats = edge_precision_recall(a, labels)
    assert stats["precision"] == 1.0 and 0 < stats["recall"] <= 1.0
    assert stats["edges"] == (a.nnz - n) // 2


def test_edge_stats_counts_wrong_edges():
    nbrs = np.array([[0, 1], [1, 0], [2, 3], [3, 2]])
    a = build_adjacency(nbrs, np.ones((4, 2), dtype=np.float32), 2)
    stats = edge_precision_recall(a, np.array([0, 0, 1, 2]))
    assert stats == pytest.approx({"edges": 2, "precision": 0.5, "recall": 1.0})


def test_loss_optimal_constant():
    from facecluster.ada_nets.diagnostics import loss_optimal_constant

    assert loss_optimal_constant(np.array([7, 7, 7]), 10) == 7
    # small targets dominate the relative loss: the best constant sits far below the mean
    k_star = np.array([1] * 10 + [80] * 90)
    assert loss_optimal_constant(k_star, 80) < 40 < k_star.mean()
