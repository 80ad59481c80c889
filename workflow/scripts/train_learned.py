import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.learned_methods import LEARNED, load_dependencies, load_split
from facecluster.progress import logger, setup_logging
from facecluster.training import save_checkpoint, start_training

setup_logging()
method, cfg = snakemake.params.method, snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
data = load_split(snakemake.input.features, snakemake.input.knn, snakemake.input.labels)
models = load_dependencies(method, {dep: snakemake.input[dep] for dep in LEARNED[method].needs})
logger.info("training %s on %d nodes, device %s", method, data.features.shape[0], device)
model, curve, arch = LEARNED[method].train(data, cfg, device, np.random.default_rng(cfg["seed"]), models)
save_checkpoint(snakemake.output[0], model, cfg, curve, {"arch": arch})
