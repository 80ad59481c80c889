"""Embeddings without labels (issue 23): a dataset with no train split, models from another dataset
(``models_from``), the releases' weights (``methods.<m>.weights``) and label-free choices — the
README's first example verbatim, the DAG-time refusals, and tiny runs of the real rules."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, narrow_widths, run_snakemake, tiny_synthetic
from facecluster import registry
from facecluster.config import ConfigError, load_workflow_config
from facecluster.data.shift import WARN_KS, feature_shift
from facecluster.data.synthetic import generate_split, params_from_dict
from facecluster.graph.knn import exact_knn

ISSUE_YAML = """
name: photos
format: custom
feature_dim: 128
splits:
  all: {features: resources/photos/emb.npy}
methods:
  knn_cc: {tune: fixed, tau: 0.7}
"""


def readme_unlabeled_example() -> tuple[dict, dict]:
    """The two YAML blocks of the README's "Cluster your own embeddings" section: the dataset file and
    the ``run:`` entry of config/config.yaml, as printed there."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Cluster your own embeddings"):]
    section = section[:section.index("\n## ", 5)]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return yaml.safe_load(blocks[0]), yaml.safe_load(blocks[1])["run"]


def _embeddings(n: int, dim: int, seed: int = 3) -> np.ndarray:
    x, _ = generate_split(params_from_dict({"n_samples": n, "dim": dim, "size_median": 30.0}), "test", seed=seed)
    return x


def _workdir(tmp_path, datasets: dict[str, dict], run: dict) -> None:
    (tmp_path / "config" / "datasets").mkdir(parents=True, exist_ok=True)
    for name, ds in datasets.items():
        (tmp_path / "config" / "datasets" / f"{name}.yaml").write_text(yaml.safe_dump(ds))
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"run": run, "dataset_dir": "config/datasets"}))


def _load(tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text())
    return load_workflow_config(config, schema_dir=REPO / "workflow" / "schemas")


NON_LEARNED_LIGHT = [m for m in registry.NON_LEARNED if m not in registry.COMMITTEE and "n_clusters" not in
                     yaml.safe_load((REPO / "workflow" / "schemas" / "dataset.schema.yaml").read_text())
                     ["properties"]["methods"]["properties"][m]["properties"]]


def test_the_issue_yaml_builds_a_dag_for_every_non_learned_method(tmp_path):
    """The YAML a new user wrote (no train_split) with every non-learned method that needs no true
    cluster count under run: the DAG builds, each method ends in clusters.csv, no metrics."""
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "photos.yaml").write_text(ISSUE_YAML)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"run": {"photos": {"splits": ["all"], "methods": NON_LEARNED_LIGHT}}}))
    (tmp_path / "resources" / "photos").mkdir(parents=True)
    np.save(tmp_path / "resources" / "photos" / "emb.npy", _embeddings(600, 128))
    dry = run_snakemake(tmp_path, "-n", "--cores", "2")
    for method in NON_LEARNED_LIGHT:
        assert f"results/photos/all/methods/{method}/clusters.csv" in dry.stdout, method
    assert "metrics.json" not in dry.stdout and "labels.npy" not in dry.stdout


