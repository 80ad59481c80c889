"""Label-free choice of a clustering method's parameter (a dataset with no labels at all).

:func:`~facecluster.evaluation.search.search_grid` picks a parameter by pairwise F on a labelled
validation part; :func:`choose_label_free` picks it from the unlabelled split being clustered, by
one of the criteria of :data:`CRITERIA`. Reading no labels, it may choose on the very split it
clusters. Two kinds of criterion:

*Partition criteria* (:data:`PARTITION_CRITERIA`) score the partition ``cluster(value)`` of every
grid value on a kNN graph (the first :data:`SCORE_K` = 80 columns of ``nbrs``/``sims``: pass a
wide graph even when the method clusters fewer columns) and keep the best; they work for any method's
parameter (a cosine, a distance, a resolution):

- ``modularity``: Newman's modularity of the partition on the symmetrised kNN graph weighted by
  the cosines (negative cosines count 0; resolution 1).
- ``silhouette``: a silhouette computed on the kNN lists only (distance ``1 - cos``): for node
  ``i``, ``a`` = mean distance to its listed neighbours in its own cluster, ``b`` = the smallest
  mean distance to the listed neighbours of another cluster; a cluster (or another cluster) with no
  listed member is taken to lie at the list's farthest distance (a lower bound: it is beyond the
  list); ``s = (b - a) / max(a, b)``, 0 for a node alone in its cluster (Rousseeuw's convention);
  the score is the mean ``s``.
- ``mutual_f``: an estimate of pairwise F with the *mutual* kNN pairs (``j`` in ``i``'s list and
  ``i`` in ``j``'s) as the pseudo-positive pairs: precision = pseudo-positives joined / all pairs
  joined (every pair inside a cluster, listed or not: a chained cluster pays for its pairs),
  recall = pseudo-positives joined / all pseudo-positives.
- ``expected_f``: the same estimate of pairwise F with each listed pair weighted by its posterior
  of being a same-identity pair under a two-component Gaussian mixture of the pairs' cosines
  (``mixture`` below), i.e. expected true pairs instead of mutual ones.

*Similarity criteria* (:data:`SIMILARITY_CRITERIA`) read only the cosines of the first ``k``
columns (self excluded; ``k`` as the method uses) and give one cosine threshold, turned into the
parameter (``param``: ``"cosine"`` as is, ``"distance"`` as ``1 - cos``) and snapped to the
nearest grid value; ``cluster`` is not called. They fit cosine-type parameters only:

- ``mixture``: a two-component Gaussian mixture fitted by EM; the threshold is where the
  posteriors of the two components cross (the same-identity posterior made monotone in the cosine).
- ``valley``: the minimum of the (smoothed histogram) density between the mixture's two means
  (the crossing when the density has no interior minimum there).
- ``otsu``: Otsu's threshold (the split of the histogram with the largest between-class variance).

Everything is vectorised over nodes and edges (numpy / scipy); the partition criteria cost O(edges)
per grid value (``silhouette`` one sort of the directed kNN entries), so a 30-value grid takes
seconds at 20,000 nodes and 80 neighbours, plus the clusterings themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import gaussian_filter1d

from facecluster.progress import Progress, logger

#: how a method's parameter relates to a cosine threshold ``t`` (for the similarity criteria):
#: ``cosine``: the parameter is ``t`` (knn_cc, Ada-NETS' tau, Chinese whispers, CDP); ``distance``:
#: ``1 - t`` (knn_dbscan's eps); ``other``: no relation (a resolution, a rank-order distance)
PARAMS = ("cosine", "distance", "other")

#: kNN columns the partition criteria score on by default (benchmarks/label_free.py: ``mutual_f``
#: kept its choices from 40 to 100 columns on both shipped datasets, and lost on the methods' own
#: 5 columns (npmscope) and on 120 (synthetic))
SCORE_K = 80

#: histogram bins of the similarity criteria (the mixture is fitted on the binned cosines)
BINS = 2048


# ---------------------------------------------------------------------------------------------
# the graph every criterion reads


@dataclass
class KnnGraph:
    """A kNN graph prepared once per choice and shared by every grid value.

    ``nbrs``/``sims``: the directed lists (self and padding (``-1``) entries are masked by
    ``valid``); ``row``/``col``/``weight``/``mutual``: each undirected pair listed in either
    direction once (``row < col``), its cosine (the larger of the two directions' values) and
    whether it is listed in both directions.
    """

    nbrs: np.ndarray
    sims: np.ndarray
    valid: np.ndarray
    row: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    mutual: np.ndarray
    _posterior: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.nbrs.shape[0])

    def posterior(self) -> np.ndarray:
        """Each undirected pair's same-identity posterior under the :func:`fit_mixture` of the
        pairs' cosines (computed once)."""
        if self._posterior is None:
            mix = fit_mixture(self.weight)
            self._posterior = mix.posterior(self.weight)
        return self._posterior


def knn_graph(nbrs: np.ndarray, sims: np.ndarray) -> KnnGraph:
    """The :class:`KnnGraph` of kNN lists ``nbrs`` (int (N, k)) and their cosines ``sims`` (N, k)."""
    nbrs = np.asarray(nbrs)
    sims = np.asarray(sims, dtype=np.float64)
    if nbrs.ndim != 2 or nbrs.shape != sims.shape:
        raise ValueError(f"nbrs {nbrs.shape} and sims {sims.shape} must be two arrays of the same shape (N, k)")
    n, k = nbrs.shape
    own = np.arange(n)[:, None]
    valid = (nbrs >= 0) & (nbrs != own)
    src = np.broadcast_to(own, (n, k))[valid].astype(np.int64)
    dst = nbrs[valid].astype(np.int64)
    s = sims[valid]
    listed = sp.csr_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n, n))
    listed.sum_duplicates()
    listed.data[:] = 1
    both = listed.multiply(listed.T).tocsr()
    w = sp.csr_matrix((s, (src, dst)), shape=(n, n))
    w.sum_duplicates()
    # the larger cosine of the two directions (both are the same cosine up to float noise); kept
    # explicit where a cosine is exactly 0 by offsetting, so that no listed pair is dropped
    shift = 2.0
    w.data = w.data + shift
    w = w.maximum(w.T)
    upper = sp.triu(w, k=1).tocoo()
    row, col = upper.row.astype(np.int64), upper.col.astype(np.int64)
    mutual = np.asarray(both[row, col]).ravel() > 0
    return KnnGraph(nbrs=nbrs, sims=sims, valid=valid, row=row, col=col, weight=upper.data - shift, mutual=mutual)


