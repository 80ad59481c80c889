"""The Snakemake HTML report of a tiny run opens in headless Chromium without console errors, on
its results (each split's headline comparison and leaderboard: facecluster.report.front_page)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import run_snakemake, tiny_synthetic


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return None


@pytest.mark.e2e
def test_report_opens_in_headless_chromium(tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine to open the report: run `make browser` as root "
                    "(or `apt-get install chromium`)")
    tiny_synthetic(tmp_path, n_samples=300, methods=("knn_cc", "cdp"))
    run_snakemake(tmp_path, "--cores", "2")
    run_snakemake(tmp_path, "--report", str(tmp_path / "report.html"))
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=10000", "--dump-dom", (tmp_path / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not errors, errors
    assert "<body" in proc.stdout and "synthetic" in proc.stdout  # rendered: the dataset's category is in the DOM
    # it opens on the results: the split's headline and its leaderboard, rendered on the first page
    dom = proc.stdout
    assert "Test pairwise F" in dom and "best other:" in dom, dom[:3000]
    table = dom[dom.index("Test pairwise F"):]
    assert "<table" in table and "knn_cc" in table and "cdp" in table and "BCubed F" in table
