"""Shared pieces of every training rule: device, seeds, SGD/Adam with a warm-up cosine schedule,
and the loop with its progress logging (step, loss, its terms, lr).

Every learned stage (the adaptive filter, the Ada-NETS GCN, GCN-V/E, L-GCN, LCE) trains through
:func:`train_loop`, so they share one schedule and one log format; their checkpoints go through
:mod:`facecluster.training.checkpoints`.
"""

from __future__ import annotations

import math
import random
import time
import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from facecluster.progress import failpoint, logger, summarise_curve


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:N`` are taken as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{preference}' requested but CUDA is not available")
    return torch.device(preference)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA), and ask torch for its deterministic kernels
    (warning, not failing, where an op has none: reruns on one machine must agree whatever else
    runs beside them; tests/test_faults.py runs one under a CPU load)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def start_training(seed: int, threads: int, device: str) -> torch.device:
    """Common start of a training rule: seed everything, bound torch's threads, pick the device."""
    seed_everything(seed)
    torch.set_num_threads(max(1, threads))
    dev = select_device(device)
    logger.info("seed %d, %d threads, device %s", seed, threads, dev)
    return dev


def cosine_lr(step: int, base_lr: float, warmup: int, total: int) -> float:
    """Learning rate at ``step`` (1-based): linear warm-up over ``warmup`` steps, then a half cosine to 0."""
    if warmup > 0 and step < warmup:
        return base_lr * step / warmup
    span = max(total - warmup, 1)
    return base_lr * (1.0 + math.cos(math.pi * min(step - warmup, span) / span)) / 2.0


def step_lr(step: int, base_lr: float, warmup: int, milestones: tuple[int, ...], gamma: float = 0.1) -> float:
    """Learning rate at ``step`` (1-based): linear warm-up, then ``base_lr`` times ``gamma`` for every
    milestone already passed (PyTorch's ``MultiStepLR``; the L-GCN release decays ×0.1 per epoch)."""
    if warmup > 0 and step < warmup:
        return base_lr * step / warmup
    return base_lr * gamma ** sum(step > m for m in milestones)


@dataclass(frozen=True)
class SGDSchedule:
    """The optimiser of a training rule under :func:`cosine_lr`, or :func:`step_lr` when
    ``milestones`` (step numbers) are given.

    ``optimizer="sgd"`` (the papers' choice: SGD with momentum and weight decay) or ``"adam"``
    (Adam with the same weight decay; converges in far fewer steps, for CPU budgets).
    """

    steps: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 1e-5
    warmup: int = 0
    optimizer: str = "sgd"
    log_every: float = 10.0  # seconds between progress lines
    milestones: tuple[int, ...] = ()  # lr x 0.1 after each (empty: cosine schedule)

    def lr_at(self, step: int) -> float:
        """The learning rate of ``step`` (1-based)."""
        if self.milestones:
            return step_lr(step, self.lr, self.warmup, tuple(self.milestones))
        return cosine_lr(step, self.lr, self.warmup, self.steps)

    def make(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        raise ValueError(f"unknown optimizer {self.optimizer!r} (sgd or adam)")

    @classmethod
    def from_config(cls, cfg: dict) -> "SGDSchedule":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)} (known: {sorted(known)})")
        cfg = dict(cfg)
        if "milestones" in cfg:
            cfg["milestones"] = tuple(int(m) for m in cfg["milestones"] or ())
        return cls(**cfg)


def checkpoint_steps(total: int, count: int) -> list[int]:
    """``count`` evenly spaced steps of ``1..total``, the last one ``total`` (distinct, ascending)."""
    count = max(1, min(count, total))
    return sorted({max(1, int(round(total * i / count))) for i in range(1, count + 1)})


@dataclass
class Validation:
    """The best checkpoint by a validation score: ``score(model) -> float`` (higher is better,
    e.g. pairwise F on the validation part at its best threshold) is called at ``checkpoints``
    evenly spaced steps of a :func:`train_loop` (the last one at the end; the model in eval mode,
    without gradients), and the trained module's weights of the best one are restored at the end.

    ``scored`` is what ``score`` receives when it is not the trained module itself (LCE scores the
    whole network while its PCENet stage trains): see :meth:`of`. ``initial``: score the network
    before the first step too (step 0: its initial weights, which are kept if no checkpoint beats
    them). ``curve`` collects ``(step, score)``; ``best_step``/``best_score`` the kept one.
    ``patience``: early stopping — training ends once this many checkpoints have scored below the
    best score so far since it was set (an equal score is a plateau and does not count: L-GCN's F
    is 0 until its edges cross the threshold); None: every step is run. ``stopped_at`` is the
    step it ended at then.
    """

    score: Callable[[torch.nn.Module], float]
    checkpoints: int = 4
    initial: bool = False
    scored: torch.nn.Module | None = None
    patience: int | None = None
    stopped_at: int | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    best_score: float = -math.inf

    def of(self, scored: torch.nn.Module) -> "Validation":
        """This validation scoring ``scored`` (sharing its curve)."""
        self.scored = scored
        return self


