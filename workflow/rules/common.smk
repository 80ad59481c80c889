# Configuration look-ups and input functions shared by all rule files. The config itself (schema
# validation, training presets, defaults, cross-field checks) is facecluster.config, a library
# module; the method table is facecluster.registry. Neither imports numpy, torch, PyG or numba,
# so `snakemake -n` stays light.
import os
import sys

from facecluster import registry
from facecluster.config import (
    choice_rows,
    choice_source,
    choice_split,
    committee_members,
    fit_split as _fit_split,
    fits_models,
    has_committee,
    is_generated,
    load_workflow_config,
    max_candidate,
    missing_raw_files,
    model_source,
)


load_workflow_config(config)
DATASETS = config["datasets"]
GENERATED = [name for name, ds in DATASETS.items() if is_generated(ds)]
GRAPH_METHODS = registry.GRAPH_METHODS
NON_LEARNED = registry.NON_LEARNED
LEARNED = registry.LEARNED
# train splits with a validation part carved from them (rule carve_validation)
VALIDATED_SPLITS = {ds["train_split"] for ds in DATASETS.values() if fits_models(ds) and ds["validation"]["fraction"] > 0}


# --- where a dataset's models come from: trained on its train split, imported release weights, or
# another dataset's (models_from) ------------------------------------------------------------------

def imported(ds, name):
    """Whether the model ``name`` of dataset ``ds`` is the release's weights (methods.<name>.weights)."""
    return bool(DATASETS[ds]["methods"].get(name, {}).get("weights"))


def model_file(ds, name):
    """The checkpoint ``name`` (adaptive_filter, gcn, or a learned method) that dataset ``ds`` uses:
    imported release weights, its own trained model, or its models_from dataset's."""
    if imported(ds, name):
        return f"results/{ds}/models/{name}.imported.pt"
    return f"results/{model_source(DATASETS[ds])}/models/{name}.pt"


def model_benchmark(ds, name):
    """The benchmark file of the job that made model ``name`` of dataset ``ds`` (import or training)."""
    if imported(ds, name):
        return f"results/{ds}/benchmarks/import_{name}.tsv"
    return f"results/{model_source(DATASETS[ds])}/benchmarks/train_{name}.tsv"


def tuned_file(ds, method):
    """A method's chosen parameter: its own choice (fixed, label-free, or on its own validation part)
    or, with models_from, the other dataset's validation choice."""
    settings = DATASETS[ds]["cluster"] if method == "ada_nets" else DATASETS[ds]["methods"][method]
    own = settings.get("tune") in ("fixed", "label_free") or not DATASETS[ds].get("models_from")
    return f"results/{ds if own else model_source(DATASETS[ds])}/models/{method}_tuned.json"


def models_from_check(ds, split):
    """The feature-statistics comparison of a models_from split with the models' data ([] otherwise)."""
    return [f"results/{ds}/{split}/models_from.json"] if DATASETS[ds].get("models_from") else []


def _datasets_to_run():
    """config['run'] without the `if_present` datasets whose raw files are missing (said on stderr)."""
    run = {}
    for ds, entry in config["run"].items():
        absent = missing_raw_files(DATASETS[ds], entry["splits"], committee=False) if entry.get("if_present") else []
        if absent:
            print(f"facecluster: skipping dataset '{ds}' (run: if_present): {len(absent)} raw file(s) missing, "
                  f"e.g. {absent[0][0]}; source: {DATASETS[ds]['source']}", file=sys.stderr)
            continue
        committee = [m for m in entry.get("methods", []) if m in registry.COMMITTEE]
        absent = missing_raw_files(DATASETS[ds], entry["splits"]) if entry.get("if_present") and committee else []
        if absent:
            print(f"facecluster: dataset '{ds}' (run: if_present): skipping {', '.join(committee)}: {len(absent)} "
                  f"committee file(s) missing, e.g. {absent[0][0]}", file=sys.stderr)
            entry["methods"] = [m for m in entry["methods"] if m not in committee]
        run[ds] = entry
    return run


def is_labelled(ds, split):
    """Whether a split has labels."""
    return "labels" in DATASETS[ds]["splits"][split]


