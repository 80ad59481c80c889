import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.io import load_knn, save_json
from facecluster.progress import logger, setup_logging
from facecluster.threshold import grid_from_config, tune_threshold

setup_logging()
settings = snakemake.params.settings
if settings["tune"] == "fixed":
    result = {"tau": settings["tau"], "source": "config (tune: fixed)"}
else:
    nbrs, sims = load_knn(snakemake.input.knn)
    k = settings["k"]
    grid = grid_from_config(settings["grid"])
    tau, curve = tune_threshold(nbrs[:, :k], sims[:, :k], np.load(snakemake.input.labels), grid)
    result = {"tau": tau, "source": f"train split '{snakemake.params.train_split}', max pairwise F", "train_fscore": dict(curve)[tau], "curve": curve}
logger.info("tau = %.3f (%s)", result["tau"], result["source"])
save_json(snakemake.output[0], result)
