"""Label-free parameter choice vs the validation-label choice, on the test split of finished runs.

For each dataset and method, every criterion of :mod:`facecluster.evaluation.label_free` chooses
the method's parameter on the *test* split (it reads no labels, so choosing on the split being
clustered is legitimate); the table gives the test pairwise F at that value, the test F at the value
chosen on the validation labels (``results/{ds}/models/{method}_tuned.json``, its ``settings``
too), the loss (validation-choice F minus label-free F; positive = the label-free choice is worse),
and two references that are not label-free methods:

- ``transfer``: the other dataset's validation choice (value and settings, e.g. k), as a dataset
  run with ``models_from: <other>`` would use it;
- ``oracle``: the best test F over the grid — it peeks at the test labels, an upper bound only.

``--split train`` repeats it on the train split (a second check; the validation choice was made
on held-out identities of that split, so its F there is in-sample). The method clusters its own tuned ``k`` columns; the partition criteria score the partitions on the
first ``--score-k`` columns of the same kNN file (the features' kNN; Ada-NETS: its GCN embeddings'
kNN, ``embedding_knn.npz``), or on the method's own ``k`` with ``--score-k 0``; the similarity
criteria read the method's ``k`` columns. Reads existing artifacts only (nothing is rebuilt).

    .venv/bin/python benchmarks/label_free.py [--datasets synthetic npmscope] [--methods knn_cc ada_nets]
        [--criteria ...] [--score-k 80] [--out results/label_free.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from facecluster.config import load_dataset
from facecluster.data.io import load_knn
from facecluster.evaluation.label_free import CRITERIA, PARTITION_CRITERIA, choose_label_free, knn_graph
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.evaluation.search import grid_from_config
from facecluster.methods.graph_methods import RUNNERS, run_graph_method
from facecluster.progress import logger, setup_logging

#: how each benchmarked method's parameter relates to a cosine (for the similarity criteria)
PARAM_KIND = {"knn_cc": "cosine", "ada_nets": "cosine", "chinese_whispers": "cosine", "cdp": "cosine",
              "knn_dbscan": "distance", "leiden": "other"}


class Method:
    """One method on one dataset's test split: memoised clusterings and their test pairwise F."""

    def __init__(self, ds: dict, ds_name: str, method: str, results: Path, score_k: int, split: str = "test"):
        tuned = json.loads((results / ds_name / "models" / f"{method}_tuned.json").read_text())
        self.name, self.tuned = method, tuned
        self.graph_method = tuned["method"] if method == "ada_nets" else method
        base = ds["cluster"] if method == "ada_nets" else ds["methods"][method]
        self.base_settings = dict(base)
        self.settings = {**base, **tuned.get("settings", {})}
        self.grid = grid_from_config(base["grid"])
        split = results / ds_name / split
        self.nbrs, self.sims = load_knn(split / ("embedding_knn.npz" if method == "ada_nets" else "knn.npz"))
        self.labels = np.load(split / "labels.npy")
        self.k = int(self.settings["k"])
        width = self.k if score_k <= 0 else max(self.k, score_k)
        width = min(width, self.nbrs.shape[1])
        self.score_k = width
        self.graph = knn_graph(self.nbrs[:, :width], self.sims[:, :width])
        self._clusters: dict[tuple[float, int], np.ndarray] = {}
        self._fscore: dict[tuple[float, int], float] = {}

    def cluster(self, value: float, k: int | None = None) -> np.ndarray:
        """The method's clusters at ``value`` (with ``k`` columns: the tuned k by default)."""
        key = (round(float(value), 8), self.k if k is None else int(k))
        if key not in self._clusters:
            settings = {**self.settings, "k": key[1]}
            prepared = {}
            if RUNNERS[self.graph_method].prepare is not None:
                prepared = RUNNERS[self.graph_method].prepare(self.nbrs[:, :key[1]], None, settings)
            self._clusters[key] = run_graph_method(self.graph_method, self.nbrs, self.sims, float(value), settings,
                                                   **prepared)
        return self._clusters[key]

    def fscore(self, value: float, k: int | None = None) -> float:
        """Test pairwise F at ``value`` (reads the test labels: scoring only, never a choice)."""
        key = (round(float(value), 8), self.k if k is None else int(k))
        if key not in self._fscore:
            self._fscore[key] = float(pairwise_scores(self.labels, self.cluster(value, k))["fscore"])
        return self._fscore[key]


