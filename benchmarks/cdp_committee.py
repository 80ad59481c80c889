"""Why CDP's committee helps or not on a split: each model's kNN precision and each strategy's accepted pairs.

Reads the artifacts of a finished run (``make run``): the split's base and committee features and
kNN, the settings each method chose on the validation part (``results/<ds>/models/*_tuned.json``,
never the split's labels) and the trained mediator. For the split (labels used only to score):

* per model (base and each member): kNN precision at the chosen k (share of the k − 1 listed
  neighbours with the node's identity);
* per strategy — single-model vote (``cdp``), committee vote (``cdp_vote``), mediator
  (``cdp_mediator``), each at its own chosen k and threshold: accepted pairs, their precision (same
  identity), their recall (share of all same-identity pairs of the split), and the pairwise F of
  the clusters the pipeline wrote.

    .venv/bin/python benchmarks/cdp_committee.py [--datasets synthetic npmscope] [--split test]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facecluster.config import committee_members, load_dataset  # noqa: E402
from facecluster.data.io import load_knn  # noqa: E402
from facecluster.methods import cdp, cdp_mediator  # noqa: E402
from facecluster.training.checkpoints import load_model  # noqa: E402


def pair_stats(src: np.ndarray, dst: np.ndarray, labels: np.ndarray) -> dict:
    same = labels[src] == labels[dst]
    sizes = np.bincount(labels)
    positives = float((sizes * (sizes - 1) // 2).sum())
    return {"pairs": int(src.size), "precision": float(same.mean()) if src.size else 0.0,
            "recall": float(same.sum() / positives) if positives else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "npmscope"])
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    for name in args.datasets:
        ds = load_dataset(REPO / "config" / "datasets" / f"{name}.yaml", check_files=False)
        res = REPO / "results" / name
        split = res / args.split
        labels = np.load(split / "labels.npy")
        members = committee_members(ds)
        tuned = {m: json.loads((res / "models" / f"{m}_tuned.json").read_text()) for m in ("cdp", "cdp_vote", "cdp_mediator")}
        settings = {m: {**ds["methods"][m], **tuned[m].get("settings", {})} for m in tuned}
        base_nbrs, base_sims = load_knn(split / "knn.npz")
        views = {"base": (np.load(split / "features.npy"), base_nbrs)}
        for m in members:
            views[m] = (np.load(split / "committee" / m / "features.npy"), load_knn(split / "committee" / m / "knn.npz")[0])
        print(f"### {name} / {args.split}: {labels.size} samples; members {', '.join(members)}\n")
        ks = sorted({settings[m]["k"] for m in ("cdp_vote", "cdp_mediator")})
        print("| model | " + " | ".join(f"kNN precision@{k}" for k in ks) + " |\n|---|" + "---:|" * len(ks))
        for view, (_, nbrs) in views.items():
            cells = [float((labels[nbrs[:, 1:k]] == labels[:, None]).mean()) for k in ks]
            print(f"| {view} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
        rows = []
        s = settings["cdp"]
        src, dst, _ = cdp.vote_pairs(base_nbrs[:, : s["k"]], base_sims[:, : s["k"]], tuned["cdp"]["value"])
        rows.append(("cdp (single model)", f"k {s['k']}, cos > {tuned['cdp']['value']:.2f}", src, dst))
        s = settings["cdp_vote"]
        k, accept = s["k"], len(members) if s["accept"] is None else s["accept"]
        committee = [views[m][1][:, :k] for m in members]
        src, dst, _ = cdp.vote_pairs(base_nbrs[:, :k], base_sims[:, :k], tuned["cdp_vote"]["value"], committee, accept)
        rows.append(("cdp_vote", f"k {k}, cos > {tuned['cdp_vote']['value']:.2f}, {accept} of {len(members)} votes", src, dst))
        s = settings["cdp_mediator"]
        k = s["k"]
        model, _ = load_model(str(res / "models" / "cdp_mediator.pt"))
        base = cdp_mediator.View(views["base"][0], base_nbrs[:, :k])
        comm = [cdp_mediator.View(views[m][0], views[m][1][:, :k]) for m in members]
        src, dst = cdp_mediator.candidate_pairs(base.nbrs)
        prob = cdp_mediator.predict_pairs(model, cdp_mediator.pair_features(src, dst, base, comm, tuple(s["inputs"])), "cpu")
        keep = prob > tuned["cdp_mediator"]["value"]
        rows.append(("cdp_mediator", f"k {k}, p > {tuned['cdp_mediator']['value']:.3f}", src[keep], dst[keep]))
        print("\n| strategy | chosen on validation | accepted pairs | pair precision | pair recall | clusters' pairwise F |\n"
              "|---|---|---:|---:|---:|---:|")
        for label, chosen, a, b in rows:
            st = pair_stats(a, b, labels)
            method = label.split(" ")[0]
            f = json.loads((split / "methods" / method / "metrics.json").read_text())["pairwise"]["fscore"]
            print(f"| {label} | {chosen} | {st['pairs']} | {st['precision']:.3f} | {st['recall']:.3f} | {f:.4f} |")
        print()


if __name__ == "__main__":
    main()
