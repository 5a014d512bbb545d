"""The DARTS cell space (docs/reproduction.md §3.3; paper Tables IV–VI): one weight-sharing supernet per task,
the EMT-NAS-style GA, fitness on a fixed validation subset; the found genotypes are retrained afterwards
(``ktnas darts-retrain``). Torch is imported only when a run is set up."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np

from ktnas.params import DartsParams, LoopParams
from ktnas.recipes.base import Recipe, SearchPaths, Setup, task_seed


@dataclass(frozen=True)
class DartsGroup:
    """Tasks searched together (one table of the paper) and their default settings (§1.5, §3.3.8–§3.3.10)."""

    name: str
    tasks: tuple[str, ...]
    #: search hyper-parameters that differ from :class:`~ktnas.params.DartsParams`' defaults
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
            description="paper Table V: MNIST / Fashion-MNIST (§3.3.10: supernet (a) and retrain (b) with C=20)",
        ),
        DartsGroup(
            "medmnist",
            ("pathmnist", "organamnist", "organcmnist", "organsmnist"),
            search_defaults={"population_size": 40, "channels": 48, "drop_path_start": 25},
            retrain_defaults={
                t: {"channels": 20} for t in ("pathmnist", "organamnist", "organcmnist", "organsmnist")
            },
            description="paper Table VI: four MedMNIST tasks, K=40 and a C=48 supernet (authors' med config)",
        ),
        DartsGroup(
            "digits",
            ("digits", "digits_parity"),
            description="real images for the smoke run (CI): scikit-learn's bundled 8×8 digits at 16×16, "
            "the digit (10 classes) and its parity (2 classes), one shared split (never downloads)",
        ),
        DartsGroup(
            "synthetic",
            ("synthetic", "synthetic_b"),
            description="two generated tasks for the unit tests (never downloads)",
        ),
    )
}


def get_group(name: str) -> DartsGroup:
    try:
        return GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown DARTS task group {name!r}; choose one of {', '.join(GROUPS)}") from None


def group_of(tasks: Sequence[str]) -> DartsGroup:
    """The group whose tasks are exactly ``tasks`` (in that order); else a group named after the tasks,
    with the search defaults of the one built-in group that holds them all, if any (own tasks and mixed
    lists: the code defaults)."""
    for g in GROUPS.values():
        if tuple(tasks) == g.tasks:
            return g
    holders = [g for g in GROUPS.values() if set(tasks) <= set(g.tasks)]
    defaults = holders[0].search_defaults if holders else {}
    return DartsGroup("+".join(tasks), tuple(tasks), search_defaults=defaults)


class DartsRecipe(Recipe):
    name: ClassVar[str] = "darts"
    description: ClassVar[str] = "DARTS cells: weight-sharing multi-task search, then retraining"
    params_class: ClassVar[type[LoopParams]] = DartsParams
    default_target: ClassVar[bool] = False
    gpus: ClassVar[int] = 1
    reads_runtime: ClassVar[bool] = True

    def datasets(self, tasks: Sequence[str]) -> list[str]:
        return list(tasks)

    def task_groups(self) -> dict[str, tuple[str, ...]]:
        return {g.name: g.tasks for g in GROUPS.values()}

    def check_tasks(self, tasks: Sequence[str], declared: Collection[str] = ()) -> None:
        """Distinct names of built-in tasks or of own tasks the run declares (docs/guide/own-tasks.md)."""
        known = [*self.tasks(), *declared]
        bad = [t for t in tasks if t not in known]
        if bad or not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(
                f"unknown or repeated DARTS task(s) {bad or list(tasks)}; give distinct tasks from {known}, or "
                "declare your own under darts.tasks in the config (ktnas: --task-data; docs/guide/own-tasks.md)"
            )

    def params(self, tasks: Sequence[str], overrides: Mapping[str, Any] | None = None) -> LoopParams:
        """Defaults < the group's defaults (e.g. K=40, C=48 for MedMNIST) < ``overrides``."""
        return DartsParams.from_mapping({**group_of(tasks).search_defaults, **(overrides or {})})

    def setup(self, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Setup:
        from ktnas.spaces.darts import DartsSpace
        from ktnas.training.darts_problem import DartsProblem, WallClock
        from ktnas.training.search_task import SearchConfig, WeightSharingTask

        group_of(tasks)
        clock = WallClock()
        problems = []
        for i, task in enumerate(tasks):
            cfg = SearchConfig(**hp.supernet(), generations=hp.generations, seed=task_seed(seed, i))
            wst = WeightSharingTask(task, cfg, paths.runtime)
            problems.append(
                DartsProblem(
                    wst,
                    parent_prob=hp.parent_prob,
                    reeval_parents=hp.reeval_parents,
                    supernet_test=hp.supernet_test,
                    clock=clock,
                )
            )
        return Setup(DartsSpace(), list(problems), {"clock": clock})

    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Any:
        from ktnas.search.reproduction import GeneticAlgorithm

        mutate = partial(setup.space.mutate, p_m=hp.mutation_prob)  # type: ignore[call-arg]
        return GeneticAlgorithm(mutate, hp.tournament_size)

    def job_size(
        self,
        tasks: Sequence[str],
        params: Mapping[str, Any],
        n_seeds: int,
        task: str | None = None,
        retrain: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """The paper-scale jobs (search: C=20, batch 128, K=20, T=200; retraining: C=20, 11 cells, batch 64,
        600 epochs) ask 8 CPUs, 32 GB / 16 GB and 24 h / 48 h per seed; smaller configurations (the test
        config) proportionally less, down to 1 CPU, 2 GB and 30 min."""
        if task is None:
            hp: Any = self.params(tasks, params)
            scale = hp.channels * hp.batch_size / (20 * 128)
            work = hp.population_size * hp.generations / (20 * 200)
            cpus, mem_mb, runtime = 8, 32000, 1440
        else:
            hp = retrain_config(task, retrain)
            scale = hp.channels * hp.layers * hp.batch_size / (20 * 11 * 64)
            work = hp.epochs / 600
            cpus, mem_mb, runtime = 8, 16000, 2880
        return {
            "threads": max(1, min(cpus, round(cpus * scale))),
            "mem_mb": max(2000, min(mem_mb, round(mem_mb * scale))),
            "runtime": max(30, min(runtime * n_seeds, round(runtime * scale * work * n_seeds))),
        }

    def start(self, setup: Setup) -> None:
        setup.state["clock"].restore(0.0)  # a resumed run restores the time spent before its checkpoint

    def progress(self, setup: Setup, hp: Any, paths: SearchPaths) -> Any:
        """A log line per generation with elapsed time, ETA and each task's best fitness, and the
        per-generation metrics CSV at ``paths.metrics`` (:class:`~ktnas.training.darts_problem.SearchClock`)."""
        from ktnas.training.darts_problem import SearchClock

        return SearchClock(setup.problems, setup.state["clock"], hp.generations, paths.metrics)  # type: ignore[arg-type]

    def result_extra(self, setup: Setup, hp: Any, tasks: Sequence[str], paths: SearchPaths) -> dict[str, Any]:
        """Search cost (§3.3.5: GPU days = wall-clock seconds / 86,400, data loading excluded), device and
        the run-time settings (§6)."""
        from ktnas.training.device import device_name

        seconds = setup.state["clock"].elapsed()
        device = setup.problems[0].task.device  # type: ignore[attr-defined]
        rates = [p.throughput() for p in setup.problems]  # type: ignore[attr-defined]
        rates = [r for r in rates if np.isfinite(r)]
        return {
            "group": group_of(tasks).name,
            "embedding": None if paths.embedding is None else str(paths.embedding),
            "device": str(device),
            "device_name": device_name(device),
            "runtime": paths.runtime.record(),
            "search_seconds": seconds,
            "gpu_days": seconds / 86400.0,
            "images_per_s": float(np.mean(rates)) if rates else float("nan"),
        }


def retrain_defaults(task: str) -> dict[str, Any]:
    """The task's retraining defaults (C=48/42 on CIFAR, 20 on 28×28 data)."""
    out: dict[str, Any] = {}
    for grp in GROUPS.values():
        out.update(grp.retrain_defaults.get(task, {}))
    return out


def retrain_params(task: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Retraining settings of ``task``: its defaults (C=48/42 on CIFAR, 20 on 28×28 data) < ``params``;
    what ``ktnas darts-retrain`` hands :func:`ktnas.training.stages.run_darts_retrain`."""
    return {**retrain_defaults(task), **(params or {})}


def retrain_config(task: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """RetrainConfig defaults < the task's defaults < ``params``; ``seed`` applies unless ``params``
    sets one."""
    from ktnas.training import stages

    return stages.retrain_config(retrain_params(task, params), seed)
