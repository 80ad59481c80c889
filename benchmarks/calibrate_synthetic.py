"""Calibration report of the synthetic benchmark (facecluster.data.synthetic).

Generates the train and test splits with the default (or overridden) parameters and prints every
acceptance check of the benchmark as a table (figure, value, target range, pass/fail). Common
to all rows: ``knn_cc`` = link i–j when j is among i's K = 80 nearest neighbours (self included)
and cos >= tau, clusters = connected components; tau is always tuned on the *train* split (grid
search, max pairwise F) and applied to test; scores are test pairwise F unless stated.

* size statistics of the test split (samples, identities, singletons, share in identities > 80);
* exact kNN precision@80 on test (80 nearest neighbours by cosine, self excluded, share with the
  query's identity, averaged over samples);
* ``knn_cc`` on the raw features: the reference F of every other row;
* learned linear maps (learned on train labels, applied to both splits, rows re-normalised, then
  ``knn_cc``): within-class whitening (``Sw^-1/2`` of the pooled within-class covariance, with a
  ridge of 1e-3 x its mean eigenvalue), and projecting out the top r in {4, 16, 64}
  eigen-directions of the within-class scatter. Target: each <= ``knn_cc`` + 0.05;
* the graph-free MLP control (``--mlp-control``, about a minute of CPU at 20,000 per split):
  :class:`facecluster.ada_nets.gcn.AdaNetsGCN` trained with :func:`facecluster.ada_nets.gcn.train_gcn` on train with
  an identity-only graph (every node its own neighbourhood, so the two GraphSAGE layers act per
  sample: an MLP) and the ``gcn:`` settings of ``config/datasets/synthetic.yaml``; both splits are
  embedded on identity graphs, then kNN and ``knn_cc``. Target: <= ``knn_cc`` + 0.05;
* clean neighbourhoods: two rounds of ``X <- A X`` (uniform mean, rows re-normalised at the end)
  where row i of A averages i's first k*_i cosine-kNN entries, *self included in column 0 and
  counted in k** (k*_i = :func:`facecluster.ada_nets.max_q.max_q_indices` of the top-80 cosine kNN lists
  with self first, beta 0.5, from each split's own labels: a label oracle, as Ada-NETS' training
  target), then ``knn_cc``. Target: >= ``knn_cc`` + 0.15 (clean neighbourhoods carry
  information);
* noisy neighbourhoods: the same smoothing over the plain top-20 cosine kNN (self included).
  Target: <= ``knn_cc`` + 0.08.

The threshold grid is 0.30..0.99 step 0.01 plus 0.991..0.999 step 0.001 (smoothed features are
very similar to each other, so their best tau can be above 0.99). Everything is deterministic for
given arguments (the MLP control too, on CPU with one thread).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/calibrate_synthetic.py [--n-samples 20000]
        [--seed 0] [--set family_spread=0.6 --set spread=0.5 ...] [--mlp-control] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

try:
    import facecluster  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from facecluster.config import load_dataset
from facecluster.graph.knn import exact_knn
from facecluster.ada_nets.max_q import max_q_indices
from facecluster.evaluation.metrics import evaluate
from facecluster.data.io import l2_normalise
from facecluster.data.synthetic import SyntheticParams, generate_split, params_from_dict
from facecluster.graph.ops import threshold_clusters
from facecluster.evaluation.search import threshold_grid
from facecluster.methods.graph_methods import tune_graph_method

REPO = Path(__file__).resolve().parents[1]
K = 80
SMOOTH_K = 20
SMOOTH_ROUNDS = 2
PROJ_DIMS = (4, 16, 64)
WHITEN_RIDGE = 1e-3
BETA = 0.5
GRID = np.concatenate([threshold_grid(0.30, 0.99, 0.01), threshold_grid(0.991, 0.999, 0.001)])

# Acceptance ranges: (low, high) on the figure itself, or on its gain over knn_cc ("gain" rows).
TARGETS = {
    "precision_at_80": (0.55, 0.80),
    "knn_cc": (0.55, 0.75),
    "whiten": (None, 0.05),
    **{f"proj{r}": (None, 0.05) for r in PROJ_DIMS},
    "mlp": (None, 0.05),
    "smooth_kstar": (0.15, None),
    "smooth_top20": (None, 0.08),
}


def knn_precision(nbrs: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Mean fraction of the k nearest neighbours (column 0 = self, excluded) sharing the label."""
    return float((labels[nbrs[:, 1 : k + 1]] == labels[:, None]).mean())


