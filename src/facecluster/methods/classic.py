"""The classic clustering baselines of the face-clustering tables, on the shared kNN artifact.

All graph methods take ``nbrs``/``sims`` (N, k) from ``knn.npz`` (self in column 0, already cut to
the method's k) and return int64 cluster ids (N,). The baselines follow learn-to-cluster's
``baseline/`` release (its MS1M scripts give the fixed values; this project tunes the one parameter
on the train split by default, ``tune: fixed`` uses the configured value):

* :func:`knn_dbscan` — ``baseline/sklearn_cluster.py:knn_dbscan``: scikit-learn's ``DBSCAN``
  (``metric='precomputed'``) on the *one-way* sparse kNN distance matrix (row i holds 1 − cos to
  i's listed neighbours, self removed; ``utils.fast_knns2spmat``), so i reaches j within ``eps``
  only when j is in i's list, and clusters grow from the cores in index order. Noise points
  (label −1) become singletons. MS1M: k 80, eps 0.25, min_samples 1; DeepFashion: k 4, eps 0.1,
  min_samples 2.
* :func:`fast_hac` — ``sklearn_cluster.py:fast_hierarchy``: ``fastcluster.linkage_vector`` single
  linkage on *all* (L2-normalised) features with the Euclidean distance, cut by
  ``scipy.cluster.hierarchy.fcluster(criterion='distance')`` (MS1M 0.72, i.e. cos ≈ 0.74;
  DeepFashion 0.4). Exact single linkage costs O(N² d) time: above ``max_samples`` the method
  either stops with a clear error (``fallback: error``) or uses the single linkage of the kNN
  graph (``fallback: knn``: its minimum spanning forest in the same Euclidean distance, which is
  exact single linkage whenever every merge at or below the cut is a kNN edge).
* :func:`chinese_whispers` — label propagation: every node starts in its own class; in each of
  ``iterations`` rounds the nodes, in a seeded random order, take the class with the largest
  summed edge weight (cosine) among their neighbours (edges with cosine ≥ ``tau``). numba.
* :func:`approx_rank_order` — ``baseline/aro.py`` (approximate rank-order, Otto et al., 2018): for
  the neighbour j in column O_i of i's list (self in column 0), O_j is i's column in j's list plus
  one; d_ij counts i's first O_i entries absent from j's list, d_ji counts j's first O_j entries
  absent from i's list, and D(i, j) = (d_ij + d_ji) / min(O_i, O_j); a pair where j does not list
  i gets 9999 (never linked). Each node's *plausible neighbours* are those with D ≤ ``threshold``
  (MS1M 1.0); clusters grow by breadth-first search over these one-way links from the lowest
  unvisited index, and a node already in a cluster is never moved (so a link from a later node to
  an earlier cluster is ignored).
* :func:`leiden` — Leiden community detection (igraph's C implementation, ``community_leiden``) on
  the symmetrised kNN graph weighted by cosine (edges with cosine > 0), constant Potts model with
  ``resolution``: a community is kept when its internal weight beats ``resolution`` per pair of
  members, a density threshold (``iterations`` = 2 passes). The authors' ``leidenalg`` gives the
  same partitions up to its random tie-breaks (the same pairwise F to ±0.003 on npmscope) and
  takes 18x longer per run (11.5 s vs 0.6 s on npmscope's train kNN at k 80), which made the
  Leiden grid search the costliest job of ``make run``.

and on the features:

* :func:`minibatch_kmeans` — scikit-learn ``MiniBatchKMeans`` (k-means++ initialisation) on
  the L2-normalised features; with the true number of clusters this is an upper-bound variant
  (it is given what a clustering method should find).
"""

from __future__ import annotations

import time

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from facecluster.graph.ops import noise_to_singletons, symmetric_graph
from facecluster.registry import DENSE_LINKAGE_MAX
from facecluster.progress import Progress, logger


# ---------------------------------------------------------------------------------------------
# DBSCAN and single linkage


