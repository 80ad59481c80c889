"""Helpers that turn pipeline side files (Snakemake benchmark tables) into report numbers."""

from __future__ import annotations

import csv


def benchmark_seconds(path: str) -> float:
    """Wall-clock seconds recorded in a Snakemake ``benchmark:`` TSV (mean over its rows)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: empty benchmark file")
    return round(sum(float(r["s"]) for r in rows) / len(rows), 3)
