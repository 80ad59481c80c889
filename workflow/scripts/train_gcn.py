import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.ada_nets.gcn import train_gcn
from facecluster.data.io import load_knn, load_sparse
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import save_model
from facecluster.training.loop import SGDSchedule, start_training

setup_logging()
logger.info("training preset: %s (the dataset config's `training`; its own values win)", snakemake.params.training)
cfg = snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
features = np.load(snakemake.input.features)
nbrs, _ = load_knn(snakemake.input.knn)
logger.info("training the GCN on %d nodes, device %s", features.shape[0], device)
terms = {}
model, curve = train_gcn(
    features, np.load(snakemake.input.labels), nbrs, load_sparse(snakemake.input.graph),
    SGDSchedule.from_config(cfg["train"]), cfg["hidden"], cfg["order_k"], cfg["batch_neighbours"],
    cfg["fanout"], cfg["loss"], device, np.random.default_rng(cfg["seed"]), init=cfg["init"], terms_out=terms,
)
save_model(snakemake.output[0], model, "ada_nets_gcn", {"in_dim": features.shape[1], "hidden": cfg["hidden"], "init": cfg["init"]},
           cfg, curve, {"loss_terms": terms})
