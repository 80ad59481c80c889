"""GCN-E (Yang et al., CVPR 2020; learn-to-cluster ``vegcn``): edge connectivity on top of GCN-V.

What the release does (``vegcn/datasets/gcn_e_dataset.py``, ``vegcn/test_gcn_e.py``,
``vegcn/deduce.py``, ``vegcn/configs/cfg_*_gcne_*.py``), restated for this project:

* **Inputs.** GCN-V's hidden features (the ReLU output of its GraphConv layer, L2-normalised) and
  GCN-V's *predicted* confidences, on the train split as well as the test split; a kNN of those
  features (the release's k = 160 for MS1M, 80 for DeepFashion; its lists include the node
  itself, so they hold k − 1 other nodes. Here ``k`` counts the other nodes: columns
  ``1..k`` of ``nbrs``, whose column 0 is the node itself).
* **Global adjacency** of that kNN: an edge i→j of weight cos(i, j) for every listed neighbour
  with cos ≥ 0, symmetrised by the element-wise maximum, plus the identity (row normalisation
  follows, but it cancels once a subgraph is cut and normalised again).
* **Candidates** of node i: its neighbours whose confidence is *strictly* higher.
  No candidate → i is a root (no outgoing edge). One candidate, or i in the *ignore set* (the
  ``int(N · ignore_ratio)`` lowest confidences; 0.7 on the MS1M train split, 0.9 DeepFashion
  train, 0.8 on test) → i links to its nearest candidate, no network involved.
* **Subgraph** of every other node i: its candidates only (i itself is not a node), features
  ``x_j − x_i``, adjacency the global one cut to the candidates and row-normalised.
* **Network**: four GraphConv layers ``ReLU([h ‖ A h] W)`` (d → 512 → 512 → 256 → 256) and a
  Linear–PReLU–Linear 2-way head (:class:`facecluster.methods.pivot_subgraph.SubgraphGCN`
  without input normalisation), log-softmax + NLL on every candidate, target "same identity as
  i". Training uses the non-ignored nodes with ≥ 2 candidates; the release feeds one subgraph
  at a time and accumulates 32 (MS1M) / 64 (DeepFashion) of them per SGD step (momentum 0.9,
  weight decay 1e-5, lr 0.1 / 0.01, 40 epochs, step decay ×0.1 at 50/80/90 %): the loss of a
  step is the mean over its subgraphs of the mean NLL over each subgraph's candidates, which is
  what :func:`train_gcn_e` computes on a padded batch of ``batch_size`` roots.
* **Deduction**: each node keeps one edge — the network's most likely candidate (argmax of
  P(same)), or the nearest candidate for the ignore set and single-candidate nodes — and every
  edge whose cosine is ≤ τ (0.8 MS1M, 0.85 DeepFashion) is dropped; clusters are the connected
  components (the release's union-find).

Batches are dense ``(B, M, M)`` tensors, M the largest candidate count of the batch; padded
slots have zero features and zero adjacency rows and columns, and are masked out of the loss, so
they do not influence the real ones.
"""

from __future__ import annotations

import numpy as np
import torch

from facecluster.graph.ops import components
from facecluster.methods.pivot_subgraph import SubgraphGCN
from facecluster.progress import Progress, logger
from facecluster.training.loop import SGDSchedule, Validation, train_loop


def candidate_sets(nbrs: np.ndarray, confidence: np.ndarray, k: int) -> np.ndarray:
    """Which of columns ``1..k`` of ``nbrs`` have a strictly higher confidence than the node → (N, k) bool."""
    cols = nbrs[:, 1 : k + 1]
    if cols.shape[1] < k:
        raise ValueError(f"GCN-E needs k={k} neighbours besides the node itself; the kNN has {nbrs.shape[1] - 1}")
    ok = (cols >= 0) & (cols != np.arange(nbrs.shape[0])[:, None])
    return ok & (confidence[np.where(ok, cols, 0)] > confidence[:, None])


def ignore_set(confidence: np.ndarray, ignore_ratio: float) -> np.ndarray:
    """The ``int(N · ignore_ratio)`` lowest-confidence nodes (the release's ignore set) → (N,) bool."""
    if not 0.0 <= ignore_ratio <= 1.0:
        raise ValueError(f"ignore_ratio must lie in [0, 1], got {ignore_ratio}")
    n = confidence.shape[0]
    num = int(n * ignore_ratio)
    out = np.zeros(n, dtype=bool)
    out[np.argsort(confidence, kind="stable")[:num]] = True
    return out


