"""A user's own embeddings with one YAML: the README's example verbatim, tiny files at its paths,
every method to the end; a .bin/.meta variant with an unlabeled split; and that the DAG of the
default config builds without importing torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, run_snakemake
from facecluster import registry
from facecluster.data.datasets import write_bin_features, write_meta_labels
from facecluster.data.synthetic import generate_split, params_from_dict


def readme_example() -> dict:
    """The YAML block of the README's "Your own embeddings" section, as printed there."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Your own embeddings"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block)


def tiny_split(split: str, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    params = params_from_dict({"n_samples": n, "dim": dim, "size_median": 30.0})
    return generate_split(params, split, seed=3)


@pytest.mark.e2e
def test_bin_meta_features_and_an_unlabeled_split(tmp_path):
    raw = tmp_path / "resources" / "mine"
    raw.mkdir(parents=True)
    for split in ("train", "today"):
        x, y = tiny_split(split, 300, 128)
        write_bin_features(str(raw / f"{split}.bin"), x)
        if split == "train":
            write_meta_labels(str(raw / f"{split}.meta"), y)
    ds = {"name": "mine", "format": "custom", "feature_dim": 128, "train_split": "train",
          "splits": {"train": {"features": "resources/mine/train.bin", "labels": "resources/mine/train.meta"},
                     "today": {"features": "resources/mine/today.bin"}}}
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "mine.yaml").write_text(yaml.safe_dump(ds))
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"run": {"mine": {"splits": ["today"], "methods": ["knn_cc", "gcn_v"]}}}))
    run_snakemake(tmp_path, "--cores", "2")
    for base in ("results/mine/today/methods/knn_cc", "results/mine/today/methods/gcn_v"):
        clusters = np.load(tmp_path / base / "clusters.npy")
        assert clusters.shape == (300,) and (tmp_path / base / "clusters.csv").exists()
        assert not (tmp_path / base / "metrics.json").exists()
    assert not (tmp_path / "results" / "mine" / "today" / "labels.npy").exists()
    assert "training preset: cpu" in (tmp_path / "logs" / "mine" / "train_gcn_v.log").read_text()


def test_dry_run_of_the_default_dag_does_not_import_torch(repo_config_workdir):
    code = (
        "import sys\n"
        "from snakemake.cli import main\n"
        f"sys.argv = ['snakemake', '-n', '-q', '--snakefile', {str(REPO / 'Snakefile')!r}, '--directory', {str(repo_config_workdir)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torch_geometric', 'numba')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]


@pytest.mark.e2e
def test_readme_example_runs_every_method_choosing_on_validation(tmp_path):
    """The README's smallest YAML (features + labels), verbatim, with one more split that has no
    labels ("today": what a user clusters). One run: every method scored on the labelled test
    split, every method that needs no test labels clustering "today", every choice made on the
    validation part of the train split — k among the registry's candidates, thresholds,
    checkpoints — with nothing in the YAML. The DAG of every choice holds no job of either split,
    so no choice can have read them."""
    ds = readme_example()
    assert set(ds) == {"name", "format", "feature_dim", "train_split", "splits"}  # features + labels only
    train = ds["train_split"]
    for split, files in ds["splits"].items():
        x, y = tiny_split(split, 320, ds["feature_dim"])
        (tmp_path / files["features"]).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / files["features"], x)
        np.save(tmp_path / files["labels"], y)
    today = Path(ds["splits"]["test"]["features"]).parent.parent / "today" / "features.npy"
    (tmp_path / today).parent.mkdir(parents=True)
    np.save(tmp_path / today, tiny_split("today", 320, ds["feature_dim"])[0])
    ds["splits"]["today"] = {"features": str(today)}
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "mine.yaml").write_text(yaml.safe_dump(ds))
    # the smallest YAML names no committee. Left out for CI's 30 minutes (fresh clone at 9f50f45: 31:34
    # with them, this test 482 s), each run through the real rules elsewhere: MeanShift (a Python loop
    # per seed point; its call and validation choice in test_feature_baselines.py), LCE and GCN-D + GCN-S
    # (test_workflow.py's tiny learned and GCN-D runs)
    methods = [m for m in registry.NAMES if m not in registry.COMMITTEE and m not in ("meanshift", "lce", "gcn_ds")]
    # k-means' default K is the split's true count, which needs its labels; it makes no choice
    upper_bound = ("minibatch_kmeans", "kmeans", "spectral", "hac_ward")  # their default K needs the split's labels
    unlabelled = [m for m in methods if m not in upper_bound]
    config = {"run": {"mine": {"splits": ["test"], "methods": methods}}}  # "today" by its targets below
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    def where(method, split):
        return f"results/mine/{split}" if method == "ada_nets" else f"results/mine/{split}/methods/{method}"

    # the choices' DAG, before anything runs: no job of the test split or of "today"
    tuned_methods = [m for m in registry.TUNED if m in methods]
    choices = [f"results/mine/models/{m}_tuned.json" for m in tuned_methods] + ["results/mine/models/gcn.pt"]
    dry = run_snakemake(tmp_path, "-n", "--forceall", "--cores", "2", *choices)
    jobs = re.findall(r"^\s+wildcards: (.*)$", dry.stdout, re.M)
    assert jobs and not [w for w in jobs if re.search(r"split=(test|today)\b", w)], jobs

    targets = [f"{where(m, 'test')}/metrics.json" for m in methods] + [f"{where(m, 'today')}/clusters.npy" for m in unlabelled]
    run_snakemake(tmp_path, "--cores", "2", *targets)
    res = tmp_path / "results" / "mine"
    for method in methods:
        m = json.loads((tmp_path / where(method, "test") / "metrics.json").read_text())
        assert m["dataset"] == "mine" and m["training"] == "cpu" and m["n_samples"] == 320, method
        assert 0 < m["pairwise"]["fscore"] <= 1, method
    assert not (res / "today" / "labels.npy").exists()
    for method in unlabelled:
        assert np.load(tmp_path / where(method, "today") / "clusters.npy").shape == (320,), method
        assert not (tmp_path / where(method, "today") / "metrics.json").exists()
    assert "training preset: cpu" in (tmp_path / "logs" / "mine" / "train_gcn.log").read_text()
    for method in tuned_methods:
        tuned = json.loads((res / "models" / f"{method}_tuned.json").read_text())
        if tuned["source"].startswith("config"):  # L-GCN's release policy: every pair (tune: fixed)
            continue
        assert tuned["source"].startswith(f"validation part '{train}_val'"), (method, tuned["source"])
        if method in ("knn_cc", "cdp", "leiden", "ada_nets"):  # k chosen among candidates, nothing in the YAML
            assert len(tuned["candidates"]) >= 2 and tuned["settings"]["k"] in [c["settings"]["k"] for c in tuned["candidates"]]
    gcn = torch.load(res / "models" / "gcn.pt", weights_only=False)
    assert gcn["validation"]["curve"][0][0] == 0  # the untrained network is scored too
