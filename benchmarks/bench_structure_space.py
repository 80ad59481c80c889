"""Benchmark: Ada-NETS structure space and max-Q indices on 100,000 x k=80.

Features: the synthetic benchmark (``facecluster.data.synthetic``, test split) when available,
otherwise clustered Gaussian data. The exact kNN (faiss) is timed but reported separately.
``structure_space`` is timed twice: the first call includes numba JIT compilation (or loading
it from numba's on-disk cache), the second is warm. Prints a Markdown table (stage, N, k,
seconds, target, verdict). Targets: structure space < 20 s, max-Q < 10 s (2 cores).

    .venv/bin/python benchmarks/bench_structure_space.py [--n 100000] [--k 80] [--dim 256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from facecluster.graph.knn import exact_knn
from facecluster.ada_nets.max_q import max_q_indices
from facecluster.ada_nets.structure_space import knn_precision_at, structure_space


def make_features(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from facecluster.data.synthetic import SyntheticParams, generate_split

        feats, labels = generate_split(SyntheticParams(n_samples=n, dim=dim), "test", seed)
        return np.ascontiguousarray(feats, dtype=np.float32), np.asarray(labels), "synthetic"
    except (ImportError, TypeError):
        rng = np.random.default_rng(seed)
        n_ids = max(1, n // 40)
        centres = rng.standard_normal((n_ids, dim)).astype(np.float32)
        labels = rng.integers(0, n_ids, n)
        x = centres[labels] + 0.9 * rng.standard_normal((n, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x, labels, "gaussian clusters"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=80)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--lam", type=float, default=0.3)
    ap.add_argument("--beta", type=float, default=0.5)
    args = ap.parse_args()

    x, labels, source = make_features(args.n, args.dim)
    t0 = time.perf_counter()
    nbrs, sims = exact_knn(x, args.k, backend="faiss")
    t_knn = time.perf_counter() - t0

    t0 = time.perf_counter()
    structure_space(nbrs, sims, k=args.k, lam=args.lam)
    t_ss_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ss_nbrs, _ = structure_space(nbrs, sims, k=args.k, lam=args.lam)
    t_ss = time.perf_counter() - t0
    t0 = time.perf_counter()
    kstar = max_q_indices(ss_nbrs, labels, beta=args.beta)
    t_q = time.perf_counter() - t0

    n, k = args.n, args.k
    rows = [
        ("kNN (faiss CPU, reported separately)", t_knn, None),
        ("structure space, first call (incl. numba compile/cache load)", t_ss_first, None),
        ("structure space, warm", t_ss, 20.0),
        ("max-Q indices", t_q, 10.0),
    ]
    print(f"features: {source}, N={n}, dim={args.dim}, {len(np.unique(labels))} identities\n")
    print("| stage | N | k | seconds | target | verdict |")
    print("|---|---|---|---|---|---|")
    for name, sec, target in rows:
        tgt = f"< {target:.0f} s" if target else "-"
        verdict = ("pass" if sec < target else "FAIL") if target else "-"
        print(f"| {name} | {n} | {k} | {sec:.2f} | {tgt} | {verdict} |")
    ks = [c for c in (1, 5, 10, 20, 40) if c < k]
    before = knn_precision_at(nbrs, labels, ks)
    after = knn_precision_at(ss_nbrs, labels, ks)
    print("\nprecision@k (self excluded): " + ", ".join(f"@{c}: kNN {before[c]:.4f} -> structure {after[c]:.4f}" for c in ks))
    print(f"max-Q k*: mean {kstar.mean():.1f}, median {int(np.median(kstar))}, min {kstar.min()}, max {kstar.max()}")


if __name__ == "__main__":
    main()
