"""The Ada-NETS GCN: two GraphSAGE layers with the "gcn" aggregator, an FC head and the
"allmax" cluster loss; neighbour sampling in torch/numpy (no compiled PyG extras needed).

Model (DESIGN.md stage 6)::

    h1 = ReLU(SAGE_gcn(x))           d → hidden      then L2-normalise
    h2 = ReLU(SAGE_gcn(h1))          hidden → hidden
    e  = L2-normalise(PReLU(Linear(h2)))             = the embedding

``SAGE_gcn`` is the GraphSAGE "gcn" aggregator: the *uniform* mean over a node's neighbours
and itself, then a linear map. It is PyG's ``SAGEConv(aggr="sum", root_weight=False)`` applied
to a row-normalised adjacency that contains the self-loops (so the sum is that mean).

Training (one mini-batch = one step): a seed node plus ``batch_neighbours`` (128) nodes drawn
without replacement from its ``order_k`` (256) nearest neighbours form the output nodes; for
each GraphSAGE layer every node's neighbourhood is ``fanout`` (80) neighbours drawn from the
training graph (all of them when it has fewer), plus the node itself. Loss ("allmax") on the
output nodes' embeddings, with ``S`` their cosine-similarity matrix::

    L = pos_weight · mean_{i≠j, same id} relu(pos_margin − S_ij) + relu(neg_margin + max_{different id} S_ij)

Inference runs both layers on every node's full neighbourhood of the split's adjacency.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv

from .progress import Progress
from .training import SGDSchedule, train_loop


class AdaNetsGCN(nn.Module):
    """Two GraphSAGE ("gcn" aggregator) layers + Linear/PReLU head; outputs L2-normalised embeddings."""

    def __init__(self, in_dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.sage1 = SAGEConv(in_dim, hidden, aggr="sum", root_weight=False)
        self.sage2 = SAGEConv(hidden, hidden, aggr="sum", root_weight=False)
        self.fc = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU(hidden))

    def forward(self, x: torch.Tensor, adj1: torch.Tensor, adj2: torch.Tensor) -> torch.Tensor:
        """``adj1``: (n1, n0) mean operator from the input nodes to layer-1 nodes; ``adj2``: (n2, n1)."""
        h = F.normalize(F.relu(self.sage1((x, None), adj1)), dim=1)
        h = F.relu(self.sage2((h, None), adj2))
        return F.normalize(self.fc(h), dim=1)


def allmax_loss(emb: torch.Tensor, labels: torch.Tensor, pos_margin: float = 0.9, neg_margin: float = 1.0, pos_weight: float = 1.0) -> torch.Tensor:
    """The "allmax" cluster loss on L2-normalised embeddings (see the module docstring)."""
    s = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    pos = same & ~eye
    loss = emb.new_zeros(())
    if pos.any():
        loss = loss + pos_weight * F.relu(pos_margin - s[pos]).mean()
    if (~same).any():
        loss = loss + F.relu(neg_margin + s[~same].max())
    return loss


def strip_self_loops(adj: sp.csr_matrix) -> sp.csr_matrix:
    """The adjacency's pattern without its diagonal (CSR, sorted indices)."""
    a = adj.tocoo()
    keep = a.row != a.col
    out = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (a.row[keep], a.col[keep])), shape=adj.shape)
    out.sort_indices()
    return out


def mean_operator(adj: sp.csr_matrix) -> torch.Tensor:
    """Uniform mean over each node's neighbours and itself, as a torch sparse CSR (N, N)."""
    a = strip_self_loops(adj) + sp.identity(adj.shape[0], dtype=np.float32, format="csr")
    a = a.tocsr()
    a.data[:] = 1.0
    a.data /= np.repeat(np.diff(a.indptr), np.diff(a.indptr)).astype(np.float32)
    return to_torch_csr(a)


def to_torch_csr(m: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix (sorted, no duplicates) as a torch sparse CSR float32 tensor."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)), torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data.astype(np.float32, copy=False)), size=m.shape, check_invariants=False,
        )


