import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.report.plots import training_curves
from facecluster.training.checkpoints import load_checkpoint

checkpoints = {"adaptive filter": load_checkpoint(snakemake.input.adaptive_filter), "GCN": load_checkpoint(snakemake.input.gcn)}
training_curves({name: c["loss_curve"] for name, c in checkpoints.items()}, snakemake.output[0],
                terms={name: c.get("loss_terms", {}) for name, c in checkpoints.items()},
                references={name: c.get("references", {}) for name, c in checkpoints.items()},
                validation={name: c.get("validation") for name, c in checkpoints.items()})