def mean_smooth(features: np.ndarray, nbrs: np.ndarray, counts: np.ndarray | int = SMOOTH_K,
                rounds: int = SMOOTH_ROUNDS) -> np.ndarray:
    """``rounds`` applications of ``X <- A X``, A averaging row i over ``nbrs[i, :counts_i]``
    (column 0 = self, so self is included and counted) with uniform weights; then L2-normalise."""
    n = features.shape[0]
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (n,))
    mask = np.arange(nbrs.shape[1])[None, :] < counts[:, None]
    indptr = np.concatenate([[0], np.cumsum(counts)])
    a = sp.csr_matrix((np.repeat(1.0 / counts, counts), nbrs[mask].astype(np.int64), indptr), shape=(n, n))
    x = features.astype(np.float64)
    for _ in range(rounds):
        x = a @ x
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def within_class_scatter(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pooled within-class covariance (d, d) of a labelled split."""
    x = features.astype(np.float64)
    n_ids = int(labels.max()) + 1
    means = np.zeros((n_ids, x.shape[1]))
    np.add.at(means, labels, x)
    means /= np.maximum(np.bincount(labels, minlength=n_ids), 1)[:, None]
    w = x - means[labels]
    return w.T @ w / len(x)


def whitening_map(scatter: np.ndarray, ridge: float = WHITEN_RIDGE) -> np.ndarray:
    """``(Sw + ridge * mean eigenvalue * I)^-1/2`` (symmetric)."""
    vals, vecs = np.linalg.eigh(scatter)
    vals = np.maximum(vals, 0.0) + ridge * vals.mean()
    return (vecs / np.sqrt(vals)) @ vecs.T


def top_directions(scatter: np.ndarray, dims: int) -> np.ndarray:
    """Orthonormal (d, dims) basis of the top eigen-directions of a scatter matrix."""
    _, vecs = np.linalg.eigh(scatter)
    return vecs[:, ::-1][:, :dims]


def linear_map(features: np.ndarray, m: np.ndarray) -> np.ndarray:
    x = features.astype(np.float64) @ m
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def project_out(features: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return linear_map(features, np.eye(basis.shape[0]) - basis @ basis.T)


def _with_knn(x: np.ndarray, y: np.ndarray, k: int = K + 1) -> tuple:
    nbrs, sims = exact_knn(x, k)
    return x, y, nbrs, sims


def knn_cc(train: tuple, test: tuple, grid: np.ndarray = GRID) -> dict:
    """Tune tau on ``train=(X, y, nbrs, sims)``, apply to ``test``; return tau and test scores."""
    _, ya, na, sa = train
    _, yb, nb, sb = test
    tau, _, _ = tune_graph_method("knn_cc", na, sa, ya, {"k": K}, grid)
    scores = evaluate(yb, threshold_clusters(nb[:, :K], sb[:, :K], tau))
    return {"tau": float(tau), "pairwise": scores["pairwise"], "bcubed": scores["bcubed"],
            "n_clusters_pred": scores["n_clusters_pred"]}


def mlp_control(tr: tuple, te: tuple, gcn_cfg: dict | None = None) -> dict:
    """The graph-free control: the Ada-NETS GCN trained and applied on identity graphs (an MLP)."""
    import torch

    from facecluster.ada_nets.gcn import embed, train_gcn
    from facecluster.training.loop import SGDSchedule, seed_everything

    if gcn_cfg is None:
        gcn_cfg = load_dataset(REPO / "config" / "datasets" / "synthetic.yaml")["gcn"]  # preset and defaults filled
    cfg = gcn_cfg
    cpu = torch.device("cpu")
    seed = int(cfg.get("seed", 0))
    seed_everything(seed)
    n_tr = len(tr[1])
    order_k = min(int(cfg["order_k"]), n_tr)
    kn, _ = exact_knn(tr[0], order_k)
    net, curve = train_gcn(tr[0], tr[1], kn, sp.identity(n_tr, dtype=np.float32, format="csr"),
                           SGDSchedule.from_config(cfg["train"]), cfg["hidden"], order_k,
                           cfg["batch_neighbours"], cfg["fanout"], cfg["loss"], cpu, np.random.default_rng(seed))
    em = [_with_knn(embed(net, d[0], sp.identity(len(d[1]), dtype=np.float32, format="csr"), cpu), d[1])
          for d in (tr, te)]
    res = knn_cc(em[0], em[1])
    res["precision_at_80"] = knn_precision(em[1][2], em[1][1])
    res["final_loss"] = float(np.mean([c[1] for c in curve[-50:]]))
    return res


def load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``{split}.features.npy`` (any float dtype, re-normalised in float32) and ``{split}.labels.npy``
    of a folder in the npmscope layout."""
    x = l2_normalise(np.load(folder / f"{split}.features.npy"))
    return x, np.load(folder / f"{split}.labels.npy").astype(np.int64)


def calibrate(params: SyntheticParams, seed: int = 0, mlp: bool = False, gcn_cfg: dict | None = None,
              data: Path | None = None) -> dict:
    """Compute every figure of the calibration table (see the module docstring); with ``data``,
    the same checks on that folder's train/test files instead of the generator's."""
    t0 = time.perf_counter()
    if data is not None:
        tr, te = _with_knn(*load_split(data, "train")), _with_knn(*load_split(data, "test"))
    else:
        tr = _with_knn(*generate_split(params, "train", seed))
        te = _with_knn(*generate_split(params, "test", seed))
    _, counts = np.unique(te[1], return_counts=True)
    res: dict = {
        "n_samples": int(te[1].size),
        "n_identities": int(counts.size),
        "singletons": int((counts == 1).sum()),
        "frac_samples_in_ids_gt80": float(counts[counts > K].sum() / counts.sum()),
        "precision_at_80": knn_precision(te[2], te[1]),
        "precision_at_20": knn_precision(te[2], te[1], SMOOTH_K),
        "precision_at_80_train": knn_precision(tr[2], tr[1]),
    }
    methods = {"knn_cc": knn_cc(tr, te)}

    scatter = within_class_scatter(tr[0], tr[1])
    maps = {"whiten": whitening_map(scatter)}
    for r in PROJ_DIMS:
        b = top_directions(scatter, r)
        maps[f"proj{r}"] = np.eye(b.shape[0]) - b @ b.T
    for name, m in maps.items():
        methods[name] = knn_cc(_with_knn(linear_map(tr[0], m), tr[1]), _with_knn(linear_map(te[0], m), te[1]))

    if mlp:
        methods["mlp"] = mlp_control(tr, te, gcn_cfg)

    kstar = {}
    for split, d in (("train", tr), ("test", te)):
        kstar[split] = max_q_indices(d[2][:, :K], d[1], beta=BETA)
    res["kstar_mean_test"] = float(kstar["test"].mean())
    res["kstar_median_test"] = float(np.median(kstar["test"]))
    methods["smooth_kstar"] = knn_cc(_with_knn(mean_smooth(tr[0], tr[2], kstar["train"]), tr[1]),
                                     _with_knn(mean_smooth(te[0], te[2], kstar["test"]), te[1]))
    methods["smooth_top20"] = knn_cc(_with_knn(mean_smooth(tr[0], tr[2], SMOOTH_K), tr[1]),
                                     _with_knn(mean_smooth(te[0], te[2], SMOOTH_K), te[1]))
    res["methods"] = methods
    base = methods["knn_cc"]["pairwise"]["fscore"]
    res["gain"] = {k: v["pairwise"]["fscore"] - base for k, v in methods.items() if k != "knn_cc"}
    res["checks"] = checks(res)
    res["seconds"] = time.perf_counter() - t0
    return res


def _in(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def checks(res: dict) -> dict:
    """``{name: passed}`` for every acceptance range whose figure was computed."""
    out = {"precision_at_80": _in(res["precision_at_80"], *TARGETS["precision_at_80"]),
           "knn_cc": _in(res["methods"]["knn_cc"]["pairwise"]["fscore"], *TARGETS["knn_cc"])}
    for name, gain in res["gain"].items():
        out[name] = _in(gain, *TARGETS[name])
    return out


def _target_text(name: str) -> str:
    lo, hi = TARGETS[name]
    if name in ("precision_at_80", "knn_cc"):
        return f"{lo:.2f} – {hi:.2f}"
    return f"gain >= {lo:+.2f}" if hi is None else f"gain <= {hi:+.2f}"


LABELS = {
    "knn_cc": "knn_cc (K=80)",
    "whiten": "within-class whitening + knn_cc",
    **{f"proj{r}": f"project out top-{r} within-class dirs + knn_cc" for r in PROJ_DIMS},
    "mlp": "graph-free MLP control + knn_cc",
    "smooth_kstar": "smooth x2 over max-Q k* (oracle) + knn_cc",
    "smooth_top20": "smooth x2 over top-20 kNN + knn_cc",
}


def format_table(res: dict, params: SyntheticParams, seed: int, data: Path | None = None) -> str:
    head = (f"calibration checks on {data} (train/test as shipped)" if data is not None else
            f"synthetic calibration: seed={seed}, n_samples={params.n_samples}/split, dim={params.dim}")
    rows = [("figure (test split)", "tau", "P / R / F (pairwise)", "BCubed F", "gain", "target", "ok")]
    ok = res["checks"]
    rows.append(("identities / singletons", "", f"{res['n_identities']} / {res['singletons']}", "", "", "", ""))
    rows.append(("samples in identities > 80", "", f"{res['frac_samples_in_ids_gt80']:.3f}", "", "", "", ""))
    rows.append(("kNN precision@20", "", f"{res['precision_at_20']:.3f}", "", "", "", ""))
    rows.append(("k* (max-Q, self counted) mean / median", "", f"{res['kstar_mean_test']:.1f} / {res['kstar_median_test']:.0f}",
                 "", "", "", ""))
    rows.append(("kNN precision@80", "", f"{res['precision_at_80']:.3f}", "", "", _target_text("precision_at_80"),
                 "yes" if ok["precision_at_80"] else "NO"))
    for name, r in res["methods"].items():
        pw = r["pairwise"]
        gain = "" if name == "knn_cc" else f"{res['gain'][name]:+.3f}"
        rows.append((LABELS[name], f"{r['tau']:.3f}", f"{pw['precision']:.3f} / {pw['recall']:.3f} / {pw['fscore']:.3f}",
                     f"{r['bcubed']['fscore']:.3f}", gain, _target_text(name), "yes" if ok[name] else "NO"))
    rows.append(("seconds", "", f"{res['seconds']:.0f}", "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"all checks pass: {all(ok.values())}" + ("" if "mlp" in ok else " (MLP control not run: --mlp-control)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-samples", type=int, default=SyntheticParams.n_samples)
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a SyntheticParams field (repeatable)")
    ap.add_argument("--mlp-control", action="store_true",
                    help="also train the graph-free MLP control (about 1 min of CPU at 20,000/split)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the MLP control")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--data", type=Path, help="run the same checks on a folder of {train,test}.{features,labels}.npy "
                    "(e.g. resources/npmscope) instead of the generator")
    args = ap.parse_args(argv)

    overrides: dict = {"n_samples": args.n_samples}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = float(value)
    params = params_from_dict(overrides)
    if args.mlp_control:
        import torch

        torch.set_num_threads(max(1, args.threads))
    res = calibrate(params, args.seed, mlp=args.mlp_control, data=args.data)
    print(format_table(res, params, args.seed, args.data))
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "overrides": overrides,
                                         "params": dataclasses.asdict(params), **res}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
