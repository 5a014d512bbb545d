"""The evaluator: the only way a search sees benchmark metrics (spec §6.1, decision 2).

One evaluation is the first query of a (task, architecture) pair; cached re-queries are free. The
evaluator also knows the task's optimum so that a run can report "evaluations until the best
architecture was first queried" without the search ever seeing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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

    def query_many(self, archs: Sequence[str]) -> list[float]:
        return [self.query(a) for a in archs]

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
