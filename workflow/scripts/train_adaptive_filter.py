import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.ada_nets.adaptive_filter import train_filter
from facecluster.ada_nets.diagnostics import best_constant
from facecluster.data.io import load_structure
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import save_model
from facecluster.training.loop import SGDSchedule, start_training

setup_logging()
logger.info("training preset: %s (the dataset config's `training`; its own values win)", snakemake.params.training)
cfg = snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
nbrs, _ = load_structure(snakemake.input.structure)
features = np.load(snakemake.input.features)
logger.info("training the adaptive filter on %d nodes, k=%d, device %s", *nbrs.shape, device)
k_star = np.load(snakemake.input.max_q)
const = best_constant(k_star, nbrs.shape[1])
const_mae = float(np.abs(const - k_star).mean())
logger.info("input %s, loss %s; the best constant on this split, k_hat = %d, has mean |k_hat - k*| %.3f (k* mean %.2f)",
            cfg["input"], cfg["loss"], const, const_mae, k_star.mean())
terms = {}
model, curve = train_filter(
    features, nbrs, k_star, SGDSchedule.from_config(cfg["train"]),
    cfg["batch_size"], cfg["hidden"], cfg["mlp_hidden"], cfg["dropout"], device,
    torch.Generator().manual_seed(cfg["seed"]), loss=cfg["loss"], input=cfg["input"], terms_out=terms,
)
errors = np.asarray(terms.get("abs_k_error", [np.nan]))
window = max(1, min(100, errors.size // 2))
logger.info("batch mean |k_hat - k*|: first %d steps %.3f -> last %d steps %.3f (best constant %.3f)",
            window, errors[:window].mean(), window, errors[-window:].mean(), const_mae)
arch = {"dim": features.shape[1], "hidden": cfg["hidden"], "mlp_hidden": cfg["mlp_hidden"], "dropout": cfg["dropout"],
        "input": cfg["input"]}
save_model(snakemake.output[0], model, "adaptive_filter", arch, cfg, curve,
           {"k": nbrs.shape[1], "loss_terms": terms, "references": {f"best constant k_hat = {const} (train)": const_mae}})
