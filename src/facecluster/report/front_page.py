"""The first page of the Snakemake report (``snakemake --report``): the results, not the graph.

Snakemake shows the workflow description (the ``report:`` directive's reStructuredText) when the
report opens. :func:`front_page` writes that text from the results present when the report is
made: per dataset and split, the headline comparison — Ada-NETS, the best other method and the
plain ``knn_cc`` baseline — and the whole leaderboard as a table. The spread over seeds comes
from ``results/<ds>/seeds.csv`` when ``benchmarks/seeds.py --out`` wrote one there (mean ± sd
over its seeds); otherwise the page says the numbers are one run. The workflow graph and every
figure stay one click away in the report's menu.
"""

from __future__ import annotations

import csv
import os
import statistics

INTRO = """**facecluster**: embeddings in; kNN graph, Ada-NETS' stages and every comparison method out, each
stage a cached artifact under ``results/``. Every parameter was chosen on the validation part of
the train split (or without labels, docs/unlabeled.md); each leaderboard compares all methods on the
same kNN artifact of one split. Figures, the workflow graph and per-stage timings: the menu.
"""


def _read_csv(path: str) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _seed_spread(path: str, dataset: str) -> dict[str, tuple[float, float, int]]:
    """method -> (mean, sd, seeds) of pairwise F from a benchmarks/seeds.py CSV, its rows of
    ``dataset`` only (the script writes every dataset it ran into one file)."""
    per: dict[str, list[float]] = {}
    for row in _read_csv(path):
        if row.get("dataset", dataset) == dataset:
            per.setdefault(row["method"], []).append(float(row["pairwise_f"]))
    return {m: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0, len(v)) for m, v in per.items()}


def _score(method: str, board: dict[str, dict], spread: dict) -> str:
    if method not in board:
        return f"{method}: not run"
    text = f"{method} {float(board[method]['pairwise_fscore']):.4f}"
    if method in spread:
        mean, sd, n = spread[method]
        text += f" (mean ± sd over {n} seeds: {mean:.4f} ± {sd:.4f})"
    return text


def _table(rows: list[dict]) -> str:
    columns = [("method", "method"), ("pairwise_fscore", "pairwise F"), ("pairwise_precision", "precision"),
               ("pairwise_recall", "recall"), ("bcubed_fscore", "BCubed F"), ("nmi", "NMI"),
               ("n_clusters_pred", "clusters"), ("seconds", "seconds")]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(title for _, title in columns))
    for row in rows:
        lines.append("   * - " + "\n     - ".join(str(row.get(key, "")) for key, _ in columns))
    return "\n".join(lines)


def front_page(splits: list[tuple[str, str]], results: str = "results") -> str:
    """The report's first page (reStructuredText) for ``(dataset, split)`` pairs, from their
    ``leaderboard.csv`` files (splits without one are listed as not yet run)."""
    parts = [INTRO]
    for ds, split in splits:
        path = os.path.join(results, ds, split, "leaderboard.csv")
        title = f"{ds} / {split}"
        parts += [title, "-" * len(title), ""]
        if not os.path.exists(path):
            parts += [f"No leaderboard yet ({path}): run the workflow, then make the report.", ""]
            continue
        rows = sorted(_read_csv(path), key=lambda r: -float(r["pairwise_fscore"]))
        board = {row["method"]: row for row in rows}
        seeds = os.path.join(results, ds, "seeds.csv")
        spread = _seed_spread(seeds, ds) if os.path.exists(seeds) else {}
        others = [r["method"] for r in rows if r["method"] not in ("ada_nets", "knn_cc")]
        headline = [_score("ada_nets", board, spread)]
        if others:
            headline.append("best other: " + _score(others[0], board, spread))
        headline.append(_score("knn_cc", board, spread))
        note = "" if spread else " (one run; the spread over seeds: ``benchmarks/seeds.py --out results/<ds>/seeds.csv``)"
        parts += ["**Test pairwise F**" + note + ": " + "; ".join(headline) + ".", "", _table(rows), ""]
    return "\n".join(parts)


def write_front_page(path: str, splits: list[tuple[str, str]], results: str = "results") -> str:
    """Write :func:`front_page` to ``path`` (its folder created); returns ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    text = front_page(splits, results)
    with open(path, "w") as fh:
        fh.write(text)
    return path
