"""The runner of the non-learned methods (``results/{ds}/{split}/methods/{method}/``).

Names, families and tuned parameters come from :mod:`facecluster.registry`; this module maps each
graph method to its implementation. Each graph method has one *tuned* parameter (a cosine, a
distance, a rank-order distance or a resolution) that is either grid-searched on the train split
(``tune: train``, maximising pairwise F with :func:`facecluster.evaluation.search.search_grid` —
never on test labels) or taken from the config (``tune: fixed``), and fixed settings from the
dataset config (``k``, ``max_size``, ``min_samples``, ...). ``minibatch_kmeans`` (family
``features``) has no tuned parameter; its ``n_clusters`` is the true number of identities of the
split unless the config gives one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facecluster import registry
from facecluster.evaluation.search import choose, search_grid
from facecluster.graph.ops import threshold_clusters
from facecluster.methods import classic as cb
from facecluster.methods.cdp import cdp_clusters, cdp_vote_clusters


@dataclass(frozen=True)
class GraphRunner:
    """How to run one graph method: ``run(nbrs, sims, value, settings, features=..., committee=...,
    **prepared) -> labels`` on the first k columns (``committee``: the members' kNN ids, cut to the
    same k); ``prepare(nbrs, features, settings) -> dict`` is computed once per split and shared by
    every grid value (rank-order distances, the single-linkage dendrogram)."""

    run: Callable[..., np.ndarray]
    prepare: Callable[[np.ndarray, np.ndarray | None, dict], dict] | None = None


def _fast_hac_prepare(nbrs: np.ndarray, features: np.ndarray | None, c: dict) -> dict:
    if features is None:
        raise ValueError("fast_hac needs the features (single linkage on all of them, as the release)")
    return {"linkage": cb.fast_hac_linkage(features, c["max_samples"], c["fallback"], c["max_seconds"])}


RUNNERS: dict[str, GraphRunner] = {
    "knn_cc": GraphRunner(lambda n, s, v, c, **_: threshold_clusters(n, s, v)),
    "cdp": GraphRunner(lambda n, s, v, c, **_: cdp_clusters(n, s, v, c["max_size"], c["step"])),
    "cdp_vote": GraphRunner(lambda n, s, v, c, committee=None, **_: cdp_vote_clusters(
        n, s, v, committee, len(committee) if c["accept"] is None else c["accept"], c["max_size"], c["step"])),
    "knn_dbscan": GraphRunner(lambda n, s, v, c, **_: cb.knn_dbscan(n, s, v, c["min_samples"])),
    "fast_hac": GraphRunner(lambda n, s, v, c, features=None, linkage=None, **_: cb.fast_hac(
        features, v, n, s, c["max_samples"], c["fallback"], linkage, c["max_seconds"]), prepare=_fast_hac_prepare),
    "chinese_whispers": GraphRunner(lambda n, s, v, c, **_: cb.chinese_whispers(n, s, v, c["iterations"], c["seed"])),
    "approx_rank_order": GraphRunner(lambda n, s, v, c, distances=None, **_: cb.approx_rank_order(n, s, v, distances),
                                     prepare=lambda n, f, c: {"distances": cb.rank_order_distances(n)}),
    "leiden": GraphRunner(lambda n, s, v, c, **_: cb.leiden(n, s, v, c["seed"])),
}
assert set(RUNNERS) == set(registry.GRAPH_METHODS), "every graph method of the registry needs a runner"


def _columns(name: str, nbrs: np.ndarray, settings: dict) -> int:
    k = settings["k"]
    if k > nbrs.shape[1]:
        raise ValueError(f"{name}: k = {k} but the kNN graph has {nbrs.shape[1]} columns (raise knn.k or lower methods.{name}.k)")
    return k


def _committee(name: str, committee: list[np.ndarray] | None, n: int, k: int) -> list[np.ndarray] | None:
    """The committee members' kNN ids cut to ``k`` columns (checked: present when the method reads
    them, the same samples, wide enough)."""
    if not registry.METHODS[name].committee:
        return None
    if not committee:
        raise ValueError(f"{name} reads a committee (other models' kNN of the same samples) and got none")
    for i, member in enumerate(committee):
        if member.shape[0] != n or member.shape[1] < k:
            raise ValueError(f"{name}: committee member {i} has a kNN of shape {member.shape}; it needs {n} rows and >= {k} columns")
    return [member[:, :k] for member in committee]


def run_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, value: float, settings: dict,
                     features: np.ndarray | None = None, committee: list[np.ndarray] | None = None,
                     **prepared) -> np.ndarray:
    """Cluster with a graph method on the first ``settings['k']`` kNN columns at parameter ``value``
    (a ``k`` wider than the graph raises: it is never silently cut). ``features``: the split's
    features, read by the methods whose registry input includes them (fast_hac); ``committee``: the
    committee members' kNN ids of the split (cdp_vote)."""
    k = _columns(name, nbrs, settings)
    runner = RUNNERS[name]
    if not prepared and runner.prepare is not None:
        prepared = runner.prepare(nbrs[:, :k], features, settings)
    return runner.run(nbrs[:, :k], sims[:, :k], value, settings, features=features,
                      committee=_committee(name, committee, nbrs.shape[0], k), **prepared)


