import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.adaptive_filter import AdaptiveFilter, predict_k
from facecluster.io import load_structure, save_npy
from facecluster.progress import logger, setup_logging
from facecluster.training import load_checkpoint, select_device

setup_logging()
torch.set_num_threads(snakemake.threads)
device = select_device(snakemake.params.device)
ckpt = load_checkpoint(snakemake.input.model)
arch = ckpt["arch"]
nbrs, _ = load_structure(snakemake.input.structure)
if nbrs.shape[1] != arch["k"]:
    raise ValueError(f"{snakemake.input.structure}: k={nbrs.shape[1]}, but the filter was trained with k={arch['k']}")
model = AdaptiveFilter(arch["dim"], arch["hidden"], arch["mlp_hidden"], arch["dropout"], input=arch.get("input", "features"))
model.load_state_dict(ckpt["state_dict"])
k_pred = predict_k(model.to(device), np.load(snakemake.input.features), nbrs, device)
logger.info("k_pred: mean %.2f, median %d, min %d, max %d", k_pred.mean(), np.median(k_pred), k_pred.min(), k_pred.max())
save_npy(snakemake.output[0], k_pred)
