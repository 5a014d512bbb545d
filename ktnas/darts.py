"""DARTS-space experiments (spec §5; paper Tables IV–VI): weight-sharing multi-task search and retraining.

:func:`run_darts_search` runs one seeded search of one method over a task group, with one supernet per task
(:class:`~ktnas.search.darts_problem.DartsProblem`), the GA of spec §5.2 and the method's transfer policy.
:func:`run_darts_retrain` trains a found genotype from scratch (spec §5.9; §5.10 protocol (b)). The CLI
(``ktnas darts-search`` / ``ktnas darts-retrain``) and Snakemake (``workflow/rules/darts.smk``) call them.

Torch is imported inside the functions, so the registries here (:data:`GROUPS`, :data:`DARTS_METHODS`) are
cheap to import from the config and the Snakefile.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ktnas import __version__
from ktnas._io import KtnasError, git_sha
from ktnas.experiments import get_method
from ktnas.search.multitask import MultiTaskConfig

log = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = Path("resources/data")

#: the DARTS-space rows of paper Tables IV–VI (single-tasking baseline, EMT-NAS, KTNAS w/o rank, KTNAS)
DARTS_METHODS: tuple[str, ...] = ("single", "emtnas", "ktnas_random", "ktnas")


@dataclass(frozen=True)
class DartsGroup:
    """Tasks searched together (one table of the paper) and their default settings (spec §1.5, §5.8–§5.10)."""

    name: str
    tasks: tuple[str, ...]
    #: search hyper-parameters that differ from :class:`DartsSearchParams`' defaults for this group
    search_defaults: Mapping[str, Any] = field(default_factory=dict)
    #: retraining settings per task that differ from :class:`~ktnas.training.retrain.RetrainConfig`'s
    retrain_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""


GROUPS: dict[str, DartsGroup] = {
    g.name: g
    for g in (
        DartsGroup(
            "cifar",
            ("cifar10", "cifar100"),
            retrain_defaults={"cifar10": {"channels": 48}, "cifar100": {"channels": 42}},
            description="paper Table IV: CIFAR-10/100, retrained 600 epochs (C=48 / 42)",
        ),
        DartsGroup(
            "mnist",
            ("mnist", "fashion_mnist"),
            retrain_defaults={t: {"channels": 20} for t in ("mnist", "fashion_mnist")},
            description="paper Table V: MNIST / Fashion-MNIST (§5.10: supernet (a) and retrain (b) with C=20)",
        ),
        DartsGroup(
            "medmnist",
            ("pathmnist", "organamnist", "organcmnist", "organsmnist"),
            search_defaults={"population_size": 40, "channels": 48, "drop_path_start": 25},
            retrain_defaults={
                t: {"channels": 20} for t in ("pathmnist", "organamnist", "organcmnist", "organsmnist")
            },
            description="paper Table VI: four MedMNIST tasks, K=40 and a C=48 supernet (med/config)",
        ),
        DartsGroup(
            "synthetic",
            ("synthetic", "synthetic_b"),
            description="two generated tasks for tests and CI (never downloads)",
        ),
    )
}


def get_group(name: str) -> DartsGroup:
    try:
        return GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown DARTS task group {name!r}; choose one of {', '.join(GROUPS)}") from None


@dataclass(frozen=True)
class DartsSearchParams:
    """Hyper-parameters of one DARTS-space search: paper Table I (DARTS column), spec §1.5 [DECISION]
    defaults and the supernet settings of :class:`~ktnas.training.search_task.SearchConfig`."""

    # evolution (paper Table I; spec §5.2, §5.4)
    population_size: int = 20  # K (40 for MedMNIST)
    n_transferred: int = 4  # M
    elite_ratio: float = 0.2  # r
    saved_generations: int = 5  # m
    generations: int = 200  # T, also the horizon of the cosine learning rate
    tournament_size: int = 2  # S
    mutation_prob: float = 0.02  # p_m per gene
    # weight-sharing schedule and fitness (spec §5.5-§5.6 [DECISION]s)
    parent_prob: float = 0.5  # a mini-batch activates a member of P ∪ TP with this probability, else of O
    reeval_parents: bool = True
    supernet_test: bool = True  # §5.10 (a): test accuracy of the best with its saved supernet weights
    # supernet (spec §5.3, §5.5)
    channels: int = 20  # C (48 for MedMNIST)
    batch_size: int = 128
    val_batch_size: int = 1000
    fitness_images: int = 2000  # V
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    dropout: float = 0.1
    drop_path_keep: float = 0.9
    drop_path_start: int = 50  # 25 for MedMNIST
    max_batches_per_epoch: int | None = None  # smoke runs only
    max_full_val_images: int | None = None  # smoke runs only
    split_seed: int = 0
    device: str | None = None  # None: CUDA when present, CPU otherwise
    amp: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob={self.mutation_prob} must lie in [0, 1]")
        if self.tournament_size < 1:
            raise ValueError(f"tournament_size={self.tournament_size} must be >= 1")
        self.multitask()  # validates K, M, r, m, T

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> DartsSearchParams:
        return cls(**_known(cls, params, "DARTS search"))

    def multitask(self) -> MultiTaskConfig:
        return MultiTaskConfig.from_params(self)

    def search_config(self, seed: int) -> Any:
        """The :class:`~ktnas.training.search_task.SearchConfig` of one task (its own ``seed``)."""
        from ktnas.training.search_task import SearchConfig

        keys = {f.name for f in fields(SearchConfig)} & {f.name for f in fields(self)}
        return SearchConfig(**{k: getattr(self, k) for k in keys}, seed=seed)


def _known(cls: type, params: Mapping[str, Any], what: str) -> dict[str, Any]:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown {what} hyper-parameter(s) {unknown}; allowed: {sorted(known)}")
    return dict(params)


def search_params(group: str, params: Mapping[str, Any] | None = None) -> DartsSearchParams:
    """Defaults < the group's defaults (e.g. K=40, C=48 for MedMNIST) < ``params``."""
    return DartsSearchParams.from_mapping({**get_group(group).search_defaults, **(params or {})})


