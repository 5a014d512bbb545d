"""What the predictor-based single-task baselines share: the archive of queried cells of a finite space.

A query goes through :meth:`BenchmarkProblem.evaluate_initial`, one cell at a time, and stops as soon as
the problem is finished, so "evaluations until the optimum" counts exactly the cells a method asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ktnas.evaluator import BenchmarkProblem
from ktnas.spaces.base import SearchSpace


class Archive:
    """The cells one search has queried, in query order, with their fitness (higher is better)."""

    def __init__(self, problem: BenchmarkProblem) -> None:
        self.problem = problem
        self.archs: list[str] = []
        self.fitness: list[float] = []

    def __len__(self) -> int:
        return len(self.archs)

    def query(self, archs: Iterable[str], rng: np.random.Generator) -> int:
        """Query ``archs`` in order until the problem is finished; returns how many were queried."""
        n = 0
        for arch in archs:
            if self.problem.finished():
                break
            (fit,) = self.problem.evaluate_initial([arch])
            self.archs.append(arch)
            self.fitness.append(fit)
            n += 1
        return n

    def training_set(self) -> tuple[list[str], np.ndarray]:
        """Queried cells with a finite fitness (a failed or over-budget query teaches nothing)."""
        y = np.asarray(self.fitness, dtype=np.float64)
        keep = np.flatnonzero(np.isfinite(y))
        return [self.archs[i] for i in keep], y[keep]


def enumerate_space(space: SearchSpace, method: str) -> list[str]:
    """Every cell of a finite space (its official order); ``ValueError`` for an unbounded one."""
    if space.size() is None:
        raise ValueError(
            f"{method} predicts every architecture, but space {space.name!r} is not enumerable; "
            "use it on a finite benchmark space (nb201, trans101)"
        )
    return space.all_archs()


def initial_size(n_initial: int | None, problem: BenchmarkProblem, n_cells: int) -> int:
    """``n_initial``, or by default 100 random cells capped at half the query budget (25 of 50)."""
    n = min(100, problem.max_evaluations // 2) if n_initial is None else n_initial
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n_initial must be an integer >= 2 (a predictor needs two points), got {n!r}")
    return min(n, n_cells)