def tune_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, settings: dict,
                      grid: np.ndarray, features: np.ndarray | None = None, rows: np.ndarray | None = None,
                      committee: list[np.ndarray] | None = None
                      ) -> tuple[float, list[tuple[float, float]], list[tuple[float, float, float]]]:
    """:func:`search_grid` of a graph method's parameter on a labelled split (scored on ``rows`` when given)."""
    k = _columns(name, nbrs, settings)
    prepare = RUNNERS[name].prepare
    prepared = prepare(nbrs[:, :k], features, settings) if prepare else {}
    return search_grid(lambda v: run_graph_method(name, nbrs, sims, v, settings, features, committee, **prepared),
                       labels, grid, f"{name}: {registry.METHODS[name].param}", rows)


def label_free_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, settings: dict, grid: np.ndarray,
                            criterion: str, features: np.ndarray | None = None,
                            committee: list[np.ndarray] | None = None) -> dict:
    """A graph method's parameter chosen without labels: :func:`~facecluster.evaluation.label_free.choose_label_free`
    over ``grid``. The partitions are scored on the whole kNN graph given (its first
    ``label_free.SCORE_K`` columns), not on the method's own ``k``: the criteria need a graph wider
    than a method's few neighbours (npmscope's knn_cc, k 5: mutual_f lost 0.12 pairwise F scored on
    5 columns, nothing on 40-100; ``benchmarks/label_free.py``)."""
    from facecluster.evaluation.label_free import choose_label_free

    k = _columns(name, nbrs, settings)
    prepare = RUNNERS[name].prepare
    prepared = prepare(nbrs[:, :k], features, settings) if prepare else {}
    return choose_label_free(lambda v: run_graph_method(name, nbrs, sims, v, settings, features, committee, **prepared),
                             grid, nbrs, sims, criterion, param=LABEL_FREE_PARAM.get(name, "other"), k=k, name=name)


#: what a graph method's parameter is, for the similarity criteria of label_free (cosine thresholds,
#: knn_dbscan's eps = 1 - cos); the others (resolution, rank-order and Euclidean distances) are "other"
LABEL_FREE_PARAM = {"knn_cc": "cosine", "chinese_whispers": "cosine", "cdp": "cosine", "cdp_vote": "cosine",
                    "knn_dbscan": "distance"}


def choose_graph_method(name: str, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, settings: dict,
                        grid: np.ndarray, candidates: list[dict], features: np.ndarray | None = None,
                        rows: np.ndarray | None = None, committee: list[np.ndarray] | None = None) -> dict:
    """The tuned record (:func:`~facecluster.evaluation.search.choose`) of a graph method on a
    labelled split: its parameter searched for each candidate setting (e.g. ``k``) laid over
    ``settings``, scored on ``rows`` when given."""
    return choose(lambda cand: tune_graph_method(name, nbrs, sims, labels, {**settings, **cand}, grid, features, rows,
                                                 committee), candidates, name)