def all_targets():
    """Targets of the default rule, per configured split: every method's clusters (with
    clusters.csv and summary.json) and the report's figures; for labelled splits also every
    method's metrics.json and the leaderboard (unlabeled splits get no metrics)."""
    targets = []
    for ds, run in RUN.items():
        methods = methods_of(ds)
        for split in run["splits"]:
            for m in methods:
                base = os.path.dirname(method_clusters(ds, split, m))
                targets += [f"{base}/clusters.csv", f"{base}/summary.json"]
            targets += [f"results/{ds}/{split}/plots/cluster_sizes.png", f"results/{ds}/{split}/plots/timings.png"]
            if is_labelled(ds, split):
                targets += [method_metrics(ds, split, m) for m in methods]
                targets.append(f"results/{ds}/{split}/leaderboard.csv")
                if "ada_nets" in methods:
                    targets.append(f"results/{ds}/{split}/plots/ada_nets_neighbours.png")
                if "gcn_d" in methods:
                    targets.append(f"results/{ds}/{split}/plots/gcn_d_proposals.png")
        if fits_models(DATASETS[ds]) and tuned_names_of(ds):
            targets.append(f"results/{ds}/plots/threshold_curves.png")
        if "ada_nets" in methods and fits_models(DATASETS[ds]):
            targets.append(f"results/{ds}/plots/training_curves.png")
    return targets


def fit_split(wildcards):
    """The split the models are fitted on (the fitting part of the train split when validation is on)."""
    return _fit_split(DATASETS[wildcards.ds])


def _method_of(wildcards):
    return getattr(wildcards, "method", "ada_nets")


def tuned_settings(wildcards):
    """The settings a method's tuned parameter belongs to (``cluster`` for Ada-NETS)."""
    ds = DATASETS[wildcards.ds]
    method = _method_of(wildcards)
    return ds["cluster"] if method == "ada_nets" else ds["methods"][method]


def choice_of(wildcards):
    """The split the method's parameter (and candidate settings) is chosen on (its ``tune``)."""
    return choice_split(DATASETS[wildcards.ds], tuned_settings(wildcards).get("tune", "validation"))


def choice_file(name):
    """Input function: results/{ds}/<the method's choice split>/<name>."""

    def _path(wildcards):
        return f"results/{wildcards.ds}/{choice_of(wildcards)}/{name}"

    return _path


def with_choice_rows(inputs, wildcards):
    """``inputs`` plus the validation part's rows file when the choice scores only those rows."""
    rows = choice_rows(DATASETS[wildcards.ds], tuned_settings(wildcards).get("tune", "validation"))
    return {**inputs, "rows": rows} if rows else inputs


def ada_nets_tune_inputs(wildcards):
    """The choice split's GCN-embedding kNN and labels (and the scored rows) for Ada-NETS' tau and
    cluster.k; the kNN alone for a label-free choice, nothing for a fixed one."""
    tune = DATASETS[wildcards.ds]["cluster"]["tune"]
    if tune == "fixed":
        return {}
    if tune == "label_free":
        return {"knn": choice_file("embedding_knn.npz")(wildcards)}
    return with_choice_rows({"knn": choice_file("embedding_knn.npz")(wildcards),
                             "labels": choice_file("labels.npy")(wildcards)}, wildcards)


def choice_params(wildcards):
    """What the tuning scripts need to know of the choice: where, and among which candidates."""
    ds = DATASETS[wildcards.ds]
    tune = tuned_settings(wildcards).get("tune", "validation")
    return {"split": choice_split(ds, tune), "source": choice_source(ds, tune),
            "candidates": ds["candidates"].get(_method_of(wildcards), []), "criterion": ds["label_free"]["criterion"]}


def cluster_knn_width(wildcards):
    """Width of the embeddings' kNN: the largest of cluster.k and its candidates (sliced per candidate)."""
    return max_candidate(DATASETS[wildcards.ds], "ada_nets", "k")


def _split_config(wildcards):
    ds = DATASETS[wildcards.ds]
    if wildcards.split not in ds["splits"]:
        raise ValueError(f"dataset '{wildcards.ds}' has no split '{wildcards.split}' (it has: {', '.join(ds['splits'])})")
    return ds, ds["splits"][wildcards.split]


