"""One task of the DARTS-space search: its supernet, optimiser and data (docs/reproduction.md §3.3.3–§3.3.7, §3.3.10a).

The multi-task driver owns the populations; per generation it calls :meth:`WeightSharingTask.train_epoch`
and :meth:`WeightSharingTask.evaluate` for each task in turn, and :meth:`WeightSharingTask.evaluate_full`
for the task's current best (§3.3.7). All randomness of generation ``g`` (batch order, augmentation, which
individual each mini-batch activates, dropout and drop-path draws) is seeded from ``(seed, g)``, so a run
resumed from :meth:`WeightSharingTask.save` after generation ``g`` continues exactly as if never stopped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ktnas._io import KtnasError, atomic_path
from ktnas.params import DartsParams, Runtime, SupernetSettings
from ktnas.spaces.darts import DartsSpace
from ktnas.training.data import (
    Augment,
    ImageSet,
    Splits,
    derive_seed,
    iterate_batches,
    load_splits,
)
from ktnas.training.device import amp_dtype, autocast, grad_scaler, pick_device, prepare_model, synchronize
from ktnas.training.supernet import Supernet

log = logging.getLogger(__name__)

#: draws one architecture per mini-batch from the generator it is given
ArchSampler = Callable[[np.random.Generator], str]


@dataclass(frozen=True)
class SearchConfig(SupernetSettings):
    """One task's supernet search: the :class:`~ktnas.params.SupernetSettings` of the run plus the
    settings the run derives (its cosine horizon T and the task's own seed) and two device switches."""

    generations: int = DartsParams.generations  # T: horizon of the cosine learning rate (§3.3.5)
    seed: int = 0  # give every task of a run its own seed (weights, batch order, sampling)
    channels_last: bool = True
    data_on_device: bool = True  # keep the uint8 dataset on the GPU

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.generations < 1:
            raise ValueError(f"SearchConfig.generations={self.generations} must be >= 1")


def mixed_sampler(
    parents: Sequence[str], offspring: Sequence[str] = (), p_parent: float = 0.5
) -> ArchSampler:
    """docs/reproduction.md §3.3.5 (a ktnas decision): with probability ``p_parent`` a uniform draw from ``parents`` (pass P ∪ TP),
    otherwise from ``offspring``; only ``parents`` when there are no offspring (generation 0)."""
    par, off = list(parents), list(offspring)
    if not par and not off:
        raise ValueError("mixed_sampler needs at least one parent or offspring architecture")
    if not 0.0 <= p_parent <= 1.0:
        raise ValueError(f"p_parent={p_parent} must lie in [0, 1]")

    def sample(rng: np.random.Generator) -> str:
        pool = par if (not off or (par and rng.random() < p_parent)) else off
        return pool[int(rng.integers(len(pool)))]

    return sample


def cosine_lr(base_lr: float, generation: int, horizon: int) -> float:
    """docs/reproduction.md §3.3.5: lr(g) = base/2 · (1 + cos(π (g+1) / T)), stepped before training (the authors' code)."""
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * (generation + 1) / horizon))


