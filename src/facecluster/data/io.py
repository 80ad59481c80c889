"""Reading, validating and atomically writing the pipeline's artifacts.

Every writer goes through :func:`atomic_path`: the file is written under a temporary name in
the destination folder and renamed into place only when complete, so an interrupted job never
leaves a half-written artifact behind. Every reader of *user* input validates before any long
computation and raises :class:`InputError` naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from glob import escape as glob_escape
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """A user-supplied file is missing or malformed; the message names the file and the problem."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    A job killed mid-write (SIGKILL: no ``finally``) leaves only its hidden temporary file, never a
    partial file under the final name; the next writer of ``path`` removes such leftovers (one job
    writes a given output, so none of them can be in use)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*.tmp*"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes), dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write one array as ``.npy`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Write named arrays as an uncompressed ``.npz`` atomically and reproducibly.

    Unlike ``np.savez``, the zip entries carry a fixed timestamp, so the same arrays always give
    the same bytes (re-runs and sharded/unsharded kNN can be compared file to file).
    """
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)


def save_json(path: str | os.PathLike, obj: dict) -> None:
    """Write a JSON document (indented, keys in insertion order) atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2)
            fh.write("\n")


def load_json(path: str | os.PathLike) -> dict:
    with open(path) as fh:
        return json.load(fh)


# ---------------------------------------------------------------------------------------------
# Validation of user input


def validate_features(x: np.ndarray, path: str, dim: int | None = None, chunk_rows: int = 65536) -> None:
    """Raise :class:`InputError` unless ``x`` is a finite 2-D (N, dim) array without zero rows.

    Works chunk by chunk, so a memory-mapped file of millions of rows is checked without
    loading it whole.
    """
    if x.ndim != 2:
        raise InputError(f"{path}: features must be a 2-D array (N, d), got shape {x.shape}")
    if x.shape[0] == 0:
        raise InputError(f"{path}: features hold no rows")
    if dim is not None and x.shape[1] != dim:
        raise InputError(f"{path}: feature dimension is {x.shape[1]}, the dataset config says {dim}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"{path}: features must be floating point, got dtype {x.dtype}")
    for lo in range(0, x.shape[0], chunk_rows):
        chunk = np.asarray(x[lo : lo + chunk_rows], dtype=np.float32)
        bad = ~np.isfinite(chunk)
        if bad.any():
            row = lo + int(np.argwhere(bad)[0, 0])
            kind = "NaN" if np.isnan(chunk).any() else "Inf"
            raise InputError(f"{path}: features contain {kind} values ({int(bad.sum())} in rows {lo}..{lo + len(chunk) - 1}; first in row {row})")
        norms = np.einsum("ij,ij->i", chunk, chunk)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise InputError(f"{path}: feature row {lo + int(zero[0])} is all zeros (cannot be L2-normalised)")


def validate_labels(y: np.ndarray, path: str, n_expected: int, features_path: str) -> np.ndarray:
    """Return ``y`` as int64 (N,), or raise :class:`InputError` on shape/count/value problems."""
    y = np.asarray(y)
    if y.ndim != 1:
        if y.ndim == 2 and 1 in y.shape:
            y = y.ravel()
        else:
            raise InputError(f"{path}: labels must be a 1-D array, got shape {y.shape}")
    if y.shape[0] != n_expected:
        raise InputError(f"{path}: {y.shape[0]} labels but {features_path} has {n_expected} feature rows")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InputError(f"{path}: labels must be integers")
    elif not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"{path}: labels must be integers, got dtype {y.dtype}")
    return y.astype(np.int64)


