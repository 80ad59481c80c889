import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.io import save_npy
from facecluster.progress import logger, setup_logging
from facecluster.data.synthetic import generate_split, params_from_dict

setup_logging()
settings = dict(snakemake.params.settings)
seed = settings.pop("seed", 0)
params = params_from_dict(settings)
features, labels = generate_split(params, snakemake.params.split, seed)
logger.info("synthetic %s: %d samples, %d identities, d=%d", snakemake.params.split, len(labels), labels.max() + 1, features.shape[1])
save_npy(snakemake.output.features, features)
save_npy(snakemake.output.labels, labels)