def one_way_distances(nbrs: np.ndarray, sims: np.ndarray) -> sp.csr_matrix:
    """The release's sparse kNN distance matrix: row i holds 1 − cos to i's listed neighbours, self removed."""
    n, k = nbrs.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = nbrs.reshape(-1).astype(np.int64)
    # clipped at 0: a duplicate's float cosine can exceed 1 (the release asserts the same range)
    dist = np.maximum(1.0 - sims.reshape(-1).astype(np.float64), 0.0)
    keep = (cols != rows) & (cols >= 0)
    return sp.csr_matrix((dist[keep], (rows[keep], cols[keep])), shape=(n, n))


def knn_dbscan(nbrs: np.ndarray, sims: np.ndarray, eps: float, min_samples: int = 1) -> np.ndarray:
    """scikit-learn DBSCAN on the one-way kNN distance matrix; noise points are singletons."""
    from sklearn.cluster import DBSCAN

    return noise_to_singletons(DBSCAN(eps=float(eps), min_samples=int(min_samples), metric="precomputed").fit(
        one_way_distances(nbrs, sims)).labels_)


def euclidean_of_cosine(cos: np.ndarray | float) -> np.ndarray | float:
    """Euclidean distance between unit vectors of cosine ``cos``: sqrt(2 − 2 cos)."""
    return np.sqrt(np.maximum(2.0 - 2.0 * np.asarray(cos, dtype=np.float64), 0.0))


#: exponent of fastcluster's single-linkage time in N on 256-d features, measured by
#: ``benchmarks/scaling.py`` (49 s at 25,000 samples, 366 s at 50,000 on one core: 2.88)
FAST_HAC_EXPONENT = 2.9
FAST_HAC_PROBE = 4000


class FastHacLimitError(ValueError):
    """Exact single linkage was refused or stopped: too many samples, or over its time limit."""


def _linkage_child(x: np.ndarray, conn) -> None:
    import fastcluster

    conn.send(fastcluster.linkage_vector(x, method="single", metric="euclidean"))
    conn.close()


def single_linkage(features: np.ndarray, max_seconds: float | None = None, heartbeat: float = 30.0) -> np.ndarray:
    """fastcluster's single-linkage dendrogram of the L2-normalised features (Euclidean), (N − 1, 4).

    fastcluster's C code runs to the end once started and logs nothing, and its time grows about
    as N^:data:`FAST_HAC_EXPONENT` here. So: the dendrogram of a random sample of
    :data:`FAST_HAC_PROBE` rows is timed first and scaled to N (logged as the estimate); above
    ``max_seconds`` the call is refused at once; otherwise the linkage runs in a child process, the
    log gets a line every ``heartbeat`` seconds (elapsed against the estimate), and the child is
    stopped once ``max_seconds`` have passed. Both raise :class:`FastHacLimitError` (None: no limit,
    in process)."""
    import fastcluster

    x = np.asarray(features, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = x.shape[0]
    if n <= FAST_HAC_PROBE:
        return fastcluster.linkage_vector(x, method="single", metric="euclidean")
    probe = x[np.random.default_rng(0).choice(n, FAST_HAC_PROBE, replace=False)]
    start = time.perf_counter()
    fastcluster.linkage_vector(probe, method="single", metric="euclidean")
    estimate = (time.perf_counter() - start) * (n / FAST_HAC_PROBE) ** FAST_HAC_EXPONENT
    what = f"fast_hac: exact single linkage of {n:,} x {x.shape[1]} features"
    logger.info("%s: estimated %.0f s (a %d-row sample's dendrogram scaled by N^%.1f; one core, no progress "
                "inside fastcluster)", what, estimate, FAST_HAC_PROBE, FAST_HAC_EXPONENT)
    if max_seconds is None:
        return fastcluster.linkage_vector(x, method="single", metric="euclidean")
    advice = "raise methods.fast_hac.max_seconds (null: no limit) or set methods.fast_hac.fallback: knn"
    if estimate > max_seconds:
        raise FastHacLimitError(f"{what} is estimated at {estimate:.0f} s, above methods.fast_hac.max_seconds = "
                                f"{max_seconds:g}; {advice}")
    import multiprocessing

    start = time.perf_counter()  # the limit counts the linkage itself
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_linkage_child, args=(x, send), daemon=True)
    child.start()
    send.close()
    try:
        while not receive.poll(heartbeat):
            elapsed = time.perf_counter() - start
            if elapsed > max_seconds:
                raise FastHacLimitError(f"{what}: stopped after {elapsed:.0f} s (estimate {estimate:.0f} s), above "
                                        f"methods.fast_hac.max_seconds = {max_seconds:g}; {advice}")
            if not child.is_alive() and not receive.poll():
                raise RuntimeError(f"{what}: the linkage process ended without a result (exit code {child.exitcode})")
            logger.info("%s: running, %.0f s of an estimated %.0f s", what, elapsed, estimate)
        return receive.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def cut_linkage(linkage: np.ndarray, distance: float) -> np.ndarray:
    """``fcluster(criterion='distance')`` of a dendrogram → int64 ids from 0."""
    from scipy.cluster.hierarchy import fcluster

    return (fcluster(linkage, float(distance), criterion="distance") - 1).astype(np.int64)