def l2_normalise(x: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
    """Return a float32 copy of ``x`` with unit-norm rows (chunked, works on memory maps)."""
    out = np.empty(x.shape, dtype=np.float32)
    for lo in range(0, x.shape[0], chunk_rows):
        c = np.asarray(x[lo : lo + chunk_rows], dtype=np.float32)
        out[lo : lo + len(c)] = c / np.linalg.norm(c, axis=1, keepdims=True)
    return out


def load_npy_features(path: str, dim: int | None = None) -> np.ndarray:
    """Memory-map a ``.npy`` feature file and validate it (see :func:`validate_features`)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: feature file not found")
    try:
        x = np.load(path, mmap_mode="r")
    except ValueError as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
    validate_features(x, path, dim)
    return x


def load_npy_labels(path: str, n_expected: int, features_path: str) -> np.ndarray:
    """Load a ``.npy`` label file and validate it against the feature count."""
    if not os.path.exists(path):
        raise InputError(f"{path}: label file not found")
    return validate_labels(np.load(path), path, n_expected, features_path)


# ---------------------------------------------------------------------------------------------
# Pipeline artifacts


def save_knn(path: str, nbrs: np.ndarray, sims: np.ndarray) -> None:
    """Write ``knn.npz`` (``nbrs`` int32 (N, K), ``sims`` float32 (N, K))."""
    save_npz(path, nbrs=nbrs.astype(np.int32, copy=False), sims=sims.astype(np.float32, copy=False))


def load_knn(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``knn.npz`` → ``(nbrs int32, sims float32)``."""
    with np.load(path) as z:
        return z["nbrs"], z["sims"]


def save_structure(path: str, nbrs: np.ndarray, dists: np.ndarray) -> None:
    """Write ``structure.npz`` (``nbrs`` int32 (N, k), ``dists`` float32 (N, k) ascending)."""
    save_npz(path, nbrs=nbrs.astype(np.int32, copy=False), dists=dists.astype(np.float32, copy=False))


def load_structure(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``structure.npz`` → ``(nbrs int32, dists float32)``."""
    with np.load(path) as z:
        return z["nbrs"], z["dists"]


def save_sparse(path: str, matrix) -> None:
    """Write a scipy sparse matrix with ``scipy.sparse.save_npz`` atomically."""
    import scipy.sparse as sp

    with atomic_path(path) as tmp:
        sp.save_npz(tmp, matrix.tocsr())


def load_sparse_pattern(path: str):
    """The pattern of a CSR matrix written by :func:`save_sparse`, as a boolean CSR: its weights
    are never read (a quarter of the float32 matrix's memory), for passes that use which edges
    exist only (the Ada-NETS GCN's aggregation)."""
    import scipy.sparse as sp

    with np.load(path) as z:  # save_sparse always writes CSR
        indptr, indices, shape = z["indptr"], z["indices"], tuple(int(v) for v in z["shape"])
    return sp.csr_matrix((np.ones(indices.size, dtype=bool), indices, indptr), shape=shape)


def load_sparse(path: str):
    """Read a scipy sparse matrix written by :func:`save_sparse` (CSR)."""
    import scipy.sparse as sp

    return sp.load_npz(path).tocsr()


# ---------------------------------------------------------------------------------------------
# Row-wise access to large arrays with bounded memory (chunked inference)


class NpyRows:
    """Rows of a 2-D ``.npy`` file read on demand with plain positioned reads, never mapped.

    ``rows[idx]`` (any integer index array or slice) returns a new float32 array. The requested
    rows are sorted, grouped into runs (ids at most ``gap`` apart are read as one range) and each
    run is read with one ``pread``, so a long pass over a file of millions of rows keeps only the
    rows of one request in memory. (A memory map would not: every page it touches, and through
    the kernel's fault-around the cached pages beside it, counts towards the process's resident
    memory while mapped — a scattered gather from a freshly written file maps most of it.)
    """

    def __init__(self, path: str | os.PathLike, gap: int = 8) -> None:
        self.path = str(path)
        self.gap = gap
        with open(self.path, "rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            self.shape, fortran, self.dtype = read(fh)
            self.offset = fh.tell()
        if len(self.shape) != 2 or fortran:
            raise InputError(f"{self.path}: expected a C-ordered 2-D array, got shape {self.shape}")

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, idx) -> np.ndarray:
        n, d = self.shape
        ids = np.arange(n)[idx] if isinstance(idx, slice) else np.asarray(idx, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise IndexError(f"{self.path}: row index out of range 0..{n - 1}")
        uniq, inverse = np.unique(ids, return_inverse=True)
        out = np.empty((uniq.size, d), dtype=self.dtype)
        row_bytes = d * self.dtype.itemsize
        breaks = np.flatnonzero(np.diff(uniq) > self.gap) + 1
        starts = np.split(uniq, breaks)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            pos = 0
            for run in starts:
                lo, hi = int(run[0]), int(run[-1]) + 1
                buf = os.pread(fd, (hi - lo) * row_bytes, self.offset + lo * row_bytes)
                block = np.frombuffer(buf, dtype=self.dtype).reshape(hi - lo, d)
                out[pos : pos + run.size] = block[run - lo]
                pos += run.size
        finally:
            os.close(fd)
        if uniq.size == ids.size and (ids.size < 2 or bool(np.all(ids[1:] > ids[:-1]))):
            return np.asarray(out, dtype=np.float32)  # already sorted and unique: no second copy
        return np.asarray(out[inverse], dtype=np.float32)


class NpyRowWriter:
    """Write a 2-D ``.npy`` of known shape row block by row block, atomically.

    Blocks are appended in order with plain file writes (not a writable map, whose dirty pages
    would count towards the process's memory); the file is renamed into place by
    :meth:`commit` only when every row was written. Use as a context manager: leaving the block
    without :meth:`commit` (an exception) removes the temporary file.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int], dtype=np.float32) -> None:
        self.path, self.shape, self.dtype = Path(path), (int(shape[0]), int(shape[1])), np.dtype(dtype)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp.npy", dir=self.path.parent)
        self._fh = os.fdopen(fd, "wb")
        np.lib.format.write_array_header_2_0(self._fh, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                        "fortran_order": False, "shape": self.shape})
        self.rows = 0
        self._committed = False

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (rows, shape[1]) after the rows written so far."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.ndim != 2 or block.shape[1] != self.shape[1] or self.rows + block.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path}: block of shape {block.shape} does not fit rows {self.rows}.. of {self.shape}")
        self._fh.write(block.tobytes())
        self.rows += block.shape[0]

    def written(self) -> "NpyRows":
        """The rows written so far, as :class:`NpyRows` (the file must be complete)."""
        self._fh.flush()
        return NpyRows(self.tmp)

    def commit(self) -> None:
        """Rename the complete file into place."""
        if self.rows != self.shape[0]:
            raise ValueError(f"{self.path}: {self.rows} of {self.shape[0]} rows written")
        self._fh.close()
        os.replace(self.tmp, self.path)
        self._committed = True

    def __enter__(self) -> "NpyRowWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            self._fh.close()
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def named_paths(inputs, key: str) -> list[str] | None:
    """The paths of a named input that holds a list (e.g. Snakemake's ``input.committee_knn``), as a
    list even when it has one element; None when ``inputs`` has no such name."""
    if key not in inputs.keys():
        return None
    value = inputs[key]
    return [value] if isinstance(value, str) else [str(v) for v in value]
