"""CDP's mediator (consensus-driven propagation, ECCV 2018): a committee's opinions on each pair,
weighed by a small network trained on labelled pairs.

Follows the authors' release (github.com/XiaohangZhan/cdp: ``source/create_pair_set.py``,
``source/mediator.py``, ``source/cdp.py``):

* **Pairs** (:func:`candidate_pairs`): every entry ``i → j`` of the *base* model's kNN list
  (first ``k`` columns, the node itself in column 0 and counted in k) with ``j ≠ i``, as an
  undirected pair, each once. No similarity pre-filter.
* **Pair features** (:func:`pair_features`), column blocks in the order of ``inputs``:

  - ``relationship``: one column per *committee member* (the base model has none): 1 when
    ``j ∈ kNN_c(i)`` **or** ``i ∈ kNN_c(j)`` — two-way, unlike the vote, which looks at
    ``kNN_c(i)`` only (:func:`facecluster.methods.cdp.vote_pairs`);
  - ``affinity``: one column per model, base first: the pair's cosine under that model;
  - ``structure``: one column per model, base first: ``|kNN_m(i) ∩ kNN_m(j)|``, the number of
    entries the two lists share — the nodes themselves included (each list holds its node), so
    i and j listing each other and one common neighbour count 3, not 1.

  Raw values, not standardised (0/1 flags, cosines, counts 0..k), as the release feeds them.
* **Network** (:class:`Mediator`): ``Linear(d, 3d) → ReLU → Linear(3d, 3d) → ReLU →
  Linear(3d, 2)``, ``d`` = the feature width (``3C + 2`` with C committee members and all three
  inputs: 14 for the release's committee of four).
* **Training** (:func:`train_mediator`): cross-entropy on every candidate pair of the labelled
  fitting part (target: same identity; no balancing), shuffled mini-batches of 1024, SGD lr 1e-3,
  momentum 0.9, weight decay 1e-4, 2 epochs at a constant rate (the release's MultiStepLR at
  epoch 2 never fires in its 2 epochs under the PyTorch it names).
* **Clustering** (:func:`mediator_clusters`): pairs with ``p(same) > threshold`` (strict; the
  release's rows use 0.982–0.9938), score = p, and CDP's size-limited propagation
  (:func:`facecluster.graph.ops.propagate`). The threshold is chosen on the validation part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from facecluster.graph.ops import propagate
from facecluster.progress import Progress, logger
from facecluster.training.loop import SGDSchedule, Validation, train_loop

#: the release's three feature types, in its column order
INPUTS = ("relationship", "affinity", "structure")


@dataclass
class View:
    """One recognition model's view of a split: L2-normalised features (N, d) and kNN ids (N, k),
    the node itself in column 0, cut to CDP's k."""

    features: np.ndarray
    nbrs: np.ndarray


