"""Cluster proposals of GCN-D / GCN-S (learn-to-cluster ``proposals/``): super-vertices by a
dynamic threshold, at two levels, stored as one CSR per split.

The release (``proposals/graph.py``, ``super_vertex.py``, ``generate_basic_proposals.py``,
``generate_iter_proposals.py``, read at learn-to-cluster 3b83458) and how this module follows it:

* **Pairs** (``utils/knn.py: filter_knns``): the first ``k`` kNN columns (the node itself among
  them, as the release's faiss search returns it), pairs with cosine ``>= th`` other than the node
  itself, each unordered pair once. Nodes in no pair take part in no component.
* **Dynamic threshold** (``graph_clustering_dynamic_th``): connected components over all pairs;
  a component larger than ``max_size`` goes back to a remainder (the release's breadth-first search
  stops once a group passes ``max_size`` or touches the remainder; both send a whole component
  there); the remainder is split again with pairs of score ``>= th``, ``th`` starting at the
  smallest pair score and raised ``th <- th + (1 - th) * step`` before each round; after
  ``max_iter`` (100) rounds what remains becomes one component. Here each round is one
  :func:`scipy.sparse.csgraph.connected_components` over the remaining nodes' pairs
  (:func:`dynamic_threshold_components`), not a Python breadth-first search per node.
* **Level 0** (``generate_basic_proposals``): proposals = components of at least ``min_size``
  (3) nodes. Every level-0 component (singletons of nodes in no pair included) is a
  **super-vertex** of level 1.
* **Level 1** (``generate_iter_proposals``): a super-vertex's feature is the mean of its members'
  unit features, *not* re-normalised; the kNN of the means by inner product (top ``k`` with the
  super-vertex itself among them, as the release's faiss ``IndexFlatIP``), the same dynamic
  threshold (``th`` 0.4, ``step`` 0.05, ``max_size`` = ``sv_max_size``), groups of at least
  ``sv_min_size`` (2) super-vertices expanded back to their instances, kept when the instances
  number ``min_size``..``max_size`` (3..500; DeepFashion 200).
* **Edges of a proposal** (``save_proposals``): every instance-kNN pair (first ``k`` columns of
  the level-0 setting, no threshold) with both ends inside the proposal, weight = cosine.

One difference, on purpose: the release writes the level-0 labels with ``write_meta`` without the
instance count, so nodes in no pair *after the last clustered index* are dropped from the
level-1 super-vertices while the others become singletons; here every such node is a singleton
super-vertex (nothing depends on where a node sits in the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from facecluster.progress import logger


def knn_pairs(nbrs: np.ndarray, sims: np.ndarray, k: int, th: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The release's ``filter_knns``: unordered pairs ``(i < j)`` of the first ``k`` kNN columns with
    similarity ``>= th``, the node itself and padding (``-1``) left out, each pair once; returns
    ``(i, j, score)``."""
    nb = np.asarray(nbrs)[:, :k].astype(np.int64)
    sm = np.asarray(sims)[:, :k].astype(np.float64)
    anchor = np.repeat(np.arange(nb.shape[0], dtype=np.int64), nb.shape[1]).reshape(nb.shape)
    keep = (sm >= th) & (nb >= 0) & (nb != anchor)
    a, b, s = anchor[keep], nb[keep], sm[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if lo.size == 0:
        return lo, hi, s
    key = lo * (int(nb.shape[0]) + 1) + hi
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    return lo[first], hi[first], s[first]


def dynamic_threshold_components(n: int, src: np.ndarray, dst: np.ndarray, score: np.ndarray, max_size: int,
                                 step: float = 0.05, max_iter: int = 100) -> np.ndarray:
    """The release's ``graph_clustering_dynamic_th`` over ``n`` nodes → component id per node (``-1``:
    the node is in no pair). Components of the thresholded pairs with at most ``max_size`` nodes
    are kept; the others are split again at a raised threshold (module docstring)."""
    labels = np.full(n, -1, dtype=np.int64)
    if src.size == 0:
        return labels
    remaining = np.zeros(n, dtype=bool)
    remaining[src] = True
    remaining[dst] = True
    th = float(score.min())
    next_id = 0
    rounds = 0
    use = np.ones(src.size, dtype=bool)  # round 0: every pair, no threshold
    while remaining.any():
        if rounds > 0:
            th = th + (1.0 - th) * step
            use = score >= th
        keep = use & remaining[src] & remaining[dst]
        graph = sp.coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (src[keep], dst[keep])), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        nodes = np.flatnonzero(remaining)
        _, local, sizes = np.unique(comp[nodes], return_inverse=True, return_counts=True)
        small = sizes[local] <= max_size
        ids = np.unique(local[small])
        remap = np.full(sizes.size, -1, dtype=np.int64)
        remap[ids] = next_id + np.arange(ids.size)
        labels[nodes[small]] = remap[local[small]]
        next_id += ids.size
        remaining[nodes[small]] = False
        rounds += 1
        if rounds > max_iter and remaining.any():  # the release's forced stop: the rest is one component
            logger.info("dynamic threshold: forced stop at th %.4f, %d nodes left as one component",
                        th, int(remaining.sum()))
            labels[remaining] = next_id
            next_id += 1
            remaining[:] = False
    return labels


