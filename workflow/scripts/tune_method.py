import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_knn, save_json
from facecluster.methods.graph_methods import tune_graph_method
from facecluster.registry import METHODS
from facecluster.progress import logger, setup_logging
from facecluster.evaluation.search import grid_from_config

setup_logging()
method, settings = snakemake.params.method, snakemake.params.settings
param = METHODS[method].param
result = {"method": method, "param": param}
if settings["tune"] == "fixed":
    result.update(value=settings[param], source="config (tune: fixed)")
else:
    nbrs, sims = load_knn(snakemake.input.knn)
    grid = grid_from_config(settings["grid"])
    features = np.load(snakemake.input.features) if "features" in snakemake.input.keys() else None
    value, curve, curve_pr = tune_graph_method(method, nbrs, sims, np.load(snakemake.input.labels), settings, grid, features)
    result.update(value=value, source=f"train split '{snakemake.params.train_split}', max pairwise F",
                  train_fscore=dict(curve)[value], curve=curve, curve_pr=curve_pr)
logger.info("%s: %s = %.4f (%s)", method, param, result["value"], result["source"])
save_json(snakemake.output[0], result)
