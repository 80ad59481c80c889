"""Cost curves of every stage: the real workflow on the v2 generator at growing N, timed by Snakemake.

For each N (samples per split, train and test alike) the workflow runs in its own working
directory (``--workdir``/n_<N>) on a generated dataset ``scale`` (``config/datasets/synthetic.yaml``
with ``n_samples: N``; the CPU training budgets of the ``cpu`` preset, so the training stages do a
fixed number of steps at every N; ``inference.chunk_size`` fixed, ``--chunk``). Every stage's wall
time and peak resident memory come from the rules' Snakemake ``benchmark:`` files
(``results/scale/benchmarks/``). Stages are named ``rule`` (models) or ``split/rule``.

Then, per stage, the exponent b of ``time ≈ a·N^b`` (least squares on log-log over the sizes
where the stage took ≥ ``--floor`` seconds; fewer than two such sizes: no exponent) and the
extrapolation to MS1M part1 (584,013) and part9 (5.21M) from the largest measured N:
``t(N_max)·(N/N_max)^b`` — on this machine's cores, as measured.

Comparison methods (``--methods``, at the sizes ``--method-sizes``) run with ``tune: fixed`` at the
value ``make run`` chose on the 20,000-sample synthetic train split (:data:`FIXED`, the
leaderboard; docs/scale.md): the table times one clustering; the train-split search of ``tune: train`` costs
about the grid's length times that (plus the train split's own predictions for learned methods). ``minibatch_kmeans`` gets its own
curve in the number of clusters (``--kmeans-clusters``, at ``--kmeans-n`` samples; its
``max_seconds`` limit applies and a refusal is a row).

After the sizes, ``embed`` of the test split is re-run at every N for each ``--embed-chunks`` value
(``none`` = ``inference.chunk_size: null``, the whole graph at once), for the memory comparison.

    .venv/bin/python benchmarks/scaling.py [--sizes 25000 50000 100000 200000] [--cores 2]
        [--methods knn_cc cdp ...] [--method-sizes 25000 50000 100000] [--chunk 4096]
        [--embed-chunks none 256 4096] [--workdir /tmp/facecluster-scaling] [--out scaling.json]
        [--table-only]   # print the tables from --out without running anything
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

PART1, PART9 = 584_013, 5_210_000
DS = "scale"
METHODS = ["knn_cc", "cdp", "knn_dbscan", "fast_hac", "chinese_whispers", "approx_rank_order", "leiden",
           "minibatch_kmeans", "gcn_v", "gcn_ve", "lgcn", "lce"]


#: the parameter each method's train-split search chose in `make run` (synthetic, 20,000 per split)
FIXED = {"knn_cc": 0.65, "cdp": 0.65, "knn_dbscan": 0.35, "fast_hac": 0.83, "chinese_whispers": 0.58,
         "approx_rank_order": 0.1, "leiden": 0.3, "gcn_v": 0.81, "gcn_ve": 0.76, "lgcn": 0.0}


def dataset_config(n: int, chunk: int | None, methods: list[str]) -> dict:
    cfg = yaml.safe_load((REPO / "config" / "datasets" / "synthetic.yaml").read_text())
    cfg["name"] = DS
    cfg["synthetic"]["n_samples"] = n
    cfg["inference"] = {"chunk_size": chunk}
    from facecluster.registry import METHODS as REGISTRY

    for m in methods:
        if REGISTRY[m].param:
            cfg.setdefault("methods", {}).setdefault(m, {}).update({"tune": "fixed", REGISTRY[m].param: FIXED[m]})
    return cfg


def metrics_target(method: str) -> str:
    return f"results/{DS}/test/metrics.json" if method == "ada_nets" else f"results/{DS}/test/methods/{method}/metrics.json"


def snakemake(wd: Path, targets: list[str], cores: int, extra: tuple[str, ...] = ()) -> int:
    cmd = [str(REPO / ".venv" / "bin" / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--configfile", str(wd / "config" / "config.yaml"), "--cores", str(cores), "--resources", "gpu=1",
           "--rerun-incomplete", "--keep-going", "--quiet", "progress", *extra, "--", *targets]
    return subprocess.run(cmd, cwd=REPO).returncode


def write_configs(wd: Path, n: int, chunk: int | None, methods: list[str]) -> None:
    (wd / "config" / "datasets").mkdir(parents=True, exist_ok=True)
    (wd / "config" / "datasets" / f"{DS}.yaml").write_text(yaml.safe_dump(dataset_config(n, chunk, methods), sort_keys=False))
    run = {"run": {DS: {"splits": ["test"], "methods": ["ada_nets", *methods]}}, "dataset_dir": "config/datasets"}
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(run, sort_keys=False))


def read_benchmarks(wd: Path) -> dict[str, dict[str, float]]:
    """``{stage: {"s": wall seconds, "max_rss": MB}}`` from every benchmark TSV of the run."""
    out = {}
    root = wd / "results" / DS / "benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            rss = [float(r["max_rss"]) for r in rows if r.get("max_rss") not in (None, "", "-", "NA")]
            out[str(path.relative_to(root).with_suffix(""))] = {"s": float(rows[-1]["s"]), "max_rss": max(rss) if rss else float("nan")}
    return out


def run_size(n: int, args, methods: list[str]) -> dict:
    wd = Path(args.workdir) / f"n_{n}"
    write_configs(wd, n, args.chunk, methods)
    t0 = time.perf_counter()
    print(f"N = {n}: ada_nets + {len(methods)} methods in {wd}", file=sys.stderr, flush=True)
    rc = snakemake(wd, [metrics_target(m) for m in ["ada_nets", *methods]], args.cores)
    result = {"n": n, "returncode": rc, "wall": time.perf_counter() - t0, "stages": read_benchmarks(wd)}
    failed = [m for m in ["ada_nets", *methods] if not (wd / metrics_target(m)).exists()]
    result["failed"] = failed
    for m in ["ada_nets", *methods]:
        if (wd / metrics_target(m)).exists():
            result.setdefault("fscore", {})[m] = json.loads((wd / metrics_target(m)).read_text())["pairwise"]["fscore"]
    print(f"N = {n}: {result['wall']:.0f} s, failed: {failed or 'none'}", file=sys.stderr, flush=True)
    return result


def embed_variants(result: dict, args, methods: list[str]) -> None:
    """Re-run ``embed`` of the test split at each ``--embed-chunks`` value (``none`` = the whole
    graph), keeping each one's time and peak memory; the run's own configuration is restored."""
    n = result["n"]
    wd = Path(args.workdir) / f"n_{n}"
    variants = result.setdefault("embed_variants", {})
    for chunk in args.embed_chunks:
        if chunk in variants:
            continue
        write_configs(wd, n, None if chunk == "none" else int(chunk), methods)
        rc = snakemake(wd, [f"results/{DS}/test/embeddings.npy"], args.cores, ("--forcerun", "embed"))
        variants[chunk] = read_benchmarks(wd)["test/embed"] if rc == 0 else {"s": float("nan"), "max_rss": float("nan")}
        print(f"N = {n}: embed with chunk_size {chunk}: {variants[chunk]}", file=sys.stderr, flush=True)
    write_configs(wd, n, args.chunk, methods)


def kmeans_curve(args) -> list[dict]:
    """minibatch_kmeans at ``--kmeans-n`` samples of the generator for each K (its cost model and limit)."""
    from facecluster.data.synthetic import SyntheticParams, generate_split
    from facecluster.methods.classic import KMeansLimitError, minibatch_kmeans

    x, _ = generate_split(SyntheticParams(n_samples=args.kmeans_n), "test", 0)
    rows = []
    for k in args.kmeans_clusters:
        t0 = time.perf_counter()
        try:
            minibatch_kmeans(x, k, max_seconds=args.kmeans_max_seconds)
            status = "finished"
        except KMeansLimitError as exc:
            status = "stopped: " + str(exc).split(": ", 1)[1][:90]
        rows.append({"n": args.kmeans_n, "k": k, "s": time.perf_counter() - t0, "status": status})
        print(f"k-means N={args.kmeans_n} K={k}: {rows[-1]['s']:.1f} s {status}", file=sys.stderr, flush=True)
    return rows


def exponent(ns: list[int], ts: list[float], floor: float) -> float | None:
    pts = [(n, t) for n, t in zip(ns, ts) if t is not None and t >= floor]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def fmt_s(s: float | None) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "—"
    if s >= 365 * 86400:
        return f"{s / (365 * 86400):.0f} years"
    if s >= 2 * 86400:
        return f"{s / 86400:.0f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 120:
        return f"{s / 60:.1f} min"
    return f"{s:.1f}"


def tables(data: dict, floor: float) -> str:
    runs = sorted(data["runs"], key=lambda r: r["n"])
    ns = [r["n"] for r in runs]
    stages = sorted({s for r in runs for s in r["stages"]}, key=lambda s: (s.count("/") == 0, s))
    lines = [f"Wall seconds (peak RSS MB) per stage, samples per split N; b = fitted exponent of time in N "
             f"(over the sizes where the stage took ≥ {floor:g} s; 1* = fewer than two such sizes, assumed linear); "
             "part1/part9 = the largest N's time × (N / largest N)^b:", ""]
    lines.append("| stage | " + " | ".join(f"N = {n:,}" for n in ns) + " | b | part1 (584,013) | part9 (5.21M) |")
    lines.append("|---|" + "---:|" * (len(ns) + 3))
    totals = {"part1": 0.0, "part9": 0.0}
    largest = set(runs[-1]["stages"]) if runs else set()
    small = [st for st in stages if max(r["stages"].get(st, {}).get("s", 0.0) for r in runs) < floor]
    for st in stages:
        ts = [r["stages"].get(st, {}).get("s") for r in runs]
        if st in small:
            continue
        mem = [r["stages"].get(st, {}).get("max_rss") for r in runs]
        b = exponent(ns, ts, floor)
        last = max((i for i, t in enumerate(ts) if t is not None), default=None)
        ext = {}
        for key, target in (("part1", PART1), ("part9", PART9)):
            if last is None:
                ext[key] = None
            else:
                ext[key] = ts[last] * (target / ns[last]) ** (b if b is not None else 1.0)
                if st in largest:
                    totals[key] += ext[key]
        cells = [f"{fmt_s(t)} ({m:.0f})" if t is not None else "—" for t, m in zip(ts, mem)]
        lines.append(f"| {st} | " + " | ".join(cells) + f" | {'1*' if b is None else f'{b:.2f}'} | {fmt_s(ext['part1'])} | {fmt_s(ext['part9'])} |")
    walls = " | ".join(fmt_s(r["wall"]) for r in runs)
    lines.append(f"| **whole DAG (wall, incl. Snakemake; last column: sum of the stages run at N = {ns[-1]:,})** | {walls} | "
                 f"| {fmt_s(totals['part1'])} | {fmt_s(totals['part9'])} |")
    if small:
        lines += ["", f"Under {floor:g} s at every N (not extrapolated): {', '.join(small)}."]
    chunks = sorted({c for r in runs for c in r.get("embed_variants", {})}, key=lambda c: (c != "none", int(c) if c != "none" else 0))
    if chunks:
        lines += ["", "`embed` of the test split, seconds (peak RSS MB) by `inference.chunk_size` (none = the whole graph at once):", "",
                  "| N | " + " | ".join(f"chunk {c}" if c != "none" else "whole graph" for c in chunks) + " |",
                  "|---:|" + "---:|" * len(chunks)]
        for r in runs:
            v = r.get("embed_variants", {})
            lines.append(f"| {r['n']:,} | " + " | ".join(f"{fmt_s(v[c]['s'])} ({v[c]['max_rss']:.0f})" if c in v else "—" for c in chunks) + " |")
    fails = [(r["n"], r["failed"]) for r in runs if r.get("failed")]
    if fails:
        lines += ["", "Failed targets: " + "; ".join(f"N = {n:,}: {', '.join(f)}" for n, f in fails)]
    if data.get("kmeans"):
        lines += ["", f"`minibatch_kmeans` at N = {data['kmeans'][0]['n']:,} by number of clusters K "
                  f"(max_seconds {data.get('kmeans_max_seconds')}):", "", "| K | seconds | outcome |", "|---:|---:|---|"]
        for r in data["kmeans"]:
            lines.append(f"| {r['k']:,} | {r['s']:.1f} | {r['status']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    ap.add_argument("--methods", nargs="*", default=METHODS)
    ap.add_argument("--method-sizes", type=int, nargs="*", default=[25_000, 50_000, 100_000])
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--embed-chunks", nargs="*", default=["none", "256", "4096"])
    ap.add_argument("--kmeans-n", type=int, default=20_000)
    ap.add_argument("--kmeans-clusters", type=int, nargs="*", default=[500, 1000, 2000, 4000])
    ap.add_argument("--kmeans-max-seconds", type=float, default=600)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--floor", type=float, default=2.0)
    ap.add_argument("--workdir", default="/tmp/facecluster-scaling")
    ap.add_argument("--out", default="scaling.json")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {"runs": [], "chunk": args.chunk}
    if not args.table_only:
        done = {r["n"] for r in data["runs"]}
        for n in args.sizes:
            if n in done:
                continue
            data["runs"].append(run_size(n, args, args.methods if n in args.method_sizes else []))
            out.write_text(json.dumps(data, indent=1))
        for r in data["runs"]:
            if set(args.embed_chunks) - set(r.get("embed_variants", {})):
                embed_variants(r, args, args.methods if r["n"] in args.method_sizes else [])
                out.write_text(json.dumps(data, indent=1))
        if args.kmeans_clusters and not data.get("kmeans"):
            data["kmeans"], data["kmeans_max_seconds"] = kmeans_curve(args), args.kmeans_max_seconds
            out.write_text(json.dumps(data, indent=1))
    print(tables(data, args.floor))


if __name__ == "__main__":
    main()
