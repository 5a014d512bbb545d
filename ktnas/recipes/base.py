"""The recipe protocol: what a search space must say so that one runner and one CLI search it.

A recipe builds the per-task problems, the reproduction operator, the architecture distance, names its
hyper-parameter class and its task groups, and prices a search job. Which runs a config asks for is the
plan's business (:mod:`ktnas.plan`); how a space's tables are built and shown is the report's
(:mod:`ktnas.report.spaces`). Recipes import their heavy dependencies (pandas, torch) inside methods, so
the registry is cheap to import.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas._io import file_key
from ktnas.params import BenchmarkParams, LoopParams, Runtime

if TYPE_CHECKING:
    import pandas as pd

    from ktnas.embedding import EmbeddingTable
    from ktnas.methods import Method
    from ktnas.search.multitask import Progress, Reproduction
    from ktnas.search.problem import Problem
    from ktnas.search.transfer import DistanceFn
    from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class SearchPaths:
    """Where a run reads its inputs and keeps its checkpoint (None = the bundled or default file), and the
    run-time settings it executes with (device, data folder, smoke-run caps; docs/reproduction.md §6)."""

    benchmark: str | Path | None = None
    embedding: str | Path | None = None
    proxies: str | Path | None = None
    checkpoint: str | Path | None = None
    runtime: Runtime = field(default_factory=Runtime)
    #: where a space that logs progress writes its per-generation metrics CSV (DARTS); None: nowhere
    metrics: str | Path | None = None


@dataclass
class Setup:
    """One run's space and problems, plus whatever the recipe keeps for :meth:`Recipe.result_extra`."""

    space: SearchSpace
    problems: list[Problem]
    state: dict[str, Any] = field(default_factory=dict)


