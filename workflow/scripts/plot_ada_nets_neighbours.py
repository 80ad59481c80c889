import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_json
from facecluster.report.plots import neighbour_counts

diagnostics = load_json(snakemake.input.diagnostics)
neighbour_counts(np.load(snakemake.input.k_pred), np.load(snakemake.input.max_q), diagnostics["knn_precision"], snakemake.output[0])
