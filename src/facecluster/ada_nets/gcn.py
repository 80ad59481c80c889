"""The Ada-NETS GCN as released: two GraphSAGE layers with DGL's "gcn" aggregator, an FC
head and the "allmax" cluster loss; neighbour sampling in numpy (no compiled PyG extras needed).

Model (DESIGN.md stage 6; the release's ``GCN/net/gat.py``)::

    h1 = ReLU(SAGE_gcn(x))           d → hidden      then L2-normalise
    h2 = ReLU(SAGE_gcn(h1))          hidden → hidden
    e  = L2-normalise(PReLU(Linear(h2)))             = the embedding

``SAGE_gcn`` is DGL's ``SAGEConv(aggregator_type="gcn")``: ``W · (Σ_{u∈N(v)} h_u + h_v) /
(|N(v)| + 1) + b``. The release's graphs carry self-loops (``build_symmetric_adj(self_loop=True)``),
so ``v`` is in its own ``N(v)`` and the aggregator adds it once more: with ``d`` other neighbours,
``v`` weighs ``2/(d + 2)`` and each neighbour ``1/(d + 2)`` (:func:`gcn_operator`). Edge weights
are ignored (``dgl.from_scipy`` keeps only the pattern). Here the linear map is PyG's
``SAGEConv(aggr="sum", root_weight=False)`` applied to that operator, with DGL 0.5's initialisation
of ``fc_neigh``: ``xavier_uniform_`` at gain ``√2`` (``init="release"``; PyG's own kaiming(a=√5)
init, 2–2.4× smaller, is ``init="pyg"``); biases keep torch's default in both.

Training (one mini-batch = one step, the release's ``multigraph_NodeCollator``): a seed node plus
``batch_neighbours`` (128) nodes drawn without replacement from its row of the *order graph*
(the symmetric top-``order_k`` kNN graph with self-loops — the same file as the training graph in
the release) form the output nodes; for each GraphSAGE layer every node's neighbourhood is
``fanout`` (80) in-edges drawn without replacement from the training graph (all of them when it
has fewer; the self-loop is an edge like any other), and the aggregator adds the node itself.
Loss ("allmax", the release's ``ClusterLoss``) on the output nodes' embeddings, with ``S`` their
cosine-similarity matrix and ``same`` the same-label matrix *including its diagonal*::

    pos = pos_weight · mean_{(i, j) ∈ same} relu(pos_margin − S_ij)
    neg = relu(neg_margin + max_{(i, j) ∉ same} S_ij)          L = pos + neg

(``type: allmax``; the release's other types average other numbers of pairs: :data:`LOSS_TYPES`.)

Two training knobs beyond the release (issue 20; both default to the release's behaviour):
``seeds_per_batch`` (1) draws that many distinct seed nodes per step, each with up to
``batch_neighbours`` order-graph neighbours, the loss taken over their union
(:func:`batch_nodes`); ``first_layer`` (``sampled``) = ``precomputed`` replaces the first layer's
per-step neighbour sampling by its full-neighbourhood aggregation of the fixed input features,
``A·X`` with :func:`gcn_operator` of the training graph, computed once (a step gathers rows of
it: ~5x faster steps; the second layer is still sampled with ``fanout``). Neither changes the
network nor inference. ``benchmarks/gcn_recipe.py`` measures them against the untrained network.

Both terms are logged. A GCN whose outputs collapse (a batch all but identical, so ``neg`` sits
at ``1 + neg_margin`` and nothing moves) is refused with :class:`CollapseError` at the end of
training and at inference, rather than handed on to become a one-cluster result.

Inference runs both layers on every node's full neighbourhood of the split's adjacency.
"""

from __future__ import annotations

import glob
import os
import shutil

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv

from facecluster.graph.ops import build_adjacency, to_torch_csr
from facecluster.collapse import check_embeddings_not_collapsed, check_training_not_collapsed
from facecluster.progress import Progress
from facecluster.training.loop import SGDSchedule, train_loop

