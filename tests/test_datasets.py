"""Readers of the public release formats: round trips on fixture files written here, and the errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from facecluster.data.datasets import check_md5, feature_rows, import_release_knn, read_features, read_gcn_knn_graph, read_l2c_knn, read_labels, write_bin_features, write_l2c_knn, write_meta_labels
from facecluster.data.io import InputError, l2_normalise
from facecluster.graph.knn import exact_knn


def clustered(n: int = 300, d: int = 16, ids: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(ids, size=n)
    centres = rng.normal(size=(ids, d))
    x = (centres[labels] + 0.6 * rng.normal(size=(n, d))).astype(np.float32)
    return x, labels.astype(np.int64)


def test_bin_and_meta_round_trip(tmp_path):
    x, y = clustered()
    write_bin_features(tmp_path / "f.bin", x)
    write_meta_labels(tmp_path / "l.meta", y)
    assert (tmp_path / "f.bin").stat().st_size == x.size * 4  # raw float32, no header
    back = read_features(str(tmp_path / "f.bin"), dim=x.shape[1])
    assert isinstance(back, np.memmap)
    np.testing.assert_array_equal(np.asarray(back), x)
    assert feature_rows(str(tmp_path / "f.bin"), x.shape[1]) == x.shape[0]
    lines = (tmp_path / "l.meta").read_text().splitlines()
    assert lines[:3] == [str(v) for v in y[:3]]
    np.testing.assert_array_equal(read_labels(str(tmp_path / "l.meta"), len(y), "f.bin"), y)


def test_npy_round_trip(tmp_path):
    x, y = clustered()
    np.save(tmp_path / "f.npy", x)
    np.save(tmp_path / "l.npy", y[:, None].astype(np.float64))  # (N, 1) float labels, as some releases
    np.testing.assert_array_equal(np.asarray(read_features(str(tmp_path / "f.npy"), dim=16)), x)
    np.testing.assert_array_equal(read_labels(str(tmp_path / "l.npy"), len(y), "f.npy"), y)


@pytest.mark.parametrize(
    "problem, message",
    [
        ("bin_size", "not a multiple of 4·d = 64"),
        ("bin_dim_wrong", "feature dimension is 8"),
        ("meta_text", "line 3 is not an integer label"),
        ("meta_count", "299 labels but"),
        ("nan", "contain NaN"),
        ("format", "unknown feature format '.txt'"),
    ],
)
def test_reader_errors_name_file_and_problem(tmp_path, problem, message):
    x, y = clustered()
    feat, lab = tmp_path / "f.bin", tmp_path / "l.meta"
    write_bin_features(feat, x)
    write_meta_labels(lab, y)
    dim = 16
    if problem == "bin_size":
        with open(feat, "ab") as fh:
            fh.write(b"\0\0\0\0")
    elif problem == "bin_dim_wrong":
        feat = tmp_path / "f.npy"
        np.save(feat, x[:, :8])
    elif problem == "meta_text":
        lines = lab.read_text().splitlines()
        lines[2] = "id_7"
        lab.write_text("\n".join(lines) + "\n")
    elif problem == "meta_count":
        write_meta_labels(lab, y[:-1])
    elif problem == "nan":
        x[5, 3] = np.nan
        write_bin_features(feat, x)
    elif problem == "format":
        feat = tmp_path / "f.txt"
        feat.write_text("1 2 3\n")
    with pytest.raises(InputError) as err:
        read_features(str(feat), dim=dim)
        read_labels(str(lab), x.shape[0], str(feat))
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_md5_check(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"facecluster")
    good = hashlib.md5(b"facecluster").hexdigest()
    check_md5(str(path), good)
    check_md5(str(path), good.upper())
    check_md5(str(path), None)
    with pytest.raises(InputError, match=f"md5 is {good}, the published md5 is 0+"):
        check_md5(str(path), "0" * 32)


def test_l2c_knn_export_layout_and_round_trip(tmp_path):
    x, _ = clustered()
    f = l2_normalise(x)
    nbrs, sims = exact_knn(f, 10, backend="faiss")
    write_l2c_knn(str(tmp_path / "faiss_k_10.npz"), nbrs, sims)
    with np.load(tmp_path / "faiss_k_10.npz") as z:
        data = z["data"]
    assert data.shape == (f.shape[0], 2, 10) and data.dtype == np.float32
    np.testing.assert_array_equal(data[:, 0].astype(np.int64), nbrs)  # row 0: neighbour ids
    np.testing.assert_allclose(data[:, 1], 1.0 - sims, atol=1e-6)  # row 1: cosine distances
    assert np.all(np.diff(data[:, 1], axis=1)[:, 1:] >= -1e-6)  # ascending distance after self
    ids, back = read_l2c_knn(str(tmp_path / "faiss_k_10.npz"))
    np.testing.assert_array_equal(ids, nbrs)
    np.testing.assert_allclose(back, sims, atol=1e-6)


def test_release_knn_imports_match_the_computed_knn(tmp_path):
    x, _ = clustered()
    f = l2_normalise(x)
    nbrs, sims = exact_knn(f, 12, backend="faiss")
    rng = np.random.default_rng(1)
    # learn-to-cluster layout, columns shuffled and cosines perturbed: ids are used, sims recomputed
    perm = rng.permutation(12)
    write_l2c_knn(str(tmp_path / "k.npz"), nbrs[:, perm], sims[:, perm] - 1e-3)
    got_n, got_s, info = import_release_knn(str(tmp_path / "k.npz"), f, 8)
    np.testing.assert_array_equal(got_n, nbrs[:, :8])
    np.testing.assert_allclose(got_s, sims[:, :8], atol=1e-6)
    assert info["release_k"] == 12 and info["max_abs_sim_difference"] == pytest.approx(1e-3, abs=1e-5)
    # gcn_clustering layout: (N, K+1), node id first, rows in any order, no similarities
    graph = np.concatenate([np.arange(len(f))[:, None], nbrs[:, 1:]], axis=1)[rng.permutation(len(f))]
    np.save(tmp_path / "knn.graph.bf.npy", graph)
    np.testing.assert_array_equal(read_gcn_knn_graph(str(tmp_path / "knn.graph.bf.npy"))[:, 0], nbrs[:, 1])
    got_n, got_s, _ = import_release_knn(str(tmp_path / "knn.graph.bf.npy"), f, 8)
    np.testing.assert_array_equal(got_n, nbrs[:, :8])  # self put back in column 0
    np.testing.assert_allclose(got_s, sims[:, :8], atol=1e-6)


@pytest.mark.parametrize(
    "problem, message",
    [("narrow", "5 neighbours per node, the dataset config needs knn.k = 8"),
     ("rows", "kNN of 299 nodes, but the features have 300 rows"),
     ("padding", "rows hold ids outside 0..299"),
     ("graph_ids", "first column must hold every node id")],
)
def test_release_knn_errors(tmp_path, problem, message):
    x, _ = clustered()
    f = l2_normalise(x)
    nbrs, sims = exact_knn(f, 10, backend="faiss")
    path = str(tmp_path / "k.npz")
    if problem == "narrow":
        write_l2c_knn(path, nbrs[:, :5], sims[:, :5])
    elif problem == "rows":
        write_l2c_knn(path, nbrs[:-1], sims[:-1])
    elif problem == "padding":
        nbrs = nbrs.copy()
        nbrs[3, -1] = -1
        write_l2c_knn(path, nbrs, sims)
    else:
        path = str(tmp_path / "g.npy")
        np.save(path, np.concatenate([np.zeros((len(f), 1), dtype=np.int64), nbrs[:, 1:]], axis=1))
    with pytest.raises(InputError, match=message):
        import_release_knn(path, f, 8)


def test_float16_npy_features_are_read_and_normalised_in_float32(tmp_path):
    # npmscope ships float16 rows, L2-normalised before the cast: read them, re-normalise in float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.save(tmp_path / "f16.npy", x.astype(np.float16))
    got = read_features(str(tmp_path / "f16.npy"), dim=384)
    assert got.dtype == np.float16
    out = l2_normalise(got)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out, x, atol=2e-3)
    bad = x.astype(np.float16)
    bad[3, 5] = np.nan
    np.save(tmp_path / "bad16.npy", bad)
    with pytest.raises(InputError, match=r"bad16.npy: features contain NaN values .*first in row 3"):
        read_features(str(tmp_path / "bad16.npy"), dim=384)
