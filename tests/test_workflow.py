"""The real Snakemake workflow: lint, dry-runs, a tiny end-to-end run, and bad input."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import yaml

from conftest import narrow_widths, REPO, run_snakemake, tiny_synthetic


def test_lint_is_clean():
    proc = run_snakemake(REPO, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "good condition" in proc.stdout + proc.stderr


def test_default_dag_dry_run(repo_config_workdir):
    out = run_snakemake(repo_config_workdir, "-n", "--quiet", "rules").stdout
    for rule in ("synthetic_data", "prepare_features", "prepare_labels", "carve_validation", "knn", "tune_method", "cluster_method",
                 "evaluate_method", "all", "structure_space", "max_q", "train_adaptive_filter", "predict_k", "adjacency",
                 "max_q_adjacency",  # the shipped CPU recipe's GCN training graph (the paper's knn_adjacency: configurable, below)
                 "train_gcn", "embed", "embedding_knn", "tune_ada_nets", "ada_nets_cluster", "evaluate_ada_nets",
                 "ada_nets_diagnostics", "leaderboard"):
        assert rule in out
    # nothing was built by a dry run
    assert not (repo_config_workdir / "results").exists()


def test_gcn_training_graph_is_configurable(repo_config_workdir):
    ds_file = repo_config_workdir / "config" / "datasets" / "synthetic.yaml"
    for graph, rule, absent in (("knn", "knn_adjacency", "max_q_adjacency"), ("max_q", "max_q_adjacency", "knn_adjacency")):
        ds = yaml.safe_load(ds_file.read_text())
        ds["gcn"]["train_graph"] = graph
        ds_file.write_text(yaml.safe_dump(ds))
        out = run_snakemake(repo_config_workdir, "-n", "--quiet", "rules").stdout
        assert rule in out and absent not in out


def test_config_error_names_the_problem(repo_config_workdir):
    cfg = repo_config_workdir / "config" / "config.yaml"
    cfg.write_text(yaml.safe_dump({"run": {"synthetic": {"splits": ["validation"]}}}))
    proc = run_snakemake(repo_config_workdir, "-n", check=False)
    assert proc.returncode != 0
    assert "config/config.yaml: run.synthetic.splits: 'validation' is not a split of config/datasets/synthetic.yaml" in proc.stdout + proc.stderr


def test_width_wider_than_the_knn_is_refused_at_dag_time(repo_config_workdir):
    ds_file = repo_config_workdir / "config" / "datasets" / "synthetic.yaml"
    ds = yaml.safe_load(ds_file.read_text())
    ds["structure"]["k"] = 300
    ds_file.write_text(yaml.safe_dump(ds))
    proc = run_snakemake(repo_config_workdir, "-n", check=False)
    assert proc.returncode != 0 and not (repo_config_workdir / "results").exists()
    assert ("config/datasets/synthetic.yaml: structure.k: 300 reads 300 columns of the kNN graph, but knn.k is 256"
            in proc.stdout + proc.stderr)


@pytest.mark.e2e
def test_tiny_end_to_end(tmp_path):
    tiny_synthetic(tmp_path, n_samples=600)
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "synthetic"
    for split in ("train", "test"):
        x = np.load(res / split / "features.npy")
        y = np.load(res / split / "labels.npy")
        assert x.dtype == np.float32 and x.shape == (600, 256)
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
        assert y.dtype == np.int64 and y.shape == (600,)
    # the train split is carved by identity into its fitting and validation parts
    train_x, train_y = np.load(res / "train" / "features.npy"), np.load(res / "train" / "labels.npy")
    fit_rows, val_rows = np.load(res / "train_fit" / "rows.npy"), np.load(res / "train_val" / "rows.npy")
    assert np.array_equal(np.sort(np.concatenate([fit_rows, val_rows])), np.arange(600))
    assert not set(train_y[fit_rows]) & set(train_y[val_rows])
    for part, rows in (("train_fit", fit_rows), ("train_val", val_rows)):
        assert np.array_equal(np.load(res / part / "features.npy"), train_x[rows])
        assert np.array_equal(np.load(res / part / "labels.npy"), train_y[rows])
    # choices cluster the whole train split (a full split's density) and score the validation part's pairs
    for split, n in (("train", 600), ("test", 600)):
        with np.load(res / split / "knn.npz") as z:
            nbrs, sims = z["nbrs"], z["sims"]
        assert nbrs.dtype == np.int32 and sims.dtype == np.float32 and nbrs.shape == (n, 32)
        assert np.array_equal(nbrs[:, 0], np.arange(n))
        assert np.all(np.diff(sims[:, 1:], axis=1) <= 1e-6)
    clusters = np.load(res / "test" / "methods" / "knn_cc" / "clusters.npy")
    assert clusters.dtype == np.int64 and clusters.shape == (600,)
    m = json.loads((res / "test" / "methods" / "knn_cc" / "metrics.json").read_text())
    assert list(m) == ["dataset", "split", "method", "training", "n_samples", "n_clusters_pred", "n_clusters_true",
                       "pairwise", "bcubed", "nmi", "params", "seconds"]
    assert (m["dataset"], m["split"], m["method"], m["n_samples"]) == ("synthetic", "test", "knn_cc", 600)
    for key in ("pairwise", "bcubed"):
        assert set(m[key]) == {"precision", "recall", "fscore"}
        assert all(0.0 <= v <= 1.0 for v in m[key].values())
    assert m["n_clusters_pred"] == len(np.unique(clusters))
    tuned = json.loads((res / "models" / "knn_cc_tuned.json").read_text())
    assert m["params"]["tau"] == tuned["value"] and "validation part 'train_val'" in m["params"]["tau_source"]
    assert "within the train split 'train'" in tuned["source"] and tuned["split"] == "train"
    # k chosen on validation among the registry's candidates that fit knn.k = 32 (the YAML sets none)
    assert [c["settings"]["k"] for c in tuned["candidates"]] == [5, 10, 20]
    best = max(tuned["candidates"], key=lambda c: c["fscore"])
    assert m["params"]["k"] == tuned["settings"]["k"] == best["settings"]["k"] and tuned["fscore"] == best["fscore"]
    assert set(m["seconds"]) == {"knn", "cluster"}
    # a second run has nothing to do: every artifact is cached
    assert "Nothing to be done" in run_snakemake(tmp_path, "--cores", "2", "-n").stdout


@pytest.mark.e2e
def test_tiny_all_non_learned_methods_and_leaderboard(tmp_path):
    methods = ("knn_cc", "cdp", "knn_dbscan", "fast_hac", "chinese_whispers", "approx_rank_order", "leiden", "minibatch_kmeans")
    tiny_synthetic(tmp_path, n_samples=600, methods=methods)
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "synthetic"
    labels = np.load(res / "test" / "labels.npy")
    for method in methods:
        m = json.loads((res / "test" / "methods" / method / "metrics.json").read_text())
        assert m["method"] == method and 0.0 < m["pairwise"]["fscore"] <= 1.0, method
        if method == "minibatch_kmeans":
            assert m["params"]["n_clusters"] == len(np.unique(labels)) and "upper-bound" in m["params"]["n_clusters_source"]
            continue
        tuned = json.loads((res / "models" / f"{method}_tuned.json").read_text())
        param = tuned["param"]
        assert m["params"][param] == tuned["value"] and "validation part" in m["params"][f"{param}_source"], method
        assert tuned["value"] == max(tuned["curve"], key=lambda c: (c[1], -c[0]))[0]
    board = (res / "test" / "leaderboard.csv").read_text().splitlines()
    assert {r.split(",")[0] for r in board[1:]} == set(methods)
    md = (res / "test" / "leaderboard.md").read_text()
    assert all(f"| {method} |" in md for method in methods)


@pytest.mark.e2e
def test_tiny_committee_methods(tmp_path):
    """CDP's committee end to end: generated members, checked and carved member features, their kNN,
    the vote and the mediator chosen on validation and scored on test; a member file with a row
    missing is refused before any kNN, naming the file."""
    methods = ("cdp", "cdp_vote", "cdp_mediator")
    ds = tiny_synthetic(tmp_path, n_samples=600, methods=methods)
    assert list(ds["synthetic"]["committee"]) == ["b", "c"]
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "synthetic"
    for split in ("train", "train_fit", "test"):
        for member, dim in (("b", 256), ("c", 128)):
            x = np.load(res / split / "committee" / member / "features.npy")
            assert x.shape[1] == dim and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
            assert np.load(res / split / "committee" / member / "knn.npz")["nbrs"].shape == (x.shape[0], 30)
    fit = np.load(res / "train_fit" / "rows.npy")
    np.testing.assert_array_equal(np.load(res / "train_fit" / "committee" / "b" / "features.npy"),
                                  np.load(res / "train" / "committee" / "b" / "features.npy")[fit])
    for method in methods:
        m = json.loads((res / "test" / "methods" / method / "metrics.json").read_text())
        assert 0.0 < m["pairwise"]["fscore"] <= 1.0, method
    vote = json.loads((res / "test" / "methods" / "cdp_vote" / "params.json").read_text())
    assert vote["accept"] in (None, 1) and vote["k"] in (15, 30)  # every member's vote (the release's row) or any one
    needed = 2 if vote["accept"] is None else 1
    assert f">= {needed} of 2 committee votes" in (tmp_path / "logs" / "synthetic" / "test" / "cdp_vote.log").read_text()
    assert {(c["settings"]["k"], c["settings"]["accept"]) for c in vote["chosen_on_validation"]["candidates"]} == {
        (15, None), (15, 1), (30, None), (30, 1)}
    ckpt = torch.load(res / "models" / "cdp_mediator.pt", weights_only=False)
    assert ckpt["kind"] == "cdp_mediator" and ckpt["arch"]["dim"] == 2 + 3 + 3  # relationship 2, affinity 3, structure 3
    assert len(ckpt["loss_curve"]) > 1
    # a member file one row short is refused by its preparation rule, which names it
    bad = tmp_path / "resources" / "synthetic" / "test" / "committee" / "c.npy"
    np.save(bad, np.load(bad)[:-1])
    target = "results/synthetic/test/committee/c/features.npy"
    proc = run_snakemake(tmp_path, "--cores", "1", "--forcerun", target, "--allowed-rules", "prepare_member_features", target, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "synthetic" / "test" / "prepare_member_features_c.log").read_text()
    assert "c.npy: committee member 'c' has 599 rows, the split's features (results/synthetic/test/features.npy) 600" in log
    assert not (tmp_path / target).exists()  # no half-written artifact


@pytest.mark.e2e
def test_tiny_learned_methods(tmp_path):
    methods = ("gcn_v", "gcn_ve", "lgcn", "lce")
    tiny_synthetic(tmp_path, n_samples=600, methods=methods)
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "synthetic"
    for method in methods:
        m = json.loads((res / "test" / "methods" / method / "metrics.json").read_text())
        assert m["method"] == method and 0.0 < m["pairwise"]["fscore"] <= 1.0, method
        assert f"train_{method}" in m["seconds"] and (res / "models" / f"{method}.pt").exists()
        if method != "lce":
            tuned = json.loads((res / "models" / f"{method}_tuned.json").read_text())
            # L-GCN keeps every pair as its release (tune: fixed, threshold 0); the others tune on validation
            source = "config (tune: fixed)" if method == "lgcn" else "validation part"
            assert m["params"][tuned["param"]] == tuned["value"] and source in m["params"][f"{tuned['param']}_source"]
    assert "train_gcn_v" in json.loads((res / "test" / "methods" / "gcn_ve" / "metrics.json").read_text())["seconds"]
    board = (res / "test" / "leaderboard.csv").read_text().splitlines()
    assert {r.split(",")[0] for r in board[1:]} == set(methods)


@pytest.mark.e2e
def test_tiny_gcn_d_and_gcn_s(tmp_path):
    """GCN-D and GCN-D + GCN-S through the real rules: one proposals artifact per split (the fitting
    part's from train_proposals), the models, and clusters that cover every node."""
    from facecluster.methods import proposals as P

    tiny_synthetic(tmp_path, n_samples=600, methods=("gcn_d", "gcn_ds"))
    run_snakemake(tmp_path, "--cores", "2")
    res = tmp_path / "results" / "synthetic"
    for split in ("train_fit", "train", "test"):
        props = P.load(str(res / split / "proposals.npz"))
        n = np.load(res / split / "labels.npy").shape[0]
        assert len(props) > 0 and props.indptr[-1] == props.indices.size and props.indices.max() < n
        assert set(np.unique(props.level)) <= {0, 1} and props.settings[0]["k"] == 16
    for method in ("gcn_d", "gcn_ds"):
        m = json.loads((res / "test" / "methods" / method / "metrics.json").read_text())
        assert m["method"] == method and 0.0 < m["pairwise"]["fscore"] <= 1.0
        assert np.load(res / "test" / "methods" / method / "clusters.npy").shape == (np.load(res / "test" / "labels.npy").shape[0],)
    assert "train_gcn_d" in json.loads((res / "test" / "methods" / "gcn_ds" / "metrics.json").read_text())["seconds"]
    assert (res / "test" / "plots" / "gcn_d_proposals.png").stat().st_size > 0  # the report's figure


@pytest.mark.e2e
def test_tiny_ada_nets_end_to_end(tmp_path):
    """Every Ada-NETS artifact of a tiny run, its metrics and report. That a rerun gives the same
    bytes (under a CPU load, and after kills at three stages) is tests/test_faults.py's."""
    work = tmp_path / "a"
    tiny_synthetic(work, n_samples=600, methods=("ada_nets", "knn_cc"))
    run_snakemake(work, "--cores", "2")
    res = work / "results" / "synthetic"
    for split in ("train_fit", "test"):
        d = res / split
        n = np.load(d / "labels.npy").shape[0]
        with np.load(d / "structure.npz") as z:
            nbrs, dists = z["nbrs"], z["dists"]
        assert nbrs.shape == (n, 16) and nbrs.dtype == np.int32 and dists.dtype == np.float32
        assert np.all(np.diff(dists, axis=1) >= 0)
        k_star = np.load(d / "max_q.npy")
        k_pred = np.load(d / "k_pred.npy")
        for arr in (k_star, k_pred):
            assert arr.shape == (n,) and arr.min() >= 1 and arr.max() <= 16
        if split == "train_fit":
            continue  # the fitting part's k* trains the filter; it is neither embedded nor clustered
        adj = sp.load_npz(d / "adjacency.npz").tocsr()
        assert adj.shape == (600, 600)
        assert np.all(adj.diagonal() > 0)
        np.testing.assert_allclose(np.asarray(adj.sum(axis=1)).ravel(), 1.0, rtol=1e-5)
        assert ((adj > 0) != (adj > 0).T).nnz == 0  # symmetric pattern
        emb = np.load(d / "embeddings.npy")
        assert emb.dtype == np.float32 and emb.shape == (600, 32)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    for model in ("adaptive_filter.pt", "gcn.pt"):
        ckpt = torch.load(res / "models" / model, weights_only=False)
        # the GCN may stop early on validation (validation.patience): then at the step it records
        stopped = ckpt.get("validation", {}).get("stopped_at")
        assert len(ckpt["loss_curve"]) == (stopped or 4) and "state_dict" in ckpt
    clusters = np.load(res / "test" / "clusters.npy")
    assert clusters.dtype == np.int64 and clusters.shape == (600,)
    m = json.loads((res / "test" / "metrics.json").read_text())
    assert m["method"] == "ada_nets" and m["n_samples"] == 600
    assert "validation part 'train_val'" in m["params"]["tau_source"]
    diag = m["diagnostics"]
    assert set(diag) == {"test", "train_fit"}
    for split_diag in diag.values():
        assert set(split_diag["knn_precision"]) == {"knn", "structure"}
        assert split_diag["filter"]["mean_abs_error"] >= 0
        assert set(split_diag["edges"]) == {"adaptive", "knn_top16"}
    assert {"train_adaptive_filter", "train_gcn", "structure_space", "embed"} <= set(m["seconds"])
    board = (res / "test" / "leaderboard.csv").read_text().splitlines()
    assert board[0].startswith("method,pairwise_precision") and {r.split(",")[0] for r in board[1:]} == {"ada_nets", "knn_cc"}
    # clusters a user can use, and the Snakemake report with every figure
    summary = json.loads((res / "test" / "summary.json").read_text())
    assert summary["n_samples"] == 600 and summary["n_clusters"] == m["n_clusters_pred"]
    assert (res / "test" / "clusters.csv").read_text().splitlines()[0] == "index,cluster,cluster_size"
    report = tmp_path / "a" / "report.html"
    run_snakemake(tmp_path / "a", "--report", str(report))
    html = report.read_text()
    for name in ("threshold_curves.png", "cluster_sizes.png", "ada_nets_neighbours.png", "training_curves.png",
                 "timings.png", "leaderboard.csv"):
        assert name in html, name


def _npy_dataset(workdir, features, labels):
    raw = workdir / "resources" / "mine"
    raw.mkdir(parents=True)
    np.save(raw / "train_x.npy", features)
    np.save(raw / "train_y.npy", labels)
    ds = {
        "name": "mine", "format": "npy", "feature_dim": 8, "train_split": "train",
        "splits": {"train": {"features": "resources/mine/train_x.npy", "labels": "resources/mine/train_y.npy"}},
        "knn": {"k": 5},
    }
    narrow_widths(ds, 5)
    (workdir / "config" / "datasets").mkdir(parents=True)
    (workdir / "config" / "datasets" / "mine.yaml").write_text(yaml.safe_dump(ds))
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump({"run": {"mine": {"splits": ["train"]}}}))


