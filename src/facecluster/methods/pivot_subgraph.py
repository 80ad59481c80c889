"""The instance-pivot-subgraph (IPS) linkage network of L-GCN (Wang et al., CVPR 2019), shared by
:mod:`facecluster.methods.lgcn` and this project's GCN-E (:mod:`facecluster.methods.gcn_e`, one hop).

* **IPS** of pivot p: its ``k1`` nearest neighbours (1-hop) and the ``k2`` nearest neighbours of
  each of those (2-hop), p included, duplicates removed; node features offset by the pivot
  (``x_j - x_p``); each IPS node linked to those of its ``active`` nearest neighbours inside the
  IPS; adjacency symmetrised and row-normalised (``D^-1 A``) with **no self-loops**, as in the
  release's feeder (gcn_clustering ``feeder/feeder.py``); padding rows stay zero.
* **Network** (:class:`SubgraphGCN`, gcn_clustering ``model/gcn.py``): input
  ``BatchNorm1d(affine=False)`` over every slot of the batch (padding included, as the release pads
  to ``1 + k1 (k2 + 1)`` zero rows), four GraphConv layers ``h <- ReLU([h || A h] W + b)`` of widths
  512/512/256/256 (xavier-uniform weights, zero bias) and a 2-way head
  ``Linear(256, 256), PReLU(256), Linear(256, 2)`` on the 1-hop nodes: does the node share the
  pivot's identity? Cross-entropy on the train split. learn-to-cluster's GCN-E uses the same
  layers without the input BatchNorm (``input_norm=False``).

IPS construction is vectorised over a batch of pivots (sort-based de-duplication, ``searchsorted``
for local positions); batches are dense (B, M, M) tensors with M = 1 + k1 + k1*k2.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facecluster.progress import Progress
from facecluster.training.loop import SGDSchedule, Validation, train_loop


def pivot_subgraphs(nbrs: np.ndarray, pivots: np.ndarray, k1: int, k2: int, active: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """IPS of each pivot → ``(nodes (B, M) global ids, -1 = padding; adjacency (B, M, M) float32
    row-normalised; pivot position (B,); one_hop (B, k1) local positions of the 1-hop nodes)``."""
    n = nbrs.shape[0]
    b = pivots.size
    hop1 = nbrs[pivots, 1 : k1 + 1]
    hop2 = nbrs[hop1, 1 : k2 + 1].reshape(b, -1)
    cand = np.concatenate([pivots[:, None], hop1, hop2], axis=1).astype(np.int64)
    s = np.sort(cand, axis=1)
    dup = np.zeros_like(s, dtype=bool)
    dup[:, 1:] = s[:, 1:] == s[:, :-1]
    s[dup] = n
    nodes = np.sort(s, axis=1)
    m = nodes.shape[1]
    valid = nodes < n
    offset = (np.arange(b, dtype=np.int64) * (n + 1))[:, None]
    keys = (nodes + offset).ravel()

    def local(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = ids + offset.reshape((b,) + (1,) * (ids.ndim - 1))
        pos = np.clip(np.searchsorted(keys, k), 0, keys.size - 1)
        found = keys[pos] == k
        return pos - (np.arange(b) * m).reshape((b,) + (1,) * (ids.ndim - 1)), found

    pivot_pos, _ = local(pivots[:, None])
    one_hop, _ = local(hop1)
    links = nbrs[np.where(valid, nodes, 0)][:, :, 1 : active + 1]  # (B, M, active)
    col, found = local(links)
    found &= valid[:, :, None]
    adj = np.zeros((b, m, m), dtype=np.float32)
    bi, ri, ai = np.nonzero(found)
    adj[bi, ri, col[bi, ri, ai]] = 1.0
    adj = np.maximum(adj, adj.transpose(0, 2, 1))
    deg = adj.sum(axis=2, keepdims=True)
    adj /= np.where(deg > 0, deg, 1.0)
    return np.where(valid, nodes, -1), adj, pivot_pos[:, 0], one_hop


def pivot_labels(labels: np.ndarray, nbrs: np.ndarray, pivots: np.ndarray, k1: int) -> np.ndarray:
    """Training labels: whether each 1-hop node shares the pivot's identity (B, k1) int64."""
    return (labels[nbrs[pivots, 1 : k1 + 1]] == labels[pivots][:, None]).astype(np.int64)


