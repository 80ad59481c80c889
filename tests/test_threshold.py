"""knn_cc clustering and threshold tuning on hand-made graphs."""

import numpy as np
import pytest

from facecluster.evaluation.search import grid_from_config, threshold_grid
from facecluster.methods.graph_methods import tune_graph_method
from facecluster.graph.ops import threshold_clusters


def _graph():
    # 0-1-2 strongly linked, 3-4 strongly linked, 2-3 weak bridge, 5 isolated
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 3], [3, 4, 2], [4, 3, 0], [5, 0, 1]], dtype=np.int32)
    sims = np.array([[1, .9, .85], [1, .9, .8], [1, .8, .5], [1, .95, .5], [1, .95, .1], [1, .2, .1]], dtype=np.float32)
    return nbrs, sims


def _same_partition(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return all((a[i] == a[j]) == (b[i] == b[j]) for i in range(len(a)) for j in range(len(a)))


@pytest.mark.parametrize("tau,expected", [
    (0.6, [0, 0, 0, 1, 1, 2]),
    (0.4, [0, 0, 0, 0, 0, 1]),
    (0.96, [0, 1, 2, 3, 4, 5]),
    (0.0, [0, 0, 0, 0, 0, 0]),
])
def test_threshold_clusters(tau, expected):
    nbrs, sims = _graph()
    got = threshold_clusters(nbrs, sims, tau)
    assert got.dtype == np.int64
    assert _same_partition(got, expected)


def test_tuning_picks_the_best_threshold_on_train():
    nbrs, sims = _graph()
    truth = np.array([0, 0, 0, 1, 1, 2])
    tau, curve, _ = tune_graph_method("knn_cc", nbrs, sims, truth, {"k": nbrs.shape[1]}, threshold_grid(0.3, 0.9, 0.1))
    assert tau == pytest.approx(0.6)  # 0.6..0.8 all perfect; ties go to the smallest
    assert dict(curve)[0.6] == pytest.approx(1.0)
    assert dict(curve)[0.3] < 1.0


def test_grid_is_inclusive_and_exact():
    g = threshold_grid(0.3, 0.95, 0.01)
    assert g[0] == 0.3 and g[-1] == 0.95 and len(g) == 66


def test_grid_segments_union():
    g = grid_from_config([{"start": 0.9, "stop": 0.99, "step": 0.01}, {"start": 0.99, "stop": 0.999, "step": 0.001}])
    assert g[0] == 0.9 and g[-1] == 0.999 and len(g) == 19 and np.all(np.diff(g) > 0)
    assert np.array_equal(grid_from_config([{"start": 0.3, "stop": 0.5, "step": 0.1}]), [0.3, 0.4, 0.5])
