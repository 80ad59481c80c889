import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_knn, save_json
from facecluster.data.shift import feature_shift
from facecluster.progress import logger, setup_logging

setup_logging()
result = feature_shift(np.load(snakemake.input.source_features), load_knn(snakemake.input.source_knn)[1],
                       np.load(snakemake.input.features), load_knn(snakemake.input.knn)[1])
result = {"models_from": snakemake.params.source, "fitted_on": snakemake.input.source_features, **result}
logger.info("%s vs %s: KS %.3f, centroid cosine %.3f", snakemake.input.features, snakemake.input.source_features,
            result["ks_mean_neighbour_cosine"], result["centroid_cosine"])
if result["warning"]:
    logger.warning("models_from '%s': %s", snakemake.params.source, result["warning"])
save_json(snakemake.output[0], result)
