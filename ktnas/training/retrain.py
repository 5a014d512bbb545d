"""Retraining a found genotype from scratch (docs/reproduction.md §3.3.9; §3.3.10 protocol (b) for 28×28 data).

:func:`retrain` checkpoints after every epoch (atomically) and resumes from its checkpoint: the
randomness of epoch ``e`` is seeded from ``(seed, e)``, so an interrupted and resumed run reproduces
the uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ktnas._fingerprint import code_record, mismatch, set_aside
from ktnas._io import KtnasError, atomic_path
from ktnas.params import Runtime
from ktnas.spaces.darts import DartsSpace
from ktnas.training.data import Augment, Splits, derive_seed, iterate_batches, load_splits
from ktnas.training.device import amp_dtype, autocast, grad_scaler, pick_device, prepare_model, synchronize
from ktnas.training.network import EvalNetwork, count_params
from ktnas.training.progress import duration, eta_seconds, write_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainConfig:
    """Retraining settings; defaults are the official CIFAR-10 command (docs/reproduction.md §3.3.9; C=42 for CIFAR-100)."""

    epochs: int = 600
    channels: int = 48
    layers: int = 11
    auxiliary: bool = True
    aux_weight: float = 0.4
    batch_size: int = 64
    eval_batch_size: int = 500
    lr: float = 0.025
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    drop_path: float = 0.3  # final drop-path probability of the linear ramp from 0
    cutout: int = 16
    seed: int = 0  # weights, batch order, augmentation, drop path (the authors' code uses 0)
    split_seed: int = 0  # seeds the MNIST/Fashion-MNIST 80/20 split and the digits split (fixed by default)
    amp: bool = True
    channels_last: bool = True
    data_on_device: bool = True

    def __post_init__(self) -> None:
        for key in ("epochs", "channels", "layers", "batch_size", "eval_batch_size"):
            if getattr(self, key) < 1:
                raise ValueError(f"RetrainConfig.{key}={getattr(self, key)} must be >= 1")
        if self.layers < 3:
            raise ValueError(f"RetrainConfig.layers={self.layers} must be >= 3 (two reduction cells)")


def epoch_lr(cfg: RetrainConfig, epoch: int) -> float:
    """Cosine annealing over ``cfg.epochs``, stepped before each epoch as in the authors' code:
    lr(e) = lr0/2 · (1 + cos(π (e+1) / E))."""
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * (epoch + 1) / cfg.epochs))


def build_network(arch: str, num_classes: int, cfg: RetrainConfig) -> EvalNetwork:
    """The §3.3.9 network for ``arch`` with weights drawn from a private RNG seeded with ``cfg.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return EvalNetwork(arch, cfg.channels, num_classes, layers=cfg.layers, auxiliary=cfg.auxiliary)