class Recipe(ABC):
    """One search space as the runner, the plan and the CLI see it: its search hooks."""

    name: ClassVar[str]
    description: ClassVar[str]
    params_class: ClassVar[type[LoopParams]]
    #: problems count benchmark queries, so single-task baselines (rs, rea, ...) can run here
    tabular: ClassVar[bool] = False
    #: built by the pipeline's default target (False: only by its own target, e.g. ``darts``)
    default_target: ClassVar[bool] = True
    #: GPUs a search or retraining job asks the scheduler for
    gpus: ClassVar[int] = 0
    #: its runs read the run-time settings (docs/reproduction.md §6), so results record them and the
    #: pipeline passes them to its jobs; a tabular space reads none
    reads_runtime: ClassVar[bool] = False

    # -- tasks and parameters ---------------------------------------------------------------------------
    @abstractmethod
    def task_groups(self) -> dict[str, tuple[str, ...]]:
        """Tasks searched together (one table each), by group name."""

    def tasks(self) -> list[str]:
        """Every task of the space, in group order."""
        return list(dict.fromkeys(t for g in self.task_groups().values() for t in g))

    def check_tasks(self, tasks: Sequence[str], declared: Collection[str] = ()) -> None:
        """Distinct known tasks; ``declared``: the run's own tasks, where the space takes them (DARTS)."""
        known = self.tasks()
        bad = [t for t in tasks if t not in known]
        if bad or not tasks or len(set(tasks)) != len(tasks):
            raise ValueError(
                f"unknown or repeated task(s) {bad or list(tasks)} for space {self.name}; "
                f"give distinct tasks from {known}"
            )

    def params(self, tasks: Sequence[str], overrides: Mapping[str, Any] | None = None) -> LoopParams:
        """The run's hyper-parameters: the class defaults < ``overrides``."""
        return self.params_class.from_mapping(overrides)

    def check_params(self, key: str, method: str, tasks: Sequence[str], params: Mapping[str, Any]) -> None:
        """The method exists and the parameter model accepts ``params`` (e.g. M <= K); the error names
        the config ``key``."""
        from ktnas.methods import get_method

        get_method(method)
        try:
            self.params(tasks, params)
        except ValueError as err:
            raise ValueError(f"config key {key}: {err}") from None

    # -- one run -----------------------------------------------------------------------------------------
    @abstractmethod
    def setup(self, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Setup:
        """The space and one problem per task."""

    @abstractmethod
    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Reproduction:
        """The space's offspring operator (Table I's "EvoNAS method" column)."""

    def distance(self, paths: SearchPaths) -> DistanceFn:
        """dist(a, b) = 1 − cos in the space's architecture embedding (docs/reproduction.md §2.6); the table is
        read once per process while its file is unchanged."""
        if paths.embedding is None:
            raise ValueError(
                f"transfer rank needs an embedding table of {self.name}: build it with "
                f"`ktnas embed --space {self.name} --out results/embeddings/{self.name}.parquet` "
                "and pass --embedding"
            )
        key = file_key(paths.embedding)
        if key is None:
            raise ValueError(f"{paths.embedding}: embedding table not found; build it with `ktnas embed`")
        return _embedding_table(key, self.name).distances

    def proxy_scores(self, paths: SearchPaths, task: str, proxy: str) -> dict[str, float]:
        """arch -> zero-cost proxy score on ``task``; spaces without a proxy table refuse."""
        raise ValueError(f"space {self.name} has no zero-cost proxy table; method 'zero' runs on nb201 only")

    def reads_proxies(self, method: Method) -> bool:
        """Whether a run of ``method`` reads the zero-cost proxy table."""
        return False

    def datasets(self, tasks: Sequence[str]) -> list[str]:
        """Datasets to download before a search (``ktnas darts-data``); none for tabular spaces."""
        return []

    def job_size(
        self,
        tasks: Sequence[str],
        params: Mapping[str, Any],
        n_seeds: int,
        task: str | None = None,
        retrain: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """CPUs (``threads``), ``mem_mb`` and ``runtime`` (minutes) a search job of ``n_seeds`` seeds on
        ``tasks`` with ``params`` asks a cluster for (``task``: a retraining job of that task with the
        settings ``retrain`` instead). The cost model of a search is the space's; the plan
        (:func:`ktnas.plan.job_size`) asks it for every job of a run."""
        return {"threads": 1, "mem_mb": 2000, "runtime": max(30, 2 * n_seeds)}

    def start(self, setup: Setup) -> None:
        """Called right before the search runs (DARTS starts its wall clock here)."""
        return None

    def progress(self, setup: Setup, hp: Any, paths: SearchPaths) -> Progress | None:
        """A hook the multi-task loop calls after every generation; None (the default): none."""
        return None

    def result_extra(self, setup: Setup, hp: Any, tasks: Sequence[str], paths: SearchPaths) -> dict[str, Any]:
        """Run-level result fields beyond the common ones."""
        return {}


class TabularRecipe(Recipe):
    """A space with a tabular benchmark: queries are counted by an :class:`~ktnas.evaluator.Evaluator`."""

    params_class: ClassVar[type[LoopParams]] = BenchmarkParams
    tabular: ClassVar[bool] = True
    #: the fitness landscapes its tasks can be searched on (``fitness``; the benchmark's ``TaskSpec.on``)
    landscapes: ClassVar[tuple[str, ...]] = ()

    def benchmark(self, paths: SearchPaths) -> Any:
        from ktnas.benchmarks import load_benchmark

        return load_benchmark(self.name, paths.benchmark)

    def check_params(self, key: str, method: str, tasks: Sequence[str], params: Mapping[str, Any]) -> None:
        """As :meth:`Recipe.check_params`, and a ``fitness`` landscape must be one of the space's."""
        super().check_params(key, method, tasks, params)
        fitness = params.get("fitness")
        if fitness is not None and fitness not in self.landscapes:
            known = ", ".join(self.landscapes) or "none besides its search column"
            raise ValueError(
                f"config key {key}: fitness {fitness!r} is not a landscape of {self.name}; its landscapes: {known}"
            )

    def task_groups(self) -> dict[str, tuple[str, ...]]:
        from ktnas.benchmarks import tasks_of

        return {self.name: tasks_of(self.name)}

    def setup(self, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Setup:
        from ktnas.evaluator import BenchmarkProblem

        bench = self.benchmark(paths)
        self.check_tasks(tasks)
        view = _benchmark_view(self.name, bench)
        missing = [t for t in tasks if t not in view.specs]
        if missing:
            raise ValueError(f"benchmark table {bench.source} has no column for task(s) {missing}")
        problems: list[Problem] = [
            BenchmarkProblem(view.evaluator(t, hp.fitness).fresh(), hp.max_evaluations, hp.stop_at_optimum)
            for t in tasks
        ]
        return Setup(view.space, problems)

    @abstractmethod
    def build_benchmark(self, source: str) -> pd.DataFrame | None:
        """The benchmark table from ``source`` (a folder or an official file); None for 'bundled'."""

    @abstractmethod
    def write_benchmark(self, df: pd.DataFrame, out: str | Path) -> None: ...


@lru_cache(maxsize=4)
def _embedding_table(key: tuple[str, int, int], space: str) -> EmbeddingTable:
    """An embedding table by :func:`~ktnas._io.file_key`: the seeds of one job share it."""
    from ktnas.embedding import EmbeddingTable

    return EmbeddingTable.load(key[0], space)


class _BenchmarkView:
    """What the searches of one benchmark share within a process: the searched space (with its own
    caches) and one evaluator per task, whose fresh copies each run queries."""

    def __init__(self, space_name: str, bench: Any) -> None:
        self.bench = bench
        self.space = searchable_space(space_name, bench)
        self.specs = {t.name: t for t in bench.tasks()}
        self._evaluators: dict[tuple[str, str | None], Any] = {}

    def evaluator(self, task: str, landscape: str | None = None) -> Any:
        """The task's evaluator on ``landscape`` (None: its search column)."""
        from ktnas.evaluator import Evaluator

        key = (task, landscape)
        if key not in self._evaluators:
            spec = self.specs[task].on(landscape)
            self._evaluators[key] = Evaluator(self.bench, spec, self.space.all_archs())
        return self._evaluators[key]


_VIEWS: dict[int, _BenchmarkView] = {}


def _benchmark_view(space_name: str, bench: Any) -> _BenchmarkView:
    """The view of a loaded benchmark (benchmarks are loaded once per process)."""
    view = _VIEWS.get(id(bench))
    if view is None or view.bench is not bench:
        view = _VIEWS[id(bench)] = _BenchmarkView(space_name, bench)
    return view


def searchable_space(space_name: str, bench: Any) -> SearchSpace:
    """The space a benchmark search explores: the whole space, or only the benchmark's cells when the
    bundled table covers part of it (TransNAS-Bench-101: 711 of 4,096)."""
    from ktnas.spaces import get_space

    space = get_space(space_name)
    size = space.size()
    if size is not None and len(bench.table) < size:
        from ktnas.spaces.restricted import RestrictedSpace

        return RestrictedSpace(space, sorted(bench.table.index))
    return space


def task_seed(seed: int, index: int) -> int:
    """Seed of task ``index`` in a run with ``seed``: every task gets its own stream."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
