"""LCE-PCENet: local-connectivity density clustering (Shin et al., CVPR 2023).

Networks and clustering follow the authors' inference-only release (github.com/illian01/LCE-PCENet:
``models.py``, ``datasets.py``, ``inference.py``); the training is this project's design, since the
release ships none.

**LCENet** (:class:`LCENet`). Node i and its k nearest neighbours (cosine kNN, i itself in column
0) give k tokens ``[x_j ‖ A_j]``: the L2-normalised feature of neighbour j and row j of the k × k
cosine matrix ``A`` among those k neighbours (order = kNN order), width D + k. A pre-norm
``TransformerEncoder`` (3 layers, 8 heads, feed-forward 1024, dropout 0.1, ReLU, no final norm)
maps them; the head reads every output token j next to the anchor's output token 0 (i itself),
``[h_0 ‖ h_j]`` → Linear(2(D+k), D) → PReLU → Linear(D, 2), and ``s_ij`` = softmax probability of
class 1 ("j has i's identity").

**PCENet** (:class:`PCENet`). For a pair (i, j): the 2k tokens of i's kNN list then j's, each
``[x ‖ row of the 2k × 2k cosine matrix]`` (width D + 2k), the same encoder settings; output tokens
0 (i) and k (j) go through Linear(D+2k, D) → PReLU → Linear(D, D) to ``f_i``, ``f_j``; the
classifier reads ``[x_i ‖ f_i ‖ x_j ‖ f_j]`` (input features, not encoder outputs, for x) →
Linear(4D, 2048) → PReLU → Linear(2048, 2048) → PReLU → Linear(2048, 2); the pair is kept when the
class-1 softmax is > 0.5.

Width: ``nn.MultiheadAttention`` needs ``d_model`` divisible by the heads. The release's settings
all are (256+80, 256+8, 512+120 and their PCENet widths with 2k); for other (D, k) this module pads
the tokens with zero columns up to the next multiple (no padding where the release needs none).

**Clustering** (:func:`lce_clusters`, ``PCENetDataset`` + ``inference.py`` of the release):

1. ``S ← (S + Sᵀ)/2`` over the directed kNN pairs: a pair listed in one direction only is halved
   (its missing direction counts 0);
2. density ``ρ_i = Σ_{c ≥ 1} s_ic · cos_ic`` (column 0, i itself, left out);
3. "denser" = ``ρ_j > ρ_i`` (strict); ``E_d``: each node's single neighbour maximising ``s · cos``
   among its denser neighbours, none when that maximum is ≤ 0 (a peak); each E_d edge is kept only
   when PCENet's probability is > 0.5 (``verify``; ``verify=None`` keeps them all);
4. ``E_s``: every pair with ``s · cos ≥ τ`` toward a *denser* neighbour, E_d entries removed,
   τ = mean cosine of neighbours 1–3 over the whole split;
5. the union of kept E_d and E_s, max-symmetrised, connected components.

Release settings: k = 80 (MS1M), 8 (DeepFashion), 120 (IJB-B); batch 2048 (LCENet) / 1024 (PCENet).

**Training (this project's design; the release has no training code).** Its LCENet dataset returns
one target per token, ``labels[nbrs[i]] == labels[i]``, which is what the LCENet stage fits:

* *LCENet*: cross-entropy over the k − 1 neighbour tokens (column 0, i itself, is excluded) of
  ``batch_size`` random train nodes per step; terms ``ce``, ``acc`` and the positive rate ``pos``.
* *PCENet*: the pairs clustering feeds it. The trained LCENet scores the whole train split, E_d is
  built from those scores exactly as at test time (:func:`density_edges`), and PCENet fits plain
  cross-entropy on random batches of these edges (target: same label; the release's fixed 0.5
  threshold is then the accuracy-optimal decision); terms ``ce``, ``acc``, ``pos``.
* Both stages run :func:`facecluster.training.loop.train_loop` with their own schedule (Adam in the
  CPU preset); the returned curve is LCENet's followed by PCENet's (step numbers continue).

Measured (``benchmarks/lce_budget.py``, test split, pairwise F; CPU preset: 1 encoder layer,
LCENet 300 steps × 32 nodes, PCENet 200 steps × 32 edges, Adam lr 1e-3):

* npmscope, k = 16: F 0.501 / 0.499 / 0.483 (seeds 0–2; k = 12: 0.490, k = 24: 0.500, k = 32: 0.453);
  with every E_d edge kept (``pcenet: false``) 0.17–0.20; perfect PCENet 0.63; knn_cc (k = 80,
  τ tuned on train) 0.308. PCENet trained on random kNN pairs instead of E_d edges: 0.482 (seed 0).
  LCENet's same-identity AUC 0.90 against the raw cosine's 0.79.
* synthetic, k = 24: F 0.786 / 0.792 / 0.788 (seeds 0–2; without PCENet 0.776–0.782; k = 16: 0.75,
  k = 32: 0.78); knn_cc 0.686. Here LCENet ranks neighbours no better than the cosine (AUC 0.93 vs
  0.93; at k = 16 0.92 vs 0.95, and 0.96 with the feature part of the tokens zeroed: the features
  let it fit the train identities, train AUC 0.98) and s ≡ 1 clusters as well (0.78): the density
  rule carries it. (On npmscope zeroing the features costs AUC, 0.84, so the tokens stay the release's.)
* The release's 3 layers cost ~3× per step and did not do better at this budget (npmscope k = 8:
  0.445; k = 16 with 2 layers: 0.474). Class-balanced PCENet loss: same F on npmscope, slightly
  lower on synthetic (it rejects good edges), so plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from facecluster.graph.ops import components, symmetrise
from facecluster.progress import Progress, logger
from facecluster.training.loop import SGDSchedule, Validation, train_loop

Verifier = Callable[[np.ndarray, np.ndarray], np.ndarray]


# --- networks ------------------------------------------------------------------------------------

def _padded(width: int, heads: int) -> int:
    """``width`` rounded up to a multiple of ``heads`` (the attention's requirement)."""
    return width + (-width) % heads


def _encoder(width: int, layers: int, heads: int, feedforward: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d_model=width, nhead=heads, dim_feedforward=feedforward, dropout=dropout,
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)


def _tokens(x: torch.Tensor, adj: torch.Tensor, width: int) -> torch.Tensor:
    """``[x ‖ adj ‖ 0…]`` up to ``width`` columns."""
    parts = [x, adj]
    pad = width - x.shape[-1] - adj.shape[-1]
    if pad:
        parts.append(x.new_zeros(*x.shape[:-1], pad))
    return torch.cat(parts, dim=-1)


def _encode_at(encoder: nn.TransformerEncoder, tokens: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """``encoder(tokens)[:, rows]`` with the last (pre-norm) layer computed at ``rows`` only.

    Earlier layers run in full (every token feeds the last layer's keys and values); the last
    layer's queries, attention output and feed-forward are those of ``rows``. Same parameters,
    same function as ``nn.TransformerEncoderLayer(norm_first=True)`` (tested against it)."""
    if not isinstance(encoder, nn.TransformerEncoder):  # e.g. an identity put in by a test
        return encoder(tokens)[:, rows]
    *first, last = encoder.layers
    h = tokens
    for layer in first:
        h = layer(h)
    hn = last.norm1(h)
    attended = last.self_attn(hn[:, rows], hn, hn, need_weights=False)[0]
    out = h[:, rows] + last.dropout1(attended)
    return out + last.dropout2(last.linear2(last.dropout(last.activation(last.linear1(last.norm2(out))))))


class LCENet(nn.Module):
    """Per-neighbour identity probability of one node's kNN list (module docstring)."""

    def __init__(self, dim: int, k: int, layers: int = 3, heads: int = 8, feedforward: int = 1024,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.dim, self.k = dim, k
        self.width = _padded(dim + k, heads)
        self.encoder = _encoder(self.width, layers, heads, feedforward, dropout)
        self.classifier = nn.Sequential(nn.Linear(2 * self.width, dim), nn.PReLU(), nn.Linear(dim, 2))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``x`` (B, k, D) neighbour features, ``adj`` (B, k, k) their cosines → logits (B, k, 2)."""
        h = self.encoder(_tokens(x, adj, self.width))
        anchor = h[:, :1].expand_as(h)
        return self.classifier(torch.cat([anchor, h], dim=-1))


class PCENet(nn.Module):
    """Same-identity logit pair of (i, j) from both kNN lists (module docstring)."""

    def __init__(self, dim: int, k: int, layers: int = 3, heads: int = 8, feedforward: int = 1024,
                 dropout: float = 0.1, hidden: int = 2048) -> None:
        super().__init__()
        self.dim, self.k = dim, k
        self.width = _padded(dim + 2 * k, heads)
        self.encoder = _encoder(self.width, layers, heads, feedforward, dropout)
        self.adjust_dim = nn.Sequential(nn.Linear(self.width, dim), nn.PReLU(), nn.Linear(dim, dim))
        self.classifier = nn.Sequential(nn.Linear(4 * dim, hidden), nn.PReLU(), nn.Linear(hidden, hidden), nn.PReLU(),
                                        nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 2k, D) both kNN lists' features, ``adj`` (B, 2k, 2k) their cosines → logits (B, 2).

        Only output tokens 0 and k are read, so the last encoder layer is evaluated at those two
        positions (:func:`_encode_at`): the same outputs as the full encoder, ~3× less work at 1 layer.
        """
        h = _encode_at(self.encoder, _tokens(x, adj, self.width), [0, self.k])
        f = self.adjust_dim(h)
        return self.classifier(torch.cat([x[:, 0], f[:, 0], x[:, self.k], f[:, 1]], dim=-1))


class LCE(nn.Module):
    """The two networks of one trained LCE model (one checkpoint, kind ``lce``).

    Both share ``layers``, ``heads``, ``feedforward`` and ``dropout`` (the release: 3, 8, 1024, 0.1);
    ``pce_hidden`` is PCENet's classifier width (2048). With the release's (dim, k) the state dicts of
    ``lcenet`` and ``pcenet`` have the release's keys and shapes, so its weights load unchanged.
    """

    def __init__(self, dim: int, k: int, layers: int = 3, heads: int = 8, feedforward: int = 1024,
                 dropout: float = 0.1, pce_hidden: int = 2048) -> None:
        super().__init__()
        self.dim, self.k = dim, k
        self.lcenet = LCENet(dim, k, layers, heads, feedforward, dropout)
        self.pcenet = PCENet(dim, k, layers, heads, feedforward, dropout, pce_hidden)


# --- inputs --------------------------------------------------------------------------------------

def unit_features(features: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """L2-normalised float32 features on ``device`` (the release normalises on reading)."""
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    return nn.functional.normalize(x, dim=1)


def lcenet_tokens(x: torch.Tensor, nbrs: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LCENet inputs of nodes ``rows``: features (B, k, D) of their kNN lists and the k × k cosines."""
    t = x[nbrs[rows]]
    return t, t @ t.transpose(1, 2)


def pcenet_tokens(x: torch.Tensor, nbrs: torch.Tensor, src: torch.Tensor, dst: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """PCENet inputs of pairs (src, dst): features (B, 2k, D) of both kNN lists, src's first, and their cosines."""
    t = x[torch.cat([nbrs[src], nbrs[dst]], dim=1)]
    return t, t @ t.transpose(1, 2)


def pair_labels(nbrs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LCENet targets: whether neighbour j shares node i's identity, (N, k) bool."""
    return labels[nbrs] == labels[:, None]


def _check_knn(nbrs: np.ndarray, sims: np.ndarray) -> None:
    if nbrs.shape != sims.shape or nbrs.ndim != 2:
        raise ValueError(f"nbrs {nbrs.shape} and sims {sims.shape} must be the same (N, k)")
    if not np.array_equal(nbrs[:, 0], np.arange(nbrs.shape[0])):
        raise ValueError("LCE needs every node itself in column 0 of its kNN list")


# --- inference -----------------------------------------------------------------------------------

@torch.no_grad()
def lce_scores(model: LCE | LCENet, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray,
               device: torch.device | str = "cpu", batch_nodes: int = 512) -> np.ndarray:
    """LCENet's ``s_ij`` for every kNN entry, float32 (N, k) (column 0: the node itself; not used).

    ``sims`` is only checked against ``nbrs`` (the release's tokens recompute cosines from features).
    """
    _check_knn(nbrs, sims)
    net = model.lcenet if isinstance(model, LCE) else model
    net.eval()
    x = unit_features(features, device)
    nb = torch.from_numpy(nbrs.astype(np.int64)).to(device)
    n = nbrs.shape[0]
    out = np.empty(nbrs.shape, dtype=np.float32)
    progress = Progress("LCENet scores", n)
    for lo in range(0, n, batch_nodes):
        hi = min(lo + batch_nodes, n)
        logits = net(*lcenet_tokens(x, nb, torch.arange(lo, hi, device=device)))
        out[lo:hi] = torch.softmax(logits, dim=-1)[..., 1].cpu().numpy()
        progress.update(hi)
    return out


@torch.no_grad()
def pce_probabilities(model: LCE | PCENet, features: np.ndarray, nbrs: np.ndarray, src: np.ndarray, dst: np.ndarray,
                      device: torch.device | str = "cpu", batch_pairs: int = 256) -> np.ndarray:
    """PCENet's same-identity probability of each pair (src[b], dst[b]), float32 (M,)."""
    net = model.pcenet if isinstance(model, LCE) else model
    net.eval()
    x = unit_features(features, device)
    nb = torch.from_numpy(nbrs.astype(np.int64)).to(device)
    s = torch.from_numpy(np.asarray(src, dtype=np.int64)).to(device)
    d = torch.from_numpy(np.asarray(dst, dtype=np.int64)).to(device)
    m = s.numel()
    out = np.empty(m, dtype=np.float32)
    progress = Progress("PCENet pair probabilities", m)
    for lo in range(0, m, batch_pairs):
        hi = min(lo + batch_pairs, m)
        logits = net(*pcenet_tokens(x, nb, s[lo:hi], d[lo:hi]))
        out[lo:hi] = torch.softmax(logits, dim=-1)[:, 1].cpu().numpy()
        progress.update(hi)
    return out


def pce_verifier(model: LCE | PCENet, features: np.ndarray, nbrs: np.ndarray, device: torch.device | str = "cpu",
                 batch_pairs: int = 256) -> Verifier:
    """``verify(src, dst) -> probabilities`` for :func:`lce_clusters`, backed by PCENet."""
    return lambda src, dst: pce_probabilities(model, features, nbrs, src, dst, device, batch_pairs)


def lce_predict(model: LCE, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray,
                device: torch.device | str = "cpu", pcenet: bool = True) -> dict[str, np.ndarray]:
    """Everything the networks contribute to one split: ``scores`` (:func:`lce_scores`) and, with
    ``pcenet``, ``density_prob``: PCENet on :func:`density_edges`' edges in their order, ready for
    ``lce_clusters(nbrs, sims, scores, verify=density_prob)``."""
    scores = lce_scores(model, features, nbrs, sims, device)
    out = {"scores": scores}
    if pcenet:
        src, dst, _ = density_edges(nbrs, sims, symmetrise_scores(nbrs, scores))
        out["density_prob"] = pce_probabilities(model, features, nbrs, src, dst, device)
    return out


# --- clustering ----------------------------------------------------------------------------------

def symmetrise_scores(nbrs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(S + Sᵀ)/2`` read back at the kNN entries, float32 (N, k): ``(s_ij + s_ji)/2`` where j lists
    i too, ``s_ij / 2`` where it does not (the release's sparse-matrix average)."""
    return symmetrise(nbrs, scores.astype(np.float32), missing=0.0)


def lce_density(sims: np.ndarray, sym_scores: np.ndarray) -> np.ndarray:
    """``ρ_i = Σ_{c ≥ 1} s_ic · cos_ic`` over the symmetrised scores, float (N,)."""
    return (sym_scores[:, 1:] * sims[:, 1:]).sum(axis=1)


def density_edges(nbrs: np.ndarray, sims: np.ndarray, sym_scores: np.ndarray, density: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E_d: each node to its denser neighbour of largest ``s · cos`` (at most one per node).

    Returns ``(src, dst, col)`` int64 (ascending src; ``col`` = kNN column of dst); a node whose best
    denser ``s · cos`` is ≤ 0, or that has no denser neighbour, is a peak and has no edge.
    """
    if density is None:
        density = lce_density(sims, sym_scores)
    denser = density[nbrs] > density[:, None]
    w = np.where(denser, sym_scores * sims, 0.0)
    w[:, 0] = 0.0
    best = w.argmax(axis=1)
    src = np.flatnonzero(best != 0)
    return src, nbrs[src, best[src]].astype(np.int64), best[src].astype(np.int64)


def lce_clusters(nbrs: np.ndarray, sims: np.ndarray, scores: np.ndarray,
                 verify: Verifier | np.ndarray | None = None, tau: float | None = None) -> tuple[np.ndarray, dict]:
    """LCE's clustering of one split (module docstring, steps 1–5) → ``(labels int64 (N,), info)``.

    Args:
        nbrs, sims: kNN (N, k), the node itself in column 0.
        scores: LCENet's ``s_ij`` (N, k) (:func:`lce_scores`), before symmetrisation.
        verify: PCENet on the density edges: a callable ``(src, dst) -> probabilities``
            (:func:`pce_verifier`), or the probabilities of :func:`density_edges`' edges in its order;
            an edge is kept when > 0.5. ``None`` keeps every density edge (``pcenet: false``).
        tau: the E_s threshold; ``None`` = the release's mean cosine of neighbours 1–3 over the split.

    ``info``: ``tau``, ``peaks`` (nodes without a density edge), ``density_edges``, ``density_kept``,
    ``similarity_edges``.
    """
    _check_knn(nbrs, sims)
    n = nbrs.shape[0]
    s = symmetrise_scores(nbrs, scores)
    density = lce_density(sims, s)
    src_d, dst_d, col_d = density_edges(nbrs, sims, s, density)
    kept = np.ones(src_d.size, dtype=bool)
    if verify is not None:
        prob = np.asarray(verify(src_d, dst_d) if callable(verify) else verify, dtype=np.float64)
        if prob.shape != src_d.shape:
            raise ValueError(f"verify gave {prob.shape} probabilities for {src_d.size} density edges")
        kept = prob > 0.5
    if tau is None:
        tau = float(sims[:, 1:4].mean())
    strong = (s * sims >= tau) & (density[nbrs] > density[:, None])
    strong[:, 0] = False
    strong[src_d, col_d] = False
    src_s, col_s = np.nonzero(strong)
    src = np.concatenate([src_d[kept], src_s]).astype(np.int64)
    dst = np.concatenate([dst_d[kept], nbrs[src_s, col_s]]).astype(np.int64)
    labels = components(n, src, dst)
    info = {"tau": float(tau), "peaks": int(n - src_d.size), "density_edges": int(src_d.size),
            "density_kept": int(kept.sum()), "similarity_edges": int(src_s.size)}
    return labels, info


# --- training ------------------------------------------------------------------------------------

def _ce_terms(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    ce = nn.functional.cross_entropy(logits, target)
    with torch.no_grad():
        acc = float((logits.argmax(dim=-1) == target).float().mean())
        pos = float(target.float().mean())
    return ce, {"ce": float(ce.detach()), "acc": acc, "pos": pos}


def train_lce(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, k: int, batch_size: int,
              schedule: SGDSchedule, pce_schedule: SGDSchedule | None, device: torch.device | str,
              rng: np.random.Generator, pce_batch_size: int | None = None, validation: Validation | None = None,
              **arch) -> tuple[LCE, list]:
    """Train LCENet, then PCENet on the train split's density edges (module docstring, "Training").

    ``nbrs``/``sims`` are the split's kNN cut to ``k`` columns (self in column 0); ``arch`` goes to
    :class:`LCE`. ``pce_schedule=None`` leaves PCENet untrained (for ``pcenet: false``).
    ``pce_batch_size`` defaults to ``batch_size``. Returns the model (eval mode) and the loss curve
    ``[(step, loss, lr), ...]`` of both stages, PCENet's steps numbered after LCENet's.
    """
    _check_knn(nbrs, sims)
    if nbrs.shape[1] != k:
        raise ValueError(f"nbrs has {nbrs.shape[1]} columns, k = {k}")
    n = nbrs.shape[0]
    model = LCE(dim=features.shape[1], k=k, **arch).to(device)
    x = unit_features(features, device)
    nb = torch.from_numpy(nbrs.astype(np.int64)).to(device)
    same = torch.from_numpy(pair_labels(nbrs, labels)).to(device)

    def lce_step(_: int) -> tuple[torch.Tensor, dict[str, float]]:
        rows = torch.from_numpy(rng.integers(n, size=batch_size)).to(device)
        logits = model.lcenet(*lcenet_tokens(x, nb, rows))[:, 1:]
        return _ce_terms(logits.reshape(-1, 2), same[rows, 1:].reshape(-1).long())

    pce = pce_schedule is not None and pce_schedule.steps > 0
    # the validation score is of the whole network: with PCENet, its stage's checkpoints are scored
    curve = train_loop(model.lcenet, schedule, lce_step, "LCENet", validation=None if pce or validation is None
                       else validation.of(model))
    if not pce:
        model.eval()
        return model, curve

    scores = lce_scores(model, features, nbrs, sims, device)
    src, dst, _ = density_edges(nbrs, sims, symmetrise_scores(nbrs, scores))
    if src.size == 0:
        raise ValueError("PCENet training: the train split gives no density edges")
    edge_same = labels[src] == labels[dst]
    pos_rate = float(edge_same.mean())
    logger.info("PCENet training pairs: %d density edges of the train split, %.4f same identity", src.size, pos_rate)
    src_t = torch.from_numpy(src).to(device)
    dst_t = torch.from_numpy(dst).to(device)
    target = torch.from_numpy(edge_same).long().to(device)
    pce_batch = pce_batch_size or batch_size

    def pce_step(_: int) -> tuple[torch.Tensor, dict[str, float]]:
        b = torch.from_numpy(rng.integers(src.size, size=pce_batch)).to(device)
        logits = model.pcenet(*pcenet_tokens(x, nb, src_t[b], dst_t[b]))
        return _ce_terms(logits, target[b])

    pce_curve = train_loop(model.pcenet, pce_schedule, pce_step, "PCENet",
                           validation=validation.of(model) if validation is not None else None)
    offset = len(curve)
    model.eval()
    return model, curve + [(offset + step, loss, lr) for step, loss, lr in pce_curve]
