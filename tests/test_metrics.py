"""Metrics against a brute-force O(N^2) reference over all pairs / samples."""

import itertools
import math

import numpy as np
import pytest

from facecluster.evaluation.metrics import bcubed_scores, evaluate, nmi, pairwise_scores


def _f(p, r):
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def brute_pairwise(t, p):
    tp = pred = true = 0
    for i, j in itertools.combinations(range(len(t)), 2):
        same_t, same_p = t[i] == t[j], p[i] == p[j]
        tp += same_t and same_p
        pred += same_p
        true += same_t
    prec = tp / pred if pred else 1.0
    rec = tp / true if true else 1.0
    return prec, rec, _f(prec, rec)


def brute_bcubed(t, p):
    n = len(t)
    ps, rs = [], []
    for i in range(n):
        c = {j for j in range(n) if p[j] == p[i]}
        lab = {j for j in range(n) if t[j] == t[i]}
        ps.append(len(c & lab) / len(c))
        rs.append(len(c & lab) / len(lab))
    prec, rec = sum(ps) / n, sum(rs) / n
    return prec, rec, _f(prec, rec)


def brute_nmi(t, p):
    n = len(t)
    def h(x):
        return -sum((x.count(v) / n) * math.log(x.count(v) / n) for v in set(x))
    t, p = list(t), list(p)
    ht, hp = h(t), h(p)
    mi = 0.0
    for a in set(t):
        for b in set(p):
            nij = sum(1 for i in range(n) if t[i] == a and p[i] == b)
            if nij:
                mi += nij / n * math.log(n * nij / (t.count(a) * p.count(b)))
    if ht == 0 and hp == 0:
        return 1.0
    if ht == 0 or hp == 0:
        return 0.0
    return mi / ((ht + hp) / 2)


LABELINGS = [
    ([0], [0]),                                  # one sample
    ([0, 0, 1, 1], [0, 1, 2, 3]),                # all singletons predicted
    ([0, 1, 2, 3], [7, 7, 7, 7]),                # one predicted cluster, singleton truth
    ([0, 0, 0, 0], [1, 1, 1, 1]),                # one cluster on both sides
    ([0, 1, 2, 3], [0, 1, 2, 3]),                # singletons on both sides
    ([5, 5, 9, 9, 9, 2], [1, 1, 1, 3, 3, 4]),    # arbitrary ids
]


@pytest.mark.parametrize("t,p", LABELINGS)
def test_edge_cases_match_reference(t, p):
    got = evaluate(np.array(t), np.array(p))
    for key, ref in (("pairwise", brute_pairwise(t, p)), ("bcubed", brute_bcubed(t, p))):
        assert [got[key]["precision"], got[key]["recall"], got[key]["fscore"]] == pytest.approx(list(ref))
    assert got["nmi"] == pytest.approx(brute_nmi(t, p))
    for v in (got["nmi"], got["pairwise"]["fscore"], got["bcubed"]["fscore"]):
        assert 0.0 <= v <= 1.0 and not math.isnan(v)


@pytest.mark.parametrize("seed", range(6))
def test_random_labelings_match_reference(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 70))
    t = rng.integers(0, rng.integers(1, 12), n)
    p = rng.integers(0, rng.integers(1, 12), n) * 3 - 5  # negative ids too
    assert tuple(pairwise_scores(t, p).values()) == pytest.approx(brute_pairwise(list(t), list(p)))
    assert tuple(bcubed_scores(t, p).values()) == pytest.approx(brute_bcubed(list(t), list(p)))
    assert nmi(t, p) == pytest.approx(brute_nmi(list(t), list(p)))


def test_perfect_and_counts():
    t = np.array([3, 3, 1, 1, 1, 8])
    got = evaluate(t, t + 100)
    assert got["pairwise"]["fscore"] == 1.0 and got["bcubed"]["fscore"] == 1.0
    assert got["nmi"] == pytest.approx(1.0)
    assert (got["n_samples"], got["n_clusters_true"], got["n_clusters_pred"]) == (6, 3, 3)


def test_length_mismatch_and_empty_raise():
    with pytest.raises(ValueError, match="differ in length"):
        evaluate(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        evaluate(np.zeros(0), np.zeros(0))


def test_pairwise_touching_rows_against_brute_force():
    """Pairs with at least one end in ``rows``, counted one by one: a held-out sample joined to a
    cluster of other samples is a wrong pair, which pairs *among* the rows alone would miss."""
    from itertools import combinations

    from facecluster.evaluation.metrics import pairwise_scores_touching

    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        t, p = rng.integers(0, 6, n), rng.integers(0, 5, n)
        rows = np.flatnonzero(rng.random(n) < 0.4)
        inside = set(rows.tolist())
        pairs = [(i, j) for i, j in combinations(range(n), 2) if i in inside or j in inside]
        tp = sum(t[i] == t[j] and p[i] == p[j] for i, j in pairs)
        pred = sum(p[i] == p[j] for i, j in pairs)
        true = sum(t[i] == t[j] for i, j in pairs)
        s = pairwise_scores_touching(t, p, rows)
        assert s["precision"] == pytest.approx(tp / pred if pred else 1.0)
        assert s["recall"] == pytest.approx(tp / true if true else 1.0)
    # a held-out pair kept together but joined to an outside sample loses precision
    t, p = np.array([0, 0, 1]), np.array([0, 0, 0])
    assert pairwise_scores_touching(t, p, np.array([0, 1]))["precision"] == pytest.approx(1 / 3)
    assert pairwise_scores_touching(t, p, np.arange(3))["precision"] == pytest.approx(1 / 3)
