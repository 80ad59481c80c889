r"""Ada-NETS structure space: re-rank each node's kNN list by a Jaccard + cosine distance.

Definition (Ada-NETS, ICLR 2022, Sec. 3.1; the k-reciprocal encoding of Zhong et al.,
CVPR 2017). With :math:`N_k(i)` the first ``k`` entries of row ``i`` of the kNN list
(``i`` itself included, column 0):

* k-reciprocal set: :math:`R(i, k) = \{ j \in N_k(i) : i \in N_k(j) \}`;
* expanded set: :math:`R^*(i) = R(i, k) \cup \bigcup R(j, k/2)` over every
  :math:`j \in R(i, k)` with :math:`|R(j, k/2) \cap R(i, k)| \ge \tfrac23 |R(j, k/2)|`;
* for every :math:`j \in N_k(i)`:
  :math:`d_J = 1 - |R^*(i) \cap R^*(j)| / |R^*(i) \cup R^*(j)|`,
  :math:`d_{cos} = 1 - \cos(i, j)` (the kNN similarity), and
  :math:`d = (1 - \lambda) d_J + \lambda d_{cos}`;
* the ``k`` neighbours of ``i`` are re-sorted by ``d`` ascending with a **stable** sort, so
  ties keep their kNN order.

``k/2`` is the integer ``k // 2`` (the first ``k // 2`` columns), exactly as the authors'
reference implementation ``tool/struct_space.py`` of damo-cv/Ada-NETS does (``k2 = k // 2``);
the ⅔ test is evaluated in exact integer arithmetic (``3·|∩| >= 2·|R(j, k/2)|``), which is
equivalent to the reference's ``len(a & b) >= len(a) * 2 / 3``. Distances are computed in
float64 (as the reference's Python floats) and sorted in float64; the returned ``dists`` are
rounded to float32 afterwards.

Implementation: four numba kernels, parallel over rows, with no per-sample Python objects.
Sets are flat int32 arrays (R sets padded to ``k`` / ``k // 2`` columns, R* in CSR form).
Set membership, deduplication and intersections use per-thread "stamp" arrays of length N
(``mark[x] == i`` means ``x`` is in the set currently built for row ``i``), so an
intersection costs one pass over one of the two sets and nothing needs sorting; the
membership test ``i ∈ N_k(j)`` is a binary search in a sorted copy of row ``j``.
Memory: about ``N·k·(4 + 4 + 8)`` bytes for the R sets and distances, ``4·N·|R*|`` for the
R* sets, plus ``2 · threads · N · 4`` bytes of stamp arrays.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numba
import numpy as np
from numba import njit, prange

from facecluster.progress import logger

__all__ = ["structure_space", "knn_precision_at"]


@njit(cache=True, inline="always")
def _in_sorted(row: np.ndarray, x: int) -> bool:
    lo = 0
    hi = row.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if row[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < row.shape[0] and row[lo] == x


@njit(parallel=True, cache=True)
def _reciprocal_sets(a: np.ndarray, srt: np.ndarray, kk: int, marks: np.ndarray):
    """R(i, kk) for every row: ``out[i, :cnt[i]]`` (unique, in kNN order).

    ``a`` (N, >=kk) neighbour lists, ``srt`` (N, kk) the row-wise sorted ``a[:, :kk]``,
    ``marks`` (threads, N) int32 scratch filled with -1.
    """
    n = a.shape[0]
    out = np.empty((n, kk), np.int32)
    cnt = np.zeros(n, np.int32)
    for i in prange(n):
        mark = marks[numba.get_thread_id()]
        c = 0
        for col in range(kk):
            j = a[i, col]
            if mark[j] == i:  # duplicate entry in the row
                continue
            mark[j] = i
            if _in_sorted(srt[j], i):
                out[i, c] = j
                c += 1
        cnt[i] = c
    return out, cnt


@njit(parallel=True, cache=True)
def _expanded_sizes(rk, nrk, rh, nrh, marks_r, marks_u):
    """|R*(i)| per row and the flags ``qual[i, a]``: R(j, k/2) of j = rk[i, a] is merged."""
    n = rk.shape[0]
    qual = np.zeros(rk.shape, np.bool_)
    size = np.zeros(n, np.int64)
    for i in prange(n):
        tid = numba.get_thread_id()
        mr = marks_r[tid]
        mu = marks_u[tid]
        ni = nrk[i]
        for a in range(ni):
            x = rk[i, a]
            mr[x] = i
            mu[x] = i
        s = ni
        for a in range(ni):
            j = rk[i, a]
            m = nrh[j]
            inter = 0
            for c in range(m):
                if mr[rh[j, c]] == i:
                    inter += 1
            if 3 * inter >= 2 * m:
                qual[i, a] = True
                for c in range(m):
                    x = rh[j, c]
                    if mu[x] != i:
                        mu[x] = i
                        s += 1
        size[i] = s
    return qual, size


@njit(parallel=True, cache=True)
def _expanded_fill(rk, nrk, rh, nrh, qual, indptr, marks_u):
    """R*(i) as CSR ``data[indptr[i]:indptr[i+1]]`` (unique, unsorted)."""
    n = rk.shape[0]
    data = np.empty(indptr[n], np.int32)
    for i in prange(n):
        mu = marks_u[numba.get_thread_id()]
        p = indptr[i]
        ni = nrk[i]
        for a in range(ni):
            x = rk[i, a]
            mu[x] = i
            data[p] = x
            p += 1
        for a in range(ni):
            if qual[i, a]:
                j = rk[i, a]
                for c in range(nrh[j]):
                    x = rh[j, c]
                    if mu[x] != i:
                        mu[x] = i
                        data[p] = x
                        p += 1
    return data


@njit(parallel=True, cache=True)
def _structure_dists(a, sims, indptr, data, lam, marks):
    """d[i, c] = (1 - lam) * d_J(i, a[i, c]) + lam * (1 - sims[i, c]) in float64."""
    n, k = a.shape
    d = np.empty((n, k), np.float64)
    for i in prange(n):
        mark = marks[numba.get_thread_id()]
        si = indptr[i]
        ei = indptr[i + 1]
        for p in range(si, ei):
            mark[data[p]] = i
        ni = ei - si
        for col in range(k):
            j = a[i, col]
            sj = indptr[j]
            ej = indptr[j + 1]
            inter = 0
            for p in range(sj, ej):
                if mark[data[p]] == i:
                    inter += 1
            union = ni + (ej - sj) - inter
            if union > 0:
                dj = 1.0 - inter / union
            else:
                dj = 1.0
            dc = 1.0 - np.float64(sims[i, col])
            d[i, col] = (1.0 - lam) * dj + lam * dc
    return d


def _validate(nbrs: np.ndarray, sims: np.ndarray, k: int, lam: float) -> None:
    if nbrs.ndim != 2 or sims.shape != nbrs.shape:
        raise ValueError(f"nbrs and sims must be 2-D arrays of the same shape, got {nbrs.shape} and {sims.shape}")
    n, kk = nbrs.shape
    if not 1 <= k <= kk:
        raise ValueError(f"k must be in [1, {kk}] (the kNN width), got {k}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    if n >= 2**31 - 1:
        raise ValueError("more than 2**31 - 2 nodes are not supported (int32 indices)")
    if n and (nbrs[:, :k].min() < 0 or nbrs[:, :k].max() >= n):
        raise ValueError("neighbour indices must lie in [0, N) (no -1 padding in the first k columns)")


def structure_space(nbrs: np.ndarray, sims: np.ndarray, k: int = 80, lam: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    r"""Re-rank the first ``k`` kNN neighbours of every node in the Ada-NETS structure space.

    Args:
        nbrs: int (N, K) kNN indices, self in column 0, by descending cosine; ``K >= k``.
        sims: float (N, K) cosine similarities matching ``nbrs``.
        k: neighbours per node used for R(i, k) and re-ranked (paper: 80); ``k // 2`` for
            the half-size reciprocal sets.
        lam: weight λ of the cosine distance (paper: 0.3).

    Returns:
        ``(nbrs, dists)``: int32 (N, k) the same k neighbours of each node re-sorted by the
        structure distance ``d = (1 - λ)·d_J + λ·(1 - cos)`` ascending (stable), and float32
        (N, k) those distances. See the module docstring for the full definition.
    """
    nbrs = np.asarray(nbrs)
    sims = np.asarray(sims)
    k = int(k)
    lam = float(lam)
    _validate(nbrs, sims, k, lam)
    n = nbrs.shape[0]
    if n == 0:
        return np.empty((0, k), np.int32), np.empty((0, k), np.float32)
    t0 = time.perf_counter()
    a = np.ascontiguousarray(nbrs[:, :k], dtype=np.int32)
    s = np.ascontiguousarray(sims[:, :k], dtype=np.float32)
    kh = k // 2  # the reference implementation's k2 = k // 2
    threads = numba.get_num_threads()
    marks = np.full((threads, n), -1, np.int32)
    marks2 = np.full((threads, n), -1, np.int32)

    rk, nrk = _reciprocal_sets(a, np.sort(a, axis=1), k, marks)
    marks.fill(-1)
    rh, nrh = _reciprocal_sets(a, np.sort(a[:, :kh], axis=1), kh, marks)
    marks.fill(-1)
    logger.info("structure space: reciprocal sets R(i,%d), R(i,%d) of %d nodes, mean |R(i,%d)| %.1f (%.1fs)",
                k, kh, n, k, float(nrk.mean()), time.perf_counter() - t0)

    qual, size = _expanded_sizes(rk, nrk, rh, nrh, marks, marks2)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(size, out=indptr[1:])
    marks2.fill(-1)
    data = _expanded_fill(rk, nrk, rh, nrh, qual, indptr, marks2)
    del qual, rk, rh, marks2
    logger.info("structure space: expanded sets R*, mean |R*| %.1f (%.1fs)", float(size.mean()), time.perf_counter() - t0)

    marks.fill(-1)
    d = _structure_dists(a, s, indptr, data, lam, marks)
    del marks, data
    out_n = np.empty((n, k), np.int32)
    out_d = np.empty((n, k), np.float32)
    chunk = 1 << 16
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        order = np.argsort(d[lo:hi], axis=1, kind="stable")
        out_n[lo:hi] = np.take_along_axis(a[lo:hi], order, axis=1)
        out_d[lo:hi] = np.take_along_axis(d[lo:hi], order, axis=1)
    logger.info("structure space: %d nodes x %d re-ranked (lambda %.3g) in %.1fs", n, k, lam, time.perf_counter() - t0)
    return out_n, out_d


def knn_precision_at(nbrs: np.ndarray, labels: np.ndarray, ks: Iterable[int]) -> dict[int, float]:
    """Mean neighbour precision@k: the fraction of each node's first ``k`` neighbours sharing its label.

    The node itself is excluded wherever it sits in its row (for a kNN list that is column
    0, so the first ``k`` neighbours are columns ``1..k``; in a structure-space list the node
    is usually, but not necessarily, first). Negative entries (padding) are ignored as well.
    Rows with fewer than ``k`` other entries use what they have; rows with none are skipped.

    Args:
        nbrs: int (N, K) neighbour lists (kNN or structure space).
        labels: int (N,) labels.
        ks: the cut-offs, each in ``[1, K]``.

    Returns:
        ``{k: mean precision}`` as Python floats (``nan`` if no row has a neighbour).
    """
    nbrs = np.asarray(nbrs)
    labels = np.asarray(labels)
    if nbrs.ndim != 2 or labels.shape != (nbrs.shape[0],):
        raise ValueError(f"nbrs must be (N, K) and labels (N,), got {nbrs.shape} and {labels.shape}")
    ks = [int(k) for k in ks]
    width = nbrs.shape[1]
    for k in ks:
        if not 1 <= k <= width:
            raise ValueError(f"k must be in [1, {width}], got {k}")
    n = nbrs.shape[0]
    valid = (nbrs != np.arange(n)[:, None]) & (nbrs >= 0)
    rank = np.cumsum(valid, axis=1)  # 1-based rank among the non-self entries
    same = valid & (labels[np.where(valid, nbrs, 0)] == labels[:, None])
    out: dict[int, float] = {}
    for k in ks:
        keep = valid & (rank <= k)
        cnt = keep.sum(axis=1)
        hit = (same & keep).sum(axis=1)
        rows = cnt > 0
        out[k] = float(np.mean(hit[rows] / cnt[rows])) if rows.any() else float("nan")
    return out
