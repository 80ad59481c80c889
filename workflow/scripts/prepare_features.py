import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.datasets import check_counts, check_md5, read_features
from facecluster.data.io import l2_normalise, save_npy
from facecluster.progress import logger, setup_logging

setup_logging()
raw, settings = snakemake.input[0], snakemake.params.split
check_md5(raw, settings["md5"].get("features"))
features = read_features(raw, dim=snakemake.params.dim)
check_counts(raw, features.shape[0], settings["n_samples"], "feature rows")
logger.info("%s: %d x %d features", raw, *features.shape)
save_npy(snakemake.output[0], l2_normalise(features))
