"""A user's own embeddings with one YAML: the README's example verbatim, tiny files at its paths,
every method to the end; a .bin/.meta variant with an unlabeled split; and that the DAG of the
default config builds without importing torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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
def test_readme_example_runs_every_method(tmp_path):
    ds = readme_example()
    assert set(ds) == {"name", "format", "feature_dim", "train_split", "splits"}  # features + labels only
    for split, files in ds["splits"].items():
        x, y = tiny_split(split, 320, ds["feature_dim"])
        (tmp_path / files["features"]).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / files["features"], x)
        np.save(tmp_path / files["labels"], y)
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "mine.yaml").write_text(yaml.safe_dump(ds))
    methods = list(registry.NAMES)
    config = {"run": {"mine": {"splits": ["test"], "methods": methods}}}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/mine/test/metrics.json"] + [f"results/mine/test/methods/{m}/metrics.json" for m in methods if m != "ada_nets"]
    run_snakemake(tmp_path, "--cores", "2", *targets)
    for target in targets:
        m = json.loads((tmp_path / target).read_text())
        assert m["dataset"] == "mine" and m["training"] == "cpu" and m["n_samples"] == 320, target
        assert 0 < m["pairwise"]["fscore"] <= 1, target
    log = (tmp_path / "logs" / "mine" / "train_gcn.log").read_text()
    assert "training preset: cpu" in log


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
        {"run": {"mine": {"splits": ["today"], "methods": ["ada_nets", "knn_cc", "lce"]}}}))
    run_snakemake(tmp_path, "--cores", "2")
    for base in ("results/mine/today", "results/mine/today/methods/knn_cc", "results/mine/today/methods/lce"):
        clusters = np.load(tmp_path / base / "clusters.npy")
        assert clusters.shape == (300,) and (tmp_path / base / "clusters.csv").exists()
        assert not (tmp_path / base / "metrics.json").exists()
    assert not (tmp_path / "results" / "mine" / "today" / "labels.npy").exists()
    assert "GCN step 150/150" in (tmp_path / "logs" / "mine" / "train_gcn.log").read_text()  # the cpu preset


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
def test_readme_example_chooses_on_validation_without_test_labels(tmp_path):
    """The README's smallest YAML (features + labels) gets every choice made on the validation part
    of its train split: k among the registry's candidates, thresholds, checkpoints. The test split
    is given *without* labels, so nothing can have been chosen on it, and every method still clusters it."""
    ds = readme_example()
    for split, files in ds["splits"].items():
        x, y = tiny_split(split, 320, ds["feature_dim"])
        (tmp_path / files["features"]).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / files["features"], x)
        if split == ds["train_split"]:
            np.save(tmp_path / files["labels"], y)
    del ds["splits"]["test"]["labels"]
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "mine.yaml").write_text(yaml.safe_dump(ds))
    # k-means' default K is the test split's true count, which needs its labels; it makes no choice.
    # LCE is left to test_readme_example_runs_every_method (the same YAML, so the same validation
    # choices): its two candidates took 736 s there under a CPU load beside it, most of its time.
    methods = [m for m in registry.NAMES if m not in ("minibatch_kmeans", "lce")]
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"run": {"mine": {"splits": ["test"], "methods": methods}}}))
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "mine"
    assert not (res / "test" / "labels.npy").exists()
    train = ds["train_split"]
    for method in methods:
        base = res / "test" if method == "ada_nets" else res / "test" / "methods" / method
        assert np.load(base / "clusters.npy").shape == (320,), method
        assert not (base / "metrics.json").exists()
    for method in registry.TUNED:
        tuned = json.loads((res / "models" / f"{method}_tuned.json").read_text())
        if tuned["source"].startswith("config"):  # L-GCN's release policy: every pair (tune: fixed)
            continue
        assert tuned["source"].startswith(f"validation part '{train}_val'"), (method, tuned["source"])
        if method in ("knn_cc", "cdp", "leiden", "ada_nets"):  # k chosen among candidates, nothing in the YAML
            assert len(tuned["candidates"]) >= 2 and tuned["settings"]["k"] in [c["settings"]["k"] for c in tuned["candidates"]]
    gcn = torch.load(res / "models" / "gcn.pt", weights_only=False)
    assert gcn["validation"]["curve"][0][0] == 0  # the untrained network is scored too
