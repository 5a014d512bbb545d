"""What a search evaluates: one :class:`Problem` per task (docs/reproduction.md §2.5).

The loop talks to a task only through this protocol. Benchmark spaces answer from a table
(:class:`ktnas.evaluator.BenchmarkProblem`); the DARTS space trains a weight-sharing supernet
(:class:`ktnas.training.darts_problem.DartsProblem`). Hooks that only some problems need have a
default here, so the loop never asks which problem it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Problem(ABC):
    """One task as a search sees it. Fitness is always "higher is better"."""

    name: str

    @abstractmethod
    def evaluate_initial(self, archs: Sequence[str]) -> list[float]:
        """Fitness of the initial population P_1 (DARTS: after one epoch of supernet training)."""

    @abstractmethod
    def evaluate_generation(
        self, generation: int, parents: Sequence[str], transferred: Sequence[str], offspring: Sequence[str]
    ) -> tuple[list[float] | None, list[float]]:
        """(re-evaluated parent fitness or None if unchanged, offspring fitness) for one generation."""

    def seen(self, arch: str) -> bool:
        """Whether ``arch`` was already evaluated (proposals prefer unseen architectures)."""
        return False

    def finished(self) -> bool:
        """The task stops evaluating (found its optimum, or spent its budget)."""
        return False

    def end_generation(self, generation: int, best_arch: str) -> None:
        """Called after selection with the population's best (DARTS: full-validation pass, §3.3.7)."""
        return None

    def trace_fields(self) -> dict[str, Any]:
        """Extra fields of this generation's trace entry (benchmarks: queries spent so far)."""
        return {}

    def chosen_arch(self, population_best: str) -> str:
        """The architecture the task reports at the end (DARTS: the best seen on full validation)."""
        return population_best

    def summary(self) -> dict[str, Any]:
        """Extra fields of the task's result (benchmarks: evaluations to the optimum)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None

    def save_files(self, directory: Path, generation: int) -> None:
        """Write bulky state (weights) beside the JSON checkpoint; no-op for benchmarks."""
        return None

    def load_files(self, directory: Path, generation: int) -> None:
        return None