def check_raw_files(wildcards):
    """Fail before any job runs when raw files are missing: one message that lists every missing
    file of the split and of the train split it depends on, and where the files come from."""
    ds = DATASETS[wildcards.ds]
    missing = missing_raw_files(ds, [wildcards.split])
    if missing:
        width = max(len(p) for p, _ in missing)
        lines = "\n".join(f"  {p:<{width}}  ({what})" for p, what in missing)
        raise FileNotFoundError(
            f"dataset '{wildcards.ds}' ({config['dataset_dir']}/{wildcards.ds}.yaml): {len(missing)} raw file(s) missing:\n"
            f"{lines}\nThey come from: {ds['source']}\nPut them at these paths (see the README section on this dataset)."
        )


RUN = _datasets_to_run()


def _set_aside_damaged_artifacts():
    """Before the DAG is built: cached artifacts that cannot be read whole (truncated copies, a full
    disk) are renamed to <name>.damaged, so that the jobs that write them run again
    (facecluster.data.integrity; a job of this workflow never leaves a partial file: atomic writes)."""
    from facecluster.data.integrity import find_damaged, set_aside

    for ds in DATASETS:
        if os.path.isdir(f"results/{ds}"):
            for message in set_aside(find_damaged(f"results/{ds}")):
                print(message, file=sys.stderr)


if workflow.is_main_process:  # not again in every job a cluster executor starts (they re-read this file)
    _set_aside_damaged_artifacts()


def _report_front_page(path):
    """The report's first page, written from the leaderboards present now (facecluster.report.front_page)."""
    from facecluster.report.front_page import write_front_page

    splits = [(ds, split) for ds, run in RUN.items() for split in run["splits"] if is_labelled(ds, split)]
    return write_front_page(path, splits)


REPORT_FRONT_PAGE = os.path.abspath(os.path.join(".snakemake", "report_front_page.rst"))
if workflow.is_main_process:  # a job started by a cluster executor makes no report
    _report_front_page(REPORT_FRONT_PAGE)


def raw_features(wildcards):
    """The raw feature file of one split (written by synthetic_data for a generated dataset)."""
    _, files = _split_config(wildcards)
    check_raw_files(wildcards)
    return files["features"]


def raw_labels(wildcards):
    """Raw label file and raw feature file (its row count) of one labelled split."""
    _, files = _split_config(wildcards)
    if "labels" not in files:
        raise ValueError(
            f"split '{wildcards.split}' of dataset '{wildcards.ds}' is unlabeled (no labels in {config['dataset_dir']}/{wildcards.ds}.yaml): "
            "it has clusters (results/.../clusters.npy) but no labels.npy, metrics.json or leaderboard"
        )
    check_raw_files(wildcards)
    return {"labels": files["labels"], "features": files["features"]}


def knn_inputs(wildcards):
    """Features, plus the release kNN file when the dataset reuses it (knn.source: release)."""
    ds, files = _split_config(wildcards)
    inputs = {"features": f"results/{wildcards.ds}/{wildcards.split}/features.npy"}
    if ds["knn"]["source"] == "release" and "knn" in files:
        check_raw_files(wildcards)
        inputs["release"] = files["knn"]
    elif ds["knn"]["shards"] > 1:
        inputs["shards"] = _shard_files(wildcards, "knn")
    return inputs


def _shard_files(wildcards, graph):
    shards = DATASETS[wildcards.ds]["knn"]["shards"]
    return [f"results/{wildcards.ds}/{wildcards.split}/{graph}_shards/{s}.npz" for s in range(shards)]


def embedding_knn_inputs(wildcards):
    """The GCN embeddings, plus their kNN shards when knn.shards > 1."""
    inputs = {"features": f"results/{wildcards.ds}/{wildcards.split}/embeddings.npy"}
    if DATASETS[wildcards.ds]["knn"]["shards"] > 1:
        inputs["shards"] = _shard_files(wildcards, "embedding_knn")
    return inputs


