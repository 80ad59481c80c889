import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.io import l2_normalise, load_npy_features, load_npy_labels, save_npy
from facecluster.progress import logger, setup_logging

setup_logging()
features = load_npy_features(snakemake.input.features, dim=snakemake.params.dim)
labels = load_npy_labels(snakemake.input.labels, features.shape[0], snakemake.input.features)
logger.info("%s: %d x %d features, %d identities", snakemake.input.features, *features.shape, len(set(labels.tolist())))
save_npy(snakemake.output.features, l2_normalise(features))
save_npy(snakemake.output.labels, labels)
