"""The learned methods Ada-NETS is compared with, behind one interface for the workflow.

Each :class:`LearnedSpec` says how to ``train`` it on a labelled split, how to ``predict`` its
per-split quantities (confidences, edge or pair probabilities, hidden-feature kNN) and how to
``cluster`` those at a value of its tuned parameter (chosen on the validation part like every
threshold of the project; ``lce`` has none). ``gcn_ve`` builds on a trained ``gcn_v``.
:func:`fit_learned` trains one model per candidate setting (registry ``candidates``) on the
fitting part, keeps each one's best checkpoint by its validation score (:func:`validation_score`)
and returns the best candidate's.
Training reuses :mod:`facecluster.training.loop` (schedule, loop, device); models are saved and
rebuilt by :mod:`facecluster.training.checkpoints`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from facecluster import registry
from facecluster.methods import cdp_mediator, gcn_d, gcn_e, gcn_v, lce, lgcn, pivot_subgraph
from facecluster.methods.proposals import Proposals
from facecluster.graph.knn import exact_knn
from facecluster.evaluation.metrics import pairwise_scores, pairwise_scores_touching
from facecluster.progress import logger
from facecluster.training.checkpoints import load_model
from facecluster.training.loop import SGDSchedule, Validation, seed_everything


@dataclass
class SplitData:
    """What a learned method reads of one split."""

    features: np.ndarray
    nbrs: np.ndarray
    sims: np.ndarray
    labels: np.ndarray | None = None
    #: the committee members' ``(features, kNN ids)`` of the same samples (CDP), in member order
    committee: list[tuple[np.ndarray, np.ndarray]] | None = None
    #: the split's cluster proposals (GCN-D / GCN-S)
    proposals: Proposals | None = None


@dataclass(frozen=True)
class LearnedSpec:
    """How to train, predict and cluster one learned method; its tuned parameter and the models
    it builds on come from :mod:`facecluster.registry`."""

    name: str
    train: Callable[..., tuple[torch.nn.Module, list, dict]]
    predict: Callable[..., dict]
    cluster: Callable[..., tuple[np.ndarray, dict]]

    @property
    def param(self) -> str | None:
        return registry.METHODS[self.name].param

    @property
    def needs(self) -> tuple[str, ...]:
        return registry.METHODS[self.name].needs


# --- GCN-V --------------------------------------------------------------------------------------

def _gcn_v_train(d: SplitData, c: dict, device, rng, models, validation=None):
    model, curve = gcn_v.train_gcn_v(d.features, d.nbrs, d.sims, d.labels, c["k"], c["hidden"], c["dropout"],
                                     SGDSchedule.from_config(c["train"]), device, validation)
    return model, curve, {"kind": "gcn_v", "dim": d.features.shape[1], "hidden": c["hidden"], "dropout": c["dropout"]}


def _gcn_v_predict(model, d: SplitData, c: dict, device, models):
    conf, hidden = gcn_v.infer_gcn_v(model, d.features, d.nbrs, d.sims, c["k"], device, c.get("inference_chunk"))
    fn, fs = exact_knn(hidden, min(c["feature_k"], hidden.shape[0]), backend="auto")
    return {"confidence": conf, "hidden": hidden, "feature_nbrs": fn, "feature_sims": fs}


def _gcn_v_cluster(p: dict, d: SplitData, value: float, c: dict):
    return gcn_v.confidence_linking(p["feature_nbrs"], p["feature_sims"], p["confidence"], value), {}


# --- GCN-E on GCN-V ---------------------------------------------------------------------------

def _gcn_e_inputs(d: SplitData, c: dict, device, models) -> dict:
    """GCN-V's confidences and hidden features of a split and the kNN of those features that GCN-E
    reads (k + 1 columns; GCN-V's own ``feature_k`` kNN is not needed here and not computed)."""
    conf, hidden = gcn_v.infer_gcn_v(models["gcn_v"], d.features, d.nbrs, d.sims, models["gcn_v_settings"]["k"], device,
                                     c.get("inference_chunk"))
    nbrs, sims = exact_knn(hidden, min(c["k"] + 1, hidden.shape[0]), backend="auto")
    return {"confidence": conf, "hidden": hidden, "edge_nbrs": nbrs, "edge_sims": sims}


def _gcn_ve_train(d: SplitData, c: dict, device, rng, models, validation=None):
    v = _gcn_e_inputs(d, c, device, models)
    model, curve = gcn_e.train_gcn_e(v["hidden"], v["edge_nbrs"], v["edge_sims"], v["confidence"], d.labels, c["k"],
                                     c["hidden"], c["batch_size"], c["train_ignore_ratio"],
                                     SGDSchedule.from_config(c["train"]), device, rng, validation)
    return model, curve, {"kind": "pivot_subgraph_gcn", "dim": v["hidden"].shape[1], "hidden": c["hidden"],
                          "input_norm": False}


def _gcn_ve_predict(model, d: SplitData, c: dict, device, models):
    v = _gcn_e_inputs(d, c, device, models)
    v["probability"] = gcn_e.candidate_probabilities(model, v["hidden"], v["edge_nbrs"], v["edge_sims"], v["confidence"],
                                                     c["k"], c["ignore_ratio"], device)
    return v


def _gcn_ve_cluster(p: dict, d: SplitData, value: float, c: dict):
    return gcn_e.gcn_e_clusters(p["edge_nbrs"], p["edge_sims"], p["confidence"], p["probability"], value,
                                c["ignore_ratio"]), {}


# --- L-GCN --------------------------------------------------------------------------------------

def _lgcn_train(d: SplitData, c: dict, device, rng, models, validation=None):
    k1, k2 = c["k_at_hop_train"]
    model, curve = pivot_subgraph.train_lgcn(d.features, d.nbrs, d.labels, k1, k2, c["active"], c["hidden"], c["batch_size"],
                                   SGDSchedule.from_config(c["train"]), device, rng, validation)
    return model, curve, {"kind": "pivot_subgraph_gcn", "dim": d.features.shape[1], "hidden": c["hidden"],
                          "input_norm": True}


def _lgcn_predict(model, d: SplitData, c: dict, device, models):
    k1, k2 = c["k_at_hop_test"]
    return {"probability": lgcn.edge_probabilities(model, d.features, d.nbrs, k1, k2, c["active"], device)}


def _lgcn_cluster(p: dict, d: SplitData, value: float, c: dict):
    return lgcn.lgcn_clusters(d.nbrs, p["probability"], value, c["max_size"], c["step"]), {}


# --- LCE (LCENet + PCENet) -----------------------------------------------------------------------

LCE_ARCH = ("layers", "heads", "feedforward", "dropout", "pce_hidden")


def _lce_train(d: SplitData, c: dict, device, rng, models, validation=None):
    k = c["k"]
    arch = {key: c[key] for key in LCE_ARCH}
    pce = SGDSchedule.from_config(c["pce_train"]) if c["pcenet"] else None
    model, curve = lce.train_lce(d.features, d.nbrs[:, :k], d.sims[:, :k], d.labels, k, c["batch_size"],
                                 SGDSchedule.from_config(c["train"]), pce, device, rng, c["pce_batch_size"],
                                 validation, **arch)
    return model, curve, {"kind": "lce", "dim": d.features.shape[1], "k": k, **arch}


def _lce_predict(model, d: SplitData, c: dict, device, models):
    k = c["k"]
    return lce.lce_predict(model, d.features, d.nbrs[:, :k], d.sims[:, :k], device, pcenet=c["pcenet"])


def _lce_cluster(p: dict, d: SplitData, value, c: dict):
    k = c["k"]
    return lce.lce_clusters(d.nbrs[:, :k], d.sims[:, :k], p["scores"], p.get("density_prob"))


# --- CDP mediator ------------------------------------------------------------------------------

def _mediator_pairs(d: SplitData, c: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The base kNN's candidate pairs at CDP's k and their mediator features."""
    if not d.committee:
        raise ValueError("cdp_mediator reads a committee (other models' embeddings of the same samples) and got none")
    k = c["k"]
    base = cdp_mediator.View(d.features, d.nbrs[:, :k])
    committee = [cdp_mediator.View(f, n[:, :k]) for f, n in d.committee]
    src, dst = cdp_mediator.candidate_pairs(base.nbrs)
    return src, dst, cdp_mediator.pair_features(src, dst, base, committee, tuple(c["inputs"]))


def _cdp_mediator_train(d: SplitData, c: dict, device, rng, models, validation=None):
    src, dst, x = _mediator_pairs(d, c)
    y = (d.labels[src] == d.labels[dst]).astype(np.int64)
    steps = cdp_mediator.epoch_steps(y.size, c["batch_size"], c["epochs"])
    # the release's rate is constant over its 2 epochs (its MultiStepLR milestone is never reached)
    schedule = SGDSchedule(steps=steps, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"],
                           optimizer="sgd", milestones=(steps + 1,))
    model, curve = cdp_mediator.train_mediator(x, y, schedule, c["batch_size"], device, rng, validation)
    return model, curve, {"kind": "cdp_mediator", "dim": x.shape[1]}


def _cdp_mediator_predict(model, d: SplitData, c: dict, device, models):
    src, dst, x = _mediator_pairs(d, c)
    return {"src": src, "dst": dst, "prob": cdp_mediator.predict_pairs(model, x, device)}


def _cdp_mediator_cluster(p: dict, d: SplitData, value: float, c: dict):
    return cdp_mediator.mediator_clusters(d.features.shape[0], p["src"], p["dst"], p["prob"], value,
                                          c["max_size"], c["step"]), {}


# --- GCN-D and GCN-D + GCN-S -------------------------------------------------------------------

def _proposals(d: SplitData, name: str) -> Proposals:
    if d.proposals is None:
        raise ValueError(f"{name} reads the split's cluster proposals (rule proposals) and got none")
    if len(d.proposals) == 0:
        raise ValueError(f"{name}: the split has no proposals (lower the proposal thresholds th in methods.gcn_d)")
    return d.proposals


def _gcn_d_train(d: SplitData, c: dict, device, rng, models, validation=None):
    model, curve = gcn_d.train_gcn_d(d.features, d.nbrs, d.sims, d.labels, _proposals(d, "gcn_d"), c["target"],
                                     c["hidden"], c["dropout"], c["train"], c["batch_size"], device, rng,
                                     c["with_weight"], validation)
    return model, curve, {"kind": "dsgcn", "dim": d.features.shape[1], "hidden": list(c["hidden"]),
                          "dropout": c["dropout"], "stage": "det"}


def _gcn_d_predict(model, d: SplitData, c: dict, device, models):
    return {"scores": gcn_d.predict_gcn_d(model, d.features, d.nbrs, d.sims, _proposals(d, "gcn_d"), device,
                                          c["with_weight"], c["inference_batch"])}


def _gcn_d_cluster(p: dict, d: SplitData, value, c: dict):
    return gcn_d.deoverlap(d.features.shape[0], d.proposals, p["scores"]), {}


def _gcn_ds_train(d: SplitData, c: dict, device, rng, models, validation=None):
    props = _proposals(d, "gcn_ds")
    model = gcn_d.GCNDS(d.features.shape[1], c["hidden"], c["dropout"]).to(device)
    _, iop_curve = gcn_d.train_gcn_d(d.features, d.nbrs, d.sims, d.labels, props, "iop", c["hidden"], c["dropout"],
                                     c["iop_train"], c["iop_batch_size"], device, rng, c["with_weight"], model=model.iop)
    _, curve = gcn_d.train_gcn_s(d.features, d.nbrs, d.sims, d.labels, props, c["hidden"], c["dropout"], c["train"],
                                 c["batch_size"], device, rng, tuple(c["train_iop_range"]), c["with_weight"],
                                 validation.of(model) if validation is not None else None, model=model.seg)
    return model, iop_curve + curve, {"kind": "gcn_ds", "dim": d.features.shape[1], "hidden": list(c["hidden"]),
                                      "dropout": c["dropout"]}


def _gcn_ds_predict(model, d: SplitData, c: dict, device, models):
    props = _proposals(d, "gcn_ds")
    settings = models["gcn_d_settings"]
    iou = gcn_d.predict_gcn_d(models["gcn_d"], d.features, d.nbrs, d.sims, props, device, settings["with_weight"],
                              settings["inference_batch"])
    iop = gcn_d.predict_gcn_d(model.iop, d.features, d.nbrs, d.sims, props, device, c["with_weight"], c["inference_batch"])
    lo, hi = c["iop_range"]
    uncertain = np.flatnonzero((iop >= lo) & (iop <= hi))
    inlier = gcn_d.predict_gcn_s(model.seg, d.features, d.nbrs, d.sims, props, uncertain, device, c["seed"],
                                 c["with_weight"], c["inference_batch"])
    logger.info("gcn_ds: %d of %d proposals with predicted IoP in [%g, %g] cleaned by GCN-S", uncertain.size,
                len(props), lo, hi)
    return {"scores": iou, "iop": iop, "inlier": inlier}


def _gcn_ds_cluster(p: dict, d: SplitData, value, c: dict):
    return gcn_d.deoverlap(d.features.shape[0], d.proposals, p["scores"], p["inlier"], c["th_outlier"],
                           c["keep_outlier"]), {}


LEARNED: dict[str, LearnedSpec] = {
    "gcn_v": LearnedSpec("gcn_v", _gcn_v_train, _gcn_v_predict, _gcn_v_cluster),
    "gcn_ve": LearnedSpec("gcn_ve", _gcn_ve_train, _gcn_ve_predict, _gcn_ve_cluster),
    "lgcn": LearnedSpec("lgcn", _lgcn_train, _lgcn_predict, _lgcn_cluster),
    "lce": LearnedSpec("lce", _lce_train, _lce_predict, _lce_cluster),
    "cdp_mediator": LearnedSpec("cdp_mediator", _cdp_mediator_train, _cdp_mediator_predict, _cdp_mediator_cluster),
    "gcn_d": LearnedSpec("gcn_d", _gcn_d_train, _gcn_d_predict, _gcn_d_cluster),
    "gcn_ds": LearnedSpec("gcn_ds", _gcn_ds_train, _gcn_ds_predict, _gcn_ds_cluster),
}
assert set(LEARNED) == set(registry.LEARNED), "every learned method of the registry needs a spec"


def load_split(features: str, knn: str, labels: str | None = None, committee_features: list[str] | None = None,
               committee_knn: list[str] | None = None, proposals: str | None = None) -> SplitData:
    """A split's features, kNN and (optional) labels from the pipeline's artifacts, with its
    committee members' features and kNN ids when given (paths in member order) and its cluster
    proposals (``proposals.npz``) when given."""
    from facecluster.data.io import load_knn
    from facecluster.methods import proposals as proposal_io

    nbrs, sims = load_knn(knn)
    committee = None
    if committee_features:
        committee = [(np.load(f), load_knn(k)[0]) for f, k in zip(committee_features, committee_knn, strict=True)]
    return SplitData(np.load(features), nbrs, sims, np.load(labels) if labels else None, committee,
                     proposal_io.load(proposals) if proposals else None)


def load_dependencies(name: str, paths: dict[str, str]) -> dict:
    """Trained models a method builds on (``gcn_ve`` → ``gcn_v``), with their settings."""
    models = {}
    for dep in LEARNED[name].needs:
        model, ckpt = load_model(paths[dep])
        models[dep], models[f"{dep}_settings"] = model, ckpt["config"]
    return models


def predict_on_split(name: str, model: torch.nn.Module, cfg: dict, threads: int, inputs, labels: bool = False
                     ) -> tuple[SplitData, dict]:
    """A trained method's predictions on one split, as its tuning and clustering rules need them:
    ``inputs`` maps ``features``, ``knn`` (``labels`` when ``labels``), the committee's
    ``committee_features`` / ``committee_knn`` lists and ``proposals`` where the method reads them,
    and each model it builds on by name (Snakemake's ``input`` object is such a mapping).
    Seeds, bounds the threads and picks ``cfg['device']`` first. Returns ``(data, predicted)``."""
    from facecluster.data.io import named_paths
    from facecluster.training.loop import start_training

    spec = LEARNED[name]
    device = start_training(cfg["seed"], threads, cfg["device"])
    data = load_split(inputs["features"], inputs["knn"], inputs["labels"] if labels else None,
                      named_paths(inputs, "committee_features"), named_paths(inputs, "committee_knn"),
                      inputs["proposals"] if "proposals" in inputs.keys() else None)
    models = load_dependencies(name, {dep: inputs[dep] for dep in spec.needs})
    return data, spec.predict(model.to(device), data, cfg, device, models)


def validation_score(name: str, data: SplitData, cfg: dict, device, models: dict, rows: np.ndarray | None = None
                     ) -> Callable[[torch.nn.Module], float]:
    """``score(model)``: pairwise F on a labelled split at the method's best parameter value on its
    grid (``tune: fixed``: at the configured value; ``lce``: its clustering), on ``rows`` only when
    given (the validation part's held-out identities, clustered within the whole train split)."""
    from facecluster.collapse import CollapseError
    from facecluster.evaluation.search import grid_from_config, search_grid

    spec = LEARNED[name]

    def score(model: torch.nn.Module) -> float:
        predicted = spec.predict(model, data, cfg, device, models)
        if spec.param is None or cfg["tune"] == "fixed":
            value = cfg.get(spec.param) if spec.param else None
            clusters = spec.cluster(predicted, data, value, cfg)[0]
            scores = (pairwise_scores(data.labels, clusters) if rows is None
                      else pairwise_scores_touching(data.labels, clusters, rows))
            return float(scores["fscore"])
        try:
            value, curve, _ = search_grid(lambda v: spec.cluster(predicted, data, v, cfg)[0], data.labels,
                                          grid_from_config(cfg["grid"]), f"{name} validation: {spec.param}", rows)
        except CollapseError:  # a flat curve: no parameter value separates anything yet
            return 0.0
        return float(dict(curve)[value])

    return score


def fit_learned(name: str, fit: SplitData, val: SplitData | None, cfg: dict, candidates: list[dict], checkpoints: int,
                device, models: dict, val_rows: np.ndarray | None = None, patience: int | None = None
                ) -> tuple[torch.nn.Module, list, dict, dict]:
    """Train ``name`` on ``fit`` once per candidate setting (``[{}]``: the settings as given), each
    from the same seed, keeping each run's best checkpoint by :func:`validation_score` on ``val``
    (``checkpoints`` evenly spaced evaluations and the initial weights, step 0), and return the best candidate's
    ``(model, loss curve, arch, selection)``; ``selection`` holds the chosen settings
    (``chosen``), the settings they make (``config``) and every candidate's validation curve.
    ``val_rows``: the rows of ``val`` that are scored (the held-out identities when ``val`` is the
    whole train split). ``patience``: a run stops early after that many checkpoints scoring below its
    best (:class:`~facecluster.training.loop.Validation`). Without ``val`` (validation
    off) the one model trained with ``cfg`` is returned as it ends."""
    spec = LEARNED[name]
    runs, best = [], None
    for cand in candidates or [{}]:
        c = {**cfg, **cand}
        seed_everything(c["seed"])
        # LCE: scored once, at the end (an untrained LCE means nothing; measured: its last checkpoint is its best)
        validation = (Validation(validation_score(name, val, c, device, models, val_rows),
                                 1 if name == "lce" else checkpoints, initial=name != "lce", patience=patience)
                      if val is not None else None)
        if cand:
            logger.info("%s: candidate %s", name, cand)
        model, curve, arch = spec.train(fit, c, device, np.random.default_rng(c["seed"]), models, validation)
        run = {"settings": dict(cand)}
        if validation is not None:
            run.update(score=validation.best_score, best_step=validation.best_step, curve=validation.curve,
                       stopped_at=validation.stopped_at)
            logger.info("%s: candidate %s: validation F %.4f (step %d of %d)", name, cand or "(configured)",
                        validation.best_score, validation.best_step, len(curve))
        runs.append(run)
        if best is None or (validation is not None and validation.best_score > best[0]):
            best = (validation.best_score if validation is not None else 0.0, model, curve, arch, cand, c)
    _, model, curve, arch, cand, c = best
    return model, curve, arch, {"chosen": dict(cand), "config": c, "candidates": runs}
