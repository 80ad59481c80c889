import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.report.plots import cluster_size_distribution

labels = snakemake.input.get("labels")
predicted = {m: np.load(path) for m, path in zip(snakemake.params.methods, snakemake.input.clusters)}
cluster_size_distribution(predicted, snakemake.output[0], np.load(labels) if labels else None)
