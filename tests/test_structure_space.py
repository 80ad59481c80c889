"""Structure space against a direct set-based reference (a transcription of the definition)."""

from __future__ import annotations

import numpy as np
import pytest

from facecluster.graph.knn import exact_knn
from facecluster.ada_nets.structure_space import knn_precision_at, structure_space


def reference_structure_space(nbrs, sims, k, lam):
    """Obviously-correct Python-set version of DESIGN.md, Ada-NETS stage 2."""
    n = nbrs.shape[0]
    kh = k // 2

    def knn_set(i, kk):
        return set(int(x) for x in nbrs[i, :kk])

    def rset(i, kk):
        return {j for j in knn_set(i, kk) if i in knn_set(j, kk)}

    r_k = [rset(i, k) for i in range(n)]
    r_h = [rset(i, kh) for i in range(n)]
    r_star = []
    for i in range(n):
        s = set(r_k[i])
        for j in r_k[i]:
            if len(r_h[j] & r_k[i]) >= len(r_h[j]) * 2 / 3:
                s |= r_h[j]
        r_star.append(s)
    out_n = np.empty((n, k), np.int64)
    out_d = np.empty((n, k), np.float64)
    for i in range(n):
        rows = []
        for c in range(k):
            j = int(nbrs[i, c])
            jd = 1 - len(r_star[i] & r_star[j]) / len(r_star[i] | r_star[j])
            cd = 1 - float(sims[i, c])
            rows.append((j, (1 - lam) * jd + lam * cd))
        rows.sort(key=lambda x: x[1])  # Python's sort is stable
        out_n[i] = [r[0] for r in rows]
        out_d[i] = [r[1] for r in rows]
    return out_n, out_d


def clustered(n, dim=16, n_centres=25, spread=0.35, n_dup=0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_centres, dim))
    labels = rng.integers(0, n_centres, n)
    x = centres[labels] + spread * rng.standard_normal((n, dim))
    if n_dup:  # exact duplicates -> tied similarities and tied Jaccard distances
        src = rng.choice(n, n_dup, replace=False)
        dst = rng.choice(np.setdiff1d(np.arange(n), src), n_dup, replace=False)
        x[dst] = x[src]
        labels[dst] = labels[src]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def knn300():
    x, labels = clustered(300, n_dup=40)
    nbrs, sims = exact_knn(x, 30, backend="faiss")
    return nbrs, sims, labels


@pytest.mark.parametrize("k,lam", [(20, 0.3), (15, 0.3), (20, 0.0), (20, 1.0), (30, 0.3), (1, 0.3), (2, 0.5)])
def test_matches_reference(knn300, k, lam):
    nbrs, sims, _ = knn300
    got_n, got_d = structure_space(nbrs, sims, k=k, lam=lam)
    ref_n, ref_d = reference_structure_space(nbrs, sims, k, lam)
    assert got_n.dtype == np.int32 and got_d.dtype == np.float32
    assert got_n.shape == got_d.shape == (nbrs.shape[0], k)
    np.testing.assert_array_equal(got_n, ref_n)
    np.testing.assert_allclose(got_d, ref_d, rtol=0, atol=1e-6)
    assert np.all(np.diff(got_d, axis=1) >= 0)
    # each row is a permutation of the first k kNN neighbours
    np.testing.assert_array_equal(np.sort(got_n, axis=1), np.sort(nbrs[:, :k], axis=1))


def test_ties_are_stable():
    # many exact duplicates: whole groups of identical rows with identical R* sets
    x, _ = clustered(120, dim=8, n_centres=6, spread=0.2, seed=3)
    x = np.repeat(x[:40], 3, axis=0)
    nbrs, sims = exact_knn(x, 12, backend="faiss")
    for lam in (0.0, 0.3):
        got_n, got_d = structure_space(nbrs, sims, k=12, lam=lam)
        ref_n, ref_d = reference_structure_space(nbrs, sims, 12, lam)
        np.testing.assert_array_equal(got_n, ref_n)
        np.testing.assert_allclose(got_d, ref_d, rtol=0, atol=1e-6)


