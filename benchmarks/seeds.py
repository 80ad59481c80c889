"""Spread of the seeded methods over their seeds: mean ± standard deviation of test scores.

For every seed, the dataset configs are copied with every learned stage's ``seed`` set to it
(the adaptive filter, the Ada-NETS GCN, GCN-V/E, L-GCN, LCE, GCN-D/S, CDP's mediator) and every
randomised baseline's (chinese_whispers, Leiden, the k-means family) — never the synthetic
generator's seed: the benchmark data stay the same) and the real workflow runs in its own working directory
(``--workdir``/seed_<s>; results, logs and Snakemake state stay apart from ``results/``). The
deterministic upstream artifacts (features, kNN, structure space, max-Q) are recomputed there:
about a minute per dataset.

Besides the configured Ada-NETS clustering (τ and k chosen on the validation part) it scores the release's
clustering policy on the same embeddings: the top-121 kNN of the GCN embeddings (self included)
linked at a fixed cosine 0.96, connected components (the authors' ``GCN/cluster.py``) —
"ada_nets (release τ 0.96)".

Prints one table per dataset (mean ± sd and each seed's pairwise F) and writes the per-seed rows
to ``--out`` (CSV) when given. The methods without a seed (``knn_cc``, ``cdp``, ``cdp_vote``,
``knn_dbscan``, ``fast_hac``, ``approx_rank_order``) are deterministic; ``knn_cc`` is worth running
once per seed anyway (a check: its sd must be 0).

    .venv/bin/python benchmarks/seeds.py [--datasets synthetic npmscope] [--seeds 0 1 2]
        [--methods ada_nets gcn_v gcn_ve lgcn lce knn_cc] [--cores 2] [--workdir /tmp/facecluster-seeds]
        [--reuse-seed0]   # seed 0 from the repository's results/ after `make run`
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.graph.knn import exact_knn  # noqa: E402
from facecluster.evaluation.metrics import evaluate  # noqa: E402
from facecluster.graph.ops import threshold_clusters  # noqa: E402
from facecluster.config import _schema  # noqa: E402  (the schema loader config validation uses)

LEARNED_STAGE_KEYS = ("adaptive_filter", "gcn")


def seeded_methods() -> tuple[str, ...]:
    """Every method whose settings (the dataset schema) have a ``seed``: the learned ones and the
    randomised baselines (chinese_whispers' visiting order, Leiden, the k-means family)."""
    methods = _schema("dataset.schema.yaml")["properties"]["methods"]["properties"]
    return tuple(m for m, spec in methods.items() if "seed" in spec.get("properties", {}))


SEEDED_METHOD_KEYS = seeded_methods()
RELEASE_TOP_N, RELEASE_TAU = 121, 0.96


def seeded_config(ds_yaml: Path, seed: int) -> dict:
    """The dataset config with every learned stage's and every seeded method's seed set to ``seed``."""
    cfg = yaml.safe_load(ds_yaml.read_text())
    for key in LEARNED_STAGE_KEYS:
        cfg.setdefault(key, {})["seed"] = seed
    for key in SEEDED_METHOD_KEYS:
        cfg.setdefault("methods", {}).setdefault(key, {})["seed"] = seed
    return cfg


def metrics_path(ds: str, split: str, method: str) -> str:
    if method == "ada_nets":
        return f"results/{ds}/{split}/metrics.json"
    return f"results/{ds}/{split}/methods/{method}/metrics.json"


def run_seed(seed: int, datasets: list[str], methods: list[str], split: str, workdir: Path, cores: int,
             reuse: Path | None = None) -> list[dict]:
    """Run the workflow for one seed; return one row per (dataset, method). With ``reuse`` (a
    directory holding a finished run whose configs carry this seed, e.g. the repository after
    `make run` for seed 0), its metrics are read instead (the workflow is asked to bring them up to date)."""
    wd = reuse if reuse is not None else workdir / f"seed_{seed}"
    if reuse is not None:
        for ds in datasets:
            cfg = yaml.safe_load((REPO / "config" / "datasets" / f"{ds}.yaml").read_text())
            blocks = [cfg.get(k, {}) for k in LEARNED_STAGE_KEYS] + [cfg.get("methods", {}).get(k, {}) for k in SEEDED_METHOD_KEYS]
            if any(b.get("seed", 0) != seed for b in blocks):  # the schema's default seed is 0
                raise SystemExit(f"--reuse-seed0: config/datasets/{ds}.yaml does not have seed {seed} in every learned stage and seeded method")
        return collect(seed, datasets, methods, split, wd, cores, configfile=None)
    (wd / "config" / "datasets").mkdir(parents=True, exist_ok=True)
    for ds in datasets:
        cfg = seeded_config(REPO / "config" / "datasets" / f"{ds}.yaml", seed)
        (wd / "config" / "datasets" / f"{ds}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run_cfg = {"run": {ds: {"splits": [split], "methods": methods} for ds in datasets}, "dataset_dir": "config/datasets"}
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(run_cfg, sort_keys=False))
    if not (wd / "resources").exists():
        (wd / "resources").symlink_to(REPO / "resources")
    return collect(seed, datasets, methods, split, wd, cores, configfile=wd / "config" / "config.yaml")


def collect(seed: int, datasets: list[str], methods: list[str], split: str, wd: Path, cores: int,
            configfile: Path | None) -> list[dict]:
    """Bring the metrics of ``wd`` up to date with the workflow (``configfile`` or the repository's), then read them."""
    targets = [metrics_path(ds, split, m) for ds in datasets for m in methods]
    config = ["--configfile", str(configfile)] if configfile is not None else []
    cmd = [str(REPO / ".venv" / "bin" / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           *config, "--cores", str(cores), "--resources", "gpu=1", "--rerun-incomplete", "--quiet", "progress",
           "--", *targets]
    t0 = time.perf_counter()
    print(f"seed {seed}: {' '.join(cmd[-len(targets):])}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"seed {seed}: the workflow failed (exit {done.returncode}); logs under {wd}/logs")
    print(f"seed {seed}: workflow {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    rows = []
    for ds in datasets:
        for m in methods:
            res = json.loads((wd / metrics_path(ds, split, m)).read_text())
            rows.append({"dataset": ds, "method": m, "seed": seed, "pairwise_f": res["pairwise"]["fscore"],
                         "bcubed_f": res["bcubed"]["fscore"], "n_clusters": res["n_clusters_pred"]})
        if "ada_nets" in methods:
            rows.append({"dataset": ds, "method": f"ada_nets (release: top-{RELEASE_TOP_N}, tau {RELEASE_TAU})", "seed": seed,
                         **release_policy(wd / f"results/{ds}/{split}")})
    return rows


def release_policy(split_dir: Path) -> dict:
    """The authors' cluster.py on this run's GCN embeddings: top-121 kNN, cosine >= 0.96, components."""
    emb = np.load(split_dir / "embeddings.npy")
    labels = np.load(split_dir / "labels.npy")
    nbrs, sims = exact_knn(emb, min(RELEASE_TOP_N, emb.shape[0]))
    res = evaluate(labels, threshold_clusters(nbrs, sims, RELEASE_TAU))
    return {"pairwise_f": res["pairwise"]["fscore"], "bcubed_f": res["bcubed"]["fscore"], "n_clusters": res["n_clusters_pred"]}


def summary_table(rows: list[dict], ds: str) -> str:
    """Markdown: method, pairwise F mean ± sd, BCubed F mean ± sd, per-seed pairwise F."""
    mine = [r for r in rows if r["dataset"] == ds]
    seeds = sorted({r["seed"] for r in mine})
    lines = [f"### {ds}: test scores over seeds {', '.join(map(str, seeds))} (mean ± sd)", "",
             "| method | pairwise F | BCubed F | pairwise F per seed |", "|---|---:|---:|---|"]
    methods = list(dict.fromkeys(r["method"] for r in mine))
    for m in sorted(methods, key=lambda m: -np.mean([r["pairwise_f"] for r in mine if r["method"] == m])):
        pf = np.array([r["pairwise_f"] for r in mine if r["method"] == m])
        bf = np.array([r["bcubed_f"] for r in mine if r["method"] == m])
        sd = lambda a: a.std(ddof=1) if a.size > 1 else 0.0  # noqa: E731
        lines.append(f"| {m} | {pf.mean():.4f} ± {sd(pf):.4f} | {bf.mean():.4f} ± {sd(bf):.4f} | "
                     + " / ".join(f"{v:.4f}" for v in pf) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=["ada_nets", "gcn_v", "gcn_ve", "lgcn", "lce", "knn_cc"])
    ap.add_argument("--split", default="test")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/facecluster-seeds"))
    ap.add_argument("--out", type=Path, help="also write every per-seed row to this CSV")
    ap.add_argument("--summarise", nargs="+", type=Path, metavar="CSV",
                    help="only print the tables of per-seed rows written earlier with --out (e.g. seeds run in parallel)")
    ap.add_argument("--reuse-seed0", action="store_true",
                    help="seed 0 = the repository's own results/ (`make run`; the shipped configs use seed 0)")
    args = ap.parse_args(argv)
    rows: list[dict] = []
    if args.summarise:
        for path in args.summarise:
            with open(path) as fh:
                rows += [{**r, "seed": int(r["seed"]), "pairwise_f": float(r["pairwise_f"]), "bcubed_f": float(r["bcubed_f"])}
                         for r in csv.DictReader(fh)]
        args.seeds, args.datasets = [], list(dict.fromkeys(r["dataset"] for r in rows))
    for seed in args.seeds:
        reuse = REPO if (seed == 0 and args.reuse_seed0) else None
        rows += run_seed(seed, args.datasets, args.methods, args.split, args.workdir, args.cores, reuse)
    for ds in args.datasets:
        print(summary_table(rows, ds) + "\n")
    if args.out and rows and not args.summarise:
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