def candidate_pairs(nbrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The base kNN's entries ``i → j`` (``j ≠ i``, ``j ≥ 0``) as undirected pairs ``(src < dst)``, each once."""
    n = nbrs.shape[0]
    rows = np.arange(n, dtype=np.int64)[:, None]
    i, col = np.nonzero((nbrs != rows) & (nbrs >= 0))
    j = nbrs[i, col].astype(np.int64)
    keys = np.unique(np.minimum(i, j) * n + np.maximum(i, j))
    return keys // n, keys % n


def _chunks(m: int, size: int):
    for lo in range(0, m, size):
        yield lo, min(lo + size, m)


def relationship(src: np.ndarray, dst: np.ndarray, nbrs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """1.0 where ``dst ∈ nbrs[src]`` or ``src ∈ nbrs[dst]`` (float32 (P,))."""
    out = np.empty(src.size, dtype=np.float32)
    for lo, hi in _chunks(src.size, chunk):
        s, d = src[lo:hi], dst[lo:hi]
        out[lo:hi] = ((nbrs[s] == d[:, None]).any(1) | (nbrs[d] == s[:, None]).any(1))
    return out


def affinity(src: np.ndarray, dst: np.ndarray, features: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Cosine of each pair (float32 (P,)); ``features`` are L2-normalised rows."""
    out = np.empty(src.size, dtype=np.float32)
    for lo, hi in _chunks(src.size, chunk):
        out[lo:hi] = np.einsum("pd,pd->p", features[src[lo:hi]], features[dst[lo:hi]])
    return out


def structure(src: np.ndarray, dst: np.ndarray, nbrs: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """``|nbrs[src] ∩ nbrs[dst]|`` per pair, padding (−1) ignored, the nodes' own entries counted (float32 (P,))."""
    out = np.empty(src.size, dtype=np.float32)
    for lo, hi in _chunks(src.size, chunk):
        a, b = nbrs[src[lo:hi]], nbrs[dst[lo:hi]]
        out[lo:hi] = ((a[:, :, None] == b[:, None, :]) & (a >= 0)[:, :, None]).sum(axis=(1, 2))
    return out


def pair_features(src: np.ndarray, dst: np.ndarray, base: View, committee: list[View],
                  inputs: tuple[str, ...] = INPUTS) -> np.ndarray:
    """The mediator's input of each pair (float32 (P, d)), column blocks in the order of ``inputs``
    (module docstring): relationship per member, affinity and structure per model, base first."""
    unknown = set(inputs) - set(INPUTS)
    if unknown or not inputs:
        raise ValueError(f"mediator inputs must be a non-empty subset of {INPUTS}, got {list(inputs)}")
    if not committee and "relationship" in inputs:
        raise ValueError("the relationship input needs a committee (it has one column per member)")
    models = [base, *committee]
    n = base.nbrs.shape[0]
    for view in models:
        if view.nbrs.shape[0] != n or view.features.shape[0] != n:
            raise ValueError(f"a committee member has {view.features.shape[0]} samples, the base model {n}")
    cols = []
    for name in inputs:
        if name == "relationship":
            cols += [relationship(src, dst, view.nbrs) for view in committee]
        elif name == "affinity":
            cols += [affinity(src, dst, view.features) for view in models]
        else:
            cols += [structure(src, dst, view.nbrs) for view in models]
    return np.stack(cols, axis=1).astype(np.float32)


def input_width(members: int, inputs: tuple[str, ...] = INPUTS) -> int:
    """The feature width of :func:`pair_features` with ``members`` committee members."""
    return sum(members if name == "relationship" else members + 1 for name in inputs)


class Mediator(nn.Module):
    """``Linear(d, 3d) → ReLU → Linear(3d, 3d) → ReLU → Linear(3d, 2)`` (the release's MLP)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, 3 * dim), nn.ReLU(), nn.Linear(3 * dim, 3 * dim), nn.ReLU(),
                                 nn.Linear(3 * dim, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def epoch_steps(n_pairs: int, batch_size: int, epochs: int) -> int:
    """Optimiser steps of ``epochs`` passes over ``n_pairs`` in batches (the last one smaller)."""
    return epochs * -(-n_pairs // batch_size)


def train_mediator(x: np.ndarray, y: np.ndarray, schedule: SGDSchedule, batch_size: int, device, rng: np.random.Generator,
                   validation: Validation | None = None) -> tuple[Mediator, list]:
    """Fit a :class:`Mediator` on pair features ``x`` (P, d) and targets ``y`` (P,) (1: same
    identity), in shuffled passes of ``batch_size`` (a new permutation per pass) for
    ``schedule.steps`` steps. Logged terms: ``ce``, batch accuracy ``acc`` and positive rate ``pos``."""
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"mediator training needs pairs: {x.shape[0]} feature rows, {y.shape[0]} targets")
    model = Mediator(x.shape[1]).to(device)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    p = x.shape[0]
    per_epoch = -(-p // batch_size)
    order: list[np.ndarray] = []

    def step(s: int):
        epoch, b = divmod(s - 1, per_epoch)
        while len(order) <= epoch:
            order.append(rng.permutation(p))
        idx = torch.from_numpy(order[epoch][b * batch_size:(b + 1) * batch_size]).to(device)
        logits = model(xt[idx])
        target = yt[idx]
        loss = nn.functional.cross_entropy(logits, target)
        with torch.no_grad():
            acc = float((logits.argmax(1) == target).float().mean())
        return loss, {"ce": float(loss.detach()), "acc": acc, "pos": float(target.float().mean())}

    logger.info("mediator: %d training pairs (%.4f same identity), %d features, %d steps of %d (%.1f epochs)",
                p, float(np.mean(y)), x.shape[1], schedule.steps, batch_size, schedule.steps / per_epoch)
    curve = train_loop(model, schedule, step, "mediator", validation=validation)
    return model, curve


@torch.no_grad()
def predict_pairs(model: Mediator, x: np.ndarray, device, batch: int = 262144) -> np.ndarray:
    """``p(same identity)`` of each pair (float32 (P,))."""
    model.eval()
    out = np.empty(x.shape[0], dtype=np.float32)
    progress = Progress("mediator pair probabilities", x.shape[0])
    for lo, hi in _chunks(x.shape[0], batch):
        logits = model(torch.from_numpy(np.ascontiguousarray(x[lo:hi], dtype=np.float32)).to(device))
        out[lo:hi] = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
        progress.update(hi)
    return out


def mediator_clusters(n: int, src: np.ndarray, dst: np.ndarray, prob: np.ndarray, threshold: float,
                      max_size: int = 600, step: float = 0.05, max_iter: int = 1000) -> np.ndarray:
    """Pairs with ``prob > threshold`` (strict), score = prob, CDP's size-limited propagation → int64 (N,)."""
    keep = prob > np.float32(threshold)
    labels, rounds = propagate(n, src[keep], dst[keep], prob[keep], max_size, step, max_iter)
    logger.info("CDP mediator: %d of %d pairs with p > %.4f, %d re-split rounds, %d clusters",
                int(keep.sum()), prob.size, threshold, rounds, labels.max() + 1 if n else 0)
    return labels
