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


def benchmark_peak_memory_mb(path: str) -> float:
    """Peak resident memory (MB) recorded in a Snakemake ``benchmark:`` TSV (max over its rows; 0 if unknown)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    values = [float(r["max_rss"]) for r in rows if r.get("max_rss") not in (None, "", "-", "NA")]
    return max(values) if values else 0.0