@pytest.mark.parametrize("method", ["ada_nets", "gcn_v", "gcn_ve", "lce"])
def test_a_learned_method_without_a_model_is_refused_by_name(tmp_path, method):
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "photos.yaml").write_text(ISSUE_YAML)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"run": {"photos": {"splits": ["all"], "methods": ["knn_cc", method]}}}))
    proc = run_snakemake(tmp_path, "-n", "--cores", "2", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"run.photos.methods: {method} is learned" in out and "models_from" in out, out[-1500:]


def test_unlabeled_defaults(tmp_path, monkeypatch):
    """No train split: the tuned parameters left at their default are chosen label-free, fixed ones
    stay fixed, and a run entry without methods gets only what can run (knn_cc of the default list)."""
    ds = yaml.safe_load(ISSUE_YAML)
    _workdir(tmp_path, {"photos": ds}, {"photos": {"splits": ["all"]}})
    config = _load(tmp_path, monkeypatch)
    photos = config["datasets"]["photos"]
    assert photos["methods"]["knn_cc"]["tune"] == "fixed" and photos["methods"]["leiden"]["tune"] == "label_free"
    assert photos["cluster"]["tune"] == "label_free" and photos["candidates"] == {}
    assert config["run"]["photos"]["methods"] == ["knn_cc"]  # ada_nets has no model here


@pytest.mark.parametrize("change, message", [
    (lambda ds: ds["methods"].update(leiden={"tune": "validation"}), "methods.leiden.tune: 'validation' needs labels"),
    (lambda ds: ds.update(models_from="nothere"), "models_from: no dataset 'nothere'"),
    (lambda ds: ds.update(models_from="lab", train_split="all"), "either fits its models"),
    (lambda ds: ds.update(models_from="lab", feature_dim=64), "fits its models on 128-d features, and this dataset's are 64-d"),
])
def test_refusals_name_the_file_and_key(tmp_path, monkeypatch, change, message):
    ds = yaml.safe_load(ISSUE_YAML)
    ds["splits"]["all"]["labels"] = "resources/photos/labels.npy"  # used by the train_split case only
    change(ds)
    lab = {"name": "lab", "format": "synthetic", "feature_dim": 128, "train_split": "train",
           "synthetic": {"n_samples": 400, "dim": 128}, "splits": {"train": {}, "test": {}}}
    _workdir(tmp_path, {"photos": ds, "lab": lab}, {"photos": {"splits": ["all"], "methods": ["knn_cc"]}})
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        _load(tmp_path, monkeypatch)
    assert "photos.yaml" in str(err.value)


def test_models_from_inherits_the_source_settings_but_not_its_data(tmp_path, monkeypatch):
    ds = yaml.safe_load(ISSUE_YAML) | {"models_from": "lab"}
    lab = {"name": "lab", "format": "synthetic", "feature_dim": 128, "train_split": "train", "knn": {"k": 300},
           "cluster": {"k": 40}, "methods": {"gcn_v": {"hidden": 64}}, "validation": {"fraction": 0.3},
           "synthetic": {"n_samples": 2000, "dim": 128}, "splits": {"train": {}, "test": {}}}
    _workdir(tmp_path, {"photos": ds, "lab": lab}, {"photos": {"splits": ["all"], "methods": ["knn_cc", "gcn_v", "ada_nets"]}})
    photos = _load(tmp_path, monkeypatch)["datasets"]["photos"]
    assert photos["knn"]["k"] == 300 and photos["cluster"]["k"] == 40 and photos["methods"]["gcn_v"]["hidden"] == 64
    assert list(photos["splits"]) == ["all"] and "train_split" not in photos
    assert photos["methods"]["knn_cc"]["tune"] == "fixed"  # its own setting wins
    assert photos["methods"]["leiden"]["tune"] == "validation"  # = the source's validation choice, transferred


def test_feature_shift_is_small_for_one_distribution_and_warns_for_another():
    a, b = _embeddings(1500, 64, seed=1), _embeddings(1500, 64, seed=2)
    knn = {name: exact_knn(x / np.linalg.norm(x, axis=1, keepdims=True), 11)[1] for name, x in (("a", a), ("b", b))}
    same = feature_shift(a, knn["a"], b, knn["b"])
    assert same["ks_mean_neighbour_cosine"] < WARN_KS and same["warning"] is None
    # the same identities, embedded with more noise: neighbours' cosines drop
    noisy = b + 0.08 * np.random.default_rng(0).normal(size=b.shape).astype(np.float32) * np.linalg.norm(b, axis=1, keepdims=True)
    knn_noisy = exact_knn(noisy / np.linalg.norm(noisy, axis=1, keepdims=True), 11)[1]
    shifted = feature_shift(a, knn["a"], noisy, knn_noisy)
    assert shifted["ks_mean_neighbour_cosine"] > WARN_KS and "KS statistic" in shifted["warning"]
    with pytest.raises(ValueError, match="64-d and the target's 32-d"):
        feature_shift(a, knn["a"], b[:, :32], knn["b"])


@pytest.mark.e2e
def test_readme_unlabeled_example_runs_verbatim(tmp_path):
    """The README's first example (no labels), both blocks verbatim, on a tiny file at its path:
    every method it lists writes clusters.csv and summary.json, each parameter chosen label-free."""
    ds, run = readme_unlabeled_example()
    assert "train_split" not in ds and all("labels" not in files for files in ds["splits"].values())
    (split, files), = ds["splits"].items()
    (tmp_path / files["features"]).parent.mkdir(parents=True)
    np.save(tmp_path / files["features"], _embeddings(600, ds["feature_dim"]))
    _workdir(tmp_path, {ds["name"]: ds}, run)
    run_snakemake(tmp_path, "--cores", "2")
    for method in run[ds["name"]]["methods"]:
        base = tmp_path / "results" / ds["name"] / split / "methods" / method
        assert (base / "clusters.csv").exists() and json.loads((base / "summary.json").read_text())["n_samples"] == 600
        assert not (base / "metrics.json").exists()
        if registry.METHODS[method].param:
            tuned = json.loads((tmp_path / "results" / ds["name"] / "models" / f"{method}_tuned.json").read_text())
            assert "label-free" in tuned["source"] and "fscore" not in tuned, tuned


@pytest.mark.e2e
def test_models_from_and_release_weights_cluster_an_unlabeled_split(tmp_path):
    """Learned methods on a dataset without labels: Ada-NETS and GCN-V with models_from a labelled
    dataset (its models and validation choices reused, none retrained), and GCN-V from a file in
    learn-to-cluster's checkpoint layout (methods.gcn_v.weights)."""
    from test_release_weights import GCN_V, _mmcv, _randomise

    lab = tiny_synthetic(tmp_path, n_samples=400, methods=("knn_cc",))
    dim = lab["synthetic"]["dim"]
    (tmp_path / "resources" / "photos").mkdir(parents=True)
    np.save(tmp_path / "resources" / "photos" / "emb.npy", _embeddings(300, dim, seed=7))
    release = _mmcv(_randomise(GCN_V(dim, lab["methods"]["gcn_v"]["hidden"], 1), seed=0), tmp_path / "pretrained_gcn_v.pth")
    photos = {"name": "photos", "format": "custom", "feature_dim": dim, "models_from": "synthetic",
              "splits": {"all": {"features": "resources/photos/emb.npy"}}}
    released = narrow_widths({"name": "released", "format": "custom", "feature_dim": dim,
                              "splits": {"all": {"features": "resources/photos/emb.npy"}},
                              "methods": {"gcn_v": {"weights": [release], "hidden": lab["methods"]["gcn_v"]["hidden"]}}}, 16)
    for name, ds in (("photos", photos), ("released", released)):
        (tmp_path / "config" / "datasets" / f"{name}.yaml").write_text(yaml.safe_dump(ds))
    run = {"photos": {"splits": ["all"], "methods": ["ada_nets", "gcn_v", "knn_cc"]},
           "released": {"splits": ["all"], "methods": ["gcn_v"]}}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"run": run, "dataset_dir": "config/datasets"}))
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results"
    for base in (res / "photos" / "all", res / "photos" / "all" / "methods" / "gcn_v", res / "photos" / "all" / "methods" / "knn_cc",
                 res / "released" / "all" / "methods" / "gcn_v"):
        assert np.load(base / "clusters.npy").shape == (300,) and (base / "clusters.csv").exists(), base
    summary = json.loads((res / "photos" / "all" / "summary.json").read_text())
    assert summary["models_from"]["models_from"] == "synthetic" and "ks_mean_neighbour_cosine" in summary["models_from"]
    assert not (res / "photos" / "models").exists() or not list((res / "photos" / "models").glob("*.pt"))  # nothing retrained
    params = json.loads((res / "photos" / "all" / "methods" / "gcn_v" / "params.json").read_text())
    assert params["tau"] == json.loads((res / "synthetic" / "models" / "gcn_v_tuned.json").read_text())["value"]
    imported = torch.load(res / "released" / "models" / "gcn_v.imported.pt", weights_only=False)
    assert imported["kind"] == "gcn_v" and imported["imported_from"] == [release]
    tuned = json.loads((res / "released" / "models" / "gcn_v_tuned.json").read_text())
    assert "label-free" in tuned["source"]