def shard_features(wildcards):
    """What a kNN shard searches: the features (knn) or the GCN embeddings (embedding_knn)."""
    name = {"knn": "features.npy", "embedding_knn": "embeddings.npy"}[wildcards.graph]
    return f"results/{wildcards.ds}/{wildcards.split}/{name}"


def shard_k(wildcards):
    ds = DATASETS[wildcards.ds]
    return ds["knn"]["k"] if wildcards.graph == "knn" else cluster_knn_width(wildcards)


def split_settings(wildcards):
    """The split's published facts (counts, md5) for the preparation rules' checks."""
    ds, files = _split_config(wildcards)
    return {key: files.get(key) for key in ("n_samples", "n_classes")} | {"md5": files.get("md5", {})}


def train_file(name):
    """Input function: results/<models' dataset>/<its fit split>/<name> (what the models are fitted on)."""

    def _path(wildcards):
        source = model_source(DATASETS[wildcards.ds])
        return f"results/{source}/{_fit_split(DATASETS[source])}/{name}"

    return _path


def gcn_train_graph(wildcards):
    """The graph the GCN trains on: the plain top-order_k kNN graph (paper) or the max-Q graph."""
    name = {"knn": "knn_adjacency.npz", "max_q": "max_q_adjacency.npz"}[DATASETS[wildcards.ds]["gcn"]["train_graph"]]
    return train_file(name)(wildcards)


def gcn_train_inputs(wildcards):
    """The fit split's features, labels, kNN and training graph; with validation, the choice split's
    features, labels and adaptive adjacency (and the scored rows): the best checkpoint by validation F."""
    inputs = {"features": train_file("features.npy")(wildcards), "labels": train_file("labels.npy")(wildcards),
              "knn": train_file("knn.npz")(wildcards), "graph": gcn_train_graph(wildcards)}
    if choice_of(wildcards) != fit_split(wildcards):
        inputs.update(val_features=choice_file("features.npy")(wildcards), val_labels=choice_file("labels.npy")(wildcards),
                      val_adjacency=choice_file("adjacency.npz")(wildcards))
        inputs = with_choice_rows(inputs, wildcards)
    return inputs


def mem_mb_from_input(factor=3.0, floor=1000):
    """resources.mem_mb: ``factor`` x the input size (MB), at least ``floor``, doubled per retry."""

    def _mem(wildcards, input, attempt):
        return int(max(floor, factor * input.size_mb) * attempt)

    return _mem


# Graph methods that use more than one core: numba's parallel rank-order distances and
# scikit-learn's k-means (OpenMP). The others (scipy, igraph, fastcluster, serial numba) use one,
# so two of them share a 2-core machine instead of each holding both cores.
MULTICORE_METHODS = ("approx_rank_order", "minibatch_kmeans", "kmeans", "spectral", "hac_ward", "dbscan", "hdbscan", "meanshift")


def method_threads(wildcards):
    """threads of a non-learned method's jobs: all cores for the multi-core ones, else 1."""
    return workflow.cores if wildcards.method in MULTICORE_METHODS else 1


def method_mem_mb(factor=6.0, floor=1000):
    """resources.mem_mb of a non-learned method's jobs: ``factor`` x the input, plus fast_hac's dense
    N x N float32 distance matrix (N from the features file: float32 rows of feature_dim)."""

    def _mem(wildcards, input, attempt):
        mb = max(floor, factor * input.size_mb)
        if getattr(wildcards, "method", None) == "fast_hac" and "features" in input.keys():
            n = os.path.getsize(input.features) / (4 * DATASETS[wildcards.ds]["feature_dim"]) if os.path.exists(input.features) else 0
            if n <= registry.DENSE_LINKAGE_MAX:
                mb += n * n * 4 / 1e6  # the float32 distance matrix (built in place from one BLAS product)
        return int(mb * attempt)

    return _mem


def runtime_from_input(minutes=10, per_gb=60):
    """resources.runtime (minutes): ``minutes`` plus ``per_gb`` per GB of input, doubled per retry."""

    def _runtime(wildcards, input, attempt):
        return int((minutes + per_gb * input.size_mb / 1024) * attempt)

    return _runtime


