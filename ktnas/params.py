"""The hyper-parameter model: every search setting and its default, written once (docs/reproduction.md §1.3).

Each search-space recipe names one of these classes as its parameter model. The config schema's
method sections list exactly these fields (``tests/test_config.py`` fails when the two drift), the
config is validated against them once, at the edge, and a run records ``dataclasses.asdict`` of its
parameters. This module imports nothing heavy, so validating a config never loads pandas or torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

P = TypeVar("P", bound="LoopParams")


@dataclass(frozen=True)
class LoopParams:
    """The multi-task loop's settings, paper Table I (docs/reproduction.md §1.3, §2.5)."""

    population_size: int = 10  # K
    n_transferred: int = 4  # M
    elite_ratio: float = 0.2  # r
    saved_generations: int = 5  # m
    generations: int = 100  # T (generation 0 is the initialisation)

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population size K must be >= 2, got {self.population_size}")
        if not 0 < self.elite_ratio <= 1:
            raise ValueError(f"ranking ratio r must be in (0, 1], got {self.elite_ratio}")
        if self.n_transferred < 0:
            raise ValueError(f"transferred individuals M must be >= 0, got {self.n_transferred}")
        if self.n_transferred > self.population_size:
            raise ValueError(
                f"n_transferred: M={self.n_transferred} exceeds population_size K={self.population_size}; "
                "use M <= K"
            )
        if self.saved_generations < 1:
            raise ValueError(f"saved generations m must be >= 1, got {self.saved_generations}")
        if self.generations < 1:
            raise ValueError(f"generations T must be >= 1, got {self.generations}")

    @property
    def n_elite(self) -> int:
        """|E| = ⌊rK⌋, the elite a transferred cell's child must reach (docs/reproduction.md §2.1)."""
        return math.floor(self.elite_ratio * self.population_size)

    @classmethod
    def from_mapping(cls: type[P], params: Mapping[str, Any] | None = None) -> P:
        """Build from a config or CLI mapping; unknown keys are an error naming the allowed ones."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown search hyper-parameter(s) {unknown}; allowed: {sorted(known)}")
        return cls(**params)


@dataclass(frozen=True)
class BenchmarkParams(LoopParams):
    """One search on a tabular benchmark (NAS-Bench-201, TransNAS-Bench-101): Table I's NB201 column."""

    generations: int = 20000  # a cap: benchmark runs stop at the optimum or the budget first
    tournament_size: int = 5  # S
    n_candidates: int = 10  # mutants pre-screened per slot (NB201) or predicted per generation (Trans101)
    warmup: int = 3000  # random cells scored by the zero-cost proxy to pick P_1 (NB201)
    proxy: str = "synflow"
    max_evaluations: int = 15625  # benchmark queries allowed per task
    stop_at_optimum: bool = True
    #: the fitness landscape searched: a column name of the task (NB201: valid_acc, valid_acc_12ep,
    #: test_acc); None = the benchmark's search column (NB201: 200-epoch x-valid accuracy)
    fitness: str | None = None

    def __post_init__(self) -> None:
        for name in ("tournament_size", "n_candidates", "warmup", "max_evaluations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"search hyper-parameter {name} must be a positive integer, got {value!r}")
        if self.fitness is not None and not isinstance(self.fitness, str):
            raise ValueError(f"search hyper-parameter fitness must be a landscape name, got {self.fitness!r}")
        super().__post_init__()


@dataclass(frozen=True)
class SupernetSettings:
    """The weight-sharing supernet of one DARTS task (docs/reproduction.md §3.3.3, §3.3.5, §3.3.6); defaults are the
    authors' CIFAR configuration."""

    channels: int = 20  # C (48 for MedMNIST)
    batch_size: int = 128
    val_batch_size: int = 1000
    fitness_images: int = 2000  # V: fixed validation subset of the fitness (§3.3.6)
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    dropout: float = 0.1
    drop_path_keep: float = 0.9
    drop_path_start: int = 50  # generation from which drop path is on (25 for MedMNIST)
    split_seed: int = 0  # seeds the MNIST/Fashion-MNIST 80/20 search split and the digits split (fixed)
    amp: bool = True  # bf16/fp16 autocast on CUDA

    def __post_init__(self) -> None:
        for key in ("channels", "batch_size", "val_batch_size", "fitness_images"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)} must be >= 1")


