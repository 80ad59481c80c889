"""The DAG under the SLURM executor: dry-runs of every dataset, and a real single-node SLURM run."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import REPO, run_snakemake, tiny_synthetic
from slurm_cluster import SingleNodeSlurm, unavailable_reason

SLURM_PROFILE = str(REPO / "profiles" / "slurm")
from facecluster.registry import GPU_RULES  # noqa: E402
REAL = {"ms1m": "part9_test", "deepfashion": "test", "ijbb": "F512", "msmt17": "test"}


def placeholders(workdir, ds: str, splits: list[str]) -> None:
    cfg = yaml.safe_load((REPO / "config" / "datasets" / f"{ds}.yaml").read_text())
    for split in dict.fromkeys([*splits, cfg["train_split"]]):
        for key in ("features", "labels"):
            path = workdir / cfg["splits"][split][key]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()


@pytest.mark.parametrize("ds, split", REAL.items())
def test_slurm_dry_run_of_every_dataset(repo_config_workdir, ds, split):
    placeholders(repo_config_workdir, ds, [split])
    out = run_snakemake(repo_config_workdir, "-n", "--profile", SLURM_PROFILE, f"results/{ds}/{split}/metrics.json").stdout
    assert "rule train_gcn:" in out and "rule evaluate_ada_nets:" in out


def test_slurm_dry_run_shows_knn_shards_and_gpu_requests(repo_config_workdir):
    """The issue's command: MS1M part9 with a sharded kNN through the SLURM executor (dry-run)."""
    ds_file = repo_config_workdir / "config" / "datasets" / "ms1m.yaml"
    ds = yaml.safe_load(ds_file.read_text())
    ds["knn"]["shards"] = 8
    ds_file.write_text(yaml.safe_dump(ds))
    placeholders(repo_config_workdir, "ms1m", ["part9_test"])
    out = run_snakemake(repo_config_workdir, "-n", "--executor", "slurm", "--jobs", "8", "--profile", SLURM_PROFILE,
                        "results/ms1m/part9_test/metrics.json", "results/ms1m/part9_test/methods/gcn_ve/metrics.json").stdout
    # 8 shards each: kNN and embedding kNN of part9_test and of part0_train (the context of every choice),
    # and the kNN of part0_train_fit (what the models are fitted on)
    assert out.count("rule knn_shard:") == 40
    for rule in GPU_RULES:  # every gpu=1 rule of facecluster.registry, learned methods included
        block = out[out.index(f"rule {rule}:"):]
        block = block[: block.index("\n\n")]
        assert "gpu=1" in block, (rule, block)


@pytest.mark.slurm
@pytest.mark.e2e
def test_tiny_pipeline_through_a_real_slurm(tmp_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    # one learned method (its three rules are GPU rules, sent to the GPU partition) and one graph
    # method: the executor's plumbing is the same for every rule, and Ada-NETS' ~30 jobs cost minutes here
    methods = ("gcn_v", "knn_cc")
    local, remote = tmp_path / "local", tmp_path / "slurm"
    for workdir in (local, remote):
        tiny_synthetic(workdir, n_samples=600, methods=methods)
    run_snakemake(local, "--cores", "2")
    gpu_partition = [f"{rule}:slurm_partition=debug" for rule in GPU_RULES] + [f"{rule}:cpus_per_gpu=1" for rule in GPU_RULES]
    with SingleNodeSlurm(tmp_path / "cluster") as cluster:
        proc = run_snakemake(
            remote, "--profile", SLURM_PROFILE, "--jobs", "4", "--retries", "0", "--latency-wait", "5",
            "--default-resources", "slurm_partition=debug", "mem_mb=1000", "runtime=30",
            "--set-resources", *gpu_partition, "--set-threads", "knn=1", "embedding_knn=1", "structure_space=1",
            "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
            "--seconds-between-status-checks", "1", "--slurm-logdir", str(tmp_path / "slurm-logs"),
            check=False, timeout=900,
        )
        if proc.returncode != 0:
            raise AssertionError(f"SLURM run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{cluster.logs()[-3000:]}")
    text = proc.stdout + proc.stderr
    assert "Job" in text and "has been submitted with SLURM jobid" in text
    for method in methods:
        rel = "test/metrics.json" if method == "ada_nets" else f"test/methods/{method}/metrics.json"
        a = json.loads((local / "results/synthetic" / rel).read_text())
        b = json.loads((remote / "results/synthetic" / rel).read_text())
        for key in ("pairwise", "bcubed", "nmi", "n_clusters_pred", "params"):
            assert a[key] == b[key], (method, key)
    shutil.rmtree(tmp_path / "slurm-logs", ignore_errors=True)
