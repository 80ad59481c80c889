import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.gcn import AdaNetsGCN, embed
from facecluster.io import load_sparse, save_npy
from facecluster.progress import setup_logging
from facecluster.training import load_checkpoint, select_device

setup_logging()
torch.set_num_threads(snakemake.threads)
device = select_device(snakemake.params.device)
ckpt = load_checkpoint(snakemake.input.model)
model = AdaNetsGCN(**ckpt["arch"])
model.load_state_dict(ckpt["state_dict"])
save_npy(snakemake.output[0], embed(model.to(device), np.load(snakemake.input.features), load_sparse(snakemake.input.adjacency), device))
