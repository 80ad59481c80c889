import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.ada_nets.gcn import train_gcn
from facecluster.data.io import load_knn, load_sparse
from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import save_model
from facecluster.training.loop import SGDSchedule, start_training

setup_logging()
logger.info("training preset: %s (the dataset config's `training`; its own values win)", snakemake.params.training)
cfg = snakemake.params.settings
device = start_training(cfg["seed"], snakemake.threads, cfg["device"])
features = np.load(snakemake.input.features)
nbrs, _ = load_knn(snakemake.input.knn)
logger.info("training the GCN on %d nodes, device %s", features.shape[0], device)
choice = snakemake.params.choice
validation, val_rows = None, None
if "val_features" in snakemake.input.keys():  # the best checkpoint (initial weights included) by validation F
    from facecluster.ada_nets.selection import embedding_score
    from facecluster.evaluation.search import grid_from_config
    from facecluster.training.loop import Validation

    val_rows = np.load(snakemake.input.rows) if "rows" in snakemake.input.keys() else None
    ks = [c["k"] for c in choice["candidates"]] or [snakemake.params.cluster["k"]]
    score = embedding_score(np.load(snakemake.input.val_features), load_sparse(snakemake.input.val_adjacency),
                            np.load(snakemake.input.val_labels), ks, grid_from_config(snakemake.params.cluster["grid"]),
                            device, val_rows)
    validation = Validation(score, snakemake.params.checkpoints, initial=True, patience=snakemake.params.patience)
terms = {}
model, curve = train_gcn(
    features, np.load(snakemake.input.labels), nbrs, load_sparse(snakemake.input.graph),
    SGDSchedule.from_config(cfg["train"]), cfg["hidden"], cfg["order_k"], cfg["batch_neighbours"],
    cfg["fanout"], cfg["loss"], device, np.random.default_rng(cfg["seed"]), init=cfg["init"], terms_out=terms,
    seeds_per_batch=cfg["seeds_per_batch"], first_layer=cfg["first_layer"], validation=validation,
)
extra = {"loss_terms": terms}
if validation is not None:
    extra["validation"] = {"curve": validation.curve, "best_step": validation.best_step, "best_score": validation.best_score,
                           "stopped_at": validation.stopped_at,
                           "untrained_score": dict(validation.curve).get(0), "split": choice["split"],
                           "scored": "validation part" if val_rows is not None else "every row"}
    logger.info("validation F of the untrained network %.4f, kept step %d: %.4f", extra["validation"]["untrained_score"],
                validation.best_step, validation.best_score)
save_model(snakemake.output[0], model, "ada_nets_gcn", {"in_dim": features.shape[1], "hidden": cfg["hidden"], "init": cfg["init"]},
           cfg, curve, extra)
