"""GCN-D and GCN-S ("Learning to Cluster Faces on an Affinity Graph", CVPR 2019), as learn-to-cluster
releases them (``dsgcn/``, ``post_process/deoverlap.py``; read at 3b83458).

* **Proposal graph** (``dsgcn/datasets/cluster_processor.py``): the proposal's L2-normalised node
  features; ``A = I`` plus every instance-kNN pair inside the proposal, weight ``1 - dist`` = the
  cosine (1 with ``wo_weight``), symmetric, then row-normalised. Batches are padded to the largest
  proposal: features with zeros, the adjacency with the identity on padded rows.
* **Network** (``dsgcn/models/dsgcn.py``, :class:`DSGCN`): ``GraphConv`` layers without bias,
  ``x <- ReLU(A X W / D)`` (``D``: the row sums of ``A``, 1 after the normalisation), each followed
  by dropout that zeroes whole node rows (``nn.Dropout2d`` on a ``(batch, nodes, channels)``
  tensor), hidden 512 → 64; detection (GCN-D): max-pool over nodes, ``Linear(64, 1)``, MSE against
  the proposal's IoU (or IoP) with the ground-truth cluster of its majority label; segmentation
  (GCN-S): one more input column marking a random seed node, ``Linear(64, 2)`` per node,
  log-softmax, NLL against "the node has the seed's identity" (padding ignored).
* **Training** (``cfg_train_det_ms1m_*``, ``cfg_train_seg_ms1m_*``): SGD lr 0.01, momentum 0.9,
  weight decay 1e-4, 30 epochs, ×0.1 after epochs 15, 24 and 28; batch 32 (GCN-S: 1), the training
  proposals of GCN-S those whose true IoP lies in [0.2, 0.8].
* **De-overlap** (:func:`deoverlap`): proposals sorted by predicted IoU (descending, ties in
  proposal order), each node takes the label of the first proposal holding it; with GCN-S (on the
  proposals whose *predicted* IoP lies in [0.1, 0.9], from a GCN-D trained on IoP) a proposal keeps
  the nodes of inlier probability > 0.5 and its outliers form clusters of their own, placed after
  every clean proposal; nodes in no proposal are singletons.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from facecluster.methods.proposals import Proposals
from facecluster.progress import Progress, logger
from facecluster.training.loop import SGDSchedule, Validation, train_loop


# --- targets ------------------------------------------------------------------------------------

def majority_labels(proposals: Proposals, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per proposal: its majority label (the release's ``get_majority``: ties to the label met
    first, here in ascending node order) and that label's count inside the proposal."""
    pid = np.repeat(np.arange(len(proposals)), proposals.sizes)
    lab = np.asarray(labels, dtype=np.int64)[proposals.indices]
    pos = np.arange(pid.size)  # members are ascending within each proposal
    order = np.lexsort((pos, lab, pid))
    p, l, first = pid[order], lab[order], pos[order]
    start = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (l[1:] != l[:-1])])
    count = np.diff(np.r_[start, p.size])
    gp, gl, gfirst = p[start], l[start], first[start]
    # best group per proposal: highest count, then earliest first member
    best = np.lexsort((gfirst, -count, gp))
    keep = np.r_[True, gp[best][1:] != gp[best][:-1]]
    chosen = best[keep]
    out_label = np.empty(len(proposals), dtype=np.int64)
    out_count = np.empty(len(proposals), dtype=np.int64)
    out_label[gp[chosen]] = gl[chosen]
    out_count[gp[chosen]] = count[chosen]
    return out_label, out_count


def proposal_targets(proposals: Proposals, labels: np.ndarray) -> dict[str, np.ndarray]:
    """True ``iou`` and ``iop`` of every proposal with the ground-truth cluster of its majority label
    (``dsgcn/datasets/cluster_det_processor.py``)."""
    label, inter = majority_labels(proposals, labels)
    gt_size = np.bincount(np.asarray(labels, dtype=np.int64))[label]
    size = proposals.sizes
    return {"iou": inter / (size + gt_size - inter), "iop": inter / size, "label": label}


# --- batches ------------------------------------------------------------------------------------

