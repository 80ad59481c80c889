"""The Ada-NETS GCN's validation score: how well a network's embeddings of the validation part
cluster, as the pipeline clusters them (kNN of the embeddings, threshold linkage, the best τ and
``cluster.k`` candidate on that part). :func:`facecluster.training.loop.train_loop` keeps the
checkpoint with the best score (``validation.checkpoints``), the network's initial weights included.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from facecluster.collapse import CollapseError
from facecluster.graph.knn import exact_knn
from facecluster.methods.graph_methods import choose_graph_method


def embedding_score(features: np.ndarray, adjacency: sp.csr_matrix, labels: np.ndarray, ks: list[int],
                    grid: np.ndarray, device: torch.device, rows: np.ndarray | None = None
                    ) -> Callable[[torch.nn.Module], float]:
    """``score(gcn)``: pairwise F of threshold linkage (``knn_cc``, as the pipeline's
    ``tune_ada_nets``: :func:`~facecluster.methods.graph_methods.choose_graph_method`) on the kNN of
    ``gcn``'s embeddings of a labelled split on its ``adjacency``, at the best of the ``ks`` widths
    and the ``grid`` values (0 when no value separates anything, e.g. collapsed embeddings), on the
    pairs touching ``rows`` when given (the held-out identities within the whole train split)."""
    from facecluster.ada_nets.gcn import embed

    width = min(max(ks), features.shape[0])
    candidates = [{"k": k} for k in ks if k <= width] or [{"k": width}]

    def score(model: torch.nn.Module) -> float:
        try:
            emb = embed(model, features, adjacency, device)
            nbrs, sims = exact_knn(emb, width, backend="auto")
            return float(choose_graph_method("knn_cc", nbrs, sims, labels, {}, grid, candidates, rows=rows)["fscore"])
        except CollapseError:
            return 0.0

    return score
