import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.collapse import check_not_single_cluster
from facecluster.data.io import load_json, save_json, save_npy
from facecluster.methods.learned import LEARNED, predict_on_split
from facecluster.training.checkpoints import load_model
from facecluster.progress import logger, setup_logging

setup_logging()
method = snakemake.params.method
model, ckpt = load_model(snakemake.input.model)
chosen = ckpt.get("chosen", {})  # the candidate settings chosen on validation when the model was trained
cfg = {**snakemake.params.settings, **chosen, "inference_chunk": snakemake.params.inference_chunk}
spec = LEARNED[method]
data, predicted = predict_on_split(method, model, cfg, snakemake.threads, snakemake.input)
params = {key: value for key, value in cfg.items() if key not in ("tune", "grid", "train", "pce_train", "iop_train", "train_proposals", "device", "inference_chunk")}
if ckpt.get("selection"):
    params["chosen_on_validation"] = {"settings": chosen, "candidates": ckpt["selection"]}
value = None
if spec.param:
    tuned = load_json(snakemake.input.tuned)
    value = tuned["value"]
    params.update({spec.param: value, f"{spec.param}_source": tuned["source"]})
clusters, info = spec.cluster(predicted, data, value, cfg)
params.update(info)
logger.info("%s -> %d clusters (%s)", method, clusters.max() + 1, params)
check_not_single_cluster(clusters, f"{method} on {snakemake.input[0]}")
save_npy(snakemake.output.clusters, clusters)
save_json(snakemake.output.params, params)
