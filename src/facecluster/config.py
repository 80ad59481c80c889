"""Configuration as a library: load, validate, fill defaults and cross-check every dataset YAML.

Used by the workflow (``workflow/rules/common.smk`` calls :func:`load_workflow_config` once, at DAG
time, before any job runs) and by tests and benchmarks without Snakemake. Imports the standard
library, PyYAML and jsonschema only (no numpy, torch, PyG or numba: ``snakemake -n`` stays light).

Order of a dataset config (``config/datasets/<name>.yaml``):

1. the YAML as written;
2. the **training preset** it names (``training: cpu``, the default, or ``training: paper``) fills
   the training budgets it does not set itself (:data:`TRAINING_PRESETS`);
3. the schema (``workflow/schemas/dataset.schema.yaml``) validates and fills every other default
   (the papers' settings);
4. a generated dataset (``format: synthetic``) gets its split paths
   (``resources/<name>/<split>/features.npy`` and ``labels.npy``), so nothing downstream branches on
   the format;
5. the cross-field checks (:func:`check_dataset`): name = file name, train split labelled, ``.bin``
   features with ``feature_dim``, every width that reads ``knn.npz`` columns within ``knn.k``
   (the table is :mod:`facecluster.registry`), ``knn.k`` within each split's sample count when it is
   known (published ``n_samples``, the generator's size, or an existing feature file's header).

Every error is a :class:`ConfigError` whose message names the file and the key.
"""

from __future__ import annotations

import copy
import glob
import os
from pathlib import Path
from typing import Any

import yaml

from facecluster import registry

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"

# Training budgets per preset. `paper` = the papers' settings, which are the schema defaults (so the
# preset adds nothing); `cpu` = budgets that finish in minutes on a 2-core laptop (the settings
# `make run` uses on the synthetic benchmark and npmscope; docs/datasets.md, "Training budgets"). A dataset
# file's own values always win over its preset.
TRAINING_PRESETS: dict[str, dict[str, Any]] = {
    # the releases' per-dataset settings stay as configured: no candidate search, and every step of
    # the releases' schedules is run (no early stopping; thresholds are still chosen on the
    # validation part)
    "paper": {"validation": {"candidates": False, "patience": None}},
    "cpu": {
        "adaptive_filter": {
            "hidden": 32,
            "batch_size": 64,
            "train": {"steps": 800, "lr": 0.002, "optimizer": "adam", "warmup": 80, "weight_decay": 0.00001},
        },
        "gcn": {"train": {"steps": 150, "lr": 0.001, "optimizer": "adam", "warmup": 50, "weight_decay": 0.00001}},
        "methods": {
            "gcn_v": {"hidden": 256, "train": {"steps": 200, "lr": 0.001, "optimizer": "adam", "warmup": 20}},
            "gcn_ve": {"k": 20, "hidden": 64, "batch_size": 64,
                       "train": {"steps": 300, "lr": 0.001, "optimizer": "adam", "warmup": 30}},
            "lgcn": {"k_at_hop_train": [10, 5], "k_at_hop_test": [10, 5], "active": 5, "hidden": 64, "batch_size": 32,
                     "train": {"steps": 300, "lr": 0.001, "optimizer": "adam", "warmup": 30}},
            # GCN-D / GCN-S: the release's networks and SGD; 10 epochs (of 30) with its decays scaled
            "gcn_d": {"train": {"epochs": 10, "milestones": [5, 8, 9]}},
            "gcn_ds": {"iop_train": {"epochs": 10, "milestones": [5, 8, 9]}, "batch_size": 8,
                       "train": {"epochs": 10, "milestones": [5, 8, 9]}},
            "lce": {"k": 16, "layers": 1, "batch_size": 32,
                    "train": {"steps": 300, "lr": 0.001, "optimizer": "adam", "warmup": 30},
                    "pce_train": {"steps": 200, "lr": 0.001, "optimizer": "adam", "warmup": 20}},
        },
    },
}
DEFAULT_TRAINING = "cpu"


class ConfigError(ValueError):
    """A configuration problem; the message names the file and the key."""


# --- schema validation with defaults ------------------------------------------------------------

