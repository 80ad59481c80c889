"""Readers (and writers) for the public releases of the face-clustering benchmarks.

Formats (DESIGN.md, "Datasets and formats"); the reader is chosen by the file's extension:

=====================  ===========================================================================
``.npy`` features      ``np.save`` array (N, d), float (Ada-NETS / MSMT17 release, IJB-B, custom)
``.bin`` features      learn-to-cluster: raw little-endian float32, N·d values, no header
``.npy`` labels        (N,) or (N, 1) integers
``.meta`` labels       learn-to-cluster: one integer per line
``.npz`` kNN           learn-to-cluster ``knns/NAME/faiss_k_K.npz``: key ``data``, (N, 2, K):
                       ``data[:, 0]`` neighbour ids, ``data[:, 1]`` cosine *distances* 1 − cos
``.npy`` kNN           gcn_clustering ``knn.graph.NAME.bf.npy``: (N, K + 1) integers, the node's
                       own id then its K neighbour ids (no similarities)
=====================  ===========================================================================

Large feature files are memory-mapped. Every problem raises :class:`~facecluster.data.io.InputError`
naming the file: a size that is not a multiple of 4·d, a wrong dimension, a label count that
differs from the feature count, NaN/Inf, an md5 that differs from the published one.

A release kNN is used for its *neighbour ids* only: the similarities are recomputed from the
pipeline's L2-normalised features and every row is re-sorted (stable) with the node itself in
column 0, so an imported ``knn.npz`` satisfies exactly the contract of a computed one.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from facecluster.data.io import InputError, atomic_path, validate_features, validate_labels
from facecluster.graph.knn import put_self_first
from facecluster.progress import Progress

FEATURE_EXTENSIONS = (".npy", ".bin")
LABEL_EXTENSIONS = (".npy", ".meta")
KNN_EXTENSIONS = (".npz", ".npy")


def _ext(path: str) -> str:
    return os.path.splitext(str(path))[1].lower()


def _require(path: str, what: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{path}: {what} file not found")


# ---------------------------------------------------------------------------------------------
# Checksums


def md5sum(path: str, block: int = 1 << 24) -> str:
    """Hex md5 of a file, read in 16 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path: str, expected: str | None) -> None:
    """Raise :class:`InputError` when ``expected`` is given and the file's md5 differs."""
    if not expected:
        return
    _require(path, "input")
    actual = md5sum(path)
    if actual.lower() != expected.lower():
        raise InputError(
            f"{path}: md5 is {actual}, the published md5 is {expected} "
            "(a truncated or different download; fetch it again, or remove md5 from the dataset config for your own data)"
        )


# ---------------------------------------------------------------------------------------------
# Features


def bin_rows(path: str, dim: int) -> int:
    """Number of rows of a learn-to-cluster ``.bin`` file of ``dim`` float32 columns."""
    _require(path, "feature")
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(f"{path}: the feature file is empty")
    if size % (4 * dim):
        raise InputError(
            f"{path}: {size} bytes is not a multiple of 4·d = {4 * dim} (d = {dim} float32 values per row): "
            "wrong feature_dim in the dataset config, or a truncated file"
        )
    return size // (4 * dim)


def read_bin_features(path: str, dim: int) -> np.ndarray:
    """Memory-map a ``.bin`` feature file as float32 (N, dim)."""
    n = bin_rows(path, dim)
    return np.memmap(path, dtype="<f4", mode="r", shape=(n, dim))


def write_bin_features(path: str, x: np.ndarray) -> None:
    """Write features in the learn-to-cluster ``.bin`` layout (raw float32, no header), atomically."""
    with atomic_path(path) as tmp:
        np.ascontiguousarray(x, dtype="<f4").tofile(tmp)