def knn_single_linkage(nbrs: np.ndarray, sims: np.ndarray, distance: float) -> np.ndarray:
    """Single linkage of the kNN graph cut at a Euclidean ``distance``: its minimum spanning forest
    with every edge longer than the cut removed (the fallback of :func:`fast_hac` above its limit)."""
    n = nbrs.shape[0]
    g = symmetric_graph(nbrs, sims)
    dist = g.copy()
    # MST ignores explicit zeros: shift distances by a constant (the MST is invariant to it)
    dist.data = euclidean_of_cosine(dist.data) + 2.0
    mst = minimum_spanning_tree(dist).tocoo()
    keep = mst.data - 2.0 <= distance + 1e-7
    _, labels = connected_components(sp.csr_matrix((np.ones(int(keep.sum())), (mst.row[keep], mst.col[keep])), shape=(n, n)),
                                     directed=False)
    return labels.astype(np.int64)


def fast_hac(features: np.ndarray, distance: float, nbrs: np.ndarray | None = None, sims: np.ndarray | None = None,
             max_samples: int = 200_000, fallback: str = "error", linkage: np.ndarray | str | None = None,
             max_seconds: float | None = None) -> np.ndarray:
    """Single linkage on all features (Euclidean) cut at ``distance``, as the release. Above
    ``max_samples`` samples, or when its estimated time is above ``max_seconds``
    (:func:`single_linkage`), :func:`knn_single_linkage` (``fallback='knn'``) or a
    :class:`FastHacLimitError`. ``linkage`` (from :func:`fast_hac_linkage`) may be passed to reuse
    it across distances; ``"knn"`` there means the fallback was already chosen."""
    if linkage is None:
        linkage = fast_hac_linkage(features, max_samples, fallback, max_seconds)
    if isinstance(linkage, str):
        if nbrs is None or sims is None:
            raise ValueError("fast_hac: the kNN fallback needs the kNN graph")
        return knn_single_linkage(nbrs, sims, distance)
    return cut_linkage(linkage, distance)


