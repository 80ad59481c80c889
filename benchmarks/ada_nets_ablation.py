"""Ada-NETS ablation on a finished run: which stage limits the score?

Re-embeds the train and test splits with the trained GCN of ``results/<ds>/models/gcn.pt`` on
adjacencies built from the structure-space neighbours with different per-node neighbour counts,
then clusters exactly as the pipeline does (kNN of the embeddings, threshold linkage, τ chosen on
the *train* split) and prints pairwise/BCubed F on the test split:

* ``k_pred``     the adaptive filter's k̂ (what the pipeline does);
* ``k* oracle``  the max-Q index computed from the labels — a diagnostic upper bound of what a
                 perfect filter could give, never a result (it reads test labels);
* ``k = c``      one fixed count for every node (no filter);
* ``knn k = 80`` the plain top-80 cosine kNN graph (no structure space, no filter).

It first prints how separable the GCN's training batches are on each candidate training graph:
the median over 200 batches (a seed and 128 of its 256 nearest neighbours, as in training) of the
largest cosine between two *different* identities after two rounds of neighbourhood averaging
(what the two GraphSAGE "gcn"-aggregator layers see before their linear maps). Near 1, the "allmax" loss,
which pushes exactly that pair apart, has nothing to work with.

Then it embeds with the same network *untrained* (its initial weights, the training seed) on the
k̂ graph and without a graph: what the training adds over random GraphSAGE layers.

Finally (unless ``--skip-training``) it trains the same network with the dataset config's GCN
settings on other graphs of the train split, among them *no graph* (each node its own
neighbourhood, so the two GraphSAGE layers act per sample: an MLP), and scores each on the test
split embedded without a graph, on the k̂ graph and on a fixed k = 5 graph. This separates what
the learned transformation gives from what the neighbour aggregation gives.

    .venv/bin/python benchmarks/ada_nets_ablation.py [--dataset synthetic] [--train train] [--test test]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
import torch

from facecluster.config import load_dataset
from facecluster.graph.ops import build_adjacency
from facecluster.ada_nets.adjacency import edge_precision_recall
from facecluster.ada_nets.gcn import embed, train_gcn, with_self_loops
from facecluster.data.io import load_knn, load_structure
from facecluster.graph.knn import exact_knn
from facecluster.evaluation.metrics import evaluate
from facecluster.evaluation.search import grid_from_config
from facecluster.methods.graph_methods import tune_graph_method
from facecluster.graph.ops import threshold_clusters
from facecluster.training.checkpoints import build_model, load_model
from facecluster.training.loop import SGDSchedule, seed_everything

GRID = [{"start": 0.3, "stop": 0.99, "step": 0.01}, {"start": 0.9905, "stop": 0.9995, "step": 0.0005}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--train", default="train")
    ap.add_argument("--test", default="test")
    ap.add_argument("--k", type=int, default=80, help="kNN width on the embeddings")
    ap.add_argument("--skip-training", action="store_true", help="only the trained GCN's tables (no control trainings)")
    args = ap.parse_args()
    root = f"results/{args.dataset}"
    model, ckpt = load_model(f"{root}/models/gcn.pt")
    cpu = torch.device("cpu")
    data = {}
    for split in (args.train, args.test):
        d = f"{root}/{split}"
        sn, sd = load_structure(f"{d}/structure.npz")
        kn, ks = load_knn(f"{d}/knn.npz")
        data[split] = dict(x=np.load(f"{d}/features.npy"), y=np.load(f"{d}/labels.npy"), sn=sn, sw=1.0 - sd,
                           kn=kn, ks=ks, k_pred=np.load(f"{d}/k_pred.npy"), k_star=np.load(f"{d}/max_q.npy"))
    k = data[args.test]["sn"].shape[1]
    variants = {"k_pred (pipeline)": "k_pred", "k* oracle (diagnostic)": "k_star"}
    variants.update({f"k = {c}": c for c in (5, 10, 20, 40, k)})
    variants["knn k = 80 (no structure space)"] = "knn"

    def adjacency(d, how):
        if how == "knn":
            return build_adjacency(d["kn"][:, :80], d["ks"][:, :80], 80)
        if isinstance(how, int) and how == 0:
            return sp.identity(len(d["y"]), dtype=np.float32, format="csr")
        keep = d[how] if isinstance(how, str) else how
        return build_adjacency(d["sn"], d["sw"], keep)

    tr = data[args.train]
    rng = np.random.default_rng(0)
    train_graphs = {
        "features alone (no averaging)": None,
        "top-256 kNN graph (the paper's training graph)": build_adjacency(tr["kn"][:, :256], tr["ks"][:, :256], 256),
        "max-Q graph (train_graph: max_q)": build_adjacency(tr["sn"], tr["sw"], tr["k_star"]),
    }
    batches = [np.concatenate([[s], tr["kn"][s, 1 + rng.choice(tr["kn"].shape[1] - 1, 128, replace=False)]])
               for s in rng.integers(len(tr["y"]), size=200)]
    print("| training graph | median max cross-identity cosine in a batch |")
    print("|---|---:|")
    for name, g in train_graphs.items():
        h = tr["x"].astype(np.float64)
        if g is not None:  # two rounds of the release's "gcn" aggregation (no linear maps)
            a = with_self_loops(g)
            mean = sp.diags(1.0 / (np.diff(a.indptr) + 1.0)) @ (a + sp.identity(a.shape[0], format="csr"))
            h = mean @ (mean @ h)
        h /= np.linalg.norm(h, axis=1, keepdims=True)
        worst = []
        for b in batches:
            s_ = h[b] @ h[b].T
            diff = tr["y"][b][:, None] != tr["y"][b][None, :]
            if diff.any():
                worst.append(s_[diff].max())
        print(f"| {name} | {np.median(worst):.4f} |")
    print()
    def score(net, how):
        """Embed train and test on the graph ``how`` with ``net``; τ from train; test scores."""
        tau = None
        for split in (args.train, args.test):
            d = data[split]
            adj = adjacency(d, how)
            nbrs, sims = exact_knn(embed(net, d["x"], adj, cpu), args.k, backend="faiss")
            if split == args.train:
                tau, _, _ = tune_graph_method("knn_cc", nbrs, sims, d["y"], {"k": nbrs.shape[1]}, grid_from_config(GRID))
            else:
                m = evaluate(d["y"], threshold_clusters(nbrs, sims, tau))
                e = edge_precision_recall(adj, d["y"])
                return (f"{2 * e['edges'] / len(d['y']):.1f} | {e['precision']:.3f} | {tau:.4f} | "
                        f"{m['pairwise']['fscore']:.4f} | {m['bcubed']['fscore']:.4f}")

    print("| graph | edges/node | edge precision | τ (train) | pairwise F | BCubed F |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, how in variants.items():
        print(f"| {name} | {score(model, how)} |", flush=True)

    # Does training help? The same network at its initialisation (the training rule's seed).
    torch.manual_seed(ckpt["config"].get("seed", 0))
    untrained = build_model(ckpt["kind"], **ckpt["arch"])
    print()
    print("| GCN | embedded on | edges/node | edge precision | τ (train) | pairwise F | BCubed F |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for net, label in ((model, "trained"), (untrained, "untrained (initial weights)")):
        for how, graph in (("k_pred", "k̂ (the pipeline)"), (0, "no graph")):
            print(f"| {label} | {graph} | {score(net, how)} |", flush=True)
    if args.skip_training:
        return

    # Controls: the same network and training settings (the dataset config's gcn section), trained
    # on other graphs of the train split, including none at all (every node its own neighbourhood:
    # the two GraphSAGE layers become per-sample linear maps, i.e. an MLP).
    cfg = load_dataset(f"config/datasets/{args.dataset}.yaml")["gcn"]  # preset and defaults filled
    n_train = len(tr["y"])
    controls = {
        "no graph (MLP)": sp.identity(n_train, dtype=np.float32, format="csr"),
        "k = 5": adjacency(tr, 5),
        "max-Q graph of the train split (train_graph: max_q)": adjacency(tr, "k_star"),
        "k_pred (the train split's own Ada-NETS graph)": adjacency(tr, "k_pred"),
    }
    print()
    print("| GCN trained on | embedded on | edges/node | edge precision | τ (train) | pairwise F | BCubed F |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, graph in controls.items():
        seed_everything(cfg.get("seed", 0))
        net, _ = train_gcn(tr["x"], tr["y"], tr["kn"], graph, SGDSchedule.from_config(cfg["train"]), cfg["hidden"],
                           cfg["order_k"], cfg["batch_neighbours"], cfg["fanout"], cfg["loss"], cpu,
                           np.random.default_rng(cfg.get("seed", 0)))
        for how, label in ((0, "no graph"), ("k_pred", "k_pred (pipeline)"), ("k_star", "k* oracle"), (5, "k = 5")):
            print(f"| {name} | {label} | {score(net, how)} |", flush=True)

if __name__ == "__main__":
    main()
