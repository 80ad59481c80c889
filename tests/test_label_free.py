"""Label-free parameter choice (facecluster.evaluation.label_free): fast checks on hand-made graphs."""

from __future__ import annotations

import numpy as np
import pytest

from facecluster.evaluation import label_free as lf
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.graph.ops import threshold_clusters

GRID = np.round(np.arange(0.0, 1.0, 0.02), 2)


def exact_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN (self first) of the rows of ``x``."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ x.T
    np.fill_diagonal(s, 2.0)  # self first
    nbrs = np.argsort(-s, axis=1)[:, :k]
    sims = np.take_along_axis(s, nbrs, axis=1)
    sims[:, 0] = 1.0
    return nbrs.astype(np.int32), sims.astype(np.float32)


@pytest.fixture(scope="module")
def groups():
    """Four well-separated groups (8, 10, 12, 14 members) around orthogonal centres, k = 16."""
    rng = np.random.default_rng(0)
    sizes = [8, 10, 12, 14]
    truth = np.repeat(np.arange(len(sizes)), sizes)
    centres = np.eye(32)[: len(sizes)] * 4.0
    x = centres[truth] + 0.35 * rng.standard_normal((truth.size, 32))
    nbrs, sims = exact_knn(x, 16)
    return truth, nbrs, sims


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return pairwise_scores(a, b)["fscore"] == pytest.approx(1.0)


@pytest.mark.parametrize("criterion", list(lf.CRITERIA))
def test_criterion_separates_groups(groups, criterion):
    truth, nbrs, sims = groups
    cluster = lambda v: threshold_clusters(nbrs, sims, v)  # noqa: E731
    # the extremes of the grid merge everything / split everything
    assert np.unique(cluster(GRID[0])).size == 1
    assert np.unique(cluster(GRID[-1])).size == truth.size
    out = lf.choose_label_free(cluster, GRID, nbrs, sims, criterion)
    assert out["criterion"] == criterion
    assert out["value"] in GRID
    assert _same_partition(truth, cluster(out["value"])), out
    if criterion in lf.PARTITION_CRITERIA:
        assert out["kind"] == "partition"
        scores = dict((v, s) for v, s in out["curve"])
        assert [v for v, _ in out["curve"]] == sorted(GRID.tolist())
        assert scores[out["value"]] > scores[GRID[0]]
        assert scores[out["value"]] > scores[GRID[-1]]
    else:
        assert out["kind"] == "similarity" and out["curve"] == []
        assert 0.0 < out["threshold"] < 1.0


def test_similarity_criteria_do_not_cluster(groups):
    truth, nbrs, sims = groups

    def cluster(v):
        raise AssertionError("a similarity criterion must not call cluster")

    for criterion in lf.SIMILARITY_CRITERIA:
        lf.choose_label_free(cluster, GRID, nbrs, sims, criterion, k=16)


def test_distance_param_is_one_minus_threshold(groups):
    _, nbrs, sims = groups
    cos = lf.choose_label_free(None, GRID, nbrs, sims, "mixture")
    dist = lf.choose_label_free(None, GRID, nbrs, sims, "mixture", param="distance")
    assert dist["threshold"] == pytest.approx(cos["threshold"])
    assert dist["value"] == pytest.approx(GRID[np.argmin(np.abs(GRID - (1.0 - cos["threshold"])))])


def test_modularity_matches_igraph():
    ig = pytest.importorskip("igraph")
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(5), 12)
    x = np.eye(24)[truth] * 2.0 + 0.8 * rng.standard_normal((truth.size, 24))
    nbrs, sims = exact_knn(x, 9)
    sims = np.abs(sims)  # positive weights: the criterion counts negative cosines as 0
    # the reference graph built by igraph from the directed kNN lists: undirected, the larger weight
    n, k = nbrs.shape
    src = np.repeat(np.arange(n), k)
    keep = nbrs.ravel() != src
    g = ig.Graph(n=n, edges=list(zip(src[keep].tolist(), nbrs.ravel()[keep].tolist())), directed=True)
    g.es["weight"] = sims.ravel()[keep].astype(float).tolist()
    g.to_undirected(mode="collapse", combine_edges="max")
    graph = lf.knn_graph(nbrs, sims)
    for labels in (truth, rng.integers(0, 4, truth.size), np.zeros(truth.size, dtype=int),
                   threshold_clusters(nbrs, sims, 0.5)):
        ref = g.modularity(labels.tolist(), weights="weight")
        assert lf.modularity(labels, graph) == pytest.approx(ref, abs=1e-9)


def test_pseudo_fscore_is_pairwise_f_when_every_positive_pair_is_listed(groups):
    truth, nbrs, sims = groups  # k = 16 >= the largest group (14): every same-group pair is listed
    graph = lf.knn_graph(nbrs, sims)
    positive = truth[graph.row] == truth[graph.col]
    rng = np.random.default_rng(2)
    for pred in (truth, rng.integers(0, 3, truth.size), threshold_clusters(nbrs, sims, 0.3), np.arange(truth.size)):
        assert lf.pseudo_fscore(pred, graph, positive) == pytest.approx(pairwise_scores(truth, pred)["fscore"])


def test_score_k_reads_the_first_columns(groups):
    truth, nbrs, sims = groups
    cluster = lambda v: threshold_clusters(nbrs, sims, v)  # noqa: E731
    narrow = lf.choose_label_free(cluster, GRID, nbrs, sims, "mutual_f", score_k=8)
    sliced = lf.choose_label_free(cluster, GRID, nbrs[:, :8], sims[:, :8], "mutual_f", score_k=None)
    assert narrow["curve"] == sliced["curve"]


def test_unknown_criterion_raises(groups):
    _, nbrs, sims = groups
    with pytest.raises(ValueError, match="unknown label-free criterion 'nope'.*modularity.*mutual_f"):
        lf.choose_label_free(lambda v: np.zeros(nbrs.shape[0]), GRID, nbrs, sims, "nope")


def test_bad_arguments_raise(groups):
    _, nbrs, sims = groups
    cluster = lambda v: threshold_clusters(nbrs, sims, v)  # noqa: E731
    with pytest.raises(ValueError, match="param='other'"):
        lf.choose_label_free(cluster, GRID, nbrs, sims, "mixture", param="other")
    with pytest.raises(ValueError, match="param must be"):
        lf.choose_label_free(cluster, GRID, nbrs, sims, "mutual_f", param="angle")
    with pytest.raises(ValueError, match="empty parameter grid"):
        lf.choose_label_free(cluster, [], nbrs, sims, "mutual_f")
    with pytest.raises(ValueError, match="a partition of 3 nodes"):
        lf.choose_label_free(lambda v: np.zeros(3), GRID, nbrs, sims, "modularity")
