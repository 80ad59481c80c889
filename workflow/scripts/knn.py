import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import faiss
import numpy as np

from facecluster.io import save_knn
from facecluster.knn import exact_knn
from facecluster.progress import setup_logging

setup_logging()
faiss.omp_set_num_threads(snakemake.threads)
features = np.load(snakemake.input.features)
nbrs, sims = exact_knn(features, snakemake.params.k, snakemake.params.backend, snakemake.params.chunk_size)
save_knn(snakemake.output[0], nbrs, sims)
