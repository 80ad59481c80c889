"""Input validation and atomic writes."""

import os

import numpy as np
import pytest

from facecluster.data.io import InputError, atomic_path, l2_normalise, load_knn, load_npy_features, load_npy_labels, save_knn


def _write(tmp_path, name, arr):
    path = tmp_path / name
    np.save(path, arr)
    return str(path)


def test_good_features_roundtrip(tmp_path):
    x = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    path = _write(tmp_path, "f.npy", x)
    got = load_npy_features(path, dim=8)
    np.testing.assert_array_equal(got, x)
    np.testing.assert_allclose(np.linalg.norm(l2_normalise(got), axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("bad,message", [
    (np.full((5, 8), np.nan, dtype=np.float32), "NaN"),
    (np.array([[1.0] * 8, [np.inf] + [0.0] * 7], dtype=np.float32), "Inf"),
    (np.vstack([np.ones((3, 8)), np.zeros((1, 8))]).astype(np.float32), "row 3 is all zeros"),
    (np.ones((5, 7), dtype=np.float32), "dimension is 7"),
    (np.ones(8, dtype=np.float32), "2-D"),
    (np.ones((5, 8), dtype=np.int32), "floating point"),
])
def test_bad_features_name_file_and_problem(tmp_path, bad, message):
    path = _write(tmp_path, "bad.npy", bad)
    with pytest.raises(InputError, match=message) as err:
        load_npy_features(path, dim=8)
    assert path in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_npy_features(str(tmp_path / "nope.npy"))


def test_labels_validation(tmp_path):
    good = _write(tmp_path, "y.npy", np.array([1, 2, 3]))
    assert load_npy_labels(good, 3, "f.npy").dtype == np.int64
    with pytest.raises(InputError, match=r"3 labels but f.npy has 4 feature rows"):
        load_npy_labels(good, 4, "f.npy")
    frac = _write(tmp_path, "frac.npy", np.array([1.5, 2.0]))
    with pytest.raises(InputError, match="integers"):
        load_npy_labels(frac, 2, "f.npy")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


def test_knn_roundtrip(tmp_path):
    nbrs = np.array([[0, 1], [1, 0]])
    sims = np.array([[1.0, 0.5], [1.0, 0.5]])
    save_knn(tmp_path / "knn.npz", nbrs, sims)
    n, s = load_knn(tmp_path / "knn.npz")
    assert n.dtype == np.int32 and s.dtype == np.float32
    assert n.tolist() == [[0, 1], [1, 0]]
