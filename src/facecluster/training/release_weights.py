"""Importers for the pretrained weights the releases ship, written as ordinary facecluster checkpoints.

learn-to-cluster (github.com/yl-1993/learn-to-cluster, model code read at 3b83458) ships mmcv
checkpoints (``{"meta", "state_dict"}``) of GCN-V, GCN-E, L-GCN, GCN-D (IoU and IoP) and GCN-S;
LCE-PCENet (github.com/illian01/LCE-PCENet, read at ec29e69) ships plain ``state_dict`` files of
LCENet and PCENet. :func:`import_release_weights` maps every key of such a file onto this project's
class of the method (:data:`RELEASE_IMPORTERS`) and loads it with ``strict=True``;
:func:`write_imported_checkpoint` writes the result through
:func:`facecluster.training.checkpoints.save_model`, so ``load_model`` and every rule read it as if it
had been trained here. The key-by-key mapping and the settings that must be the release's are in
``docs/release_weights.md``.

Nothing is loaded partially: a release key that maps nowhere, a key of ours that no release key
fills, or a shape that differs (a ``hidden`` / ``k`` / feature dimension other than the release's)
refuses the import with an error naming the file, the keys and the shapes. The only key allowed
to be absent is L-GCN's ``bn0.num_batches_tracked`` (PyTorch < 0.4.1 did not save it; mmcv's
``load_checkpoint`` ignores it; it plays no part at inference).

Layout differences handled (each tested against a transcription of the release's forward pass in
``tests/test_release_weights.py``):

* learn-to-cluster's ``GraphConv`` (vegcn, lgcn) stores ``weight`` as (2·in, out) and computes
  ``ReLU(cat([x, A x]) @ W + b)``; this project's layers are ``nn.Linear(2·in, out)`` computing
  ``cat([x, A x]) @ Wᵀ + b``: the weight is transposed (the node's own rows stay first, the
  neighbour mean's second, in both).
* dsgcn's ``GraphConv`` stores (in, out) and computes ``A (X W) / D`` as this project's: copied.
* ``module.`` prefixes (DataParallel) are stripped, mmcv's ``{"meta", "state_dict"}`` (and other
  ``state_dict`` / ``model`` wrappers) unwrapped.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from facecluster.progress import logger, setup_logging
from facecluster.training.checkpoints import build_model, save_model

LEARN_TO_CLUSTER = "github.com/yl-1993/learn-to-cluster (model code read at 3b834589923baf72523e288cc462e0df591b99c1)"
LCE_PCENET = "github.com/illian01/LCE-PCENet (model code read at ec29e69d0fea60c53317357acaa293ccea43e7cb)"


class ReleaseWeightsError(ValueError):
    """A release file that cannot be imported; the message names the file, the keys and the shapes."""


# --- reading a release file ----------------------------------------------------------------------

_WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network")


#: MD5 sums the release lists (learn-to-cluster DATASET.md); a file of that name with another sum is
#: imported all the same (its shapes are checked), with a warning.
RELEASE_MD5 = {
    "pretrained_gcn_d_ms1m.pth": "213598e70ddbc50f5e3661a6191a8be1",
    "pretrained_gcn_s_ms1m.pth": "3251d6e7d4f9178f504b02d8238726f7",
    "pretrained_gcn_d_iop_ms1m.pth": "314fba47b5156dcc91383ad611d5bd96",
    "pretrained_gcn_v_ms1m.pth": "020236d4e8dbff975360f08cb47109c0",
    "pretrained_gcn_e_ms1m.pth": "315ff08f28f14bc494dd36158c11e900",
    "pretrained_lgcn_ms1m.pth": "97fc6e52d1b5e907eabeb01e7b0825f9",
}


def file_md5(path: str | os.PathLike) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _torch_load(path: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():
            raise
        # an older checkpoint whose meta holds objects the weights-only unpickler refuses
        logger.warning("%s: not loadable with weights_only=True (%s); loading it as a full pickle",
                       path, str(err).splitlines()[0])
        return torch.load(path, map_location="cpu", weights_only=False)


def read_release_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a release file: mmcv's ``{"meta", "state_dict", ...}`` (or a ``model`` /
    ``state_dict`` wrapper, or a plain state dict), ``module.`` prefixes stripped."""
    path = str(path)
    if not os.path.isfile(path):
        raise ReleaseWeightsError(f"{path}: no such file")
    try:
        obj = _torch_load(path)
    except Exception as err:  # torch raises many kinds here (pickle, zip, EOF, runtime)
        raise ReleaseWeightsError(f"{path}: not a torch checkpoint ({type(err).__name__}: {err})") from None
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ReleaseWeightsError(f"{path}: not a torch checkpoint of a state dict (holds a {type(obj).__name__})")
    if "kind" in obj and "arch" in obj:
        raise ReleaseWeightsError(f"{path}: already a facecluster checkpoint (kind {obj['kind']!r}), not a release file")
    for _ in range(3):  # e.g. {"state_dict": {...}} or {"model": {"state_dict": ...}}
        inner = next((obj[w] for w in _WRAPPERS if isinstance(obj.get(w), dict)), None)
        if inner is None or all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        obj = inner
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    others = sorted(str(k) for k in obj if k not in tensors)
    if not tensors or others:
        raise ReleaseWeightsError(
            f"{path}: not a state dict of tensors ({len(tensors)} tensors; other entries: {', '.join(others) or 'none'})")
    out: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        name = str(key)
        while name.startswith("module."):
            name = name[len("module."):]
        if name in out:
            raise ReleaseWeightsError(f"{path}: key {name!r} appears both with and without the 'module.' prefix")
        out[name] = value
    return out


