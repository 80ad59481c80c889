"""knn_dbscan's min_samples on the train split of a finished run: best pairwise F over the eps grid.

The dataset config fixes min_samples (only eps is tuned); this script shows, on the *train* split,
how the best F changes with it, which is how the synthetic default was chosen.

    .venv/bin/python benchmarks/knn_dbscan_min_samples.py [--dataset synthetic] [--train train] [--k 80]
"""

from __future__ import annotations

import argparse

import numpy as np

from facecluster.methods.classic import knn_dbscan
from facecluster.data.io import load_knn
from facecluster.evaluation.search import search_grid, threshold_grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--train", default="train")
    ap.add_argument("--k", type=int, default=80)
    args = ap.parse_args()
    d = f"results/{args.dataset}/{args.train}"
    nbrs, sims = load_knn(f"{d}/knn.npz")
    nbrs, sims = nbrs[:, : args.k], sims[:, : args.k]
    labels = np.load(f"{d}/labels.npy")
    print("| min_samples | best eps | best pairwise F (train) |")
    print("|---:|---:|---:|")
    for m in (2, 5, 10, 20, 40):
        best, curve, _ = search_grid(lambda e: knn_dbscan(nbrs, sims, e, m), labels, threshold_grid(0.05, 0.7, 0.01), "eps")
        print(f"| {m} | {best:.2f} | {dict(curve)[best]:.4f} |", flush=True)


if __name__ == "__main__":
    main()
