import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.io import save_json
from facecluster.methods.learned import LEARNED, load_dependencies, load_split
from facecluster.training.checkpoints import load_model
from facecluster.progress import logger, setup_logging
from facecluster.evaluation.search import grid_from_config, search_grid
from facecluster.training.loop import start_training

setup_logging()
method, cfg = snakemake.params.method, {**snakemake.params.settings, "inference_chunk": snakemake.params.inference_chunk}
spec = LEARNED[method]
result = {"method": method, "param": spec.param}
if cfg["tune"] == "fixed":
    result.update(value=cfg[spec.param], source="config (tune: fixed)")
else:
    device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
    data = load_split(snakemake.input.features, snakemake.input.knn, snakemake.input.labels)
    models = load_dependencies(method, {dep: snakemake.input[dep] for dep in spec.needs})
    predicted = spec.predict(load_model(snakemake.input.model)[0], data, cfg, device, models)
    value, curve, curve_pr = search_grid(lambda v: spec.cluster(predicted, data, v, cfg)[0], data.labels,
                                         grid_from_config(cfg["grid"]), f"{method}: {spec.param}")
    result.update(value=value, source=f"train split '{snakemake.params.train_split}', max pairwise F",
                  train_fscore=dict(curve)[value], curve=curve, curve_pr=curve_pr)
logger.info("%s: %s = %.4f (%s)", method, spec.param, result["value"], result["source"])
save_json(snakemake.output[0], result)
