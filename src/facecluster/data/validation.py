"""The validation part of a labelled train split: held-out identities for every choice.

Learned stages are fitted on the *fitting part* of the train split; every choice (thresholds,
``k``, training length) is made on the *validation part*, whose identities the models never saw;
the test split is never read for a choice (docs/validation.md).

:func:`carve_by_identity` draws a ``fraction`` of the split's identities (a seeded permutation of
the sorted identity ids), so the two parts have disjoint identities and, in expectation, the
same identity-size distribution as the whole split. It is deterministic in ``(labels, fraction,
seed)`` and independent of row order within identities.
"""

from __future__ import annotations

import numpy as np


def carve_by_identity(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows of a labelled split by identity: ``(fit_rows, val_rows)``, both sorted.

    ``round(fraction * n_identities)`` identities (at least one, and at least one left for
    fitting) go to validation. Raises ``ValueError`` when ``fraction`` is not in (0, 1) or the
    split has fewer than two identities.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    ids = np.unique(labels)
    if ids.size < 2:
        raise ValueError(f"a validation part by identity needs at least 2 identities; the split has {ids.size}")
    n_val = int(min(max(1, round(fraction * ids.size)), ids.size - 1))
    chosen = np.random.default_rng(seed).permutation(ids)[:n_val]
    is_val = np.isin(labels, chosen)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels mapped to contiguous ``0..C-1`` in order of their sorted values (int64)."""
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)