def test_random_lists_with_repeated_entries():
    # not a real kNN: random rows (self first) with repeated ids and ties -> still the definition
    rng = np.random.default_rng(7)
    n, k = 150, 16
    nbrs = np.concatenate([np.arange(n)[:, None], rng.integers(0, n, (n, k - 1))], axis=1).astype(np.int32)
    sims = np.round(np.sort(rng.random((n, k)), axis=1)[:, ::-1], 1).astype(np.float32)
    got_n, got_d = structure_space(nbrs, sims, k=k, lam=0.3)
    ref_n, ref_d = reference_structure_space(nbrs, sims, k, 0.3)
    np.testing.assert_array_equal(got_n, ref_n)
    np.testing.assert_allclose(got_d, ref_d, rtol=0, atol=1e-6)


def test_hand_made_lists_with_ties():
    # lam = 0 and all-equal Jaccard distances -> the kNN order must be kept exactly
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]], dtype=np.int32)
    sims = np.ones((3, 3), np.float32)
    got_n, got_d = structure_space(nbrs, sims, k=3, lam=0.0)
    np.testing.assert_array_equal(got_n, nbrs)
    np.testing.assert_allclose(got_d, 0.0, atol=1e-7)


def test_uses_first_k_columns_only(knn300):
    nbrs, sims, _ = knn300
    a = structure_space(nbrs, sims, k=15)
    b = structure_space(nbrs[:, :15].copy(), sims[:, :15].copy(), k=15)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_structure_space_improves_precision():
    # classes (~60) larger than k: the re-ranking should purify the neighbour lists
    x, labels = clustered(600, dim=16, n_centres=10, spread=0.8)
    nbrs, sims = exact_knn(x, 40, backend="faiss")
    ss_n, _ = structure_space(nbrs, sims, k=40)
    before = knn_precision_at(nbrs, labels, [10, 20])
    after = knn_precision_at(ss_n, labels, [10, 20])
    assert after[10] > before[10] and after[20] > before[20]


def test_validation():
    nbrs = np.zeros((2, 3), np.int32)
    sims = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        structure_space(nbrs, sims, k=4)
    with pytest.raises(ValueError):
        structure_space(nbrs, sims[:, :2], k=2)
    with pytest.raises(ValueError):
        structure_space(nbrs - 1, sims, k=2)
    with pytest.raises(ValueError):
        structure_space(nbrs, sims, k=2, lam=1.5)
    n, d = structure_space(np.empty((0, 5), np.int32), np.empty((0, 5), np.float32), k=5)
    assert n.shape == d.shape == (0, 5)


def test_knn_precision_at_hand_made():
    labels = np.array([0, 0, 0, 1, 1])
    # kNN rows: self in column 0
    knn = np.array(
        [
            [0, 1, 3, 2],  # @1: 1/1, @2: 1/2, @3: 2/3
            [1, 3, 4, 0],  # @1: 0,   @2: 0,   @3: 1/3
            [2, 0, 1, 3],  # @1: 1,   @2: 1,   @3: 2/3
            [3, 4, 0, 1],  # @1: 1,   @2: 1/2, @3: 1/3
            [4, 0, 3, 1],  # @1: 0,   @2: 1/2, @3: 1/3
        ]
    )
    got = knn_precision_at(knn, labels, [1, 2, 3])
    assert got[1] == pytest.approx((1 + 0 + 1 + 1 + 0) / 5)
    assert got[2] == pytest.approx((0.5 + 0 + 1 + 0.5 + 0.5) / 5)
    assert got[3] == pytest.approx((2 / 3 + 1 / 3 + 2 / 3 + 1 / 3 + 1 / 3) / 5)
    assert set(got) == {1, 2, 3}
    # structure-space style: self not first -> excluded wherever it sits
    ss = np.array([[1, 0, 3, 2], [3, 1, 4, 0], [0, 1, 2, 3], [4, 3, 0, 1], [0, 3, 1, 4]])
    got_ss = knn_precision_at(ss, labels, [1, 2, 3])
    for k in (1, 2, 3):
        assert got_ss[k] == pytest.approx(got[k])
    with pytest.raises(ValueError):
        knn_precision_at(knn, labels, [5])
