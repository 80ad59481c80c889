"""Benchmark: every non-learned method on 100,000 synthetic samples, k = 80, given the kNN.

Generates the synthetic benchmark's test split at ``--n`` samples (``facecluster.data.synthetic``),
computes its exact kNN once with faiss (timed, reported apart), then clusters it with each method
at the parameter the default pipeline chose on the train split (``results/synthetic/models/
<method>_tuned.json`` when present, else the schema default) and the dataset config's other
settings, and prints a Markdown table: method, parameter, seconds, clusters, pairwise F, and the
verdict against the target (under 60 s on 2 cores for every method but k-means, which is
reported for reference with the true number of clusters).

    .venv/bin/python benchmarks/bench_methods.py [--n 100000] [--k 80]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import yaml

from facecluster.methods.classic import minibatch_kmeans
from facecluster.graph.knn import exact_knn
from facecluster.methods.graph_methods import run_graph_method
from facecluster.registry import GRAPH_METHODS, METHODS
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.data.synthetic import generate_split, params_from_dict

TARGET_S = 60.0
DEFAULTS = {"knn_cc": 0.7, "cdp": 0.7, "knn_dbscan": 0.25, "fast_hac": 0.25, "chinese_whispers": 0.6,
            "approx_rank_order": 0.0, "leiden": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=80)
    args = ap.parse_args()
    ds = yaml.safe_load(open("config/datasets/synthetic.yaml"))
    gen = dict(ds.get("synthetic", {}))
    seed = gen.pop("seed", 0)
    gen["n_samples"] = args.n
    x, y = generate_split(params_from_dict(gen), "test", seed)
    x = np.ascontiguousarray(x, dtype=np.float32)
    t = time.perf_counter()
    nbrs, sims = exact_knn(x, args.k, backend="faiss")
    knn_s = time.perf_counter() - t
    print(f"{args.n:,} samples, {len(np.unique(y))} identities; exact kNN (faiss, k = {args.k}): {knn_s:.1f} s\n")
    print("| method | parameter | seconds | clusters | pairwise F | target |")
    print("|---|---|---:|---:|---:|---|")
    for method in GRAPH_METHODS:
        settings = dict(ds["methods"].get(method, {}))
        settings["k"] = min(settings.get("k", args.k), args.k)
        settings.setdefault("max_size", 600)
        settings.setdefault("step", 0.05)
        settings.setdefault("min_samples", 2)
        settings.setdefault("iterations", 20)
        settings.setdefault("seed", 0)
        tuned_path = f"results/synthetic/models/{method}_tuned.json"
        value = json.load(open(tuned_path))["value"] if os.path.exists(tuned_path) else DEFAULTS[method]
        t = time.perf_counter()
        labels = run_graph_method(method, nbrs, sims, value, settings)
        sec = time.perf_counter() - t
        f = pairwise_scores(y, labels)["fscore"]
        verdict = "ok" if sec < TARGET_S else "TOO SLOW"
        print(f"| {method} (k = {settings['k']}) | {METHODS[method].param} = {value:g} | {sec:.2f} | {labels.max() + 1} | {f:.4f} | < {TARGET_S:.0f} s: {verdict} |", flush=True)
    t = time.perf_counter()
    labels = minibatch_kmeans(x, len(np.unique(y)))
    sec = time.perf_counter() - t
    print(f"| minibatch_kmeans | n_clusters = {len(np.unique(y))} (true) | {sec:.2f} | {labels.max() + 1} | "
          f"{pairwise_scores(y, labels)['fscore']:.4f} | reference (no target) |")


if __name__ == "__main__":
    main()
