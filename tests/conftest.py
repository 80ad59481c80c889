"""Shared fixtures: a scratch Snakemake working directory and a runner for the real workflow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``workdir`` as working directory."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def tiny_synthetic(workdir: Path, n_samples: int = 600, methods: tuple[str, ...] = ("knn_cc",), **generator) -> dict:
    """Write config/ in ``workdir``: the repo's synthetic dataset shrunk to ``n_samples``.

    Every stage keeps its code path but gets tiny sizes (k = 16, a few training steps).
    """
    cfg_dir = workdir / "config" / "datasets"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    ds = yaml.safe_load((REPO / "config" / "datasets" / "synthetic.yaml").read_text())
    ds["synthetic"].update(n_samples=n_samples, size_median=40.0, **generator)
    ds["knn"]["k"] = 32
    ds["structure"]["k"] = 16
    ds["adaptive_filter"].update(hidden=16, mlp_hidden=32, batch_size=64, train={"steps": 4, "lr": 0.001, "optimizer": "adam", "warmup": 1})
    # the paper's training graph here (knn_adjacency); the default DAG's max_q graph is dry-run tested
    ds["gcn"].update(hidden=32, order_k=32, batch_neighbours=16, fanout=8, train_graph="knn", train={"steps": 4, "lr": 0.1, "warmup": 1})
    ds["cluster"]["k"] = 16
    ds["inference"] = {"chunk_size": 256}  # the tiny runs' embed and GCN-V inference go through the chunked path
    for settings in ds["methods"].values():
        if "k" in settings:
            settings["k"] = min(settings["k"], 16)
    tiny_train = {"steps": 4, "lr": 0.001, "optimizer": "adam", "warmup": 1}
    learned = {"gcn_v": dict(k=16, hidden=32, feature_k=16), "gcn_ve": dict(k=8, hidden=16, batch_size=16),
               "lgcn": dict(k_at_hop_train=[6, 3], k_at_hop_test=[6, 3], active=3, hidden=16, batch_size=8),
               "lce": dict(k=16, layers=1, feedforward=32, pce_hidden=32, batch_size=16, pce_train=tiny_train)}
    for name, settings in learned.items():
        ds["methods"].setdefault(name, {}).update(settings, train=tiny_train)
    tiny_epochs = {"epochs": 2, "milestones": [1]}
    tiny_proposals = [{"k": 16, "th": 0.6, "max_size": 100, "level1": [{"k": 2, "sv_max_size": 8}]}, {"k": 16, "th": 0.7, "max_size": 100}]
    ds["methods"]["gcn_d"] = {"proposals": tiny_proposals, "train_proposals": tiny_proposals, "hidden": [32, 16],
                              "batch_size": 8, "train": tiny_epochs}
    ds["methods"]["gcn_ds"] = {"hidden": [32, 16], "iop_batch_size": 8, "iop_train": tiny_epochs, "batch_size": 4,
                               "train": tiny_epochs}
    (cfg_dir / "synthetic.yaml").write_text(yaml.safe_dump(ds))
    config = {"run": {"synthetic": {"splits": ["test"], "methods": list(methods)}}, "dataset_dir": "config/datasets"}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return ds


def narrow_widths(ds: dict, k: int) -> dict:
    """Lower every setting that reads columns of the kNN graph (facecluster.registry's
    ``knn_widths``) to fit ``knn.k = k``, plus the widths checked against split sizes (tiny
    fixtures; the config refuses wider settings at DAG time)."""
    from facecluster import registry

    ds.setdefault("knn", {})["k"] = k
    hop = max(1, min(10, k - 1) // 2)
    lgcn = ds.setdefault("methods", {}).setdefault("lgcn", {})
    lgcn.update(k_at_hop_train=[hop, hop], k_at_hop_test=[hop, hop])
    for method in registry.METHODS.values():
        for key, extra in method.knn_widths:
            *parents, last = key.split(".")
            if last.isdigit():  # a list entry (L-GCN's hops): set above
                continue
            node = ds
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = min(node.get(last, k - extra), k - extra)
    cluster = ds.setdefault("cluster", {})
    cluster["k"] = min(cluster.get("k", 80), k)
    gcn_v = ds["methods"].setdefault("gcn_v", {})
    gcn_v["feature_k"] = min(gcn_v.get("feature_k", 80), k)
    gcn_ve = ds["methods"].setdefault("gcn_ve", {})
    gcn_ve["k"] = min(gcn_ve.get("k", 20), k - 1)
    return ds


@pytest.fixture
def repo_config_workdir(tmp_path: Path) -> Path:
    """A working directory holding a copy of the repository's config/ (as a user has it)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


# The slowest tests (`make test`'s --durations, 2-core machine) run first, so that on two pytest
# workers none of them starts last beside an idle worker: at 9bbe286 the README example (720 s)
# came late in collection order and ran alone for its last minutes.
SLOWEST_FIRST = (
    "test_user_config.py::test_readme_example_runs_every_method_choosing_on_validation",
    "test_slurm.py::test_tiny_pipeline_through_a_real_slurm",
    "test_faults.py::",
    "test_unlabeled.py::test_models_from_and_release_weights_cluster_an_unlabeled_split",
    "test_workflow.py::test_tiny_learned_methods",
    "test_workflow.py::test_tiny_ada_nets_end_to_end",
)


def pytest_collection_modifyitems(config, items):
    """Move the slowest tests to the front, in the order above (the rest keep theirs)."""
    def rank(item) -> int:
        for i, key in enumerate(SLOWEST_FIRST):
            if key in item.nodeid:
                return i
        return len(SLOWEST_FIRST)
    items.sort(key=rank)  # stable: the others keep their collection order
