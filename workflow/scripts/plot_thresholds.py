import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.io import load_json
from facecluster.report.plots import threshold_curves

threshold_curves({name: load_json(path) for name, path in zip(snakemake.params.names, snakemake.input)}, snakemake.output[0])