class AdaNetsGCN(nn.Module):
    """Two GraphSAGE ("gcn" aggregator) layers + Linear/PReLU head; outputs L2-normalised embeddings."""

    def __init__(self, in_dim: int, hidden: int = 512, init: str = "release") -> None:
        super().__init__()
        self.sage1 = SAGEConv(in_dim, hidden, aggr="sum", root_weight=False)
        self.sage2 = SAGEConv(hidden, hidden, aggr="sum", root_weight=False)
        self.fc = nn.Sequential(nn.Linear(hidden, hidden), nn.PReLU(hidden))
        if init == "release":  # DGL 0.5 SAGEConv.reset_parameters: fc_neigh ~ xavier_uniform, gain sqrt(2)
            gain = nn.init.calculate_gain("relu")
            for layer in (self.sage1, self.sage2):
                nn.init.xavier_uniform_(layer.lin_l.weight, gain=gain)
        elif init != "pyg":
            raise ValueError(f"unknown GCN init {init!r} (release or pyg)")

    def forward(self, x: torch.Tensor, adj1: torch.Tensor, adj2: torch.Tensor) -> torch.Tensor:
        """``adj1``: (n1, n0) aggregation operator from the input nodes to layer-1 nodes; ``adj2``: (n2, n1)."""
        return self.layer2(self.layer1(x, adj1), adj2)

    def layer1(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """First GraphSAGE layer, ReLU, L2-normalised: (n1, hidden) from ``x`` (n0, d) and ``adj`` (n1, n0)."""
        return F.normalize(F.relu(self.sage1((x, None), adj)), dim=1)

    def layer1_aggregated(self, ax: torch.Tensor) -> torch.Tensor:
        """:meth:`layer1` from inputs already aggregated (``ax`` = the operator times ``x``, (n1, d)):
        the same linear map, ReLU and L2 normalisation, without the sparse product."""
        return F.normalize(F.relu(self.sage1.lin_l(ax)), dim=1)

    def layer2(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """Second GraphSAGE layer, ReLU, head, L2-normalised embedding: (n2, hidden) from ``h`` (n1, hidden)."""
        return F.normalize(self.fc(F.relu(self.sage2((h, None), adj))), dim=1)


#: the release's ``ClusterLoss`` types: how many of the smallest same-label / largest
#: cross-label cosines each term averages (``None`` = all of them, ``"batch"`` = as many as the batch has nodes)
LOSS_TYPES = {"allmax": (None, 1), "maxmax": (1, 1), "allall": (None, None), "alltopk": (None, "batch")}


def cluster_loss(emb: torch.Tensor, labels: torch.Tensor, pos_margin: float = 0.9, neg_margin: float = 1.0,
                 pos_weight: float = 1.0, type: str = "allmax") -> tuple[torch.Tensor, dict[str, float]]:
    """The release's ``ClusterLoss`` on L2-normalised embeddings (module docstring; ``allmax`` is
    the paper's and the release script's choice; ``maxmax``, ``allall``, ``alltopk`` are the
    release's other types: the hardest positive only, every negative, the ``batch``-many hardest negatives).

    Returns ``(loss, terms)``; ``terms`` holds ``pos``, ``neg``, ``max_neg_cos`` (the hardest
    cross-identity cosine) and ``min_cos`` (the smallest cosine of the batch), as floats.
    """
    if type not in LOSS_TYPES:
        raise ValueError(f"unknown GCN loss type {type!r} (one of {', '.join(LOSS_TYPES)})")
    n_pos, n_neg = LOSS_TYPES[type]
    s = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    pos_s = s[same]  # the diagonal is in `same`, as in the release
    if n_pos is not None:
        pos_s = pos_s.topk(min(n_pos, pos_s.numel()), largest=False)[0]
    pos = pos_weight * F.relu(pos_margin - pos_s).mean()
    terms = {"pos": float(pos.detach()), "neg": 0.0, "max_neg_cos": float("nan"), "min_cos": float(s.detach().min())}
    loss = pos
    if (~same).any():
        neg_s = s[~same]
        k = neg_s.numel() if n_neg is None else len(labels) if n_neg == "batch" else n_neg
        neg = F.relu(neg_margin + neg_s.topk(min(k, neg_s.numel()))[0]).mean()
        loss = loss + neg
        terms.update(neg=float(neg.detach()), max_neg_cos=float(neg_s.detach().max()))
    return loss, terms


def strip_self_loops(adj: sp.csr_matrix) -> sp.csr_matrix:
    """The adjacency's pattern without its diagonal (CSR, sorted indices)."""
    a = adj.tocoo()
    keep = a.row != a.col
    out = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (a.row[keep], a.col[keep])), shape=adj.shape)
    out.sort_indices()
    return out