# --- mapping one file onto (part of) our model --------------------------------------------------

@dataclass
class FileMap:
    """How the keys of one release file fill our model's keys: ``release key -> (our key, transpose)``."""

    path: str
    role: str  # what the file must be, for messages ("GCN-V", "LCENet", ...)
    state: dict[str, torch.Tensor]
    table: dict[str, tuple[str, bool]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()  # release keys that may be absent (ours then keep their value)


def _shape(t: torch.Tensor | None) -> str:
    return "absent" if t is None else "(" + ", ".join(str(s) for s in t.shape) + ")"


def _load_files(model: torch.nn.Module, files: Sequence[FileMap], hint: str) -> None:
    """Fill ``model`` from ``files`` (every release key mapped, every key of ours filled, shapes equal)
    and load it strictly; otherwise one error listing every problem of every file."""
    ours = model.state_dict()
    targets: dict[str, str] = {}
    mapped: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for f in files:
        lines = []
        for key in f.state:
            if key not in f.table:
                lines.append(f"  unmapped release key {key} {_shape(f.state[key])}")
        for key, (dst, transpose) in f.table.items():
            if dst not in ours:
                raise AssertionError(f"importer table names {dst!r}, not a key of {type(model).__name__}")
            targets[dst] = key
            if key not in f.state:
                if key not in f.optional:
                    lines.append(f"  missing release key {key} (for our {dst} {_shape(ours[dst])})")
                continue
            value = f.state[key]
            value = value.t() if transpose and value.dim() == 2 else value
            if tuple(value.shape) != tuple(ours[dst].shape):
                lines.append(f"  {key} {_shape(f.state[key])}{' transposed' if transpose else ''} does not fit our {dst} "
                             f"{_shape(ours[dst])}")
                continue
            mapped[dst] = value.detach().to(ours[dst].dtype).contiguous().clone()
        if lines:
            problems.append(f"{f.path} ({f.role}):\n" + "\n".join(lines))
    unfilled = [k for k in ours if k not in targets]
    if unfilled:
        problems.append("keys of ours no release key fills: " + ", ".join(f"{k} {_shape(ours[k])}" for k in unfilled))
    if problems:
        raise ReleaseWeightsError("cannot import the release weights (nothing was loaded):\n" + "\n".join(problems)
                                  + (f"\n{hint}" if hint else ""))
    for dst in ours:
        if dst not in mapped:  # an optional key absent from the release file: keep ours
            mapped[dst] = ours[dst].clone()
    model.load_state_dict(mapped, strict=True)
    model.eval()


def _dim_from(f: FileMap, key: str, axis: int, div: int = 1) -> int:
    """A width read off a release tensor (for building our model); a missing key is reported as such."""
    if key not in f.state:
        raise ReleaseWeightsError(f"{f.path} ({f.role}): missing release key {key}; the keys it holds: "
                                  + ", ".join(f"{k} {_shape(v)}" for k, v in f.state.items()))
    return int(f.state[key].shape[axis]) // div


def _check_dim(method: str, inferred: int, feature_dim: int | None, f: FileMap, key: str) -> int:
    if feature_dim is not None and int(feature_dim) != inferred:
        raise ReleaseWeightsError(f"{f.path} ({f.role}): {key} {_shape(f.state[key])} is for features of dimension "
                                  f"{inferred}, the dataset's feature_dim is {feature_dim} ({method})")
    return inferred


def _graphconv_table(release: str, ours: str) -> dict[str, tuple[str, bool]]:
    """learn-to-cluster's vegcn/lgcn GraphConv (weight (2·in, out), bias) -> our nn.Linear (out, 2·in)."""
    return {f"{release}.weight": (f"{ours}.weight", True), f"{release}.bias": (f"{ours}.bias", False)}


def _head_table(ours: str = "head") -> dict[str, tuple[str, bool]]:
    """``classifier = Sequential(Linear, PReLU(n), Linear)`` -> our ``head`` (same layout)."""
    return {f"classifier.{i}.{p}": (f"{ours}.{i}.{p}", False)
            for i, ps in ((0, ("weight", "bias")), (1, ("weight",)), (2, ("weight", "bias"))) for p in ps}


# --- the importers -------------------------------------------------------------------------------

Imported = tuple[torch.nn.Module, str, dict, dict]


def _one(method: str, paths: Sequence[str], what: str) -> str:
    if len(paths) != 1:
        raise ReleaseWeightsError(f"{method} takes one release file ({what}), got {len(paths)}: {list(paths)}")
    return paths[0]


def _import_gcn_v(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """vegcn/models/gcn_v.py ``GCN_V``: conv1 (GraphConv d -> nhid), classifier Linear-PReLU-Linear(nhid, 1)."""
    f = FileMap(_one("gcn_v", paths, "pretrained_gcn_v_*.pth"), "GCN-V", {})
    f.state = read_release_state_dict(f.path)
    dim = _check_dim("gcn_v", _dim_from(f, "conv1.weight", 0, div=2), feature_dim, f, "conv1.weight")
    arch = {"dim": dim, "hidden": int(s["hidden"]), "dropout": float(s["dropout"])}
    model = build_model("gcn_v", **arch)
    f.table = {**_graphconv_table("conv1", "conv"), **_head_table()}
    _load_files(model, [f], f"settings: methods.gcn_v.hidden = {arch['hidden']} (release: nhid 512)")
    return model, "gcn_v", arch, {}


def _subgraph_gcn_table(offset: int = 1) -> dict[str, tuple[str, bool]]:
    table: dict[str, tuple[str, bool]] = {}
    for i in range(4):
        table.update(_graphconv_table(f"conv{i + offset}", f"layers.{i}"))
    return {**table, **_head_table()}


def _import_gcn_ve(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """vegcn/models/gcn_e.py ``GCN_E`` (nclass 2): conv1..conv4 (d -> nhid -> nhid -> nhid/2 -> nhid/2),
    classifier Linear-PReLU-Linear(nhid/2, 2), on GCN-V's hidden features: its input width is GCN-V's
    nhid, not the dataset's feature_dim (which is not checked here)."""
    f = FileMap(_one("gcn_ve", paths, "pretrained_gcn_e_*.pth"), "GCN-E", {})
    f.state = read_release_state_dict(f.path)
    dim = _dim_from(f, "conv1.weight", 0, div=2)
    arch = {"dim": dim, "hidden": int(s["hidden"]), "input_norm": False}
    model = build_model("pivot_subgraph_gcn", **arch)
    f.table = _subgraph_gcn_table()
    _load_files(model, [f], f"settings: methods.gcn_ve.hidden = {arch['hidden']} (release: nhid 512, nclass 2 — a "
                            "regressor GCN-E (nclass 1) has no counterpart here: this project's GCN-E head is 2-way); "
                            f"the file's input width {dim} must be methods.gcn_v.hidden")
    return model, "pivot_subgraph_gcn", arch, {}


def _import_lgcn(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """lgcn/models/lgcn.py ``lgcn``: bn0 BatchNorm1d(d, affine=False), conv1..conv4 (512/512/256/256),
    classifier Linear-PReLU-Linear(256, 2)."""
    f = FileMap(_one("lgcn", paths, "pretrained_lgcn_*.pth"), "L-GCN", {})
    f.state = read_release_state_dict(f.path)
    dim = _check_dim("lgcn", _dim_from(f, "bn0.running_mean", 0), feature_dim, f, "bn0.running_mean")
    arch = {"dim": dim, "hidden": int(s["hidden"]), "input_norm": True}
    model = build_model("pivot_subgraph_gcn", **arch)
    f.table = {"bn0.running_mean": ("input_norm.running_mean", False),
               "bn0.running_var": ("input_norm.running_var", False),
               "bn0.num_batches_tracked": ("input_norm.num_batches_tracked", False),
               **_subgraph_gcn_table()}
    f.optional = frozenset({"bn0.num_batches_tracked"})
    _load_files(model, [f], f"settings: methods.lgcn.hidden = {arch['hidden']} (release: 512, fixed in its class)")
    return model, "pivot_subgraph_gcn", arch, {}


def _dsgcn_table(hidden: Sequence[int], prefix: str = "") -> dict[str, tuple[str, bool]]:
    """dsgcn/models/dsgcn.py ``GCN``: layers.i.gc.weight (in, out) -> our layers.i.weight (same layout)."""
    table = {f"layers.{i}.gc.weight": (f"{prefix}layers.{i}.weight", False) for i in range(len(hidden))}
    table.update({"classifier.weight": (f"{prefix}classifier.weight", False),
                  "classifier.bias": (f"{prefix}classifier.bias", False)})
    return table


def _dsgcn_stage(f: FileMap) -> str:
    """det or seg, from the classifier's outputs (1: GCN-D, 2: GCN-S); used to catch swapped files."""
    return "seg" if _dim_from(f, "classifier.weight", 0) == 2 else "det"


def _import_gcn_d(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """dsgcn ``GCN`` (stage det, max pool): layers of hidden_dims [512, 64] without bias, Linear(64, 1)."""
    f = FileMap(_one("gcn_d", paths, "pretrained_gcn_d_*.pth, the IoU model"), "GCN-D (IoU)", {})
    f.state = read_release_state_dict(f.path)
    if _dsgcn_stage(f) == "seg":
        raise ReleaseWeightsError(f"{f.path}: a GCN-S file (2-way per-node classifier); gcn_d takes the GCN-D (IoU) "
                                  "file pretrained_gcn_d_*.pth")
    dim = _check_dim("gcn_d", _dim_from(f, "layers.0.gc.weight", 0), feature_dim, f, "layers.0.gc.weight")
    arch = {"dim": dim, "hidden": [int(h) for h in s["hidden"]], "dropout": float(s["dropout"]), "stage": "det"}
    model = build_model("dsgcn", **arch)
    f.table = _dsgcn_table(arch["hidden"])
    _load_files(model, [f], f"settings: methods.gcn_d.hidden = {arch['hidden']} (release: hidden_dims [512, 64])")
    return model, "dsgcn", arch, {}


def _import_gcn_ds(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """GCN-D + GCN-S's own networks (:class:`facecluster.methods.gcn_d.GCNDS`): ``seg`` from the GCN-S
    file (dsgcn ``GCN``, stage seg, seed column, Linear(64, 2)), ``iop`` from the GCN-D file trained on
    IoP (``pretrained_gcn_d_iop_*.pth``). The IoU GCN-D is ``gcn_d``'s own import."""
    if len(paths) != 2:
        raise ReleaseWeightsError(f"gcn_ds takes two release files, [GCN-S (pretrained_gcn_s_*.pth), GCN-D trained on "
                                  f"IoP (pretrained_gcn_d_iop_*.pth)], got {len(paths)}: {list(paths)}")
    seg = FileMap(str(paths[0]), "GCN-S", read_release_state_dict(paths[0]))
    iop = FileMap(str(paths[1]), "GCN-D (IoP)", read_release_state_dict(paths[1]))
    if _dsgcn_stage(seg) != "seg" or _dsgcn_stage(iop) != "det":
        raise ReleaseWeightsError(
            f"gcn_ds takes [GCN-S, GCN-D (IoP)] in this order: {seg.path} has a {_dsgcn_stage(seg)} classifier "
            f"(seg expected), {iop.path} a {_dsgcn_stage(iop)} one (det expected)")
    dim = _check_dim("gcn_ds", _dim_from(iop, "layers.0.gc.weight", 0), feature_dim, iop, "layers.0.gc.weight")
    arch = {"dim": dim, "hidden": [int(h) for h in s["hidden"]], "dropout": float(s["dropout"])}
    model = build_model("gcn_ds", **arch)
    seg.table = _dsgcn_table(arch["hidden"], "seg.")
    iop.table = _dsgcn_table(arch["hidden"], "iop.")
    _load_files(model, [seg, iop], f"settings: methods.gcn_ds.hidden = {arch['hidden']} (release: hidden_dims "
                                   "[512, 64]); GCN-S's first layer reads the features and the seed column (dim + 1)")
    return model, "gcn_ds", arch, {}


def _import_lce(paths: Sequence[str], s: dict, feature_dim: int | None) -> Imported:
    """LCE-PCENet models.py ``LCENet`` and ``PCENet``: the same module names as :class:`facecluster.methods.lce.LCE`'s
    ``lcenet`` / ``pcenet`` (encoder.layers.i.*, classifier.*, adjust_dim.*), copied unchanged."""
    if len(paths) != 2:
        raise ReleaseWeightsError(f"lce takes two release files, [LCENet_*.pth, PCENet_*.pth], got {len(paths)}: "
                                  f"{list(paths)}")
    lcenet = FileMap(str(paths[0]), "LCENet", read_release_state_dict(paths[0]))
    pcenet = FileMap(str(paths[1]), "PCENet", read_release_state_dict(paths[1]))
    has_adjust = [any(k.startswith("adjust_dim.") for k in f.state) for f in (lcenet, pcenet)]
    if has_adjust != [False, True]:
        raise ReleaseWeightsError(f"lce takes [LCENet, PCENet] in this order (PCENet has adjust_dim.*, LCENet not): "
                                  f"{lcenet.path} {'has' if has_adjust[0] else 'has no'} adjust_dim, {pcenet.path} "
                                  f"{'has' if has_adjust[1] else 'has no'} adjust_dim")
    dim = _check_dim("lce", _dim_from(lcenet, "classifier.0.weight", 0), feature_dim, lcenet, "classifier.0.weight")
    k, heads = int(s["k"]), int(s["heads"])
    for f, per_k in ((lcenet, 1), (pcenet, 2)):
        key = "encoder.layers.0.norm1.weight"
        if key in f.state and int(f.state[key].shape[0]) != dim + per_k * k:
            trained_k = (int(f.state[key].shape[0]) - dim) / per_k
            raise ReleaseWeightsError(
                f"{f.path} ({f.role}): {key} {_shape(f.state[key])}: its tokens are {int(f.state[key].shape[0])} wide "
                f"= feature dim {dim} + {'k' if per_k == 1 else '2k'} with k = {trained_k:g}; methods.lce.k is {k} "
                "(release: 80 MS1M, 8 DeepFashion, 120 CASIA/IJB-B)")
    for f, width in ((lcenet, dim + k), (pcenet, dim + 2 * k)):
        if width % heads:
            raise ReleaseWeightsError(
                f"{f.path} ({f.role}): its transformer width would be {width} (feature dim {dim} + "
                f"{'k' if f is lcenet else '2k'}, k = {k}), not divisible by heads = {heads}: the release cannot have "
                "been run so (nn.MultiheadAttention refuses it); set methods.lce.k and heads to the release's "
                "(k 80 MS1M / 8 DeepFashion / 120 IJB-B, heads 8)")
    arch = {"dim": dim, "k": k, "layers": int(s["layers"]), "heads": heads, "feedforward": int(s["feedforward"]),
            "dropout": float(s["dropout"]), "pce_hidden": int(s["pce_hidden"])}
    model = build_model("lce", **arch)
    ours = model.state_dict()
    lcenet.table = {k2[len("lcenet."):]: (k2, False) for k2 in ours if k2.startswith("lcenet.")}
    pcenet.table = {k2[len("pcenet."):]: (k2, False) for k2 in ours if k2.startswith("pcenet.")}
    _load_files(model, [lcenet, pcenet],
                f"settings: methods.lce k = {k}, layers = {arch['layers']}, feedforward = {arch['feedforward']}, "
                f"pce_hidden = {arch['pce_hidden']} (release: k 80 MS1M / 8 DeepFashion / 120 IJB-B, 3 layers, "
                "feed-forward 1024, PCENet classifier 2048; heads 8 cannot be read off the weights)")
    return model, "lce", arch, {}


@dataclass(frozen=True)
class ReleaseImporter:
    """One method's importer: the release it reads, the files it takes (in order) and the function."""

    release: str
    files: tuple[str, ...]
    run: Callable[[Sequence[str], dict, int | None], Imported]


RELEASE_IMPORTERS: dict[str, ReleaseImporter] = {
    "gcn_v": ReleaseImporter(LEARN_TO_CLUSTER, ("pretrained_gcn_v_{ms1m,fashion}.pth",), _import_gcn_v),
    "gcn_ve": ReleaseImporter(LEARN_TO_CLUSTER, ("pretrained_gcn_e_{ms1m,fashion}.pth",), _import_gcn_ve),
    "lgcn": ReleaseImporter(LEARN_TO_CLUSTER, ("pretrained_lgcn_{ms1m,fashion}.pth",), _import_lgcn),
    "gcn_d": ReleaseImporter(LEARN_TO_CLUSTER, ("pretrained_gcn_d_{ms1m,fashion}.pth",), _import_gcn_d),
    "gcn_ds": ReleaseImporter(LEARN_TO_CLUSTER, ("pretrained_gcn_s_ms1m.pth", "pretrained_gcn_d_iop_ms1m.pth"),
                              _import_gcn_ds),
    "lce": ReleaseImporter(LCE_PCENET, ("weights/LCENet_{MS1M,DeepFashion,CASIA}.pth",
                                        "weights/PCENet_{MS1M,DeepFashion,CASIA}.pth"), _import_lce),
}


@functools.lru_cache(maxsize=1)
def _dataset_schema() -> dict:
    from facecluster.config import SCHEMA_DIR, _load_yaml

    return _load_yaml(Path(SCHEMA_DIR) / "dataset.schema.yaml")


def method_defaults(method: str) -> dict:
    """The schema defaults of ``methods.<method>`` (workflow/schemas/dataset.schema.yaml)."""
    from facecluster.config import validate

    root = copy.deepcopy(_dataset_schema())
    sub = root["properties"]["methods"]["properties"][method]
    return validate({}, {**sub, "$defs": root["$defs"]}, f"methods.{method} (schema defaults)")


def _paths(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    return [str(paths)] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths]


def import_release_weights(method: str, paths: str | os.PathLike | Sequence[str | os.PathLike], settings: dict,
                           feature_dim: int | None = None) -> Imported:
    """``(model in eval mode, kind, arch, extra)`` of ``method``'s release files ``paths``.

    ``settings`` is the method's settings dict (``methods.<method>`` of a dataset config; unset keys
    take the schema defaults); ``feature_dim`` (the dataset's; else ``settings["feature_dim"]`` if
    present) is checked against the file when given (not for ``gcn_ve``, whose input is GCN-V's
    hidden width). ``paths`` per method: gcn_v, gcn_ve,
    lgcn, gcn_d one file; gcn_ds [GCN-S, GCN-D (IoP)]; lce [LCENet, PCENet].
    """
    if method not in RELEASE_IMPORTERS:
        raise ReleaseWeightsError(f"no release importer for {method!r}; known: {', '.join(RELEASE_IMPORTERS)}")
    importer = RELEASE_IMPORTERS[method]
    s = {**method_defaults(method), **(settings or {})}
    if feature_dim is None:
        feature_dim = s.get("feature_dim")  # the workflow passes the dataset's feature_dim inside the settings
    files = _paths(paths)
    model, kind, arch, extra = importer.run(files, s, feature_dim)
    sums = [file_md5(f) for f in files]
    for f, md5 in zip(files, sums):
        known = RELEASE_MD5.get(os.path.basename(f))
        if known and known != md5:
            logger.warning("%s: MD5 %s, the release lists %s for this name (imported: its keys and shapes fit)",
                           f, md5, known)
    extra = {**extra, "imported_from": files, "release": importer.release, "imported_md5": sums}
    logger.info("%s: imported %s (%s) into a %s %s", method, ", ".join(files), importer.release, kind, arch)
    return model, kind, arch, extra


def write_imported_checkpoint(method: str, paths: str | os.PathLike | Sequence[str | os.PathLike],
                              out_path: str | os.PathLike, settings: dict, feature_dim: int | None = None) -> dict:
    """Import ``paths`` (:func:`import_release_weights`) and write a facecluster checkpoint to ``out_path``
    (``config`` = the settings with schema defaults filled, an empty loss curve, ``extra`` =
    ``{"imported_from": [...], "release": ...}``). Returns the ``extra`` written."""
    model, kind, arch, extra = import_release_weights(method, paths, settings, feature_dim)
    config = {**method_defaults(method), **(settings or {})}
    save_model(str(out_path), model, kind, arch, config, [], extra)
    return extra


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facecluster.training.release_weights",
        description="Import a release's pretrained weights into a facecluster checkpoint (docs/release_weights.md).")
    parser.add_argument("method", choices=sorted(RELEASE_IMPORTERS))
    parser.add_argument("out", help="the checkpoint to write, e.g. results/<ds>/models/<method>.pt")
    parser.add_argument("files", nargs="+", help="the release file(s): gcn_ds [GCN-S, GCN-D (IoP)], lce [LCENet, PCENet]")
    parser.add_argument("--feature-dim", type=int, default=None, help="the dataset's feature dimension (checked)")
    parser.add_argument("--dataset", default=None,
                        help="config/datasets/<name>.yaml whose methods.<method> settings (and feature_dim) to use; "
                             "default: the schema defaults (the releases' MS1M settings)")
    args = parser.parse_args(argv)
    settings: dict = {}
    feature_dim = args.feature_dim
    if args.dataset:
        from facecluster.config import load_dataset

        ds = load_dataset(args.dataset, check_files=False)
        settings = ds["methods"][args.method]
        if feature_dim is None and args.method != "gcn_ve":
            feature_dim = ds.get("feature_dim")
    try:
        extra = write_imported_checkpoint(args.method, args.files, args.out, settings, feature_dim)
    except ReleaseWeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: {args.method} from {', '.join(extra['imported_from'])} ({extra['release']})")
    return 0


if __name__ == "__main__":
    setup_logging()
    sys.exit(main())
