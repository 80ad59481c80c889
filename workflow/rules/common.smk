# Configuration look-ups and input functions shared by all rule files.
import glob
import os

import yaml
from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")


def _load_datasets(folder):
    """Every config/datasets/*.yaml, validated (defaults filled from the schema)."""
    datasets = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path) as fh:
            ds = yaml.safe_load(fh)
        validate(ds, schema="../schemas/dataset.schema.yaml")
        stem = os.path.splitext(os.path.basename(path))[0]
        if ds["name"] != stem:
            raise ValueError(f"{path}: name '{ds['name']}' differs from the file name '{stem}'")
        if ds["train_split"] not in ds["splits"]:
            raise ValueError(f"{path}: train_split '{ds['train_split']}' is not one of its splits")
        if ds["format"] != "synthetic":
            for split, files in ds["splits"].items():
                needed = ["features", "labels"] if files["labelled"] else ["features"]
                missing = [key for key in needed if key not in files]
                if missing:
                    raise ValueError(f"{path}: split '{split}' needs {' and '.join(missing)} (a path to the raw file)")
        datasets[stem] = ds
    return datasets


config["datasets"] = _load_datasets(config["dataset_dir"])
DATASETS = config["datasets"]

for _ds, _run in config["run"].items():
    if _ds not in DATASETS:
        raise ValueError(f"config 'run' names dataset '{_ds}', but {config['dataset_dir']}/{_ds}.yaml does not exist")
    for _split in _run["splits"]:
        if _split not in DATASETS[_ds]["splits"]:
            raise ValueError(f"config 'run' names split '{_split}' of '{_ds}', which its dataset config does not define")


KNOWN_METHODS = ["ada_nets", "knn_cc"]


def all_targets():
    """Targets of the default rule: every configured method's metrics.json and the leaderboard, per split."""
    targets = []
    for ds, run in config["run"].items():
        for split in run["splits"]:
            targets += [method_metrics(ds, split, m) for m in methods_of(ds)]
            targets.append(f"results/{ds}/{split}/leaderboard.csv")
    return targets


def train_split(wildcards):
    return DATASETS[wildcards.ds]["train_split"]


def raw_inputs(wildcards):
    """Raw feature/label files of one split, as the dataset's format lays them out."""
    ds = DATASETS[wildcards.ds]
    if wildcards.split not in ds["splits"]:
        raise ValueError(f"dataset '{wildcards.ds}' has no split '{wildcards.split}' (it has: {', '.join(ds['splits'])})")
    if ds["format"] == "synthetic":
        return {
            "features": f"resources/{wildcards.ds}/{wildcards.split}/features.npy",
            "labels": f"resources/{wildcards.ds}/{wildcards.split}/labels.npy",
        }
    split = ds["splits"][wildcards.split]
    return {"features": split["features"], "labels": split["labels"]}


def train_file(name):
    """Input function: results/{ds}/<train split>/<name>."""

    def _path(wildcards):
        return f"results/{wildcards.ds}/{train_split(wildcards)}/{name}"

    return _path


def gcn_train_graph(wildcards):
    """The graph the GCN trains on: the plain top-order_k kNN graph (paper) or the max-Q graph."""
    name = {"knn": "knn_adjacency.npz", "max_q": "max_q_adjacency.npz"}[DATASETS[wildcards.ds]["gcn"]["train_graph"]]
    return train_file(name)(wildcards)


def synthetic_settings(wildcards):
    """Generator settings of a synthetic dataset (seed and SyntheticParams fields)."""
    return DATASETS[wildcards.ds]["synthetic"]


def mem_mb_from_input(factor=3.0, floor=1000):
    """resources.mem_mb: ``factor`` x the input size (MB), at least ``floor``, doubled per retry."""

    def _mem(wildcards, input, attempt):
        return int(max(floor, factor * input.size_mb) * attempt)

    return _mem


# Benchmark files whose wall time goes into a method's metrics.json "seconds", per stage.
METHOD_STAGES = {
    "knn_cc": {"knn": "benchmarks/{ds}/{split}/knn.tsv", "cluster": "benchmarks/{ds}/{split}/knn_cc.tsv"},
}
ADA_NETS_STAGES = {
    "knn": "benchmarks/{ds}/{split}/knn.tsv",
    "structure_space": "benchmarks/{ds}/{split}/structure_space.tsv",
    "train_adaptive_filter": "benchmarks/{ds}/train_adaptive_filter.tsv",
    "predict_k": "benchmarks/{ds}/{split}/predict_k.tsv",
    "adjacency": "benchmarks/{ds}/{split}/adjacency.tsv",
    "train_gcn": "benchmarks/{ds}/train_gcn.tsv",
    "embed": "benchmarks/{ds}/{split}/embed.tsv",
    "embedding_knn": "benchmarks/{ds}/{split}/embedding_knn.tsv",
    "cluster": "benchmarks/{ds}/{split}/ada_nets_cluster.tsv",
}


def method_benchmarks(wildcards):
    """Benchmark files of the stages a method's result depends on (order of method_stages)."""
    return [path.format(ds=wildcards.ds, split=wildcards.split) for path in METHOD_STAGES[wildcards.method].values()]


def method_stages(wildcards):
    return list(METHOD_STAGES[wildcards.method])


def ada_nets_benchmarks(wildcards):
    return [path.format(ds=wildcards.ds, split=wildcards.split) for path in ADA_NETS_STAGES.values()]


def diagnostic_splits(wildcards):
    """The split itself and, when different, the train split (the filter's error on both)."""
    return list(dict.fromkeys([wildcards.split, train_split(wildcards)]))


def diagnostics_files(wildcards):
    return [f"results/{wildcards.ds}/{split}/diagnostics.json" for split in diagnostic_splits(wildcards)]


def methods_of(ds):
    """Methods run on a dataset: those its `run` entry lists, else every known method."""
    return config["run"].get(ds, {}).get("methods", KNOWN_METHODS)


def method_metrics(ds, split, method):
    if method == "ada_nets":
        return f"results/{ds}/{split}/metrics.json"
    return f"results/{ds}/{split}/methods/{method}/metrics.json"


def leaderboard_inputs(wildcards):
    return [method_metrics(wildcards.ds, wildcards.split, m) for m in methods_of(wildcards.ds)]
