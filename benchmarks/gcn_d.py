"""GCN-D / GCN-S diagnostics and cost on a finished run's test split (after the workflow built
``results/<ds>/models/gcn_d.pt``, ``gcn_ds.pt`` and the split's ``proposals.npz``).

Prints, per dataset: the proposals (count, mean size, nodes covered, **proposal recall** — the share
of same-identity pairs that share some proposal, the ceiling of any de-overlap), the **upper bound**
(de-overlap ordered by each proposal's true IoU, the release's ``gcn_d_upper_bound.sh``), GCN-D's
**IoU prediction error** (MSE and correlation against the true IoU, beside the MSE of the best
constant: the fitting part's mean IoU), GCN-S's **node accuracy** on the proposals it cleans
(inlier = the seed's identity) beside the share of inliers, the pairwise F / precision / recall of
GCN-D and GCN-D + GCN-S, and the **cost**: seconds of proposals and of GCN-D inference, and both
per 100,000 nodes (scaled linearly from N; the proposals are linear in the kNN pairs).

    .venv/bin/python benchmarks/gcn_d.py [--datasets synthetic npmscope] [--split test] [--threads 2]
        [--root /tmp/facecluster-seeds/seed_0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.config import load_dataset  # noqa: E402
from facecluster.data.io import load_knn  # noqa: E402
from facecluster.evaluation.metrics import pairwise_scores  # noqa: E402
from facecluster.methods import gcn_d, proposals  # noqa: E402
from facecluster.training.checkpoints import load_model  # noqa: E402


def proposal_recall(props: proposals.Proposals, labels: np.ndarray) -> float:
    """Share of same-identity pairs (i < j) that lie together in at least one proposal."""
    n = labels.size
    rows = np.repeat(np.arange(len(props)), props.sizes)
    m = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, props.indices)), shape=(len(props), n))
    together = sp.triu(m.T @ m, k=1).tocoo()
    covered = int(np.sum(labels[together.row] == labels[together.col]))
    sizes = np.bincount(labels)
    return covered / max(int(np.sum(sizes * (sizes - 1) // 2)), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--root", type=Path, default=REPO, help="the run's working directory (its results/), e.g. a seeds.py seed_0")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.datasets:
        ds = load_dataset(REPO / "config" / "datasets" / f"{name}.yaml", check_files=False)
        cd, cs = ds["methods"]["gcn_d"], ds["methods"]["gcn_ds"]
        base = args.root / "results" / name
        x = np.load(base / args.split / "features.npy")
        y = np.load(base / args.split / "labels.npy")
        nbrs, sims = load_knn(str(base / args.split / "knn.npz"))
        t0 = time.perf_counter()
        props = proposals.generate(x, nbrs, sims, cd["proposals"])
        t_prop = time.perf_counter() - t0
        truth = gcn_d.proposal_targets(props, y)
        model, _ = load_model(str(base / "models" / "gcn_d.pt"))
        t0 = time.perf_counter()
        iou = gcn_d.predict_gcn_d(model, x, nbrs, sims, props, "cpu", cd["with_weight"], cd["inference_batch"])
        t_inf = time.perf_counter() - t0
        fit = base / "train_fit"
        fit_props = proposals.load(str(fit / "proposals.npz"))
        constant = float(gcn_d.proposal_targets(fit_props, np.load(fit / "labels.npy"))["iou"].mean())
        ds_model, _ = load_model(str(base / "models" / "gcn_ds.pt"))
        iop = gcn_d.predict_gcn_d(ds_model.iop, x, nbrs, sims, props, "cpu", cs["with_weight"], cs["inference_batch"])
        lo, hi = cs["iop_range"]
        uncertain = np.flatnonzero((iop >= lo) & (iop <= hi))
        seeds = gcn_d.seed_positions(props, uncertain, cs["seed"])  # the seeds predict_gcn_s draws
        inlier = gcn_d.predict_gcn_s(ds_model.seg, x, nbrs, sims, props, uncertain, "cpu", cs["seed"], cs["with_weight"])
        correct = total = inliers = 0
        for p, s in zip(uncertain, seeds):
            nodes = props.nodes(p)
            truth_in = y[nodes] == y[nodes[s]]
            correct += int(np.sum((inlier[int(p)] > cs["th_outlier"]) == truth_in))
            total += nodes.size
            inliers += int(truth_in.sum())
        runs = {"upper bound (true IoU)": gcn_d.deoverlap(y.size, props, truth["iou"]),
                "gcn_d": gcn_d.deoverlap(y.size, props, iou),
                "gcn_ds": gcn_d.deoverlap(y.size, props, iou, inlier, cs["th_outlier"], cs["keep_outlier"])}
        n = y.size
        print(f"\n### {name} ({args.split}, N = {n})\n")
        print("| proposals | mean size | nodes covered | proposal recall | proposals (s) | per 100k (s) | GCN-D inference (s) | per 100k (s) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {len(props)} | {props.sizes.mean():.1f} | {np.unique(props.indices).size / n:.2f} | "
              f"{proposal_recall(props, y):.3f} | {t_prop:.1f} | {t_prop * 1e5 / n:.1f} | {t_inf:.1f} | {t_inf * 1e5 / n:.1f} |")
        print("\n| GCN-D IoU: MSE | best constant's MSE | correlation | GCN-S: proposals cleaned | node accuracy | inlier share |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {np.mean((iou - truth['iou']) ** 2):.4f} | {np.mean((constant - truth['iou']) ** 2):.4f} | "
              f"{np.corrcoef(iou, truth['iou'])[0, 1]:.3f} | {uncertain.size} of {len(props)} | "
              f"{correct / max(total, 1):.3f} | {inliers / max(total, 1):.3f} |")
        print("\n| clustering | pairwise F | precision | recall |\n|---|---:|---:|---:|")
        for label, clusters in runs.items():
            s = pairwise_scores(y, clusters)
            print(f"| {label} | {s['fscore']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} |")


if __name__ == "__main__":
    main()
