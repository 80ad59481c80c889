"""The feature baselines (learn-to-cluster's sklearn_cluster.py, CDP's baseline_clustering.py): each
equal to the release's scikit-learn call, and the time budget that refuses or stops them."""

from __future__ import annotations

import time

import numpy as np
import pytest

from facecluster.graph.ops import noise_to_singletons
from facecluster.methods import feature_baselines as fb
from facecluster.methods.budget import BudgetError, run_with_budget


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((12, 16))
    y = rng.integers(0, 12, 240)
    x = centres[y] + 0.3 * rng.standard_normal((240, 16))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_each_baseline_is_the_release_call(blobs):
    from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans, SpectralClustering
    from sklearn.neighbors import kneighbors_graph

    x, _ = blobs
    np.testing.assert_array_equal(fb.kmeans_labels(x, 12), KMeans(n_clusters=12, random_state=0, n_init=10).fit(x.astype(np.float64)).labels_)
    np.testing.assert_array_equal(fb.spectral_labels(x, 12), SpectralClustering(
        n_clusters=12, assign_labels="discretize", affinity="nearest_neighbors", random_state=0).fit(x).labels_)
    conn = kneighbors_graph(x, 30, include_self=False)
    np.testing.assert_array_equal(fb.ward_labels(x, 12), AgglomerativeClustering(
        n_clusters=12, connectivity=conn, linkage="ward").fit(x).labels_)
    np.testing.assert_array_equal(fb.dbscan_labels(x, 0.5, 5), noise_to_singletons(DBSCAN(eps=0.5, min_samples=5).fit(x).labels_))
    np.testing.assert_array_equal(fb.hdbscan_labels(x, 10), noise_to_singletons(HDBSCAN(min_cluster_size=10, copy=True).fit(x).labels_))
    labels = fb.meanshift_labels(x)
    assert labels.shape == (240,) and labels.min() >= 0


def test_noise_becomes_singletons():
    np.testing.assert_array_equal(noise_to_singletons(np.array([0, -1, 1, -1, 0])), [0, 2, 1, 3, 0])


def test_the_baselines_find_the_blobs(blobs):
    from facecluster.evaluation.metrics import pairwise_scores

    x, y = blobs
    for name, settings in (("kmeans", {"n_clusters": 12, "seed": 0, "n_init": 10}),
                           ("hac_ward", {"n_clusters": 12, "knn": 30}),
                           ("hdbscan", {"min_cluster_size": 5})):
        labels = fb.feature_baseline(name, x, {**settings, "max_seconds": 120})
        assert pairwise_scores(y, labels)["fscore"] > 0.8, name


def quadratic_sleep(x: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    time.sleep(2e-6 * x.shape[0] ** 2)
    return np.zeros(x.shape[0], dtype=np.int64)


def slow_when_whole(x: np.ndarray) -> np.ndarray:
    time.sleep(30 if x.shape[0] > 1000 else 0.01)
    return np.zeros(x.shape[0], dtype=np.int64)


def test_budget_refuses_before_running_and_names_the_setting():
    x = np.zeros((4000, 2), dtype=np.float32)  # estimate: 2 s at 1,000 rows x 16 = 32 s
    t0 = time.perf_counter()
    with pytest.raises(BudgetError, match=r"quadratic on 4000 x 2 features: estimated at \d+ s .* above methods.x.max_seconds = 5"):
        run_with_budget("quadratic", quadratic_sleep, x, {}, 5, "methods.x.max_seconds")
    assert time.perf_counter() - t0 < 10  # the two samples only


def test_budget_stops_a_run_past_its_limit():
    x = np.zeros((3000, 2), dtype=np.float32)
    t0 = time.perf_counter()
    with pytest.raises(BudgetError, match=r"stopped after \d+ s .* above methods.y.max_seconds = 3"):
        run_with_budget("slow", slow_when_whole, x, {}, 3, "methods.y.max_seconds")
    assert time.perf_counter() - t0 < 15


def test_budget_runs_from_an_unguarded_main_script(tmp_path):
    """Snakemake runs a rule's script as ``__main__`` with no ``if __name__`` guard; multiprocessing's
    spawn re-imported that script in its child, which died, and the parent blocked on the pipe forever
    (the README example's end-to-end test hung in CI). The worker must not re-run the caller's script."""
    import subprocess
    import sys

    script = tmp_path / "rule_script.py"  # 1,500 rows: above the 1,000-row sample, so estimated and run in a child
    marker = tmp_path / "runs.txt"
    script.write_text(
        "import numpy as np\n"
        "from facecluster.methods.feature_baselines import feature_baseline\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "x = np.random.default_rng(0).standard_normal((1500, 64)).astype(np.float32)\n"
        "labels = feature_baseline('kmeans', x, {'n_clusters': 8, 'seed': 0, 'n_init': 1, 'max_seconds': 60})\n"
        "print('labels', len(labels))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "labels 1500" in out.stdout
    assert marker.read_text() == "run\n"  # the script ran once: the worker did not re-import it


@pytest.fixture(scope="module")
def forty_blobs():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 64))
    y = rng.integers(0, 40, 400)
    x = centres[y] + 0.5 * rng.standard_normal((400, 64))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


@pytest.mark.parametrize("name, grid, fixed", [("meanshift", [0.5, 0.6, 0.7, 0.9], {"bandwidth": None}),
                                              ("hdbscan", [2, 5, 10], {"min_cluster_size": 10}),
                                              ("dbscan", [0.6, 0.75, 0.9], {"eps": 0.75})])
def test_density_parameter_chosen_on_held_out_identities_transfers(forty_blobs, name, grid, fixed):
    """The parameter chosen on the pairs of half the identities (rows) is then applied to the other
    half: it must beat the releases' / scikit-learn's fixed value there (MeanShift's bandwidth
    estimated at quantile 0.3 gives one cluster, HDBSCAN's 10 breaks these ~10-member identities, DBSCAN's 0.75 is too tight)."""
    from facecluster.evaluation.metrics import pairwise_scores

    x, y = forty_blobs
    settings = {"bandwidth": None, "quantile": 0.3, "seed": 0, "bin_seeding": False, "min_cluster_size": 10, "eps": 0.75,
                "min_samples": 10, "max_seconds": 120}
    fitted = y < 20
    rows = np.flatnonzero(fitted)
    chosen = fb.choose_feature_baseline(name, x, y, settings, np.array(grid, dtype=float), [], rows)
    assert chosen["value"] in grid and len(chosen["curve"]) == len(grid)
    held = ~fitted
    tuned = pairwise_scores(y[held], fb.feature_baseline(name, x[held], {**settings, **fixed,
                                                                        **{next(iter(fixed)): chosen["value"]}}))["fscore"]
    release = pairwise_scores(y[held], fb.feature_baseline(name, x[held], {**settings, **fixed}))["fscore"]
    assert tuned > release + 0.02, (name, chosen["value"], tuned, release)


def test_meanshift_bin_seeding_finds_no_seed_in_high_dimensions(forty_blobs):
    """Why bin_seeding is off by default: at a bandwidth that separates the blobs no bin centre has a point."""
    x, _ = forty_blobs
    with pytest.raises(ValueError, match="No point was within bandwidth"):
        fb.meanshift_labels(x, 0.6, bin_seeding=True)
    assert fb.meanshift_labels(x, 0.6).max() + 1 > 20
