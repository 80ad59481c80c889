import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.plots import training_curves
from facecluster.training import load_checkpoint

curves = {"adaptive filter": load_checkpoint(snakemake.input.adaptive_filter)["loss_curve"],
          "GCN": load_checkpoint(snakemake.input.gcn)["loss_curve"]}
training_curves(curves, snakemake.output[0])