@dataclass(frozen=True)
class DartsParams(SupernetSettings, LoopParams):
    """One weight-sharing search in the DARTS space: Table I's DARTS column (docs/reproduction.md §3.3.2–§3.3.6)."""

    population_size: int = 20  # K (40 for MedMNIST)
    generations: int = 200  # T, also the horizon of the cosine learning rate
    tournament_size: int = 2  # S (binary tournament)
    mutation_prob: float = 0.02  # p_m per gene
    parent_prob: float = 0.5  # a mini-batch trains a member of P ∪ TP with this probability, else of O
    reeval_parents: bool = True
    supernet_test: bool = True  # §3.3.10 (a): test accuracy of the best with its saved supernet weights

    def __post_init__(self) -> None:
        if not 0.0 <= self.mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob={self.mutation_prob} must lie in [0, 1]")
        if not 0.0 <= self.parent_prob <= 1.0:
            raise ValueError(f"parent_prob={self.parent_prob} must lie in [0, 1]")
        if self.tournament_size < 1:
            raise ValueError(f"tournament_size={self.tournament_size} must be >= 1")
        SupernetSettings.__post_init__(self)
        LoopParams.__post_init__(self)

    def supernet(self) -> dict[str, Any]:
        """The :class:`SupernetSettings` part, as keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(SupernetSettings)}


@dataclass(frozen=True)
class OwnTask:
    """A DARTS task of the user's own images (docs/guide/own-tasks.md): an image folder (one subfolder per
    class, optionally under ``train/``, ``val/``, ``test/``) or an ``.npz`` file (``x_train``, ``y_train``,
    optionally ``x_val``, ``y_val``, ``x_test``, ``y_test``); ``size`` resizes every image to size × size
    (needed when the images differ in size)."""

    path: str
    size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ValueError(f"an own task needs a path (an image folder or an .npz file), got {self.path!r}")
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 8
        ):
            raise ValueError(f"own task {self.path}: size {self.size!r} must be an integer >= 8, e.g. 32")

    @classmethod
    def from_mapping(cls, name: str, value: Any) -> OwnTask:
        """``{path: ..., size: ...}`` (or just the path) of task ``name``, checked."""
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, Mapping) or set(value) - {"path", "size"} or "path" not in value:
            raise ValueError(
                f"own task {name!r}: {value!r} must be a path or a mapping with 'path' and optionally 'size', "
                "e.g. {path: data/mydata.npz, size: 32}"
            )
        return cls(str(value["path"]), value.get("size"))


def own_tasks(declared: Mapping[str, Any] | None) -> dict[str, OwnTask]:
    """Declared own tasks by name (``darts.tasks`` of the config, ``--task-data`` of the CLI)."""
    out = {}
    for name, value in (declared or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_]*", str(name)):
            raise ValueError(f"own task name {name!r} must be letters, digits and '_' (e.g. mydata)")
        out[str(name)] = value if isinstance(value, OwnTask) else OwnTask.from_mapping(str(name), value)
    return out


@dataclass(frozen=True)
class Runtime:
    """Where and how a run executes, not what it searches (docs/reproduction.md §6).

    These are set on the command line (``ktnas search``, ``ktnas darts-retrain``), or for the pipeline by a
    Snakemake profile or ``--config KEY=VALUE`` (top-level config keys of the same names), never by an
    experiment config. The caps exist for smoke runs (``profiles/test``); a result records
    :meth:`record`, so a capped run is never taken for an uncapped one.
    """

    device: str | None = None  # torch device; None: CUDA when present, CPU otherwise
    data_root: str = "resources/data"  # where the DARTS-space datasets are downloaded
    max_train_batches: int | None = None  # cap on the mini-batches of a training epoch; None = all
    max_eval_images: int | None = None  # cap on a full evaluation pass (§3.3.7 validation, §3.3.9 test)
    max_proxy_cells: int | None = None  # cap on the cells a proxy job scores (``ktnas proxies --limit``)
    #: the user's own DARTS tasks by name (docs/guide/own-tasks.md); recorded, since they say what was searched
    tasks: Mapping[str, OwnTask] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("max_train_batches", "max_eval_images", "max_proxy_cells"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{key} must be a positive integer or unset, got {value!r}")

    def record(self) -> dict[str, Any]:
        """What a search or retraining result keeps of the run-time settings it reads (the data folder
        is a place, not a setting; the proxy tables record their own cap)."""
        out: dict[str, Any] = {
            "device": self.device,
            "max_train_batches": self.max_train_batches,
            "max_eval_images": self.max_eval_images,
        }
        if self.tasks:
            out["tasks"] = {n: {"path": t.path, "size": t.size} for n, t in self.tasks.items()}
        return out