class WeightSharingTask:
    """Supernet, SGD optimiser and data of one task (docs/reproduction.md §3.3.3, §3.3.5–§3.3.7).

    ``data`` is a dataset name of :data:`ktnas.training.data.DATASETS` (loaded from
    ``runtime.data_root``) or ready :class:`~ktnas.training.data.Splits`. ``runtime`` also gives the
    device and the smoke-run caps (docs/reproduction.md §6). Fitness values are accuracies in percent.
    """

    def __init__(
        self,
        data: str | Splits,
        cfg: SearchConfig | None = None,
        runtime: Runtime | None = None,
        *,
        download: bool = True,
        name: str | None = None,
    ) -> None:
        self.cfg = cfg = cfg or SearchConfig()
        self.runtime = runtime = runtime or Runtime()
        self.splits = (
            load_splits(
                data, runtime.data_root, download=download, split_seed=cfg.split_seed, own=runtime.tasks
            )
            if isinstance(data, str)
            else data
        )
        self.spec = self.splits.spec
        self.name = name or self.spec.name
        self.space = DartsSpace()
        self.device = pick_device(runtime.device)
        model = Supernet(cfg.channels, self.spec.num_classes, cfg.dropout, cfg.drop_path_keep, seed=cfg.seed)
        self.model: Supernet = prepare_model(model, self.device, cfg.channels_last)  # type: ignore[assignment]
        self.model.generator = torch.Generator(device=self.device)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
        self.amp = amp_dtype(self.device, cfg.amp)
        self.scaler = grad_scaler(self.device, self.amp)
        place = self.device if cfg.data_on_device else torch.device("cpu")
        self.train_set = self.splits.search_train.to(place)
        self.val_set = self.splits.search_val.to(place)
        v = min(cfg.fitness_images, len(self.val_set))
        if v < cfg.fitness_images:
            log.warning(
                "%s: validation split has %d images < V=%d; using all", self.name, v, cfg.fitness_images
            )
        self._fitness_batches = [
            (x, y)
            for x, y in iterate_batches(
                self.val_set.subset(slice(0, v)), self.spec, cfg.val_batch_size, device=self.device,
                channels_last=cfg.channels_last,
            )
        ]  # fmt: skip
        self.generation = -1  # last generation trained
        self.last_stats: dict[str, float] = {}

    # -- training -----------------------------------------------------------------------------------------
    def lr_at(self, generation: int) -> float:
        return cosine_lr(self.cfg.lr, generation, self.cfg.generations)

    def train_epoch(self, sample: Sequence[str] | ArchSampler, generation: int) -> dict[str, float]:
        """One epoch of supernet training for ``generation`` (docs/reproduction.md §3.3.5).

        Every mini-batch activates one architecture: a uniform draw (with replacement) from ``sample``
        when it is a list, else ``sample(rng)`` (see :func:`mixed_sampler`). Returns statistics: lr,
        loss, train_acc (%), images, seconds, images_per_s.
        """
        cfg = self.cfg
        if isinstance(sample, str):
            raise ValueError("train_epoch needs a list of architectures or a sampler, not one string")
        if not callable(sample):
            archs = [self.space.canonical(a) for a in sample]
            if not archs:
                raise ValueError("train_epoch got an empty architecture list")
            sample = mixed_sampler(archs)
        rng = np.random.default_rng(derive_seed(cfg.seed, generation, 1))
        data_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, generation, 2))
        self._reseed_model(generation)
        lr = self.lr_at(generation)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.set_drop_path(generation >= cfg.drop_path_start)
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        synchronize(self.device)
        start = time.perf_counter()
        batches = iterate_batches(
            self.train_set, self.spec, cfg.batch_size, augment=Augment.search(self.spec), generator=data_gen,
            shuffle=True, max_batches=self.runtime.max_train_batches, device=self.device,
            channels_last=cfg.channels_last,
        )  # fmt: skip
        for x, y in tqdm(batches, desc=f"{self.name} gen {generation}", leave=False, disable=None):
            self.model.activate(sample(rng))
            self.optimizer.zero_grad(set_to_none=True)  # inactive ops keep grad None: SGD skips them
            with autocast(self.device, self.amp):
                out = self.model(x)
                loss = F.cross_entropy(out, y)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            loss_sum += loss.detach().float() * len(y)
            correct += (out.detach().argmax(1) == y).sum()
            seen += len(y)
        synchronize(self.device)
        seconds = time.perf_counter() - start
        self.generation = generation
        self.last_stats = {
            "generation": generation,
            "lr": lr,
            "loss": float(loss_sum) / max(seen, 1),
            "train_acc": 100.0 * float(correct) / max(seen, 1),
            "images": seen,
            "seconds": seconds,
            "images_per_s": seen / seconds if seconds > 0 else float("nan"),
        }
        log.debug("%s gen %d: %s", self.name, generation, self.last_stats)
        return dict(self.last_stats)

    def _reseed_model(self, generation: int) -> None:
        assert self.model.generator is not None
        self.model.generator.manual_seed(derive_seed(self.cfg.seed, generation, 3))
        self.model.drop.generator.manual_seed(derive_seed(self.cfg.seed, generation, 4))

    # -- evaluation ----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _accuracy(self, arch: str, batches: Any) -> float:
        self.model.eval()
        self.model.activate(arch)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        n = 0
        for x, y in batches:
            with autocast(self.device, self.amp):
                out = self.model(x)
            correct += (out.argmax(1) == y).sum()
            n += len(y)
        return 100.0 * float(correct) / max(n, 1)

    def evaluate(self, archs: Sequence[str]) -> list[float]:
        """Fitness (docs/reproduction.md §3.3.6 (a ktnas decision)): each architecture's own accuracy (%) on the fixed first V
        validation images, no augmentation, eval-mode BN."""
        return [self._accuracy(self.space.canonical(a), self._fitness_batches) for a in archs]

    def _stream(self, data: ImageSet, limit: int | None) -> Any:
        if limit is not None:
            data = data.subset(slice(0, limit))
        return iterate_batches(
            data, self.spec, self.cfg.val_batch_size, device=self.device, channels_last=self.cfg.channels_last
        )

    def evaluate_full(self, arch: str) -> float:
        """Accuracy (%) of ``arch`` on the whole search validation split (docs/reproduction.md §3.3.7)."""
        return self._accuracy(
            self.space.canonical(arch), self._stream(self.val_set, self.runtime.max_eval_images)
        )

    def evaluate_test(self, arch: str) -> float:
        """docs/reproduction.md §3.3.10 protocol (a): supernet-weights accuracy (%) on the test split, no augmentation."""
        return self._accuracy(self.space.canonical(arch), self._stream(self.splits.test, None))

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Model, optimiser and scaler state plus the last trained generation (RNG state is derived from
        (seed, generation), so nothing else is needed to resume exactly)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generation": self.generation,
            "config": asdict(self.cfg),
            "runtime": self.runtime.record(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("config") != asdict(self.cfg) or state.get("runtime") != self.runtime.record():
            raise KtnasError(
                f"{self.name}: checkpoint was written with another search config or run-time settings "
                f"({state.get('config')}, {state.get('runtime')}); "
                "delete it to restart, or rerun with the config that wrote it"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.generation = int(state["generation"])

    def save(self, path: str | Path) -> None:
        """Write :meth:`state_dict` atomically with ``torch.save``."""
        with atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)

    def load(self, path: str | Path) -> None:
        """Restore a file written by :meth:`save` (tensors only: ``weights_only=True``)."""
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except (OSError, RuntimeError) as err:
            raise KtnasError(
                f"{path}: unreadable supernet checkpoint ({err}); delete it to restart"
            ) from None
        self.load_state_dict(state)