def task_seed(seed: int, index: int) -> int:
    """Seed of task ``index`` in a run with ``seed``: every supernet gets its own weights and batches."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def darts_distance(embedding_path: str | Path | None) -> Any:
    """dist(a, b) = 1 − cos of the DARTS embedding table at ``embedding_path`` (spec §4.3); genotypes not in
    the table are embedded on demand by its stored encoder (a token lookup)."""
    from ktnas.embedding import EmbeddingTable

    hint = "build it with `ktnas embed --space darts --out results/embeddings/darts.parquet` and pass --embedding"
    if embedding_path is None:
        raise ValueError(f"method 'ktnas' needs a DARTS embedding table; {hint}")
    if not Path(embedding_path).exists():
        raise KtnasError(f"{embedding_path}: DARTS embedding table not found; {hint}")
    table = EmbeddingTable.load(embedding_path, "darts")
    return table.distances


def device_name(device: Any) -> str:
    """The accelerator's name (CUDA) or the CPU's, for the search-cost record."""
    import torch

    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def prepare_dataset(
    task: str, data_root: str | Path = DEFAULT_DATA_ROOT, download: bool = True
) -> dict[str, Any]:
    """Download ``task``'s dataset into ``data_root`` once (before any GPU job) and describe its splits
    (spec §5.8); the searches and retrainings then read the files without downloading."""
    from ktnas.training.data import load_splits

    splits = load_splits(task, data_root, download=download)
    return {
        "task": task,
        "data_root": str(data_root),
        "num_classes": splits.spec.num_classes,
        "image_shape": list(splits.train.images.shape[1:]),
        "sizes": {
            "search_train": len(splits.search_train),
            "search_val": len(splits.search_val),
            "train": len(splits.train),
            "test": len(splits.test),
        },
        "description": splits.spec.description,
    }


def run_darts_search(
    group: str,
    method: str,
    seed: int,
    params: Mapping[str, Any] | None = None,
    data_root: str | Path = DEFAULT_DATA_ROOT,
    checkpoint_path: str | Path | None = None,
    progress: bool = True,
    embedding_path: str | Path | None = None,
    download: bool = True,
) -> dict[str, Any]:
    """One seeded weight-sharing search of ``method`` over the tasks of ``group`` (spec §3.4, §5.3–§5.7).

    Resumes from ``checkpoint_path`` (JSON state + ``.d/`` folder of supernet weights) when it exists;
    the checkpoint is left in place (delete it with ``Checkpointer(path, {}).clear()`` once the result
    is written). ``gpu_days`` = wall-clock seconds of the search (data loading excluded) / 86,400 (§5.5).
    """
    from ktnas.search.checkpoint import Checkpointer
    from ktnas.search.darts_problem import DartsProblem, WallClock
    from ktnas.search.multitask import MultiTaskSearch, make_policy
    from ktnas.search.reproduction import GeneticAlgorithm
    from ktnas.spaces.darts import DartsSpace
    from ktnas.training.search_task import WeightSharingTask

    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if method not in DARTS_METHODS:
        raise ValueError(f"unknown DARTS-space method {method!r}; choose one of {', '.join(DARTS_METHODS)}")
    spec = get_method(method)
    grp = get_group(group)
    hp = search_params(group, params)
    distance = darts_distance(embedding_path) if spec.policy == "rank" else None
    clock = WallClock()
    problems = []
    for i, task in enumerate(grp.tasks):
        wst = WeightSharingTask(task, hp.search_config(task_seed(seed, i)), root=data_root, download=download)
        problems.append(
            DartsProblem(
                wst,
                parent_prob=hp.parent_prob,
                reeval_parents=hp.reeval_parents,
                supernet_test=hp.supernet_test,
                clock=clock,
            )
        )
    fingerprint = {"space": "darts", "group": group, "method": method, "seed": seed, "params": asdict(hp)}
    space = DartsSpace()
    search = MultiTaskSearch(
        space,
        problems,
        GeneticAlgorithm(partial(space.mutate, p_m=hp.mutation_prob), hp.tournament_size),
        make_policy(spec.policy or "none", len(problems), distance),
        hp.multitask(),
        np.random.default_rng(seed),
        Checkpointer(checkpoint_path, fingerprint),
        progress=progress,
    )
    clock.restore(0.0)  # a resumed run restores the time spent before its checkpoint instead
    summaries = search.run()
    seconds = clock.elapsed()
    device = problems[0].task.device
    rates = [s["images_per_s"] for s in summaries if np.isfinite(s["images_per_s"])]
    log.info(
        "darts search %s/%s seed %d: %.1f s (%.4f GPU days)", group, method, seed, seconds, seconds / 86400
    )
    return {
        "space": "darts",
        "group": group,
        "method": method,
        "seed": seed,
        "params": asdict(hp),
        "embedding": None if distance is None else str(embedding_path),
        "device": str(device),
        "device_name": device_name(device),
        "search_seconds": seconds,
        "gpu_days": seconds / 86400.0,
        "images_per_s": float(np.mean(rates)) if rates else float("nan"),
        "ktnas_version": __version__,
        "git_sha": git_sha(),
        "tasks": summaries,
    }


def retrain_config(task: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """RetrainConfig defaults < the task's defaults (C=48/42 on CIFAR, 20 on 28×28 data) < ``params``;
    ``seed`` applies unless ``params`` sets one."""
    from ktnas.training.retrain import RetrainConfig

    defaults: dict[str, Any] = {"seed": seed}
    for grp in GROUPS.values():
        defaults.update(grp.retrain_defaults.get(task, {}))
    return RetrainConfig(**{**defaults, **_known(RetrainConfig, params or {}, "DARTS retraining")})


def run_darts_retrain(
    search: Mapping[str, Any] | str | Path,
    task: str,
    params: Mapping[str, Any] | None = None,
    data_root: str | Path = DEFAULT_DATA_ROOT,
    checkpoint_path: str | Path | None = None,
    download: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Retrain the genotype a search found for ``task`` from scratch (spec §5.9; §5.10 (b) on 28×28 data).

    ``search`` is a :func:`run_darts_search` result or its JSON file. The retraining seed defaults to the
    search's seed (five independent runs, each seeded end to end). The result carries the search's cost
    and, where measured, the §5.10 (a) supernet test accuracy, so tables need only retraining results.
    """
    from ktnas.training.device import pick_device
    from ktnas.training.retrain import retrain

    if not isinstance(search, Mapping):
        try:
            search = json.loads(Path(search).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise KtnasError(
                f"{search}: unreadable DARTS search result ({err}); rerun its search job"
            ) from None
    assert isinstance(search, Mapping)
    found = {t["task"]: t for t in search["tasks"]}
    if task not in found:
        raise ValueError(f"task {task!r} is not in the search result (tasks: {', '.join(found)})")
    summary = found[task]
    arch = summary["best_arch"]
    cfg = retrain_config(task, params, int(search["seed"]))
    result = retrain(
        arch, task, cfg, checkpoint=checkpoint_path, root=data_root, download=download, stop_after=stop_after
    )
    out: dict[str, Any] = {
        "space": "darts",
        "protocol": "retrain",
        "group": search["group"],
        "method": search["method"],
        "seed": search["seed"],
        "task": task,
        "search_gpu_days": search["gpu_days"],
        "search_device_name": search.get("device_name"),
        "best_val_acc": summary.get("best_val_acc"),
        "supernet_test_acc": summary.get("supernet_test_acc"),
        "retrain_params": asdict(cfg),
        "device_name": device_name(pick_device(cfg.device)),
        "retrain_seconds": float(sum(h["seconds"] for h in result["history"])),
        "ktnas_version": __version__,
        "git_sha": git_sha(),
    }
    out.update(result)
    return out
