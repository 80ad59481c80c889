import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.ada_nets.adaptive_filter import predict_k
from facecluster.data.io import load_structure, save_npy
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import load_model
from facecluster.training.loop import select_device

setup_logging()
torch.set_num_threads(snakemake.threads)
device = select_device(snakemake.params.device)
model, ckpt = load_model(snakemake.input.model, device)
nbrs, _ = load_structure(snakemake.input.structure)
if nbrs.shape[1] != ckpt["k"]:
    raise ValueError(f"{snakemake.input.structure}: k={nbrs.shape[1]}, but the filter was trained with k={ckpt['k']}")
k_pred = predict_k(model, np.load(snakemake.input.features), nbrs, device)
logger.info("k_pred: mean %.2f, median %d, min %d, max %d", k_pred.mean(), np.median(k_pred), k_pred.min(), k_pred.max())
save_npy(snakemake.output[0], k_pred)
