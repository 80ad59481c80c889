import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.datasets import feature_rows, read_features
from facecluster.data.io import InputError, l2_normalise, save_npy
from facecluster.progress import logger, setup_logging

setup_logging()
raw, member = snakemake.input.raw, snakemake.params.member
features = read_features(raw)  # shape, dtype, NaN/Inf and zero rows checked, naming the file
n_base = feature_rows(snakemake.input.base)
if features.shape[0] != n_base:
    raise InputError(f"{raw}: committee member '{member}' has {features.shape[0]} rows, the split's features "
                     f"({snakemake.input.base}) {n_base}: a member embeds the same samples, in the same order")
logger.info("%s: committee member %s, %d x %d features", raw, member, *features.shape)
save_npy(snakemake.output[0], l2_normalise(features))
