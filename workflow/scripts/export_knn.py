import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.datasets import write_l2c_knn
from facecluster.data.io import load_knn
from facecluster.progress import logger, setup_logging

setup_logging()
nbrs, sims = load_knn(snakemake.input[0])
k = int(snakemake.wildcards.k)
if k > nbrs.shape[1]:
    raise ValueError(f"{snakemake.input[0]} holds {nbrs.shape[1]} neighbours per node; cannot export k = {k}")
write_l2c_knn(snakemake.output[0], nbrs[:, :k], sims[:, :k])
logger.info("exported %d x %d neighbours (learn-to-cluster layout: data (N, 2, K), ids and 1 - cos)", nbrs.shape[0], k)
