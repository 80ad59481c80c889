import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.progress import logger, setup_logging
from facecluster.training.release_weights import write_imported_checkpoint

setup_logging()
settings = {**snakemake.params.settings, "feature_dim": snakemake.params.feature_dim}
logger.info("%s: importing the release's weights %s", snakemake.params.method, list(snakemake.input))
write_imported_checkpoint(snakemake.params.method, list(snakemake.input), snakemake.output[0], settings)
logger.info("%s: wrote %s", snakemake.params.method, snakemake.output[0])
