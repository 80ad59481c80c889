"""The releases' answers on hand-made cases where a naive version differs (issue 14).

Each reference below is the release's definition (learn-to-cluster `baseline/sklearn_cluster.py`,
`baseline/aro.py`, `vegcn/deduce.py`; gcn_clustering `feeder/feeder.py`), not this project's
formula. All four failed on the implementations before issue 14 (they were strict expected
failures then).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN

from facecluster.methods.classic import knn_dbscan, rank_order_distances
from facecluster.methods.gcn_e import gcn_e_clusters
from facecluster.methods.pivot_subgraph import pivot_subgraphs



def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to renaming of the cluster ids."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def release_knn_dbscan(nbrs: np.ndarray, sims: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """learn-to-cluster's knn_dbscan: sklearn DBSCAN(metric='precomputed') on the one-way kNN
    distance matrix (1 - cos, self removed, not symmetrised)."""
    n, k = nbrs.shape
    rows = np.repeat(np.arange(n), k)
    cols, dist = nbrs.ravel(), (1.0 - sims).ravel()
    keep = cols != rows
    d = sp.csr_matrix((dist[keep], (rows[keep], cols[keep])), shape=(n, n))
    return DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(d).labels_


def test_knn_dbscan_expands_one_way_links_in_index_order():
    # 1 lists 0 within eps, 0 does not list 1: DBSCAN grows {0, 2} from 0 first, then 1 alone.
    nbrs = np.array([[0, 2], [1, 0], [2, 0]])
    sims = np.array([[1.0, 0.9], [1.0, 0.9], [1.0, 0.9]], dtype=np.float32)
    release = release_knn_dbscan(nbrs, sims, eps=0.25, min_samples=1)
    assert same_partition(release, np.array([0, 1, 0]))
    assert same_partition(knn_dbscan(nbrs, sims, 0.25, 1), release)


def test_rank_order_distance_of_a_non_co_neighbour_is_9999():
    # 0 lists 1, but 1 does not list 0: aro.py gives the pair 9999 (never linked).
    nbrs = np.array([[0, 1, 2], [1, 2, 3], [2, 1, 0], [3, 1, 2]])
    d = rank_order_distances(nbrs)
    assert d[0, 1] >= 9999.0


def test_gcn_e_edge_is_cut_by_tau_on_the_cosine():
    # node 0's only candidate (higher confidence) is node 1 at cos 0.4; with tau 0.6 the release
    # (vegcn/deduce.py) drops the edge whatever the network predicts.
    nbrs = np.array([[0, 1], [1, 0]])
    sims = np.array([[1.0, 0.4], [1.0, 0.4]], dtype=np.float32)
    confidence = np.array([0.1, 0.9], dtype=np.float32)
    prob = np.array([[0.99], [0.01]], dtype=np.float32)
    clusters = gcn_e_clusters(nbrs, sims, confidence, prob, tau=0.6, ignore_ratio=0.0)
    assert clusters[0] != clusters[1]


def test_pivot_subgraph_has_no_self_loops():
    # gcn_clustering feeder: links only to the `active` nearest neighbours inside the IPS, then D^-1 A.
    nbrs = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    _, adj, _, _ = pivot_subgraphs(nbrs, np.array([0]), 2, 1, 2)
    assert np.allclose(np.diagonal(adj[0]), 0.0)
