import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from facecluster.data.io import save_json, save_npy
from facecluster.data.validation import carve_by_identity
from facecluster.progress import logger, setup_logging

setup_logging()
labels = np.load(snakemake.input.labels)
features = np.load(snakemake.input.features, mmap_mode="r")
settings = snakemake.params.settings
fit_rows, val_rows = carve_by_identity(labels, settings["fraction"], settings["seed"])
summary = {"of": snakemake.params.train_split, "fraction": settings["fraction"], "seed": settings["seed"]}
for part, rows in (("fit", fit_rows), ("val", val_rows)):
    part_labels = labels[rows]
    # labels keep the train split's identity ids (disjoint between the parts by construction)
    save_npy(snakemake.output[f"{part}_features"], np.ascontiguousarray(features[rows]))
    save_npy(snakemake.output[f"{part}_labels"], part_labels)
    save_npy(snakemake.output[f"{part}_rows"], rows.astype(np.int64))
    summary[part] = {"samples": int(rows.size), "identities": int(np.unique(part_labels).size)}
    logger.info("%s part: %d samples, %d identities", part, rows.size, summary[part]["identities"])
save_json(snakemake.output.summary, summary)
