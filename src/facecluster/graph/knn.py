"""Exact cosine k-nearest-neighbour search on L2-normalised features.

Backends (``backend="auto"`` picks the first that applies):

* ``faiss-gpu`` — a faiss ``GpuIndexFlatIP`` when CUDA and a GPU build of faiss are present;
* ``torch`` — exact brute force with torch matrix products, on CUDA when a GPU is present
  (also runs on the CPU, which is how the tests exercise this path);
* ``faiss`` — faiss ``IndexFlatIP`` on the CPU (exact inner product).

Queries are processed in chunks of ``chunk_size`` rows, so memory stays bounded by
``chunk_size x N`` similarities on the torch path, and progress is logged per chunk.

Output contract (``knn.npz``): ``nbrs`` int32 (N, k), ``sims`` float32 (N, k) cosine,
descending after column 0, and **the query itself in column 0**, also when duplicates of
the query tie with it (a duplicate would otherwise be allowed to come first).
"""

from __future__ import annotations

import numpy as np

from facecluster.progress import Progress, logger


def _faiss_gpu_available() -> bool:
    try:
        import faiss

        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except ImportError:
        return False


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def resolve_backend(backend: str = "auto") -> str:
    """Map ``"auto"`` to a concrete backend name; validate explicit names."""
    if backend == "auto":
        if _cuda_available():
            return "faiss-gpu" if _faiss_gpu_available() else "torch"
        return "faiss"
    if backend not in ("faiss", "faiss-gpu", "torch"):
        raise ValueError(f"unknown kNN backend {backend!r}; choose auto, faiss, faiss-gpu or torch")
    return backend


def put_self_first(nbrs: np.ndarray, sims: np.ndarray, self_sims: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Move each row's own index to column 0, keeping the order of the others.

    ``nbrs[i]`` is the neighbour list of query ``i``. If ``i`` is missing from its own list (more than k exact
    duplicates), it is inserted in column 0 and the last neighbour is dropped; its
    similarity is then taken from ``self_sims`` (default 1.0).
    """
    return put_self_first_ids(nbrs, sims, np.arange(nbrs.shape[0]), self_sims)


def put_self_first_ids(
    nbrs: np.ndarray, sims: np.ndarray, row_ids: np.ndarray, self_sims: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`put_self_first` for query rows whose global ids are ``row_ids``."""
    n, k = nbrs.shape
    is_self = nbrs == row_ids[:, None]
    has_self = is_self.any(axis=1)
    pos = np.where(has_self, is_self.argmax(axis=1), k - 1)
    col = np.arange(k)[None, :]
    src = np.where(col == 0, pos[:, None], np.where(col <= pos[:, None], col - 1, col))
    out_n = np.take_along_axis(nbrs, src, axis=1).astype(np.int32, copy=False)
    out_s = np.take_along_axis(sims, src, axis=1).astype(np.float32, copy=False)
    out_n[:, 0] = row_ids
    if not has_self.all():
        fill = np.ones(n, dtype=np.float32) if self_sims is None else np.asarray(self_sims, dtype=np.float32)
        out_s[~has_self, 0] = fill[~has_self]
    return out_n, out_s


def _search_faiss(base: np.ndarray, queries: np.ndarray, k: int, gpu: bool):
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    if gpu:
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
    index.add(base)

    def search(lo: int, hi: int):
        s, i = index.search(queries[lo:hi], k)
        return i, s

    return search


def _search_torch(base: np.ndarray, queries: np.ndarray, k: int, device: str):
    import torch

    dev = torch.device(device)
    b = torch.from_numpy(base).to(dev)

    @torch.no_grad()
    def search(lo: int, hi: int):
        q = torch.from_numpy(np.ascontiguousarray(queries[lo:hi])).to(dev)
        s, i = torch.topk(q @ b.T, k, dim=1, largest=True, sorted=True)
        return i.cpu().numpy(), s.cpu().numpy()

    return search


def shard_slice(n: int, shards: int, index: int, chunk_size: int) -> slice:
    """Query rows of shard ``index`` of ``shards``: contiguous runs of whole ``chunk_size`` chunks.

    Shard boundaries fall on chunk boundaries, so every shard makes exactly the search calls the
    unsharded run makes for those rows, and the merged result is byte-identical to it.
    """
    if not 0 <= index < shards:
        raise ValueError(f"shard {index} is not in 0..{shards - 1}")
    n_chunks = -(-n // chunk_size)
    bounds = np.linspace(0, n_chunks, shards + 1).round().astype(int)
    return slice(min(int(bounds[index]) * chunk_size, n), min(int(bounds[index + 1]) * chunk_size, n))


def exact_knn(
    features: np.ndarray,
    k: int,
    backend: str = "auto",
    chunk_size: int = 4096,
    queries: slice | None = None,
    device: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine kNN of every row of ``features`` (rows must be L2-normalised).

    Args:
        features: float32 (N, d), L2-normalised rows.
        k: neighbours per row, self included (``k <= N``).
        backend: ``auto``, ``faiss``, ``faiss-gpu`` or ``torch`` (see module docstring).
        chunk_size: query rows per search call (bounds memory; one progress line per chunk).
        queries: optional slice of query rows (all by default); the base is always all rows.
        device: torch device for the ``torch`` backend (default: ``cuda`` if available, else ``cpu``).

    Returns:
        ``(nbrs int32 (Q, k), sims float32 (Q, k))`` with the query itself in column 0 and
        the others by descending cosine.
    """
    x = np.ascontiguousarray(features, dtype=np.float32)
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of samples ({n})")
    rows = np.arange(n)[queries] if queries is not None else np.arange(n)
    q = np.ascontiguousarray(x[queries]) if queries is not None else x
    name = resolve_backend(backend)
    if name == "torch":
        device = device or ("cuda" if _cuda_available() else "cpu")
        search = _search_torch(x, q, k, device)
    else:
        search = _search_faiss(x, q, k, gpu=name == "faiss-gpu")
    logger.info("kNN: %d queries x %d base, d=%d, k=%d, backend=%s", rows.size, n, x.shape[1], k, name)
    nbrs = np.empty((rows.size, k), dtype=np.int32)
    sims = np.empty((rows.size, k), dtype=np.float32)
    progress = Progress("kNN", rows.size)
    for lo in range(0, rows.size, chunk_size):
        hi = min(lo + chunk_size, rows.size)
        i, s = search(lo, hi)
        self_sims = np.einsum("ij,ij->i", q[lo:hi], q[lo:hi])
        nbrs[lo:hi], sims[lo:hi] = put_self_first_ids(i, s, rows[lo:hi], self_sims)
        progress.update(hi)
    return nbrs, sims
