"""Refuse degenerate results instead of writing them: collapsed learned stages, flat parameter
searches and one-cluster outputs.

A learned stage whose outputs are all but identical (every cosine ≈ 1) puts every node into one
cluster; the threshold search on such outputs sees the same F at every value, so it "chooses" the
smallest; the result looks like an ordinary ``metrics.json``. Each check below raises
:class:`CollapseError` with the stage and the numbers, so the job fails and nothing is written.
"""

from __future__ import annotations

import numpy as np

from facecluster.progress import logger, summarise_curve

#: a batch (or a split) whose smallest pairwise cosine is above this is "all but identical"
COLLAPSE_COSINE = 1.0 - 1e-4
#: a parameter search whose pairwise-F curve varies less than this is "flat"
FLAT_CURVE = 1e-4
#: below this many nodes a single cluster can be a legitimate answer
MIN_NODES_FOR_ONE_CLUSTER_CHECK = 50


class CollapseError(RuntimeError):
    """A stage produced outputs that carry no information (all but identical, flat, one cluster)."""


def check_training_not_collapsed(curve: list, terms: dict[str, list[float]], stage: str, window: int = 100) -> None:
    """Raise :class:`CollapseError` when every batch of the last ``window`` steps was all but identical."""
    min_cos = np.asarray(terms.get("min_cos", []), dtype=np.float64)
    if min_cos.size == 0:
        return
    tail = min_cos[-min(window, min_cos.size):]
    if np.all(tail > COLLAPSE_COSINE):
        raise CollapseError(
            f"{stage} collapsed: in each of the last {tail.size} steps the batch's output embeddings were all but "
            f"identical (smallest pairwise cosine {tail.min():.6f} or more, threshold {COLLAPSE_COSINE}); "
            f"{summarise_curve(curve, terms)}. Nothing was written: a collapsed GCN puts every node in one cluster. "
            "Check the weight decay (a large one shrinks the weights to the bias when the hardest pairs are duplicates), "
            "the training graph (gcn.train_graph), the learning rate and the step count."
        )


def check_embeddings_not_collapsed(emb: np.ndarray, stage: str, sample: int = 4096, seed: int = 0) -> None:
    """Raise :class:`CollapseError` when the embeddings of a split are all but identical."""
    n = emb.shape[0]
    if n < 3:
        return
    idx = np.random.default_rng(seed).choice(n, size=min(n, sample), replace=False)
    e = np.asarray(emb[np.sort(idx)], dtype=np.float64)
    # the smallest pairwise cosine, in row blocks (the whole 4,096² matrix would be 134 MB)
    smallest = min(float((e[lo : lo + 256] @ e.T).min()) for lo in range(0, len(e), 256))
    if smallest > COLLAPSE_COSINE:
        raise CollapseError(
            f"{stage}: the embeddings of {n} nodes are all but identical (smallest cosine among {idx.size} "
            f"sampled nodes {smallest:.6f} > {COLLAPSE_COSINE}); the GCN collapsed and every node would land in one cluster."
        )


def check_curve_not_flat(curve: list[tuple[float, float]], stage: str, tol: float = FLAT_CURVE,
                         n_clusters: list[int] | None = None, n: int | None = None) -> None:
    """Raise when a parameter search's ``[(value, pairwise F), ...]`` is flat over >= 3 values and
    the clusterings behind it are trivial (one cluster or all singletons at every value, or unknown:
    ``n_clusters`` not given). A flat curve over one non-trivial partition (every value gives the
    same clusters: identities already far apart) is not a collapse; it is logged and passes."""
    if len(curve) < 3:
        return
    f = np.array([c[1] for c in curve], dtype=np.float64)
    if f.max() - f.min() >= tol:
        return
    if n_clusters is not None and n is not None and all(1 < c < n for c in n_clusters):
        logger.warning("%s: pairwise F is the same (%.6f) at every value %g..%g, with %d..%d clusters: the partition does "
                       "not depend on the parameter; the smallest value is taken", stage, f.max(), curve[0][0], curve[-1][0],
                       min(n_clusters), max(n_clusters))
        return
    counts = f" ({min(n_clusters)}..{max(n_clusters)} clusters of {n} nodes)" if n_clusters is not None and n is not None else ""
    raise CollapseError(
        f"{stage}: the pairwise F curve on the train split is flat (F between {f.min():.6f} and {f.max():.6f} "
        f"over {len(curve)} values {curve[0][0]:g}..{curve[-1][0]:g}){counts}: no value is better than another, "
        "so none can be chosen; the input (embeddings or graph) carries no cluster structure."
    )


def check_not_single_cluster(clusters: np.ndarray, stage: str, min_nodes: int = MIN_NODES_FOR_ONE_CLUSTER_CHECK) -> None:
    """Raise when ``min_nodes`` or more nodes all landed in one cluster."""
    n = int(clusters.shape[0])
    if n >= min_nodes and np.unique(clusters).size == 1:
        raise CollapseError(f"{stage}: all {n} nodes fell into a single cluster; refusing to write a one-cluster result.")
