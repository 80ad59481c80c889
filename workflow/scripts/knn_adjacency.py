import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.graph.ops import build_adjacency
from facecluster.data.io import load_knn, save_sparse
from facecluster.progress import logger, setup_logging

setup_logging()
nbrs, sims = load_knn(snakemake.input.knn)
k = snakemake.params.k
if nbrs.shape[1] < k:
    raise ValueError(f"{snakemake.input.knn} has {nbrs.shape[1]} neighbours per node; the GCN graph needs {k} (raise knn.k)")
adj = build_adjacency(nbrs[:, :k], sims[:, :k], k)
logger.info("top-%d kNN adjacency: %.1f entries per row", k, adj.nnz / adj.shape[0])
save_sparse(snakemake.output[0], adj)