def test_the_schema_lists_every_label_free_criterion():
    from facecluster.evaluation.label_free import CRITERIA

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "dataset.schema.yaml").read_text())
    criterion = schema["properties"]["label_free"]["properties"]["criterion"]
    assert sorted(criterion["enum"]) == sorted(CRITERIA) and criterion["default"] == "mutual_f"


def test_models_from_serves_every_learned_method_without_training_here(tmp_path):
    """Every learned method on a models_from dataset: the DAG trains on the source dataset only (its
    fitting split), and the unlabeled dataset's jobs read the source's models and choices."""
    tiny_synthetic(tmp_path, n_samples=400, methods=("knn_cc",))
    (tmp_path / "resources" / "photos").mkdir(parents=True)
    np.save(tmp_path / "resources" / "photos" / "emb.npy", _embeddings(300, 256))
    photos = {"name": "photos", "format": "custom", "feature_dim": 256, "models_from": "synthetic",
              "splits": {"all": {"features": "resources/photos/emb.npy"}}}
    (tmp_path / "config" / "datasets" / "photos.yaml").write_text(yaml.safe_dump(photos))
    learned = ["ada_nets", *[m for m in registry.LEARNED if m not in registry.COMMITTEE]]
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"run": {"photos": {"splits": ["all"], "methods": learned}}, "dataset_dir": "config/datasets"}))
    dry = run_snakemake(tmp_path, "-n", "--cores", "2")
    trained = re.findall(r"rule (train_\w+):\n(?:    .*\n)*?    wildcards: ds=(\w+)", dry.stdout)
    assert trained and {ds for _, ds in trained} == {"synthetic"}, trained
    assert {rule for rule, _ in trained} >= {"train_learned", "train_gcn", "train_adaptive_filter"}
    for method in learned:
        target = "results/photos/all/clusters.csv" if method == "ada_nets" else f"results/photos/all/methods/{method}/clusters.csv"
        assert target in dry.stdout, method
    assert "results/photos/all/models_from.json" in dry.stdout
