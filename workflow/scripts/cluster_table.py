import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.report.cluster_output import read_names, summary, write_clusters_csv
from facecluster.data.io import load_json, save_json
from facecluster.progress import logger, setup_logging

setup_logging()
clusters = np.load(snakemake.input.clusters)
names_file = snakemake.input.get("names")
names = read_names(names_file, clusters.size) if names_file else None
write_clusters_csv(snakemake.output.csv, clusters, names)
result = summary(clusters)
if snakemake.input.get("models_from"):  # the models came from another dataset: how far its embeddings are
    result["models_from"] = load_json(snakemake.input.models_from)
    if result["models_from"]["warning"]:
        logger.warning("models_from '%s': %s", result["models_from"]["models_from"], result["models_from"]["warning"])
logger.info("%s: %s", snakemake.input.clusters, result)
save_json(snakemake.output.summary, result)
