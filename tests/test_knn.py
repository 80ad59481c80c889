"""Exact kNN against numpy brute force, and the self-in-column-0 contract."""

import numpy as np
import pytest

from facecluster.graph.knn import exact_knn, put_self_first, resolve_backend, shard_slice


def _data(n=500, d=16, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(x, k):
    s = x @ x.T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, axis=1)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("chunk", [64, 500, 10_000])
def test_matches_brute_force(backend, chunk):
    x = _data()
    nbrs, sims = exact_knn(x, 12, backend=backend, chunk_size=chunk)
    ref_n, ref_s = _brute(x, 12)
    assert nbrs.dtype == np.int32 and sims.dtype == np.float32 and nbrs.shape == (500, 12)
    assert np.array_equal(nbrs[:, 0], np.arange(500))
    np.testing.assert_allclose(sims, ref_s, atol=1e-5)
    # random data has no ties: the neighbour sets agree exactly
    assert np.array_equal(np.sort(nbrs, axis=1), np.sort(ref_n, axis=1))
    assert np.all(np.diff(sims[:, 1:], axis=1) <= 1e-6)


def test_query_slice_equals_rows_of_full_search():
    x = _data(300)
    full_n, full_s = exact_knn(x, 7, backend="faiss")
    part_n, part_s = exact_knn(x, 7, backend="faiss", queries=slice(100, 220))
    assert np.array_equal(part_n, full_n[100:220])
    np.testing.assert_allclose(part_s, full_s[100:220], atol=1e-6)


def test_self_first_with_duplicates():
    x = _data(50)
    x[10] = x[20] = x[30] = x[40]  # four identical rows tie at cosine 1
    for backend in ("faiss", "torch"):
        nbrs, _ = exact_knn(x, 5, backend=backend)
        for i in (10, 20, 30, 40):
            assert nbrs[i, 0] == i
            assert set(nbrs[i, :4]) == {10, 20, 30, 40}


def test_put_self_first_inserts_missing_self():
    nbrs = np.array([[3, 4, 5], [1, 0, 2], [2, 1, 0]])
    sims = np.array([[0.9, 0.8, 0.7], [1.0, 1.0, 0.5], [1.0, 0.4, 0.3]], dtype=np.float32)
    n, s = put_self_first(nbrs, sims)
    assert n.tolist() == [[0, 3, 4], [1, 0, 2], [2, 1, 0]]
    assert s[0].tolist() == pytest.approx([1.0, 0.9, 0.8])


def test_bad_arguments():
    x = _data(10)
    with pytest.raises(ValueError, match="k=11"):
        exact_knn(x, 11)
    with pytest.raises(ValueError, match="unknown kNN backend"):
        resolve_backend("annoy")
    assert resolve_backend("auto") in ("faiss", "faiss-gpu", "torch")


@pytest.mark.parametrize("n, shards, chunk", [(1000, 1, 128), (1000, 3, 128), (1000, 7, 64), (100, 5, 64), (257, 2, 1)])
def test_shards_cover_rows_on_chunk_boundaries(n, shards, chunk):
    slices = [shard_slice(n, shards, s, chunk) for s in range(shards)]
    assert slices[0].start == 0 and slices[-1].stop == n
    for a, b in zip(slices, slices[1:]):
        assert a.stop == b.start
    assert all(s.start % chunk == 0 or s.start == n for s in slices)  # empty shards sit at the end
    with pytest.raises(ValueError):
        shard_slice(n, shards, shards, chunk)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_sharded_search_is_identical_to_unsharded(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((700, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    full_n, full_s = exact_knn(x, 12, backend=backend, chunk_size=64)
    parts = [exact_knn(x, 12, backend=backend, chunk_size=64, queries=shard_slice(700, 4, s, 64)) for s in range(4)]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), full_n)
    assert np.concatenate([p[1] for p in parts]).tobytes() == full_s.tobytes()


def test_auto_backend_prefers_gpu_faiss_then_torch_on_cuda(monkeypatch):
    import facecluster.graph.knn as knn

    for cuda, faiss_gpu, expected in ((True, True, "faiss-gpu"), (True, False, "torch"), (False, True, "faiss"), (False, False, "faiss")):
        monkeypatch.setattr(knn, "_cuda_available", lambda: cuda)
        monkeypatch.setattr(knn, "_faiss_gpu_available", lambda: faiss_gpu)
        assert knn.resolve_backend("auto") == expected
