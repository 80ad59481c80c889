"""Clustering results a user can use: ``clusters.csv`` and ``summary.json`` next to ``clusters.npy``.

``clusters.csv`` has one row per sample: ``index, cluster, cluster_size`` (and ``name`` first
when the dataset gives a list of sample names). ``summary.json`` has the number of samples,
clusters and singletons and the cluster-size quantiles. Both work for labelled and unlabeled
splits alike: they only read the predicted clusters.
"""

from __future__ import annotations

import csv

import numpy as np

from facecluster.data.io import InputError, atomic_path

QUANTILES = (0.5, 0.9, 0.99)


def cluster_sizes(clusters: np.ndarray) -> np.ndarray:
    """Size of every cluster id ``0..max`` (ids without samples get 0)."""
    return np.bincount(np.asarray(clusters, dtype=np.int64))


def summary(clusters: np.ndarray) -> dict:
    """Counts and size quantiles of a clustering (sizes of the non-empty clusters)."""
    sizes = cluster_sizes(clusters)
    sizes = sizes[sizes > 0]
    out = {
        "n_samples": int(sizes.sum()),
        "n_clusters": int(sizes.size),
        "n_singletons": int((sizes == 1).sum()),
        "samples_in_singletons": float((sizes == 1).sum() / max(sizes.sum(), 1)),
        "size_min": int(sizes.min()) if sizes.size else 0,
        "size_mean": float(sizes.mean()) if sizes.size else 0.0,
        "size_max": int(sizes.max()) if sizes.size else 0,
    }
    for q in QUANTILES:
        out[f"size_p{round(q * 100)}"] = float(np.quantile(sizes, q)) if sizes.size else 0.0
    return out


def read_names(path: str, n_expected: int) -> list[str]:
    """Sample names, one per line (e.g. image paths); must match the sample count."""
    with open(path) as fh:
        names = [line.rstrip("\n") for line in fh]
    if names and names[-1] == "":
        names.pop()
    if len(names) != n_expected:
        raise InputError(f"{path}: {len(names)} sample names but the split has {n_expected} samples")
    return names


def write_clusters_csv(path: str, clusters: np.ndarray, names: list[str] | None = None) -> None:
    """Write ``[name,] index, cluster, cluster_size`` per sample, atomically."""
    clusters = np.asarray(clusters, dtype=np.int64)
    size = cluster_sizes(clusters)[clusters]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            if names is None:
                w.writerow(["index", "cluster", "cluster_size"])
                w.writerows(zip(range(clusters.size), clusters.tolist(), size.tolist()))
            else:
                w.writerow(["name", "index", "cluster", "cluster_size"])
                w.writerows(zip(names, range(clusters.size), clusters.tolist(), size.tolist()))