def with_self_loops(adj: sp.csr_matrix) -> sp.csr_matrix:
    """The adjacency's binary pattern with every diagonal entry present (CSR, sorted indices)."""
    a = strip_self_loops(adj) + sp.identity(adj.shape[0], dtype=np.float32, format="csr")
    a = a.tocsr()
    a.data[:] = 1.0
    a.sort_indices()
    return a


def gcn_operator(adj: sp.csr_matrix) -> torch.Tensor:
    """DGL's "gcn" aggregation on a self-looped graph as a torch sparse CSR (N, N): node ``v`` with
    ``d`` other neighbours weighs ``2/(d + 2)``, each neighbour ``1/(d + 2)`` (every row of
    :func:`operator_rows`; each row holds its node, so its sources are all N nodes)."""
    return operator_rows(adj, np.arange(adj.shape[0]))[1]


class NeighbourSampler:
    """Samples the GraphSAGE blocks of a mini-batch from a CSR graph, as DGL's
    ``sample_neighbors(graph, targets, fanout, replace=False)`` + ``to_block`` + the "gcn" aggregator.

    For each target node, up to ``fanout`` distinct in-edges are drawn uniformly among its row
    (all when the row has at most ``fanout`` entries; a self-loop in the graph is an entry like
    any other); the block's operator is ``(Σ sampled h_u + h_v) / (sampled + 1)``. Vectorised:
    random keys on the targets' CSR slices, one ``lexsort`` per block; a reusable position array
    maps global to local ids.
    """

    def __init__(self, graph: sp.csr_matrix, fanout: int, rng: np.random.Generator) -> None:
        self.indptr = graph.indptr.astype(np.int64)
        self.indices = graph.indices.astype(np.int64)
        self.fanout = fanout
        self.rng = rng
        self._pos = np.full(graph.shape[0], -1, dtype=np.int64)

    def sample(self, targets: np.ndarray, fanout: int) -> tuple[np.ndarray, np.ndarray]:
        """``(row in targets, global id)`` of up to ``fanout`` entries drawn without replacement per target."""
        starts, ends = self.indptr[targets], self.indptr[targets + 1]
        deg = ends - starts
        seg = np.repeat(np.arange(targets.size), deg)
        offsets = np.arange(deg.sum()) - np.repeat(np.cumsum(deg) - deg, deg)
        cand = self.indices[np.repeat(starts, deg) + offsets]
        order = np.lexsort((self.rng.random(cand.size), seg))
        rank = np.arange(cand.size) - np.repeat(np.cumsum(deg) - deg, deg)
        chosen = order[rank < fanout]
        return seg[chosen], cand[chosen]

    def block(self, targets: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """Return ``(source nodes, operator (len(targets), len(sources)))``; sources start with ``targets``."""
        seg, picked = self.sample(targets, self.fanout)
        rows = np.concatenate([np.arange(targets.size), seg])
        cols_global = np.concatenate([targets, picked])
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
        op.sum_duplicates()  # a sampled self-loop and the added self sum to 2/(sampled + 1)
        return sources, to_torch_csr(op)


def order_graph(knn_nbrs: np.ndarray, order_k: int) -> sp.csr_matrix:
    """The release's order graph: the symmetric pattern of the top-``order_k`` kNN lists, with
    self-loops (:func:`~facecluster.graph.ops.build_adjacency` with unit weights, as a pattern)."""
    nb = knn_nbrs[:, :order_k]
    return with_self_loops(build_adjacency(nb, np.ones(nb.shape, dtype=np.float32), order_k))


#: how a training step computes the first GraphSAGE layer: ``sampled`` (the release: ``fanout``
#: in-edges drawn per node per step) or ``precomputed`` (the full neighbourhood's "gcn" aggregation
#: of the fixed input features, ``A·X`` with :func:`gcn_operator`, computed once before training;
#: a step gathers rows of it; inference is the full neighbourhood either way)
FIRST_LAYERS = ("sampled", "precomputed")


def batch_nodes(order: NeighbourSampler, n: int, seeds: int, batch_neighbours: int,
                rng: np.random.Generator) -> np.ndarray:
    """The output nodes of one mini-batch: ``seeds`` distinct seed nodes drawn uniformly, each with up to
    ``batch_neighbours`` of its order-graph neighbours drawn without replacement (the release:
    ``seeds = 1``); seeds first, then the neighbours in first-seen order, no node twice (int64)."""
    seed = rng.choice(n, size=min(seeds, n), replace=False) if seeds > 1 else np.array([int(rng.integers(n))])
    seed = seed.astype(np.int64)
    _, picked = order.sample(seed, batch_neighbours)
    nodes = np.concatenate([seed, picked])
    _, first = np.unique(nodes, return_index=True)
    return nodes[np.sort(first)].astype(np.int64)


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
    init: str = "release",
    terms_out: dict[str, list[float]] | None = None,
    seeds_per_batch: int = 1,
    first_layer: str = "sampled",
    validation=None,
) -> tuple[AdaNetsGCN, list]:
    """Train :class:`AdaNetsGCN` on a labelled split (module docstring).

    ``knn_nbrs`` (N, ≥ order_k), self first, gives the order graph the output nodes are drawn
    from; ``graph`` (self-loops added if missing) the neighbourhoods the layers sample. The loss
    terms of every step go to ``terms_out``. ``seeds_per_batch`` and ``first_layer``: the module
    docstring (1 and ``sampled`` = the release). ``validation``
    (:class:`~facecluster.training.loop.Validation`): keep the best checkpoint by its score. Raises :class:`CollapseError` when the last steps'
    batches are all but identical (module docstring).
    """
    if knn_nbrs.shape[1] < order_k:
        raise ValueError(f"the training kNN has {knn_nbrs.shape[1]} columns; order_k={order_k} needs at least that many")
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    sampler = NeighbourSampler(with_self_loops(graph), fanout, rng)
    order = NeighbourSampler(order_graph(knn_nbrs, order_k), batch_neighbours, rng)
    model = AdaNetsGCN(x.shape[1], hidden, init).to(device)
    n = features.shape[0]
    if first_layer not in FIRST_LAYERS:
        raise ValueError(f"unknown GCN first_layer {first_layer!r} (one of {', '.join(FIRST_LAYERS)})")
    if seeds_per_batch < 1:
        raise ValueError(f"seeds_per_batch must be >= 1, got {seeds_per_batch}")
    ax = None
    if first_layer == "precomputed":  # layer 1's full-neighbourhood aggregation of the fixed inputs, once
        ax = (gcn_operator(with_self_loops(graph)).to(device) @ x).contiguous()

    def step(_: int) -> tuple[torch.Tensor, dict[str, float]]:
        out_nodes = batch_nodes(order, n, seeds_per_batch, batch_neighbours, rng)
        mid_nodes, op2 = sampler.block(out_nodes)
        if ax is None:
            in_nodes, op1 = sampler.block(mid_nodes)
            emb = model(x[torch.from_numpy(in_nodes).to(device)], op1.to(device), op2.to(device))
        else:
            emb = model.layer2(model.layer1_aggregated(ax[torch.from_numpy(mid_nodes).to(device)]), op2.to(device))
        return cluster_loss(emb, y[torch.from_numpy(out_nodes).to(device)], **loss_cfg)

    terms: dict[str, list[float]] = terms_out if terms_out is not None else {}
    curve = train_loop(model, schedule, step, "GCN", terms, validation=validation)
    if validation is None or validation.best_step == schedule.steps:  # the kept weights are the last step's
        check_training_not_collapsed(curve, terms, "GCN training")
    return model, curve