# Benchmark files whose wall time goes into a method's metrics.json "seconds", per stage: the
# stages that cluster the split given the trained/tuned models (tuning and training are per dataset).
def _method_stages(method):
    cluster = {"cluster": f"results/{{ds}}/benchmarks/{{split}}/{method}.tsv"}
    if registry.METHODS[method].family == "features":
        return cluster
    return {"knn": "results/{ds}/benchmarks/{split}/knn.tsv", **cluster}


def _learned_stages(method):
    stages = {"knn": "results/{ds}/benchmarks/{split}/knn.tsv"}
    for dep in (*registry.METHODS[method].needs, method):
        stages[f"train_{dep}"] = f"results/{{ds}}/benchmarks/train_{dep}.tsv"
    stages["cluster"] = f"results/{{ds}}/benchmarks/{{split}}/{method}.tsv"
    return stages


METHOD_STAGES = {method: _method_stages(method) for method in NON_LEARNED} | {m: _learned_stages(m) for m in LEARNED}
ADA_NETS_STAGES = {
    "knn": "results/{ds}/benchmarks/{split}/knn.tsv",
    "structure_space": "results/{ds}/benchmarks/{split}/structure_space.tsv",
    "train_adaptive_filter": "results/{ds}/benchmarks/train_adaptive_filter.tsv",
    "predict_k": "results/{ds}/benchmarks/{split}/predict_k.tsv",
    "adjacency": "results/{ds}/benchmarks/{split}/adjacency.tsv",
    "train_gcn": "results/{ds}/benchmarks/train_gcn.tsv",
    "embed": "results/{ds}/benchmarks/{split}/embed.tsv",
    "embedding_knn": "results/{ds}/benchmarks/{split}/embedding_knn.tsv",
    "cluster": "results/{ds}/benchmarks/{split}/ada_nets_cluster.tsv",
}


def stage_benchmark(ds, split, stage, template):
    """The benchmark file of one stage: a training stage's (train_<model>) where the model was made
    (model_benchmark: imported, trained here, or on the models_from dataset), the others this split's."""
    if stage.startswith("train_"):
        return model_benchmark(ds, stage[len("train_"):])
    return template.format(ds=ds, split=split)


def method_benchmarks(wildcards):
    """Benchmark files of the stages a method's result depends on (order of method_stages)."""
    return [stage_benchmark(wildcards.ds, wildcards.split, stage, path) for stage, path in METHOD_STAGES[wildcards.method].items()]


def method_stages(wildcards):
    return list(METHOD_STAGES[wildcards.method])


def ada_nets_benchmarks(wildcards):
    return [stage_benchmark(wildcards.ds, wildcards.split, stage, path) for stage, path in ADA_NETS_STAGES.items()]


def diagnostic_splits(wildcards):
    """The split itself and, when different, the fit split (the filter's error on both); the split
    alone when the models come from another dataset."""
    if not fits_models(DATASETS[wildcards.ds]):
        return [wildcards.split]
    return list(dict.fromkeys([wildcards.split, fit_split(wildcards)]))


def diagnostics_files(wildcards):
    return [f"results/{wildcards.ds}/{split}/diagnostics.json" for split in diagnostic_splits(wildcards)]


def method_settings(wildcards):
    """A method's settings from the dataset config (schema defaults filled)."""
    return DATASETS[wildcards.ds]["methods"][wildcards.method]


def method_tune_inputs(wildcards):
    """The choice split's kNN and labels (and features, for methods that read them: fast_hac; the
    density baselines read the features alone); no labels for a label-free choice (the density
    baselines then read the kNN too: the criterion scores partitions on it), nothing for a fixed one."""
    tune = method_settings(wildcards)["tune"]
    if tune == "fixed":
        return {}
    inputs = {} if tune == "label_free" else {"labels": choice_file("labels.npy")(wildcards)}
    if registry.METHODS[wildcards.method].family != "features" or tune == "label_free":
        inputs["knn"] = choice_file("knn.npz")(wildcards)
    if "features" in registry.METHODS[wildcards.method].input:
        inputs["features"] = choice_file("features.npy")(wildcards)
    inputs.update(committee_inputs(wildcards.ds, choice_of(wildcards), wildcards.method))
    return with_choice_rows(inputs, wildcards)


