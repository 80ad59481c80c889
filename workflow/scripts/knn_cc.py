import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.io import load_json, load_knn, save_json, save_npy
from facecluster.progress import logger, setup_logging
from facecluster.threshold import threshold_clusters

setup_logging()
nbrs, sims = load_knn(snakemake.input.knn)
threshold = load_json(snakemake.input.threshold)
clusters = threshold_clusters(nbrs, sims, threshold["tau"])
logger.info("knn_cc: tau=%.3f k=%d -> %d clusters", threshold["tau"], nbrs.shape[1], clusters.max() + 1)
save_npy(snakemake.output.clusters, clusters)
save_json(snakemake.output.params, {"k": int(nbrs.shape[1]), "tau": threshold["tau"], "tau_source": threshold["source"]})
