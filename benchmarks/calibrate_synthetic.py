"""Calibration report of the synthetic benchmark (facecluster.synthetic).

Generates the train and test splits with the default (or overridden) parameters and prints:

* size statistics of the test split (samples, identities, singletons);
* exact kNN precision@80 on test (80 nearest neighbours by cosine, self excluded, fraction
  sharing the query's identity, averaged over samples);
* ``knn_cc`` (link i–j when j is among i's K=80 nearest neighbours, self included, and
  cos >= tau; connected components): tau tuned on train by grid search maximising pairwise F,
  test pairwise F and BCubed F;
* untrained mean smoothing: two rounds of ``X <- A X`` over the top-20 kNN graph (self
  included, uniform weights, row-normalised), re-L2-normalised, then ``knn_cc`` with its own
  train-tuned tau; the *smoothing gap* is its test F minus plain ``knn_cc``'s;
* learned-projection headroom: the top ``--proj-dims`` eigen-directions of the within-class
  scatter of the *train* split are projected out (a label-trained linear map, LDA-like), rows
  re-normalised, and ``knn_cc`` is run again (tau tuned on projected train), with and without
  the two smoothing rounds.

The threshold grid is 0.30..0.99 step 0.01 plus 0.991..0.999 step 0.001 (smoothed features are
very similar to each other, so their best tau can be above 0.99; a grid capped lower would
handicap smoothing). Everything is deterministic for given arguments.

Usage::

    PYTHONPATH=src python benchmarks/calibrate_synthetic.py [--n-samples 20000] [--seed 0]
        [--set mode_scale=1.2 --set spread=0.5 ...] [--json out.json]
"""

from __future__ import annotations

import argparse
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

from facecluster.knn import exact_knn
from facecluster.metrics import evaluate
from facecluster.synthetic import SyntheticParams, generate_split, params_from_dict
from facecluster.threshold import threshold_clusters, threshold_grid, tune_threshold

K = 80
SMOOTH_K = 20
SMOOTH_ROUNDS = 2
GRID = np.concatenate([threshold_grid(0.30, 0.99, 0.01), threshold_grid(0.991, 0.999, 0.001)])


