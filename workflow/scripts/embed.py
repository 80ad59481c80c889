import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from facecluster.ada_nets.gcn import embed_to_npy
from facecluster.data.io import NpyRows, load_sparse_pattern
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import load_model
from facecluster.training.loop import select_device

setup_logging()
torch.set_num_threads(snakemake.threads)
device = select_device(snakemake.params.device)
model, _ = load_model(snakemake.input.model, device)
adjacency = load_sparse_pattern(snakemake.input.adjacency)  # the GCN's aggregation ignores the weights
logger.info("embedding %d nodes on %s (%d edges), chunk_size %s", adjacency.shape[0], snakemake.input.adjacency,
            adjacency.nnz, snakemake.params.chunk_size)
embed_to_npy(model, NpyRows(snakemake.input.features), adjacency, device, snakemake.output[0], snakemake.params.chunk_size)
