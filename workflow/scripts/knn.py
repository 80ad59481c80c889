import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import faiss
import numpy as np

from facecluster.datasets import import_release_knn
from facecluster.io import save_knn
from facecluster.knn import exact_knn
from facecluster.progress import logger, setup_logging

setup_logging()
faiss.omp_set_num_threads(snakemake.threads)
features = np.load(snakemake.input.features)
release = snakemake.input.get("release")
if release:
    nbrs, sims, info = import_release_knn(release, features, snakemake.params.k)
    logger.info("neighbour ids from %s: %s", release, info)
else:
    nbrs, sims = exact_knn(features, snakemake.params.k, snakemake.params.backend, snakemake.params.chunk_size)
save_knn(snakemake.output[0], nbrs, sims)