class NeighbourSampler:
    """Samples the two GraphSAGE blocks of a mini-batch from a CSR graph (self-loops excluded).

    For each target node, up to ``fanout`` distinct neighbours are drawn uniformly (all when the
    degree is at most ``fanout``), and the node itself is added; the block's operator is the
    uniform mean over that set. Vectorised: random keys on the targets' CSR slices, one
    ``lexsort`` per block; a reusable position array maps global to local ids.
    """

    def __init__(self, graph: sp.csr_matrix, fanout: int, rng: np.random.Generator) -> None:
        self.indptr = graph.indptr.astype(np.int64)
        self.indices = graph.indices.astype(np.int64)
        self.fanout = fanout
        self.rng = rng
        self._pos = np.full(graph.shape[0], -1, dtype=np.int64)

    def block(self, targets: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """Return ``(source nodes, operator (len(targets), len(sources)))``; sources start with ``targets``."""
        starts, ends = self.indptr[targets], self.indptr[targets + 1]
        deg = ends - starts
        seg = np.repeat(np.arange(targets.size), deg)
        offsets = np.arange(deg.sum()) - np.repeat(np.cumsum(deg) - deg, deg)
        cand = self.indices[np.repeat(starts, deg) + offsets]
        order = np.lexsort((self.rng.random(cand.size), seg))
        rank = np.arange(cand.size) - np.repeat(np.cumsum(deg) - deg, deg)
        chosen = order[rank < self.fanout]
        rows = np.concatenate([np.arange(targets.size), seg[chosen]])
        cols_global = np.concatenate([targets, cand[chosen]])
        # local ids: targets first, then new nodes in first-seen order
        pos = self._pos
        pos[targets] = np.arange(targets.size)
        new = cols_global[targets.size :]
        new = new[pos[new] < 0]
        uniq_new, first = np.unique(new, return_index=True)
        uniq_new = uniq_new[np.argsort(first)]
        pos[uniq_new] = targets.size + np.arange(uniq_new.size)
        sources = np.concatenate([targets, uniq_new])
        cols = pos[cols_global]
        pos[sources] = -1
        counts = np.bincount(rows, minlength=targets.size).astype(np.float32)
        op = sp.csr_matrix((1.0 / counts[rows], (rows, cols)), shape=(targets.size, sources.size), dtype=np.float32)
        op.sum_duplicates()
        return sources, to_torch_csr(op)


def train_gcn(
    features: np.ndarray,
    labels: np.ndarray,
    knn_nbrs: np.ndarray,
    graph: sp.csr_matrix,
    schedule: SGDSchedule,
    hidden: int,
    order_k: int,
    batch_neighbours: int,
    fanout: int,
    loss_cfg: dict,
    device: torch.device,
    rng: np.random.Generator,
) -> tuple[AdaNetsGCN, list]:
    """Train :class:`AdaNetsGCN` on a labelled split; ``knn_nbrs`` (N, ≥ order_k) orders the seed's neighbours."""
    if knn_nbrs.shape[1] < order_k:
        raise ValueError(f"the training kNN has {knn_nbrs.shape[1]} columns; order_k={order_k} needs at least that many")
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    sampler = NeighbourSampler(strip_self_loops(graph), fanout, rng)
    model = AdaNetsGCN(x.shape[1], hidden).to(device)
    n = features.shape[0]
    candidates = knn_nbrs[:, 1:order_k]

    def step(_: int) -> torch.Tensor:
        seed = int(rng.integers(n))
        pick = rng.choice(candidates.shape[1], size=min(batch_neighbours, candidates.shape[1]), replace=False)
        out_nodes = np.concatenate([[seed], candidates[seed, pick]]).astype(np.int64)
        out_nodes = out_nodes[np.sort(np.unique(out_nodes, return_index=True)[1])]
        mid_nodes, op2 = sampler.block(out_nodes)
        in_nodes, op1 = sampler.block(mid_nodes)
        emb = model(x[torch.from_numpy(in_nodes).to(device)], op1.to(device), op2.to(device))
        return allmax_loss(emb, y[torch.from_numpy(out_nodes).to(device)], **loss_cfg)

    curve = train_loop(model, schedule, step, "GCN")
    return model, curve


@torch.no_grad()
def embed(model: AdaNetsGCN, features: np.ndarray, adj: sp.csr_matrix, device: torch.device) -> np.ndarray:
    """Full-neighbourhood embeddings of every node on ``adj`` (float32 (N, hidden), L2-normalised)."""
    model.eval()
    op = mean_operator(adj).to(device)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    progress = Progress("GCN inference", 1)
    out = model(x, op, op).cpu().numpy().astype(np.float32)
    progress.update(1)
    return out
