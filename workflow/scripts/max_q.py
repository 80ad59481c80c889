import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_structure, save_npy
from facecluster.ada_nets.max_q import max_q_indices
from facecluster.progress import logger, setup_logging

setup_logging()
nbrs, _ = load_structure(snakemake.input.structure)
k_star = max_q_indices(nbrs, np.load(snakemake.input.labels), beta=snakemake.params.beta)
logger.info("k*: mean %.2f, median %d, min %d, max %d", k_star.mean(), np.median(k_star), k_star.min(), k_star.max())
save_npy(snakemake.output[0], k_star)
