"""facecluster.config and facecluster.registry, without Snakemake: defaults, presets, every
cross-field check's message, and the tables other parts of the project derive from the registry."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from facecluster import config as fc
from facecluster import registry
from conftest import REPO

MINIMAL = {
    "name": "mine", "format": "custom", "feature_dim": 8, "train_split": "train",
    "splits": {"train": {"features": "resources/mine/train.npy", "labels": "resources/mine/train_labels.npy"},
               "test": {"features": "resources/mine/test.npy", "labels": "resources/mine/test_labels.npy"}},
}


def write(tmp_path, ds: dict, name: str = "mine"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(ds))
    return path


def load(tmp_path, **changes):
    ds = fc.deep_merge(MINIMAL, changes)
    return fc.load_dataset(write(tmp_path, ds))


def refused(tmp_path, message: str, name: str = "mine", **changes):
    ds = fc.deep_merge(MINIMAL, changes)
    with pytest.raises(fc.ConfigError) as err:
        fc.load_dataset(write(tmp_path, ds, name))
    assert message in str(err.value), str(err.value)
    assert f"{name}.yaml" in str(err.value)
    return str(err.value)


def test_minimal_config_has_complete_consistent_defaults(tmp_path):
    ds = load(tmp_path)
    assert ds["training"] == "cpu"
    # every training stage has a budget (the old schema left these without a default: KeyError 'train')
    assert ds["adaptive_filter"]["train"]["steps"] == 800 and ds["gcn"]["train"]["steps"] == 150
    for m in registry.LEARNED:
        c = ds["methods"][m]
        budget = c["train"].get("steps", c["train"].get("epochs")) if "train" in c else c["epochs"]
        assert budget > 0  # the mediator trains in epochs, GCN-D / GCN-S in the release's epochs
    # the widths that read the kNN graph fit inside it (the old defaults: knn.k 80, gcn.order_k 256)
    assert ds["knn"]["k"] >= max(ds["structure"]["k"], ds["gcn"]["order_k"])
    fc.check_widths(ds, "x.yaml")
    # GCN embeddings of one identity are very tight: the default tau grid reaches above 0.99
    assert max(seg["stop"] for seg in ds["cluster"]["grid"]) > 0.999


def test_paper_preset_is_the_schema_defaults_and_file_values_win(tmp_path):
    paper = load(tmp_path, training="paper")
    assert paper["training"] == "paper"
    assert paper["gcn"]["train"] == {"steps": 35000, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.00001, "warmup": 1024,
                                     "optimizer": "sgd", "log_every": 10, "milestones": []}
    assert paper["adaptive_filter"]["train"]["steps"] == 40000 and paper["adaptive_filter"]["hidden"] is None
    assert paper["methods"]["gcn_v"]["train"]["steps"] == 80000
    mine = load(tmp_path, gcn={"train": {"steps": 7, "lr": 0.5}}, methods={"lce": {"layers": 2}})
    assert mine["gcn"]["train"]["steps"] == 7 and mine["gcn"]["train"]["lr"] == 0.5
    assert mine["methods"]["lce"]["layers"] == 2 and mine["methods"]["lce"]["train"]["steps"] == 300  # rest from cpu


def test_shipped_configs_name_their_preset():
    datasets = fc.load_datasets(REPO / "config" / "datasets")
    assert datasets["synthetic"]["training"] == "cpu" and datasets["npmscope"]["training"] == "cpu"
    for name in ("ms1m", "deepfashion", "ijbb", "msmt17"):
        assert datasets[name]["training"] == "paper"


def test_generated_dataset_gets_its_split_paths():
    ds = fc.load_dataset(REPO / "config" / "datasets" / "synthetic.yaml")
    assert ds["splits"]["test"] == {"features": "resources/synthetic/test/features.npy",
                                    "labels": "resources/synthetic/test/labels.npy",
                                    "committee": {"b": "resources/synthetic/test/committee/b.npy",
                                                  "c": "resources/synthetic/test/committee/c.npy"}}
    assert ds["splits"]["train_fit"]["committee"] == ds["splits"]["train"]["committee"]  # carved from the train split's
    assert fc.raw_files(ds, "test") == []  # written by the pipeline: nothing to find before the run


@pytest.mark.parametrize("changes,message", [
    ({"training": "gpu"}, "training: 'gpu' is not a preset"),
    ({"knn": {"k": "many"}}, "knn.k: 'many' is not of type 'integer'"),
    ({"knn": {"kk": 3}}, "Additional properties are not allowed ('kk' was unexpected)"),
    ({"train_split": "val"}, "train_split: 'val' is not one of its splits"),
    ({"splits": {"today": {"labels": "x.npy"}}}, "splits.today.features: missing"),
    ({"feature_dim": None, "splits": {"today": {"features": "x.bin"}}}, "feature_dim: null, but splits.today.features is a .bin file"),
    ({"structure": {"k": 300}}, "structure.k: 300 reads 300 columns of the kNN graph, but knn.k is 256 (ada_nets)"),
    ({"knn": {"k": 100}}, "gcn.order_k: 256 reads 256 columns of the kNN graph, but knn.k is 100"),
    ({"methods": {"cdp": {"k": 257}}}, "methods.cdp.k: 257 reads 257 columns of the kNN graph, but knn.k is 256 (cdp)"),
    ({"methods": {"lce": {"k": 300}}}, "methods.lce.k: 300 reads 300 columns"),
    ({"methods": {"gcn_v": {"k": 300}}}, "methods.gcn_v.k: 300 reads 300 columns"),
    ({"methods": {"lgcn": {"k_at_hop_test": [256, 5]}}}, "methods.lgcn.k_at_hop_test.0: 256 reads 257 columns (the node itself + 256)"),
])
def test_every_check_names_file_and_key(tmp_path, changes, message):
    refused(tmp_path, message, **changes)


def test_name_must_match_the_file(tmp_path):
    refused(tmp_path, "name: 'mine' differs from the file name 'other'", name="other")


def test_train_split_needs_labels(tmp_path):
    ds = fc.deep_merge(MINIMAL, {})
    del ds["splits"]["train"]["labels"]
    with pytest.raises(fc.ConfigError, match=r"mine.yaml: splits.train.labels: missing"):
        fc.load_dataset(write(tmp_path, ds))


def test_knn_wider_than_a_split_is_refused_from_the_file_header(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resources" / "mine").mkdir(parents=True)
    np.save(tmp_path / "resources" / "mine" / "test.npy", np.zeros((100, 8), np.float32))
    refused(tmp_path, "knn.k: 256 neighbours per sample, but split 'test' has only 100 samples (resources/mine/test.npy)")
    (tmp_path / "resources" / "mine" / "test.npy").unlink()
    refused(tmp_path, "split 'train' has only 50 samples", splits={"train": {"n_samples": 50}})
    # GCN-E's hidden-feature kNN holds the node and its k candidates
    refused(tmp_path, "methods.gcn_ve.k (+ the node itself): 300 neighbours per sample, but split 'train' has only 299",
            knn={"k": 200}, structure={"k": 80}, gcn={"order_k": 200}, splits={"train": {"n_samples": 299}},
            methods={"gcn_ve": {"k": 299}})


def _workflow(tmp_path, run: dict, ds: dict | None = None):
    (tmp_path / "datasets").mkdir(exist_ok=True)
    write(tmp_path / "datasets", ds or MINIMAL)
    return fc.load_workflow_config({"run": run, "dataset_dir": str(tmp_path / "datasets")}, "config.yaml")


def test_run_entries_are_checked(tmp_path):
    cfg = _workflow(tmp_path, {"mine": {"splits": ["test"]}})
    assert cfg["run"]["mine"]["methods"] == ["ada_nets", "knn_cc"] and "mine" in cfg["datasets"]
    for run, message in [
        ({"theirs": {"splits": ["test"]}}, "run.theirs: no dataset 'theirs'"),
        ({"mine": {"splits": ["val"]}}, "run.mine.splits: 'val' is not a split"),
        ({"mine": {"splits": ["test"], "methods": ["optics"]}}, "run.mine.methods.0: 'optics' is not one of"),
    ]:
        with pytest.raises(fc.ConfigError, match=re.escape(message)):
            _workflow(tmp_path, run)
    unlabeled = fc.deep_merge(MINIMAL, {"splits": {"today": {"features": "resources/mine/today.npy"}}})
    with pytest.raises(fc.ConfigError, match="methods.minibatch_kmeans.n_clusters: null .* split 'today' has none"):
        _workflow(tmp_path, {"mine": {"splits": ["today"], "methods": ["minibatch_kmeans"]}}, unlabeled)
    with pytest.raises(fc.ConfigError, match="methods.spectral.n_clusters: null .* split 'today' has none"):
        _workflow(tmp_path, {"mine": {"splits": ["today"], "methods": ["spectral"]}}, unlabeled)


# --- the registry and what derives from it ------------------------------------------------------

def test_registry_and_config_import_without_numpy_torch_or_numba():
    code = ("import sys, facecluster.registry, facecluster.config; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch', 'torch_geometric', 'numba')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


def test_config_schema_method_enum_is_the_registry():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    enum = schema["properties"]["run"]["additionalProperties"]["properties"]["methods"]["items"]["enum"]
    assert enum == list(registry.NAMES)
    dataset_schema = yaml.safe_load((REPO / "workflow" / "schemas" / "dataset.schema.yaml").read_text())
    assert set(dataset_schema["properties"]["methods"]["properties"]) == set(registry.NAMES) - {"ada_nets"}


def test_runners_cover_the_registry():
    from facecluster.methods.graph_methods import RUNNERS
    from facecluster.methods.learned import LEARNED

    assert set(RUNNERS) == set(registry.GRAPH_METHODS) and set(LEARNED) == set(registry.LEARNED)


def _workflow_rules() -> dict[str, str]:
    """Every rule of workflow/rules/*.smk (``rule X:`` or ``use rule ... as X with:``) -> its text."""
    rules = {}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=(?:use )?rule )", smk.read_text()):
            name = re.match(r"(?:use rule \w+ as (\w+)|rule (\w+))", block)
            if name:
                rules[name.group(1) or name.group(2)] = block
    return rules


def _gpu_rules_in_workflow() -> set[str]:
    return {name for name, block in _workflow_rules().items() if re.search(r"^\s+gpu=1,?$", block, re.M)}


def test_registry_rules_exist_and_gpu_methods_have_gpu_rules():
    rules = _workflow_rules()
    for family, names in registry.FAMILY_RULES.items():
        assert set(names) <= set(rules), (family, set(names) - set(rules))
    for method in registry.METHODS.values():
        assert method.gpu == bool(set(method.rules) & set(registry.GPU_RULES)), method.name


def test_every_gpu_rule_is_in_the_registry_and_the_slurm_profiles_gpu_partition():
    assert _gpu_rules_in_workflow() == set(registry.GPU_RULES)
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    gpu = {rule for rule, res in profile["set-resources"].items() if "gpu" in str(res.get("slurm_partition", ""))}
    missing = set(registry.GPU_RULES) - gpu
    assert not missing, f"gpu=1 rules without the GPU partition in profiles/slurm/config.yaml: {sorted(missing)}"
    for rule in registry.GPU_RULES:
        assert profile["set-resources"][rule]["cpus_per_gpu"] >= 1


def test_no_method_module_imports_another():
    """Shared mechanisms live in graph/, training/, evaluation/ or a shared module (pivot_subgraph);
    a module that implements one registered method never imports another's."""
    method_modules = {spec.module for spec in registry.METHODS.values() if spec.module.startswith("facecluster.methods.")}
    for module in method_modules:
        path = REPO / "src" / (module.replace(".", "/") + ".py")
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
        others = (method_modules - {module}) | {"facecluster.ada_nets.gcn", "facecluster.ada_nets.adaptive_filter"}
        assert not imported & others, (module, imported & others)


# --- the checkpoint convention --------------------------------------------------------------------

@pytest.mark.parametrize("kind,arch", [
    ("adaptive_filter", {"dim": 8, "hidden": 4, "mlp_hidden": 16, "dropout": 0.5, "input": "similarity"}),
    ("ada_nets_gcn", {"in_dim": 8, "hidden": 6, "init": "release"}),
    ("gcn_v", {"dim": 8, "hidden": 6, "dropout": 0.0}),
    ("pivot_subgraph_gcn", {"dim": 8, "hidden": 6}),
    ("lce", {"dim": 8, "k": 4, "layers": 1, "heads": 2, "feedforward": 8, "dropout": 0.1, "pce_hidden": 6}),
])
def test_save_model_load_model_round_trip(tmp_path, kind, arch):
    import torch

    from facecluster.training.checkpoints import build_model, load_model, save_model

    torch.manual_seed(0)
    model = build_model(kind, **arch)
    save_model(str(tmp_path / "m.pt"), model, kind, arch, {"seed": 0}, [(1, 0.5)], {"k": 3})
    loaded, ckpt = load_model(str(tmp_path / "m.pt"))
    assert type(loaded) is type(model) and not loaded.training and ckpt["k"] == 3 and ckpt["loss_curve"] == [(1, 0.5)]
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(TypeError, match="checkpoint holds"):
        save_model(str(tmp_path / "n.pt"), model, "gcn_v" if kind != "gcn_v" else "lce", arch, {}, [])
    assert not (tmp_path / "n.pt").exists()


def test_committee_members_must_match_and_be_present_for_committee_methods(tmp_path):
    base = {"name": "mine", "format": "npy", "feature_dim": 8, "train_split": "train",
            "splits": {"train": {"features": "a.npy", "labels": "b.npy", "committee": {"m1": "c.npy", "m2": "d.npy"}},
                       "test": {"features": "e.npy", "committee": {"m1": "f.npy"}}}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(base))
    with pytest.raises(fc.ConfigError, match=r"splits.test.committee: members \['m1'\] differ from those of the train split"):
        fc.load_dataset(tmp_path / "mine.yaml", check_files=False)
    del base["splits"]["test"]["committee"]
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(base))
    ds = fc.load_dataset(tmp_path / "mine.yaml", check_files=False)
    assert fc.committee_members(ds) == ["m1", "m2"] and not fc.has_committee(ds, "test")
    assert ("c.npy", "train committee member m1 features") in fc.raw_files(ds, "train")
    config = {"run": {"mine": {"splits": ["test"], "methods": ["knn_cc", "cdp_vote"]}}, "dataset_dir": str(tmp_path)}
    with pytest.raises(fc.ConfigError, match=r"mine.yaml: splits.test.committee: missing, but .* lists cdp_vote"):
        fc.load_workflow_config(config)
