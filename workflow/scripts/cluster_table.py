import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.report.cluster_output import read_names, summary, write_clusters_csv
from facecluster.data.io import save_json
from facecluster.progress import logger, setup_logging

setup_logging()
clusters = np.load(snakemake.input.clusters)
names_file = snakemake.input.get("names")
names = read_names(names_file, clusters.size) if names_file else None
write_clusters_csv(snakemake.output.csv, clusters, names)
result = summary(clusters)
logger.info("%s: %s", snakemake.input.clusters, result)
save_json(snakemake.output.summary, result)
