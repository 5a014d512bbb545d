"""What a search evaluates: one :class:`Problem` per task.

Benchmark spaces answer from a table through the :class:`~ktnas.evaluator.Evaluator`; the DARTS space
trains a weight-sharing supernet (``ktnas.training``). Search algorithms only see this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ktnas.evaluator import Evaluator


class Problem(Protocol):
    """One task as a search sees it. Fitness is always "higher is better"."""

    name: str

    def evaluate_initial(self, archs: Sequence[str], rng: np.random.Generator) -> list[float]:
        """Fitness of the initial population P_1 (DARTS: after one epoch of supernet training)."""
        ...

    def evaluate_generation(
        self,
        generation: int,
        parents: Sequence[str],
        transferred: Sequence[str],
        offspring: Sequence[str],
        rng: np.random.Generator,
    ) -> tuple[list[float] | None, list[float]]:
        """(re-evaluated parent fitness or None if unchanged, offspring fitness) for one generation."""
        ...

    def seen(self, arch: str) -> bool:
        """Whether ``arch`` was already evaluated (proposals prefer unseen architectures)."""
        ...

    def finished(self) -> bool:
        """The task stops querying (found its optimum, or spent its budget)."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def save_files(self, directory: Path, generation: int) -> None:
        """Write bulky state (weights) beside the JSON checkpoint; no-op for benchmarks."""
        ...

    def load_files(self, directory: Path, generation: int) -> None: ...


class BenchmarkProblem:
    """A tabular-benchmark task: queries are counted; optionally stops once the optimum is queried."""

    def __init__(self, evaluator: Evaluator, max_evaluations: int, stop_at_optimum: bool) -> None:
        if max_evaluations < 1:
            raise ValueError(f"max_evaluations must be >= 1, got {max_evaluations}")
        self.evaluator = evaluator
        self.name = evaluator.task.name
        self.max_evaluations = max_evaluations
        self.stop_at_optimum = stop_at_optimum

    def _query(self, archs: Sequence[str]) -> list[float]:
        out = []
        for a in archs:
            if self.evaluator.n_queries >= self.max_evaluations and not self.evaluator.seen(a):
                out.append(float("-inf"))  # over budget: never selected, never counted
            else:
                out.append(self.evaluator.query(a))
        return out

    def evaluate_initial(self, archs: Sequence[str], rng: np.random.Generator) -> list[float]:
        return self._query(archs)

    def evaluate_generation(
        self,
        generation: int,
        parents: Sequence[str],
        transferred: Sequence[str],
        offspring: Sequence[str],
        rng: np.random.Generator,
    ) -> tuple[list[float] | None, list[float]]:
        return None, self._query(offspring)

    def seen(self, arch: str) -> bool:
        return self.evaluator.seen(arch)

    def finished(self) -> bool:
        if self.stop_at_optimum and self.evaluator.found:
            return True
        return self.evaluator.n_queries >= self.max_evaluations

    def state_dict(self) -> dict[str, Any]:
        return self.evaluator.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evaluator.load_state_dict(state)

    def save_files(self, directory: Path, generation: int) -> None:
        return None

    def load_files(self, directory: Path, generation: int) -> None:
        return None
