"""The report's first page: each split's headline (Ada-NETS, the best other method, knn_cc) and leaderboard."""

from __future__ import annotations

from docutils.core import publish_parts

from facecluster.report.front_page import front_page

BOARD = """method,pairwise_precision,pairwise_recall,pairwise_fscore,bcubed_precision,bcubed_recall,bcubed_fscore,nmi,n_clusters_pred,n_clusters_true,seconds
knn_cc,0.9,0.5,0.6838,0.9,0.6,0.7,0.9,900,466,2.0
leiden,0.87,0.74,0.8062,0.89,0.78,0.838,0.95,770,466,14.2
ada_nets,0.81,0.78,0.7969,0.87,0.80,0.836,0.94,1150,466,196.8
"""


def test_headline_and_leaderboard_with_the_seed_spread(tmp_path):
    (tmp_path / "syn" / "test").mkdir(parents=True)
    (tmp_path / "syn" / "test" / "leaderboard.csv").write_text(BOARD)
    text = front_page([("syn", "test"), ("syn", "other")], str(tmp_path))
    assert "ada_nets 0.7969; best other: leiden 0.8062; knn_cc 0.6838" in text and "one run" in text
    assert "No leaderboard yet" in text  # the split without results
    (tmp_path / "syn" / "seeds.csv").write_text("dataset,method,seed,pairwise_f\nsyn,ada_nets,0,0.80\nsyn,ada_nets,1,0.78\n"
                                                "syn,ada_nets,2,0.82\nsyn,knn_cc,0,0.6838\n"
                                                "npm,ada_nets,0,0.30\n")  # another dataset's row: not counted
    text = front_page([("syn", "test")], str(tmp_path))
    assert "ada_nets 0.7969 (mean ± sd over 3 seeds: 0.8000 ± 0.0200)" in text and "one run" not in text
    html = publish_parts(text, writer="html")["html_body"]  # valid reStructuredText: the table renders
    assert html.count("<tr") == 4 and "leiden" in html and ("<h1" in html or "<h2" in html)
