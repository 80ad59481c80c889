"""GCN-V (Yang et al., CVPR 2020, learn-to-cluster "vegcn"): vertex confidence estimation.

* **Confidence target** of node i over its k nearest neighbours (self included):
  ``c_i = Σ_{j same label} cos(i, j) − Σ_{j other label} cos(i, j)``, divided by the largest
  ``|c|`` of the split, so targets lie in [−1, 1].
  (The configs' ``conf_metric='s_nbr'``; the self column counts +1.)
* **Model.** One GraphConv layer on the kNN graph (release ``th_sim = 0``: edges of cosine ≥ 0,
  self excluded, cosine weights, element-wise max symmetrisation, + I, row-normalised —
  :func:`facecluster.graph.ops.build_adjacency`) over L2-normalised inputs
  (``is_norm_feat=True``): ``h = ReLU(W [x ‖ A x] + b)``, d·2 → 512 (Xavier-uniform ``W``,
  ``b = 0``), dropout on ``h`` (release default 0), then an MLP head
  ``Linear(512→512), PReLU, Linear(512→1)`` regressing ``c``; MSE loss, full-graph steps (the
  whole train graph each step, as in the release: SGD lr 0.1, momentum 0.9, weight decay 1e-5,
  80,000 steps, lr ×0.1 at 50/80/90 % — the schedule is the caller's :class:`SGDSchedule`).
* **Clustering** (:func:`confidence_linking`, the release's ``confidence_to_peaks`` with
  ``max_conn = 1`` + ``peaks_to_labels``): every node links to its nearest neighbour whose
  predicted confidence is strictly higher, when their cosine is > τ (the release drops
  ``dist >= 1 - τ``); connected components. GCN-V first does this on the feature kNN with τ₀
  and then (``use_gcn_feat``) on a kNN (same width) of its L2-normalised hidden features ``h``
  with τ; the pipeline reports the second (τ chosen on the train split; release: fixed 0.8).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from facecluster.graph.ops import build_adjacency
from facecluster.graph.ops import to_torch_csr
from facecluster.graph.ops import components, higher_confidence_links
from facecluster.progress import Progress
from facecluster.training.loop import SGDSchedule, Validation, train_loop


def confidence_targets(nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """GCN-V's target: same-label minus other-label cosine sums over the k neighbours, / max |.|."""
    same = labels[nbrs] == labels[:, None]
    raw = np.where(same, sims, -sims).sum(axis=1, dtype=np.float64)
    scale = np.abs(raw).max()
    return (raw / scale if scale > 0 else raw).astype(np.float32)


def confidence_linking(nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, tau: float) -> np.ndarray:
    """Link each node to its nearest neighbour of higher confidence if cos > ``tau``; components."""
    return components(nbrs.shape[0], *higher_confidence_links(nbrs, sims, confidence, tau))


class GCNV(nn.Module):
    """One GraphConv layer (concat of x and its neighbourhood mean) + confidence MLP."""

    def __init__(self, dim: int, hidden: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Linear(2 * dim, hidden)
        nn.init.xavier_uniform_(self.conv.weight)  # the release's GraphConv init
        nn.init.zeros_(self.conv.bias)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU(hidden), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (N, d), ``adj`` sparse (N, N) → (confidence (N,), hidden features (N, hidden))."""
        h = torch.relu(self.conv(torch.cat([x, torch.sparse.mm(adj, x)], dim=1)))
        return self.head(self.dropout(h)).squeeze(-1), h


def _inputs(features: np.ndarray, device: torch.device) -> torch.Tensor:
    """Features as an L2-normalised float32 tensor (the release's ``is_norm_feat=True``)."""
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    return nn.functional.normalize(x, dim=1)


def knn_operator(nbrs: np.ndarray, sims: np.ndarray, k: int) -> torch.Tensor:
    """The GraphConv aggregation operator of a kNN graph (first k columns) as torch sparse CSR."""
    adj: sp.csr_matrix = build_adjacency(nbrs[:, :k], sims[:, :k], k)
    return to_torch_csr(adj)


def train_gcn_v(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, k: int,
                hidden: int, dropout: float, schedule: SGDSchedule, device: torch.device,
                validation: Validation | None = None) -> tuple[GCNV, list]:
    """Fit GCN-V on a labelled split (full-graph steps, MSE to :func:`confidence_targets`); with
    ``validation``, the best checkpoint by its score is kept."""
    x = _inputs(features, device)
    adj = knn_operator(nbrs, sims, k).to(device)
    target = torch.from_numpy(confidence_targets(nbrs[:, :k], sims[:, :k], labels)).to(device)
    model = GCNV(x.shape[1], hidden, dropout).to(device)
    curve = train_loop(model, schedule, lambda _: nn.functional.mse_loss(model(x, adj)[0], target), "GCN-V",
                       validation=validation)
    return model, curve


@torch.no_grad()
def infer_gcn_v(model: GCNV, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, k: int,
                device: torch.device, chunk_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predicted confidence (N,) and L2-normalised hidden features (N, hidden) of a split.

    ``chunk_size`` None (or ≥ N) runs the whole graph at once; otherwise the GraphConv runs on
    node chunks (the rows of the aggregation operator), so the activations are those of a chunk;
    the same numbers up to float rounding. The hidden features themselves (N × hidden) are
    returned whole: GCN-V clusters on their kNN."""
    model.eval()
    x = _inputs(features, device)
    n = x.shape[0]
    if chunk_size is None or chunk_size >= n:
        conf, h = model(x, knn_operator(nbrs, sims, k).to(device))
        h = nn.functional.normalize(h, dim=1)
        return conf.cpu().numpy().astype(np.float32), h.cpu().numpy().astype(np.float32)
    adj: sp.csr_matrix = build_adjacency(nbrs[:, :k], sims[:, :k], k)
    conf = np.empty(n, dtype=np.float32)
    hidden = np.empty((n, model.conv.out_features), dtype=np.float32)
    progress = Progress(f"GCN-V inference (chunks of {chunk_size})", n)
    for lo in range(0, n, chunk_size):
        hi = min(n, lo + chunk_size)
        op = to_torch_csr(adj[lo:hi]).to(device)
        h = torch.relu(model.conv(torch.cat([x[lo:hi], torch.sparse.mm(op, x)], dim=1)))
        conf[lo:hi] = model.head(h).squeeze(-1).cpu().numpy()
        hidden[lo:hi] = nn.functional.normalize(h, dim=1).cpu().numpy()
        progress.update(hi)
    return conf, hidden