def run(datasets: list[str], methods: list[str], criteria: list[str], score_k: int, results: Path,
        configs: Path, split: str = "test") -> dict:
    """Every (dataset, method, criterion) row, the references and the timings."""
    cfgs = {d: load_dataset(configs / f"{d}.yaml") for d in datasets}
    tuned_all = {(d, m): json.loads((results / d / "models" / f"{m}_tuned.json").read_text())
                 for d in datasets for m in methods}
    out = {"score_k": score_k, "split": split, "rows": [], "references": []}
    for d in datasets:
        for m in methods:
            t0 = time.perf_counter()
            meth = Method(cfgs[d], d, m, results, score_k, split)
            param = PARAM_KIND.get(m, "other")
            val_value = float(meth.tuned["value"])
            f_val = meth.fscore(val_value)
            oracle_curve = [[float(v), meth.fscore(v)] for v in meth.grid]
            oracle = max(oracle_curve, key=lambda c: (c[1], -c[0]))
            ref = {"dataset": d, "method": m, "k": meth.k, "score_k": meth.score_k, "grid_size": int(meth.grid.size),
                   "validation_value": val_value, "validation_f": f_val, "oracle_value": oracle[0],
                   "oracle_f": oracle[1], "oracle_curve": oracle_curve}
            others = [o for o in datasets if o != d]
            for o in others:
                other = tuned_all[(o, m)]
                v, k_other = float(other["value"]), int(other.get("settings", {}).get("k", meth.k))
                ref["transfer"] = {"from": o, "value": v, "k": k_other, "f": meth.fscore(v, k_other),
                                   "f_own_k": meth.fscore(v)}
            ref["clustering_seconds"] = time.perf_counter() - t0
            out["references"].append(ref)
            for c in criteria:
                if c not in PARTITION_CRITERIA and param == "other":
                    continue
                t1 = time.perf_counter()
                chosen = choose_label_free(meth.cluster, meth.grid, meth.graph.nbrs, meth.graph.sims, c, param=param,
                                           k=meth.k, graph=meth.graph, name=f"{d}/{m}")
                seconds = time.perf_counter() - t1
                f = meth.fscore(chosen["value"])
                row = {"dataset": d, "method": m, "criterion": c, "value": chosen["value"], "f": f,
                       "validation_value": val_value, "validation_f": f_val, "loss": f_val - f,
                       "oracle_f": oracle[1], "seconds": seconds,
                       "curve": chosen["curve"], "threshold": chosen.get("threshold"), "mixture": chosen.get("mixture")}
                out["rows"].append(row)
                logger.info("%s/%s %s: value %g F %.4f (validation %g F %.4f), %.1f s", d, m, c, chosen["value"], f,
                            val_value, f_val, seconds)
    return out


def summary(out: dict, datasets: list[str], methods: list[str], criteria: list[str]) -> str:
    """The markdown tables: per row, then the mean loss per (method, criterion)."""
    lines = [f"Split '{out['split']}'; partition criteria score on the first "
             f"{out['score_k'] or 'k (the method’s own)'} kNN columns.", "",
             "| dataset | method | criterion | chosen value | F | validation value | F at validation value | loss | oracle F (peeks at the labels) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    refs = {(r["dataset"], r["method"]): r for r in out["references"]}
    for r in out["rows"]:
        lines.append(f"| {r['dataset']} | {r['method']} | {r['criterion']} | {r['value']:g} | {r['f']:.4f} | "
                     f"{r['validation_value']:g} | {r['validation_f']:.4f} | {r['loss']:+.4f} | {r['oracle_f']:.4f} |")
    for (d, m), ref in refs.items():
        tr = ref.get("transfer")
        if tr:
            lines.append(f"| {d} | {m} | *transfer from {tr['from']} (k {tr['k']}; not label-free: other labels)* | "
                         f"{tr['value']:g} | {tr['f']:.4f} | {ref['validation_value']:g} | {ref['validation_f']:.4f} | "
                         f"{ref['validation_f'] - tr['f']:+.4f} | {ref['oracle_f']:.4f} |")
        lines.append(f"| {d} | {m} | *oracle (best F over the grid; peeks at the labels, not a method)* | {ref['oracle_value']:g} | "
                     f"{ref['oracle_f']:.4f} | {ref['validation_value']:g} | {ref['validation_f']:.4f} | "
                     f"{ref['validation_f'] - ref['oracle_f']:+.4f} | {ref['oracle_f']:.4f} |")
    lines += ["", "Mean loss over the datasets (validation-choice F minus label-free F; lower is better):", "",
              "| method | " + " | ".join(criteria + ["transfer"]) + " |", "|---|" + "---:|" * (len(criteria) + 1)]
    for m in methods:
        cells = []
        for c in criteria:
            losses = [r["loss"] for r in out["rows"] if r["method"] == m and r["criterion"] == c]
            cells.append(f"{np.mean(losses):+.4f}" if len(losses) == len(datasets) else "n/a")
        tl = [refs[(d, m)]["validation_f"] - refs[(d, m)]["transfer"]["f"] for d in datasets
              if "transfer" in refs[(d, m)]]
        cells.append(f"{np.mean(tl):+.4f}" if tl else "n/a")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    ap.add_argument("--methods", nargs="+", default=["knn_cc", "ada_nets"],
                    help=f"among {', '.join(PARAM_KIND)} (the others' tuned jsons must exist)")
    ap.add_argument("--criteria", nargs="+", default=list(CRITERIA), choices=list(CRITERIA))
    ap.add_argument("--score-k", type=int, default=80,
                    help="kNN columns the partition criteria score on (0: the method's own k)")
    ap.add_argument("--split", default="test",
                    help="the split chosen on and scored (test; train as a second check: the validation choice saw part of it)")
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--configs", type=Path, default=Path("config/datasets"))
    ap.add_argument("--out", type=Path, default=None, help="write every row, curve and reference as JSON")
    args = ap.parse_args()
    setup_logging()
    start = time.perf_counter()
    out = run(args.datasets, args.methods, args.criteria, args.score_k, args.results, args.configs, args.split)
    out["seconds"] = time.perf_counter() - start
    print(summary(out, args.datasets, args.methods, args.criteria))
    print(f"\n{out['seconds']:.0f} s in all")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