def method_cluster_inputs(wildcards):
    """Graph methods: the split's kNN (and features, where the method reads them) and the tuned
    parameter; k-means: the features (and the labels when n_clusters is the true number of identities)."""
    if registry.METHODS[wildcards.method].family != "features":
        inputs = {"knn": f"results/{wildcards.ds}/{wildcards.split}/knn.npz", "tuned": tuned_file(wildcards.ds, wildcards.method)}
        if "features" in registry.METHODS[wildcards.method].input:
            inputs["features"] = f"results/{wildcards.ds}/{wildcards.split}/features.npy"
        inputs.update(committee_inputs(wildcards.ds, wildcards.split, wildcards.method))
        return inputs
    inputs = {"features": f"results/{wildcards.ds}/{wildcards.split}/features.npy"}
    if registry.METHODS[wildcards.method].param:
        inputs["tuned"] = tuned_file(wildcards.ds, wildcards.method)
    if "n_clusters" in method_settings(wildcards) and method_settings(wildcards)["n_clusters"] is None:
        if not is_labelled(wildcards.ds, wildcards.split):
            raise ValueError(
                f"{wildcards.method} on the unlabeled split '{wildcards.split}' of '{wildcards.ds}' needs "
                f"methods.{wildcards.method}.n_clusters in config/datasets/{wildcards.ds}.yaml (null = the true count, which needs labels)"
            )
        inputs["labels"] = f"results/{wildcards.ds}/{wildcards.split}/labels.npy"
    return inputs


def methods_of(ds):
    """Methods run on a dataset: those its `run` entry lists, else every known method (those that
    read a committee only when the dataset has one)."""
    default = [m for m in registry.NAMES if committee_members(DATASETS[ds]) or m not in registry.COMMITTEE]
    return config["run"].get(ds, {}).get("methods", default)


def synthetic_base_settings(wildcards):
    """The generator's settings of the base embeddings (synthetic: without its committee, whose
    members have rules of their own: adding a member does not regenerate the base data)."""
    return {key: value for key, value in DATASETS[wildcards.ds]["synthetic"].items() if key != "committee"}


def synthetic_view(wildcards):
    """A generated committee member's settings (synthetic.committee.<member>)."""
    views = DATASETS[wildcards.ds]["synthetic"].get("committee", {})
    if wildcards.member not in views:
        raise ValueError(f"dataset '{wildcards.ds}' generates no committee member '{wildcards.member}' "
                         f"(synthetic.committee has: {', '.join(views) or 'none'})")
    return views[wildcards.member]


def raw_member_features(wildcards):
    """The raw feature file of one committee member of a split (splits.<split>.committee.<member>)."""
    _, files = _split_config(wildcards)
    members = files.get("committee", {})
    if wildcards.member not in members:
        raise ValueError(f"split '{wildcards.split}' of dataset '{wildcards.ds}' has no committee member "
                         f"'{wildcards.member}' (config/datasets/{wildcards.ds}.yaml names: {', '.join(members) or 'none'})")
    check_raw_files(wildcards)
    return members[wildcards.member]


def member_knn_inputs(wildcards):
    """A committee member's features, plus its kNN shards when knn.shards > 1."""
    base = f"results/{wildcards.ds}/{wildcards.split}/committee/{wildcards.member}"
    inputs = {"features": f"{base}/features.npy"}
    shards = DATASETS[wildcards.ds]["knn"]["shards"]
    if shards > 1:
        inputs["shards"] = [f"{base}/knn_shards/{s}.npz" for s in range(shards)]
    return inputs


def committee_inputs(ds, split, method, prefix=""):
    """The committee members' kNN (and features, for the learned cdp_mediator) of a split, in member
    order, for a method that reads a committee ({} otherwise)."""
    spec = registry.METHODS[method]
    if not spec.committee:
        return {}
    if not has_committee(DATASETS[ds], split):
        raise ValueError(f"{method} reads a committee, and split '{split}' of dataset '{ds}' names none "
                         f"(splits.{split}.committee in config/datasets/{ds}.yaml)")
    base = f"results/{ds}/{split}/committee"
    members = committee_members(DATASETS[ds])
    inputs = {f"{prefix}committee_knn": [f"{base}/{m}/knn.npz" for m in members]}
    if spec.family == "learned":
        inputs[f"{prefix}committee_features"] = [f"{base}/{m}/features.npy" for m in members]
    return inputs


