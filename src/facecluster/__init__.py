"""facecluster: the algorithms behind a reproducible face-clustering pipeline.

Every stage of the Snakemake workflow (kNN, structure space, max-Q, adaptive filter,
adjacency, GCN, clustering, metrics) is a small module of this package, importable and
tested without Snakemake.
"""

__version__ = "0.1.0"
