"""One learned comparison method with changed settings, on a dataset's `make run` artifacts.

Trains the method on the train split as `train_learned` does (settings = the dataset config's,
with the JSON overrides merged on top), chooses its parameter on the train split when the
settings say `tune: train` (fixed value otherwise), and prints the test split's pairwise scores
and timings. gcn_ve reads `results/{ds}/models/gcn_v.pt`.

    .venv/bin/python benchmarks/learned_variant.py synthetic lgcn '{"tune": "train"}'
    .venv/bin/python benchmarks/learned_variant.py synthetic lgcn \
        '{"k_at_hop_train": [20, 5], "k_at_hop_test": [20, 5], "hidden": 128,
          "train": {"steps": 1000, "lr": 0.001, "optimizer": "adam", "warmup": 50}}'
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from facecluster.config import load_dataset
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.evaluation.search import grid_from_config, search_grid
from facecluster.methods.learned import LEARNED, load_dependencies, load_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("method", choices=sorted(LEARNED))
    ap.add_argument("overrides", nargs="?", default="{}", help="JSON merged into methods.<method>")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = load_dataset(f"config/datasets/{args.dataset}.yaml")
    settings = copy.deepcopy(cfg["methods"][args.method])
    settings.update(json.loads(args.overrides))
    base = f"results/{args.dataset}"
    splits = {s: load_split(f"{base}/{s}/features.npy", f"{base}/{s}/knn.npz", f"{base}/{s}/labels.npy")
              for s in (cfg["train_split"], "test")}
    train, test = splits[cfg["train_split"]], splits["test"]
    spec = LEARNED[args.method]
    models = load_dependencies(args.method, {dep: f"{base}/models/{dep}.pt" for dep in spec.needs})
    device = torch.device("cpu")
    t0 = time.perf_counter()
    model, curve, _ = spec.train(train, settings, device, np.random.default_rng(settings["seed"]), models)
    t1 = time.perf_counter()
    value = settings.get(spec.param) if spec.param else None
    if spec.param and settings["tune"] == "train":
        pred = spec.predict(model, train, settings, device, models)
        value, _, _ = search_grid(lambda v: spec.cluster(pred, train, v, settings)[0], train.labels,
                                  grid_from_config(settings["grid"]), f"{args.method}: {spec.param}")
    t2 = time.perf_counter()
    labels, _ = spec.cluster(spec.predict(model, test, settings, device, models), test, value, settings)
    scores = pairwise_scores(test.labels, labels)
    first = np.mean([c[1] for c in curve[:20]])
    last = np.mean([c[1] for c in curve[-20:]])
    print(f"{args.dataset} {args.method} {args.overrides}: {spec.param} {value}, test pairwise "
          f"P {scores['precision']:.4f} R {scores['recall']:.4f} F {scores['fscore']:.4f}, {labels.max() + 1} clusters; "
          f"train {t1 - t0:.1f} s, tune {t2 - t1:.1f} s, test {time.perf_counter() - t2:.1f} s; "
          f"loss {first:.4f} -> {last:.4f}")


if __name__ == "__main__":
    main()