def proposal_inputs(ds, split, method, prefix=""):
    """The split's cluster proposals for a method that reads them (GCN-D / GCN-S; {} otherwise)."""
    if not registry.METHODS[method].proposals:
        return {}
    return {f"{prefix}proposals": f"results/{ds}/{split}/proposals.npz"}


def proposal_settings(wildcards):
    """gcn_d's proposal settings of a split: train_proposals for the fitting part, proposals elsewhere."""
    ds = DATASETS[wildcards.ds]
    settings = ds["methods"]["gcn_d"]
    return settings["train_proposals"] if wildcards.split == _fit_split(ds) else settings["proposals"]


def method_clusters(ds, split, method):
    if method == "ada_nets":
        return f"results/{ds}/{split}/clusters.npy"
    return f"results/{ds}/{split}/methods/{method}/clusters.npy"


def split_labels(wildcards):
    """labels.npy of a split that is to be scored; a clear error for unlabeled splits."""
    if not is_labelled(wildcards.ds, wildcards.split):
        raise ValueError(
            f"split '{wildcards.split}' of dataset '{wildcards.ds}' is unlabeled: it cannot be scored; "
            f"ask for {method_clusters(wildcards.ds, wildcards.split, 'ada_nets')} (or a method's clusters.npy) instead"
        )
    return f"results/{wildcards.ds}/{wildcards.split}/labels.npy"


def method_metrics(ds, split, method):
    if method == "ada_nets":
        return f"results/{ds}/{split}/metrics.json"
    return f"results/{ds}/{split}/methods/{method}/metrics.json"


def tuned_names_of(ds):
    """Methods of a dataset's run whose parameter is tuned (ada_nets: its threshold τ)."""
    return [m for m in methods_of(ds) if m in registry.TUNED]


def learned_train_inputs(wildcards):
    """The fit split's features, kNN and labels, and the models a learned method builds on."""
    inputs = {name: train_file(f"{name}.npy" if name != "knn" else "knn.npz")(wildcards) for name in ("features", "knn", "labels")}
    for dep in registry.METHODS[wildcards.method].needs:
        inputs[dep] = f"results/{wildcards.ds}/models/{dep}.pt"
    inputs.update(committee_inputs(wildcards.ds, fit_split(wildcards), wildcards.method))
    inputs.update(proposal_inputs(wildcards.ds, fit_split(wildcards), wildcards.method))
    if choice_of(wildcards) != fit_split(wildcards):  # model selection on the validation part
        for name in ("features", "knn", "labels"):
            inputs[f"val_{name}"] = choice_file(f"{name}.npy" if name != "knn" else "knn.npz")(wildcards)
        inputs.update(committee_inputs(wildcards.ds, choice_of(wildcards), wildcards.method, prefix="val_"))
        inputs.update(proposal_inputs(wildcards.ds, choice_of(wildcards), wildcards.method, prefix="val_"))
        inputs = with_choice_rows(inputs, wildcards)
    return inputs


def learned_tune_inputs(wildcards):
    """The choice split's features, kNN and labels, the trained model and those it builds on (no
    labels for a label-free choice; the models alone for a fixed one)."""
    tune = method_settings(wildcards)["tune"]
    models = {dep: model_file(wildcards.ds, dep) for dep in registry.METHODS[wildcards.method].needs}
    models["model"] = model_file(wildcards.ds, wildcards.method)
    if tune == "fixed":
        return models
    names = ("features", "knn") if tune == "label_free" else ("features", "knn", "labels")
    inputs = {name: choice_file(f"{name}.npy" if name != "knn" else "knn.npz")(wildcards) for name in names}
    inputs.update(models)
    inputs.update(committee_inputs(wildcards.ds, choice_of(wildcards), wildcards.method))
    inputs.update(proposal_inputs(wildcards.ds, choice_of(wildcards), wildcards.method))
    return inputs if tune == "label_free" else with_choice_rows(inputs, wildcards)


