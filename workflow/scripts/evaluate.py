import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import load_json, named_paths, save_json
from facecluster.evaluation.metrics import evaluate
from facecluster.progress import logger, setup_logging
from facecluster.report.timings import benchmark_seconds

setup_logging()
scores = evaluate(np.load(snakemake.input.labels), np.load(snakemake.input.clusters))
metrics = {"dataset": snakemake.params.dataset, "split": snakemake.params.split, "method": snakemake.params.method,
           "training": snakemake.params.training}  # the dataset's training-budget preset (cpu or paper)
metrics.update(scores)
metrics["params"] = load_json(snakemake.input.params)
metrics["seconds"] = {stage: benchmark_seconds(path) for stage, path in zip(snakemake.params.stages, snakemake.input.timings)}
diagnostics = snakemake.input.get("diagnostics", [])
if diagnostics:
    metrics["diagnostics"] = {split: load_json(path) for split, path in zip(snakemake.params.diagnostic_splits, diagnostics)}
for path in named_paths(snakemake.input, "models_from") or []:  # the models came from another dataset
    metrics["models_from"] = load_json(path)
    if metrics["models_from"]["warning"]:
        logger.warning("models_from '%s': %s", metrics["models_from"]["models_from"], metrics["models_from"]["warning"])
logger.info("pairwise F %.4f, BCubed F %.4f, NMI %.4f", scores["pairwise"]["fscore"], scores["bcubed"]["fscore"], scores["nmi"])
save_json(snakemake.output[0], metrics)
