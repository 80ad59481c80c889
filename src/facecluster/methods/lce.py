"""LCE-style local-connectivity density clustering (after Ma et al., CVPR 2023).

The official LCE release has inference code only; the network and its training here are this
project's design (README, "Learned methods"):

* **Pair network.** For node i and each of its k nearest neighbours j (self excluded) the input is
  ``[x_i ⊙ x_j, |x_i − x_j|, cos(i, j), rank(j)/k, |N_k(i) ∩ N_k(j)|/k]`` — the last term is the
  *local connectivity*, the fraction of shared kNN lists — and an MLP (two hidden layers, ReLU)
  outputs the logit of "j has i's identity". Trained with binary cross-entropy on random
  (i, j) pairs of the train split's kNN; the labels are ``labels[j] == labels[i]``.
* **Clustering** (the paper's procedure): the probabilities are symmetrised
  (``s_ij = s_ji`` = the mean of the two directions when both exist), the density is
  ``ρ_i = Σ_j s_ij·cos_ij``; each node links to the neighbour j with ``ρ_j > ρ_i`` that maximises
  ``s_ij·cos_ij`` among those the network calls same-identity (``s_ij ≥ 0.5``; a design choice:
  without it a node whose denser neighbours are all other identities would still link), nodes
  without one are density peaks; every other pair with ``s_ij·cos_ij ≥ τ`` is also kept, with τ the
  mean cosine of the 1st–3rd neighbours over the split; the clusters are the connected components.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import nn

from facecluster.progress import Progress
from facecluster.graph.ops import components, symmetrise
from facecluster.training.loop import SGDSchedule, train_loop


@numba.njit(parallel=True, cache=True)
def _shared(nbrs, n):
    rows, k = nbrs.shape
    out = np.zeros((rows, k), dtype=np.float32)
    for i in numba.prange(rows):
        own = set()
        for q in range(k):
            own.add(nbrs[i, q])
        for c in range(k):
            j = nbrs[i, c]
            if j < 0 or j >= n:
                continue
            count = 0
            for q in range(k):
                if nbrs[j, q] in own:
                    count += 1
            out[i, c] = count / k
    return out


def shared_neighbour_fraction(nbrs: np.ndarray) -> np.ndarray:
    """``|N_k(i) ∩ N_k(j)| / k`` for every kNN entry (i, j) → float32 (N, k) (lists include self)."""
    nbrs = np.ascontiguousarray(nbrs, dtype=np.int64)
    return _shared(nbrs, nbrs.shape[0])


def pair_labels(nbrs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Training labels of the pair network: whether neighbour j shares node i's identity (N, k) bool."""
    return labels[nbrs] == labels[:, None]


class PairNet(nn.Module):
    """MLP on the pair features of :func:`pair_inputs` → logit of "same identity"."""

    def __init__(self, dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim + 3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z).squeeze(-1)


def pair_inputs(x: torch.Tensor, nbrs: torch.Tensor, sims: torch.Tensor, shared: torch.Tensor,
                rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Pair features of the kNN entries (rows[b], cols[b])."""
    xi, xj = x[rows], x[nbrs[rows, cols]]
    k = nbrs.shape[1]
    extra = torch.stack([sims[rows, cols], cols.float() / k, shared[rows, cols]], dim=1)
    return torch.cat([xi * xj, (xi - xj).abs(), extra], dim=1)


def _tensors(features, nbrs, sims, device):
    return (torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device),
            torch.from_numpy(nbrs.astype(np.int64)).to(device),
            torch.from_numpy(sims.astype(np.float32)).to(device),
            torch.from_numpy(shared_neighbour_fraction(nbrs)).to(device))


def train_pair_net(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, hidden: int,
                   batch_size: int, schedule: SGDSchedule, device: torch.device, rng: np.random.Generator
                   ) -> tuple[PairNet, list]:
    """Fit the pair network with BCE on random (node, neighbour) pairs of a labelled split."""
    x, nb, sm, sh = _tensors(features, nbrs, sims, device)
    target = torch.from_numpy(pair_labels(nbrs, labels).astype(np.float32)).to(device)
    model = PairNet(x.shape[1], hidden).to(device)
    n, k = nbrs.shape

    def step(_: int) -> torch.Tensor:
        rows = torch.from_numpy(rng.integers(n, size=batch_size)).to(device)
        cols = torch.from_numpy(rng.integers(1, k, size=batch_size)).to(device)
        logits = model(pair_inputs(x, nb, sm, sh, rows, cols))
        return nn.functional.binary_cross_entropy_with_logits(logits, target[rows, cols])

    return model, train_loop(model, schedule, step, "LCE pair network")


@torch.no_grad()
def pair_probabilities(model: PairNet, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray,
                       device: torch.device, chunk_rows: int = 2048) -> np.ndarray:
    """Probability that each kNN neighbour shares the node's identity (N, k); column 0 (self) = 1."""
    model.eval()
    x, nb, sm, sh = _tensors(features, nbrs, sims, device)
    n, k = nbrs.shape
    out = np.ones((n, k), dtype=np.float32)
    progress = Progress("LCE pair probabilities", n)
    cols_all = torch.arange(1, k, device=device)
    for lo in range(0, n, chunk_rows):
        hi = min(lo + chunk_rows, n)
        rows = torch.arange(lo, hi, device=device).repeat_interleave(k - 1)
        cols = cols_all.repeat(hi - lo)
        out[lo:hi, 1:] = torch.sigmoid(model(pair_inputs(x, nb, sm, sh, rows, cols))).view(hi - lo, k - 1).cpu().numpy()
        progress.update(hi)
    return out


def lce_clusters(nbrs: np.ndarray, sims: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, dict]:
    """Density-peak linking on the symmetrised probabilities (see the module docstring)."""
    n, k = nbrs.shape
    s = symmetrise(nbrs, prob)
    w = s * sims
    not_self = nbrs != np.arange(n)[:, None]
    density = (w * not_self).sum(axis=1)
    tau = float(sims[:, 1:4].mean())
    denser = (density[nbrs] > density[:, None]) & not_self & (s >= 0.5)
    score = np.where(denser, w, -np.inf)
    has = denser.any(axis=1)
    best = score.argmax(axis=1)
    src = [np.flatnonzero(has)]
    dst = [nbrs[has, best[has]]]
    strong = (w >= tau) & not_self
    src.append(np.nonzero(strong)[0])
    dst.append(nbrs[strong])
    labels = components(n, np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64))
    return labels, {"tau": tau, "peaks": int((~has).sum())}
