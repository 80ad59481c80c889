import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numba

from facecluster.data.io import load_knn, save_structure
from facecluster.progress import setup_logging
from facecluster.ada_nets.structure_space import structure_space

setup_logging()
numba.set_num_threads(snakemake.threads)
nbrs, sims = load_knn(snakemake.input.knn)
save_structure(snakemake.output[0], *structure_space(nbrs, sims, k=snakemake.params.k, lam=snakemake.params.lam))