def _compact(labels: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels).ravel()
    if labels.shape[0] != n:
        raise ValueError(f"a partition of {labels.shape[0]} nodes for a graph of {n}")
    uniq, inverse = np.unique(labels, return_inverse=True)
    return inverse.astype(np.int64), int(uniq.size)


# ---------------------------------------------------------------------------------------------
# partition criteria: (labels, graph) -> score, higher is better


def modularity(labels: np.ndarray, graph: KnnGraph, resolution: float = 1.0) -> float:
    """Newman's modularity ``Q = sum_c [w_in(c) / m - resolution * (d(c) / 2m)^2]`` of ``labels`` on
    the symmetrised kNN graph weighted by ``max(cos, 0)`` (``m``: total edge weight, ``w_in(c)``:
    weight inside cluster ``c``, ``d(c)``: its nodes' weighted degrees). 0 for a graph without weight."""
    lab, c = _compact(labels, graph.n)
    w = np.maximum(graph.weight, 0.0)
    m = float(w.sum())
    if m <= 0:
        return 0.0
    inside = float(w[lab[graph.row] == lab[graph.col]].sum())
    degree = np.bincount(graph.row, w, minlength=graph.n) + np.bincount(graph.col, w, minlength=graph.n)
    volume = np.bincount(lab, degree, minlength=c)
    return inside / m - resolution * float(np.sum((volume / (2.0 * m)) ** 2))


def pseudo_fscore(labels: np.ndarray, graph: KnnGraph, positive: np.ndarray) -> float:
    """Pairwise F of ``labels`` against pseudo-positive pairs: ``positive`` weighs each undirected
    pair of ``graph`` (``graph.row``/``graph.col``) in [0, 1]; the unlisted pairs count as negative.
    Precision = weight of the pairs joined / number of pairs joined (all pairs inside the clusters),
    recall = weight of the pairs joined / total weight; 0 when nothing is joined."""
    lab, c = _compact(labels, graph.n)
    positive = np.asarray(positive, dtype=np.float64)
    joined = float(positive[lab[graph.row] == lab[graph.col]].sum())
    sizes = np.bincount(lab, minlength=c).astype(np.float64)
    predicted = float(np.sum(sizes * (sizes - 1.0)) / 2.0)
    total = float(positive.sum())
    return 0.0 if joined <= 0 or predicted + total <= 0 else 2.0 * joined / (predicted + total)


def mutual_fscore(labels: np.ndarray, graph: KnnGraph) -> float:
    """:func:`pseudo_fscore` with the mutual kNN pairs as the positives."""
    return pseudo_fscore(labels, graph, graph.mutual)


