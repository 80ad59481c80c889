"""CDP (consensus-driven propagation, ECCV 2018): the "vote" strategy, single-model and committee.

Follows the authors' release (github.com/XiaohangZhan/cdp, ``source/cdp.py::sample`` and
``source/graph.py::graph_propagation``):

1. **Pairs (vote).** Every entry ``i → j`` of the *base* model's kNN list (first ``k`` columns,
   the node itself in column 0 and counted in k, as the release's k = 15) with ``j ≠ i`` is a
   candidate; it is accepted when its base cosine is **strictly** above ``threshold`` and at
   least ``accept`` committee members list ``j`` in *their* kNN of ``i`` (one direction only: the
   release never looks at ``i ∈ kNN_c(j)``). Accepted entries become undirected pairs, both
   directions merged (a pair is in when either direction passes); score = the base cosine. With
   no committee (``cdp``, the single-model row: accept 0) only the threshold applies.
2. **Propagation with a size limit** (:func:`facecluster.graph.ops.propagate`): the clusters are
   the connected components of the pair graph, except that a component with more than
   ``max_size`` nodes is not accepted: its nodes are re-linked using only their pairs with
   score ≥ th, where th starts at the lowest pair score and rises ``th ← th + (1 − th)·step``
   each round, until every component fits or ``max_iter`` rounds have run. Nodes without pairs
   are singletons. (Where the release reaches ``max_iter`` it lumps every remaining node into
   one cluster, connected or not — a bug its shipped settings rarely meet; here the remaining
   components are accepted as they are.)

Everything is array code: one scipy connected-components call per round over the edges still
in play, no per-node objects.
"""

from __future__ import annotations

import numpy as np

from facecluster.progress import logger
from facecluster.graph.ops import edges_at_least, propagate


def cdp_clusters(nbrs: np.ndarray, sims: np.ndarray, threshold: float, max_size: int = 600, step: float = 0.05,
                 max_iter: int = 1000) -> np.ndarray:
    """CDP vote-mode clusters of a kNN graph (columns already cut to k) → int64 (N,)."""
    src, dst, score = edges_at_least(nbrs, sims, np.nextafter(np.float32(threshold), np.float32(2)))
    labels, rounds = propagate(nbrs.shape[0], src, dst, score, max_size, step, max_iter)
    logger.info("CDP: %d pairs above %.3f, %d re-split rounds, %d clusters", src.size, threshold, rounds, labels.max() + 1)
    return labels


def committee_votes(nbrs: np.ndarray, committee: list[np.ndarray], chunk: int = 4096) -> np.ndarray:
    """For each entry ``(i, c)`` of ``nbrs`` (N, k): how many committee kNN tables list
    ``nbrs[i, c]`` in *their* row ``i`` (int32 (N, k); CDP's vote, one direction only)."""
    n, k = nbrs.shape
    votes = np.zeros((n, k), dtype=np.int32)
    for member in committee:
        if member.shape[0] != n:
            raise ValueError(f"committee kNN has {member.shape[0]} rows, the base kNN {n}: the members must embed the same samples")
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            votes[lo:hi] += (nbrs[lo:hi, :, None] == member[lo:hi, None, :]).any(axis=2)
    return votes


def vote_pairs(nbrs: np.ndarray, sims: np.ndarray, threshold: float, committee: list[np.ndarray] | None = None,
               accept: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDP's vote (module docstring, step 1) → undirected pairs ``(src < dst, score)``, each once.

    ``nbrs``/``sims``: the base model's kNN (N, k), cut to CDP's k; ``committee``: the members' kNN
    ids cut to the same k (rows = the same samples); ``accept``: votes needed (≤ members)."""
    committee = list(committee or [])
    if accept > len(committee):
        raise ValueError(f"accept = {accept} votes but the committee has {len(committee)} member(s)")
    n = nbrs.shape[0]
    rows = np.arange(n, dtype=np.int64)[:, None]
    keep = (nbrs != rows) & (nbrs >= 0) & (sims > np.float32(threshold))
    if committee and accept > 0:
        keep &= committee_votes(nbrs, committee) >= accept
    i, col = np.nonzero(keep)
    j = nbrs[i, col].astype(np.int64)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(lo * n + hi, return_index=True)
    return lo[first], hi[first], sims[i[first], col[first]].astype(np.float32)


def cdp_vote_clusters(nbrs: np.ndarray, sims: np.ndarray, threshold: float, committee: list[np.ndarray] | None = None,
                      accept: int = 0, max_size: int = 600, step: float = 0.05, max_iter: int = 1000) -> np.ndarray:
    """CDP's vote with a committee (:func:`vote_pairs`) and size-limited propagation → int64 (N,)."""
    src, dst, score = vote_pairs(nbrs, sims, threshold, committee, accept)
    labels, rounds = propagate(nbrs.shape[0], src, dst, score, max_size, step, max_iter)
    logger.info("CDP vote: %d pairs with cosine > %.3f and >= %d of %d committee votes, %d re-split rounds, %d clusters",
                src.size, threshold, accept, len(committee or []), rounds, labels.max() + 1)
    return labels
