"""How far a dataset's embeddings are from those another dataset's models were fitted on (``models_from``).

Every threshold this project chooses is a cosine (or a distance) between embeddings, and every model
reads the kNN graph's similarities: what transfers from one dataset to another is the *scale* of
neighbour similarities. :func:`feature_shift` therefore compares the distribution of each node's
mean cosine to its ``k`` nearest neighbours (the columns of ``knn.npz`` after the node itself) with a
two-sample Kolmogorov-Smirnov statistic, and adds the cosine between the two datasets' mean unit
embeddings (a global offset of the embedding space). A KS statistic above :data:`WARN_KS` is
reported as a warning: at that distance a threshold chosen on the source falls at a different
quantile of the target's similarities. Calibration (``benchmarks/label_free.py`` and the README):
the synthetic benchmark's train vs test split, drawn from one distribution, and npmscope's two
splits give a KS statistic of a few hundredths.
"""

from __future__ import annotations

import numpy as np

#: KS statistic between the neighbour-similarity distributions above which a warning is written
WARN_KS = 0.1


def mean_neighbour_similarity(sims: np.ndarray, k: int = 10) -> np.ndarray:
    """Per node, the mean cosine to its ``k`` nearest neighbours (``knn.npz`` ``sims``, column 0 = the node)."""
    k = min(k, sims.shape[1] - 1)
    if k < 1:
        raise ValueError(f"a kNN graph of width {sims.shape[1]} has no neighbour besides the node itself")
    return sims[:, 1:k + 1].astype(np.float64).mean(axis=1)


def _unit_mean(features: np.ndarray) -> np.ndarray:
    x = features.astype(np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.mean(axis=0)


def feature_shift(source_features: np.ndarray, source_sims: np.ndarray, target_features: np.ndarray,
                  target_sims: np.ndarray, k: int = 10, warn_ks: float = WARN_KS) -> dict:
    """Compare the target dataset's embeddings with the source's (whose models it uses).

    Returns the KS statistic and both medians of the per-node mean neighbour cosine, the cosine
    between the mean unit embeddings, and ``warning`` (a sentence, or None when the KS statistic is
    at most ``warn_ks``)."""
    from scipy.stats import ks_2samp

    if source_features.shape[1] != target_features.shape[1]:
        raise ValueError(f"the source's features are {source_features.shape[1]}-d and the target's "
                         f"{target_features.shape[1]}-d: models do not transfer between them")
    src, tgt = mean_neighbour_similarity(source_sims, k), mean_neighbour_similarity(target_sims, k)
    ks = float(ks_2samp(src, tgt).statistic)
    a, b = _unit_mean(source_features), _unit_mean(target_features)
    centroid = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    out = {"k": int(min(k, source_sims.shape[1] - 1, target_sims.shape[1] - 1)), "ks_mean_neighbour_cosine": ks,
           "median_mean_neighbour_cosine": {"source": float(np.median(src)), "target": float(np.median(tgt))},
           "centroid_cosine": centroid, "warn_ks": warn_ks, "warning": None}
    if ks > warn_ks:
        out["warning"] = (f"the embeddings differ from those the models were fitted on: KS statistic {ks:.3f} > {warn_ks} "
                          f"between the two datasets' mean cosine to the {out['k']} nearest neighbours (median "
                          f"{out['median_mean_neighbour_cosine']['source']:.3f} there, {out['median_mean_neighbour_cosine']['target']:.3f} "
                          "here): thresholds chosen there may not suit these embeddings; consider tune: label_free")
    return out
