"""Every method runs with the schema defaults (the releases' MS1M settings, `training: paper`).

Issue 14 found GCN-E crashing with the defaults (its candidate count did not fit GCN-V's kNN);
nothing ran the defaults. Here each method's settings are exactly what the schema fills for a
minimal dataset config, except the number of training steps (2) and, for L-GCN, its batch of
pivot subgraphs (2 instead of 16: each holds 1 + 200 * 11 slots); LCE's PCENet gets 2 steps too. Widths, k, kNN hops, ignore
ratios and clustering settings are the defaults, on 260 samples with a 256-wide kNN.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import yaml

from facecluster import config as fc
from facecluster import registry
from facecluster.data.synthetic import SyntheticParams, generate_split
from facecluster.graph.knn import exact_knn
from facecluster.methods.classic import minibatch_kmeans
from facecluster.methods.feature_baselines import feature_baseline
from facecluster.methods.graph_methods import run_graph_method
from facecluster.methods.learned import LEARNED, SplitData

N, DIM = 260, 32


@pytest.fixture(scope="module")
def defaults(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("defaults")
    ds = {"name": "mine", "format": "custom", "feature_dim": DIM, "train_split": "train", "training": "paper",
          "splits": {s: {"features": f"{s}.npy", "labels": f"{s}_labels.npy", "n_samples": N} for s in ("train", "test")}}
    (tmp / "mine.yaml").write_text(yaml.safe_dump(ds))
    return fc.load_dataset(tmp / "mine.yaml", check_files=False)


@pytest.fixture(scope="module")
def splits():
    params = SyntheticParams(n_samples=N, dim=DIM, size_median=20.0)
    out = {}
    for name in ("train", "test"):
        x, y = generate_split(params, name, 0)
        nbrs, sims = exact_knn(x, 256, backend="auto")
        out[name] = SplitData(x, nbrs, sims, y)
    return out


def test_the_defaults_pass_the_config_checks(defaults):
    assert defaults["training"] == "paper" and defaults["knn"]["k"] == 256
    assert defaults["methods"]["gcn_ve"]["k"] == 159 and defaults["methods"]["lgcn"]["max_size"] == 300


@pytest.mark.parametrize("method", registry.NON_LEARNED)
def test_non_learned_method_runs_with_defaults(method, defaults, splits):
    c = defaults["methods"][method]
    d = splits["test"]
    if method == "minibatch_kmeans":
        labels = minibatch_kmeans(d.features, len(np.unique(d.labels)), c["batch_size"], c["seed"])
    elif registry.METHODS[method].family == "features":
        settings = {**c, "n_clusters": len(np.unique(d.labels))} if "n_clusters" in c else c
        labels = feature_baseline(method, d.features, settings)
    else:
        committee = [d.nbrs] if registry.METHODS[method].committee else None  # a one-member committee: the base itself
        labels = run_graph_method(method, d.nbrs, d.sims, c[registry.METHODS[method].param], c, d.features, committee)
    assert labels.shape == (N,) and labels.min() >= 0


def test_learned_methods_run_with_defaults(defaults, splits):
    torch.manual_seed(0)
    device = torch.device("cpu")
    trained: dict = {}
    for method in ("gcn_v", "gcn_ve", "lgcn", "lce"):  # gcn_ve builds on gcn_v
        c = copy.deepcopy(defaults["methods"][method])
        for schedule in ("train", "pce_train"):
            if schedule in c:
                c[schedule]["steps"] = 2
                c[schedule]["milestones"] = []
        if method == "lgcn":
            c["batch_size"] = 2
        spec = LEARNED[method]
        model, curve, arch = spec.train(splits["train"], c, device, np.random.default_rng(0), trained)
        assert len(curve) == (4 if method == "lce" else 2) and all(np.isfinite(loss) for _, loss, _ in curve), method
        trained[method], trained[f"{method}_settings"] = model, c
        predicted = spec.predict(model, splits["test"], c, device, trained)
        value = c[spec.param] if spec.param else None
        labels, _ = spec.cluster(predicted, splits["test"], value, c)
        assert labels.shape == (N,) and labels.min() >= 0, method