@numba.njit(cache=True)
def _prim_dense(d2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim's minimum spanning tree of a dense matrix of squared distances: edges (a, b, d²)."""
    n = d2.shape[0]
    in_tree = np.zeros(n, dtype=np.bool_)
    best = np.full(n, np.inf)
    parent = np.zeros(n, dtype=np.int64)
    a = np.empty(n - 1, dtype=np.int64)
    b = np.empty(n - 1, dtype=np.int64)
    w = np.empty(n - 1, dtype=np.float64)
    cur = 0
    in_tree[0] = True
    for s in range(n - 1):
        row = d2[cur]
        nxt, nd = -1, np.inf
        for j in range(n):
            if not in_tree[j]:
                v = row[j]
                if v < best[j]:
                    best[j] = v
                    parent[j] = cur
                if best[j] < nd:
                    nd = best[j]
                    nxt = j
        in_tree[nxt] = True
        a[s], b[s], w[s] = parent[nxt], nxt, nd
        cur = nxt
    return a, b, w


@numba.njit(cache=True)
def _linkage_of_tree(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    """The single-linkage dendrogram (scipy's (N − 1, 4) layout) of a spanning tree's edges."""
    order = np.argsort(w, kind="mergesort")
    up = np.arange(2 * n - 1)
    size = np.ones(2 * n - 1, dtype=np.int64)
    z = np.empty((n - 1, 4))
    for t in range(n - 1):
        e = order[t]
        ra, rb = a[e], b[e]
        while up[ra] != ra:
            up[ra] = up[up[ra]]
            ra = up[ra]
        while up[rb] != rb:
            up[rb] = up[up[rb]]
            rb = up[rb]
        new = n + t
        z[t, 0], z[t, 1] = min(ra, rb), max(ra, rb)
        z[t, 2] = w[e]
        size[new] = size[ra] + size[rb]
        z[t, 3] = size[new]
        up[ra] = new
        up[rb] = new
    return z


def dense_single_linkage(features: np.ndarray) -> np.ndarray:
    """Single-linkage dendrogram of the L2-normalised features (Euclidean), (N − 1, 4), the same as
    fastcluster's up to float rounding: the squared distances 2 − 2·XXᵀ by one BLAS product
    (float32, N² · 4 bytes), Prim's tree on them (numba), the tree's edges merged in order of
    length. 4 s instead of fastcluster's 85 s at 20,000 x 256 on this project's 2-core machine.
    No time estimate or ``max_seconds`` here: those guard fastcluster's path above
    :data:`~facecluster.registry.DENSE_LINKAGE_MAX`."""
    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = x.shape[0]
    if n < 2:
        return np.zeros((0, 4))
    d2 = x @ x.T
    d2 *= -2.0
    d2 += 2.0
    np.maximum(d2, 0.0, out=d2)
    a, b, w = _prim_dense(d2)
    del d2
    return _linkage_of_tree(a, b, np.sqrt(w), n)


def fast_hac_linkage(features: np.ndarray, max_samples: int = 200_000, fallback: str = "error",
                     max_seconds: float | None = None) -> np.ndarray | str:
    """The exact dendrogram, or ``"knn"`` when it is over a limit and ``fallback`` is ``knn``."""
    n = features.shape[0]
    try:
        if n > max_samples:
            raise FastHacLimitError(f"fast_hac: exact single linkage of {n:,} samples exceeds methods.fast_hac.max_samples "
                                    f"= {max_samples:,} (time about N^{FAST_HAC_EXPONENT}); raise it or set methods.fast_hac.fallback: knn")
        if n <= DENSE_LINKAGE_MAX:
            logger.info("fast_hac: exact single linkage of %s samples by Prim's tree on the dense distance matrix "
                        "(%.1f GB)", f"{n:,}", n * n * 4 / 1e9)
            return dense_single_linkage(features)
        return single_linkage(features, max_seconds)
    except FastHacLimitError as exc:
        if fallback != "knn":
            raise
        logger.info("%s -> single linkage of the kNN graph instead (fallback: knn)", exc)
        return "knn"


# ---------------------------------------------------------------------------------------------
# Chinese whispers


@numba.njit(cache=True)
def _whispers(indptr, indices, weights, order_all, iterations):
    n = indptr.size - 1
    label = np.arange(n)
    score = np.zeros(n)
    for it in range(iterations):
        order = order_all[it]
        changed = 0
        for t in range(n):
            v = order[t]
            lo, hi = indptr[v], indptr[v + 1]
            if lo == hi:
                continue
            best, best_w = label[v], -1.0
            for p in range(lo, hi):
                score[label[indices[p]]] += weights[p]
            for p in range(lo, hi):
                c = label[indices[p]]
                w = score[c]
                if w > best_w or (w == best_w and c < best):
                    best, best_w = c, w
            for p in range(lo, hi):
                score[label[indices[p]]] = 0.0
            if best != label[v]:
                label[v] = best
                changed += 1
        if changed == 0:
            break
    return label


def chinese_whispers(nbrs: np.ndarray, sims: np.ndarray, tau: float, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """Chinese whispers on the kNN graph with edges of cosine ≥ ``tau`` (weight = cosine)."""
    g = symmetric_graph(nbrs, sims, tau)
    n = g.shape[0]
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(n) for _ in range(iterations)]) if n else np.zeros((iterations, 0), dtype=np.int64)
    label = _whispers(g.indptr.astype(np.int64), g.indices.astype(np.int64), g.data.astype(np.float64), orders, iterations)
    _, labels = np.unique(label, return_inverse=True)
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Approximate rank order


@numba.njit(cache=True)
def _absent(nbrs, a, upto, b):
    """How many of a's first ``upto`` list entries are absent from b's list."""
    k = nbrs.shape[1]
    count = 0
    for i in range(upto):
        x = nbrs[a, i]
        found = False
        for q in range(k):
            if nbrs[b, q] == x:
                found = True
                break
        if not found:
            count += 1
    return count


@numba.njit(parallel=True, cache=True)
def _rank_order_distances(nbrs):
    n, k = nbrs.shape
    out = np.zeros((n, k))
    for i in numba.prange(n):
        for o_i in range(1, k):
            j = nbrs[i, o_i]
            if j < 0:
                out[i, o_i] = np.inf
                continue
            o_j = -1
            for q in range(k):
                if nbrs[j, q] == i:
                    o_j = q + 1
                    break
            if o_j < 0:
                out[i, o_i] = 9999.0
                continue
            d_ij = _absent(nbrs, i, o_i, j)
            d_ji = _absent(nbrs, j, o_j, i)
            out[i, o_i] = (d_ij + d_ji) / min(o_i, o_j)
    return out


def rank_order_distances(nbrs: np.ndarray) -> np.ndarray:
    """aro.py's D(i, j) for every kNN entry (i, column O_i) → float64 (N, k): 0 in column 0 (self),
    9999 where j does not list i."""
    return _rank_order_distances(np.ascontiguousarray(nbrs, dtype=np.int64))


@numba.njit(cache=True)
def _bfs_one_way(nbrs, linked):
    n, k = nbrs.shape
    labels = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    next_label = 0
    for seed in range(n):
        if labels[seed] >= 0:
            continue
        labels[seed] = next_label
        head, tail = 0, 1
        queue[0] = seed
        while head < tail:
            v = queue[head]
            head += 1
            for c in range(k):
                if linked[v, c]:
                    u = nbrs[v, c]
                    if u >= 0 and labels[u] < 0:
                        labels[u] = next_label
                        queue[tail] = u
                        tail += 1
        next_label += 1
    return labels


def one_way_clusters(nbrs: np.ndarray, linked: np.ndarray) -> np.ndarray:
    """aro.py's clustering: breadth-first search over the one-way links ``linked`` (N, k) bool from the
    lowest unvisited index; a node keeps the first cluster that reaches it."""
    return _bfs_one_way(np.ascontiguousarray(nbrs, dtype=np.int64), np.ascontiguousarray(linked))


def approx_rank_order(nbrs: np.ndarray, sims: np.ndarray, threshold: float, distances: np.ndarray | None = None) -> np.ndarray:
    """Approximate rank-order clusters as aro.py: one-way links with D ≤ ``threshold``, BFS in index order.

    ``distances`` (from :func:`rank_order_distances`) may be passed to reuse them across thresholds.
    """
    d = rank_order_distances(nbrs) if distances is None else distances
    return one_way_clusters(nbrs, d <= threshold)


# ---------------------------------------------------------------------------------------------
# Community detection and k-means


def leiden(nbrs: np.ndarray, sims: np.ndarray, resolution: float, seed: int = 0, iterations: int = 2) -> np.ndarray:
    """Leiden (constant Potts model) on the cosine-weighted symmetric kNN graph (edges with cosine > 0).

    igraph's ``community_leiden`` draws from igraph's random number generator; it is set to a
    ``random.Random(seed)`` for the call (and restored), so a seed gives the same partition."""
    import random

    import igraph as ig

    g = sp.triu(symmetric_graph(nbrs, sims, np.nextafter(np.float32(0), np.float32(1))), k=1).tocoo()
    graph = ig.Graph(n=nbrs.shape[0], edges=np.column_stack([g.row, g.col]), directed=False)
    ig.set_random_number_generator(random.Random(seed))
    try:
        part = graph.community_leiden(objective_function="CPM", weights=g.data.astype(np.float64),
                                      resolution=float(resolution), n_iterations=iterations)
    finally:
        ig.set_random_number_generator(random)
    return np.asarray(part.membership, dtype=np.int64)


class KMeansLimitError(RuntimeError):
    """Mini-batch k-means was stopped (or not started) because it would outrun its time limit."""


def kmeans_cost(n: int, d: int, n_clusters: int, batch_size: int = 1024, n_init: int = 3,
                max_iter: int = 100) -> dict[str, float]:
    """The work of scikit-learn's ``MiniBatchKMeans.fit`` (the cost model of ``minibatch_kmeans``).

    * initialisation, ``n_init`` runs of k-means++ on ``init_size = min(N, max(3·batch, 3·K))``
      samples: K centres one after the other, each scoring ``2 + ⌊ln K⌋`` candidates against every
      sample, so ``n_init · K`` sequential centre steps of ``init_size · d · (2 + ⌊ln K⌋)``
      multiply-adds each; the work grows as K² once ``3·K`` exceeds ``3·batch`` (K > 1,024 at the
      default batch), and the many small products make it slower than its multiply-adds suggest
      (:func:`kmeanspp_seconds_per_centre` times one centre step instead);
    * steps: at most ``max_iter · N / batch`` (early stopping usually ends far sooner), each
      ``2 · batch · K · d`` multiply-adds (distances and the centre update).
    """
    init_size = min(n, max(3 * batch_size, 3 * n_clusters))
    trials = 2 + int(np.log(max(n_clusters, 1)))
    return {"init_size": init_size, "trials": trials, "init_centre_steps": n_init * n_clusters,
            "step_macs": 2.0 * min(batch_size, n) * n_clusters * d, "max_steps": (max_iter * n) // min(batch_size, n)}


def kmeanspp_seconds_per_centre(sample: np.ndarray, trials: int, probe: int = 32) -> float:
    """Measured seconds of one k-means++ centre step on ``sample`` (scikit-learn's
    ``kmeans_plusplus`` choosing ``probe`` centres with ``trials`` candidates each)."""
    from sklearn.cluster import kmeans_plusplus

    start = time.perf_counter()
    kmeans_plusplus(sample, n_clusters=min(probe, len(sample)), n_local_trials=trials, random_state=0)
    return (time.perf_counter() - start) / min(probe, len(sample))


def matmul_rate(d: int, n_clusters: int, batch_size: int = 1024, seconds: float = 0.2) -> float:
    """Measured multiply-adds per second of this machine's float32 products of k-means' step shape
    ((batch × d) @ (d × min(K, 4096)), the threads numpy/BLAS has), over about ``seconds``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((min(batch_size, 4096), d), dtype=np.float32)
    b = rng.standard_normal((d, min(max(n_clusters, 1), 4096)), dtype=np.float32)
    a @ b  # warm-up
    reps, start = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    return reps * a.shape[0] * a.shape[1] * b.shape[1] / (time.perf_counter() - start)


def minibatch_kmeans(features: np.ndarray, n_clusters: int, batch_size: int = 1024, seed: int = 0,
                     n_init: int = 3, max_seconds: float | None = 600.0) -> np.ndarray:
    """scikit-learn MiniBatchKMeans on the features → int64 cluster ids (learn-to-cluster's
    ``mini_batch_kmeans``: k-means++ and ``n_init`` 3, the scikit-learn default of its time).

    Its cost grows with N·K and, through the k-means++ initialisation, with K² (:func:`kmeans_cost`).
    Before starting, the log gets the cost model's estimate in seconds at this machine's measured
    matrix-product rate; when the initialisation alone is estimated above ``max_seconds`` it
    refuses at once, and while it runs it logs each initialisation and its steps (with the
    batch inertia) and stops once ``max_seconds`` have passed. Both raise :class:`KMeansLimitError`
    naming the shape, the estimate and the setting (None: no limit).
    """
    from sklearn.cluster import MiniBatchKMeans

    x = np.asarray(features, dtype=np.float32)
    n, d = x.shape
    cost = kmeans_cost(n, d, n_clusters, batch_size, n_init)
    rate = matmul_rate(d, n_clusters, batch_size)
    per_centre = kmeanspp_seconds_per_centre(x[: cost["init_size"]], cost["trials"])
    init_s = cost["init_centre_steps"] * per_centre
    steps_s = cost["max_steps"] * cost["step_macs"] / rate
    shape = f"minibatch_kmeans on {n} x {d} features, {n_clusters} clusters, batch {batch_size}, n_init {n_init}"
    logger.info("%s: cost model: k-means++ initialisation ~%.0f s (%d runs x %d centres on %d samples at %.1f ms "
                "per centre, measured), steps ~%.3f s each at %.0f GMAC/s (measured), at most %d (~%.0f s; early "
                "stopping usually ends far sooner)", shape, init_s, n_init, n_clusters, cost["init_size"],
                1e3 * per_centre, cost["step_macs"] / rate, rate / 1e9, cost["max_steps"], steps_s)
    if max_seconds is not None and init_s > max_seconds:
        raise KMeansLimitError(
            f"{shape}: the k-means++ initialisation alone is estimated at {init_s:.0f} s, above "
            f"methods.minibatch_kmeans.max_seconds = {max_seconds:g}; its cost grows as n_clusters^2 "
            f"(facecluster.methods.classic.kmeans_cost). Raise max_seconds (null: no limit) or lower n_init or n_clusters.")
    start = time.perf_counter()
    state: dict = {"runs": 0, "progress": None}

    class _Logged(MiniBatchKMeans):
        """MiniBatchKMeans with a progress line per initialisation and per few seconds of steps, and
        the time limit (scikit-learn 1.9's hooks ``_init_centroids`` and ``_mini_batch_convergence``)."""

        def _init_centroids(self, *args, **kwargs):
            state["runs"] += 1
            logger.info("%s: k-means++ initialisation %d/%d (elapsed %.1f s)", shape, state["runs"], n_init,
                        time.perf_counter() - start)
            return super()._init_centroids(*args, **kwargs)

        def _mini_batch_convergence(self, step, n_steps, n_samples, centers_squared_diff, batch_inertia):
            if state["progress"] is None:
                state["progress"] = Progress("minibatch_kmeans steps", n_steps)
            state["progress"].update(step + 1, f"batch inertia {batch_inertia / self._batch_size:.5f}")
            elapsed = time.perf_counter() - start
            if max_seconds is not None and elapsed > max_seconds:
                raise KMeansLimitError(
                    f"{shape}: stopped after {elapsed:.0f} s at step {step + 1} of at most {n_steps}, above "
                    f"methods.minibatch_kmeans.max_seconds = {max_seconds:g} (cost model: ~{steps_s:.0f} s for every step). "
                    f"Raise max_seconds (null: no limit) or lower n_clusters.")
            return super()._mini_batch_convergence(step, n_steps, n_samples, centers_squared_diff, batch_inertia)

    model = _Logged(n_clusters=n_clusters, batch_size=batch_size, random_state=seed, n_init=n_init)
    labels = model.fit_predict(x).astype(np.int64)
    logger.info("%s: %d steps in %.1f s", shape, model.n_steps_, time.perf_counter() - start)
    return labels