def train_loop(
    model: torch.nn.Module,
    schedule: SGDSchedule,
    step_fn: Callable[[int], torch.Tensor | tuple[torch.Tensor, dict[str, float]]],
    name: str,
    terms_out: dict[str, list[float]] | None = None,
    validation: Validation | None = None,
) -> list[tuple[int, float, float]]:
    """Run ``schedule.steps`` SGD steps; ``step_fn(step)`` returns the loss of one mini-batch,
    or ``(loss, terms)`` with ``terms`` a dict of floats (the loss's parts, batch statistics).

    Logs ``step/total, loss (running mean), terms, lr, steps/s`` to the ``facecluster`` logger at
    most every ``schedule.log_every`` seconds, then one summary line comparing the mean loss (and
    terms) of the first and the last 100 steps. Returns the loss curve ``[(step, loss, lr), ...]``
    (every step), which is stored in the checkpoint; the terms of every step are appended to the
    lists of ``terms_out`` (one list per term name) when it is given. With ``validation``
    (:class:`Validation`), the model is scored at its checkpoints and the best one is kept.
    """
    opt = schedule.make(model.parameters())
    model.train()
    curve: list[tuple[int, float, float]] = []
    terms_log: dict[str, list[float]] = terms_out if terms_out is not None else {}
    start = last = time.perf_counter()
    running = None
    check_at = set(checkpoint_steps(schedule.steps, validation.checkpoints)) if validation else set()
    best_state = None
    since_best = 0

    def checkpoint(step: int) -> None:
        nonlocal best_state, since_best
        model.eval()
        with torch.no_grad():
            score = float(validation.score(validation.scored or model))
        model.train()
        validation.curve.append((step, score))
        logger.info("%s step %d/%d: validation score %.4f", name, step, schedule.steps, score)
        if score > validation.best_score:
            validation.best_step, validation.best_score = step, score
            best_state = copy.deepcopy(model.state_dict())
            since_best = 0
        elif score < validation.best_score:  # worse; an equal score (e.g. 0 before anything is learned) is a plateau
            since_best += 1

    if validation is not None and validation.initial:
        checkpoint(0)
    for step in range(1, schedule.steps + 1):
        lr = schedule.lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        out = step_fn(step)
        loss, terms = (out if isinstance(out, tuple) else (out, {}))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"{name}: loss became {value} at step {step} (lr {lr:g})")
        running = value if running is None else 0.95 * running + 0.05 * value
        curve.append((step, value, lr))
        for key, term in terms.items():
            terms_log.setdefault(key, []).append(float(term))
        now = time.perf_counter()
        if step == 1 or step == schedule.steps or now - last >= schedule.log_every:
            last = now
            parts = "".join(f" {key} {float(term):.5f}" for key, term in terms.items())
            logger.info("%s step %d/%d loss %.5f (avg %.5f)%s lr %.5f %.1f steps/s", name, step, schedule.steps, value,
                        running, parts, lr, step / (now - start))
            if step < schedule.steps:
                failpoint(f"{name} step")
        if step in check_at:
            checkpoint(step)
            if validation.patience is not None and since_best >= validation.patience and step < schedule.steps:
                validation.stopped_at = step
                logger.info("%s: stopped early at step %d of %d: %d checkpoint(s) below the validation "
                            "score %.4f of step %d (validation.patience %d)", name, step, schedule.steps, since_best,
                            validation.best_score, validation.best_step, validation.patience)
                break
    logger.info("%s: %s", name, summarise_curve(curve, terms_log))
    if best_state is not None:
        model.load_state_dict(best_state)
        logger.info("%s: kept the weights of step %d (validation score %.4f; curve %s)", name, validation.best_step,
                    validation.best_score, ", ".join(f"{s}: {v:.4f}" for s, v in validation.curve))
    model.eval()
    return curve
