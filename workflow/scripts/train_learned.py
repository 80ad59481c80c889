import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import named_paths

from facecluster.methods.learned import LEARNED, fit_learned, load_dependencies, load_split
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import save_model
from facecluster.training.loop import start_training

setup_logging()
logger.info("training preset: %s (the dataset config's `training`; its own values win)", snakemake.params.training)
method, cfg, choice = snakemake.params.method, snakemake.params.settings, snakemake.params.choice
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
fit = load_split(snakemake.input.features, snakemake.input.knn, snakemake.input.labels,
                 named_paths(snakemake.input, "committee_features"), named_paths(snakemake.input, "committee_knn"),
                 snakemake.input.proposals if "proposals" in snakemake.input.keys() else None)
val = None
if "val_features" in snakemake.input.keys():
    val = load_split(snakemake.input.val_features, snakemake.input.val_knn, snakemake.input.val_labels,
                     named_paths(snakemake.input, "val_committee_features"), named_paths(snakemake.input, "val_committee_knn"),
                     snakemake.input.val_proposals if "val_proposals" in snakemake.input.keys() else None)
val_rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
models = load_dependencies(method, {dep: snakemake.input[dep] for dep in LEARNED[method].needs})
logger.info("training %s on %d nodes%s, device %s", method, fit.features.shape[0],
            f", best of {len(choice['candidates']) or 1} setting(s) x {snakemake.params.checkpoints} checkpoint(s) "
            f"by validation F on '{choice['split']}' ({val.features.shape[0]} nodes"
            f"{f', {val_rows.size} of them scored' if val_rows is not None else ''})" if val is not None else "", device)
model, curve, arch, selection = fit_learned(method, fit, val, cfg, choice["candidates"] if val is not None else [],
                                            snakemake.params.checkpoints,
                                            device, models, val_rows, snakemake.params.patience)
kind = arch.pop("kind")
logger.info("%s: chosen settings %s", method, selection["chosen"] or "(as configured)")
save_model(snakemake.output[0], model, kind, arch, selection["config"], curve,
           {"chosen": selection["chosen"], "selection": selection["candidates"]})
