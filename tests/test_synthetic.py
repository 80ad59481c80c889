"""Tests of the synthetic benchmark generator (facecluster.synthetic) and its calibration."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from facecluster.synthetic import SyntheticParams, generate_split, params_from_dict, shared_structure

REPO = Path(__file__).resolve().parents[1]
SMALL = SyntheticParams(n_samples=3000)


@pytest.fixture(scope="module")
def small_test():
    return generate_split(SMALL, "test", 0)


def test_shapes_dtypes_and_normalisation(small_test):
    x, y = small_test
    assert x.shape == (3000, 256) and x.dtype == np.float32
    assert y.shape == (3000,) and y.dtype == np.int64
    assert np.isfinite(x).all()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    # labels are 0..n_ids-1, every id used
    assert y.min() == 0 and np.array_equal(np.unique(y), np.arange(y.max() + 1))


def test_long_tail_with_singletons_and_large_identities(small_test):
    _, y = small_test
    counts = np.bincount(y)
    assert (counts == 1).sum() > 0
    assert counts.max() > 80
    # most samples sit in identities larger than the kNN width
    big = SyntheticParams()
    _, yb = generate_split(big, "test", 0)
    cb = np.bincount(yb)
    assert cb[cb > 80].sum() / cb.sum() > 0.6
    assert (cb == 1).sum() > 0


def test_deterministic(small_test):
    x2, y2 = generate_split(SMALL, "test", 0)
    assert np.array_equal(small_test[0], x2) and np.array_equal(small_test[1], y2)


def test_splits_and_seeds_differ(small_test):
    x, y = small_test
    xt, yt = generate_split(SMALL, "train", 0)
    xo, _ = generate_split(SMALL, "part7_test", 0)
    xs, _ = generate_split(SMALL, "test", 1)
    for other in (xt, xo, xs):
        assert not np.array_equal(x[: len(other)], other[: len(x)])
    # train and test identities are different draws: no test identity centre coincides with a
    # train identity centre (mean of the samples, compared by cosine)
    def centres(f, lab):
        m = np.zeros((lab.max() + 1, f.shape[1]))
        np.add.at(m, lab, f)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    ct, cte = centres(xt, yt), centres(x, y)
    big_t, big_te = np.bincount(yt) >= 20, np.bincount(y) >= 20
    cross = cte[big_te] @ ct[big_t].T
    same = cte[big_te] @ cte[big_te].T
    assert cross.max() < 0.99
    assert np.allclose(np.diag(same), 1.0)


def test_shared_structure_depends_on_seed_only():
    a = shared_structure(SMALL, 0)
    b = shared_structure(dataclasses.replace(SMALL, n_samples=500), 0)
    c = shared_structure(SMALL, 1)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    assert not np.allclose(a[0], c[0])
    basis = np.concatenate(a, axis=1)
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-10)


def test_non_default_sizes():
    x, y = generate_split(SyntheticParams(n_samples=50, dim=64), "test", 3)
    assert x.shape == (50, 64) and y.size == 50
    x1, y1 = generate_split(SyntheticParams(n_samples=1), "train", 0)
    assert x1.shape == (1, 256) and y1.tolist() == [0]


def test_params_from_dict():
    assert params_from_dict({}) == SyntheticParams()
    p = params_from_dict({"n_samples": 500, "mode_scale": 1, "dim": 128.0})
    assert p.n_samples == 500 and p.dim == 128 and isinstance(p.dim, int)
    assert isinstance(p.mode_scale, float)
    with pytest.raises(ValueError, match="bogus"):
        params_from_dict({"n_samples": 10, "bogus": 1})
    with pytest.raises(ValueError, match="n_samples"):
        params_from_dict({"n_samples": 10.5})
    with pytest.raises(ValueError):
        params_from_dict({"centre_dim": 250, "mode_dim": 10})


def _calibration_module():
    spec = importlib.util.spec_from_file_location("calibrate_synthetic", REPO / "benchmarks" / "calibrate_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_default_calibration_targets():
    """Targets on the pipeline's default (seed 0, 20,000 samples per split)."""
    cal = _calibration_module()
    res = cal.calibrate(SyntheticParams(), seed=0, headroom=False)
    f = res["knn_cc"]["pairwise"]["fscore"]
    assert 0.65 <= res["precision_at_80"] <= 0.80, res["precision_at_80"]
    assert 0.60 <= f <= 0.75, f
    assert res["smoothing_gap"] <= 0.05, res["smoothing_gap"]
