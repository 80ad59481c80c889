import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.adjacency import build_adjacency
from facecluster.io import load_structure, save_sparse
from facecluster.progress import logger, setup_logging

setup_logging()
nbrs, dists = load_structure(snakemake.input.structure)
keep = np.load(snakemake.input.keep)  # k_pred (adaptive filter) or k* (max-Q: a training graph)
adj = build_adjacency(nbrs, 1.0 - dists, keep)
logger.info("adjacency: %d nodes, %.1f entries per row (self-loops included)", adj.shape[0], adj.nnz / adj.shape[0])
save_sparse(snakemake.output[0], adj)