def expected_fscore(labels: np.ndarray, graph: KnnGraph) -> float:
    """:func:`pseudo_fscore` with each listed pair weighted by its mixture posterior (:meth:`KnnGraph.posterior`)."""
    return pseudo_fscore(labels, graph, graph.posterior())


def knn_silhouette(labels: np.ndarray, graph: KnnGraph) -> float:
    """The mean silhouette of the nodes computed on their kNN lists (module docstring)."""
    lab, c = _compact(labels, graph.n)
    n, k = graph.nbrs.shape
    sizes = np.bincount(lab, minlength=c)
    dist = np.where(graph.valid, 1.0 - graph.sims, np.nan)
    far = np.nanmax(np.where(graph.valid, dist, -np.inf), axis=1)  # the list's farthest distance
    far = np.where(np.isfinite(far), far, 0.0)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, k))[graph.valid]
    other = lab[np.where(graph.valid, graph.nbrs, 0)][graph.valid]
    d = dist[graph.valid]
    # mean distance of each (node, cluster) group of listed neighbours
    key = rows * c + other
    uniq, inverse = np.unique(key, return_inverse=True)
    mean = np.bincount(inverse, d) / np.bincount(inverse)
    g_node, g_cluster = uniq // c, uniq % c
    own = g_cluster == lab[g_node]
    a = far.copy()
    a[g_node[own]] = mean[own]
    b = far.copy()
    if (~own).any():
        nearest = np.full(n, np.inf)
        np.minimum.at(nearest, g_node[~own], mean[~own])
        b = np.minimum(b, nearest)
    scale = np.maximum(a, b)
    s = np.where(scale > 0, (b - a) / np.where(scale > 0, scale, 1.0), 0.0)
    s[sizes[lab] <= 1] = 0.0
    return float(s.mean())


#: partition criteria: ``fn(labels, graph) -> score`` (higher is better)
PARTITION_CRITERIA: dict[str, Callable[[np.ndarray, KnnGraph], float]] = {
    "modularity": modularity,
    "silhouette": knn_silhouette,
    "mutual_f": mutual_fscore,
    "expected_f": expected_fscore,
}


# ---------------------------------------------------------------------------------------------
# similarity criteria: cosines -> a cosine threshold


@dataclass(frozen=True)
class Mixture:
    """A two-component 1-D Gaussian mixture of cosines: weights, means, variances (component 1:
    the higher mean, the same-identity pairs)."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def _log_joint(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)[..., None]
        return (np.log(self.weights) - 0.5 * np.log(2.0 * np.pi * self.variances)
                - 0.5 * (x - self.means) ** 2 / self.variances)

    def raw_posterior(self, x: np.ndarray) -> np.ndarray:
        """P(component 1 | x) as the mixture gives it."""
        lj = self._log_joint(x)
        return 1.0 / (1.0 + np.exp(np.clip(lj[..., 0] - lj[..., 1], -700, 700)))

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """P(same identity | cosine x), made non-decreasing in x (a wide high component would
        otherwise claim the far low tail): the smallest raw posterior at any cosine >= x."""
        x = np.asarray(x, dtype=np.float64)
        grid = np.linspace(min(float(x.min(initial=-1.0)), -1.0), max(float(x.max(initial=1.0)), 1.0), 8192)
        mono = np.minimum.accumulate(self.raw_posterior(grid)[::-1])[::-1]
        return np.interp(x, grid, mono)

    def crossing(self) -> float:
        """The cosine where the (monotone) posterior reaches 1/2 (between the two means when the
        components cross there; the mean of the means when they do not)."""
        lo, hi = float(self.means[0]), float(self.means[1])
        grid = np.linspace(lo, hi, 4097)
        post = self.posterior(grid)
        above = np.flatnonzero(post >= 0.5)
        return 0.5 * (lo + hi) if above.size == 0 else float(grid[above[0]])


def _histogram(values: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise ValueError("a similarity criterion needs at least two finite similarities")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1e-6
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return counts.astype(np.float64), 0.5 * (edges[:-1] + edges[1:])


def fit_mixture(values: np.ndarray, iterations: int = 500, tol: float = 1e-10) -> Mixture:
    """EM for a two-component Gaussian mixture of ``values`` (cosines), on their histogram
    (:data:`BINS` bins: the cost does not grow with the number of pairs). Starts from the lower and
    upper quartiles; variances are floored at (a tenth of a bin)^2."""
    counts, x = _histogram(values)
    total = counts.sum()
    cdf = np.cumsum(counts) / total
    mu = np.array([x[np.searchsorted(cdf, 0.25)], x[np.searchsorted(cdf, 0.75)]], dtype=np.float64)
    mean = float(np.sum(counts * x) / total)
    var_all = float(np.sum(counts * (x - mean) ** 2) / total)
    floor = (0.1 * (x[1] - x[0] if x.size > 1 else 1e-6)) ** 2
    var = np.full(2, max(var_all / 4.0, floor))
    pi = np.array([0.5, 0.5])
    previous = -np.inf
    for _ in range(iterations):
        lj = np.log(pi) - 0.5 * np.log(2.0 * np.pi * var) - 0.5 * (x[:, None] - mu) ** 2 / var
        top = lj.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(lj - top).sum(axis=1, keepdims=True))
        resp = np.exp(lj - lse) * counts[:, None]
        ll = float(np.sum(counts * lse[:, 0]) / total)
        nk = resp.sum(axis=0) + 1e-12
        pi = np.clip(nk / total, 1e-6, 1.0)
        pi = pi / pi.sum()
        mu = (resp * x[:, None]).sum(axis=0) / nk
        var = np.maximum((resp * (x[:, None] - mu) ** 2).sum(axis=0) / nk, floor)
        if ll - previous < tol:
            break
        previous = ll
    order = np.argsort(mu)
    return Mixture(weights=pi[order], means=mu[order], variances=var[order])


def mixture_threshold(values: np.ndarray) -> dict:
    """The posteriors' crossing of :func:`fit_mixture` (``{"threshold", "mixture": {...}}``)."""
    mix = fit_mixture(values)
    return {"threshold": mix.crossing(), "mixture": _describe(mix)}


