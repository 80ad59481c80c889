"""Cost and scores of the feature baselines (KMeans, spectral, Ward, DBSCAN, HDBSCAN, MeanShift) on a split.

Runs each baseline of :mod:`facecluster.methods.feature_baselines` on the prepared features of a
finished run (``results/<ds>/<split>/features.npy``) under its time budget: with the parameter the
pipeline chose on the validation part when ``results/<ds>/models/<method>_tuned.json`` exists
(DBSCAN's eps, HDBSCAN's min_cluster_size, MeanShift's bandwidth; build them with
``snakemake --cores all results/<ds>/models/<method>_tuned.json``), else with the schema defaults
(the releases' settings; the true number of identities where the call needs one). Prints one row
per method and size: the setting, N, the budget's estimate (two timed samples, extrapolated), the
measured seconds, pairwise and BCubed F — or the refusal / stop message. ``--sizes`` runs on the
first N rows of a fixed permutation of the split too (the cost against N).

    .venv/bin/python benchmarks/feature_baselines.py [--datasets synthetic npmscope] [--split test]
        [--methods kmeans spectral hac_ward dbscan hdbscan meanshift] [--max-seconds 600] [--sizes 2000 5000]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.config import load_dataset  # noqa: E402
from facecluster.evaluation.metrics import bcubed_scores, pairwise_scores  # noqa: E402
from facecluster.methods.budget import BudgetError  # noqa: E402
from facecluster.methods.feature_baselines import FEATURE_BASELINES, feature_baseline  # noqa: E402
from facecluster.progress import logger  # noqa: E402
from facecluster.registry import METHODS  # noqa: E402


class _Estimate(logging.Handler):
    """Keeps the budget's estimate line of the last run."""

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if ": estimated " in msg:
            self.last = msg.split(": estimated ", 1)[1].split(" s ", 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    ap.add_argument("--split", default="test")
    ap.add_argument("--methods", nargs="+", default=list(FEATURE_BASELINES))
    ap.add_argument("--max-seconds", type=float, default=None, help="override every method's max_seconds")
    ap.add_argument("--sizes", nargs="+", type=int, default=[], help="also run on the first N rows of a fixed permutation")
    args = ap.parse_args()
    catcher = _Estimate()
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    print("| dataset | method | setting | N | estimate (s) | measured (s) | pairwise F | BCubed F | clusters |\n"
          "|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        ds = load_dataset(REPO / "config" / "datasets" / f"{name}.yaml", check_files=False)
        x_all = np.load(REPO / "results" / name / args.split / "features.npy")
        y_all = np.load(REPO / "results" / name / args.split / "labels.npy")
        order = np.random.default_rng(0).permutation(x_all.shape[0])
        for method in args.methods:
            for n in [*sorted(m for m in args.sizes if m < x_all.shape[0]), x_all.shape[0]]:
                rows = np.sort(order[:n])
                x, y = x_all[rows], y_all[rows]
                settings = dict(ds["methods"][method])
                setting = "schema default"
                param = METHODS[method].param
                tuned = REPO / "results" / name / "models" / f"{method}_tuned.json"
                if param and tuned.exists():
                    settings[param] = json.loads(tuned.read_text())["value"]
                    setting = f"{param} {settings[param]:g} (validation)"
                elif param:
                    setting = f"{param} {settings[param]} (schema)"
                if "n_clusters" in settings and settings["n_clusters"] is None:
                    settings["n_clusters"] = int(np.unique(y).size)
                    setting = "true cluster count"
                if args.max_seconds is not None:
                    settings["max_seconds"] = args.max_seconds
                catcher.last = ""
                t0 = time.perf_counter()
                try:
                    labels = feature_baseline(method, x, settings)
                except BudgetError as exc:
                    print(f"| {name} | {method} | {setting} | {n} | {catcher.last} | — | — | — | {exc} |", flush=True)
                    break  # larger sizes cost more
                seconds = time.perf_counter() - t0
                pw, bc = pairwise_scores(y, labels)["fscore"], bcubed_scores(y, labels)["fscore"]
                print(f"| {name} | {method} | {setting} | {n} | {catcher.last or '—'} | {seconds:.0f} | {pw:.4f} | {bc:.4f} | "
                      f"{labels.max() + 1} |", flush=True)

if __name__ == "__main__":
    main()
