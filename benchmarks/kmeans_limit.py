"""minibatch_kmeans on the shape of a real set whose k-means ran for hours: 15,245 items, 3,982 clusters.

Takes the first 15,245 rows of npmscope's train + test features (384-d sentence embeddings, real
neighbourhood structure; ``resources/npmscope`` after ``make data``) and asks for 3,982 clusters,
once at the default time limit and once at ``--limit`` seconds. Prints the outcome and wall time
of each; the log lines (cost estimate, one per k-means++ run, step progress) go to stderr.

    .venv/bin/python benchmarks/kmeans_limit.py [--data resources/npmscope] [--limit 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.methods.classic import KMeansLimitError, minibatch_kmeans  # noqa: E402
from facecluster.progress import setup_logging  # noqa: E402

N_ITEMS, N_CLUSTERS = 15_245, 3_982


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO / "resources" / "npmscope"))
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()
    setup_logging()
    data = Path(args.data)
    x = np.concatenate([np.load(data / "train.features.npy"), np.load(data / "test.features.npy")])[:N_ITEMS]
    x = x.astype(np.float32)
    print(f"| max_seconds | outcome | seconds |\n|---:|---|---:|")
    for limit in (600.0, args.limit):
        start = time.perf_counter()
        try:
            minibatch_kmeans(x, N_CLUSTERS, max_seconds=limit)
            outcome = "finished"
        except KMeansLimitError as exc:
            outcome = "refused/stopped: " + str(exc).split(": ", 1)[1][:70] + "..."
        print(f"| {limit:g} | {outcome} | {time.perf_counter() - start:.1f} |", flush=True)


if __name__ == "__main__":
    main()
