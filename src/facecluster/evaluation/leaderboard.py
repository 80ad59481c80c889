"""The per-split leaderboard: one row per method from its ``metrics.json``."""

from __future__ import annotations

import csv

from facecluster.data.io import atomic_path

COLUMNS = [
    "method", "pairwise_precision", "pairwise_recall", "pairwise_fscore",
    "bcubed_precision", "bcubed_recall", "bcubed_fscore", "nmi", "n_clusters_pred", "n_clusters_true", "seconds",
]


def leaderboard_rows(metrics: list[dict]) -> list[dict]:
    """Rows (dicts keyed by :data:`COLUMNS`), best pairwise F first; ``seconds`` sums all recorded stages."""
    rows = []
    for m in metrics:
        rows.append({
            "method": m["method"],
            **{f"pairwise_{k}": round(m["pairwise"][k], 4) for k in ("precision", "recall", "fscore")},
            **{f"bcubed_{k}": round(m["bcubed"][k], 4) for k in ("precision", "recall", "fscore")},
            "nmi": round(m["nmi"], 4),
            "n_clusters_pred": m["n_clusters_pred"],
            "n_clusters_true": m["n_clusters_true"],
            "seconds": round(sum(m.get("seconds", {}).values()), 1),
        })
    return sorted(rows, key=lambda r: -r["pairwise_fscore"])


def write_leaderboard(csv_path: str, md_path: str, metrics: list[dict], title: str) -> list[dict]:
    """Write the CSV and a Markdown rendering of the same rows; return the rows."""
    rows = leaderboard_rows(metrics)
    with atomic_path(csv_path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
    lines = [f"### {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    with atomic_path(md_path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    return rows
