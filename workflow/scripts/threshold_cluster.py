import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.io import load_json, load_knn, save_json, save_npy
from facecluster.progress import logger, setup_logging
from facecluster.threshold import threshold_clusters

setup_logging()
k = snakemake.params.k
nbrs, sims = load_knn(snakemake.input.knn)
threshold = load_json(snakemake.input.threshold)
clusters = threshold_clusters(nbrs[:, :k], sims[:, :k], threshold["tau"])
logger.info("tau=%.3f k=%d -> %d clusters", threshold["tau"], k, clusters.max() + 1)
save_npy(snakemake.output.clusters, clusters)
save_json(snakemake.output.params, {"k": k, "tau": threshold["tau"], "tau_source": threshold["source"]})
