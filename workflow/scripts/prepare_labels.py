import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.datasets import check_counts, check_md5, feature_rows, read_labels
from facecluster.data.io import save_npy
from facecluster.progress import logger, setup_logging

setup_logging()
settings = snakemake.params.split
check_md5(snakemake.input.labels, settings["md5"].get("labels"))
n = feature_rows(snakemake.input.features, snakemake.params.dim)
labels = read_labels(snakemake.input.labels, n, snakemake.input.features)
n_ids = len(np.unique(labels))
check_counts(snakemake.input.labels, n_ids, settings["n_classes"], "identities")
logger.info("%s: %d labels, %d identities", snakemake.input.labels, len(labels), n_ids)
save_npy(snakemake.output[0], labels)
