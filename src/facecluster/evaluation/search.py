"""The one parameter search of the project (pipeline, benchmarks and tests): grids from the
config and :func:`search_grid`, which picks the value whose clustering has the best pairwise F.

Parameters are never chosen on test labels: :func:`search_grid` searches a grid on a labelled (train)
split, maximising pairwise F, and the chosen value is then applied elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from facecluster.collapse import check_curve_not_flat
from facecluster.evaluation.metrics import pairwise_scores, pairwise_scores_touching
from facecluster.progress import Progress


#: about this many values are clustered first on a long grid (:func:`search_grid`)
COARSE_POINTS = 12


def threshold_grid(start: float, stop: float, step: float) -> np.ndarray:
    """Inclusive grid ``start, start+step, ..., stop`` rounded to avoid float drift."""
    count = int(round((stop - start) / step)) + 1
    return np.round(start + step * np.arange(count), 6)


def grid_from_config(segments: list[dict]) -> np.ndarray:
    """The sorted union of ``{start, stop, step}`` segments (e.g. a coarse grid plus a fine one
    near 1 for embeddings whose best threshold is above 0.99)."""
    return np.unique(np.concatenate([threshold_grid(**seg) for seg in segments]))


def search_grid(cluster: Callable[[float], np.ndarray], labels: np.ndarray, grid: np.ndarray, name: str,
                rows: np.ndarray | None = None, coarse: int | None = COARSE_POINTS
                ) -> tuple[float, list[tuple[float, float]], list[tuple[float, float, float]]]:
    """The grid value whose clustering ``cluster(value)`` has the highest pairwise F against
    ``labels`` (ties: the smallest value) — the one parameter search of the project. A flat
    curve (no value better than another) raises :class:`~facecluster.collapse.CollapseError`.

    ``rows``: score only the pairs that touch these rows
    (:func:`~facecluster.evaluation.metrics.pairwise_scores_touching`: the held-out identities
    of the validation part, clustered among the whole train split so that the graph has the
    density of a full split; docs/validation.md); ``labels`` are the whole split's.

    ``coarse``: a grid of more than ``2 * coarse`` values is searched coarse to fine — every
    ``stride``-th value (about ``coarse`` of them, both ends included), then every value within
    one stride of the best coarse one (about 3x fewer clusterings on the shipped 66-value grids;
    the curve holds the values evaluated). None searches every value.

    Returns ``(best, [(value, F), ...], [(value, precision, recall), ...])`` (ascending values).
    """
    grid = np.sort(np.asarray(grid, dtype=np.float64))
    if grid.size == 0:
        raise ValueError("empty parameter grid")
    scored: dict[int, tuple[float, float, float, int]] = {}
    progress = Progress(f"{name} search", grid.size)

    def evaluate(indices) -> None:
        for t in indices:
            if t in scored:
                continue
            clusters = cluster(float(grid[t]))
            s = pairwise_scores(labels, clusters) if rows is None else pairwise_scores_touching(labels, clusters, rows)
            scored[t] = (float(s["fscore"]), float(s["precision"]), float(s["recall"]), int(np.unique(clusters).size))
            progress.update(len(scored), f"{name}={grid[t]:.4f} F={s['fscore']:.4f}")

    if coarse is not None and grid.size > 2 * coarse:
        stride = int(np.ceil((grid.size - 1) / (coarse - 1)))
        evaluate(sorted(set(range(0, grid.size, stride)) | {grid.size - 1}))
        top = max(scored, key=lambda t: (scored[t][0], -t))
        evaluate(range(max(0, top - stride + 1), min(grid.size, top + stride)))
    else:
        evaluate(range(grid.size))
    order = sorted(scored)
    curve = [(float(grid[t]), scored[t][0]) for t in order]
    curve_pr = [(float(grid[t]), scored[t][1], scored[t][2]) for t in order]
    check_curve_not_flat(curve, f"{name} search", n_clusters=[scored[t][3] for t in order], n=int(labels.shape[0]))
    best = max(curve, key=lambda c: (c[1], -c[0]))
    return best[0], curve, curve_pr


def choose(search: Callable[[dict], tuple[float, list, list]], candidates: list[dict], name: str) -> dict:
    """Run ``search(candidate)`` — a :func:`search_grid` of the tuned parameter with the candidate's
    settings — for each candidate (``[{}]`` when there are none) and keep the best: highest
    pairwise F at its best value, ties to the earlier candidate.

    Returns the tuned record: ``settings`` (the chosen candidate), ``value``, ``fscore``, its
    ``curve``/``curve_pr``, and ``candidates`` (each candidate's settings, best value and F, or the
    reason it failed). A candidate whose curve is flat is recorded as failed; all failing raises
    its error.
    """
    from facecluster.collapse import CollapseError
    from facecluster.progress import logger

    rows, best, last_error = [], None, None
    for i, cand in enumerate(candidates or [{}]):
        try:
            value, curve, curve_pr = search(dict(cand))
        except CollapseError as err:
            logger.info("%s: candidate %s failed: %s", name, cand, err)
            rows.append({"settings": dict(cand), "error": str(err)})
            last_error = err
            continue
        fscore = dict(curve)[value]
        rows.append({"settings": dict(cand), "value": value, "fscore": fscore})
        if cand:
            logger.info("%s: candidate %s -> best value %.4f, F %.4f", name, cand, value, fscore)
        if best is None or fscore > best["fscore"]:
            best = {"settings": dict(cand), "value": value, "fscore": fscore, "curve": curve, "curve_pr": curve_pr}
    if best is None:
        raise last_error
    best["candidates"] = rows
    return best
