import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import torch

from facecluster.ada_nets.gcn import embed
from facecluster.data.io import load_sparse, save_npy
from facecluster.progress import setup_logging
from facecluster.training.checkpoints import load_model
from facecluster.training.loop import select_device

setup_logging()
torch.set_num_threads(snakemake.threads)
device = select_device(snakemake.params.device)
model, _ = load_model(snakemake.input.model, device)
save_npy(snakemake.output[0], embed(model, np.load(snakemake.input.features), load_sparse(snakemake.input.adjacency), device))