def valley_threshold(values: np.ndarray) -> dict:
    """The minimum of the smoothed histogram density between the mixture's two means (the
    mixture's crossing when there is no interior minimum: ``"fallback": true``)."""
    mix = fit_mixture(values)
    counts, x = _histogram(values)
    density = gaussian_filter1d(counts, sigma=max(1.0, 0.01 * counts.size))
    inside = np.flatnonzero((x > mix.means[0]) & (x < mix.means[1]))
    out = {"mixture": _describe(mix), "fallback": True, "threshold": mix.crossing()}
    if inside.size >= 3:
        j = inside[np.argmin(density[inside])]
        if inside[0] < j < inside[-1]:
            out.update(threshold=float(x[j]), fallback=False)
    return out


def otsu_threshold(values: np.ndarray) -> dict:
    """Otsu's threshold: the histogram split maximising the between-class variance (``{"threshold"}``)."""
    counts, x = _histogram(values)
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    s0 = np.cumsum(counts * x)
    m0 = s0 / np.maximum(w0, 1e-12)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1e-12)
    between = w0 * w1 * (m0 - m1) ** 2
    between[(w0 <= 0) | (w1 <= 0)] = -np.inf
    j = int(np.argmax(between))
    # the threshold lies between bin j (last of the low class) and bin j + 1
    return {"threshold": float(0.5 * (x[j] + x[min(j + 1, x.size - 1)]))}


def _describe(mix: Mixture) -> dict:
    return {"weights": mix.weights.tolist(), "means": mix.means.tolist(), "stds": np.sqrt(mix.variances).tolist()}


#: similarity criteria: ``fn(cosines) -> {"threshold": cosine, ...}``
SIMILARITY_CRITERIA: dict[str, Callable[[np.ndarray], dict]] = {
    "mixture": mixture_threshold,
    "valley": valley_threshold,
    "otsu": otsu_threshold,
}

#: every criterion by name: partition criteria first, then similarity criteria
CRITERIA: dict[str, Callable] = {**PARTITION_CRITERIA, **SIMILARITY_CRITERIA}


# ---------------------------------------------------------------------------------------------
# the choice


def listed_similarities(nbrs: np.ndarray, sims: np.ndarray, k: int | None = None) -> np.ndarray:
    """The cosines of the first ``k`` columns (all when None), self and padding entries excluded."""
    nbrs = np.asarray(nbrs)
    sims = np.asarray(sims)
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        nbrs, sims = nbrs[:, :k], sims[:, :k]
    keep = (nbrs >= 0) & (nbrs != np.arange(nbrs.shape[0])[:, None])
    return sims[keep].astype(np.float64)


def _to_param(threshold: float, param: str) -> float:
    return threshold if param == "cosine" else 1.0 - threshold


