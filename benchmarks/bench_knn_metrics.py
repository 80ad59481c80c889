"""Benchmark: exact kNN of 100,000 x 256 and the metrics on 1,000,000 labels.

Prints a Markdown table (stage, size, seconds, target, verdict). Targets from the issue
"Runnable pipeline skeleton": kNN < 90 s on 2 cores, metrics < 2 s.

    .venv/bin/python benchmarks/bench_knn_metrics.py [--n 100000] [--k 80] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from facecluster.graph.knn import exact_knn, resolve_backend
from facecluster.evaluation.metrics import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="samples for the kNN benchmark")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--k", type=int, default=80)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--threads", type=int, default=2, help="faiss OpenMP threads")
    ap.add_argument("--n-labels", type=int, default=1_000_000, help="labels for the metrics benchmark")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)

    x = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t0 = time.perf_counter()
    exact_knn(x, args.k, backend=args.backend)
    t_knn = time.perf_counter() - t0

    truth = rng.integers(0, args.n_labels // 68, args.n_labels)  # MS1M-like: ~68 samples per identity
    pred = np.where(rng.random(args.n_labels) < 0.9, truth, rng.integers(0, args.n_labels, args.n_labels))
    t0 = time.perf_counter()
    evaluate(truth, pred)
    t_metrics = time.perf_counter() - t0

    rows = [
        (f"kNN ({resolve_backend(args.backend)}, {args.threads} threads)", f"{args.n:,} x {args.dim}, k={args.k}", t_knn, 90.0),
        ("metrics (pairwise, BCubed, NMI)", f"{args.n_labels:,} labels", t_metrics, 2.0),
    ]
    print("| stage | size | seconds | target | verdict |")
    print("|---|---|---:|---:|---|")
    for stage, size, sec, target in rows:
        print(f"| {stage} | {size} | {sec:.2f} | < {target:.0f} | {'pass' if sec < target else 'FAIL'} |")


if __name__ == "__main__":
    main()
