import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.report.plots import stage_timings
from facecluster.report.timings import benchmark_peak_memory_mb, benchmark_seconds

rows = [(stage, benchmark_seconds(path), benchmark_peak_memory_mb(path)) for stage, path in zip(snakemake.params.stages, snakemake.input)]
stage_timings(rows, snakemake.output[0])
