import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.adaptive_filter import train_filter
from facecluster.io import load_structure
from facecluster.progress import logger, setup_logging
from facecluster.training import SGDSchedule, save_checkpoint, start_training

setup_logging()
cfg = snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
nbrs, _ = load_structure(snakemake.input.structure)
features = np.load(snakemake.input.features)
logger.info("training the adaptive filter on %d nodes, k=%d, device %s", *nbrs.shape, device)
model, curve = train_filter(
    features, nbrs, np.load(snakemake.input.max_q), SGDSchedule.from_config(cfg["train"]),
    cfg["batch_size"], cfg["hidden"], cfg["mlp_hidden"], cfg["dropout"], device,
    torch.Generator().manual_seed(cfg["seed"]),
)
arch = {"dim": features.shape[1], "hidden": cfg["hidden"], "mlp_hidden": cfg["mlp_hidden"], "dropout": cfg["dropout"], "k": nbrs.shape[1]}
save_checkpoint(snakemake.output[0], model, cfg, curve, {"arch": arch})
