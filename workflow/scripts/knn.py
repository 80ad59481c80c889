import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import faiss
import numpy as np

from facecluster.data.datasets import import_release_knn
from facecluster.data.io import load_knn, save_knn
from facecluster.graph.knn import exact_knn
from facecluster.progress import logger, setup_logging

setup_logging()
faiss.omp_set_num_threads(snakemake.threads)
features = np.load(snakemake.input.features)
release, shards = snakemake.input.get("release"), snakemake.input.get("shards")
if release:
    nbrs, sims, info = import_release_knn(release, features, snakemake.params.k)
    logger.info("neighbour ids from %s: %s", release, info)
elif shards:
    parts = [load_knn(path) for path in shards]
    nbrs, sims = np.concatenate([n for n, _ in parts]), np.concatenate([s for _, s in parts])
    if nbrs.shape[0] != features.shape[0]:
        raise ValueError(f"the {len(shards)} shards hold {nbrs.shape[0]} rows, the features {features.shape[0]}")
    logger.info("merged %d shards: %d x %d", len(shards), *nbrs.shape)
else:
    nbrs, sims = exact_knn(features, snakemake.params.k, snakemake.params.backend, snakemake.params.chunk_size)
save_knn(snakemake.output[0], nbrs, sims)
