"""Ada-NETS GCN training recipes: does the trained GCN beat the same network at its initial weights?

Protocol (issue 20, item 3; every choice on held-out identities of the train split, test only reported):

* the train split is carved by identity (``carve_by_identity(labels, 0.2, seed=0)``) into a *fit*
  part and a *val* part; the filter and the GCN are fitted on the fit part only (its own exact
  kNN (k 256) -> structure space (k 80, λ 0.3) -> max-Q k* (β 0.5) -> adaptive filter, cpu preset
  + the dataset yaml's input/loss);
* as the pipeline chooses τ: the WHOLE train split (fit + val rows) and test each get their own
  kNN -> structure space -> k̂ from the fit-part filter -> adaptive adjacency. These are cached in
  ``/tmp/gcnrecipe/v2_*.npz`` (``--cache``), so a recipe only retrains the GCN;
* the GCN trains on a graph of the fit part (``train_graph``: ``knn`` = the plain top-256 kNN
  graph, the paper; ``max_q`` = the structure-space lists cut at the max-Q index k* of the fit
  labels, the pipeline's ``max_q_adjacency``), batches from the fit part's order graph;
* the whole train split is embedded on its adaptive adjacency, kNN (k 80) of the embeddings,
  threshold linkage; τ is grid-searched (the config's cluster grid) with pairwise F scored on the
  val rows only (``search_grid(..., rows=val_rows)``: the pairs touching them), then applied to test;
* the "untrained" twin is :class:`AdaNetsGCN` built with the same seed (same initial weights),
  no steps, embedded and clustered the same way.

Printed per (recipe, seed): train seconds, mean loss and terms of the first / last 100 steps,
pairwise F on val and on test, untrained vs trained (and τ).

    .venv/bin/python benchmarks/gcn_recipe.py --dataset synthetic --recipe release --seeds 0
    .venv/bin/python benchmarks/gcn_recipe.py --dataset synthetic --n-samples 10000 --recipe release fast alltopk
    .venv/bin/python benchmarks/gcn_recipe.py --dataset npmscope --recipe alltopk alltopk_4seeds --seeds 0 1 2
    .venv/bin/python benchmarks/gcn_recipe.py --dataset synthetic --recipe fast --set steps=200 --set lr=3e-3
    .venv/bin/python benchmarks/gcn_recipe.py --dataset npmscope --recipe mq_alltopk_8seeds --seeds 0 1 2

``--recipe`` names entries of :data:`RECIPES`; ``--set key=value`` overrides one knob of every
named recipe (train_gcn keyword arguments, the gcn section's ``order_k``/``batch_neighbours``/
``fanout``/``train_graph``, ``loss.<key>`` for the loss, or the schedule's ``steps``/``lr``/``warmup``/
``weight_decay``/``optimizer``). The test columns are always printed but never used for a choice.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch

torch.set_num_threads(1)

from facecluster.ada_nets.adaptive_filter import predict_k, train_filter  # noqa: E402
from facecluster.ada_nets.adjacency import adaptive_adjacency  # noqa: E402
from facecluster.ada_nets.gcn import AdaNetsGCN, embed, train_gcn  # noqa: E402
from facecluster.ada_nets.max_q import max_q_indices  # noqa: E402
from facecluster.ada_nets.structure_space import structure_space  # noqa: E402
from facecluster.config import load_dataset  # noqa: E402
from facecluster.data.validation import carve_by_identity, relabel  # noqa: E402
from facecluster.evaluation.metrics import pairwise_scores  # noqa: E402
from facecluster.evaluation.search import grid_from_config, search_grid  # noqa: E402
from facecluster.graph.knn import exact_knn  # noqa: E402
from facecluster.graph.ops import build_adjacency, threshold_clusters  # noqa: E402
from facecluster.training.loop import SGDSchedule, seed_everything  # noqa: E402
import scipy.sparse as sp  # noqa: E402

CPU = torch.device("cpu")

# The release's settings (config/datasets/*.yaml gcn + the cpu preset) and the candidates.
RELEASE = {
    "steps": 500, "lr": 1e-3, "warmup": 50, "weight_decay": 1e-5,
    "loss": {"type": "allmax", "pos_margin": 0.9, "neg_margin": 1.0, "pos_weight": 1.0},
    "kw": {},
}
RECIPES: dict[str, dict] = {
    "release": RELEASE,
}


def _recipe(name: str, **over) -> dict:
    r = copy.deepcopy(RELEASE)
    for key, value in over.items():
        if key in ("steps", "lr", "warmup", "weight_decay", "optimizer"):
            r[key] = value
        elif key.startswith("loss."):
            r["loss"][key[5:]] = value
        else:
            r["kw"][key] = value
    RECIPES[name] = r
    return r


# the candidates measured for issue 20 (none beat the untrained network on val: see the issue)
_recipe("fast", steps=300, first_layer="precomputed")
_recipe("allall", steps=300, first_layer="precomputed", **{"loss.type": "allall"})
_recipe("alltopk", steps=300, first_layer="precomputed", **{"loss.type": "alltopk"})
_recipe("alltopk_4seeds", steps=200, first_layer="precomputed", seeds_per_batch=4, **{"loss.type": "alltopk"})
_recipe("alltopk_local", steps=300, first_layer="precomputed", order_k=64, fanout=20, **{"loss.type": "alltopk"})
_recipe("allall_pull", steps=300, first_layer="precomputed",
        **{"loss.type": "allall", "loss.pos_margin": 1.0, "loss.neg_margin": -0.5})


# training on the fit part's max-Q graph (``train_graph: max_q``): the kind of graph met at inference
_recipe("mq_fast", steps=300, first_layer="precomputed", train_graph="max_q")
_recipe("mq_alltopk", steps=300, first_layer="precomputed", train_graph="max_q", **{"loss.type": "alltopk"})
_recipe("mq_allall", steps=300, first_layer="precomputed", train_graph="max_q", **{"loss.type": "allall"})
_recipe("mq_sampled", steps=300, train_graph="max_q")
_recipe("mq_alltopk_4seeds", steps=150, first_layer="precomputed", train_graph="max_q", seeds_per_batch=4,
        **{"loss.type": "alltopk"})
# the best on validation (3-seed mean Δval: npmscope +0.041, synthetic +0.018); test: npmscope +0.024, synthetic -0.004
_recipe("mq_alltopk_8seeds", steps=150, first_layer="precomputed", train_graph="max_q", seeds_per_batch=8,
        **{"loss.type": "alltopk"})


def _parse(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(value.lower(), value)


# --- data preparation (cached) ---------------------------------------------------------------------

def _load_raw(dataset: str, n_samples: int | None):
    if dataset == "synthetic":
        from facecluster.data.synthetic import generate_split, params_from_dict

        cfg = load_dataset("config/datasets/synthetic.yaml", check_files=False)
        settings = dict(cfg["synthetic"])
        seed = settings.pop("seed", 0)
        if n_samples:
            settings["n_samples"] = n_samples
        params = params_from_dict(settings)
        return cfg, {s: generate_split(params, s, seed) for s in ("train", "test")}
    cfg = load_dataset(f"config/datasets/{dataset}.yaml", check_files=False)
    out = {}
    for s in ("train", "test"):
        x = np.load(f"/work/shared/data/{dataset}/{s}.features.npy").astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s] = (x, np.load(f"/work/shared/data/{dataset}/{s}.labels.npy").astype(np.int64))
    return cfg, out


def prepare(dataset: str, n_samples: int | None, cache: str) -> dict:
    """Fit part (filter + GCN training data: kNN, plain kNN graph, max-Q graph), the whole train
    split's and test's adaptive adjacencies (k̂ from the fit-part filter), val rows; cached."""
    path = os.path.join(cache, f"v2_{dataset}{'_' + str(n_samples) if n_samples else ''}.npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=True)
        return z["data"].item()
    os.makedirs(cache, exist_ok=True)
    t0 = time.perf_counter()
    cfg, raw = _load_raw(dataset, n_samples)
    x_tr, y_tr = raw["train"]
    fit_rows, val_rows = carve_by_identity(y_tr, 0.2, seed=0)
    parts = {"fit": (x_tr[fit_rows], relabel(y_tr[fit_rows])), "train": (x_tr, y_tr), "test": raw["test"]}
    fcfg = cfg["adaptive_filter"]
    out = {}
    for name, (x, y) in parts.items():
        x = np.ascontiguousarray(x, dtype=np.float32)
        kn, ks = exact_knn(x, 256, backend="faiss")
        sn, sd = structure_space(kn, ks, k=cfg["structure"]["k"], lam=cfg["structure"]["lambda"])
        out[name] = {"x": x, "y": np.asarray(y, dtype=np.int64), "kn": kn, "ks": ks, "sn": sn, "sd": sd}
        print(f"{name}: {len(y)} rows, {len(np.unique(y))} identities ({time.perf_counter() - t0:.0f} s)", flush=True)
    fit = out["fit"]
    k_star = max_q_indices(fit["sn"], fit["y"], beta=cfg["max_q"]["beta"])
    seed_everything(fcfg["seed"])
    filt, _ = train_filter(fit["x"], fit["sn"], k_star, SGDSchedule.from_config(fcfg["train"]), fcfg["batch_size"],
                           fcfg["hidden"], fcfg["mlp_hidden"], fcfg["dropout"], CPU,
                           torch.Generator().manual_seed(fcfg["seed"]), loss=fcfg["loss"], input=fcfg["input"])
    d = {"fit": {"x": fit["x"], "y": fit["y"], "kn": fit["kn"],
                 "graphs": {"knn": build_adjacency(fit["kn"][:, :256], fit["ks"][:, :256], 256),
                            "max_q": adaptive_adjacency(fit["sn"], fit["sd"], k_star)}},
         "val_rows": val_rows, "k_star_mean": float(k_star.mean())}
    for name in ("train", "test"):
        p = out[name]
        k_pred = predict_k(filt, p["x"], p["sn"], CPU)
        d[name] = {"x": p["x"], "y": p["y"], "adj": adaptive_adjacency(p["sn"], p["sd"], k_pred)}
        print(f"{name}: k_pred mean {k_pred.mean():.2f} (fit k* mean {k_star.mean():.2f})", flush=True)
    d["grid"] = grid_from_config(cfg["cluster"]["grid"])
    d["gcn"] = cfg["gcn"]
    np.savez(path, data=np.array(d, dtype=object))
    print(f"prepared {path} in {time.perf_counter() - t0:.0f} s", flush=True)
    return d


# --- scoring ---------------------------------------------------------------------------------------

def score(model: AdaNetsGCN, d: dict) -> tuple[float, float, float]:
    """(val F at the val-best τ, test F at that τ, τ). As the pipeline: the whole train split (fit +
    val rows) is embedded on its adaptive adjacency and clustered, F scored on the val rows only."""
    knns = {}
    for name in ("train", "test"):
        e = embed(model, d[name]["x"], d[name]["adj"], CPU)
        knns[name] = exact_knn(e, 80, backend="faiss")
    nb, s = knns["train"]
    tau, curve, _ = search_grid(lambda t: threshold_clusters(nb, s, t), d["train"]["y"], d["grid"], "tau",
                                rows=d["val_rows"])
    f_val = max(f for _, f in curve)
    nb, s = knns["test"]
    f_test = pairwise_scores(d["test"]["y"], threshold_clusters(nb, s, tau))["fscore"]
    return f_val, f_test, tau


_UNTRAINED: dict = {}


def run(d: dict, recipe: dict, seed: int) -> dict:
    g = dict(d["gcn"])
    kw = dict(recipe["kw"])
    for key in ("hidden", "order_k", "batch_neighbours", "fanout", "train_graph"):  # the gcn section's own settings
        if key in kw:
            g[key] = kw.pop(key)
    fit = d["fit"]
    sched = SGDSchedule(steps=recipe["steps"], lr=recipe["lr"], warmup=recipe["warmup"],
                        weight_decay=recipe["weight_decay"], optimizer=recipe.get("optimizer", "adam"), log_every=1e9)
    seed_everything(seed)
    untrained = AdaNetsGCN(fit["x"].shape[1], g["hidden"], g.get("init", "release"))
    seed_everything(seed)
    terms: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    model, curve = train_gcn(fit["x"], fit["y"], fit["kn"], fit["graphs"][g.get("train_graph", "knn")], sched,
                             g["hidden"], g["order_k"], g["batch_neighbours"], g["fanout"], recipe["loss"], CPU,
                             np.random.default_rng(seed), init=g.get("init", "release"), terms_out=terms, **kw)
    secs = time.perf_counter() - t0
    for a, b in zip(untrained.parameters(), model.parameters()):
        assert a.shape == b.shape
    loss = np.array([c[1] for c in curve])
    w = min(100, max(1, len(loss) // 2))
    r = {"secs": secs, "loss0": loss[:w].mean(), "loss1": loss[-w:].mean(),
         "terms": {k: (np.mean(v[:w]), np.mean(v[-w:])) for k, v in terms.items()}}
    key = (seed, g["hidden"], g.get("init", "release"))
    if key not in _UNTRAINED:  # the untrained twin depends on the seed and the architecture only
        _UNTRAINED[key] = score(untrained, d)
    r["u_val"], r["u_test"], r["u_tau"] = _UNTRAINED[key]
    r["t_val"], r["t_test"], r["t_tau"] = score(model, d)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--n-samples", type=int, default=None, help="synthetic: samples per split (config: 20000)")
    ap.add_argument("--recipe", nargs="+", default=["release"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", action="append", default=[], help="key=value override for every recipe")
    ap.add_argument("--cache", default="/tmp/gcnrecipe")
    args = ap.parse_args()
    d = prepare(args.dataset, args.n_samples, args.cache)
    print(f"| dataset | recipe | seed | train s | loss first→last 100 | terms first→last | val F untrained | val F trained "
          f"| Δval | test F untrained | test F trained | Δtest | τ u/t |")
    print("|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.recipe:
        recipe = copy.deepcopy(RECIPES[name])
        label = name
        for kv in args.set:
            key, value = kv.split("=", 1)
            value = _parse(value)
            if key in ("steps", "lr", "warmup", "weight_decay", "optimizer"):
                recipe[key] = value
            elif key.startswith("loss."):
                recipe["loss"][key[5:]] = value
            else:
                recipe["kw"][key] = value
            label += f" {key}={value}"
        for seed in args.seeds:
            r = run(d, recipe, seed)
            terms = ", ".join(f"{k} {a:.3f}→{b:.3f}" for k, (a, b) in r["terms"].items() if k in ("pos", "neg", "max_neg_cos"))
            print(f"| {args.dataset}{'@' + str(args.n_samples) if args.n_samples else ''} | {label} | {seed} | "
                  f"{r['secs']:.0f} | {r['loss0']:.4f}→{r['loss1']:.4f} | {terms} | {r['u_val']:.4f} | {r['t_val']:.4f} | "
                  f"{r['t_val'] - r['u_val']:+.4f} | {r['u_test']:.4f} | {r['t_test']:.4f} | {r['t_test'] - r['u_test']:+.4f} | "
                  f"{r['u_tau']:.4f}/{r['t_tau']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