def _load_yaml(path: str | os.PathLike) -> Any:
    try:
        with open(path) as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def _schema(name: str, schema_dir: str | os.PathLike | None = None) -> dict:
    path = Path(schema_dir or SCHEMA_DIR) / name
    if not path.exists():
        raise ConfigError(f"schema {path} not found (facecluster.config looks for workflow/schemas/ beside src/)")
    return _load_yaml(path)


def validate(instance: dict, schema: dict, where: str) -> dict:
    """Validate ``instance`` against ``schema`` in place, filling every default (deep copies, nested
    objects included: the jsonschema FAQ's recipe, as ``snakemake.utils.validate`` does)."""
    from jsonschema import Draft202012Validator, validators

    def set_defaults(validator, properties, inst, sch):
        if isinstance(inst, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in inst:
                    inst[prop] = copy.deepcopy(sub["default"])
        yield from Draft202012Validator.VALIDATORS["properties"](validator, properties, inst, sch)

    filling = validators.extend(Draft202012Validator, {"properties": set_defaults})
    errors = sorted(filling(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {key}: {err.message}")
    return instance


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` laid on top (nested dicts merged, everything else replaced); copies."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def get_path(cfg: dict, dotted: str) -> Any:
    """``cfg['a']['b'][0]`` for ``'a.b.0'``."""
    node: Any = cfg
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


# --- one dataset ----------------------------------------------------------------------------------

#: keys of a dataset config that describe its own data and are never taken from ``models_from``
OWN_KEYS = ("name", "description", "format", "source", "feature_dim", "train_split", "splits", "validation",
            "models_from", "synthetic")


def _read_raw(path: str) -> dict:
    raw = _load_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    return raw


def inherit_models_from(raw: dict, source_raw: dict, path: str, source_path: str) -> dict:
    """A ``models_from`` dataset's settings: the source dataset's (those its models were trained and
    chosen with: kNN widths, the filter's and GCNs' sizes, every method's settings) under this file's
    own, without the source's data keys (:data:`OWN_KEYS`)."""
    if "train_split" in raw:
        raise ConfigError(f"{path}: models_from: '{raw['models_from']}' and train_split: '{raw['train_split']}': a dataset either "
                          "fits its models on its own labelled train split or takes them from another dataset; drop one")
    if "models_from" in source_raw:
        raise ConfigError(f"{path}: models_from: '{raw['models_from']}' takes its own models from '{source_raw['models_from']}' "
                          f"({source_path}); name the dataset that trains them")
    if "train_split" not in source_raw:
        raise ConfigError(f"{path}: models_from: '{raw['models_from']}' ({source_path}) has no train_split: it fits no models to take")
    base = {key: value for key, value in source_raw.items() if key not in OWN_KEYS}
    return deep_merge(base, raw)


def load_dataset(path: str | os.PathLike, schema_dir: str | os.PathLike | None = None, check_files: bool = True,
                 raw: dict | None = None) -> dict:
    """A dataset config, validated, with its preset and defaults filled and every cross-field check run
    (``raw``: the YAML's settings when the caller read them already, e.g. merged for ``models_from``)."""
    path = str(path)
    raw = _read_raw(path) if raw is None else raw
    training = raw.get("training", DEFAULT_TRAINING)
    if training not in TRAINING_PRESETS:
        raise ConfigError(f"{path}: training: '{training}' is not a preset (choose {' or '.join(TRAINING_PRESETS)})")
    ds = deep_merge(TRAINING_PRESETS[training], raw)
    ds["training"] = training
    validate(ds, _schema("dataset.schema.yaml", schema_dir), path)
    _label_free_defaults(ds, raw, path)
    _fill_generated_paths(ds)
    ds["candidates"] = resolve_candidates(ds, raw)
    check_dataset(ds, path, check_files=check_files)
    _add_validation_splits(ds, path)
    return ds


# --- datasets without labels ----------------------------------------------------------------------

def fits_models(ds: dict) -> bool:
    """Whether the dataset fits models and makes choices on labels of its own (it has a train split)."""
    return "train_split" in ds


def tuned_settings_of(ds: dict) -> list[tuple[str, dict]]:
    """``(method, settings)`` of every method with a tuned parameter (Ada-NETS: ``cluster``)."""
    return [(m.name, get_path(ds, m.settings_key)) for m in registry.METHODS.values() if m.param]


def _label_free_defaults(ds: dict, raw: dict, path: str) -> None:
    """A dataset without a train split or ``models_from`` has no labels to choose on: every tuned
    parameter the file leaves at the default ``tune: validation`` is chosen label-free instead; an
    explicit ``validation`` / ``train`` there is an error naming the key."""
    if fits_models(ds) or ds.get("models_from"):
        return
    for method, settings in tuned_settings_of(ds):
        key = registry.METHODS[method].settings_key
        written = (_get_optional(raw, key) or {}).get("tune")
        if written in ("validation", "train"):
            raise ConfigError(f"{path}: {key}.tune: '{written}' needs labels, and this dataset has no train_split "
                              "(nor models_from); use label_free, fixed, or models_from: <a labelled dataset>")
        if settings.get("tune") in ("validation", "train"):
            settings["tune"] = "label_free"


def model_source(ds: dict) -> str:
    """The dataset whose trained models (and validation choices) this one uses: itself or ``models_from``."""
    return ds.get("models_from") or ds["name"]


# --- the validation part and the choices made on it ----------------------------------------------

def fit_split(ds: dict) -> str | None:
    """The split the models are fitted on: ``<train_split>_fit`` (validation on) or the train split;
    None for a dataset without a train split."""
    if not fits_models(ds):
        return None
    return f"{ds['train_split']}_fit" if ds["validation"]["fraction"] > 0 else ds["train_split"]


def val_split(ds: dict) -> str | None:
    """The held-out part of the train split, ``<train_split>_val``; None when validation is off."""
    if not fits_models(ds):
        return None
    return f"{ds['train_split']}_val" if ds["validation"]["fraction"] > 0 else None


def label_free_split(ds: dict) -> str:
    """The split a ``tune: label_free`` choice clusters: the train split, else the first split listed."""
    return ds.get("train_split") or next(iter(ds["splits"]))


def choice_split(ds: dict, tune: str) -> str:
    """The split a ``tune`` policy clusters to choose: validation → the whole train split, scored
    on the pairs that touch its validation part (:func:`choice_rows`); train → the fitting part;
    fixed → as validation (the parameter is not searched, but a learned method's candidate
    settings and checkpoints are still chosen there).

    Why the whole train split: a threshold chosen on the validation part alone (a fifth of the
    samples) is chosen on a sparser graph than the test split's and chains there (npmscope's
    knn_cc: validation-part F 0.62 at tau 0.66, test F 0.03); among the fitting part's samples the
    held-out identities meet a graph of a full split's density (docs/validation.md).
    label_free → :func:`label_free_split` (no labels read); a dataset without a train split makes
    its fixed choices there too (nothing is read)."""
    if tune == "label_free" or not fits_models(ds):
        return label_free_split(ds)
    return fit_split(ds) if tune == "train" else ds["train_split"]


def choice_rows(ds: dict, tune: str) -> str | None:
    """The rows file of the validation part (``results/<ds>/<train>_val/rows.npy``) scored by a
    ``tune: validation`` choice; None otherwise (every row of the choice split is scored)."""
    if tune in ("validation", "fixed") and val_split(ds):
        return f"results/{ds['name']}/{val_split(ds)}/rows.npy"
    return None


def choice_source(ds: dict, tune: str) -> str:
    """Words for params.json: where a ``tune`` policy chose."""
    if tune == "fixed":
        return "config (tune: fixed)"
    split = choice_split(ds, tune)
    if tune == "label_free":
        return f"split '{split}', label-free criterion '{ds['label_free']['criterion']}' (no labels read)"
    if choice_rows(ds, tune):
        return (f"validation part '{val_split(ds)}' (held-out identities, clustered within the train split "
                f"'{split}'), max pairwise F")
    return f"split '{split}' (the data the models are fitted on), max pairwise F"


def _add_validation_splits(ds: dict, path: str) -> None:
    """Add the derived splits ``<train>_fit`` / ``<train>_val`` (``part``: fit / val, ``of``: the
    train split) when validation is on: labelled, produced by the pipeline from the train split."""
    if ds["validation"]["fraction"] <= 0 or not fits_models(ds):
        return
    train = ds["train_split"]
    for part, name in (("fit", fit_split(ds)), ("val", val_split(ds))):
        if name in ds["splits"] and ds["splits"][name].get("part") != part:
            raise ConfigError(f"{path}: splits.{name}: this name is taken by the validation part of '{train}' "
                              f"(validation.fraction > 0); rename the split or set validation.fraction: 0")
        base = ds["splits"][train]
        ds["splits"][name] = {"features": base["features"], "labels": base["labels"], "part": part, "of": train}
        if "committee" in base:
            ds["splits"][name]["committee"] = dict(base["committee"])


def is_derived(ds: dict, split: str) -> bool:
    """Whether ``split`` is a part of the train split that the pipeline carves (fit / val)."""
    return "part" in ds["splits"].get(split, {})


def resolve_candidates(ds: dict, raw: dict) -> dict[str, list[dict]]:
    """Per method, the candidate settings chosen among on validation (registry ``candidates``):
    none when ``validation.candidates`` is false, when the method is a graph method whose
    parameter is not searched (``tune: fixed``: the release's settings as configured), or when the
    dataset YAML sets any of the candidates' keys itself (its value wins); candidates wider than the kNN graph or a split are dropped (the configured value is then
    among the candidates only if it fits). Methods with fewer than two candidates left get none."""
    out: dict[str, list[dict]] = {}
    if not ds["validation"]["candidates"] or not (fits_models(ds) or ds.get("models_from")):
        return out  # (models_from: the source's candidates, among which its transferred choices were made)
    sizes = list(split_sizes(ds).values())
    fraction = ds["validation"]["fraction"]
    # the validation part holds about `fraction` of the train split's samples
    smallest = int(min(sizes) * min(fraction, 1 - fraction)) if sizes and fraction > 0 else min(sizes, default=None)
    for method in registry.METHODS.values():
        if not method.candidates:
            continue
        settings = get_path(ds, method.settings_key)
        if method.family != "learned" and settings.get("tune", "validation") in ("fixed", "label_free"):
            continue
        raw_settings = _get_optional(raw, method.settings_key) or {}
        if any(key in raw_settings for cand in method.candidates for key in cand):
            continue
        fitting = [dict(c) for c in method.candidates if _candidate_fits(ds, method, c, smallest)]
        if len(fitting) >= 2:
            out[method.name] = fitting
    return out


def _get_optional(cfg: dict, dotted: str) -> Any:
    try:
        return get_path(cfg, dotted)
    except (KeyError, IndexError, TypeError):
        return None


def _candidate_fits(ds: dict, method: registry.Method, cand: dict, smallest: int | None) -> bool:
    """Whether a candidate's widths fit the kNN graph and (``k``) the smallest split of known size."""
    trial = copy.deepcopy(ds)
    get_path(trial, method.settings_key).update(copy.deepcopy(cand))
    width = min(ds["knn"]["k"], ds["knn"]["committee_k"]) if method.committee else ds["knn"]["k"]
    if any(get_path(trial, key) + extra > width for key, extra in method.knn_widths):
        return False
    return smallest is None or all(v + 1 <= smallest for key, v in cand.items() if key == "k")


def max_candidate(ds: dict, method: str, key: str) -> Any:
    """The largest value of ``key`` among a method's candidates and its configured setting (e.g.
    the width of a kNN graph computed once and sliced for every candidate)."""
    values = [c[key] for c in ds.get("candidates", {}).get(method, []) if key in c]
    return max(values) if values else get_path(ds, registry.METHODS[method].settings_key)[key]


def chosen_keys(ds: dict) -> set[str]:
    """Dotted keys whose configured value is replaced by a candidate chosen on validation (the
    width checks apply to the candidates instead, when they are resolved)."""
    return {f"{registry.METHODS[m].settings_key}.{key}" for m, cands in ds.get("candidates", {}).items()
            for cand in cands for key in cand}


def _fill_generated_paths(ds: dict) -> None:
    """A generated (synthetic) dataset's splits read the generator's outputs, like any .npy dataset."""
    if ds["format"] != "synthetic":
        return
    members = ds["synthetic"].get("committee", {})
    for split, files in ds["splits"].items():
        files.setdefault("features", f"resources/{ds['name']}/{split}/features.npy")
        files.setdefault("labels", f"resources/{ds['name']}/{split}/labels.npy")
        if members:
            files.setdefault("committee", {m: f"resources/{ds['name']}/{split}/committee/{m}.npy" for m in members})


def committee_members(ds: dict) -> list[str]:
    """The committee members of a dataset (CDP's other recognition models): those its train split
    (else its first split) names (every split that names a committee names the same ones; :func:`check_dataset`)."""
    return list(ds["splits"][label_free_split(ds)].get("committee", {}))


def has_committee(ds: dict, split: str) -> bool:
    """Whether ``split`` names committee members (its own files, or its train split's for a carved part)."""
    return bool(ds["splits"][split].get("committee"))


def is_generated(ds: dict) -> bool:
    """Whether the pipeline writes the dataset's raw files itself (format synthetic)."""
    return ds["format"] == "synthetic"


def raw_files(ds: dict, split: str) -> list[tuple[str, str]]:
    """``(path, what)`` of every file a split reads that must exist before the run (none for a
    generated dataset: the pipeline writes its files)."""
    if is_generated(ds):
        return []
    files = ds["splits"][split]
    out = [(files["features"], f"{split} features")]
    if "labels" in files:
        out.append((files["labels"], f"{split} labels"))
    if "names" in files:
        out.append((files["names"], f"{split} sample names"))
    if ds["knn"]["source"] == "release" and "knn" in files:
        out.append((files["knn"], f"{split} kNN (knn.source: release)"))
    out += [(path, f"{split} committee member {m} features") for m, path in files.get("committee", {}).items()]
    return out


def missing_raw_files(ds: dict, splits, committee: bool = True) -> list[tuple[str, str]]:
    """The raw files of ``splits`` and of the train split they depend on that do not exist
    (``committee=False``: leaving out the committee members' files)."""
    wanted = dict.fromkeys([ds["splits"].get(s, {}).get("of", s) for s in splits] + ([ds["train_split"]] if fits_models(ds) else []))
    return [(p, what) for split in wanted for p, what in raw_files(ds, split)
            if not os.path.exists(p) and (committee or " committee member " not in what)]


def split_sizes(ds: dict) -> dict[str, int]:
    """Sample count of each split where known without reading data: the published ``n_samples``,
    the generator's ``n_samples``, or the header of an existing .npy / the size of a .bin file."""
    sizes = {}
    for split, files in ds["splits"].items():
        if "n_samples" in files:
            sizes[split] = files["n_samples"]
        elif is_generated(ds):
            if "n_samples" in ds["synthetic"]:
                sizes[split] = int(ds["synthetic"]["n_samples"])
            else:  # the generator's own default (imports numpy: only for a config that leaves it out)
                from facecluster.data.synthetic import SyntheticParams

                sizes[split] = SyntheticParams().n_samples
        elif files.get("features") and os.path.exists(files["features"]):
            rows = _feature_rows(files["features"], ds["feature_dim"])
            if rows is not None:
                sizes[split] = rows
    return sizes


def _feature_rows(path: str, dim: int | None) -> int | None:
    """Rows of a feature file from its header (.npy) or size (.bin); None when unreadable (the
    preparation rule then reports the problem with the file)."""
    try:
        if path.endswith(".npy"):
            import numpy as np  # header only (mmap); numpy is imported only when a file is there

            return int(np.load(path, mmap_mode="r").shape[0]) or None
        if path.endswith(".bin") and dim:
            return os.path.getsize(path) // (4 * dim) or None  # empty: prepare_features reports it
    except Exception:  # noqa: BLE001 - unreadable here; prepare_features names the problem
        return None
    return None


def check_dataset(ds: dict, path: str, check_files: bool = True) -> None:
    """Every cross-field check of one dataset config (see the module docstring)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if ds["name"] != stem:
        raise ConfigError(f"{path}: name: '{ds['name']}' differs from the file name '{stem}'")
    if fits_models(ds) and ds["train_split"] not in ds["splits"]:
        raise ConfigError(f"{path}: train_split: '{ds['train_split']}' is not one of its splits ({', '.join(ds['splits'])})")
    for split, files in ds["splits"].items():
        if "features" not in files:
            raise ConfigError(f"{path}: splits.{split}.features: missing (a path to the raw feature file)")
        if files["features"].endswith(".bin") and ds["feature_dim"] is None:
            raise ConfigError(f"{path}: feature_dim: null, but splits.{split}.features is a .bin file, which needs it (a number)")
    members = committee_members(ds)
    for split, files in ds["splits"].items():
        if files.get("committee") and list(files["committee"]) != members:
            raise ConfigError(f"{path}: splits.{split}.committee: members {sorted(files['committee'])} differ from those of "
                              f"{'the train split' if fits_models(ds) else 'split'} '{label_free_split(ds)}' ({sorted(members) or 'none'}); every split that names "
                              "a committee names the same members, in the same order")
    if fits_models(ds) and "labels" not in ds["splits"][ds["train_split"]]:
        raise ConfigError(f"{path}: splits.{ds['train_split']}.labels: missing; the train split needs labels "
                          "(models and thresholds are fitted on it)")
    check_widths(ds, path)
    if check_files:
        for split, n in split_sizes(ds).items():
            widths = (("knn.committee_k", ds["knn"]["committee_k"]),) if committee_members(ds) else ()
            for key, k in (("knn.k", ds["knn"]["k"]), *widths, ("cluster.k", ds["cluster"]["k"]),
                           ("methods.gcn_v.feature_k", ds["methods"]["gcn_v"]["feature_k"]),
                           ("methods.gcn_ve.k (+ the node itself)", ds["methods"]["gcn_ve"]["k"] + 1)):
                if k > n and key.split(" ")[0] not in chosen_keys(ds):
                    raise ConfigError(f"{path}: {key}: {k} neighbours per sample, but split '{split}' has only {n} samples "
                                      f"({ds['splits'][split]['features']}); lower {key}")


def check_widths(ds: dict, path: str) -> None:
    """Every key that counts ``knn.npz`` columns (:data:`facecluster.registry.METHODS` ``knn_widths``)
    is at most ``knn.k``: a wider setting would be cut silently or fail after the kNN is computed."""
    chosen = chosen_keys(ds)
    for method in registry.METHODS.values():
        widths = [("knn.k", ds["knn"]["k"])] + ([("knn.committee_k", ds["knn"]["committee_k"])] if method.committee else [])
        for key, extra in method.knn_widths:
            if key in chosen:  # chosen among candidates that fit (resolve_candidates)
                continue
            need = get_path(ds, key) + extra
            for width_key, k in widths:
                if need > k:
                    reads = f"{need} columns (the node itself + {need - 1})" if extra else f"{need} columns"
                    raise ConfigError(f"{path}: {key}: {get_path(ds, key)} reads {reads} of the kNN graph, "
                                      f"but {width_key} is {k} ({method.name}); raise {width_key} or lower {key}")


def load_datasets(folder: str | os.PathLike, schema_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every ``<folder>/*.yaml``, loaded by :func:`load_dataset`, by name."""
    paths = sorted(glob.glob(os.path.join(folder, "*.yaml")))
    if not paths:
        raise ConfigError(f"{folder}: no dataset configs (*.yaml) found")
    raws = {Path(p).stem: (p, _read_raw(p)) for p in paths}
    datasets = {}
    for stem, (p, raw) in raws.items():
        if "models_from" in raw:
            source = raw["models_from"]
            if source not in raws:
                raise ConfigError(f"{p}: models_from: no dataset '{source}' ({os.path.join(folder, str(source))}.yaml does not "
                                  f"exist; known: {', '.join(raws)})")
            raw = inherit_models_from(raw, raws[source][1], p, raws[source][0])
        datasets[stem] = load_dataset(p, schema_dir, raw=raw)
    for name, ds in datasets.items():
        if ds.get("models_from"):
            check_models_from(ds, datasets[ds["models_from"]], raws[name][0])
    return {ds["name"]: ds for ds in datasets.values()}


def feature_dim_of(ds: dict) -> int | None:
    """The dataset's feature dimension: configured, else the header of the first existing .npy split file."""
    if ds.get("feature_dim"):
        return int(ds["feature_dim"])
    for files in ds["splits"].values():
        path = files.get("features", "")
        if path.endswith(".npy") and os.path.exists(path):
            try:
                import numpy as np

                return int(np.load(path, mmap_mode="r").shape[1])
            except Exception:  # noqa: BLE001 - prepare_features names the problem
                return None
    return None


def check_models_from(ds: dict, source: dict, path: str) -> None:
    """Before any job: the models of ``source`` read features of ``ds``'s dimension."""
    mine, theirs = feature_dim_of(ds), feature_dim_of(source)
    if mine is not None and theirs is not None and mine != theirs:
        raise ConfigError(f"{path}: models_from: '{source['name']}' fits its models on {theirs}-d features, and this "
                          f"dataset's are {mine}-d (feature_dim); models only transfer between embeddings of the same "
                          "recognition model")


# --- the top-level config -------------------------------------------------------------------------

def model_missing(ds: dict, method: str) -> str | None:
    """Why a learned method (or Ada-NETS) has no model on this dataset (None when it has one, and for
    every non-learned method): no labelled train split to fit it on, no ``models_from``, and no
    release weights (``methods.<m>.weights``) for it and every model it builds on."""
    spec = registry.METHODS[method]
    if spec.family not in ("ada_nets", "learned") or fits_models(ds) or ds.get("models_from"):
        return None
    if spec.family == "ada_nets":
        return (f"is learned (adaptive filter and GCN) and dataset '{ds['name']}' has no train_split and no models_from: "
                "it has no model (Ada-NETS publishes no weights); name models_from: <a labelled dataset> or drop it")
    lacking = [m for m in (*spec.needs, method) if not ds["methods"][m].get("weights")]
    if lacking:
        return (f"is learned and dataset '{ds['name']}' has no train_split, no models_from and no "
                f"{', '.join(f'methods.{m}.weights' for m in lacking)}: it has no model; name models_from: <a labelled "
                "dataset>, the release's weights (docs/release_weights.md), or drop it")
    return None


def load_workflow_config(config: dict, where: str = "config/config.yaml", schema_dir: str | os.PathLike | None = None) -> dict:
    """The workflow's config: the top-level file validated (defaults filled), its ``datasets``
    loaded from ``dataset_dir``, and every ``run`` entry checked against them. Returns ``config``
    with ``config['datasets']`` set."""
    listed = {name: "methods" in (entry or {}) for name, entry in (config.get("run") or {}).items()}
    validate(config, _schema("config.schema.yaml", schema_dir), where)
    datasets = load_datasets(config["dataset_dir"], schema_dir)
    for name, entry in config["run"].items():
        if name not in datasets:
            raise ConfigError(f"{where}: run.{name}: no dataset '{name}' ({config['dataset_dir']}/{name}.yaml does not exist; "
                              f"known: {', '.join(datasets)})")
        ds = datasets[name]
        for split in entry["splits"]:
            if split not in ds["splits"]:
                raise ConfigError(f"{where}: run.{name}.splits: '{split}' is not a split of {config['dataset_dir']}/{name}.yaml "
                                  f"(it has: {', '.join(ds['splits'])})")
        for method in entry.get("methods", []):
            if method not in registry.METHODS:
                raise ConfigError(f"{where}: run.{name}.methods: unknown method '{method}' (known: {', '.join(registry.NAMES)})")
        if not listed.get(name, True):  # the default list: the methods this dataset can run
            entry["methods"] = [m for m in entry["methods"] if model_missing(ds, m) is None]
        for method in entry["methods"]:
            why = model_missing(ds, method)
            if why:
                raise ConfigError(f"{where}: run.{name}.methods: {method} {why}")
        needing = [m for m in entry.get("methods", []) if m in registry.COMMITTEE]
        if needing:
            for split in dict.fromkeys([*([ds["train_split"]] if fits_models(ds) else []), *entry["splits"]]):
                if not has_committee(ds, split):
                    raise ConfigError(f"{config['dataset_dir']}/{name}.yaml: splits.{split}.committee: missing, but "
                                      f"{where} run.{name}.methods lists {', '.join(needing)}, which read a committee "
                                      "(other models' embeddings of the same samples); name its files or drop those methods")
        for method in entry.get("methods", []):
            if "n_clusters" not in ds["methods"].get(method, {}) or ds["methods"][method]["n_clusters"] is not None:
                continue
            for split in entry["splits"]:
                if "labels" not in ds["splits"][split]:
                    raise ConfigError(f"{config['dataset_dir']}/{name}.yaml: methods.{method}.n_clusters: null (the true "
                                      f"number of identities) needs labels, and split '{split}' has none; give a number")
    config["datasets"] = datasets
    return config
