import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import faiss
import numpy as np

from facecluster.data.io import save_knn
from facecluster.graph.knn import exact_knn, shard_slice
from facecluster.progress import logger, setup_logging

setup_logging()
faiss.omp_set_num_threads(snakemake.threads)
features = np.load(snakemake.input.features, mmap_mode="r")
p = snakemake.params
rows = shard_slice(features.shape[0], p.shards, int(snakemake.wildcards.shard), p.chunk_size)
logger.info("shard %s of %d: query rows %d..%d of %d", snakemake.wildcards.shard, p.shards, rows.start, rows.stop, features.shape[0])
nbrs, sims = exact_knn(features, p.k, p.backend, p.chunk_size, queries=rows)
save_knn(snakemake.output[0], nbrs, sims)
