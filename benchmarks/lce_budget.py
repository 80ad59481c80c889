"""How much CPU does LCE-PCENet need, and what does each part buy? One training + test run per call.

Reads the pipeline's artifacts of one dataset (``results/{ds}/{train,test}/{features.npy,
labels.npy,knn.npz}``, read-only; run ``make run`` or the ``knn`` rules first), trains
:func:`facecluster.methods.lce.train_lce` on train with the given budget (defaults: the recommended
CPU preset), then on test times LCENet's scores and PCENet on the density edges (wall and process
CPU seconds), and reports pairwise F of the clustering with PCENet (``pcenet: true``), without it
(every density edge kept, ``pcenet: false``) and with an oracle verifier (the true labels: the
ceiling PCENet could reach); the precision of the density edges and PCENet's accuracy on them;
LCENet's same-identity AUC next to the raw cosine's; and two controls without LCENet: s ≡ 1
(``F_unit_scores``) and s = the true labels (``F_true_scores``). ``--knn-cc`` adds the ``knn_cc``
baseline (k = 80, τ tuned on train). One JSON line per run (``--out`` appends it to a file).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/lce_budget.py --dataset synthetic --k 24 --threads 2 --knn-cc
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/lce_budget.py --dataset npmscope --k 16 --threads 2 --knn-cc
    ... --pce-steps 0                 # LCENet only (F_no_pcenet is then the pcenet: false result)
    ... --timing-only --timing-nodes 2000 --k 80 --layers 3   # inference seconds at the release's settings
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from facecluster.data.io import load_knn
from facecluster.evaluation.metrics import pairwise_scores
from facecluster.evaluation.search import grid_from_config
from facecluster.methods import lce
from facecluster.progress import setup_logging
from facecluster.methods.graph_methods import run_graph_method, tune_graph_method
from facecluster.training.loop import SGDSchedule, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def load(results: Path, ds: str, split: str, k: int | None = None):
    d = results / ds / split
    nbrs, sims = load_knn(str(d / "knn.npz"))
    if k is not None:
        nbrs, sims = nbrs[:, :k], sims[:, :k]
    nbrs, sims = np.ascontiguousarray(nbrs), np.ascontiguousarray(sims)
    return np.load(d / "features.npy"), nbrs, sims, np.load(d / "labels.npy")


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    from scipy.stats import rankdata

    r = rankdata(score)
    p = int(positive.sum())
    q = positive.size - p
    return float((r[positive].sum() - p * (p + 1) / 2) / max(p * q, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--feedforward", type=int, default=1024)
    ap.add_argument("--pce-hidden", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--pce-batch-size", type=int, default=None)
    ap.add_argument("--pce-steps", type=int, default=200)
    ap.add_argument("--pce-lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timing-only", action="store_true", help="untrained model: inference seconds only")
    ap.add_argument("--timing-nodes", type=int, default=None,
                    help="with --timing-only: time the first N test nodes / density edges, scaled to the split")
    ap.add_argument("--knn-cc", action="store_true")
    ap.add_argument("--results", type=Path, default=ROOT / "results", help="folder holding {ds}/{split}/ artifacts")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    setup_logging()
    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    rng = np.random.default_rng(a.seed)
    arch = dict(layers=a.layers, feedforward=a.feedforward, pce_hidden=a.pce_hidden)
    row: dict = {"dataset": a.dataset, "k": a.k, **arch, "threads": a.threads}
    xt, nt, st, yt = load(a.results, a.dataset, "test", a.k)

    if a.timing_only:
        model = lce.LCE(dim=xt.shape[1], k=a.k, **arch).eval()
    else:
        xr, nr, sr, yr = load(a.results, a.dataset, "train", a.k)
        sched = SGDSchedule(steps=a.steps, lr=a.lr, optimizer="adam", warmup=max(1, a.steps // 10))
        pce = SGDSchedule(steps=a.pce_steps, lr=a.pce_lr, optimizer="adam", warmup=max(1, a.pce_steps // 10))
        t0, c0 = time.perf_counter(), time.process_time()
        model, curve = lce.train_lce(xr, nr, sr, yr, a.k, a.batch_size, sched, pce if a.pce_steps else None, "cpu", rng,
                                     pce_batch_size=a.pce_batch_size, **arch)
        row.update(steps=a.steps, batch_size=a.batch_size, pce_steps=a.pce_steps, lr=a.lr, pce_lr=a.pce_lr,
                   train_s=round(time.perf_counter() - t0, 1), train_cpu_s=round(time.process_time() - c0, 1),
                   loss_first=float(np.mean([c[1] for c in curve[:50]])),
                   loss_lce_last=float(np.mean([c[1] for c in curve[max(0, a.steps - 50):a.steps]])))

    if a.timing_only and a.timing_nodes:
        m = a.timing_nodes
        t0, c0 = time.perf_counter(), time.process_time()
        lce.lce_scores(model, xt, nt[:m], st[:m], "cpu")
        row["lcenet_s"] = round((time.perf_counter() - t0) * nt.shape[0] / m, 1)
        row["lcenet_cpu_s"] = round((time.process_time() - c0) * nt.shape[0] / m, 1)
        pairs = np.arange(m)
        t0, c0 = time.perf_counter(), time.process_time()
        lce.pce_probabilities(model, xt, nt, pairs, nt[pairs, 1], "cpu")
        row["pcenet_s_per_1000_pairs"] = round((time.perf_counter() - t0) * 1000 / m, 2)
        row["pcenet_cpu_s_per_1000_pairs"] = round((time.process_time() - c0) * 1000 / m, 2)
        row["n_test"] = int(nt.shape[0])
        print(json.dumps(row))
        return
    t0, c0 = time.perf_counter(), time.process_time()
    scores = lce.lce_scores(model, xt, nt, st, "cpu")
    row["lcenet_s"], row["lcenet_cpu_s"] = round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1)
    src, dst, _ = lce.density_edges(nt, st, lce.symmetrise_scores(nt, scores))
    t0, c0 = time.perf_counter(), time.process_time()
    prob = lce.pce_probabilities(model, xt, nt, src, dst, "cpu")
    row["pcenet_s"], row["pcenet_cpu_s"] = round(time.perf_counter() - t0, 1), round(time.process_time() - c0, 1)
    row["density_edges"] = int(src.size)
    if not a.timing_only:
        same = yt[src] == yt[dst]
        row["density_edge_precision"] = round(float(same.mean()), 4)
        row["pcenet_acc"] = round(float(((prob > 0.5) == same).mean()), 4)
        row["pcenet_rejects"] = int((prob <= 0.5).sum())
        own = lce.pair_labels(nt, yt)[:, 1:]
        row["lcenet_acc"] = round(float(((scores[:, 1:] > 0.5) == own).mean()), 4)
        row["lcenet_auc"] = round(auc(scores[:, 1:].ravel(), own.ravel()), 4)
        row["cosine_auc"] = round(auc(st[:, 1:].ravel(), own.ravel()), 4)
        for name, verify in (("pcenet", prob), ("no_pcenet", None), ("oracle", same.astype(np.float32))):
            labels, info = lce.lce_clusters(nt, st, scores, verify=verify)
            row[f"F_{name}"] = round(pairwise_scores(yt, labels)["fscore"], 4)
            row[f"info_{name}"] = info
        # controls: no LCENet (s = 1 everywhere) and perfect LCENet scores (the true labels), no PCENet
        controls = {"unit_scores": np.ones_like(scores), "true_scores": lce.pair_labels(nt, yt).astype(np.float32)}
        for name, fake in controls.items():
            labels, _ = lce.lce_clusters(nt, st, fake)
            row[f"F_{name}"] = round(pairwise_scores(yt, labels)["fscore"], 4)
    if a.knn_cc:
        _, nr80, sr80, yr80 = load(a.results, a.dataset, "train")
        _, nt80, st80, _ = load(a.results, a.dataset, "test")
        grid = grid_from_config([{"start": 0.30, "stop": 0.95, "step": 0.01},
                                 {"start": 0.95, "stop": 0.999, "step": 0.0005}])
        tau, _, _ = tune_graph_method("knn_cc", nr80, sr80, yr80, {"k": 80}, grid)
        labels = run_graph_method("knn_cc", nt80, st80, tau, {"k": 80})
        row["knn_cc_tau"] = tau
        row["F_knn_cc"] = round(pairwise_scores(yt, labels)["fscore"], 4)
    line = json.dumps(row)
    print(line)
    if a.out:
        with open(a.out, "a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