def knn_precision(nbrs: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Mean fraction of the k nearest neighbours (column 0 = self, excluded) sharing the label."""
    return float((labels[nbrs[:, 1 : k + 1]] == labels[:, None]).mean())


def mean_smooth(features: np.ndarray, nbrs: np.ndarray, k: int = SMOOTH_K, rounds: int = SMOOTH_ROUNDS) -> np.ndarray:
    """``rounds`` applications of ``X <- A X`` with A the uniform top-k (self included) kNN
    averaging matrix (row-normalised), then L2-normalise rows."""
    n = features.shape[0]
    a = sp.csr_matrix(
        (np.full(n * k, 1.0 / k), nbrs[:, :k].reshape(-1).astype(np.int64), np.arange(0, n * k + 1, k)),
        shape=(n, n),
    )
    x = features.astype(np.float64)
    for _ in range(rounds):
        x = a @ x
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def within_class_projection(features: np.ndarray, labels: np.ndarray, dims: int) -> np.ndarray:
    """Orthonormal (d, dims) basis of the top within-class-scatter directions of a labelled split."""
    x = features.astype(np.float64)
    n_ids = int(labels.max()) + 1
    means = np.zeros((n_ids, x.shape[1]))
    np.add.at(means, labels, x)
    means /= np.bincount(labels, minlength=n_ids)[:, None]
    w = x - means[labels]
    _, vecs = np.linalg.eigh(w.T @ w)
    return vecs[:, ::-1][:, :dims]


def project_out(features: np.ndarray, basis: np.ndarray) -> np.ndarray:
    x = features.astype(np.float64)
    x = x - (x @ basis) @ basis.T
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def knn_cc(train: tuple, test: tuple, grid: np.ndarray = GRID) -> dict:
    """Tune tau on ``train=(X, y, nbrs, sims)``, apply to ``test``; return tau and test scores."""
    xa, ya, na, sa = train
    xb, yb, nb, sb = test
    tau, _ = tune_threshold(na[:, :K], sa[:, :K], ya, grid)
    scores = evaluate(yb, threshold_clusters(nb[:, :K], sb[:, :K], tau))
    return {"tau": float(tau), "pairwise": scores["pairwise"], "bcubed": scores["bcubed"],
            "n_clusters_pred": scores["n_clusters_pred"]}


def _with_knn(x: np.ndarray, y: np.ndarray) -> tuple:
    nbrs, sims = exact_knn(x, K + 1)
    return x, y, nbrs, sims


def calibrate(params: SyntheticParams, seed: int = 0, headroom: bool = True, proj_dims: int = 16) -> dict:
    """Compute every figure of the calibration table (see the module docstring)."""
    t0 = time.perf_counter()
    tr = _with_knn(*generate_split(params, "train", seed))
    te = _with_knn(*generate_split(params, "test", seed))
    _, counts = np.unique(te[1], return_counts=True)
    res: dict = {
        "n_samples": int(te[1].size),
        "n_identities": int(counts.size),
        "singletons": int((counts == 1).sum()),
        "frac_samples_in_ids_gt80": float(counts[counts > K].sum() / counts.sum()),
        "precision_at_80": knn_precision(te[2], te[1]),
        "precision_at_80_train": knn_precision(tr[2], tr[1]),
    }
    res["knn_cc"] = knn_cc(tr, te)
    sm_tr = _with_knn(mean_smooth(tr[0], tr[2]), tr[1])
    sm_te = _with_knn(mean_smooth(te[0], te[2]), te[1])
    res["smoothed"] = knn_cc(sm_tr, sm_te)
    res["smoothing_gap"] = res["smoothed"]["pairwise"]["fscore"] - res["knn_cc"]["pairwise"]["fscore"]
    if headroom:
        basis = within_class_projection(tr[0], tr[1], proj_dims)
        pr_tr = _with_knn(project_out(tr[0], basis), tr[1])
        pr_te = _with_knn(project_out(te[0], basis), te[1])
        res["proj_dims"] = proj_dims
        res["projected_precision_at_80"] = knn_precision(pr_te[2], pr_te[1])
        res["projected"] = knn_cc(pr_tr, pr_te)
        ps_tr = _with_knn(mean_smooth(pr_tr[0], pr_tr[2]), tr[1])
        ps_te = _with_knn(mean_smooth(pr_te[0], pr_te[2]), te[1])
        res["projected_smoothed"] = knn_cc(ps_tr, ps_te)
        base = res["knn_cc"]["pairwise"]["fscore"]
        res["headroom"] = res["projected"]["pairwise"]["fscore"] - base
        res["headroom_smoothed"] = res["projected_smoothed"]["pairwise"]["fscore"] - base
    res["seconds"] = time.perf_counter() - t0
    return res


def format_table(res: dict, params: SyntheticParams, seed: int) -> str:
    rows = [
        ("n_samples (test)", f"{res['n_samples']}"),
        ("n_identities (test)", f"{res['n_identities']}"),
        ("singletons (test)", f"{res['singletons']}"),
        ("samples in ids > 80", f"{res['frac_samples_in_ids_gt80']:.3f}"),
        ("precision@80 (test)", f"{res['precision_at_80']:.3f}"),
    ]

    def method(name: str, r: dict) -> None:
        rows.append((f"{name}: tau (train)", f"{r['tau']:.3f}"))
        pw, bc = r["pairwise"], r["bcubed"]
        rows.append((f"{name}: pairwise P / R / F", f"{pw['precision']:.3f} / {pw['recall']:.3f} / {pw['fscore']:.3f}"))
        rows.append((f"{name}: BCubed F", f"{bc['fscore']:.3f}"))

    method("knn_cc", res["knn_cc"])
    method("smooth2+knn_cc", res["smoothed"])
    rows.append(("smoothing gap (F)", f"{res['smoothing_gap']:+.3f}"))
    if "projected" in res:
        d = res["proj_dims"]
        rows.append((f"proj{d}: precision@80", f"{res['projected_precision_at_80']:.3f}"))
        method(f"proj{d}+knn_cc", res["projected"])
        method(f"proj{d}+smooth2+knn_cc", res["projected_smoothed"])
        rows.append((f"headroom proj{d} (F)", f"{res['headroom']:+.3f}"))
        rows.append((f"headroom proj{d}+smooth2 (F)", f"{res['headroom_smoothed']:+.3f}"))
    rows.append(("seconds", f"{res['seconds']:.1f}"))
    width = max(len(r[0]) for r in rows)
    head = f"synthetic calibration: seed={seed}, n_samples={params.n_samples}, dim={params.dim}"
    return "\n".join([head, "-" * len(head)] + [f"{a:<{width}}  {b}" for a, b in rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-samples", type=int, default=SyntheticParams.n_samples)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a SyntheticParams field (repeatable)")
    ap.add_argument("--proj-dims", type=int, default=16,
                    help="within-class-scatter directions removed by the learned projection")
    ap.add_argument("--no-headroom", action="store_true", help="skip the learned-projection rows")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    overrides: dict = {"n_samples": args.n_samples}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = float(value)
    params = params_from_dict(overrides)
    res = calibrate(params, args.seed, headroom=not args.no_headroom, proj_dims=args.proj_dims)
    print(format_table(res, params, args.seed))
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "overrides": overrides, **res}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
