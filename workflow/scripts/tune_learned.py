import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import save_json
from facecluster.evaluation.label_free import choose_label_free
from facecluster.evaluation.search import grid_from_config, search_grid
from facecluster.methods.learned import LEARNED, predict_on_split
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import load_model

setup_logging()
method, choice = snakemake.params.method, snakemake.params.choice
model, ckpt = load_model(snakemake.input.model)
chosen = ckpt.get("chosen", {})  # the candidate settings chosen on validation when the model was trained
cfg = {**snakemake.params.settings, **chosen, "inference_chunk": snakemake.params.inference_chunk}
spec = LEARNED[method]
result = {"method": method, "param": spec.param, "settings": chosen}
if cfg["tune"] == "fixed":
    result.update(value=cfg[spec.param], source=choice["source"])
else:
    label_free = cfg["tune"] == "label_free"  # no labels: the criterion scores the partitions on the kNN graph
    data, predicted = predict_on_split(method, model, cfg, snakemake.threads, snakemake.input, labels=not label_free)
    grid = grid_from_config(cfg["grid"])
    if label_free:
        result.update(source=choice["source"], split=choice["split"],
                      **choose_label_free(lambda v: spec.cluster(predicted, data, v, cfg)[0], grid, data.nbrs, data.sims,
                                          choice["criterion"], param="other", name=method))
    else:
        rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
        value, curve, curve_pr = search_grid(lambda v: spec.cluster(predicted, data, v, cfg)[0], data.labels, grid,
                                             f"{method}: {spec.param}", rows)
        result.update(value=value, source=choice["source"], split=choice["split"], fscore=dict(curve)[value],
                      curve=curve, curve_pr=curve_pr)
if ckpt.get("selection"):
    result["candidates"] = ckpt["selection"]
logger.info("%s: %s = %.4f, settings %s (%s)", method, spec.param, result["value"], chosen, result["source"])
save_json(snakemake.output[0], result)
