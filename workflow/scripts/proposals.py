import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_knn
from facecluster.methods import proposals
from facecluster.progress import logger, setup_logging

setup_logging()
settings = snakemake.params.settings
nbrs, sims = load_knn(snakemake.input.knn)
features = np.load(snakemake.input.features)
logger.info("proposals of %d nodes, %d setting(s): %s", nbrs.shape[0], len(settings), settings)
result = proposals.generate(features, nbrs, sims, settings)
sizes = result.sizes
logger.info("%d proposals (level 0: %d, level 1: %d), sizes %d..%d (mean %.1f), %d of %d nodes covered",
            len(result), int((result.level == 0).sum()), int((result.level == 1).sum()), sizes.min(initial=0),
            sizes.max(initial=0), sizes.mean() if sizes.size else 0.0, np.unique(result.indices).size, nbrs.shape[0])
proposals.save(snakemake.output[0], result)
