import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import named_paths, save_json
from facecluster.evaluation.search import grid_from_config, search_grid
from facecluster.methods.learned import LEARNED, load_dependencies, load_split
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import load_model
from facecluster.training.loop import start_training

setup_logging()
method, choice = snakemake.params.method, snakemake.params.choice
model, ckpt = load_model(snakemake.input.model)
chosen = ckpt.get("chosen", {})  # the candidate settings chosen on validation when the model was trained
cfg = {**snakemake.params.settings, **chosen, "inference_chunk": snakemake.params.inference_chunk}
spec = LEARNED[method]
result = {"method": method, "param": spec.param, "settings": chosen}
if cfg["tune"] == "fixed":
    result.update(value=cfg[spec.param], source=choice["source"])
elif cfg["tune"] == "label_free":  # no labels: the criterion scores the partitions on the split's kNN graph
    from facecluster.evaluation.label_free import choose_label_free

    device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
    data = load_split(snakemake.input.features, snakemake.input.knn, None,
                      named_paths(snakemake.input, "committee_features"), named_paths(snakemake.input, "committee_knn"),
                      snakemake.input.proposals if "proposals" in snakemake.input.keys() else None)
    models = load_dependencies(method, {dep: snakemake.input[dep] for dep in spec.needs})
    predicted = spec.predict(model.to(device), data, cfg, device, models)
    chosen = choose_label_free(lambda v: spec.cluster(predicted, data, v, cfg)[0], grid_from_config(cfg["grid"]),
                               data.nbrs, data.sims, choice["criterion"], param="other", name=method)
    result.update(source=choice["source"], split=choice["split"], **chosen)
else:
    device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
    data = load_split(snakemake.input.features, snakemake.input.knn, snakemake.input.labels,
                      named_paths(snakemake.input, "committee_features"), named_paths(snakemake.input, "committee_knn"),
                      snakemake.input.proposals if "proposals" in snakemake.input.keys() else None)
    models = load_dependencies(method, {dep: snakemake.input[dep] for dep in spec.needs})
    rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
    predicted = spec.predict(model.to(device), data, cfg, device, models)
    value, curve, curve_pr = search_grid(lambda v: spec.cluster(predicted, data, v, cfg)[0], data.labels,
                                         grid_from_config(cfg["grid"]), f"{method}: {spec.param}", rows)
    result.update(value=value, source=choice["source"], split=choice["split"], fscore=dict(curve)[value],
                  curve=curve, curve_pr=curve_pr)
if ckpt.get("selection"):
    result["candidates"] = ckpt["selection"]
logger.info("%s: %s = %.4f, settings %s (%s)", method, spec.param, result["value"], chosen, result["source"])
save_json(snakemake.output[0], result)
