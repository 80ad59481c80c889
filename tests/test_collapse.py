"""Degenerate results are refused with a message that names the stage and the numbers."""

import numpy as np
import pytest

from facecluster.collapse import CollapseError, check_curve_not_flat, check_embeddings_not_collapsed, check_not_single_cluster, check_training_not_collapsed
from facecluster.evaluation.search import search_grid


def test_collapse_is_refused_in_training_and_inference():
    terms = {"min_cos": [0.5] * 10 + [0.99999] * 100}
    curve = [(i + 1, 2.0, 0.1) for i in range(110)]
    with pytest.raises(CollapseError, match="GCN training collapsed.*smallest pairwise cosine"):
        check_training_not_collapsed(curve, terms, "GCN training")
    check_training_not_collapsed(curve, {"min_cos": [0.99999] * 100 + [0.3]}, "GCN training")  # recovered: fine
    e = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (50, 1))
    with pytest.raises(CollapseError, match="all but identical"):
        check_embeddings_not_collapsed(e, "GCN inference")
    e[0] = [1.0, 0.0]
    check_embeddings_not_collapsed(e, "GCN inference")


def test_flat_parameter_curve_is_refused():
    with pytest.raises(CollapseError, match=r"tau search: the pairwise F curve on the train split is flat \(F between 0.003000"):
        check_curve_not_flat([(0.3, 0.003), (0.4, 0.003), (0.5, 0.003)], "tau search")
    check_curve_not_flat([(0.3, 0.003), (0.4, 0.2), (0.5, 0.1)], "tau search")
    flat = [(0.3, 0.73), (0.4, 0.73), (0.5, 0.73)]
    with pytest.raises(CollapseError, match=r"\(1..1 clusters of 300 nodes\)"):  # one cluster at every value
        check_curve_not_flat(flat, "tau search", n_clusters=[1, 1, 1], n=300)
    with pytest.raises(CollapseError, match="flat"):  # all singletons
        check_curve_not_flat(flat, "tau search", n_clusters=[300, 300, 300], n=300)
    check_curve_not_flat(flat, "tau search", n_clusters=[12, 12, 12], n=300)  # one non-trivial partition: passes
    # through the one parameter search: a clustering that ignores the value
    labels = np.repeat(np.arange(10), 10)
    with pytest.raises(CollapseError, match="flat"):
        search_grid(lambda v: np.zeros(100, dtype=np.int64), labels, np.array([0.3, 0.5, 0.7]), "tau")
    best, _, _ = search_grid(lambda v: labels if v > 0.4 else np.zeros(100, dtype=np.int64), labels, np.array([0.3, 0.5, 0.7]), "tau")
    assert best == 0.5


def test_single_cluster_is_refused_above_a_minimum_size():
    with pytest.raises(CollapseError, match="all 200 nodes fell into a single cluster"):
        check_not_single_cluster(np.zeros(200, dtype=np.int64), "ada_nets")
    check_not_single_cluster(np.zeros(10, dtype=np.int64), "ada_nets")  # tiny: may be right
    check_not_single_cluster(np.r_[np.zeros(199), 1].astype(np.int64), "ada_nets")
