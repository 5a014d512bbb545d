"""The evaluator: the only way a search sees benchmark metrics (docs/reproduction.md §3.1, decision 2).

One evaluation is the first query of a (task, architecture) pair; cached re-queries are free. The
evaluator also knows the task's optimum so that a run can report "evaluations until the best
architecture was first queried" without the search ever seeing it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ktnas.search.problem import Problem

if TYPE_CHECKING:
    from ktnas.benchmarks import Benchmark, TaskSpec


class Evaluator:
    """Per-task oracle over a tabular benchmark that counts unique queries."""

    def __init__(self, benchmark: Benchmark, task: TaskSpec, archs: Iterable[str] | None = None) -> None:
        table = benchmark.table
        if archs is not None:
            table = table.loc[list(archs)]
        fitness = task.fitness(table[task.fitness_column].to_numpy())
        self.task = task
        self._fitness: dict[str, float] = dict(zip(table.index, fitness.tolist(), strict=True))
        # every architecture attaining the optimum counts as found (ties are rare but possible)
        best = np.nanmax(fitness)
        self.optima: frozenset[str] = frozenset(table.index[fitness == best])
        self.best_fitness = float(best)
        self.queried: list[str] = []
        self._seen: set[str] = set()
        self.found_at: int | None = None

    def fresh(self) -> Evaluator:
        """A new evaluator of the same task and cells with nothing queried yet; the per-task table is
        shared, read only (the seeds of one job build it once)."""
        new = copy.copy(self)
        new.queried, new._seen, new.found_at = [], set(), None
        return new

    def __contains__(self, arch: str) -> bool:
        return arch in self._fitness

    def query(self, arch: str) -> float:
        """Fitness (higher is better) of ``arch``; the first query of an architecture costs one."""
        try:
            value = self._fitness[arch]
        except KeyError:
            raise ValueError(
                f"{arch!r} is not in the {self.task.space} benchmark for task {self.task.name}"
            ) from None
        if arch not in self._seen:
            self._seen.add(arch)
            self.queried.append(arch)
            if self.found_at is None and arch in self.optima:
                self.found_at = len(self.queried)
        return value

    def seen(self, arch: str) -> bool:
        return arch in self._seen

    @property
    def n_queries(self) -> int:
        return len(self.queried)

    @property
    def found(self) -> bool:
        return self.found_at is not None

    def state_dict(self) -> dict[str, Any]:
        return {"queried": list(self.queried)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.queried, self._seen, self.found_at = [], set(), None
        for arch in state["queried"]:
            self.query(arch)


class BenchmarkProblem(Problem):
    """A tabular-benchmark task: queries are counted; optionally stops once the optimum is queried."""

    def __init__(self, evaluator: Evaluator, max_evaluations: int, stop_at_optimum: bool) -> None:
        if max_evaluations < 1:
            raise ValueError(f"max_evaluations must be >= 1, got {max_evaluations}")
        self.evaluator = evaluator
        self.name = evaluator.task.name
        self.max_evaluations = max_evaluations
        self.stop_at_optimum = stop_at_optimum

    def query(self, archs: Sequence[str]) -> list[float]:
        """Fitness of ``archs``; over budget, unseen cells get -inf (never selected, never counted)."""
        out = []
        for a in archs:
            if self.evaluator.n_queries >= self.max_evaluations and not self.evaluator.seen(a):
                out.append(float("-inf"))
            else:
                out.append(self.evaluator.query(a))
        return out

    def evaluate_initial(self, archs: Sequence[str]) -> list[float]:
        return self.query(archs)

    def evaluate_generation(
        self, generation: int, parents: Sequence[str], transferred: Sequence[str], offspring: Sequence[str]
    ) -> tuple[list[float] | None, list[float]]:
        return None, self.query(offspring)

    def seen(self, arch: str) -> bool:
        return self.evaluator.seen(arch)

    def finished(self) -> bool:
        if self.stop_at_optimum and self.evaluator.found:
            return True
        return self.evaluator.n_queries >= self.max_evaluations

    def trace_fields(self) -> dict[str, Any]:
        return {"n_queries": self.evaluator.n_queries}

    def summary(self) -> dict[str, Any]:
        return {"found_at": self.evaluator.found_at, "n_queries": self.evaluator.n_queries}

    def evaluated(self) -> tuple[list[str], list[float]]:
        """Every queried architecture and its fitness, in query order (a predictor's training set)."""
        ev = self.evaluator
        return list(ev.queried), [ev.query(a) for a in ev.queried]

    def best_queried(self) -> tuple[str, float]:
        """The best architecture queried so far and its fitness (cached: costs nothing)."""
        ev = self.evaluator
        fits = np.asarray([ev.query(a) for a in ev.queried], dtype=np.float64)
        i = int(np.nanargmax(fits))
        return ev.queried[i], float(fits[i])

    def state_dict(self) -> dict[str, Any]:
        return self.evaluator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluator.load_state_dict(state)