def proposal_batch(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, proposals: Proposals,
                   ids: np.ndarray, with_weight: bool = True, seeds: np.ndarray | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Padded ``(x, adj, sizes)`` of proposals ``ids``: x (B, M, D[+1]) and the row-normalised
    adjacency (B, M, M) with identity rows on padding. ``seeds`` (one node position per proposal)
    adds GCN-S's seed-indicator column."""
    sizes = proposals.sizes[ids]
    m = int(sizes.max())
    dim = features.shape[1] + (1 if seeds is not None else 0)
    x = np.zeros((len(ids), m, dim), dtype=np.float32)
    adj = np.zeros((len(ids), m, m), dtype=np.float32)
    adj[:, np.arange(m), np.arange(m)] = 1.0
    local = np.full(features.shape[0], -1, dtype=np.int64)
    ks = proposals.edge_k()
    for b, p in enumerate(ids):
        nodes = proposals.nodes(p)
        s = nodes.size
        x[b, :s, :features.shape[1]] = features[nodes]
        if seeds is not None:
            x[b, seeds[b], -1] = 1.0
        local[nodes] = np.arange(s)
        k = int(ks[p])
        nb = local[nbrs[nodes, :k]]
        rows = np.repeat(np.arange(s), nb.shape[1]).reshape(nb.shape)
        ok = (nb >= 0) & (nb != rows)
        w = sims[nodes, :k][ok].astype(np.float32) if with_weight else 1.0
        adj[b, rows[ok], nb[ok]] = w
        adj[b, nb[ok], rows[ok]] = w
        local[nodes] = -1
    adj /= adj.sum(axis=2, keepdims=True)
    return torch.from_numpy(x), torch.from_numpy(adj), sizes


# --- network ------------------------------------------------------------------------------------

class GraphConv(nn.Module):
    """The release's GraphConv: ``A (X W) / D``, weight (in, out), no bias, uniform(±1/sqrt(out)) init."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        bound = 1.0 / math.sqrt(out_features)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, degree: torch.Tensor) -> torch.Tensor:
        return torch.bmm(adj, x @ self.weight) / degree


class DSGCN(nn.Module):
    """GCN-D (``stage="det"``: one score per proposal) or GCN-S (``stage="seg"``: per-node
    log-probabilities (B, 2, M), a seed column added to the input)."""

    def __init__(self, dim: int, hidden: tuple[int, ...] | list[int] = (512, 64), dropout: float = 0.5,
                 stage: str = "det") -> None:
        super().__init__()
        if stage not in ("det", "seg"):
            raise ValueError(f"stage must be det or seg, not {stage!r}")
        self.stage, self.dropout = stage, float(dropout)
        widths = [dim + (1 if stage == "seg" else 0), *hidden]
        self.layers = nn.ModuleList(GraphConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.classifier = nn.Linear(widths[-1], 1 if stage == "det" else 2)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        degree = adj.sum(dim=2, keepdim=True)
        for layer in self.layers:
            x = torch.relu(layer(x, adj, degree))
            if self.training and self.dropout > 0:  # Dropout2d on (B, nodes, C): whole node rows
                keep = torch.empty(x.shape[0], x.shape[1], 1, device=x.device).bernoulli_(1 - self.dropout)
                x = x * keep / (1 - self.dropout)
        if self.stage == "det":
            return self.classifier(x.max(dim=1).values).view(-1)
        return torch.log_softmax(self.classifier(x), dim=2).transpose(1, 2)


class GCNDS(nn.Module):
    """GCN-D + GCN-S's own networks: a GCN-D trained on IoP (which proposals GCN-S cleans) and
    GCN-S; the IoU GCN-D that ranks proposals is ``gcn_d``'s model."""

    def __init__(self, dim: int, hidden: tuple[int, ...] | list[int] = (512, 64), dropout: float = 0.5) -> None:
        super().__init__()
        self.iop = DSGCN(dim, hidden, dropout, "det")
        self.seg = DSGCN(dim, hidden, dropout, "seg")


# --- training -----------------------------------------------------------------------------------

def epoch_schedule(cfg: dict, per_epoch: int) -> SGDSchedule:
    """The release's epoch schedule (``epochs``, ``milestones`` in epochs) in steps of ``per_epoch``."""
    return SGDSchedule(steps=int(cfg["epochs"]) * per_epoch, lr=cfg["lr"], momentum=cfg.get("momentum", 0.9),
                       weight_decay=cfg.get("weight_decay", 1e-4), optimizer=cfg.get("optimizer", "sgd"),
                       milestones=tuple(int(m) * per_epoch for m in cfg["milestones"]) or (10**9,))


def _epochs(rng: np.random.Generator, count: int):
    order: list[np.ndarray] = []

    def get(epoch: int) -> np.ndarray:
        while len(order) <= epoch:
            order.append(rng.permutation(count))
        return order[epoch]

    return get


def train_gcn_d(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, proposals: Proposals,
                target: str, hidden, dropout: float, train: dict, batch_size: int, device, rng: np.random.Generator,
                with_weight: bool = True, validation: Validation | None = None, model: DSGCN | None = None
                ) -> tuple[DSGCN, list]:
    """Fit GCN-D on the proposals of a labelled split against their true ``target`` (``iou`` or
    ``iop``). Logged terms: ``mse``, the batch's mean target and mean prediction."""
    if len(proposals) == 0:
        raise ValueError("GCN-D training needs proposals: the fitting split produced none (lower the proposal thresholds)")
    y = torch.from_numpy(proposal_targets(proposals, labels)[target].astype(np.float32))
    model = (model or DSGCN(features.shape[1], hidden, dropout, "det")).to(device)
    per_epoch = -(-len(proposals) // batch_size)
    order = _epochs(rng, len(proposals))

    def step(s: int):
        epoch, b = divmod(s - 1, per_epoch)
        ids = order(epoch)[b * batch_size:(b + 1) * batch_size]
        x, adj, _ = proposal_batch(features, nbrs, sims, proposals, ids, with_weight)
        pred = model(x.to(device), adj.to(device))
        t = y[ids].to(device)
        loss = nn.functional.mse_loss(pred, t)
        return loss, {"mse": float(loss.detach()), "target": float(t.mean()), "pred": float(pred.detach().mean())}

    schedule = epoch_schedule(train, per_epoch)
    logger.info("GCN-D (%s): %d proposals (mean true %s %.3f), %d steps of %d (%d epochs)", target, len(proposals),
                target, float(y.mean()), schedule.steps, batch_size, train["epochs"])
    curve = train_loop(model, schedule, step, f"gcn_d ({target})", validation=validation)
    return model, curve


@torch.no_grad()
def predict_gcn_d(model: DSGCN, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, proposals: Proposals,
                  device, with_weight: bool = True, batch_size: int = 256) -> np.ndarray:
    """GCN-D's score of every proposal (float32 (P,)); proposals are batched by size."""
    model.eval()
    out = np.empty(len(proposals), dtype=np.float32)
    order = np.argsort(proposals.sizes, kind="stable")
    progress = Progress("gcn_d scores", len(proposals))
    for lo in range(0, len(order), batch_size):
        ids = order[lo:lo + batch_size]
        x, adj, _ = proposal_batch(features, nbrs, sims, proposals, ids, with_weight)
        out[ids] = model(x.to(device), adj.to(device)).cpu().numpy()
        progress.update(min(lo + batch_size, len(order)))
    return out


def seg_targets(proposals: Proposals, labels: np.ndarray, ids: np.ndarray, seeds: np.ndarray, size: int) -> torch.Tensor:
    """GCN-S targets (B, M): 1 where the node has the seed's identity, -100 on padding."""
    t = np.full((len(ids), size), -100, dtype=np.int64)
    for b, p in enumerate(ids):
        nodes = proposals.nodes(p)
        t[b, :nodes.size] = (labels[nodes] == labels[nodes[seeds[b]]]).astype(np.int64)
    return torch.from_numpy(t)


def train_gcn_s(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, labels: np.ndarray, proposals: Proposals,
                hidden, dropout: float, train: dict, batch_size: int, device, rng: np.random.Generator,
                iop_range: tuple[float, float] = (0.2, 0.8), with_weight: bool = True,
                validation: Validation | None = None, model: DSGCN | None = None) -> tuple[DSGCN, list]:
    """Fit GCN-S on the proposals whose true IoP lies in ``iop_range`` (a random seed node per
    proposal and pass). Logged terms: ``nll``, node accuracy and the share of inliers."""
    iop = proposal_targets(proposals, labels)["iop"]
    chosen = np.flatnonzero((iop >= iop_range[0]) & (iop <= iop_range[1]))
    if chosen.size == 0:
        raise ValueError(f"GCN-S training needs proposals of true IoP in {list(iop_range)}: none among {len(proposals)}")
    model = (model or DSGCN(features.shape[1], hidden, dropout, "seg")).to(device)
    per_epoch = -(-chosen.size // batch_size)
    order = _epochs(rng, chosen.size)

    def step(s: int):
        epoch, b = divmod(s - 1, per_epoch)
        ids = chosen[order(epoch)[b * batch_size:(b + 1) * batch_size]]
        seeds = (rng.random(len(ids)) * proposals.sizes[ids]).astype(np.int64)
        x, adj, _ = proposal_batch(features, nbrs, sims, proposals, ids, with_weight, seeds)
        logp = model(x.to(device), adj.to(device))
        t = seg_targets(proposals, labels, ids, seeds, x.shape[1]).to(device)
        loss = nn.functional.nll_loss(logp, t, ignore_index=-100)
        with torch.no_grad():
            valid = t >= 0
            acc = float((logp.argmax(1)[valid] == t[valid]).float().mean())
        return loss, {"nll": float(loss.detach()), "acc": acc, "inliers": float(t[valid].float().mean())}

    schedule = epoch_schedule(train, per_epoch)
    logger.info("GCN-S: %d of %d proposals with true IoP in %s, %d steps of %d (%d epochs)", chosen.size,
                len(proposals), list(iop_range), schedule.steps, batch_size, train["epochs"])
    curve = train_loop(model, schedule, step, "gcn_s", validation=validation)
    return model, curve


def seed_positions(proposals: Proposals, ids: np.ndarray, seed: int) -> np.ndarray:
    """GCN-S's test-time seed node of each proposal ``ids`` (a position in its member list), drawn
    from a generator seeded with ``seed`` (the release draws ``random.choice``)."""
    rng = np.random.default_rng(seed)
    return (rng.random(len(ids)) * proposals.sizes[ids]).astype(np.int64)


@torch.no_grad()
def predict_gcn_s(model: DSGCN, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, proposals: Proposals,
                  ids: np.ndarray, device, seed: int = 0, with_weight: bool = True, batch_size: int = 64
                  ) -> dict[int, np.ndarray]:
    """GCN-S's inlier probability of every node of proposals ``ids`` (a random seed node each, as
    the release's test) → ``{proposal: probabilities in member order}``."""
    model.eval()
    seeds_all = seed_positions(proposals, ids, seed)
    out: dict[int, np.ndarray] = {}
    for lo in range(0, len(ids), batch_size):
        batch = np.asarray(ids[lo:lo + batch_size])
        x, adj, sizes = proposal_batch(features, nbrs, sims, proposals, batch, with_weight, seeds_all[lo:lo + batch_size])
        prob = torch.exp(model(x.to(device), adj.to(device)))[:, 1, :].cpu().numpy()
        for b, p in enumerate(batch):
            out[int(p)] = prob[b, :sizes[b]]
    return out


# --- de-overlap ---------------------------------------------------------------------------------

def deoverlap(n: int, proposals: Proposals, scores: np.ndarray, inlier: dict[int, np.ndarray] | None = None,
              th_outlier: float = 0.5, keep_outlier: bool = True, th_pos: float = -1.0) -> np.ndarray:
    """The release's ``deoverlap`` (``th_iou`` 1: no suppression) → labels of ``n`` nodes.

    Proposals of score ``>= th_pos`` in descending score (ties: proposal order); with ``inlier``
    (GCN-S's probabilities of some proposals) such a proposal keeps its nodes above ``th_outlier``
    and, with ``keep_outlier``, its other nodes form a cluster placed after every clean proposal.
    A node takes the label of the first cluster holding it; nodes in none are singletons."""
    order = np.flatnonzero(scores >= th_pos)
    order = order[np.argsort(-scores[order], kind="stable")]
    members, ranks = [], []
    outliers = []
    for rank, p in enumerate(order):
        nodes = proposals.nodes(p)
        if inlier is not None and int(p) in inlier:
            clean = inlier[int(p)] > th_outlier
            if keep_outlier and (~clean).any():
                outliers.append(nodes[~clean])
            nodes = nodes[clean]
        members.append(nodes)
        ranks.append(np.full(nodes.size, rank, dtype=np.int64))
    for j, nodes in enumerate(outliers):
        members.append(nodes)
        ranks.append(np.full(nodes.size, len(order) + j, dtype=np.int64))
    labels = np.full(n, -1, dtype=np.int64)
    if members:
        node = np.concatenate(members)
        rank = np.concatenate(ranks)
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, node, rank)
        covered = first < np.iinfo(np.int64).max
        _, labels[covered] = np.unique(first[covered], return_inverse=True)
    alone = labels < 0
    labels[alone] = labels.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return labels
