import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.ada_nets.diagnostics import ada_nets_diagnostics
from facecluster.data.io import load_knn, load_sparse, load_structure, save_json
from facecluster.progress import setup_logging

setup_logging()
knn_nbrs, knn_sims = load_knn(snakemake.input.knn)
struct_nbrs, _ = load_structure(snakemake.input.structure)
save_json(snakemake.output[0], ada_nets_diagnostics(
    knn_nbrs, knn_sims, struct_nbrs, np.load(snakemake.input.labels), np.load(snakemake.input.k_pred),
    np.load(snakemake.input.max_q), load_sparse(snakemake.input.adjacency), snakemake.params.plain_k,
    train_k_star=np.load(snakemake.input.train_max_q),
))
