import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.io import save_npy
from facecluster.data.synthetic import ViewParams, generate_view, params_from_dict
from facecluster.progress import logger, setup_logging

setup_logging()
settings = dict(snakemake.params.settings)
seed = settings.pop("seed", 0)
view = ViewParams(**snakemake.params.view)
features = generate_view(params_from_dict(settings), snakemake.params.split, seed, snakemake.params.member, view)
logger.info("synthetic %s, committee member %s (%s): %d x %d", snakemake.params.split, snakemake.params.member, view, *features.shape)
save_npy(snakemake.output[0], features)
