"""Faults (issue 24): Snakemake and its job killed (SIGKILL) in the middle of a sharded kNN, of
training and of inference, the workflow started again as a user would, under a CPU load beside it;
the results equal those of an uninterrupted run, no partial artifact is ever visible under its final
name, and a damaged cached artifact is set aside and rebuilt.

The kill points are exact: ``FACECLUSTER_FAILPOINT=<step>`` makes the job stop itself (SIGSTOP)
right after it reports progress inside that step (:func:`facecluster.progress.failpoint`), and the
test then SIGKILLs Snakemake and every process under it, as a power loss or a scheduler's
preemption would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, run_snakemake, tiny_synthetic
from facecluster.data.integrity import find_damaged
from facecluster.progress import FAILPOINT_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("faults")]

#: (failpoint, the artifact its job writes: it must not exist after the kill)
KILL_POINTS = (
    ("kNN", "results/synthetic/{split}/knn_shards/{shard}.npz"),
    ("GCN step", "results/synthetic/models/gcn.pt"),
    ("GCN inference", "results/synthetic/{split}/embeddings.npy"),
)


def _workdir(path: Path) -> Path:
    ds = tiny_synthetic(path, n_samples=600, methods=("ada_nets", "knn_cc"))
    ds["knn"].update(shards=2, chunk_size=64)  # several chunks per shard: a kNN job can stop half-way
    ds["gcn"]["train"]["steps"] = 8
    ds["inference"] = {"chunk_size": 128}  # the chunked embedding pass: inference can stop half-way
    import yaml

    (path / "config" / "datasets" / "synthetic.yaml").write_text(yaml.safe_dump(ds))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run, nothing else running beside it."""
    work = _workdir(tmp_path_factory.mktemp("reference"))
    run_snakemake(work, "--cores", "2")
    return work


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_at(work: Path, failpoint: str, timeout: float = 300) -> Path:
    """Run the workflow until a job stops at ``failpoint``; SIGKILL Snakemake and all its processes.
    Returns the stopped job's log."""
    env = {**os.environ, FAILPOINT_ENV: failpoint}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2"]
    with open(work / f"snakemake_{failpoint.replace(' ', '_')}.out", "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    stopped = None
    while stopped is None:
        assert proc.poll() is None, f"the workflow ended (rc {proc.returncode}) without reaching failpoint '{failpoint}'"
        assert time.monotonic() < deadline, f"failpoint '{failpoint}' not reached in {timeout} s"
        for log in (work / "logs").rglob("*.log"):
            if f"failpoint '{failpoint}" in log.read_text(errors="replace"):
                stopped = log
                break
        time.sleep(0.05)
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)
    # what Snakemake asks after a kill (its lock stays behind): unlock, then the same command again
    run_snakemake(work, "--unlock")
    return stopped


def _cpu_load(n: int = 1) -> list[subprocess.Popen]:
    """Busy processes beside the run (numpy matrix products: they compete for the cores and caches;
    under `make test` the other pytest worker adds its own load)."""
    code = "import numpy as np\na = np.random.rand(400, 400)\nwhile True:\n    a = a @ a; a /= np.abs(a).max()"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def _compare(reference: Path, work: Path) -> None:
    ref, res = reference / "results" / "synthetic", work / "results" / "synthetic"
    arrays = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.suffix in (".npy", ".npz") and not p.name.startswith("."))
    assert len(arrays) > 20
    for rel in arrays:
        assert (res / rel).read_bytes() == (ref / rel).read_bytes(), rel
    for model in ("adaptive_filter.pt", "gcn.pt"):
        a, b = (torch.load(root / "models" / model, weights_only=False)["state_dict"] for root in (ref, res))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), model
    for rel in ("test/metrics.json", "test/methods/knn_cc/metrics.json"):
        a, b = (json.loads((root / rel).read_text()) for root in (ref, res))
        assert a["pairwise"] == b["pairwise"] and a["bcubed"] == b["bcubed"], rel


def test_killed_at_every_stage_and_resumed_under_load_equals_an_uninterrupted_run(reference, tmp_path):
    work = _workdir(tmp_path / "killed")
    load = _cpu_load()
    try:
        for failpoint, artifact in KILL_POINTS:
            log = _kill_at(work, failpoint)
            assert log.name.startswith({"kNN": "knn_shard", "GCN step": "train_gcn", "GCN inference": "embed"}[failpoint]), log
            rel = log.relative_to(work / "logs" / "synthetic")
            split = rel.parts[0] if len(rel.parts) > 1 else "train"
            shard = log.stem.rsplit("_", 1)[-1]
            # the stopped job wrote nothing under its final name; nothing under results/ is partial
            assert not (work / artifact.format(split=split, shard=shard)).exists(), (failpoint, log)
            assert find_damaged(work / "results") == []
        # started again as a user would (after --unlock; the profile's rerun-incomplete), under the same load
        run_snakemake(work, "--cores", "2")
    finally:
        for p in load:
            p.kill()
    _compare(reference, work)
    assert not list((work / "results").rglob(".*.tmp*"))  # the killed jobs' temporary files are gone

    # a damaged cached artifact (a truncated copy) is set aside and rebuilt, not read
    knn = work / "results" / "synthetic" / "test" / "knn.npz"
    knn.write_bytes(knn.read_bytes()[: knn.stat().st_size // 2])
    proc = run_snakemake(work, "--cores", "2", "all", "results/synthetic/test/knn.npz")
    assert "results/synthetic/test/knn.npz is damaged" in proc.stderr + proc.stdout
    assert (work / "results" / "synthetic" / "test" / "knn.npz.damaged").exists()
    _compare(reference, work)
