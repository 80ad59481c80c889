"""The adaptive filter of Ada-NETS (Adaptive Neighbour Discovery, "AND").

For node ``i`` the input is the sequence of the features of its ``k`` structure-space
neighbours, in structure-space order (``(k, d)``, ``i`` itself first). The model predicts
``k*_i / k`` (the max-Q index of :mod:`facecluster.max_q`, relative to ``k``):

    h = BiLSTM(x)                       (one layer, hidden size ``hidden``, both directions)
    h = (Linear(2·hidden → d)(h) + x) / √2, then L2-normalise every position
    z = L2-normalise(mean over the sequence of h)
    z = (z + MLP(z)) / √2               MLP = Linear(d→m), PReLU, Dropout, Linear(m→d), PReLU, Dropout
    pred = Linear(d → 1)(z)

Loss: Huber on the relative error ``r = pred / target − 1`` (``0.5·r²`` if ``|r| ≤ 1`` else
``|r| − 0.5``). At inference ``k̂ = clip(round(pred·k), 1, k)``.

The paper sets ``hidden = d``; the LSTM dominates the cost, so CPU configs may use less.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .progress import Progress
from .training import SGDSchedule, train_loop


class AdaptiveFilter(nn.Module):
    """BiLSTM + residual MLP regressor of ``k*/k`` (see the module docstring)."""

    def __init__(self, dim: int, hidden: int | None = None, mlp_hidden: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = hidden or dim
        self.lstm = nn.LSTM(dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.out_proj = nn.Linear(2 * hidden, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_hidden), nn.PReLU(mlp_hidden), nn.Dropout(dropout),
            nn.Linear(mlp_hidden, dim), nn.PReLU(dim), nn.Dropout(dropout),
        )
        self.regressor = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, k, d) neighbour features → (B,) predicted ``k*/k``."""
        h, _ = self.lstm(x)
        h = (self.out_proj(h) + x) / math.sqrt(2.0)
        h = F.normalize(h, dim=-1)
        z = F.normalize(h.mean(dim=1), dim=-1)
        z = (z + self.mlp(z)) / math.sqrt(2.0)
        return self.regressor(z).squeeze(-1)


def relative_huber(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Mean Huber loss of the relative error ``pred / target − 1``."""
    r = pred / target - 1.0
    a = r.abs()
    return torch.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)).mean()


def train_filter(
    features: np.ndarray,
    struct_nbrs: np.ndarray,
    k_star: np.ndarray,
    schedule: SGDSchedule,
    batch_size: int,
    hidden: int | None,
    mlp_hidden: int,
    dropout: float,
    device: torch.device,
    generator: torch.Generator,
) -> tuple[AdaptiveFilter, list]:
    """Train an :class:`AdaptiveFilter` on one labelled split; returns ``(model, loss curve)``."""
    k = struct_nbrs.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    nb = torch.from_numpy(struct_nbrs.astype(np.int64)).to(device)
    target = torch.from_numpy(k_star.astype(np.float32) / k).to(device)
    model = AdaptiveFilter(x.shape[1], hidden, mlp_hidden, dropout).to(device)
    n = nb.shape[0]

    def step(_: int) -> torch.Tensor:
        idx = torch.randint(0, n, (min(batch_size, n),), generator=generator).to(device)
        return relative_huber(model(x[nb[idx]]), target[idx])

    curve = train_loop(model, schedule, step, "adaptive filter")
    return model, curve


@torch.no_grad()
def predict_k(
    model: AdaptiveFilter, features: np.ndarray, struct_nbrs: np.ndarray, device: torch.device, batch_size: int = 1024
) -> np.ndarray:
    """``k̂ = clip(round(pred·k), 1, k)`` for every node (int64 (N,))."""
    model.eval()
    k = struct_nbrs.shape[1]
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    nb = torch.from_numpy(struct_nbrs.astype(np.int64))
    out = np.empty(nb.shape[0], dtype=np.float32)
    progress = Progress("adaptive filter inference", nb.shape[0])
    for lo in range(0, nb.shape[0], batch_size):
        hi = min(lo + batch_size, nb.shape[0])
        out[lo:hi] = model(x[nb[lo:hi].to(device)]).cpu().numpy()
        progress.update(hi)
    return np.clip(np.rint(out * k), 1, k).astype(np.int64)