def network_nodes(cand: np.ndarray, confidence: np.ndarray, ignore_ratio: float) -> np.ndarray:
    """Nodes whose edge the network chooses: outside the ignore set, with ≥ 2 candidates → (N,) bool."""
    return ~ignore_set(confidence, ignore_ratio) & (cand.sum(axis=1) >= 2)


class _Subgraphs:
    """Builds padded candidate subgraphs for batches of roots on ``device``."""

    def __init__(self, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, cand: np.ndarray,
                 device: torch.device) -> None:
        n, k = cand.shape
        x = np.ascontiguousarray(features, dtype=np.float32)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        self.x = torch.from_numpy(x / np.where(norm > 0, norm, 1.0)).to(device)
        self.nbrs, self.cand, self.n, self.device = nbrs, cand, n, device
        # Directed kNN edges i -> j (cos ≥ 0, no self) as sorted keys i·(N+1)+j for a batched lookup.
        cols = nbrs[:, 1 : k + 1].astype(np.int64)
        w = sims[:, 1 : k + 1].astype(np.float32)
        rows = np.repeat(np.arange(n, dtype=np.int64), k).reshape(n, k)
        keep = (cols >= 0) & (cols != rows) & (w >= 0)
        keys = rows[keep] * (n + 1) + cols[keep]
        order = np.argsort(keys, kind="stable")
        self.keys = torch.from_numpy(keys[order]).to(device)
        self.weights = torch.from_numpy(w[keep][order]).to(device)

    def layout(self, roots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each root's candidates, nearest first, padded to the batch's largest count M →
        ``(cols (B, M) 0-based positions in columns 1..k, valid (B, M), ids (B, M) global ids)``."""
        mask = self.cand[roots]
        count = mask.sum(axis=1)
        m = max(int(count.max()) if count.size else 0, 1)
        cols = np.argsort(~mask, axis=1, kind="stable")[:, :m]
        valid = np.arange(m)[None, :] < count[:, None]
        ids = np.where(valid, self.nbrs[roots[:, None], 1 + cols], roots[:, None]).astype(np.int64)
        return cols, valid, ids

    def tensors(self, roots: np.ndarray, valid: np.ndarray, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Root-offset features (B, M, d) and row-normalised candidate adjacency (B, M, M)."""
        dev = self.device
        ids_t = torch.from_numpy(ids).to(dev)
        valid_t = torch.from_numpy(valid).to(dev)
        h = (self.x[ids_t] - self.x[torch.from_numpy(roots).to(dev)][:, None, :]) * valid_t[..., None]
        query = ids_t[:, :, None] * (self.n + 1) + ids_t[:, None, :]
        pos = torch.searchsorted(self.keys, query).clamp_(max=max(self.keys.numel() - 1, 0))
        if self.keys.numel():
            adj = torch.where(self.keys[pos] == query, self.weights[pos], torch.zeros((), device=dev))
        else:
            adj = torch.zeros(query.shape, device=dev)
        adj = torch.maximum(adj, adj.transpose(1, 2))
        pair = valid_t[:, :, None] & valid_t[:, None, :]
        adj = adj * pair
        adj = adj + torch.diag_embed(valid_t.float())
        deg = adj.sum(dim=2, keepdim=True)
        return h, adj / deg.clamp_min(1e-12)


def candidate_subgraphs(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, k: int,
                        roots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's input for ``roots`` (for inspection): ``(ids (B, M) global candidate ids, nearest
    first, −1 = padding; features (B, M, d) offset by the root; adjacency (B, M, M) row-normalised)``."""
    roots = np.asarray(roots, dtype=np.int64)
    graphs = _Subgraphs(features, nbrs, sims, candidate_sets(nbrs, confidence, k), torch.device("cpu"))
    _, valid, ids = graphs.layout(roots)
    h, adj = graphs.tensors(roots, valid, ids)
    return np.where(valid, ids, -1), h.numpy(), adj.numpy()


def train_gcn_e(features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, labels: np.ndarray,
                k: int, hidden: int, batch_size: int, ignore_ratio: float, schedule: SGDSchedule, device: torch.device,
                rng: np.random.Generator, validation: Validation | None = None) -> tuple[SubgraphGCN, list]:
    """Fit GCN-E on a labelled split: GCN-V ``features`` (N, d) and predicted ``confidence`` (N,),
    ``nbrs``/``sims`` their kNN (column 0 the node itself). One step = ``batch_size`` roots, drawn
    epoch-wise without replacement from the non-ignored nodes with ≥ 2 candidates."""
    cand = candidate_sets(nbrs, confidence, k)
    roots_all = np.flatnonzero(network_nodes(cand, confidence, ignore_ratio))
    if roots_all.size == 0:
        raise ValueError(f"GCN-E: no training subgraph (ignore_ratio {ignore_ratio}, k {k}): every node is "
                         "ignored or has fewer than 2 higher-confidence neighbours")
    logger.info("GCN-E: %d training subgraphs of %d nodes (%.1f candidates on average); %d steps x %d = %.2f epochs",
                roots_all.size, nbrs.shape[0], cand[roots_all].sum(axis=1).mean(), schedule.steps, batch_size,
                schedule.steps * batch_size / roots_all.size)
    graphs = _Subgraphs(features, nbrs, sims, cand, device)
    model = SubgraphGCN(graphs.x.shape[1], hidden, input_norm=False).to(device)
    labels = np.asarray(labels)
    queue: list[np.ndarray] = []

    def next_roots() -> np.ndarray:
        need, parts = batch_size, []
        while need > 0:
            if not queue or queue[0].size == 0:
                queue[:] = [rng.permutation(roots_all)]
            parts.append(queue[0][:need])
            queue[0] = queue[0][need:]
            need -= parts[-1].size
        return np.concatenate(parts)

    def step(_: int) -> torch.Tensor:
        roots = next_roots()
        _, valid, ids = graphs.layout(roots)
        h, adj = graphs.tensors(roots, valid, ids)
        logp = torch.log_softmax(model(h, adj), dim=-1)
        target = torch.from_numpy((labels[ids] == labels[roots][:, None]).astype(np.int64)).to(device)
        nll = -torch.gather(logp, 2, target[..., None]).squeeze(-1)
        w = torch.from_numpy(valid / valid.sum(axis=1, keepdims=True)).to(device, torch.float32)
        return (nll * w).sum() / roots.size

    return model, train_loop(model, schedule, step, "GCN-E", validation=validation)


@torch.no_grad()
def candidate_probabilities(model: SubgraphGCN, features: np.ndarray, nbrs: np.ndarray, sims: np.ndarray,
                            confidence: np.ndarray, k: int, ignore_ratio: float, device: torch.device,
                            batch_size: int = 256) -> np.ndarray:
    """P(same identity as the node) of each candidate in columns ``1..k`` → (N, k) float32, for the
    nodes whose edge the network chooses (outside the ignore set, ≥ 2 candidates); NaN elsewhere."""
    model.eval()
    cand = candidate_sets(nbrs, confidence, k)
    roots_all = np.flatnonzero(network_nodes(cand, confidence, ignore_ratio))
    graphs = _Subgraphs(features, nbrs, sims, cand, device)
    prob = np.full(cand.shape, np.nan, dtype=np.float32)
    progress = Progress("GCN-E subgraphs", roots_all.size)
    for lo in range(0, roots_all.size, batch_size):
        roots = roots_all[lo : lo + batch_size]
        cols, valid, ids = graphs.layout(roots)
        p = torch.softmax(model(*graphs.tensors(roots, valid, ids)), dim=-1)[..., 1].cpu().numpy()
        b, j = np.nonzero(valid)
        prob[roots[b], cols[b, j]] = p[b, j]
        progress.update(lo + roots.size)
    return prob


def gcn_e_clusters(nbrs: np.ndarray, sims: np.ndarray, confidence: np.ndarray, prob: np.ndarray, tau: float,
                   ignore_ratio: float) -> np.ndarray:
    """The release's deduction: one edge per node with a candidate (the network's most likely
    candidate, or the nearest one for the ignore set and single-candidate nodes), dropped when its
    cosine is ≤ ``tau``; connected components → int64 labels (N,)."""
    n, k = prob.shape
    cand = candidate_sets(nbrs, confidence, k)
    net = network_nodes(cand, confidence, ignore_ratio)
    scored = np.where(cand, prob, -np.inf)
    if not np.isfinite(scored[net][cand[net]]).all():
        raise ValueError("GCN-E: candidate probabilities missing for nodes the network decides "
                         "(predict and cluster with the same k and ignore_ratio)")
    col = np.where(net, scored.argmax(axis=1), cand.argmax(axis=1))
    src = np.flatnonzero(cand.any(axis=1))
    col = col[src]
    keep = sims[src, 1 + col] > tau
    return components(n, src[keep], nbrs[src[keep], 1 + col[keep]].astype(np.int64))
