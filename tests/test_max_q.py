"""max-Q indices against a loop reference (a transcription of the definition)."""

from __future__ import annotations

import numpy as np
import pytest

from facecluster.ada_nets.max_q import max_q_indices


def reference_max_q(nbrs, labels, beta):
    n, k = nbrs.shape
    out = np.empty(n, np.int64)
    for i in range(n):
        total = int(np.sum(labels == labels[i]))
        best, best_t = -1.0, 0
        for t in range(1, k + 1):
            res = [1 if (c == 0 or labels[nbrs[i, c]] == labels[i]) else 0 for c in range(t)]
            prec = np.mean(res)
            rec = np.sum(res) / total
            q = (1 + beta * beta) * prec * rec / (beta * beta * prec + rec)
            if q > best:  # strict: the first maximum wins
                best, best_t = q, t
        out[i] = best_t
    return out


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_matches_reference_random(beta):
    rng = np.random.default_rng(1)
    n, k = 400, 20
    labels = rng.integers(0, 30, n)
    labels[:5] = 1000 + np.arange(5)  # classes of size 1
    nbrs = np.empty((n, k), np.int64)
    for i in range(n):
        same = np.flatnonzero(labels == labels[i])
        pool = np.concatenate([rng.permutation(same), rng.integers(0, n, k)])
        row = pool[:k].copy()
        rng.shuffle(row[1:])
        if rng.random() < 0.2:  # first entry not i (and maybe another class)
            row[0] = rng.integers(0, n)
        nbrs[i] = row
    got = max_q_indices(nbrs, labels, beta)
    np.testing.assert_array_equal(got, reference_max_q(nbrs, labels, beta))
    assert got.min() >= 1 and got.max() <= k


def test_edge_cases():
    labels = np.array([0, 1, 1, 1, 2, 2])
    nbrs = np.array(
        [
            [0, 1, 2],  # class of size 1: k* = 1
            [1, 2, 3],  # whole class in order: k* = 3
            [4, 1, 3],  # first entry counts as correct although it is class 2; then 1, 3 correct
            [3, 4, 5],  # only itself: k* = 1
            [2, 5, 0],  # first wrong (counted correct), then 5 correct: Q_2 > Q_1
            [5, 0, 4],  # correct, wrong, correct: Q_1 = 0.833 > Q_3 = 0.714
        ]
    )
    got = max_q_indices(nbrs, labels, 0.5)
    np.testing.assert_array_equal(got, reference_max_q(nbrs, labels, 0.5))
    np.testing.assert_array_equal(got, [1, 3, 3, 1, 2, 1])


def test_validation():
    with pytest.raises(ValueError):
        max_q_indices(np.zeros((3, 2), np.int64), np.zeros(2))
    with pytest.raises(ValueError):
        max_q_indices(np.full((2, 2), 5), np.zeros(2))
    assert max_q_indices(np.empty((0, 4), np.int64), np.empty(0)).shape == (0,)
