import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from facecluster.data.io import load_json
from facecluster.evaluation.leaderboard import write_leaderboard
from facecluster.progress import logger, setup_logging

setup_logging()
rows = write_leaderboard(snakemake.output.csv, snakemake.output.md, [load_json(p) for p in snakemake.input], snakemake.params.title)
for row in rows:
    logger.info("%-12s pairwise F %.4f  BCubed F %.4f", row["method"], row["pairwise_fscore"], row["bcubed_fscore"])
