import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import save_npy
from facecluster.progress import logger, setup_logging

setup_logging()
features = np.load(snakemake.input.features, mmap_mode="r")
rows = np.load(snakemake.input.rows)
logger.info("committee member %s: %d of the train split's %d rows", snakemake.params.member, rows.size, features.shape[0])
save_npy(snakemake.output[0], np.ascontiguousarray(features[rows]))
