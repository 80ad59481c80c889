"""Figures for the Snakemake report (matplotlib, Agg backend, one PNG per figure).

Each function takes plain arrays/dicts (read by the rule scripts) and writes one PNG atomically.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from facecluster.report.cluster_output import cluster_sizes  # noqa: E402
from facecluster.data.io import atomic_path  # noqa: E402


def _save(fig, path: str) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def threshold_curves(tuned: dict[str, dict], path: str) -> None:
    """Pairwise precision, recall and F on the train split versus each method's tuned parameter,
    the chosen value marked; ``tuned[name]`` is a ``*_tuned.json`` with ``curve`` and ``curve_pr``."""
    names = [n for n, t in tuned.items() if t.get("curve")]
    cols = min(3, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        t = tuned[name]
        x, f = np.array(t["curve"]).T
        if t.get("curve_pr"):
            _, p, r = np.array(t["curve_pr"]).T
            ax.plot(x, p, label="precision", lw=1)
            ax.plot(x, r, label="recall", lw=1)
        ax.plot(x, f, label="F", lw=2, color="black")
        ax.axvline(t["value"], color="red", ls="--", lw=1, label=f"chosen {t['value']:g}")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(t.get("param", "threshold"))
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower left")
    _save(fig, path)


def cluster_size_distribution(predicted: dict[str, np.ndarray], path: str, true: np.ndarray | None = None) -> None:
    """Number of clusters of each size, log-log: the true identities (when known) and every method."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    series = ({"true identities": true} if true is not None else {}) | predicted
    for name, labels in series.items():
        sizes = cluster_sizes(labels)
        sizes = sizes[sizes > 0]
        values, counts = np.unique(sizes, return_counts=True)
        style = {"color": "black", "lw": 2.5} if name == "true identities" else {"lw": 1, "alpha": 0.85}
        ax.plot(values, counts, marker=".", label=name, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cluster size")
    ax.set_ylabel("number of clusters")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def neighbour_counts(k_pred: np.ndarray, k_star: np.ndarray, precision: dict[str, dict], path: str) -> None:
    """Ada-NETS: histogram of k̂ against k*, and kNN precision@k before/after the structure space."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    top = int(max(k_pred.max(), k_star.max()))
    bins = np.arange(1, top + 2) - 0.5
    a.hist(k_star, bins=bins, alpha=0.6, label=rf"$k^*$ (max-Q, mean {k_star.mean():.1f})")
    a.hist(k_pred, bins=bins, alpha=0.6, label=rf"$\hat{{k}}$ (filter, mean {k_pred.mean():.1f})")
    a.set_xlabel("neighbours kept")
    a.set_ylabel("nodes")
    a.legend(fontsize=8)
    for name, curve in precision.items():
        ks = sorted(int(k) for k in curve)
        b.plot(ks, [curve[str(k)] for k in ks], marker="o", label={"knn": "cosine kNN", "structure": "structure space"}.get(name, name))
    b.set_xlabel("k")
    b.set_ylabel("precision@k (self excluded)")
    b.legend(fontsize=8)
    _save(fig, path)


LOSS_PARTS = ("pos", "neg")


def _running_mean(values: np.ndarray) -> tuple[int, np.ndarray]:
    window = max(1, len(values) // 50)
    return window, np.convolve(values, np.ones(window) / window, mode="valid")


def training_curves(curves: dict[str, list], path: str, terms: dict[str, dict[str, list]] | None = None,
                    references: dict[str, dict[str, float]] | None = None,
                    validation: dict[str, dict] | None = None) -> None:
    """One column per trained model. Top: loss per step (thin), its running mean (thick), the
    running means of its parts (``pos``, ``neg``) and the lr (twin axis). Bottom (when the model
    logged other per-step terms, e.g. the hardest cross-identity cosine or the batch |k̂ − k*|):
    their running means, with horizontal ``references[name]`` lines (e.g. the best constant).
    ``validation[name]`` (a checkpoint's ``validation`` record: ``curve`` of ``(step, F)``, step 0
    = the untrained network, and ``best_step``): its validation F on a third axis of the top panel,
    the kept checkpoint circled."""
    terms, references, validation = terms or {}, references or {}, validation or {}
    extra = {n: {k: v for k, v in terms.get(n, {}).items() if k not in LOSS_PARTS and len(v) == len(c)}
             for n, c in curves.items()}
    rows = 2 if any(extra.values()) else 1
    cols = max(1, len(curves))
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.6 * rows), squeeze=False)
    for col, (name, curve) in enumerate(curves.items()):
        ax = axes[0, col]
        step, loss, lr = np.array(curve, dtype=float)[:, :3].T
        window, smooth = _running_mean(loss)
        ax.plot(step, loss, lw=0.5, alpha=0.4)
        ax.plot(step[window - 1:], smooth, lw=2, label="loss (running mean)")
        for part in LOSS_PARTS:
            values = np.asarray(terms.get(name, {}).get(part, []), dtype=float)
            if values.size == step.size:
                w, sm = _running_mean(values)
                ax.plot(step[w - 1:], sm, lw=1.2, ls="--", label=f"{part} term")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7, loc="upper right")
        twin = ax.twinx()
        twin.plot(step, lr, color="grey", ls=":", lw=1)
        twin.set_ylabel("learning rate", color="grey")
        val = validation.get(name) or {}
        if val.get("curve"):
            vx = ax.twinx()
            vx.spines["right"].set_position(("axes", 1.18))
            vs, vf = np.array(val["curve"], dtype=float).T
            vx.plot(vs, vf, "o-", color="tab:green", lw=1.5, ms=4, label="validation pairwise F (step 0 = untrained)")
            kept = dict(val["curve"]).get(val.get("best_step"))
            if kept is not None:
                vx.plot([val["best_step"]], [kept], "o", ms=11, mfc="none", mec="black", label="kept checkpoint")
            vx.set_ylabel("validation pairwise F", color="tab:green")
            vx.legend(fontsize=7, loc="lower right")
        if rows == 2:
            bx = axes[1, col]
            for key, values in extra[name].items():
                w, sm = _running_mean(np.asarray(values, dtype=float))
                bx.plot(step[w - 1:], sm, lw=1.5, label=key)
            for label, value in references.get(name, {}).items():
                bx.axhline(value, color="black", ls=":", lw=1)
                bx.annotate(label, (step[-1], value), fontsize=7, ha="right", va="bottom")
            bx.set_xlabel("step")
            bx.set_ylabel("per-batch statistic (running mean)")
            if extra[name]:
                bx.legend(fontsize=7)
    _save(fig, path)


def stage_timings(rows: list[tuple[str, float, float]], path: str) -> None:
    """Wall time and peak memory per stage (``(stage, seconds, peak MB)``), horizontal bars."""
    names = [r[0] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 0.32 * len(rows) + 1.2), sharey=True)
    y = np.arange(len(rows))
    a.barh(y, [r[1] for r in rows])
    a.set_yticks(y, names, fontsize=7)
    a.set_xlabel("wall seconds")
    a.invert_yaxis()
    b.barh(y, [r[2] for r in rows], color="tab:orange")
    b.set_xlabel("peak memory (MB)")
    _save(fig, path)


def proposal_figure(sizes: np.ndarray, level: np.ndarray, true_iou: np.ndarray, predicted: np.ndarray, path: str) -> None:
    """GCN-D's proposals of a split: their sizes per level (left) and the predicted against the true
    IoU with the majority identity (right, the diagonal dotted)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    top = max(int(sizes.max(initial=1)), 2)
    bins = np.unique(np.geomspace(1, top + 1, 30).astype(int))
    for lv in np.unique(level):
        left.hist(sizes[level == lv], bins=bins, alpha=0.6, label=f"level {lv} ({int((level == lv).sum())})")
    left.set_xscale("log")
    left.set_xlabel("proposal size (nodes)")
    left.set_ylabel("proposals")
    left.legend()
    right.scatter(true_iou, predicted, s=4, alpha=0.4)
    right.plot([0, 1], [0, 1], ":", color="grey")
    corr = float(np.corrcoef(true_iou, predicted)[0, 1]) if true_iou.size > 1 and np.std(predicted) > 0 else float("nan")
    right.set_title(f"GCN-D: MSE {np.mean((predicted - true_iou) ** 2):.4f}, correlation {corr:.3f}")
    right.set_xlabel("true IoU")
    right.set_ylabel("predicted IoU")
    _save(fig, path)