@pytest.mark.parametrize("problem,message", [
    ("nan", "features contain NaN"),
    ("labels", "30 labels but resources/mine/train_x.npy has 40 feature rows"),
    ("dim", "feature dimension is 9"),
])
def test_bad_input_fails_with_clear_error_and_no_artifact(tmp_path, problem, message):
    x = np.random.default_rng(0).standard_normal((40, 9 if problem == "dim" else 8)).astype(np.float32)
    y = np.arange(30 if problem == "labels" else 40) // 4
    if problem == "nan":
        x[7, 3] = np.nan
    _npy_dataset(tmp_path, x, y)
    proc = run_snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    log = "".join(p.read_text() for p in (tmp_path / "logs" / "mine" / "train").glob("prepare_*.log"))
    assert message in log and "resources/mine/train_" in log
    artifact = "labels.npy" if problem == "labels" else "features.npy"
    assert not (tmp_path / "results" / "mine" / "train" / artifact).exists()


@pytest.mark.e2e
def test_sharded_knn_gives_a_byte_identical_knn_npz(tmp_path):
    runs = {}
    for shards in (1, 3):
        workdir = tmp_path / f"shards{shards}"
        ds = tiny_synthetic(workdir, n_samples=600)
        ds["knn"].update(shards=shards, chunk_size=100)
        (workdir / "config" / "datasets" / "synthetic.yaml").write_text(yaml.safe_dump(ds))
        proc = run_snakemake(workdir, "--cores", "2", "results/synthetic/test/knn.npz")
        assert ("rule knn_shard:" in proc.stdout + proc.stderr) == (shards > 1)
        runs[shards] = (workdir / "results/synthetic/test/knn.npz").read_bytes()
        assert not list((workdir / "results/synthetic/test").glob("knn_shards/*.npz"))  # temporary
    assert runs[1] == runs[3]
