"""Clustering metrics of the face-clustering literature, computed from the contingency matrix.

Let ``n_ij`` be the number of samples of true class ``i`` in predicted cluster ``j``,
``b_i = sum_j n_ij`` the class sizes, ``a_j = sum_i n_ij`` the cluster sizes and ``N`` the
number of samples.

* **Pairwise** (over unordered pairs of distinct samples):
  ``TP = sum C(n_ij, 2)``, precision ``= TP / sum C(a_j, 2)``, recall ``= TP / sum C(b_i, 2)``,
  F = harmonic mean.
* **BCubed**: precision ``= (1/N) sum_ij n_ij^2 / a_j``, recall ``= (1/N) sum_ij n_ij^2 / b_i``,
  F = harmonic mean of the two averages.
* **NMI**: ``MI / ((H(true) + H(pred)) / 2)`` (arithmetic normalisation).

Edge cases get defined values instead of a division by zero: when the prediction has no
pairs (all singletons) pairwise precision is 1 (nothing was wrongly joined); when the truth
has no pairs, pairwise recall is 1; an F whose precision and recall are both 0 is 0; NMI of
two partitions that both have a single block (or of one sample) is 1, and 0 when exactly one
of them has a single block.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _check(labels_true: np.ndarray, labels_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(labels_true).ravel()
    p = np.asarray(labels_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"label arrays differ in length: {t.shape[0]} true vs {p.shape[0]} predicted")
    if t.size == 0:
        raise ValueError("cannot score an empty labelling")
    return t, p


def contingency(labels_true: np.ndarray, labels_pred: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Return ``(n, b, a)``: the sparse contingency matrix ``n_ij`` (classes x clusters),
    the class sizes ``b`` and the cluster sizes ``a`` (both int64)."""
    t, p = _check(labels_true, labels_pred)
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    m = sp.coo_matrix((np.ones(t.size, dtype=np.int64), (ti, pi))).tocsr()
    m.sum_duplicates()
    b = np.asarray(m.sum(axis=1)).ravel()
    a = np.asarray(m.sum(axis=0)).ravel()
    return m, b, a


def _harmonic(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


def _pairs(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(np.sum(x * (x - 1.0)) / 2.0)


def _pairwise(m: sp.csr_matrix, b: np.ndarray, a: np.ndarray) -> dict[str, float]:
    tp = _pairs(m.data)
    pred_pairs = _pairs(a)
    true_pairs = _pairs(b)
    precision = tp / pred_pairs if pred_pairs > 0 else 1.0
    recall = tp / true_pairs if true_pairs > 0 else 1.0
    return {"precision": precision, "recall": recall, "fscore": _harmonic(precision, recall)}


def _bcubed(m: sp.csr_matrix, b: np.ndarray, a: np.ndarray) -> dict[str, float]:
    coo = m.tocoo()
    n = float(b.sum())
    sq = coo.data.astype(np.float64) ** 2
    precision = float(np.sum(sq / a[coo.col]) / n)
    recall = float(np.sum(sq / b[coo.row]) / n)
    return {"precision": precision, "recall": recall, "fscore": _harmonic(precision, recall)}


def _entropy(counts: np.ndarray, n: float) -> float:
    pk = counts[counts > 0].astype(np.float64) / n
    return float(-np.sum(pk * np.log(pk)))


def _nmi(m: sp.csr_matrix, b: np.ndarray, a: np.ndarray) -> float:
    n = float(b.sum())
    h_t, h_p = _entropy(b, n), _entropy(a, n)
    if h_t == 0.0 and h_p == 0.0:
        return 1.0
    if h_t == 0.0 or h_p == 0.0:
        return 0.0
    coo = m.tocoo()
    nij = coo.data.astype(np.float64)
    mi = float(np.sum(nij / n * (np.log(nij * n) - np.log(b[coo.row].astype(np.float64) * a[coo.col]))))
    return float(min(max(mi / ((h_t + h_p) / 2.0), 0.0), 1.0))


def pairwise_scores(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """Pairwise precision, recall and F-score (see the module docstring for edge cases)."""
    return _pairwise(*contingency(labels_true, labels_pred))


def pairwise_scores_touching(labels_true: np.ndarray, labels_pred: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Pairwise precision, recall and F over the pairs with at least one sample in ``rows``.

    The score of a choice made on held-out identities clustered among the fitting part's samples
    (docs/validation.md): a held-out sample joined to a cluster of fitted samples is
    a wrong pair, which the pairs *among* ``rows`` alone would not count. Each count is the
    whole split's minus that of the samples outside ``rows`` (same edge cases as :func:`pairwise_scores`).
    """
    t, p = _check(labels_true, labels_pred)
    outside = np.ones(t.size, dtype=bool)
    outside[np.asarray(rows)] = False
    m, b, a = contingency(t, p)
    tp, pred_pairs, true_pairs = _pairs(m.data), _pairs(a), _pairs(b)
    if outside.any():
        mo, bo, ao = contingency(t[outside], p[outside])
        tp, pred_pairs, true_pairs = tp - _pairs(mo.data), pred_pairs - _pairs(ao), true_pairs - _pairs(bo)
    precision = tp / pred_pairs if pred_pairs > 0 else 1.0
    recall = tp / true_pairs if true_pairs > 0 else 1.0
    return {"precision": precision, "recall": recall, "fscore": _harmonic(precision, recall)}


def bcubed_scores(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, float]:
    """BCubed precision, recall and F-score, averaged over samples."""
    return _bcubed(*contingency(labels_true, labels_pred))


def nmi(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Normalised mutual information with arithmetic-mean normalisation."""
    return _nmi(*contingency(labels_true, labels_pred))


def evaluate(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict:
    """All scores of DESIGN.md's ``metrics.json`` for one labelling.

    Returns ``{"n_samples", "n_clusters_pred", "n_clusters_true", "pairwise": {...},
    "bcubed": {...}, "nmi"}``.
    """
    m, b, a = contingency(labels_true, labels_pred)
    return {
        "n_samples": int(b.sum()),
        "n_clusters_pred": int(a.size),
        "n_clusters_true": int(b.size),
        "pairwise": _pairwise(m, b, a),
        "bcubed": _bcubed(m, b, a),
        "nmi": _nmi(m, b, a),
    }
