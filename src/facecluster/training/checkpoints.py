"""The one checkpoint convention of the project: :func:`save_model` / :func:`load_model`.

A checkpoint is a ``torch.save`` dict ``{"kind", "arch", "state_dict", "config", "loss_curve", ...}``:
``kind`` names the network class in :data:`MODEL_KINDS` and ``arch`` holds its constructor's
keyword arguments, so every training rule, inference rule and benchmark rebuilds a model the
same way (``load_model(path)``) without knowing its class. Extra entries (loss terms, the
filter's list length ``k``, reference values for the plots) ride along.
"""

from __future__ import annotations

import importlib

import torch

from facecluster.data.io import atomic_path

# kind -> (module, class): imported on load, so this table costs nothing to import.
MODEL_KINDS: dict[str, tuple[str, str]] = {
    "adaptive_filter": ("facecluster.ada_nets.adaptive_filter", "AdaptiveFilter"),
    "ada_nets_gcn": ("facecluster.ada_nets.gcn", "AdaNetsGCN"),
    "gcn_v": ("facecluster.methods.gcn_v", "GCNV"),
    "pivot_subgraph_gcn": ("facecluster.methods.pivot_subgraph", "SubgraphGCN"),
    "lce": ("facecluster.methods.lce", "LCE"),
    "cdp_mediator": ("facecluster.methods.cdp_mediator", "Mediator"),
    "dsgcn": ("facecluster.methods.gcn_d", "DSGCN"),
    "gcn_ds": ("facecluster.methods.gcn_d", "GCNDS"),
}


def build_model(kind: str, **arch) -> torch.nn.Module:
    """A fresh network of ``kind`` (a key of :data:`MODEL_KINDS`) built from its constructor arguments."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    module, cls = MODEL_KINDS[kind]
    return getattr(importlib.import_module(module), cls)(**arch)


def save_model(path: str, model: torch.nn.Module, kind: str, arch: dict, config: dict, curve: list,
               extra: dict | None = None) -> None:
    """Write the checkpoint atomically (never a half-written file). ``arch`` must rebuild ``model``
    through :func:`build_model` (checked here, before anything is written)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    module, cls = MODEL_KINDS[kind]
    if type(model).__name__ != cls:
        raise TypeError(f"a {kind!r} checkpoint holds a {cls}, not a {type(model).__name__}")
    payload = {"kind": kind, "arch": dict(arch),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "config": config, "loss_curve": curve}
    payload.update(extra or {})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str) -> dict:
    """The raw checkpoint dict (on the CPU), for readers that need only its curves or settings."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "kind" not in ckpt or "arch" not in ckpt:
        raise ValueError(f"{path}: not a facecluster checkpoint (no kind/arch); rebuild it with the current workflow")
    return ckpt


def load_model(path: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """``(model in eval mode on device, checkpoint dict)`` of a checkpoint written by :func:`save_model`."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["kind"], **ckpt["arch"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt
