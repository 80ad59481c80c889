"""The validation part and the choices made on it: the identity carve, the candidate choice,
the best checkpoint, and the config's candidate resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from facecluster.collapse import CollapseError
from facecluster.config import ConfigError, choice_rows, choice_split, fit_split, load_dataset, resolve_candidates, val_split
from facecluster.data.validation import carve_by_identity
from facecluster.evaluation.search import choose
from facecluster.training.loop import SGDSchedule, Validation, checkpoint_steps, train_loop


def test_carve_is_by_identity_deterministic_and_complete():
    labels = np.repeat(np.arange(50), np.arange(1, 51))[np.random.default_rng(0).permutation(1275)]
    fit, val = carve_by_identity(labels, 0.2, seed=3)
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.arange(labels.size))
    assert not set(labels[fit]) & set(labels[val])
    assert np.unique(labels[val]).size == 10  # a fifth of the 50 identities
    again = carve_by_identity(labels, 0.2, seed=3)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(carve_by_identity(labels, 0.2, seed=4)[1], val)
    with pytest.raises(ValueError, match="at least 2 identities"):
        carve_by_identity(np.zeros(5, dtype=int), 0.2)
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        carve_by_identity(labels, 1.0)


def test_choose_keeps_the_best_candidate_and_records_failures():
    curves = {5: [(0.5, 0.4), (0.6, 0.7)], 10: [(0.5, 0.8), (0.6, 0.3)], 20: None}

    def search(cand):
        if curves[cand["k"]] is None:
            raise CollapseError("flat")
        curve = curves[cand["k"]]
        best = max(curve, key=lambda c: (c[1], -c[0]))
        return best[0], curve, [(v, 1.0, f) for v, f in curve]

    out = choose(search, [{"k": 5}, {"k": 10}, {"k": 20}], "test")
    assert out["settings"] == {"k": 10} and out["value"] == 0.5 and out["fscore"] == 0.8
    assert [c["settings"]["k"] for c in out["candidates"]] == [5, 10, 20] and "error" in out["candidates"][2]
    with pytest.raises(CollapseError):
        choose(search, [{"k": 20}], "test")


class _Scalar(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.0))


def test_best_checkpoint_is_restored_and_initial_weights_can_win():
    """The loop walks w from 0 to about 1 (loss (w - 1)^2); a validation score that peaks at w = 0.5
    keeps the checkpoint nearest it; one that prefers w = 0 keeps the initial weights (step 0)."""
    sched = SGDSchedule(steps=40, lr=0.05, momentum=0.0, weight_decay=0.0)
    for target, initial, kept in ((0.5, False, None), (0.0, True, 0)):
        torch.manual_seed(0)
        model = _Scalar()
        val = Validation(lambda m: -abs(float(m.w) - target), checkpoints=8, initial=initial)
        train_loop(model, sched, lambda _: (model.w - 1.0) ** 2, "toy", validation=val)
        steps = [s for s, _ in val.curve]
        assert steps == ([0] if initial else []) + checkpoint_steps(40, 8)
        best_step = max(val.curve, key=lambda c: c[1])[0]
        assert val.best_step == best_step and (kept is None or best_step == kept)
        # the restored weight is the one scored best, not the last
        assert -abs(float(model.w.detach()) - target) == pytest.approx(val.best_score)
    assert checkpoint_steps(10, 3) == [3, 7, 10] and checkpoint_steps(2, 5) == [1, 2]


def test_early_stopping_after_patience_checkpoints_without_a_better_score():
    """w walks from 0 towards 1; a score preferring w = 0 never improves after step 0, so with
    patience 2 training stops at the second checkpoint (step 10 of 40) and keeps step 0; a score
    preferring w = 1 improves at every checkpoint and runs all 40 steps; patience None runs all."""
    sched = SGDSchedule(steps=40, lr=0.05, momentum=0.0, weight_decay=0.0)
    for target, patience, last_step, stopped in ((0.0, 2, 10, 10), (1.0, 2, 40, None), (0.0, None, 40, None)):
        torch.manual_seed(0)
        model = _Scalar()
        val = Validation(lambda m: -abs(float(m.w) - target), checkpoints=8, initial=True, patience=patience)
        curve = train_loop(model, sched, lambda _: (model.w - 1.0) ** 2, "toy", validation=val)
        assert curve[-1][0] == last_step and val.stopped_at == stopped
        assert [s for s, _ in val.curve][-1] == last_step
    assert val.best_step == 0 and float(model.w.detach()) == 0.0  # patience None, target 0: initial weights kept
    # a plateau (the same score at every checkpoint, e.g. F 0 before anything is learned) is not a decline
    model = _Scalar()
    val = Validation(lambda m: 0.0, checkpoints=8, initial=True, patience=1)
    assert train_loop(model, sched, lambda _: (model.w - 1.0) ** 2, "toy", validation=val)[-1][0] == 40
    assert val.stopped_at is None and val.best_step == 0


def _tiny_ds(tmp_path, **extra):
    ds = {"name": "mine", "format": "npy", "feature_dim": 8, "train_split": "train",
          "splits": {"train": {"features": "x.npy", "labels": "y.npy", "n_samples": 2000},
                     "test": {"features": "t.npy", "n_samples": 2000}}, **extra}
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(ds))
    return p


def test_candidates_fill_what_the_yaml_leaves_unset(tmp_path):
    ds = load_dataset(_tiny_ds(tmp_path))
    assert fit_split(ds) == "train_fit" and val_split(ds) == "train_val"
    assert ds["splits"]["train_val"]["part"] == "val" and "labels" not in ds["splits"]["test"]
    assert [c["k"] for c in ds["candidates"]["knn_cc"]] == [5, 10, 20, 40, 80]
    assert "fast_hac" not in ds["candidates"] and "minibatch_kmeans" not in ds["candidates"]
    assert [c["k"] for c in ds["candidates"]["gcn_v"]] == [5, 10, 20]
    # a value in the YAML wins; tune: fixed keeps a graph method's settings; candidates: false, none at all
    ds = load_dataset(_tiny_ds(tmp_path, methods={"knn_cc": {"k": 30}, "leiden": {"tune": "fixed"}}))
    assert "knn_cc" not in ds["candidates"] and "leiden" not in ds["candidates"] and "cdp" in ds["candidates"]
    assert load_dataset(_tiny_ds(tmp_path, validation={"candidates": False}))["candidates"] == {}
    # the release presets keep their settings
    assert load_dataset(REPO / "config" / "datasets" / "ms1m.yaml")["candidates"] == {}
    # candidates wider than the kNN graph are dropped
    ds = load_dataset(_tiny_ds(tmp_path, knn={"k": 30}, structure={"k": 16}, gcn={"order_k": 30},
                               methods={"gcn_v": {"feature_k": 16}, "fast_hac": {"k": 16},
                                        "lgcn": {"k_at_hop_train": [5, 3], "k_at_hop_test": [5, 3], "active": 3}}))
    assert [c["k"] for c in ds["candidates"]["knn_cc"]] == [5, 10, 20]


def test_validation_off_is_the_former_policy(tmp_path):
    ds = load_dataset(_tiny_ds(tmp_path, validation={"fraction": 0}))
    assert fit_split(ds) == "train" and val_split(ds) is None and "train_val" not in ds["splits"]
    assert choice_split(ds, "validation") == "train" and choice_rows(ds, "validation") is None
    ds = load_dataset(_tiny_ds(tmp_path))
    assert choice_split(ds, "validation") == "train" and choice_rows(ds, "validation") == "results/mine/train_val/rows.npy"
    assert choice_split(ds, "train") == "train_fit" and choice_rows(ds, "train") is None


def test_a_split_named_like_the_validation_part_is_refused(tmp_path):
    p = _tiny_ds(tmp_path)
    ds = yaml.safe_load(p.read_text())
    ds["splits"]["train_val"] = {"features": "v.npy"}
    p.write_text(yaml.safe_dump(ds))
    with pytest.raises(ConfigError, match="splits.train_val: this name is taken by the validation part"):
        load_dataset(p)


def test_coarse_to_fine_search_finds_a_unimodal_peak_with_fewer_clusterings():
    from facecluster.evaluation.search import search_grid

    grid = np.round(np.arange(0.30, 0.951, 0.01), 2)  # the shipped 66-value grid
    labels = np.repeat(np.arange(40), 10)
    calls = []

    def cluster(v):  # perfect at 0.67; d grid steps below it d identity pairs merge, above it d identities split
        calls.append(v)
        d = int(round(abs(v - 0.67) * 100))
        out = labels.copy()
        if v < 0.67:
            merged = labels < 2 * min(d, 20)
            out[merged] = labels[merged] // 2
        else:
            split = labels < min(d, 40)
            out[split] = 1000 + np.flatnonzero(split)
        return out

    best, curve, _ = search_grid(cluster, labels, grid, "toy")
    assert best == pytest.approx(0.67) and len(calls) < 30 and len(curve) == len(calls)
    calls.clear()
    full_best, full_curve, _ = search_grid(cluster, labels, grid, "toy", coarse=None)
    assert full_best == best and len(full_curve) == len(calls) == 66


def test_paper_preset_runs_the_releases_schedules_in_full(tmp_path):
    """`training: paper` keeps the releases' step counts: no early stopping (the cpu preset stops)."""
    assert load_dataset(_tiny_ds(tmp_path, training="paper"))["validation"]["patience"] is None
    assert load_dataset(_tiny_ds(tmp_path))["validation"]["patience"] == 1