def operator_rows(adj: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """Rows ``rows`` of :func:`gcn_operator` restricted to the columns they touch.

    Built from the rows' slice of ``adj`` alone (only its pattern is read; any self-loop is
    replaced by the release's double self weight): a node with ``d`` neighbours other than
    itself weighs ``2/(d + 2)``, each neighbour ``1/(d + 2)``. The one home of these weights:
    :func:`gcn_operator` is all rows of it. Returns ``(sources, op)``: the sorted global ids of the columns, and
    the torch sparse CSR operator (len(rows), len(sources)).
    """
    sub = adj[rows].tocoo()
    off = sub.col != rows[sub.row]
    r, c = sub.row[off], sub.col[off]
    deg = np.bincount(r, minlength=rows.size).astype(np.float32)
    r = np.concatenate([r, np.arange(rows.size)])
    c = np.concatenate([c, rows])
    w = np.concatenate([1.0 / (deg[r[: off.sum()]] + 2.0), 2.0 / (deg + 2.0)]).astype(np.float32)
    sources, local = np.unique(c, return_inverse=True)
    op = sp.csr_matrix((w, (r, local)), shape=(rows.size, sources.size))
    op.sort_indices()
    return sources, to_torch_csr(op)


def _layer_pass(rows_of, adj: sp.csr_matrix, chunk_size: int, layer, writer, device: torch.device, name: str) -> None:
    """Apply ``layer(inputs of the sources, operator)`` to every node chunk, appending to ``writer``."""
    n = adj.shape[0]
    progress = Progress(name, n)
    for lo in range(0, n, chunk_size):
        rows = np.arange(lo, min(n, lo + chunk_size))
        sources, op = operator_rows(adj, rows)
        inputs = torch.from_numpy(rows_of[sources]).to(device)
        writer.write(layer(inputs, op.to(device)).cpu().numpy())
        progress.update(int(rows[-1]) + 1, f"({sources.size} source nodes in the last chunk)")


@torch.no_grad()
def embed(model: AdaNetsGCN, features: np.ndarray, adj: sp.csr_matrix, device: torch.device) -> np.ndarray:
    """Full-neighbourhood embeddings of every node on ``adj`` in one whole-graph pass (float32
    (N, hidden), L2-normalised); :func:`embed_to_npy` is the chunked pass of bounded memory.

    Raises :class:`CollapseError` when they are all but identical."""
    model.eval()
    op = gcn_operator(adj).to(device)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    progress = Progress("GCN inference (whole graph)", 1)
    out = model(x, op, op).cpu().numpy().astype(np.float32)
    progress.update(1)
    check_embeddings_not_collapsed(out, "GCN inference")
    return out


@torch.no_grad()
def embed_to_npy(model: AdaNetsGCN, features, adj: sp.csr_matrix, device: torch.device, out_path: str,
                 chunk_size: int | None = None) -> None:
    """Full-neighbourhood embeddings of every node on ``adj``, written to ``out_path`` (float32
    (N, hidden) ``.npy``, L2-normalised) atomically.

    ``chunk_size`` None (or ≥ N) runs the whole graph at once (:func:`embed`). Otherwise the two layers run in
    two passes over node chunks: a chunk's layer-1 outputs need the input rows of its
    neighbours only, its layer-2 outputs the layer-1 rows of its neighbours, which pass 1
    streams to a temporary file beside ``out_path``. ``features`` may be any row-indexable
    array, e.g. :class:`~facecluster.data.io.NpyRows`, so the peak memory is that of a chunk
    and its neighbourhood (chunk × (degree + 1) rows), not of the split; the adjacency's
    pattern (N × degree) is the only part that grows with N. Both give the same embeddings up to
    float rounding (``tests/test_chunked_inference.py``). Raises :class:`CollapseError`, writing nothing, when
    the embeddings are all but identical.
    """
    import tempfile

    from facecluster.data.io import NpyRowWriter, NpyRows, save_npy

    model.eval()
    n = adj.shape[0]
    if chunk_size is None or chunk_size >= n:
        save_npy(out_path, embed(model, features[np.arange(n)], adj, device))
        return
    hidden = model.fc[0].out_features
    folder = os.path.dirname(os.path.abspath(out_path))
    for stale in glob.glob(os.path.join(folder, ".embed-layer1-*")):  # left by a killed job (SIGKILL)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".embed-layer1-", dir=folder) as tmp:
        with NpyRowWriter(os.path.join(tmp, "layer1.npy"), (n, hidden)) as h1:
            _layer_pass(features, adj, chunk_size, model.layer1, h1, device, f"GCN inference layer 1 (chunks of {chunk_size})")
            h1.commit()
        with NpyRowWriter(out_path, (n, hidden)) as out:
            _layer_pass(NpyRows(h1.path), adj, chunk_size, model.layer2, out, device,
                        f"GCN inference layer 2 (chunks of {chunk_size})")
            check_embeddings_not_collapsed(out.written(), "GCN inference")
            out.commit()
