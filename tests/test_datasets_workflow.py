"""Real-benchmark configs through the workflow: dry-runs with placeholder files, the missing-file
message, and short runs of fixture datasets written in each release format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from facecluster.data.datasets import write_bin_features, write_l2c_knn, write_meta_labels
from facecluster.data.io import l2_normalise
from facecluster.graph.knn import exact_knn

from conftest import narrow_widths, REPO, run_snakemake

REAL = {"ms1m": "part1_test", "deepfashion": "test", "ijbb": "F1845", "msmt17": "test"}
ADA_NETS_JOBS = ["prepare_features", "prepare_labels", "knn", "structure_space", "max_q", "train_adaptive_filter",
                 "predict_k", "adjacency", "train_gcn", "embed", "embedding_knn", "tune_ada_nets",
                 "ada_nets_cluster", "evaluate_ada_nets"]


def raw_files(ds: str, splits: list[str]) -> list[str]:
    cfg = yaml.safe_load((REPO / "config" / "datasets" / f"{ds}.yaml").read_text())
    return [path for split in splits for key, path in cfg["splits"][split].items() if key in ("features", "labels")]


@pytest.mark.parametrize("ds, split", REAL.items())
def test_real_dataset_dry_run_with_placeholders(repo_config_workdir, ds, split):
    cfg = yaml.safe_load((REPO / "config" / "datasets" / f"{ds}.yaml").read_text())
    for path in raw_files(ds, [split, cfg["train_split"]]):
        (repo_config_workdir / path).parent.mkdir(parents=True, exist_ok=True)
        (repo_config_workdir / path).touch()
    out = run_snakemake(repo_config_workdir, "-n", f"results/{ds}/{split}/metrics.json").stdout
    for job in ADA_NETS_JOBS:
        assert f"rule {job}:" in out, job
    assert f"results/{ds}/{split}/metrics.json" in out


@pytest.mark.parametrize("ds, split", REAL.items())
def test_real_dataset_without_files_names_every_missing_file(repo_config_workdir, ds, split):
    cfg = yaml.safe_load((REPO / "config" / "datasets" / f"{ds}.yaml").read_text())
    proc = run_snakemake(repo_config_workdir, "-n", f"results/{ds}/{split}/metrics.json", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "raw file(s) missing" in text
    for path in raw_files(ds, [split, cfg["train_split"]]):
        assert path in text, path
    assert cfg["source"].split()[0] in text  # where they come from


def clustered(n: int, d: int, ids: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(ids, size=n)
    centres = rng.normal(size=(ids, d))
    return (centres[labels] + 0.7 * rng.normal(size=(n, d))).astype(np.float32), labels.astype(np.int64)


def write_config(workdir: Path, ds: dict, run: dict) -> None:
    narrow_widths(ds, ds["knn"]["k"])  # tiny graphs: every width within knn.k (checked at DAG time)
    (workdir / "config" / "datasets").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "datasets" / f"{ds['name']}.yaml").write_text(yaml.safe_dump(ds))
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump({"run": run, "dataset_dir": "config/datasets"}))


def l2c_fixture(workdir: Path) -> dict:
    """A custom dataset in the learn-to-cluster layout: .bin/.meta and faiss_k_K.npz, with an unlabeled split."""
    splits = {}
    for i, split in enumerate(["train", "test", "unseen"]):
        x, y = clustered(400, 24, 15, seed=i)
        write_bin_features(workdir / f"resources/own/features/{split}.bin", x)
        nbrs, sims = exact_knn(l2_normalise(x), 20, backend="faiss")
        write_l2c_knn(str(workdir / f"resources/own/knns/{split}/faiss_k_20.npz"), nbrs, sims)
        splits[split] = {"features": f"resources/own/features/{split}.bin", "knn": f"resources/own/knns/{split}/faiss_k_20.npz"}
        if split != "unseen":
            write_meta_labels(workdir / f"resources/own/labels/{split}.meta", y)
            splits[split]["labels"] = f"resources/own/labels/{split}.meta"
    return {
        "name": "own", "format": "learn_to_cluster", "source": "the user's own extractor", "feature_dim": 24,
        "train_split": "train", "splits": splits, "knn": {"k": 16, "source": "release"},
        "methods": {"knn_cc": {"k": 16, "grid": [{"start": 0.3, "stop": 0.95, "step": 0.05}]}},
    }


def test_learn_to_cluster_fixture_pipeline_with_unlabeled_split(tmp_path):
    ds = l2c_fixture(tmp_path)
    write_config(tmp_path, ds, {"own": {"splits": ["test", "unseen"], "methods": ["knn_cc"]}})
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "own"
    metrics = yaml.safe_load((res / "test/methods/knn_cc/metrics.json").read_text())
    assert metrics["n_samples"] == 400 and 0 < metrics["pairwise"]["fscore"] <= 1
    assert (res / "test/leaderboard.csv").exists()
    # the unlabeled split: clusters, and no labels, metrics or leaderboard
    assert np.load(res / "unseen/methods/knn_cc/clusters.npy").shape == (400,)
    assert not (res / "unseen/labels.npy").exists()
    assert not list((res / "unseen").rglob("metrics.json")) and not (res / "unseen/leaderboard.csv").exists()
    summary = json.loads((res / "unseen/methods/knn_cc/summary.json").read_text())
    assert summary["n_samples"] == 400 and summary["n_clusters"] == len(np.unique(np.load(res / "unseen/methods/knn_cc/clusters.npy")))
    assert len((res / "unseen/methods/knn_cc/clusters.csv").read_text().splitlines()) == 401
    dry = run_snakemake(tmp_path, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr  # no metrics job is pending for the unlabeled split
    # the release kNN was used (ids), with the contract's layout
    with np.load(res / "test/knn.npz") as z:
        nbrs, sims = z["nbrs"], z["sims"]
    assert nbrs.shape == (400, 16) and np.all(nbrs[:, 0] == np.arange(400))
    assert "neighbour ids from resources/own/knns/test/faiss_k_20.npz" in (tmp_path / "logs/own/test/knn.log").read_text()
    x = np.fromfile(tmp_path / "resources/own/features/test.bin", dtype=np.float32).reshape(400, 24)
    ref_n, ref_s = exact_knn(l2_normalise(x), 16, backend="faiss")
    np.testing.assert_array_equal(nbrs, ref_n)
    np.testing.assert_allclose(sims, ref_s, atol=1e-5)
    # scoring an unlabeled split is refused with a clear message
    proc = run_snakemake(tmp_path, "-n", "results/own/unseen/methods/knn_cc/metrics.json", check=False)
    assert proc.returncode != 0 and "is unlabeled: it cannot be scored" in proc.stdout + proc.stderr
    # Ada-NETS on the unlabeled split needs no labels of it (only the train split's)
    out = run_snakemake(tmp_path, "-n", "results/own/unseen/clusters.npy").stdout
    assert "rule ada_nets_cluster:" in out and "results/own/unseen/labels.npy" not in out
    # export back to the learn-to-cluster layout
    run_snakemake(tmp_path, "--cores", "1", "results/own/test/knns/faiss_k_10.npz")
    with np.load(res / "test/knns/faiss_k_10.npz") as z:
        data = z["data"]
    assert data.shape == (400, 2, 10)
    np.testing.assert_array_equal(data[:, 0].astype(np.int64), nbrs[:, :10])
    np.testing.assert_allclose(data[:, 1], 1 - sims[:, :10], atol=1e-6)


def test_gcn_clustering_fixture_pipeline(tmp_path):
    """IJB-B-style .npy triple (features, labels, (N, K+1) kNN graph) through knn_cc."""
    splits = {}
    for i, split in enumerate(["casia", "F512"]):
        x, y = clustered(300, 32, 10, seed=10 + i)
        base = tmp_path / "resources/ijb"
        base.mkdir(parents=True, exist_ok=True)
        np.save(base / f"{split}.fea.npy", x)
        np.save(base / f"{split}.labels.npy", y[:, None])
        nbrs, _ = exact_knn(l2_normalise(x), 21, backend="faiss")
        np.save(base / f"knn.graph.{split}.bf.npy", np.concatenate([np.arange(300)[:, None], nbrs[:, 1:]], axis=1))
        splits[split] = {k: f"resources/ijb/{v}" for k, v in
                         {"features": f"{split}.fea.npy", "labels": f"{split}.labels.npy", "knn": f"knn.graph.{split}.bf.npy"}.items()}
        splits[split]["n_samples"] = 300
        splits[split]["md5"] = {"labels": hashlib.md5((base / f"{split}.labels.npy").read_bytes()).hexdigest()}
    ds = {"name": "ijb", "format": "gcn_clustering", "feature_dim": 32, "train_split": "casia", "splits": splits,
          "knn": {"k": 16, "source": "release"}, "methods": {"knn_cc": {"k": 16}}}
    write_config(tmp_path, ds, {"ijb": {"splits": ["F512"], "methods": ["knn_cc"]}})
    run_snakemake(tmp_path, "--cores", "2")
    metrics = yaml.safe_load((tmp_path / "results/ijb/F512/methods/knn_cc/metrics.json").read_text())
    assert metrics["n_samples"] == 300 and metrics["n_clusters_true"] == 10
    np.testing.assert_array_equal(np.load(tmp_path / "results/ijb/F512/labels.npy"), np.load(tmp_path / "resources/ijb/F512.labels.npy").ravel())


@pytest.mark.parametrize(
    "problem, message",
    [("md5", "md5 is"), ("count", "600 feature rows, the dataset config expects 601"), ("classes", "identities, the dataset config expects 99")],
)
def test_published_facts_are_checked_before_work(tmp_path, problem, message):
    ds = l2c_fixture(tmp_path)
    ds["knn"]["source"] = "compute"
    test = ds["splits"]["test"]
    if problem == "md5":
        test["md5"] = {"features": "0" * 32}
    elif problem == "count":
        write_bin_features(tmp_path / test["features"], np.ones((600, 24), dtype=np.float32))
        test["n_samples"] = 601
    else:
        test["n_classes"] = 99
    write_config(tmp_path, ds, {"own": {"splits": ["test"], "methods": ["knn_cc"]}})
    proc = run_snakemake(tmp_path, "--cores", "1", "results/own/test/features.npy", "results/own/test/labels.npy", "--keep-going", check=False)
    assert proc.returncode != 0
    log = "".join(p.read_text() for p in (tmp_path / "logs/own/test").glob("prepare_*.log"))
    assert message in log and test["features" if problem != "classes" else "labels"] in log
    assert not (tmp_path / ("results/own/test/features.npy" if problem != "classes" else "results/own/test/labels.npy")).exists()


NPMSCOPE = REPO / "resources" / "npmscope"
needs_npmscope = pytest.mark.skipif(
    not (NPMSCOPE / "train.features.npy").exists(),
    reason="npmscope is absent: resources/npmscope is linked by `make data` from ../shared/data/npmscope",
)


RUN_ALL = ("--configfile", "config/config.yaml", "config/run_all.yaml")  # what `make run-all` adds


def test_default_run_skips_an_absent_if_present_dataset_with_a_message(repo_config_workdir):
    # config/run_all.yaml lists npmscope with `if_present: true`; this scratch directory has no resources/
    proc = run_snakemake(repo_config_workdir, "-n", *RUN_ALL)
    assert "skipping dataset 'npmscope' (run: if_present)" in proc.stderr
    assert "resources/npmscope/" in proc.stderr and "results/synthetic/test/leaderboard.csv" in proc.stdout
    assert "results/npmscope/" not in proc.stdout


@needs_npmscope
def test_npmscope_files_read_as_configured():
    from facecluster.data.datasets import read_features, read_labels

    cfg = yaml.safe_load((REPO / "config" / "datasets" / "npmscope.yaml").read_text())
    for split, files in cfg["splits"].items():
        x = read_features(str(REPO / files["features"]), dim=cfg["feature_dim"])
        y = read_labels(str(REPO / files["labels"]), x.shape[0], files["features"])
        assert x.dtype == np.float16 and x.shape[0] == files["n_samples"]
        assert np.unique(y).size == files["n_classes"]


@needs_npmscope
def test_npmscope_dag_runs_in_make_run_all_and_not_in_make_run(repo_config_workdir):
    (repo_config_workdir / "resources").mkdir()
    (repo_config_workdir / "resources" / "npmscope").symlink_to(NPMSCOPE.resolve())
    assert "results/npmscope/" not in run_snakemake(repo_config_workdir, "-n").stdout  # make run: synthetic alone
    out = run_snakemake(repo_config_workdir, "-n", *RUN_ALL).stdout
    for job in ADA_NETS_JOBS:
        assert f"rule {job}:" in out, job
    assert "results/npmscope/test/leaderboard.csv" in out and "results/npmscope/test/metrics.json" in out
