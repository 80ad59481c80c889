"""facecluster: the algorithms behind a reproducible face-clustering pipeline.

Every stage of the Snakemake workflow (kNN, structure space, max-Q, adaptive filter,
adjacency, GCN, clustering, metrics) is a small module of this package, importable and
tested without Snakemake.
"""

import os as _os

__version__ = "0.1.0"

# Reruns agree whatever else runs on the machine: MKL and OpenMP must not shrink a job's thread
# team when the machine is busy (their "dynamic" mode does, and a reduction over another number of
# threads sums in another order: embeddings differing by ~1e-4 between a run alone and a run beside
# another job). Set before numpy / torch start their pools; a user's own setting wins.
_os.environ.setdefault("MKL_DYNAMIC", "FALSE")
_os.environ.setdefault("OMP_DYNAMIC", "FALSE")