def components_to_csr(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Component ids per node (``-1``: none) → ``(indptr, indices)``, components in id order, members
    ascending."""
    valid = np.flatnonzero(labels >= 0)
    order = valid[np.lexsort((valid, labels[valid]))]
    counts = np.bincount(labels[valid], minlength=int(labels.max(initial=-1)) + 1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, order.astype(np.int64)


def _sizes(indptr: np.ndarray) -> np.ndarray:
    return np.diff(indptr)


def _select(indptr: np.ndarray, indices: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sizes = _sizes(indptr)[keep]
    starts = indptr[:-1][keep]
    new_indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    take = np.repeat(starts - new_indptr[:-1], sizes) + np.arange(int(sizes.sum()))
    return new_indptr, indices[take]


def level0(nbrs: np.ndarray, sims: np.ndarray, k: int, th: float, step: float, max_size: int,
           min_size: int = 3) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Level-0 super-vertices of the instance kNN: ``(labels, proposals)`` — the component id of
    every node (nodes in no pair get a singleton id of their own, as super-vertices) and the
    proposals (components of at least ``min_size`` nodes) as CSR ``(indptr, indices)``."""
    n = nbrs.shape[0]
    i, j, s = knn_pairs(nbrs, sims, k, th)
    labels = dynamic_threshold_components(n, i, j, s, max_size, step)
    comps = components_to_csr(labels)
    proposals = _select(*comps, _sizes(comps[0]) >= min_size)
    alone = labels < 0
    labels = labels.copy()
    labels[alone] = labels.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return labels, proposals


def inner_product_knn(x: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` rows by inner product for every row of ``x`` (the row itself competing like any
    other, as faiss ``IndexFlatIP`` on unnormalised vectors), descending."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = min(k, x.shape[0])
    nbrs = np.empty((x.shape[0], k), dtype=np.int64)
    sims = np.empty((x.shape[0], k), dtype=np.float32)
    for start in range(0, x.shape[0], chunk):
        block = x[start:start + chunk] @ x.T
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        nbrs[start:start + chunk] = np.take_along_axis(part, order, axis=1)
        sims[start:start + chunk] = np.take_along_axis(vals, order, axis=1)
    return nbrs, sims


def level1(features: np.ndarray, sv_labels: np.ndarray, k: int, th: float, step: float, sv_max_size: int,
           sv_min_size: int = 2, min_size: int = 3, max_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Level-1 proposals from level-0 super-vertices (``sv_labels``: one id per node, every node
    in one): the means of their members' (unit) features, not re-normalised, their inner-product
    kNN, the dynamic threshold, groups of ``>= sv_min_size`` super-vertices expanded to instances
    and kept at ``min_size``..``max_size`` instances → CSR ``(indptr, indices)``."""
    m = int(sv_labels.max()) + 1
    counts = np.bincount(sv_labels, minlength=m).astype(np.float64)
    means = np.zeros((m, features.shape[1]), dtype=np.float64)
    np.add.at(means, sv_labels, features.astype(np.float64))
    means = (means / counts[:, None]).astype(np.float32)
    nb, sm = inner_product_knn(means, k)
    i, j, s = knn_pairs(nb, sm, k, th)
    groups = dynamic_threshold_components(m, i, j, s, sv_max_size, step)
    sv_count = np.bincount(groups[groups >= 0], minlength=int(groups.max(initial=-1)) + 1)
    ok = np.flatnonzero(sv_count >= sv_min_size)
    remap = np.full(sv_count.size, -1, dtype=np.int64)
    remap[ok] = np.arange(ok.size)
    node_group = np.full(sv_labels.size, -1, dtype=np.int64)
    member_group = groups[sv_labels]
    has = member_group >= 0
    node_group[has] = remap[member_group[has]]
    indptr, indices = components_to_csr(node_group)
    sizes = _sizes(indptr)
    return _select(indptr, indices, (sizes >= min_size) & (sizes <= max_size))


@dataclass
class Proposals:
    """Proposals of one split: node ids per proposal (CSR), each proposal's level (0, 1) and the
    index of the setting that made it (into ``settings``)."""

    indptr: np.ndarray
    indices: np.ndarray
    level: np.ndarray
    setting: np.ndarray
    settings: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.indptr.size - 1)

    def nodes(self, p: int) -> np.ndarray:
        return self.indices[self.indptr[p]:self.indptr[p + 1]]

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)

    def edge_k(self) -> np.ndarray:
        """Per proposal: the instance-kNN width of its edges (its level-0 setting's ``k``)."""
        return np.array([self.settings[s]["k"] for s in self.setting], dtype=np.int64)

    def subset(self, keep: np.ndarray) -> Proposals:
        keep = np.asarray(keep)
        if keep.dtype == bool:
            keep = np.flatnonzero(keep)
        indptr, indices = _select(self.indptr, self.indices, keep)
        return Proposals(indptr, indices, self.level[keep], self.setting[keep], self.settings)


def generate(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, settings: list[dict]) -> Proposals:
    """Every proposal of a list of release-style settings (learn-to-cluster ``generate_proposals``):
    each setting ``{k, th, step, max_size, min_size, level0: bool, level1: [{k, th, step,
    sv_max_size, sv_min_size, min_size, max_size}, ...]}`` adds its level-0 proposals (unless
    ``level0`` is false: used only as the level-1 super-vertices) and one set per level-1 entry."""
    parts: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    flat: list[dict] = []
    for s in settings:
        if s["k"] > nbrs.shape[1]:
            raise ValueError(f"proposal setting k = {s['k']} but the kNN graph has {nbrs.shape[1]} columns (raise knn.k)")
        labels, p0 = level0(nbrs, sims, s["k"], s["th"], s.get("step", 0.05), s["max_size"], s.get("min_size", 3))
        base = {key: s[key] for key in ("k", "th", "max_size")}
        if s.get("level0", True):
            flat.append({**base, "level": 0})
            parts.append((*p0, 0, len(flat) - 1))
            logger.info("proposals level 0 %s: %d", base, p0[0].size - 1)
        for s1 in s.get("level1", []):
            p1 = level1(features, labels, s1["k"], s1.get("th", 0.4), s1.get("step", 0.05), s1["sv_max_size"],
                        s1.get("sv_min_size", 2), s1.get("min_size", 3), s1.get("max_size", 500))
            flat.append({**base, "level": 1, "sv_k": s1["k"], "sv_th": s1.get("th", 0.4),
                         "sv_max_size": s1["sv_max_size"]})
            parts.append((*p1, 1, len(flat) - 1))
            logger.info("proposals level 1 %s: %d", flat[-1], p1[0].size - 1)
    if not parts:
        raise ValueError("no proposal setting produces proposals (every level0 is false and no level1)")
    sizes = np.concatenate([np.diff(p[0]) for p in parts])
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    indices = np.concatenate([p[1] for p in parts]).astype(np.int64)
    level = np.concatenate([np.full(p[0].size - 1, p[2], dtype=np.int8) for p in parts])
    setting = np.concatenate([np.full(p[0].size - 1, p[3], dtype=np.int16) for p in parts])
    return Proposals(indptr, indices, level, setting, flat)


def save(path: str, proposals: Proposals) -> None:
    """Write proposals as one ``.npz`` (:func:`facecluster.data.io.save_npz`: atomic, reproducible)."""
    import json

    from facecluster.data.io import save_npz

    save_npz(path, indptr=proposals.indptr, indices=proposals.indices, level=proposals.level,
             setting=proposals.setting, settings=np.array(json.dumps(proposals.settings)))


def load(path: str) -> Proposals:
    import json

    with np.load(path) as z:
        return Proposals(z["indptr"], z["indices"], z["level"], z["setting"], json.loads(str(z["settings"])))