def read_features(path: str, dim: int | None = None) -> np.ndarray:
    """Memory-map and validate a feature file (``.npy`` or ``.bin``; ``.bin`` needs ``dim``)."""
    ext = _ext(path)
    _require(path, "feature")
    if ext == ".bin":
        if dim is None:
            raise InputError(f"{path}: a .bin feature file needs feature_dim in the dataset config")
        x = read_bin_features(path, dim)
    elif ext == ".npy":
        try:
            x = np.load(path, mmap_mode="r")
        except ValueError as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    else:
        raise InputError(f"{path}: unknown feature format '{ext}' (expected one of {', '.join(FEATURE_EXTENSIONS)})")
    validate_features(x, path, dim)
    return x


def feature_rows(path: str, dim: int | None = None) -> int:
    """Number of feature rows, read from the header or the file size (no data read)."""
    if _ext(path) == ".bin":
        return bin_rows(path, dim)
    _require(path, "feature")
    return int(np.load(path, mmap_mode="r").shape[0])


# ---------------------------------------------------------------------------------------------
# Labels


def read_meta_labels(path: str) -> np.ndarray:
    """Read a learn-to-cluster ``.meta`` file: one integer label per line (blank lines ignored)."""
    _require(path, "label")
    with open(path, "rb") as fh:
        tokens = fh.read().split()
    try:
        return np.array(tokens, dtype=np.int64)
    except ValueError:
        for line_no, line in enumerate(open(path, "rb").read().splitlines(), 1):
            text = line.strip()
            if text and not text.lstrip(b"-").isdigit():
                raise InputError(f"{path}: line {line_no} is not an integer label: {text[:40]!r}") from None
        raise InputError(f"{path}: labels must be integers, one per line") from None


def write_meta_labels(path: str, labels: np.ndarray) -> None:
    """Write labels in the learn-to-cluster ``.meta`` layout (one integer per line), atomically."""
    with atomic_path(path) as tmp:
        np.savetxt(tmp, np.asarray(labels, dtype=np.int64), fmt="%d")


def read_labels(path: str, n_expected: int, features_path: str) -> np.ndarray:
    """Read and validate labels (``.npy`` or ``.meta``) against the feature count → int64 (N,)."""
    ext = _ext(path)
    _require(path, "label")
    if ext == ".meta":
        y = read_meta_labels(path)
    elif ext == ".npy":
        try:
            y = np.load(path)
        except ValueError as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    else:
        raise InputError(f"{path}: unknown label format '{ext}' (expected one of {', '.join(LABEL_EXTENSIONS)})")
    return validate_labels(y, path, n_expected, features_path)


def check_counts(path: str, n: int, expected: int | None, what: str) -> None:
    """Raise when a published count (samples or identities) is given and differs."""
    if expected is not None and n != expected:
        raise InputError(f"{path}: {n} {what}, the dataset config expects {expected}")


# ---------------------------------------------------------------------------------------------
# Release kNN graphs


