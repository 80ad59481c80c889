import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_knn
from facecluster.methods import gcn_d, proposals
from facecluster.progress import logger, setup_logging
from facecluster.report.plots import proposal_figure
from facecluster.training.checkpoints import load_model

setup_logging()
settings = snakemake.params.settings
props = proposals.load(snakemake.input.proposals)
labels = np.load(snakemake.input.labels)
nbrs, sims = load_knn(snakemake.input.knn)
model, _ = load_model(snakemake.input.model)
predicted = gcn_d.predict_gcn_d(model, np.load(snakemake.input.features), nbrs, sims, props, "cpu",
                                settings["with_weight"], settings["inference_batch"])
truth = gcn_d.proposal_targets(props, labels)["iou"]
logger.info("%d proposals: IoU MSE %.4f", len(props), float(np.mean((predicted - truth) ** 2)))
proposal_figure(props.sizes, props.level, truth, predicted, snakemake.output[0])
