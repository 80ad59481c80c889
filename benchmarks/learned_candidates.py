"""Candidate settings of the learned methods, chosen on a validation part of the train split.

For one dataset: the train split is carved by identity into a fitting part and a validation part
(:func:`facecluster.data.validation.carve_by_identity`, 20 % of identities, seed 0); each part and
the test split get their own exact kNN (256 columns). For every learned method and every candidate
setting, the method is trained on *fit* through the pipeline's specs
(:data:`facecluster.methods.learned.LEARNED`; settings = the dataset config's ``methods.<name>``
(cpu preset) with the ``--override`` JSON and then the candidate merged on top), with snapshots of
the weights at fractions of the training budget (``--fractions``: a snapshot of one run, inside
its schedule, as a best-checkpoint rule would see it). Each snapshot is evaluated on *val*: its
parameter (τ, L-GCN's threshold) grid-searched there, max pairwise F; and on *test* at the
val-chosen value. ``knn_cc`` gets k and τ chosen on val the same way. The choice per method
(candidate × snapshot, max val F; ties: the earlier row) never reads test; test F of every row is
printed for the analysis only.

GCN-E builds on GCN-V: on the GCN-V (candidate, snapshot) chosen on val in the same run, or, when
``gcn_v`` is not among ``--methods``, on one GCN-V trained with ``--gcn-v-base``.

LCE trains two stages (LCENet, then PCENet on the density edges of the final LCENet); its snapshot
at fraction f pairs LCENet and PCENet each at fraction f of their own budgets.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/learned_candidates.py --dataset npmscope \
        --methods knn_cc,gcn_v,gcn_ve --out /tmp/lc_npmscope.jsonl
    ... --candidates '{"gcn_v": [{"k": 5}, {"k": 10}]}' --override '{"gcn_v": {"hidden": 512}}'
    ... --dataset synthetic --n-samples 10000     # a smaller synthetic split while exploring

One JSON line per evaluated row goes to ``--out`` (appended); a table goes to stdout.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facecluster.config import load_dataset  # noqa: E402
from facecluster.data.validation import carve_by_identity, relabel  # noqa: E402
from facecluster.evaluation.metrics import pairwise_scores  # noqa: E402
from facecluster.evaluation.search import grid_from_config, search_grid  # noqa: E402
from facecluster.graph.knn import exact_knn  # noqa: E402
from facecluster.methods import gcn_e, gcn_v, lce, pivot_subgraph  # noqa: E402
from facecluster.methods.graph_methods import run_graph_method, tune_graph_method  # noqa: E402
from facecluster.methods.learned import LEARNED, SplitData  # noqa: E402
from facecluster.training import loop  # noqa: E402

KNN_K = 256
CACHE = Path(os.environ.get("LC_CACHE", "/tmp/learned_candidates_cache"))

DEFAULT_CANDIDATES = {
    "knn_cc": [{"k": 10}, {"k": 20}, {"k": 40}, {"k": 80}],
    "gcn_v": [{"k": 5}, {"k": 10}, {"k": 20}, {"k": 80}],
    "gcn_ve": [{"k": 5}, {"k": 10}, {"k": 20}],
    "lgcn": [{"k_at_hop_train": [5, 3], "k_at_hop_test": [5, 3], "active": 3},
             {"k_at_hop_train": [10, 5], "k_at_hop_test": [10, 5], "active": 5},
             {"k_at_hop_train": [20, 5], "k_at_hop_test": [20, 5], "active": 5}],
    "lce": [{"k": 8}, {"k": 16}, {"k": 24}],
}


# --- data -------------------------------------------------------------------------------------------

def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def raw_splits(ds: str, cfg: dict, n_samples: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if ds == "npmscope":
        base = Path("/work/shared/data/npmscope")
        if not base.exists():
            base = ROOT / "resources" / "npmscope"
        return {s: (_unit(np.load(base / f"{s}.features.npy")), np.load(base / f"{s}.labels.npy").astype(np.int64))
                for s in ("train", "test")}
    if cfg["format"] == "synthetic":
        from facecluster.data.synthetic import generate_split, params_from_dict

        settings = dict(cfg["synthetic"])
        seed = settings.pop("seed", 0)
        if n_samples:
            settings["n_samples"] = n_samples
        params = params_from_dict(settings)
        return {s: tuple(generate_split(params, s, seed)) for s in ("train", "test")}
    raise SystemExit(f"dataset {ds}: only npmscope and synthetic datasets are read by this benchmark")


def load_parts(ds: str, cfg: dict, n_samples: int | None, val_fraction: float, carve_seed: int) -> dict[str, SplitData]:
    """fit / val (carved from train by identity) and test, each with its own exact kNN (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tag = f"{ds}_n{n_samples or 'full'}_v{val_fraction}_s{carve_seed}_k{KNN_K}.npz"
    path = CACHE / tag
    names = ("fit", "val", "test", "train")
    if path.exists():
        z = np.load(path)
        out = {p: SplitData(z[f"{p}_x"], z[f"{p}_nbrs"], z[f"{p}_sims"], z[f"{p}_y"]) for p in names}
        out["val_rows"] = z["val_rows"]
        return out
    raw = raw_splits(ds, cfg, n_samples)
    x, y = raw["train"]
    fit_rows, val_rows = carve_by_identity(y, val_fraction, seed=carve_seed)
    parts = {"fit": (x[fit_rows], relabel(y[fit_rows])), "val": (x[val_rows], relabel(y[val_rows])),
             "test": raw["test"], "train": (x, y)}
    out, arrays = {}, {}
    for p, (xp, yp) in parts.items():
        xp = np.ascontiguousarray(xp, dtype=np.float32)
        nbrs, sims = exact_knn(xp, min(KNN_K, xp.shape[0]), backend="auto")
        out[p] = SplitData(xp, nbrs, sims, yp)
        arrays.update({f"{p}_x": xp, f"{p}_y": yp, f"{p}_nbrs": nbrs, f"{p}_sims": sims})
    out["val_rows"] = arrays["val_rows"] = val_rows
    np.savez(path, **arrays)
    return out


# --- snapshots inside one training run -------------------------------------------------------------

class Snapshots:
    """Replaces ``train_loop`` in the method modules: the same loop, plus copies of the weights after
    ``round(f * steps)`` steps for each fraction f, with the training seconds up to there."""

    def __init__(self, fractions: list[float]) -> None:
        self.fractions = fractions
        self.store: dict[str, dict[int, tuple[dict, float]]] = {}
        self._orig = loop.train_loop

    def __enter__(self):
        def wrapped(model, schedule, step_fn, name, terms_out=None, **kw):
            at = {int(round(f * schedule.steps)) for f in self.fractions}
            store = self.store.setdefault(name, {})
            t0 = time.perf_counter()

            def fn(step):
                if step - 1 in at:
                    store[step - 1] = (copy.deepcopy(model.state_dict()), time.perf_counter() - t0)
                return step_fn(step)

            curve = self._orig(model, schedule, fn, name, terms_out, **kw)
            store[schedule.steps] = (copy.deepcopy(model.state_dict()), time.perf_counter() - t0)
            return curve

        for mod in (gcn_v, gcn_e, pivot_subgraph, lce):
            mod.train_loop = wrapped
        return self

    def __exit__(self, *exc):
        for mod in (gcn_v, gcn_e, pivot_subgraph, lce):
            mod.train_loop = self._orig


def deep_merge(a: dict, b: dict) -> dict:
    out = copy.deepcopy(a)
    for key, value in b.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _scores(labels, clusters) -> dict:
    s = pairwise_scores(labels, clusters)
    return {"P": s["precision"], "R": s["recall"], "F": s["fscore"], "clusters": int(clusters.max() + 1)}


# --- methods ----------------------------------------------------------------------------------------

VAL_MODES = ("alone", "embedded", "touching")


def _c2(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float((x * (x - 1) / 2).sum())


def touching_f(labels: np.ndarray, clusters: np.ndarray, val_mask: np.ndarray) -> float:
    """Pairwise F over the pairs with at least one val row (val-val and val-fit pairs; fit-fit pairs,
    on which the model was fitted, left out). Val and fit identities are disjoint, so the true pairs
    are the val-val same-identity ones; a val row merged with fit rows costs precision."""
    _, ci = np.unique(clusters, return_inverse=True)
    n_c = np.bincount(ci)
    n_c_fit = np.bincount(ci[~val_mask], minlength=n_c.size)
    predicted = _c2(n_c) - _c2(n_c_fit)
    _, both = np.unique(ci[val_mask].astype(np.int64) * (int(labels.max()) + 1) + labels[val_mask], return_counts=True)
    tp = _c2(both)
    true = _c2(np.unique(labels[val_mask], return_counts=True)[1])
    p, r = (tp / predicted if predicted else 0.0), (tp / true if true else 0.0)
    return 2 * p * r / (p + r) if p + r else 0.0


def val_views(parts):
    """The ways of scoring on val: ``alone`` = the val part on its own kNN (its size only);
    ``embedded`` = the whole train split (fit ∪ val, one kNN) clustered, pairwise F on the val rows
    only; ``touching`` = the same clustering, pairwise F over the pairs with at least one val row
    (:func:`touching_f`). Each: (split to predict and cluster, rows scored or None, their labels,
    None or the val mask of the touching score)."""
    rows = parts["val_rows"]
    mask = np.zeros(parts["train"].labels.shape[0], dtype=bool)
    mask[rows] = True
    return {"alone": (parts["val"], None, parts["val"].labels, None),
            "embedded": (parts["train"], rows, parts["train"].labels[rows], None),
            "touching": (parts["train"], None, parts["train"].labels, mask)}


def _search(cluster, score, grid):
    curve = [(float(v), score(cluster(float(v)))) for v in np.sort(np.asarray(grid, dtype=np.float64))]
    return max(curve, key=lambda c: (c[1], -c[0]))


def choose(cluster, rows, labels, grid, name, mask=None):
    """(value, val F) of the grid search on the scored rows (a grid of None: no parameter)."""
    if mask is not None:
        score = lambda c: touching_f(labels, c, mask)  # noqa: E731
    elif rows is None:
        score = lambda c: _scores(labels, c)["F"]  # noqa: E731
    else:
        score = lambda c: _scores(labels, c[rows])["F"]  # noqa: E731
    if grid is None:
        return None, score(cluster(None))
    return _search(cluster, score, grid)


def run_knn_cc(parts, cfg, candidates, emit):
    settings0 = cfg["methods"]["knn_cc"]
    grid = grid_from_config(settings0["grid"])
    test = parts["test"]
    for cand in candidates:
        settings = deep_merge(settings0, cand)
        row = {"method": "knn_cc", "cand": cand, "step": None, "train_s": 0.0}
        for mode, (data, rows, labels, mask) in val_views(parts).items():
            value, val_f = choose(lambda v: run_graph_method("knn_cc", data.nbrs, data.sims, v, settings),
                                  rows, labels, grid, "knn_cc tau", mask)
            t = _scores(test.labels, run_graph_method("knn_cc", test.nbrs, test.sims, value, settings))
            row[mode] = {"value": value, "val_F": val_f, "test": t}
        emit(row)


def evaluate_learned(name, model, settings, parts, models, device):
    """Per val mode: the val-chosen parameter, val F there, and the test scores at it."""
    spec = LEARNED[name]
    grid = grid_from_config(settings["grid"]) if spec.param else None
    test = parts["test"]
    pt = spec.predict(model, test, settings, device, models)
    out, predicted = {}, {}
    for mode, (data, rows, labels, mask) in val_views(parts).items():
        if id(data) not in predicted:
            predicted[id(data)] = spec.predict(model, data, settings, device, models)
        pv = predicted[id(data)]
        value, val_f = choose(lambda v, pv=pv, data=data: spec.cluster(pv, data, v, settings)[0], rows, labels, grid,
                              f"{name} {spec.param}", mask)
        out[mode] = {"value": value, "val_F": val_f, "test": _scores(test.labels, spec.cluster(pt, test, value, settings)[0])}
    return out


def run_learned(name, parts, cfg, candidates, override, fractions, seed, emit, models=None, keep_models=False):
    spec = LEARNED[name]
    device = torch.device("cpu")
    base = deep_merge(cfg["methods"][name], override.get(name, {}))
    kept = []
    for cand in candidates:
        settings = deep_merge(base, cand)
        settings["seed"] = seed
        if spec.param and settings.get("tune") == "fixed":
            settings["tune"] = "train"  # this benchmark always chooses the parameter (on val)
        loop.seed_everything(seed)
        t0 = time.perf_counter()
        with Snapshots(fractions) as snaps:
            model, _, _ = spec.train(parts["fit"], settings, device, np.random.default_rng(seed), models or {})
        train_s = time.perf_counter() - t0
        final = copy.deepcopy(model.state_dict())
        stages = list(snaps.store)
        # the snapshot at each fraction: the stage(s) at the same fraction of their budgets
        for f in fractions:
            state, secs = {}, 0.0
            for stage in stages:
                store = snaps.store[stage]
                total = max(store)
                s = int(round(f * total))
                sd, sec = store[s]
                secs += sec
                if name == "lce":
                    sub = "lcenet" if stage == "LCENet" else "pcenet"
                    state.update({f"{sub}.{k}": v for k, v in sd.items()})
                else:
                    state.update(sd)
            if name == "lce" and len(stages) == 1:  # no PCENet stage
                state.update({k: v for k, v in final.items() if k.startswith("pcenet.")})
            model.load_state_dict(state)
            model.eval()
            te = time.perf_counter()
            res = evaluate_learned(name, model, settings, parts, models or {}, device)
            steps = {stage: int(round(f * max(snaps.store[stage]))) for stage in stages}
            row = {"method": name, "cand": cand, "step": steps, "frac": f, "train_s": round(secs, 1),
                   "train_total_s": round(train_s, 1), "eval_s": round(time.perf_counter() - te, 1),
                   "seed": seed, **res}
            emit(row)
            if keep_models:
                kept.append((row, copy.deepcopy(state), settings))
        model.load_state_dict(final)
    return kept


# --- main -------------------------------------------------------------------------------------------

def print_table(rows):
    for mode in VAL_MODES:
        print(f"\nval mode '{mode}'\n{'method':7s} {'candidate':44s} {'steps':>12s} {'train s':>7s} {'value':>6s} "
              f"{'val F':>6s} {'test F':>6s} {'test P':>6s} {'test R':>6s} {'#cl':>6s}")
        best = {}
        for r in rows:
            key = r["method"]
            if key not in best or r[mode]["val_F"] > best[key][mode]["val_F"]:
                best[key] = r
        for r in rows:
            m = r[mode]
            steps = "-" if r["step"] is None else "/".join(str(v) for v in r["step"].values())
            mark = " <- chosen on val" if best[r["method"]] is r else ""
            value = "-" if m["value"] is None else f"{m['value']:.3f}"
            print(f"{r['method']:7s} {json.dumps(r['cand'], separators=(',', ':')):44s} {steps:>12s} "
                  f"{r['train_s']:7.1f} {value:>6s} {m['val_F']:6.4f} {m['test']['F']:6.4f} {m['test']['P']:6.4f} "
                  f"{m['test']['R']:6.4f} {m['test']['clusters']:6d}{mark}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--methods", default="knn_cc,gcn_v,gcn_ve,lgcn,lce")
    ap.add_argument("--candidates", default="{}", help="JSON {method: [candidate, ...]} replacing the defaults")
    ap.add_argument("--override", default="{}", help="JSON {method: settings} merged on the config before candidates")
    ap.add_argument("--fractions", default="0,0.25,0.5,1", help="0 = the initial weights")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--gcn-v-base", default='{"k": 10}', help="GCN-V candidate for gcn_ve when gcn_v is not run")
    ap.add_argument("--n-samples", type=int, default=None, help="synthetic: samples per split (default: the config's)")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--carve-seed", type=int, default=0)
    ap.add_argument("--val-mode", choices=VAL_MODES, default="touching",
                    help="which val score picks the GCN-V that gcn_ve builds on (both are reported)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="append one JSON line per row")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    except ImportError:
        pass
    from facecluster.progress import setup_logging

    if os.environ.get("LC_LOG"):
        setup_logging()
    cfg = load_dataset(str(ROOT / "config" / "datasets" / f"{args.dataset}.yaml"), check_files=False)
    t0 = time.perf_counter()
    parts = load_parts(args.dataset, cfg, args.n_samples, args.val_fraction, args.carve_seed)
    print(f"{args.dataset}: fit {parts['fit'].features.shape[0]} rows / {parts['fit'].labels.max() + 1} ids, "
          f"val {parts['val'].features.shape[0]} / {parts['val'].labels.max() + 1}, "
          f"test {parts['test'].features.shape[0]} / {np.unique(parts['test'].labels).size} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    candidates = {**DEFAULT_CANDIDATES, **json.loads(args.candidates)}
    override = json.loads(args.override)
    fractions = [float(f) for f in args.fractions.split(",")]
    methods = args.methods.split(",")
    rows = []

    def emit(row):
        row = {"dataset": args.dataset, "n_samples": args.n_samples, **row}
        rows.append(row)
        steps = "-" if row["step"] is None else row["step"]
        print(f"  {row['method']} {json.dumps(row['cand'])} steps {steps} train {row['train_s']} s: " + "; ".join(
            f"{m}: value {row[m]['value']} val F {row[m]['val_F']:.4f} test F {row[m]['test']['F']:.4f}"
            for m in VAL_MODES), flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    gcn_v_models = []
    for name in methods:
        if name == "knn_cc":
            run_knn_cc(parts, cfg, candidates["knn_cc"], emit)
        elif name == "gcn_ve":
            if not gcn_v_models:
                gcn_v_models = run_learned("gcn_v", parts, cfg, [json.loads(args.gcn_v_base)], override, [1.0],
                                           args.seed, emit, keep_models=True)
            row, state, settings = max(gcn_v_models, key=lambda m: m[0][args.val_mode]["val_F"])
            model = gcn_v.GCNV(parts["fit"].features.shape[1], settings["hidden"], settings["dropout"])
            model.load_state_dict(state)
            model.eval()
            print(f"  gcn_ve on GCN-V {json.dumps(row['cand'])} step {row['step']} "
                  f"({args.val_mode} val F {row[args.val_mode]['val_F']:.4f})", flush=True)
            models = {"gcn_v": model, "gcn_v_settings": {"k": settings["k"], "hidden": settings["hidden"]}}
            run_learned("gcn_ve", parts, cfg, candidates["gcn_ve"], override, fractions, args.seed, emit, models)
        else:
            kept = run_learned(name, parts, cfg, candidates[name], override, fractions, args.seed, emit,
                               keep_models=name == "gcn_v")
            if name == "gcn_v":
                gcn_v_models = kept
    print_table(rows)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