def choose_label_free(cluster: Callable[[float], np.ndarray], grid: np.ndarray, nbrs: np.ndarray,
                      sims: np.ndarray, criterion: str, *, param: str = "cosine", k: int | None = None,
                      score_k: int | None = SCORE_K, graph: KnnGraph | None = None, name: str = "label-free") -> dict:
    """Choose a method's parameter on a grid without labels, by ``criterion`` (a key of :data:`CRITERIA`).

    Args:
        cluster: ``value -> cluster ids (N,)``: the method at one parameter value (called once per
            grid value by a partition criterion, never by a similarity criterion).
        grid: the candidate values (any order; duplicates ignored).
        nbrs, sims: a kNN graph of the N samples being clustered (int ids (N, K), cosines (N, K);
            self and ``-1`` padding entries are ignored). Partition criteria read the first
            ``score_k`` columns (pass a graph at least that wide, even when the method clusters
            fewer: scored on a method's own 5 columns they choose badly); similarity criteria read
            the first ``k``.
        criterion: a partition criterion (:data:`PARTITION_CRITERIA`) or a similarity criterion
            (:data:`SIMILARITY_CRITERIA`).
        param: how the parameter relates to a cosine threshold, for similarity criteria
            (:data:`PARAMS`: ``cosine``, ``distance`` = 1 - cosine, ``other`` refuses them).
        k: the columns read by similarity criteria (the method's k); None: all.
        score_k: the columns read by partition criteria (:data:`SCORE_K`); None: all. A narrower
            graph is used as it is, with a warning.
        graph: a :func:`knn_graph` already built (shared across criteria; ``score_k`` is then not
            applied: the graph is used as it is).
        name: label of the progress messages.

    Returns:
        ``{"criterion", "kind" ("partition" | "similarity"), "value", "score", "curve": [[value,
        score], ...] (ascending; empty for a similarity criterion), "n_clusters": [[value, count],
        ...]}``; a similarity criterion adds ``"threshold"`` (the cosine before snapping) and what
        the criterion reports (e.g. ``"mixture"``). Ties go to the smallest value, as in
        :func:`~facecluster.evaluation.search.search_grid`.

    Raises:
        ValueError: an unknown criterion (the message lists the known ones), an empty grid, an
            unknown ``param``, a similarity criterion with ``param="other"``, or a partition
            criterion that scores no grid value finitely.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown label-free criterion '{criterion}'; known: {', '.join(CRITERIA)}")
    if param not in PARAMS:
        raise ValueError(f"param must be one of {', '.join(PARAMS)}, got '{param}'")
    grid = np.unique(np.asarray(grid, dtype=np.float64).ravel())
    if grid.size == 0:
        raise ValueError("empty parameter grid")

    if criterion in SIMILARITY_CRITERIA:
        if param == "other":
            raise ValueError(f"criterion '{criterion}' gives a cosine threshold and the parameter is not a cosine "
                             f"or a cosine distance (param='other'); use a partition criterion: "
                             f"{', '.join(PARTITION_CRITERIA)}")
        found = SIMILARITY_CRITERIA[criterion](listed_similarities(nbrs, sims, k))
        target = _to_param(float(found["threshold"]), param)
        value = float(grid[int(np.argmin(np.abs(grid - target)))])
        logger.info("%s: %s threshold %.5f -> %s = %g (nearest grid value)", name, criterion, found["threshold"],
                    param, value)
        return {"criterion": criterion, "kind": "similarity", "value": value, "score": None, "curve": [],
                "n_clusters": [], **found}

    if graph is None:
        nbrs, sims = np.asarray(nbrs), np.asarray(sims)
        if score_k is not None and np.shape(nbrs)[1] < score_k:
            logger.warning("%s: %s scores on %d kNN columns, fewer than the %d it was measured on", name, criterion,
                           np.shape(nbrs)[1], score_k)
        graph = knn_graph(nbrs[:, :score_k], sims[:, :score_k]) if score_k is not None else knn_graph(nbrs, sims)
    score_fn = PARTITION_CRITERIA[criterion]
    progress = Progress(f"{name} {criterion}", grid.size)
    curve, counts = [], []
    for i, v in enumerate(grid):
        labels = np.asarray(cluster(float(v)))
        score = float(score_fn(labels, graph))
        curve.append([float(v), score])
        counts.append([float(v), int(np.unique(labels).size)])
        progress.update(i + 1, f"value={v:.5g} {criterion}={score:.4f}")
    scores = np.array([s for _, s in curve])
    if not np.isfinite(scores).any():
        raise ValueError(f"{name}: criterion '{criterion}' scored no grid value finitely")
    best = int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf)))
    logger.info("%s: %s chooses %g (score %.4f)", name, criterion, grid[best], scores[best])
    return {"criterion": criterion, "kind": "partition", "value": float(grid[best]), "score": float(scores[best]),
            "curve": curve, "n_clusters": counts}
