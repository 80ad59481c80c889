"""clusters.csv / summary.json, and the report figures (each function writes a PNG)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from facecluster.report import plots
from facecluster.report.cluster_output import read_names, summary, write_clusters_csv
from facecluster.data.io import InputError


def test_summary_and_csv(tmp_path):
    clusters = np.array([2, 0, 2, 5, 2, 0, 7])  # sizes: 2 -> 3, 0 -> 2, 5 -> 1, 7 -> 1
    s = summary(clusters)
    assert (s["n_samples"], s["n_clusters"], s["n_singletons"], s["size_max"], s["size_min"]) == (7, 4, 2, 3, 1)
    assert s["size_p50"] == pytest.approx(1.5) and s["samples_in_singletons"] == pytest.approx(2 / 7)
    write_clusters_csv(str(tmp_path / "c.csv"), clusters)
    rows = list(csv.reader(open(tmp_path / "c.csv")))
    assert rows[0] == ["index", "cluster", "cluster_size"]
    assert rows[1:4] == [["0", "2", "3"], ["1", "0", "2"], ["2", "2", "3"]] and len(rows) == 8
    (tmp_path / "names.txt").write_text("".join(f"img_{i}.jpg\n" for i in range(7)))
    names = read_names(str(tmp_path / "names.txt"), 7)
    write_clusters_csv(str(tmp_path / "n.csv"), clusters, names)
    rows = list(csv.reader(open(tmp_path / "n.csv")))
    assert rows[0] == ["name", "index", "cluster", "cluster_size"] and rows[4] == ["img_3.jpg", "3", "5", "1"]
    with pytest.raises(InputError, match="7 sample names but the split has 8 samples"):
        read_names(str(tmp_path / "names.txt"), 8)


def test_figures_are_written(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.integers(20, size=300)
    tuned = {"knn_cc": {"param": "tau", "value": 0.7, "curve": [(0.5, 0.4), (0.7, 0.8), (0.9, 0.6)],
                        "curve_pr": [(0.5, 0.3, 0.9), (0.7, 0.8, 0.8), (0.9, 0.95, 0.4)]},
             "ada_nets": {"param": "tau", "value": 0.9, "curve": [(0.8, 0.5), (0.9, 0.7)]}}
    plots.threshold_curves(tuned, str(tmp_path / "t.png"))
    plots.cluster_size_distribution({"a": rng.integers(40, size=300)}, str(tmp_path / "s.png"), truth)
    plots.neighbour_counts(rng.integers(1, 80, 300), rng.integers(1, 80, 300),
                           {"knn": {"10": 0.9, "40": 0.7}, "structure": {"10": 0.92, "40": 0.75}}, str(tmp_path / "k.png"))
    plots.training_curves({"GCN": [(s, 2.0 / s, 0.1) for s in range(1, 120)]}, str(tmp_path / "l.png"))
    plots.stage_timings([("knn", 3.2, 400.0), ("train_gcn", 30.0, 900.0)], str(tmp_path / "w.png"))
    for name in "tsklw":
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