def retrain(
    arch: str,
    data: str | Splits,
    cfg: RetrainConfig | None = None,
    runtime: Runtime | None = None,
    *,
    checkpoint: str | Path | None = None,
    download: bool = True,
    stop_after: int | None = None,
    metrics: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``arch`` from scratch on the dataset's train split and test after every epoch (§3.3.9).

    ``runtime``: the data folder, the device and the smoke-run caps (docs/reproduction.md §6).
    ``checkpoint``: file written after each epoch and resumed from if present (it must come from the
    same architecture, config and run-time settings). ``stop_after``: return after that many epochs in
    total (for time-limited jobs; rerun to continue). ``metrics``: a CSV of the history rewritten after
    every epoch (:mod:`ktnas.training.progress`); every epoch also logs its elapsed time and ETA. Returns ``test_acc`` (final epoch, %), ``best_test_acc`` and ``best_epoch``,
    ``params_m`` (auxiliary head excluded), ``epochs_done``, ``finished``, ``history`` (per-epoch dicts)
    and ``images_per_s``.
    """
    cfg = cfg or RetrainConfig()
    runtime = runtime or Runtime()
    arch = DartsSpace().canonical(arch)
    splits = (
        load_splits(data, runtime.data_root, download=download, split_seed=cfg.split_seed, own=runtime.tasks)
        if isinstance(data, str)
        else data
    )
    spec = splits.spec
    device = pick_device(runtime.device)
    model: EvalNetwork = prepare_model(build_network(arch, spec.num_classes, cfg), device, cfg.channels_last)  # type: ignore[assignment]
    model.generator = torch.Generator(device=device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    dtype = amp_dtype(device, cfg.amp)
    scaler = grad_scaler(device, dtype)
    fingerprint = {
        "arch": arch,
        "dataset": spec.name,
        "config": asdict(cfg),
        "runtime": runtime.record(),
        **code_record(),
    }
    history: list[dict[str, float]] = []
    start = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    state: dict[str, Any] | None = None
    if ckpt is not None and ckpt.exists():
        try:
            state = torch.load(ckpt, map_location=device, weights_only=True)
        except (OSError, RuntimeError) as err:
            raise KtnasError(
                f"{ckpt}: unreadable retraining checkpoint ({err}); delete it to restart"
            ) from None
        if state.get("fingerprint") != fingerprint:
            set_aside(ckpt, mismatch(state.get("fingerprint") or {}, fingerprint))
            state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        history = list(state["history"])
        start = int(state["epoch"]) + 1
        log.info("resuming retraining of %s from %s after epoch %d", spec.name, ckpt, start - 1)

    place = device if cfg.data_on_device else torch.device("cpu")
    train_set = splits.train.to(place)
    test_set = (
        splits.test
        if runtime.max_eval_images is None
        else splits.test.subset(slice(0, runtime.max_eval_images))
    )
    test_set = test_set.to(place)
    augment = Augment(pad=spec.pad, hflip=spec.hflip, cutout=cfg.cutout)
    end = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    for epoch in range(start, end):
        lr = epoch_lr(cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.drop_path_prob = cfg.drop_path * epoch / cfg.epochs
        model.generator.manual_seed(derive_seed(cfg.seed, epoch, 3))
        data_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, epoch, 2))
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        synchronize(device)
        t0 = time.perf_counter()
        elapsed_before = history[-1]["elapsed_s"] if history else 0.0
        batches = iterate_batches(
            train_set, spec, cfg.batch_size, augment=augment, generator=data_gen, shuffle=True,
            max_batches=runtime.max_train_batches, device=device, channels_last=cfg.channels_last,
        )  # fmt: skip
        for x, y in tqdm(batches, desc=f"retrain {spec.name} epoch {epoch}", leave=False, disable=None):
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, dtype):
                logits, aux = model(x)
                loss = F.cross_entropy(logits, y)
                if aux is not None:
                    loss = loss + cfg.aux_weight * F.cross_entropy(aux, y)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach().float() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += len(y)
        synchronize(device)
        seconds = time.perf_counter() - t0
        test_acc = _test(model, test_set, spec, cfg, device, dtype)
        history.append(
            {
                "epoch": epoch,
                "lr": lr,
                "drop_path": model.drop_path_prob,
                "train_loss": float(loss_sum) / max(seen, 1),
                "train_acc": 100.0 * float(correct) / max(seen, 1),
                "test_acc": test_acc,
                "seconds": seconds,
                "images_per_s": seen / seconds if seconds > 0 else float("nan"),
            }
        )
        elapsed = elapsed_before + time.perf_counter() - t0  # training and test, carried across a resume
        history[-1]["elapsed_s"] = elapsed
        history[-1]["eta_s"] = eta_seconds(elapsed, epoch + 1, cfg.epochs)
        h = history[-1]
        log.info(
            "retrain %s epoch %d/%d: loss %.3f, train %.2f%%, test %.2f%%, %.0f img/s, elapsed %s, ETA %s",
            spec.name, epoch + 1, cfg.epochs, h["train_loss"], h["train_acc"], test_acc, h["images_per_s"],
            duration(elapsed), duration(h["eta_s"]),
        )  # fmt: skip
        if metrics is not None:
            write_metrics(metrics, history)
        if ckpt is not None:
            state = {
                "fingerprint": fingerprint,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "history": history,
            }
            with atomic_path(ckpt) as tmp:
                torch.save(state, tmp)
    best = max(history, key=lambda h: h["test_acc"]) if history else None
    return {
        "arch": arch,
        "dataset": spec.name,
        "test_acc": history[-1]["test_acc"] if history else float("nan"),
        "best_test_acc": best["test_acc"] if best else float("nan"),
        "best_epoch": int(best["epoch"]) if best else -1,
        "params_m": count_params(model) / 1e6,
        "epochs": cfg.epochs,
        "epochs_done": len(history),
        "finished": len(history) == cfg.epochs,
        "images_per_s": float(np.mean([h["images_per_s"] for h in history])) if history else float("nan"),
        "history": history,
    }


@torch.inference_mode()
def _test(
    model: EvalNetwork,
    data: Any,
    spec: Any,
    cfg: RetrainConfig,
    device: torch.device,
    dtype: torch.dtype | None,
) -> float:
    model.eval()
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for x, y in iterate_batches(
        data, spec, cfg.eval_batch_size, device=device, channels_last=cfg.channels_last
    ):
        with autocast(device, dtype):
            logits, _ = model(x)
        correct += (logits.argmax(1) == y).sum()
        n += len(y)
    return 100.0 * float(correct) / max(n, 1)
