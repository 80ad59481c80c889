"""Choose GCN-D's proposal settings on held-out identities: each candidate list of proposal settings
on a finished run's train split, scored by the release's upper bound (``gcn_d_upper_bound.sh``:
de-overlap ordered by each proposal's *true* IoU) on the validation part's pairs only.

Prints one row per candidate: proposals (level 0 / 1), mean size, nodes covered, seconds, and the
upper-bound pairwise F on the validation identities. The lists of two settings match the release's
default test row ("2 prpsls"); the one with the best validation bound goes into the dataset config.

    .venv/bin/python benchmarks/proposals.py [--datasets synthetic npmscope]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.data.io import load_knn  # noqa: E402
from facecluster.evaluation.metrics import pairwise_scores_touching  # noqa: E402
from facecluster.methods import gcn_d, proposals  # noqa: E402

L1 = [{"k": 2, "sv_max_size": 8}, {"k": 3, "sv_max_size": 5}]  # the release's MS1M level-1 entries
CANDIDATES = {
    "k80 th .70/.75 (release MS1M)": [{"k": 80, "th": 0.7, "max_size": 300}, {"k": 80, "th": 0.75, "max_size": 300}],
    "k80 th .60/.70": [{"k": 80, "th": 0.6, "max_size": 300}, {"k": 80, "th": 0.7, "max_size": 300}],
    "k80 th .60/.70 + level 1": [{"k": 80, "th": 0.6, "max_size": 300, "level1": L1}, {"k": 80, "th": 0.7, "max_size": 300}],
    "k20 th .60/.70": [{"k": 20, "th": 0.6, "max_size": 300}, {"k": 20, "th": 0.7, "max_size": 300}],
    "k10 th .55/.60 (release DeepFashion: k5, max 100)": [{"k": 10, "th": 0.55, "max_size": 100}, {"k": 10, "th": 0.6, "max_size": 100}],
    "k10 th .70/.80": [{"k": 10, "th": 0.7, "max_size": 100}, {"k": 10, "th": 0.8, "max_size": 100}],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    args = ap.parse_args()
    print("| dataset | candidate | proposals (L0/L1) | mean size | covered | seconds | upper-bound F (validation) |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for ds in args.datasets:
        base = REPO / "results" / ds
        x = np.load(base / "train" / "features.npy")
        y = np.load(base / "train" / "labels.npy")
        nbrs, sims = load_knn(str(base / "train" / "knn.npz"))
        rows = np.load(base / "train_val" / "rows.npy")
        for name, settings in CANDIDATES.items():
            t0 = time.perf_counter()
            p = proposals.generate(x, nbrs, sims, [{"step": 0.05, "min_size": 3, **s} for s in settings])
            seconds = time.perf_counter() - t0
            iou = gcn_d.proposal_targets(p, y)["iou"]
            f = pairwise_scores_touching(y, gcn_d.deoverlap(y.size, p, iou), rows)["fscore"]
            covered = np.unique(p.indices).size / y.size
            print(f"| {ds} | {name} | {len(p)} ({int((p.level == 0).sum())}/{int((p.level == 1).sum())}) | "
                  f"{p.sizes.mean():.1f} | {covered:.2f} | {seconds:.1f} | {f:.4f} |", flush=True)


if __name__ == "__main__":
    main()