def read_l2c_knn(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a learn-to-cluster ``faiss_k_K.npz`` → ``(ids int64 (N, K), cosine sims float32 (N, K))``."""
    _require(path, "kNN")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "data" not in z:
                raise InputError(f"{path}: no array 'data' (keys: {', '.join(z.files)}); expected the learn-to-cluster layout")
            data = z["data"]
    except ValueError as exc:
        raise InputError(f"{path}: not a numeric learn-to-cluster kNN array ({exc})") from exc
    if data.ndim != 3 or data.shape[1] != 2:
        raise InputError(f"{path}: 'data' has shape {data.shape}; the learn-to-cluster layout is (N, 2, K)")
    ids = data[:, 0, :]
    if not np.all(ids == np.round(ids)):
        raise InputError(f"{path}: neighbour ids (data[:, 0]) are not integers")
    return ids.astype(np.int64), (1.0 - data[:, 1, :]).astype(np.float32)


def write_l2c_knn(path: str, nbrs: np.ndarray, sims: np.ndarray) -> None:
    """Export a kNN in the learn-to-cluster layout: ``data`` float32 (N, 2, K), ids then 1 − cos.

    float32 holds every id below 2**24 exactly (MS1M's largest part has 5.21M samples).
    """
    if nbrs.shape[0] and int(nbrs.max()) >= 2**24:
        raise ValueError("ids >= 2**24 cannot be stored exactly in float32")
    data = np.stack([nbrs.astype(np.float32), (1.0 - sims).astype(np.float32)], axis=1)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, data=data)


def read_gcn_knn_graph(path: str) -> np.ndarray:
    """Read a gcn_clustering ``knn.graph.*.npy`` (N, K + 1) → neighbour ids int64 (N, K), row i = node i."""
    _require(path, "kNN")
    try:
        graph = np.load(path)
    except ValueError as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    if graph.ndim != 2 or graph.shape[1] < 2:
        raise InputError(f"{path}: shape {graph.shape}; the gcn_clustering layout is (N, K + 1): node id, then K neighbour ids")
    if not np.issubdtype(graph.dtype, np.integer):
        if not np.all(graph == np.round(graph)):
            raise InputError(f"{path}: ids are not integers")
    graph = graph.astype(np.int64)
    order = np.argsort(graph[:, 0], kind="stable")
    if not np.array_equal(graph[order, 0], np.arange(graph.shape[0])):
        raise InputError(f"{path}: the first column must hold every node id 0..N-1 exactly once")
    return graph[order, 1:]


def cosine_of_ids(features: np.ndarray, ids: np.ndarray, chunk_rows: int = 16384) -> np.ndarray:
    """Cosine similarity of each row's L2-normalised feature with the features of ``ids[i]``."""
    sims = np.empty(ids.shape, dtype=np.float32)
    for lo in range(0, ids.shape[0], chunk_rows):
        hi = min(lo + chunk_rows, ids.shape[0])
        sims[lo:hi] = np.einsum("id,ikd->ik", features[lo:hi], features[ids[lo:hi]])
    return sims


def import_release_knn(path: str, features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """A release kNN as the pipeline's ``knn.npz`` (first ``k`` columns, self first, cos descending).

    Returns ``(nbrs int32, sims float32, info)``; ``info`` reports the release's K and, for the
    learn-to-cluster layout, the largest difference between its stored and the recomputed cosines.
    """
    ext = _ext(path)
    if ext == ".npz":
        ids, stored = read_l2c_knn(path)
    elif ext == ".npy":
        ids, stored = read_gcn_knn_graph(path), None
    else:
        raise InputError(f"{path}: unknown kNN format '{ext}' (expected .npz learn-to-cluster or .npy gcn_clustering)")
    n = features.shape[0]
    if ids.shape[0] != n:
        raise InputError(f"{path}: kNN of {ids.shape[0]} nodes, but the features have {n} rows")
    if ids.shape[1] < k:
        raise InputError(f"{path}: {ids.shape[1]} neighbours per node, the dataset config needs knn.k = {k}")
    if ids.min() < 0 or ids.max() >= n:
        bad = int(((ids < 0) | (ids >= n)).any(axis=1).sum())
        raise InputError(f"{path}: {bad} rows hold ids outside 0..{n - 1} (faiss pads missing neighbours with -1)")
    progress = Progress("release kNN similarities", 1)
    sims = cosine_of_ids(features, ids)
    progress.update(1)
    info = {"release_k": int(ids.shape[1])}
    if stored is not None:
        info["max_abs_sim_difference"] = float(np.abs(stored - sims).max())
    order = np.argsort(-sims, axis=1, kind="stable")
    ids = np.take_along_axis(ids, order, axis=1)
    sims = np.take_along_axis(sims, order, axis=1)
    nbrs, sims = put_self_first(ids[:, : k + 1].astype(np.int32), sims[:, : k + 1])
    return nbrs[:, :k], sims[:, :k], info
