r"""Ada-NETS max-Q indices: the best neighbour count k* of every labelled node.

Definition (Ada-NETS, ICLR 2022, Sec. 3.2; reference ``tool/max_Q_ind.py`` of damo-cv/Ada-NETS).
Walk node ``i``'s (structure-space) list; for every prefix length ``t = 1..k``:

* ``c_t`` = number of the first ``t`` entries whose label equals ``i``'s label, where the
  first entry always counts as correct (it is normally ``i`` itself);
* precision ``P_t = c_t / t``, recall ``R_t = c_t / |class(i)|`` (the size of ``i``'s class
  in the split, ``i`` included);
* ``Q_t = (1 + β²)·P_t·R_t / (β²·P_t + R_t)``.

``k*_i = argmax_t Q_t`` (the first maximum), 1-based, so ``k*_i ∈ [1, k]``. β = 0.5 in the
paper weights precision more than recall.

Vectorised numpy over row chunks (cumsum over (rows, k)); the float64 arithmetic follows the
reference's order of operations, so ties resolve identically.
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_q_indices"]


def max_q_indices(nbrs: np.ndarray, labels: np.ndarray, beta: float = 0.5) -> np.ndarray:
    """k* per node (int64 (N,), 1-based in ``[1, k]``) from neighbour lists and labels.

    Args:
        nbrs: int (N, k) neighbour lists (structure space: self normally first).
        labels: int (N,) identity labels of the split.
        beta: the F_β weight (paper: 0.5).

    Returns:
        int64 (N,) ``k*_i = argmax_t Q_t`` (first maximum), see the module docstring.
    """
    nbrs = np.asarray(nbrs)
    labels = np.asarray(labels)
    if nbrs.ndim != 2 or nbrs.shape[1] < 1 or labels.shape != (nbrs.shape[0],):
        raise ValueError(f"nbrs must be (N, k>=1) and labels (N,), got {nbrs.shape} and {labels.shape}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    n, k = nbrs.shape
    if n == 0:
        return np.empty(0, np.int64)
    if nbrs.min() < 0 or nbrs.max() >= n:
        raise ValueError("neighbour indices must lie in [0, N)")
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    class_size = counts[inv.ravel()].astype(np.float64)
    b2 = float(beta) * float(beta)
    t = np.arange(1, k + 1, dtype=np.float64)[None, :]
    out = np.empty(n, np.int64)
    chunk = 1 << 16
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        correct = labels[nbrs[lo:hi]] == labels[lo:hi, None]
        correct[:, 0] = True
        c = np.cumsum(correct, axis=1, dtype=np.int64).astype(np.float64)
        prec = c / t
        rec = c / class_size[lo:hi, None]
        q = (1 + b2) * prec * rec / (b2 * prec + rec)
        out[lo:hi] = np.argmax(q, axis=1) + 1
    return out
