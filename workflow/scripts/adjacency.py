import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.ada_nets.adjacency import adaptive_adjacency
from facecluster.data.io import load_structure, save_sparse
from facecluster.progress import logger, setup_logging

setup_logging()
nbrs, dists = load_structure(snakemake.input.structure)
keep = np.load(snakemake.input.keep)  # k_pred (adaptive filter) or k* (max-Q: a training graph)
adj = adaptive_adjacency(nbrs, dists, keep)
logger.info("adjacency: %d nodes, %.1f entries per row (self-loops included)", adj.shape[0], adj.nnz / adj.shape[0])
save_sparse(snakemake.output[0], adj)