def learned_cluster_inputs(wildcards):
    """A split's features and kNN, the trained model(s) and the tuned parameter (when it has one)."""
    base = f"results/{wildcards.ds}/{wildcards.split}"
    inputs = {"features": f"{base}/features.npy", "knn": f"{base}/knn.npz", "model": model_file(wildcards.ds, wildcards.method)}
    for dep in registry.METHODS[wildcards.method].needs:
        inputs[dep] = model_file(wildcards.ds, dep)
    if registry.METHODS[wildcards.method].param:
        inputs["tuned"] = tuned_file(wildcards.ds, wildcards.method)
    inputs.update(committee_inputs(wildcards.ds, wildcards.split, wildcards.method))
    inputs.update(proposal_inputs(wildcards.ds, wildcards.split, wildcards.method))
    return inputs


def tuned_names(wildcards):
    return tuned_names_of(wildcards.ds)


def tuned_files(wildcards):
    return [tuned_file(wildcards.ds, m) for m in tuned_names_of(wildcards.ds)]


def cluster_table_inputs(wildcards):
    """One method's clusters (ada_nets when the path has no method), plus the split's sample names if configured."""
    method = getattr(wildcards, "method", "ada_nets")
    inputs = {"clusters": method_clusters(wildcards.ds, wildcards.split, method)}
    ds, files = _split_config(wildcards)
    if "names" in files:
        check_raw_files(wildcards)
        inputs["names"] = files["names"]
    if models_from_check(wildcards.ds, wildcards.split):
        inputs["models_from"] = models_from_check(wildcards.ds, wildcards.split)[0]
    return inputs


def cluster_size_inputs(wildcards):
    inputs = {"clusters": [method_clusters(wildcards.ds, wildcards.split, m) for m in methods_of(wildcards.ds)]}
    if is_labelled(wildcards.ds, wildcards.split):
        inputs["labels"] = f"results/{wildcards.ds}/{wildcards.split}/labels.npy"
    return inputs


def _timing_map(wildcards):
    stages = {}
    for m in methods_of(wildcards.ds):
        table = ADA_NETS_STAGES if m == "ada_nets" else METHOD_STAGES[m]
        for stage, path in table.items():
            path = stage_benchmark(wildcards.ds, wildcards.split, stage, path)
            stages.setdefault(path, os.path.splitext(os.path.basename(path))[0])
    return stages


def timing_files(wildcards):
    """Benchmark files of every stage behind the split's results (all configured methods)."""
    return list(_timing_map(wildcards))


def timing_stages(wildcards):
    return list(_timing_map(wildcards).values())


def leaderboard_inputs(wildcards):
    return [method_metrics(wildcards.ds, wildcards.split, m) for m in methods_of(wildcards.ds)]


def release_weights(wildcards):
    """The release weight files of a method (methods.<m>.weights); missing ones named before any job."""
    files = DATASETS[wildcards.ds]["methods"][wildcards.method].get("weights") or []
    if not files:
        raise ValueError(f"dataset '{wildcards.ds}' names no release weights for {wildcards.method} "
                         f"(methods.{wildcards.method}.weights in {config['dataset_dir']}/{wildcards.ds}.yaml)")
    missing = [path for path in files if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(f"{config['dataset_dir']}/{wildcards.ds}.yaml: methods.{wildcards.method}.weights: "
                                f"{', '.join(missing)} not found; the releases publish them (docs/release_weights.md)")
    return files


def models_from_inputs(wildcards):
    """A models_from split's features and kNN, and those of the split the models were fitted on."""
    source = DATASETS[wildcards.ds].get("models_from")
    if not source:
        raise ValueError(f"dataset '{wildcards.ds}' takes no models from another dataset (models_from)")
    fit = _fit_split(DATASETS[source])
    return {"features": f"results/{wildcards.ds}/{wildcards.split}/features.npy",
            "knn": f"results/{wildcards.ds}/{wildcards.split}/knn.npz",
            "source_features": f"results/{source}/{fit}/features.npy", "source_knn": f"results/{source}/{fit}/knn.npz"}
