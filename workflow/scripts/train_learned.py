import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.methods.learned import LEARNED, load_dependencies, load_split
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import save_model
from facecluster.training.loop import start_training

setup_logging()
logger.info("training preset: %s (the dataset config's `training`; its own values win)", snakemake.params.training)
method, cfg = snakemake.params.method, snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
data = load_split(snakemake.input.features, snakemake.input.knn, snakemake.input.labels)
models = load_dependencies(method, {dep: snakemake.input[dep] for dep in LEARNED[method].needs})
logger.info("training %s on %d nodes, device %s", method, data.features.shape[0], device)
model, curve, arch = LEARNED[method].train(data, cfg, device, np.random.default_rng(cfg["seed"]), models)
kind = arch.pop("kind")
save_model(snakemake.output[0], model, kind, arch, cfg, curve)