class SubgraphGCN(nn.Module):
    """Four GraphConv layers on dense subgraph batches + a 2-way head (L-GCN; GCN-E without ``input_norm``)."""

    def __init__(self, dim: int, hidden: int = 512, input_norm: bool = False) -> None:
        super().__init__()
        dims = [dim, hidden, hidden, hidden // 2, hidden // 2]
        self.input_norm = nn.BatchNorm1d(dim, affine=False) if input_norm else None
        self.layers = nn.ModuleList(nn.Linear(2 * a, b) for a, b in zip(dims[:-1], dims[1:]))
        for layer in self.layers:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.head = nn.Sequential(nn.Linear(dims[-1], dims[-1]), nn.PReLU(dims[-1]), nn.Linear(dims[-1], 2))

    def forward(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``h`` (B, M, d) root-offset features, ``adj`` (B, M, M) → logits (B, M, 2)."""
        if self.input_norm is not None:
            b, m, d = h.shape
            h = self.input_norm(h.reshape(b * m, d)).reshape(b, m, d)
        for layer in self.layers:
            h = torch.relu(layer(torch.cat([h, torch.bmm(adj, h)], dim=-1)))
        # the head on (nodes, channels): PReLU's per-channel slopes read dimension 1
        return self.head(h.reshape(-1, h.shape[-1])).reshape(*h.shape[:-1], 2)


def _batch(x: torch.Tensor, nbrs: np.ndarray, pivots: np.ndarray, k1: int, k2: int, active: int, device):
    nodes, adj, pivot_pos, one_hop = pivot_subgraphs(nbrs, pivots, k1, k2, active)
    ids = torch.from_numpy(np.where(nodes >= 0, nodes, 0)).to(device)
    h = x[ids] - x[torch.from_numpy(pivots).to(device)][:, None, :]
    h = h * torch.from_numpy(nodes >= 0).to(device)[..., None]
    return h, torch.from_numpy(adj).to(device), torch.from_numpy(one_hop).to(device)


def train_lgcn(features: np.ndarray, nbrs: np.ndarray, labels: np.ndarray, k1: int, k2: int, active: int,
               hidden: int, batch_size: int, schedule: SGDSchedule, device: torch.device, rng: np.random.Generator,
               validation: Validation | None = None) -> tuple[SubgraphGCN, list]:
    """Fit L-GCN on random pivots of a labelled split."""
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    model = SubgraphGCN(x.shape[1], hidden, input_norm=True).to(device)

    def step(_: int) -> torch.Tensor:
        pivots = rng.integers(nbrs.shape[0], size=batch_size)
        h, adj, one_hop = _batch(x, nbrs, pivots, k1, k2, active, device)
        logits = model(h, adj)
        picked = torch.gather(logits, 1, one_hop[..., None].expand(-1, -1, 2))
        target = torch.from_numpy(pivot_labels(labels, nbrs, pivots, k1)).to(device)
        return nn.functional.cross_entropy(picked.reshape(-1, 2), target.reshape(-1))

    return model, train_loop(model, schedule, step, "L-GCN", validation=validation)


@torch.no_grad()
def one_hop_probabilities(model: SubgraphGCN, features: np.ndarray, nbrs: np.ndarray, k1: int, k2: int, active: int,
                          device: torch.device, batch_size: int = 256, name: str = "L-GCN pivots") -> np.ndarray:
    """P(same identity as the pivot) of each pivot's k1 nearest neighbours, every node a pivot → (N, k1)."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    n = nbrs.shape[0]
    prob = np.zeros((n, k1), dtype=np.float32)
    progress = Progress(name, n)
    for lo in range(0, n, batch_size):
        pivots = np.arange(lo, min(lo + batch_size, n))
        h, adj, one_hop = _batch(x, nbrs, pivots, k1, k2, active, device)
        p = torch.softmax(model(h, adj), dim=-1)[..., 1]
        prob[pivots] = torch.gather(p, 1, one_hop).cpu().numpy()
        progress.update(pivots[-1] + 1)
    return prob
